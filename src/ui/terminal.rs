//! Entering and leaving the full-screen terminal. The restore runs on drop, from the panic hook
//! (installed before raw mode and chained to the previous hook) and on every exit path, and is
//! safe to run twice or on a terminal that has gone away (a dropped SSH link).
//!
//! Only a panic of the thread that draws the screen restores it: a source task that panics on
//! another thread is restarted by its supervisor and shown as down with the reason, while the
//! screen keeps being drawn; so its message is not printed over the screen either.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The thread that took the terminal over (the one that draws).
static UI_THREAD: std::sync::Mutex<Option<std::thread::ThreadId>> = std::sync::Mutex::new(None);

/// Puts the terminal back; does nothing when it was not taken over.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

pub type Term = Terminal<CrosstermBackend<io::BufWriter<io::Stdout>>>;

pub struct Guard {
    pub term: Term,
}

impl Guard {
    pub fn enter(mouse: bool) -> anyhow::Result<Self> {
        install_panic_hook();
        if let Ok(mut ui) = UI_THREAD.lock() {
            *ui = Some(std::thread::current().id());
        }
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        execute!(out, EnterAlternateScreen, cursor::Hide)?;
        if mouse {
            execute!(out, EnableMouseCapture)?;
        }
        // One buffered write per frame: a frame's changed cells leave in one packet.
        let backend = CrosstermBackend::new(io::BufWriter::with_capacity(64 * 1024, io::stdout()));
        let term = Terminal::new(backend)?;
        Ok(Self { term })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| match on_panic() {
            OnPanic::Restore => {
                restore();
                prev(info);
            }
            OnPanic::KeepScreen => {}
            OnPanic::Report => prev(info),
        }));
    });
}

/// What the panic hook does for a panic of the current thread.
#[derive(Debug, PartialEq)]
enum OnPanic {
    /// The drawing thread: put the terminal back, then report.
    Restore,
    /// Another thread while the screen is up: its supervisor shows the reason on the screen.
    KeepScreen,
    /// No screen: report as usual.
    Report,
}

fn on_panic() -> OnPanic {
    let ui = UI_THREAD.lock().ok().and_then(|t| *t);
    if !ACTIVE.load(Ordering::SeqCst) {
        OnPanic::Report
    } else if ui.is_none_or(|t| t == std::thread::current().id()) {
        OnPanic::Restore
    } else {
        OnPanic::KeepScreen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_drawing_thread_restores_the_screen() {
        assert_eq!(on_panic(), OnPanic::Report);
        *UI_THREAD.lock().unwrap() = Some(std::thread::current().id());
        ACTIVE.store(true, Ordering::SeqCst);
        let here = on_panic();
        let elsewhere = std::thread::spawn(on_panic).join().unwrap();
        ACTIVE.store(false, Ordering::SeqCst);
        *UI_THREAD.lock().unwrap() = None;
        assert_eq!(here, OnPanic::Restore);
        assert_eq!(elsewhere, OnPanic::KeepScreen);
    }
}
