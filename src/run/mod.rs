//! One run lifecycle for every mode. `start`: state, output directory, recorder, sources,
//! tick, deadline and signals; then the mode pulls `Step`s (a source's notice, a refresh with
//! its transitions, a command's answer, the end) and does its own work with each — the live
//! screen draws, headless prints JSON lines; `finish`: cancel, join, close the recording, write
//! the report and run the exports. A recording is fed through the same lifecycle (`replay`), so
//! a replay takes exactly the path a live run took.
//!
//! ```text
//!   Run::live / Run::replay ──▶ next() ─▶ Step ─▶ mode (screen | JSON lines)
//!        sources ─▶ Output (recording) ─▶ RunState (store → engine → detect)
//!   finish() ─▶ report files ─▶ exports ─▶ Outcome (gates → exit code)
//! ```

pub mod baseline;
pub mod header;
pub mod headless;
pub mod lines;
pub mod load;
pub mod output;
pub mod rebuild;
pub mod replay;
pub mod stop;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use header::{default_out_dir, header};
pub use output::Output;

use crate::detect::Transition;
use crate::model::SourceCommand;
use crate::model::{now_ms, TimeMs};
use crate::record::read::{Record, Recording};
use crate::record::Header;
use crate::report::Outcome;
use crate::settings::{Config, ReportSettings, RunMeta};
use crate::sources::RunningSources;
use crate::state::{Notice, RunState};

/// Current wall-clock ms; in one place so a replay's clock is the recording's.
pub fn clock() -> TimeMs {
    now_ms()
}

/// What a live run is started with besides its configuration.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub duration: Option<Duration>,
    pub out: Option<PathBuf>,
    pub meta: RunMeta,
    /// Gates, plateau rules and exports for the end-of-run report.
    pub report: ReportSettings,
    /// Stop k6 once this stage has held this long (`--stop-at`, `--stop-after`).
    pub stop_at: Option<stop::StopAt>,
    /// How the recording is written (`--record-format`).
    pub record_format: crate::record::RecordFormat,
}

/// Why a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum End {
    /// The mode asked for it (the user quit).
    Quit,
    Signal(&'static str),
    Duration,
    /// A replayed recording has no more records.
    RecordingEnd,
    /// The terminal went away (the mode noticed).
    TerminalGone(String),
    /// `--stop-at` stopped k6; the note says when and why.
    Stopped(String),
}

/// One thing that happened, for the mode to act on.
#[derive(Debug)]
pub enum Step {
    /// A source event changed something worth telling (health, a query error, warnings).
    Notice {
        notice: Notice,
        t: TimeMs,
    },
    /// A refresh: the state has been evaluated at `t` and the detector has moved.
    Tick {
        t: TimeMs,
        transitions: Vec<Transition>,
    },
    /// A note from a replayed recording, saved like a live one.
    Annotation {
        t: TimeMs,
        text: String,
    },
    /// The answer to a command (e.g. k6's to "stop").
    Reply(String),
    End(End),
}

/// Where steps come from: live sources on a tick, or a recording's records in order.
enum Feed {
    Live(Box<Live>),
    Recording(RecordingFeed),
}

struct Live {
    cfg: Config,
    sources: RunningSources,
    cancel: CancellationToken,
    tick: tokio::time::Interval,
    deadline: Option<tokio::time::Instant>,
    signals: [(Signal, &'static str); 3],
    replies: (mpsc::Sender<String>, mpsc::Receiver<String>),
    /// The configuration's security warnings, told as the run's first notice (the screen
    /// would hide anything printed before it).
    opening: Vec<String>,
    stop_at: Option<stop::StopAt>,
    /// Set once `stop_at` has stopped k6: the note, told next, and when it was asked.
    stopping: Option<(stop::Stopping, String)>,
    /// A step to hand out before waiting for the next one.
    queued: Option<Step>,
}

struct RecordingFeed {
    records: std::vec::IntoIter<Record>,
    /// The recording's own transitions, to compare with the replayed ones.
    recorded: Vec<Transition>,
    ended: TimeMs,
}

pub struct Run {
    pub state: RunState,
    pub header: Header,
    dir: PathBuf,
    /// The recording and notes; absent when a recording is only being viewed.
    out: Option<Output>,
    feed: Feed,
}

impl Run {
    /// Starts a live run: output directory, recording, every configured source, the tick.
    pub async fn live(cfg: Config, opts: &RunOptions) -> anyhow::Result<Run> {
        let srcs = crate::sources::local_sources(&cfg);
        let state = RunState::new(&cfg, srcs)?;
        let started = clock();
        let dir = match &opts.out {
            Some(d) => d.clone(),
            None => header::unique_dir(&default_out_dir(started))?,
        };
        let header = header(&cfg, &opts.meta, &opts.report.gates, started);
        let out = Output::create(&dir, &header, opts.record_format)?;
        let cancel = CancellationToken::new();
        let sources = crate::sources::start_all(&cfg, &state.engine.remote_queries(), &cancel)?;
        // Refreshes half a refresh after the sources' polls (see `model::cadence`), the first
        // no sooner than that after they started, so it has data from one poll. A late
        // refresh skips to the grid rather than moving it.
        let period = cfg.refresh.as_millis() as TimeMs;
        let now = clock();
        let first = crate::model::cadence::until_grid(now, now + period / 2, period, period / 2);
        let start = tokio::time::Instant::now() + std::time::Duration::from_millis(first as u64);
        let mut tick = tokio::time::interval_at(start, cfg.refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let live = Live {
            deadline: opts.duration.map(|d| tokio::time::Instant::now() + d),
            signals: [
                (signal(SignalKind::interrupt())?, "SIGINT"),
                (signal(SignalKind::terminate())?, "SIGTERM"),
                (signal(SignalKind::hangup())?, "SIGHUP"),
            ],
            replies: mpsc::channel(4),
            opening: header.security.clone(),
            stop_at: opts.stop_at,
            stopping: None,
            queued: None,
            cfg,
            sources,
            cancel,
            tick,
        };
        Ok(Run {
            state,
            header,
            dir,
            out: Some(out),
            feed: Feed::Live(Box::new(live)),
        })
    }

    /// Feeds a recording through a fresh state; `out` writes a new recording and notes there
    /// (a headless replay), `None` only rebuilds the state (viewing, `slitop report`).
    /// The recording is consumed: its records are fed as they are, never copied.
    pub fn replay(
        rec: Recording,
        out: Option<(&Path, crate::record::RecordFormat)>,
    ) -> anyhow::Result<Run> {
        let ended = replay::ended(&rec);
        let h = &rec.header;
        let opts = crate::promql::EvalOptions {
            lookback_ms: h.lookback_ms,
            ..Default::default()
        };
        let state = RunState::from_parts(
            &h.signals,
            h.local_sources,
            opts,
            h.refresh_ms,
            h.detect.clone(),
        )
        .map_err(|e| anyhow::anyhow!("the recording's signals do not compile: {e}"))?;
        let output = out.map(|(d, f)| Output::create(d, h, f)).transpose()?;
        Ok(Run {
            state,
            header: rec.header,
            dir: out.map(|(d, _)| d.to_path_buf()).unwrap_or_default(),
            out: output,
            feed: Feed::Recording(RecordingFeed {
                records: rec.records.into_iter(),
                recorded: Vec::new(),
                ended,
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The recording being written, if this run writes one.
    pub fn recording(&self) -> Option<PathBuf> {
        self.out.as_ref().map(|o| o.recording().to_path_buf())
    }

    /// Names of the sources feeding the run, as the header shows them.
    pub fn source_names(&self) -> Vec<String> {
        match &self.feed {
            Feed::Live(l) => l.sources.names.clone(),
            Feed::Recording(_) => self.header.sources.keys().cloned().collect(),
        }
    }

    /// The next step; source events that change nothing worth telling are applied silently.
    pub async fn next(&mut self) -> anyhow::Result<Step> {
        match &mut self.feed {
            Feed::Live(live) => next_live(live, &mut self.state, self.out.as_mut()).await,
            Feed::Recording(feed) => next_recorded(feed, &mut self.state, self.out.as_mut()),
        }
    }

    /// Saves a note (see `Output::annotate`); without an output it is only held in the state.
    pub fn annotate(&mut self, t: TimeMs, text: &str) -> anyhow::Result<String> {
        match &mut self.out {
            Some(o) => o.annotate(&mut self.state, t, text),
            None => {
                self.state.annotations.push((t, text.to_string()));
                Ok(text.to_string())
            }
        }
    }

    /// Sends a command to the sources; the answer arrives later as `Step::Reply`.
    pub fn command(&self, cmd: SourceCommand) {
        if let Feed::Live(live) = &self.feed {
            spawn_command(live, cmd);
        }
    }

    /// Stage transitions the replayed recording holds (empty for a live run).
    pub fn recorded_transitions(&self) -> &[Transition] {
        match &self.feed {
            Feed::Recording(f) => &f.recorded,
            Feed::Live(_) => &[],
        }
    }

    /// Stops the sources and closes the recording; returns when the run ended.
    pub async fn stop(&mut self) -> anyhow::Result<TimeMs> {
        let ended = match &mut self.feed {
            Feed::Live(live) => {
                live.cancel.cancel();
                for h in live.sources.handles.drain(..) {
                    let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
                }
                clock()
            }
            Feed::Recording(f) => f.ended,
        };
        if let Some(o) = &mut self.out {
            o.end(ended)?;
        }
        Ok(ended)
    }

    /// Ends the run: stops it, writes the report's files into `dir`, then runs the exports.
    pub async fn finish(mut self, dir: &Path, opts: &ReportSettings) -> anyhow::Result<Outcome> {
        let ended = self.stop().await?;
        let inputs = crate::report::Inputs {
            state: &self.state,
            header: &self.header,
            ended,
            cfg: &opts.report,
        };
        // The run's own signal handlers keep SIGINT/SIGTERM from killing the process while
        // the exports run: the next one abandons them instead.
        let feed = &mut self.feed;
        let stop = async move {
            match feed {
                Feed::Live(live) => {
                    let [(a, an), (b, bn), (c, cn)] = &mut live.signals;
                    tokio::select! {
                        _ = a.recv() => *an,
                        _ = b.recv() => *bn,
                        _ = c.recv() => *cn,
                    }
                }
                Feed::Recording(_) => std::future::pending().await,
            }
        };
        crate::export::finish_unless(dir, &inputs, opts, stop).await
    }
}

async fn next_live(
    live: &mut Live,
    state: &mut RunState,
    mut out: Option<&mut Output>,
) -> anyhow::Result<Step> {
    if !live.opening.is_empty() {
        let notice = Notice::Warnings {
            source: "slitop".into(),
            signal: "security".into(),
            warnings: std::mem::take(&mut live.opening),
        };
        return Ok(Step::Notice { notice, t: clock() });
    }
    if let Some(step) = out.as_deref_mut().and_then(failure) {
        return Ok(step);
    }
    if let Some(step) = live.queued.take() {
        return Ok(step);
    }
    if let Some((s, note)) = &live.stopping {
        if s.over(state) {
            return Ok(Step::End(End::Stopped(note.clone())));
        }
    }
    loop {
        let [(a, an), (b, bn), (c, cn)] = &mut live.signals;
        tokio::select! {
            Some(ev) = live.sources.rx.recv() => {
                let notice = match out.as_deref_mut() {
                    Some(o) => o.apply(state, ev)?,
                    None => state.apply(ev),
                };
                if let Some(notice) = notice {
                    return Ok(Step::Notice { notice, t: clock() });
                }
            }
            _ = live.tick.tick() => {
                let t = clock();
                let transitions = match out.as_deref_mut() {
                    Some(o) => o.tick(state, t)?,
                    None => state.tick(t),
                };
                live.queued = stop_if_due(live, state, out.as_deref_mut(), t)?;
                return Ok(Step::Tick { t, transitions });
            }
            Some(reply) = live.replies.1.recv() => return Ok(Step::Reply(reply)),
            _ = sleep_until(live.deadline) => return Ok(Step::End(End::Duration)),
            _ = a.recv() => return Ok(Step::End(End::Signal(an))),
            _ = b.recv() => return Ok(Step::End(End::Signal(bn))),
            _ = c.recv() => return Ok(Step::End(End::Signal(cn))),
        }
    }
}

/// Carries out a command in the background; its answer comes back as `Step::Reply`.
fn spawn_command(live: &Live, cmd: SourceCommand) {
    let (cfg, tx) = (live.cfg.clone(), live.replies.0.clone());
    tokio::spawn(async move {
        let _ = tx.send(crate::sources::command(&cfg, cmd).await).await;
    });
}

/// Stops k6 when `--stop-at`'s stage has held long enough (once): the request goes out at
/// once, its answer comes back as a reply; the note is saved as a user's note is and told as
/// the next step.
fn stop_if_due(
    live: &mut Live,
    state: &mut RunState,
    out: Option<&mut Output>,
    t: TimeMs,
) -> anyhow::Result<Option<Step>> {
    let Some(rule) = live
        .stop_at
        .filter(|r| live.stopping.is_none() && r.due(state, t))
    else {
        return Ok(None);
    };
    spawn_command(live, SourceCommand::StopK6);
    let note = rule.note(state, t);
    let text = match out {
        Some(o) => o.annotate(state, t, &note)?,
        None => {
            state.annotations.push((t, note.clone()));
            note
        }
    };
    let since = tokio::time::Instant::now();
    live.stopping = Some((stop::Stopping { since }, text.clone()));
    Ok(Some(Step::Annotation { t, text }))
}

/// The recording's failure as a notice, once (the screen shows it, headless prints it).
/// (source, signal) of the notice that says the recording stopped.
pub const RECORDING_NOTICE: (&str, &str) = ("slitop", "recording");

fn failure(out: &mut Output) -> Option<Step> {
    let why = out.take_failure()?;
    let notice = Notice::Warnings {
        source: RECORDING_NOTICE.0.into(),
        signal: RECORDING_NOTICE.1.into(),
        warnings: vec![why],
    };
    Some(Step::Notice { notice, t: clock() })
}

/// Never resolves without a deadline.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn next_recorded(
    feed: &mut RecordingFeed,
    state: &mut RunState,
    mut out: Option<&mut Output>,
) -> anyhow::Result<Step> {
    if let Some(step) = out.as_deref_mut().and_then(failure) {
        return Ok(step);
    }
    for r in feed.records.by_ref() {
        match r {
            Record::Event(ev) => {
                let t = match &ev {
                    crate::model::SourceEvent::Health { t, .. } => *t,
                    _ => state.last_tick.unwrap_or_default(),
                };
                let notice = match out.as_deref_mut() {
                    Some(o) => o.apply(state, ev)?,
                    None => state.apply(ev),
                };
                if let Some(notice) = notice {
                    return Ok(Step::Notice { notice, t });
                }
            }
            Record::Tick(t) => {
                let transitions = match out.as_deref_mut() {
                    Some(o) => o.tick(state, t)?,
                    None => state.tick(t),
                };
                return Ok(Step::Tick { t, transitions });
            }
            Record::Annotation { t, text } => {
                let text = match out.as_deref_mut() {
                    Some(o) => o.annotate(state, t, &text)?,
                    None => {
                        state.annotations.push((t, text.clone()));
                        text
                    }
                };
                return Ok(Step::Annotation { t, text });
            }
            Record::Stage(tr) => feed.recorded.push(tr),
            Record::End(_) => {}
        }
    }
    Ok(Step::End(End::RecordingEnd))
}
