//! Keys to actions. The normal mode's keys are one table, read both to dispatch a key and to
//! draw the help overlay; the note input and the yes/no questions are small enough to be code.

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

/// A key as the tables name it: its code, and whether Ctrl is held. Shift and Alt are not
/// compared: terminals report `K` and Shift-Tab with Shift held, and the code already says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    /// Whether a key event is this key.
    pub fn matches(self, k: &KeyEvent) -> bool {
        self.code == k.code && self.ctrl == k.modifiers.contains(KeyModifiers::CONTROL)
    }

    /// The key as the help names it: one word, no spaces.
    pub fn label(self) -> String {
        let name = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::BackTab => "S-Tab".into(),
            other => other.to_string(),
        };
        if self.ctrl {
            format!("Ctrl-{name}")
        } else {
            name
        }
    }
}

/// Keys that all do one thing.
#[derive(Clone, Copy, Debug)]
pub struct Binding<A: 'static> {
    pub keys: &'static [Key],
    pub action: A,
}

/// One line of a key table: a binding, or a pair of opposites (back / forward), and what it
/// does. Dispatch and the help overlay both read the table, so neither knows a key the other
/// does not.
#[derive(Clone, Copy, Debug)]
pub struct Entry<A: 'static> {
    pub bindings: &'static [Binding<A>],
    pub what: &'static str,
}

impl<A> Entry<A> {
    /// The keys as the help shows them: aliases side by side, opposites split by a slash.
    pub fn keys_label(&self) -> String {
        let binding = |b: &Binding<A>| {
            let keys: Vec<String> = b.keys.iter().map(|k| k.label()).collect();
            keys.join(" ")
        };
        let bindings: Vec<String> = self.bindings.iter().map(binding).collect();
        bindings.join(" / ")
    }
}

const fn key(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

const fn ch(c: char) -> Key {
    key(KeyCode::Char(c))
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

const fn bind<A>(keys: &'static [Key], action: A) -> Binding<A> {
    Binding { keys, action }
}

const fn entry<A>(bindings: &'static [Binding<A>], what: &'static str) -> Entry<A> {
    Entry { bindings, what }
}

/// The normal mode, in the order the help overlay lists it.
pub const NORMAL: &[Entry<Action>] = &[
    entry(
        &[bind(&[ch('1')], Action::View(View::Dashboard))],
        "dashboard",
    ),
    entry(
        &[bind(&[ch('2')], Action::View(View::Queue))],
        "queue: streams, groups, drain",
    ),
    entry(
        &[bind(&[ch('3')], Action::View(View::Envelope))],
        "envelope: latency against load",
    ),
    entry(
        &[bind(&[ch('4')], Action::View(View::Events))],
        "events: notes, stages, health",
    ),
    entry(
        &[bind(&[ch('a')], Action::Annotate)],
        "annotate (time taken at the key press)",
    ),
    entry(
        &[bind(&[ch('m')], Action::QuickMark)],
        "quick mark, no text",
    ),
    entry(
        &[bind(&[ch('p')], Action::Freeze)],
        "freeze / unfreeze the view",
    ),
    entry(
        &[
            bind(&[key(KeyCode::Left), ch('h')], Action::Back),
            bind(&[key(KeyCode::Right), ch('l')], Action::Forward),
        ],
        "move back / forward in time",
    ),
    entry(
        &[bind(&[key(KeyCode::End)], Action::Live)],
        "back to live (replay: to the end)",
    ),
    entry(
        &[
            bind(&[ch('+'), ch('=')], Action::ZoomIn),
            bind(&[ch('-'), ch('_')], Action::ZoomOut),
        ],
        "zoom in / out (shorter / longer window)",
    ),
    entry(
        &[
            bind(&[key(KeyCode::Tab)], Action::FocusNext),
            bind(&[key(KeyCode::BackTab)], Action::FocusPrev),
        ],
        "focus the next / previous stage",
    ),
    entry(
        &[bind(&[key(KeyCode::Enter)], Action::Expand)],
        "expand the focused item",
    ),
    entry(
        &[
            bind(&[key(KeyCode::Up), ch('k')], Action::ScrollUp),
            bind(&[key(KeyCode::Down), ch('j')], Action::ScrollDown),
        ],
        "scroll the events list up / down",
    ),
    entry(
        &[bind(&[ch('K')], Action::StopK6)],
        "stop the k6 run (asks first)",
    ),
    entry(
        &[bind(&[ch(' ')], Action::PlayPause)],
        "replay: play / pause",
    ),
    entry(
        &[
            bind(&[ch('[')], Action::Slower),
            bind(&[ch(']')], Action::Faster),
        ],
        "replay: slower / faster",
    ),
    entry(&[bind(&[ch('?')], Action::Help)], "this help"),
    entry(
        &[bind(&[ch('q'), key(KeyCode::Esc)], Action::Quit)],
        "quit (asks while recording)",
    ),
    entry(
        &[bind(&[ctrl('c')], Action::Interrupt)],
        "quit; a second one skips the question",
    ),
];

/// The action of a key in a table.
fn lookup<A: Copy>(table: &[Entry<A>], k: KeyEvent) -> Option<A> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    table
        .iter()
        .flat_map(|e| e.bindings)
        .find(|b| b.keys.iter().any(|key| key.matches(&k)))
        .map(|b| b.action)
}

/// The action of a key in the normal mode.
pub fn normal(k: KeyEvent) -> Option<Action> {
    lookup(NORMAL, k)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: Key, extra: KeyModifiers) -> KeyEvent {
        let ctrl = if key.ctrl {
            KeyModifiers::CONTROL
        } else {
            KeyModifiers::NONE
        };
        KeyEvent::new(key.code, ctrl | extra)
    }

    fn every_binding() -> impl Iterator<Item = &'static Binding<Action>> {
        NORMAL.iter().flat_map(|e| e.bindings)
    }

    #[test]
    fn every_listed_key_dispatches_to_its_listed_action() {
        for b in every_binding() {
            for &key in b.keys {
                assert_eq!(
                    normal(event(key, KeyModifiers::NONE)),
                    Some(b.action),
                    "{key:?}"
                );
                // Terminals send `K` and Shift-Tab with Shift held.
                assert_eq!(
                    normal(event(key, KeyModifiers::SHIFT)),
                    Some(b.action),
                    "{key:?}"
                );
            }
        }
    }

    #[test]
    fn no_key_is_bound_twice() {
        let keys: Vec<Key> = every_binding()
            .flat_map(|b| b.keys.iter().copied())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(k), "{k:?} is bound twice");
        }
    }

    #[test]
    fn unlisted_keys_and_releases_do_nothing() {
        let none = |code| KeyEvent::new(code, KeyModifiers::NONE);
        assert_eq!(normal(none(KeyCode::Char('x'))), None);
        assert_eq!(normal(none(KeyCode::F(1))), None);
        // Ctrl changes the key: Ctrl-Q is not q.
        assert_eq!(
            normal(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            None
        );
        let mut release = none(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(normal(release), None);
    }
}
