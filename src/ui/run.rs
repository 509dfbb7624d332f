//! The dashboard's event loop: one `select!` over source events, the refresh tick, terminal
//! input, k6's answers and the signals that end a run. Sources never block it (they run as
//! tasks), so a key is answered at once even while every source hangs. The screen is redrawn
//! only after a tick, a key or a resize.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{Event, EventStream, MouseEventKind};
use futures::StreamExt;

use super::app::{App, Cursor, Effect, Playback};
use super::keys::{Action, View};
use super::render::{render, RunInfo, Screen};
use super::terminal::Guard;
use super::theme::Theme;
use super::timeline::Timeline;
use crate::model::{SourceCommand, TimeMs};
use crate::record::read::Recording;
use crate::record::Header;
use crate::run::baseline::Baseline;
use crate::run::{clock, End, Run, RunOptions, Step};
use crate::settings::Config;
use crate::state::{Notice, RunState};

pub struct UiOptions {
    pub ascii: bool,
    pub low_bandwidth: bool,
    pub mouse: bool,
    /// An earlier run drawn faint under this one.
    pub baseline: Option<Baseline>,
}

fn note_notice(tl: &mut Timeline, n: &Notice, t: TimeMs) {
    match n {
        Notice::Health { source, t, health } => tl.health_change(source, *t, health),
        Notice::QueryError {
            source,
            signal,
            error,
        } => tl.error(t, format!("{source} {signal}: {error}")),
        Notice::Warnings {
            source,
            signal,
            warnings,
        } => {
            if source == crate::run::RECORDING_NOTICE.0 && signal == crate::run::RECORDING_NOTICE.1
            {
                tl.recording_stopped
                    .get_or_insert_with(|| (t, warnings.join("; ")));
            }
            // A query's warnings may repeat every poll: logged again only when they change.
            let head = format!("{source} {signal}: ");
            let text = head.clone() + &warnings.join("; ");
            let last = tl.events.iter().rev().find(|e| {
                e.kind == super::timeline::EventKind::Warning && e.text.starts_with(&head)
            });
            if last.is_none_or(|e| e.text != text) {
                tl.events.push(super::timeline::Event {
                    t,
                    kind: super::timeline::EventKind::Warning,
                    text,
                });
            }
        }
    }
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

/// The live screen's share of a run: its timeline, screen state and the terminal.
struct LiveScreen {
    app: App,
    tl: Timeline,
    info: RunInfo,
    theme: Theme,
    baseline: Option<Baseline>,
}

impl LiveScreen {
    /// Acts on one key; returns whether the user quit.
    fn key(&mut self, run: &mut Run, k: crossterm::event::KeyEvent) -> bool {
        let now = clock();
        let (oldest, newest) = (
            self.tl.first().unwrap_or(now),
            self.tl.last().unwrap_or(now),
        );
        let mut quit = false;
        for e in self.app.key(k, now, oldest, newest) {
            match e {
                Effect::Quit => quit = true,
                Effect::SaveAnnotation { t, text } => self.save_note(run, t, &text, now),
                Effect::StopK6 => run.command(SourceCommand::StopK6),
            }
        }
        quit
    }

    fn save_note(&mut self, run: &mut Run, t: TimeMs, text: &str, now: TimeMs) {
        let status = match run.annotate(t, text) {
            Ok(_) => {
                self.tl.annotation_saved(&run.state);
                let at = super::format::elapsed(t - self.tl.first().unwrap_or(t));
                let file = run.dir().join("annotations.jsonl");
                format!("note saved at {at} in {}", file.display())
            }
            Err(e) => format!("NOTE NOT SAVED: {e:#}"),
        };
        self.app.set_status(status, now);
    }

    fn draw(&self, guard: &mut Guard, state: &RunState) -> std::io::Result<()> {
        let screen = Screen {
            app: &self.app,
            tl: &self.tl,
            state,
            info: &self.info,
            theme: self.theme,
            now: clock(),
            baseline: self.baseline.as_ref(),
        };
        draw(guard, &screen)
    }
}

/// What the screen does with one input event: quit, redraw, or nothing.
enum Input {
    Quit,
    Redraw,
    Nothing,
    Gone(String),
}

fn input(screen: &mut LiveScreen, run: &mut Run, ev: Option<std::io::Result<Event>>) -> Input {
    match ev {
        Some(Ok(Event::Key(k))) if screen.key(run, k) => Input::Quit,
        Some(Ok(Event::Key(_))) | Some(Ok(Event::Resize(..))) => Input::Redraw,
        Some(Ok(Event::Mouse(m))) if mouse(&mut screen.app, m.kind, &screen.tl, clock()) => {
            Input::Redraw
        }
        Some(Ok(_)) => Input::Nothing,
        Some(Err(e)) => Input::Gone(e.to_string()),
        None => Input::Gone("input closed".into()),
    }
}

/// The terminal's input, read by a task of its own and passed on; `None` once it closed.
/// Polled in the loop's `select!`, the stream would be asked again after every source event,
/// and each time contend for crossterm's reader lock, held by its waiting thread (a spin of
/// a few `sched_yield`s per refresh); a channel is only looked at when something came.
fn input_events() -> (
    tokio::sync::mpsc::Receiver<Option<std::io::Result<Event>>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let reader = tokio::spawn(async move {
        let mut events = EventStream::new();
        loop {
            let ev = events.next().await;
            let end = ev.is_none();
            if tx.send(ev).await.is_err() || end {
                break;
            }
        }
    });
    (rx, reader)
}

/// The live screen over a run: the lifecycle's steps and the terminal's input, one loop.
pub async fn run_live(
    cfg: Config,
    opts: RunOptions,
    ui: UiOptions,
) -> anyhow::Result<crate::report::Outcome> {
    let window_ms = cfg.window.as_millis() as TimeMs;
    let k6 = cfg.k6.as_ref().is_some_and(|k| !k.urls.is_empty());
    let mut run = Run::live(cfg, &opts).await?;
    let dir = run.dir().to_path_buf();
    let mut app = App::new(window_ms, true, k6);
    app.low_bandwidth = ui.low_bandwidth;
    let info = RunInfo {
        name: opts
            .meta
            .scenario
            .clone()
            .unwrap_or_else(|| dir.display().to_string()),
        recording: Some(dir.display().to_string()),
        replay: false,
        sources: run.source_names(),
    };
    let mut screen = LiveScreen {
        app,
        tl: Timeline::default(),
        info,
        theme: Theme::from_env(ui.ascii),
        baseline: ui.baseline,
    };
    let mut guard = Guard::enter(ui.mouse)?;
    let (mut events, reader) = input_events();
    let end = loop {
        let dirty = tokio::select! {
            step = run.next() => match step? {
                Step::Notice { notice, t } => {
                    note_notice(&mut screen.tl, &notice, t);
                    false
                }
                Step::Tick { t, .. } => {
                    screen.tl.observe(&run.state, t);
                    true
                }
                Step::Reply(msg) => {
                    screen.app.set_status(msg, clock());
                    true
                }
                Step::Annotation { .. } => {
                    screen.tl.annotation_saved(&run.state);
                    true
                }
                Step::End(e) => break e,
            },
            ev = events.recv() => match input(&mut screen, &mut run, ev.flatten()) {
                Input::Quit => break End::Quit,
                Input::Redraw => true,
                Input::Nothing => false,
                Input::Gone(e) => break End::TerminalGone(e),
            },
        };
        if dirty {
            if let Err(e) = screen.draw(&mut guard, &run.state) {
                break End::TerminalGone(e.to_string());
            }
        }
    };
    reader.abort();
    drop(guard);
    let recording = run.recording().unwrap_or_default();
    let outcome = run.finish(&dir, &opts.report).await?;
    say_end(end, &recording, &outcome);
    Ok(outcome)
}

/// How the run ended and where it was saved, once the screen is back to normal.
fn say_end(end: End, recording: &Path, outcome: &crate::report::Outcome) {
    match end {
        End::Signal(s) => eprintln!("slitop: {s}: run saved"),
        End::TerminalGone(e) => eprintln!("slitop: terminal closed ({e}): run saved"),
        End::Stopped(note) => eprintln!("slitop: {note}"),
        End::Quit | End::Duration | End::RecordingEnd => {}
    }
    eprintln!(
        "slitop: recording {} · report {}",
        recording.display(),
        outcome.dir.join("report.md").display()
    );
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
    timeline_of_owned(rec.clone())
}

/// `timeline_of` consuming the recording (the replay screen needs only its header after).
fn timeline_of_owned(rec: Recording) -> anyhow::Result<(RunState, Timeline)> {
    let started = rec.header.started_unix_ms;
    let mut tl = Timeline::default();
    let mut run = Run::replay(rec, None)?;
    loop {
        match futures::executor::block_on(run.next())? {
            Step::Tick { t, .. } => tl.observe(&run.state, t),
            Step::Notice { notice, .. } => {
                let t = tl.last().unwrap_or(started);
                note_notice(&mut tl, &notice, t);
            }
            Step::End(_) => break,
            Step::Annotation { .. } | Step::Reply(_) => {}
        }
    }
    Ok((run.state, tl))
}

/// How often a playing replay moves its cursor.
const PLAY_STEP: Duration = Duration::from_millis(250);

pub async fn run_replay(file: &Path, opts: UiOptions) -> anyhow::Result<()> {
    let rec = Recording::read(file)?;
    let header = rec.header.clone();
    let (state, tl) = timeline_of_owned(rec)?;
    let (Some(first), Some(last)) = (tl.first(), tl.last()) else {
        anyhow::bail!(
            "{}: the recording holds no refreshes to show",
            file.display()
        );
    };
    let mut app = replay_app(&header, first, last, opts.low_bandwidth);
    let info = replay_info(&header, file);
    let theme = Theme::from_env(opts.ascii);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut play = tokio::time::interval(PLAY_STEP);
    let mut guard = Guard::enter(opts.mouse).context("cannot take over the terminal")?;
    let mut events = EventStream::new();
    let mut dirty = true;
    loop {
        if dirty {
            let screen = Screen {
                app: &app,
                tl: &tl,
                state: &state,
                info: &info,
                theme,
                // The moment shown is the replay's clock: staleness is judged as it stood then.
                now: app.view_time(last),
                baseline: opts.baseline.as_ref(),
            };
            if draw(&mut guard, &screen).is_err() {
                break;
            }
        }
        dirty = false;
        tokio::select! {
            _ = play.tick() => dirty = play_step(&mut app, last),
            ev = events.next() => match replay_input(&mut app, &tl, ev, first, last) {
                Input::Redraw => dirty = true,
                Input::Nothing => {}
                Input::Quit | Input::Gone(_) => break,
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        }
    }
    drop(guard);
    Ok(())
}

/// A replay opens on the whole run, held at its end and paused.
fn replay_app(header: &Header, first: TimeMs, last: TimeMs, low_bandwidth: bool) -> App {
    let mut app = App::new(header.window_ms.max(last - first), false, false);
    app.low_bandwidth = low_bandwidth;
    app.cursor = Cursor::At(last);
    app.playback = Some(Playback {
        playing: false,
        speed: 1.0,
    });
    app
}

/// A replay records nothing, so the header names the scenario or, without one, the file.
fn replay_info(header: &Header, file: &Path) -> RunInfo {
    RunInfo {
        name: header
            .meta
            .scenario
            .clone()
            .unwrap_or_else(|| file.display().to_string()),
        recording: None,
        replay: true,
        sources: header.sources.keys().cloned().collect(),
    }
}

/// Moves a playing replay's cursor on by one step at its speed, pausing at the end; returns
/// whether the cursor moved.
fn play_step(app: &mut App, last: TimeMs) -> bool {
    let (Some(p), Cursor::At(t)) = (app.playback, app.cursor) else {
        return false;
    };
    if !p.playing {
        return false;
    }
    let next = t + (PLAY_STEP.as_millis() as f64 * p.speed) as TimeMs;
    app.cursor = Cursor::At(next.min(last));
    if next >= last {
        app.playback = Some(Playback {
            playing: false,
            ..p
        });
    }
    true
}

/// What a replay does with one input event; it moves only within the recording, `first`
/// to `last`.
fn replay_input(
    app: &mut App,
    tl: &Timeline,
    ev: Option<std::io::Result<Event>>,
    first: TimeMs,
    last: TimeMs,
) -> Input {
    match ev {
        Some(Ok(Event::Key(k))) => {
            if app.key(k, clock(), first, last).contains(&Effect::Quit) {
                return Input::Quit;
            }
            if let (Some(p), Cursor::At(t)) = (app.playback, app.cursor) {
                // Playing from the end starts over.
                if p.playing && t >= last {
                    app.cursor = Cursor::At(first);
                }
            }
            Input::Redraw
        }
        Some(Ok(Event::Mouse(m))) if mouse(app, m.kind, tl, last) => Input::Redraw,
        Some(Ok(Event::Resize(..))) => Input::Redraw,
        Some(Ok(_)) => Input::Nothing,
        Some(Err(e)) => Input::Gone(e.to_string()),
        None => Input::Gone("input closed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::read::Recording;

    fn header_of(tl: &Timeline, state: &RunState) -> String {
        let app = App::new(60_000, true, true);
        let info = RunInfo {
            name: "run".into(),
            recording: Some("run".into()),
            replay: false,
            sources: vec!["k6".into()],
        };
        let s = Screen {
            app: &app,
            tl,
            state,
            info: &info,
            theme: crate::ui::theme::Theme {
                color: false,
                ascii: false,
            },
            now: tl.last().unwrap(),
            baseline: None,
        };
        let area = ratatui::layout::Rect::new(0, 0, 160, 48);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        render(area, &mut buf, &s);
        (0..160).map(|x| buf[(x, 0)].symbol()).collect()
    }

    #[test]
    fn a_recording_that_stopped_is_said_in_the_header_for_the_rest_of_the_run() {
        let text = include_str!("../../tests/fixtures/detector/ramp.jsonl");
        let mut rec = Recording::parse(text, "ramp.jsonl").unwrap();
        rec.cut_after(20_000);
        let (state, mut tl) = timeline_of(&rec).unwrap();
        assert!(header_of(&tl, &state).contains("● REC"));
        let stopped = Notice::Warnings {
            source: crate::run::RECORDING_NOTICE.0.into(),
            signal: crate::run::RECORDING_NOTICE.1.into(),
            warnings: vec!["the recording stopped: No space left on device".into()],
        };
        let at = tl.last().unwrap();
        note_notice(&mut tl, &stopped, at);
        // Another warning later does not take the badge away.
        let other = Notice::Warnings {
            source: "k6".into(),
            signal: "store".into(),
            warnings: vec!["refused".into()],
        };
        note_notice(&mut tl, &other, at);
        let header = header_of(&tl, &state);
        assert!(header.contains("REC STOPPED"), "{header}");
        assert!(!header.contains("● REC"), "{header}");
        assert!(tl
            .recording_stopped
            .as_ref()
            .unwrap()
            .1
            .contains("No space"));
    }
}
