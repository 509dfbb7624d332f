//! The dashboard's event loop: one `select!` over source events, the refresh tick, terminal
//! input, k6's answers and the signals that end a run. Sources never block it (they run as
//! tasks), so a key is answered at once even while every source hangs. The screen is redrawn
//! only after a tick, a key or a resize.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{Event, EventStream, MouseEventKind};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::app::{App, Cursor, Effect, Playback};
use super::keys::{Action, View};
use super::render::{render, RunInfo, Screen};
use super::terminal::Guard;
use super::theme::Theme;
use super::timeline::Timeline;
use crate::headless::{default_out_dir, header, Output};
use crate::model::{SourceEvent, TimeMs};
use crate::record::read::{Record, Recording};
use crate::runtime::{clock, start_sources, Notice, RunState};
use crate::settings::Config;
use crate::settings::RunMeta;

pub struct UiOptions {
    pub duration: Option<Duration>,
    pub out: Option<PathBuf>,
    pub meta: RunMeta,
    pub ascii: bool,
    pub low_bandwidth: bool,
    pub mouse: bool,
    /// Gates, plateau rules and exports for the end-of-run report (live runs).
    pub report: crate::settings::ReportSettings,
}

fn note_notice(tl: &mut Timeline, n: &Notice, t: TimeMs) {
    match n {
        Notice::Health { source, t, health } => tl.health_change(source, *t, health),
        Notice::QueryError {
            source,
            signal,
            error,
        } => tl.error(t, format!("{source} {signal}: {error}")),
        Notice::Warnings { .. } => {}
    }
}

/// Why the loop ended.
enum End {
    Quit,
    Signal(&'static str),
    Duration,
    TerminalGone(String),
}

fn draw(guard: &mut Guard, s: &Screen) -> std::io::Result<()> {
    guard
        .term
        .draw(|f| {
            let area = f.area();
            render(area, f.buffer_mut(), s);
        })
        .map(|_| ())
}

pub async fn run_live(cfg: Config, opts: UiOptions) -> anyhow::Result<crate::report::Outcome> {
    let mut state = RunState::new(&cfg).map_err(anyhow::Error::msg)?;
    let started = clock();
    let dir = opts.out.clone().unwrap_or_else(|| default_out_dir(started));
    let mut out =
        Output::for_dashboard(&dir, &header(&cfg, &opts.meta, &opts.report.gates, started))?;
    let cancel = CancellationToken::new();
    let mut running = start_sources(&cfg, &state.engine, &cancel)?;
    let k6_url = cfg.k6.as_ref().and_then(|k| k.urls.first().cloned());
    let mut app = App::new(cfg.window.as_millis() as TimeMs, true, k6_url.is_some());
    app.low_bandwidth = opts.low_bandwidth;
    let info = RunInfo {
        name: opts
            .meta
            .scenario
            .clone()
            .unwrap_or_else(|| dir.display().to_string()),
        recording: Some(dir.display().to_string()),
        replay: false,
        sources: running.names.clone(),
    };
    let theme = Theme::from_env(opts.ascii);
    let mut tl = Timeline::default();
    let (k6_tx, mut k6_rx) = mpsc::channel::<String>(4);
    let mut tick = tokio::time::interval(cfg.refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut guard = Guard::enter(opts.mouse)?;
    let mut input = EventStream::new();
    tick.tick().await;
    let end = loop {
        let mut dirty = false;
        tokio::select! {
            Some(ev) = running.rx.recv() => {
                if let Some(n) = out.apply(&mut state, ev)? {
                    note_notice(&mut tl, &n, clock());
                }
            }
            _ = tick.tick() => {
                let t = clock();
                out.tick(&mut state, t)?;
                tl.observe(&state, t);
                dirty = true;
            }
            ev = input.next() => match ev {
                Some(Ok(Event::Key(k))) => {
                    let now = clock();
                    let (oldest, newest) = (tl.first().unwrap_or(now), tl.last().unwrap_or(now));
                    let effects = app.key(k, now, oldest, newest);
                    let mut quit = false;
                    for e in effects {
                        match e {
                            Effect::Quit => quit = true,
                            Effect::SaveAnnotation { t, text } => {
                                match out.annotate(&mut state, t, &text) {
                                    Ok(()) => {
                                        tl.annotation_saved(&state);
                                        app.set_status(format!("note saved at {} in {}", super::format::elapsed(t - tl.first().unwrap_or(t)), dir.join("annotations.jsonl").display()), now);
                                    }
                                    Err(e) => app.set_status(format!("NOTE NOT SAVED: {e:#}"), now),
                                }
                            }
                            Effect::StopK6 => {
                                if let Some(url) = k6_url.clone() {
                                    let tx = k6_tx.clone();
                                    let timeout = cfg.timeout();
                                    tokio::spawn(async move {
                                        let msg = match crate::sources::k6::stop_test(&url, timeout).await {
                                            Ok(m) => format!("k6: {m}"),
                                            Err(e) => format!("k6 refused: {e}"),
                                        };
                                        let _ = tx.send(msg).await;
                                    });
                                }
                            }
                        }
                    }
                    if quit {
                        break End::Quit;
                    }
                    dirty = true;
                }
                Some(Ok(Event::Mouse(m))) => {
                    dirty = mouse(&mut app, m.kind, &tl, clock());
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => break End::TerminalGone(e.to_string()),
                None => break End::TerminalGone("input closed".into()),
            },
            Some(msg) = k6_rx.recv() => {
                app.set_status(msg, clock());
                dirty = true;
            }
            _ = async { tokio::time::sleep_until(deadline.unwrap()).await }, if deadline.is_some() => break End::Duration,
            _ = sigint.recv() => break End::Signal("SIGINT"),
            _ = sigterm.recv() => break End::Signal("SIGTERM"),
            _ = sighup.recv() => break End::Signal("SIGHUP"),
        }
        if dirty {
            let screen = Screen {
                app: &app,
                tl: &tl,
                state: &state,
                info: &info,
                theme,
                now: clock(),
            };
            if let Err(e) = draw(&mut guard, &screen) {
                break End::TerminalGone(e.to_string());
            }
        }
    };
    drop(guard);
    cancel.cancel();
    for h in running.handles {
        let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
    }
    let outcome = out.finish(&state, clock(), &opts.report).await?;
    match end {
        End::Signal(s) => eprintln!("slitop: {s}: run saved"),
        End::TerminalGone(e) => eprintln!("slitop: terminal closed ({e}): run saved"),
        End::Quit | End::Duration => {}
    }
    eprintln!(
        "slitop: recording {} · report {}",
        dir.join("recording.jsonl").display(),
        outcome.dir.join("report.md").display()
    );
    Ok(outcome)
}

/// The wheel scrolls the events list there, and moves in time elsewhere.
fn mouse(app: &mut App, kind: MouseEventKind, tl: &Timeline, now: TimeMs) -> bool {
    let (oldest, newest) = (tl.first().unwrap_or(now), tl.last().unwrap_or(now));
    let a = match (kind, app.view) {
        (MouseEventKind::ScrollUp, View::Events) => Action::ScrollUp,
        (MouseEventKind::ScrollDown, View::Events) => Action::ScrollDown,
        (MouseEventKind::ScrollUp, _) => Action::Back,
        (MouseEventKind::ScrollDown, _) => Action::Forward,
        _ => return false,
    };
    app.act(a, now, oldest, newest);
    true
}

/// Builds the whole timeline of a recording, as a live run would have built it.
pub fn timeline_of(rec: &Recording) -> anyhow::Result<(RunState, Timeline)> {
    let mut tl = Timeline::default();
    let (state, _) = crate::replay::replay_observed(rec, None, |state, r, notice| match r {
        Record::Tick(t) => tl.observe(state, *t),
        Record::Event(SourceEvent::Health { .. })
        | Record::Event(SourceEvent::QueryError { .. }) => {
            if let Some(n) = notice {
                let t = tl.last().unwrap_or(rec.header.started_unix_ms);
                note_notice(&mut tl, n, t);
            }
        }
        _ => {}
    })?;
    Ok((state, tl))
}

/// How often a playing replay moves its cursor.
const PLAY_STEP: Duration = Duration::from_millis(250);

pub async fn run_replay(file: &Path, opts: UiOptions) -> anyhow::Result<()> {
    let rec = Recording::read(file).map_err(anyhow::Error::msg)?;
    let (state, tl) = timeline_of(&rec)?;
    let (Some(first), Some(last)) = (tl.first(), tl.last()) else {
        anyhow::bail!(
            "{}: the recording holds no refreshes to show",
            file.display()
        );
    };
    let length = last - first;
    // The whole run in view at first.
    let mut app = App::new(rec.header.window_ms.max(length), false, false);
    app.low_bandwidth = opts.low_bandwidth;
    app.cursor = Cursor::At(last);
    app.playback = Some(Playback {
        playing: false,
        speed: 1.0,
    });
    let info = RunInfo {
        name: rec
            .header
            .meta
            .scenario
            .clone()
            .unwrap_or_else(|| file.display().to_string()),
        recording: None,
        replay: true,
        sources: rec.header.sources.keys().cloned().collect(),
    };
    let theme = Theme::from_env(opts.ascii);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut play = tokio::time::interval(PLAY_STEP);
    let mut guard = Guard::enter(opts.mouse).context("cannot take over the terminal")?;
    let mut input = EventStream::new();
    let mut dirty = true;
    loop {
        if dirty {
            let t = app.view_time(last);
            let screen = Screen {
                app: &app,
                tl: &tl,
                state: &state,
                info: &info,
                theme,
                now: t,
            };
            if draw(&mut guard, &screen).is_err() {
                break;
            }
        }
        dirty = false;
        tokio::select! {
            _ = play.tick() => {
                if let (Some(p), Cursor::At(t)) = (app.playback, app.cursor) {
                    if p.playing {
                        let next = t + (PLAY_STEP.as_millis() as f64 * p.speed) as TimeMs;
                        app.cursor = Cursor::At(next.min(last));
                        if next >= last {
                            app.playback = Some(Playback { playing: false, ..p });
                        }
                        dirty = true;
                    }
                }
            }
            ev = input.next() => match ev {
                Some(Ok(Event::Key(k))) => {
                    if app.key(k, clock(), first, last).contains(&Effect::Quit) {
                        break;
                    }
                    if let (Some(p), Cursor::At(t)) = (app.playback, app.cursor) {
                        // Playing from the end starts over.
                        if p.playing && t >= last {
                            app.cursor = Cursor::At(first);
                        }
                    }
                    dirty = true;
                }
                Some(Ok(Event::Mouse(m))) => dirty = mouse(&mut app, m.kind, &tl, last),
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        }
    }
    drop(guard);
    Ok(())
}
