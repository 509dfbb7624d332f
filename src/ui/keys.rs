//! Keys to actions: one table per input mode, so the bindings read as data and the help
//! overlay is generated from the same table.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Ctrl-C: quit, and a second one skips the question.
    Interrupt,
    View(View),
    Help,
    Annotate,
    QuickMark,
    Freeze,
    Back,
    Forward,
    Live,
    ZoomIn,
    ZoomOut,
    FocusNext,
    FocusPrev,
    Expand,
    StopK6,
    PlayPause,
    Faster,
    Slower,
    ScrollUp,
    ScrollDown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Dashboard,
    Queue,
    Envelope,
    Events,
}

impl View {
    pub const ALL: [View; 4] = [View::Dashboard, View::Queue, View::Envelope, View::Events];

    pub fn name(self) -> &'static str {
        match self {
            View::Dashboard => "dashboard",
            View::Queue => "queue",
            View::Envelope => "envelope",
            View::Events => "events",
        }
    }
}

/// (key label, action, what it does) — the help overlay lists these in order.
pub const BINDINGS: &[(&str, Action, &str)] = &[
    ("1", Action::View(View::Dashboard), "dashboard"),
    (
        "2",
        Action::View(View::Queue),
        "queue: streams, groups, drain",
    ),
    (
        "3",
        Action::View(View::Envelope),
        "envelope: latency against load",
    ),
    (
        "4",
        Action::View(View::Events),
        "events: notes, stages, health",
    ),
    (
        "a",
        Action::Annotate,
        "annotate (time taken at the key press)",
    ),
    ("m", Action::QuickMark, "quick mark, no text"),
    ("p", Action::Freeze, "freeze / unfreeze the view"),
    ("←/h", Action::Back, "move back in time"),
    ("→/l", Action::Forward, "move forward in time"),
    ("End", Action::Live, "back to live (replay: to the end)"),
    ("+", Action::ZoomIn, "zoom in (shorter window)"),
    ("-", Action::ZoomOut, "zoom out (longer window)"),
    ("Tab", Action::FocusNext, "focus next stage / panel"),
    ("S-Tab", Action::FocusPrev, "focus previous"),
    ("Enter", Action::Expand, "expand the focused item"),
    ("↑/↓", Action::ScrollUp, "scroll the events list"),
    ("K", Action::StopK6, "stop the k6 run (asks first)"),
    ("space", Action::PlayPause, "replay: play / pause"),
    ("]", Action::Faster, "replay: faster"),
    ("[", Action::Slower, "replay: slower"),
    ("?", Action::Help, "this help"),
    ("q", Action::Quit, "quit (asks while recording)"),
];

/// The action of a key in the normal mode.
pub fn normal(k: KeyEvent) -> Option<Action> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        return match k.code {
            KeyCode::Char('c') => Some(Action::Interrupt),
            _ => None,
        };
    }
    Some(match k.code {
        KeyCode::Char('1') => Action::View(View::Dashboard),
        KeyCode::Char('2') => Action::View(View::Queue),
        KeyCode::Char('3') => Action::View(View::Envelope),
        KeyCode::Char('4') => Action::View(View::Events),
        KeyCode::Char('a') => Action::Annotate,
        KeyCode::Char('m') => Action::QuickMark,
        KeyCode::Char('p') => Action::Freeze,
        KeyCode::Left | KeyCode::Char('h') => Action::Back,
        KeyCode::Right | KeyCode::Char('l') => Action::Forward,
        KeyCode::End => Action::Live,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::ZoomIn,
        KeyCode::Char('-') | KeyCode::Char('_') => Action::ZoomOut,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Enter => Action::Expand,
        KeyCode::Up | KeyCode::Char('k') => Action::ScrollUp,
        KeyCode::Down | KeyCode::Char('j') => Action::ScrollDown,
        KeyCode::Char('K') => Action::StopK6,
        KeyCode::Char(' ') => Action::PlayPause,
        KeyCode::Char(']') => Action::Faster,
        KeyCode::Char('[') => Action::Slower,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        _ => return None,
    })
}

/// What a key does while a one-line text input is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKey {
    Char(char),
    Backspace,
    Submit,
    Cancel,
}

pub fn input(k: KeyEvent) -> Option<InputKey> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        return match k.code {
            KeyCode::Char('c') => Some(InputKey::Cancel),
            _ => None,
        };
    }
    match k.code {
        KeyCode::Char(c) => Some(InputKey::Char(c)),
        KeyCode::Backspace => Some(InputKey::Backspace),
        KeyCode::Enter => Some(InputKey::Submit),
        KeyCode::Esc => Some(InputKey::Cancel),
        _ => None,
    }
}

/// A yes/no question: y or Enter say yes (and, for "quit", q and Ctrl-C again); anything else no.
pub fn confirm(k: KeyEvent) -> Option<bool> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    Some(
        matches!(
            k.code,
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter | KeyCode::Char('q')
        ) || (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL)),
    )
}
