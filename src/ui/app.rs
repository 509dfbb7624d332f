//! The screen's own state (view, time cursor, zoom, focus, input line, dialogs) and how keys
//! change it. Nothing here touches the terminal, the disk or the network: a key returns the
//! effects the event loop must carry out (save a note, stop k6, quit).

use crossterm::event::KeyEvent;

use super::keys::{self, Action, InputKey, View};
use crate::detect::StageId;
use crate::model::TimeMs;

/// Where the view stands in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// Follows the newest data.
    Live,
    /// Held at a moment while data keeps arriving (or a replay's position).
    At(TimeMs),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a note stamped at `t`, the moment `a` was pressed.
    Annotating {
        t: TimeMs,
        text: String,
    },
    ConfirmQuit,
    ConfirmStopK6,
    Help,
}

/// Replay's play state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Playback {
    pub playing: bool,
    pub speed: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    SaveAnnotation { t: TimeMs, text: String },
    StopK6,
    Quit,
}

/// Zoom steps for the shared time window.
const WINDOWS_S: [i64; 9] = [15, 30, 60, 120, 300, 600, 1800, 3600, 6 * 3600];

#[derive(Clone, Debug)]
pub struct App {
    pub view: View,
    pub mode: Mode,
    pub cursor: Cursor,
    pub window_ms: TimeMs,
    /// Focused stage chip on the dashboard: an index into `StageId::ALL`.
    pub focus: Option<usize>,
    pub expanded: bool,
    /// Lines scrolled up from the newest event.
    pub events_scroll: usize,
    /// A one-line message and when it was set (note saved, k6's answer, …).
    pub status: Option<(String, TimeMs)>,
    pub playback: Option<Playback>,
    /// Output is being recorded (quitting asks first).
    pub recording: bool,
    pub k6_available: bool,
    pub low_bandwidth: bool,
    interrupts: u8,
}

impl App {
    pub fn new(window_ms: TimeMs, recording: bool, k6_available: bool) -> Self {
        Self {
            view: View::Dashboard,
            mode: Mode::Normal,
            cursor: Cursor::Live,
            window_ms: window_ms.max(1000),
            focus: None,
            expanded: false,
            events_scroll: 0,
            status: None,
            playback: None,
            recording,
            k6_available,
            low_bandwidth: false,
            interrupts: 0,
        }
    }

    /// The moment the screen shows, given the newest data time.
    pub fn view_time(&self, newest: TimeMs) -> TimeMs {
        match self.cursor {
            Cursor::Live => newest,
            Cursor::At(t) => t.min(newest),
        }
    }

    fn step_ms(&self) -> TimeMs {
        (self.window_ms / 4).max(1000)
    }

    pub fn set_status(&mut self, text: impl Into<String>, now: TimeMs) {
        self.status = Some((crate::text::clean_short(&text.into(), 200), now));
    }

    /// Handles a key; `now` is when it was pressed, `newest`/`oldest` bound the data.
    pub fn key(&mut self, k: KeyEvent, now: TimeMs, oldest: TimeMs, newest: TimeMs) -> Vec<Effect> {
        match self.mode.clone() {
            Mode::Annotating { t, mut text } => {
                match keys::input(k) {
                    Some(InputKey::Char(c)) if !c.is_control() && text.chars().count() < 500 => {
                        text.push(c);
                        self.mode = Mode::Annotating { t, text };
                    }
                    Some(InputKey::Backspace) => {
                        text.pop();
                        self.mode = Mode::Annotating { t, text };
                    }
                    Some(InputKey::Submit) => {
                        self.mode = Mode::Normal;
                        return vec![Effect::SaveAnnotation { t, text }];
                    }
                    Some(InputKey::Cancel) => {
                        self.mode = Mode::Normal;
                        self.set_status("note discarded", now);
                    }
                    _ => {}
                }
                Vec::new()
            }
            Mode::ConfirmQuit => {
                self.mode = Mode::Normal;
                if keys::confirm(k) == Some(true) {
                    return vec![Effect::Quit];
                }
                self.interrupts = 0;
                Vec::new()
            }
            Mode::ConfirmStopK6 => {
                self.mode = Mode::Normal;
                if matches!(k.code, crossterm::event::KeyCode::Char('y' | 'Y')) {
                    self.set_status("asking k6 to stop…", now);
                    return vec![Effect::StopK6];
                }
                self.set_status("k6 left running", now);
                Vec::new()
            }
            Mode::Help => {
                // Any key closes the help; q still quits.
                self.mode = Mode::Normal;
                match keys::normal(k) {
                    Some(a @ (Action::Quit | Action::Interrupt)) => {
                        self.act(a, now, oldest, newest)
                    }
                    _ => Vec::new(),
                }
            }
            Mode::Normal => match keys::normal(k) {
                Some(a) => self.act(a, now, oldest, newest),
                None => Vec::new(),
            },
        }
    }

    /// Carries out an action of the normal mode.
    pub fn act(&mut self, a: Action, now: TimeMs, oldest: TimeMs, newest: TimeMs) -> Vec<Effect> {
        if a != Action::Interrupt {
            self.interrupts = 0;
        }
        match a {
            Action::Quit => return self.quit(),
            Action::Interrupt => return self.interrupt(),
            Action::View(v) => self.show(v),
            Action::Help => self.mode = Mode::Help,
            Action::Annotate => self.start_note(now),
            Action::QuickMark => return self.quick_mark(now),
            Action::Freeze => self.toggle_freeze(newest),
            Action::Back => self.step_back(oldest, newest),
            Action::Forward => self.step_forward(newest),
            Action::Live => self.go_live(newest),
            Action::ZoomIn => self.zoom_in(),
            Action::ZoomOut => self.zoom_out(),
            Action::FocusNext => self.focus_next(),
            Action::FocusPrev => self.focus_prev(),
            Action::Expand => self.expanded = !self.expanded,
            Action::StopK6 => self.ask_to_stop_k6(now),
            Action::PlayPause => self.play_pause(),
            Action::Faster => self.scale_speed(2.0),
            Action::Slower => self.scale_speed(0.5),
            Action::ScrollUp => self.events_scroll = self.events_scroll.saturating_add(1),
            Action::ScrollDown => self.events_scroll = self.events_scroll.saturating_sub(1),
        }
        Vec::new()
    }

    /// Quits, or asks first while recording.
    fn quit(&mut self) -> Vec<Effect> {
        if self.recording {
            self.mode = Mode::ConfirmQuit;
            Vec::new()
        } else {
            vec![Effect::Quit]
        }
    }

    /// Ctrl-C: like quit, but a second one in a row does not ask.
    fn interrupt(&mut self) -> Vec<Effect> {
        self.interrupts += 1;
        if !self.recording || self.interrupts >= 2 {
            return vec![Effect::Quit];
        }
        self.mode = Mode::ConfirmQuit;
        Vec::new()
    }

    fn show(&mut self, v: View) {
        self.view = v;
        self.expanded = false;
    }

    /// A replay is read-only: notes are refused with a word on the status line.
    fn refuse_note_in_replay(&mut self, now: TimeMs) -> bool {
        if self.playback.is_some() {
            self.set_status(
                "a replay is read-only: notes are taken during live runs",
                now,
            );
        }
        self.playback.is_some()
    }

    /// Opens the note input; the note is stamped now, not when it is saved.
    fn start_note(&mut self, now: TimeMs) {
        if !self.refuse_note_in_replay(now) {
            self.mode = Mode::Annotating {
                t: now,
                text: String::new(),
            };
        }
    }

    fn quick_mark(&mut self, now: TimeMs) -> Vec<Effect> {
        if self.refuse_note_in_replay(now) {
            return Vec::new();
        }
        vec![Effect::SaveAnnotation {
            t: now,
            text: String::new(),
        }]
    }

    /// Live: holds the view at the newest data; held: back to live. A replay stays where it is
    /// and plays or pauses instead.
    fn toggle_freeze(&mut self, newest: TimeMs) {
        self.cursor = match self.cursor {
            Cursor::Live => Cursor::At(newest),
            Cursor::At(_) if self.playback.is_none() => Cursor::Live,
            c => c,
        };
        self.play_pause();
    }

    fn step_back(&mut self, oldest: TimeMs, newest: TimeMs) {
        let t = self.view_time(newest);
        self.cursor = Cursor::At((t - self.step_ms()).max(oldest));
    }

    /// Moves a held view forward; reaching the newest data goes live (a replay stays held).
    fn step_forward(&mut self, newest: TimeMs) {
        if let Cursor::At(t) = self.cursor {
            let t = t + self.step_ms();
            self.cursor = if t >= newest && self.playback.is_none() {
                Cursor::Live
            } else {
                Cursor::At(t.min(newest))
            };
        }
    }

    fn go_live(&mut self, newest: TimeMs) {
        self.cursor = if self.playback.is_some() {
            Cursor::At(newest)
        } else {
            Cursor::Live
        }
    }

    /// The next shorter window step.
    fn zoom_in(&mut self) {
        let s = self.window_ms / 1000;
        if let Some(w) = WINDOWS_S.iter().rev().find(|w| **w < s) {
            self.window_ms = w * 1000;
        }
    }

    /// The next longer window step.
    fn zoom_out(&mut self) {
        let s = self.window_ms / 1000;
        if let Some(w) = WINDOWS_S.iter().find(|w| **w > s) {
            self.window_ms = w * 1000;
        }
    }

    /// Focuses the next stage, after the last the first.
    fn focus_next(&mut self) {
        let n = StageId::ALL.len();
        self.focus = Some(self.focus.map_or(0, |f| (f + 1) % n));
    }

    /// Focuses the previous stage, before the first the last.
    fn focus_prev(&mut self) {
        let n = StageId::ALL.len();
        self.focus = Some(self.focus.map_or(n - 1, |f| (f + n - 1) % n));
    }

    /// Asks before stopping k6, where there is a k6 to stop.
    fn ask_to_stop_k6(&mut self, now: TimeMs) {
        if self.playback.is_some() {
            self.set_status("replay: there is no k6 run to stop", now);
        } else if !self.k6_available {
            self.set_status("no k6 REST API configured (--k6 URL)", now);
        } else {
            self.mode = Mode::ConfirmStopK6;
        }
    }

    fn play_pause(&mut self) {
        if let Some(p) = &mut self.playback {
            p.playing = !p.playing;
        }
    }

    /// Replay speed times `f`, within 0.25× to 64×.
    fn scale_speed(&mut self, f: f64) {
        if let Some(p) = &mut self.playback {
            p.speed = (p.speed * f).clamp(0.25, 64.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn a_note_is_stamped_when_a_is_pressed_not_when_it_is_saved() {
        let mut app = App::new(60_000, true, false);
        assert!(app.key(key(KeyCode::Char('a')), 1000, 0, 1000).is_empty());
        for c in "scaled".chars() {
            app.key(key(KeyCode::Char(c)), 5000, 0, 5000);
        }
        app.key(key(KeyCode::Backspace), 5000, 0, 5000);
        let e = app.key(key(KeyCode::Enter), 9000, 0, 9000);
        assert_eq!(
            e,
            vec![Effect::SaveAnnotation {
                t: 1000,
                text: "scale".into()
            }]
        );
        assert_eq!(app.mode, Mode::Normal);
    }

    #[test]
    fn quitting_a_recorded_run_asks_first_and_ctrl_c_twice_does_not() {
        let mut app = App::new(60_000, true, false);
        assert!(app.key(key(KeyCode::Char('q')), 0, 0, 0).is_empty());
        assert_eq!(app.mode, Mode::ConfirmQuit);
        assert!(app.key(key(KeyCode::Char('n')), 0, 0, 0).is_empty());
        assert_eq!(app.mode, Mode::Normal);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(app.key(ctrl_c, 0, 0, 0).is_empty());
        // The question is open; a second Ctrl-C answers it.
        assert_eq!(app.key(ctrl_c, 0, 0, 0), vec![Effect::Quit]);
    }

    #[test]
    fn moving_back_freezes_and_end_returns_to_live() {
        let mut app = App::new(60_000, false, false);
        app.key(key(KeyCode::Left), 0, 0, 100_000);
        assert_eq!(app.cursor, Cursor::At(85_000));
        app.key(key(KeyCode::Right), 0, 0, 100_000);
        assert_eq!(app.cursor, Cursor::Live);
        app.key(key(KeyCode::Char('p')), 0, 0, 100_000);
        assert_eq!(app.cursor, Cursor::At(100_000));
        assert_eq!(app.view_time(120_000), 100_000);
        app.key(key(KeyCode::End), 0, 0, 120_000);
        assert_eq!(app.cursor, Cursor::Live);
    }

    #[test]
    fn zoom_walks_the_window_steps() {
        let mut app = App::new(60_000, false, false);
        app.key(key(KeyCode::Char('+')), 0, 0, 0);
        assert_eq!(app.window_ms, 30_000);
        app.key(key(KeyCode::Char('-')), 0, 0, 0);
        app.key(key(KeyCode::Char('-')), 0, 0, 0);
        assert_eq!(app.window_ms, 120_000);
    }

    #[test]
    fn stopping_k6_needs_a_yes() {
        let mut app = App::new(60_000, false, true);
        app.key(key(KeyCode::Char('K')), 0, 0, 0);
        assert_eq!(app.mode, Mode::ConfirmStopK6);
        assert!(app.key(key(KeyCode::Char('q')), 0, 0, 0).is_empty());
        app.key(key(KeyCode::Char('K')), 0, 0, 0);
        assert_eq!(
            app.key(key(KeyCode::Char('y')), 0, 0, 0),
            vec![Effect::StopK6]
        );
    }

    #[test]
    fn focus_cycles_through_every_stage_both_ways() {
        let n = StageId::ALL.len();
        let mut app = App::new(60_000, false, false);
        app.key(key(KeyCode::BackTab), 0, 0, 0);
        assert_eq!(app.focus, Some(n - 1));
        app.key(key(KeyCode::Tab), 0, 0, 0);
        assert_eq!(app.focus, Some(0));
        let mut app = App::new(60_000, false, false);
        for i in 0..n {
            app.key(key(KeyCode::Tab), 0, 0, 0);
            assert_eq!(app.focus, Some(i));
        }
        app.key(key(KeyCode::BackTab), 0, 0, 0);
        assert_eq!(app.focus, Some(n - 2));
    }

    #[test]
    fn a_replay_is_read_only_and_p_plays_or_pauses_in_place() {
        let mut app = App::new(60_000, false, true);
        app.playback = Some(Playback {
            playing: true,
            speed: 1.0,
        });
        assert!(app.key(key(KeyCode::Char('m')), 0, 0, 50_000).is_empty());
        app.key(key(KeyCode::Char('a')), 0, 0, 50_000);
        assert_eq!(app.mode, Mode::Normal);
        assert!(app.status.is_some());
        app.key(key(KeyCode::Char('K')), 0, 0, 50_000);
        assert_eq!(app.mode, Mode::Normal);
        app.key(key(KeyCode::Char('p')), 0, 0, 50_000);
        assert_eq!(app.cursor, Cursor::At(50_000));
        assert!(!app.playback.unwrap().playing);
        app.key(key(KeyCode::Char('p')), 0, 0, 50_000);
        assert_eq!(app.cursor, Cursor::At(50_000));
        assert!(app.playback.unwrap().playing);
        app.key(key(KeyCode::Char(' ')), 0, 0, 50_000);
        assert!(!app.playback.unwrap().playing);
        // Forward at the end stays held; End goes to the end, not live.
        app.key(key(KeyCode::Right), 0, 0, 50_000);
        assert_eq!(app.cursor, Cursor::At(50_000));
        app.key(key(KeyCode::Left), 0, 0, 50_000);
        app.key(key(KeyCode::End), 0, 0, 60_000);
        assert_eq!(app.cursor, Cursor::At(60_000));
        for _ in 0..10 {
            app.key(key(KeyCode::Char(']')), 0, 0, 0);
        }
        assert_eq!(app.playback.unwrap().speed, 64.0);
        for _ in 0..10 {
            app.key(key(KeyCode::Char('[')), 0, 0, 0);
        }
        assert_eq!(app.playback.unwrap().speed, 0.25);
    }

    #[test]
    fn the_events_list_scrolls_up_and_not_below_the_newest() {
        let mut app = App::new(60_000, false, false);
        app.key(key(KeyCode::Char('j')), 0, 0, 0);
        assert_eq!(app.events_scroll, 0);
        app.key(key(KeyCode::Up), 0, 0, 0);
        app.key(key(KeyCode::Char('k')), 0, 0, 0);
        app.key(key(KeyCode::Down), 0, 0, 0);
        assert_eq!(app.events_scroll, 1);
    }
}
