//! Entering and leaving the full-screen terminal. The restore runs on drop, from the panic hook
//! (installed before raw mode and chained to the previous hook) and on every exit path, and is
//! safe to run twice or on a terminal that has gone away (a dropped SSH link).

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
        std::panic::set_hook(Box::new(move |info| {
            restore();
            prev(info);
        }));
    });
}
