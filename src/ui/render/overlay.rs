//! The footer (key hints, the note being typed, questions, status) and the help overlay.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::Screen;
use crate::settings::Band;
use crate::ui::app::Mode;
use crate::ui::keys::BINDINGS;

/// Status messages stay this long.
const STATUS_MS: i64 = 8_000;

pub fn footer(area: Rect, buf: &mut Buffer, s: &Screen) {
    let line = match &s.app.mode {
        Mode::Annotating { t, text } => Line::from(vec![
            Span::styled(format!("note @ {} › ", s.rel(*t)), s.theme.marker()),
            Span::raw(crate::text::clean(text)),
            Span::styled("_", s.theme.focus()),
            Span::styled("  Enter save · Esc cancel", s.theme.dim()),
        ]),
        Mode::ConfirmQuit => {
            let kept = s
                .info
                .recording
                .as_deref()
                .map(|p| format!(" The recording is kept in {}.", crate::text::clean(p)))
                .unwrap_or_default();
            Line::from(Span::styled(
                format!("Quit?{kept} y/Enter quit · any other key stays"),
                s.theme.band(Band::Warn),
            ))
        }
        Mode::ConfirmStopK6 => Line::from(Span::styled(
            "Stop the k6 run now? y stops it · any other key leaves it running",
            s.theme.band(Band::Crit),
        )),
        _ => match &s.app.status {
            Some((msg, at)) if s.now - at < STATUS_MS => {
                Line::from(Span::styled(crate::text::clean(msg), s.theme.title()))
            }
            _ => {
                let replay = if s.app.playback.is_some() {
                    "space play/pause  [ ] speed  "
                } else {
                    "a note  m mark  p freeze  "
                };
                Line::from(Span::styled(
                    format!(
                        "? help  {replay}1-4 views  ←/→ time  +/- zoom ({})  Tab focus  q quit",
                        crate::ui::format::span(s.app.window_ms)
                    ),
                    s.theme.dim(),
                ))
            }
        },
    };
    Paragraph::new(line).render(area, buf);
}

pub fn render(area: Rect, buf: &mut Buffer, s: &Screen) {
    if s.app.mode != Mode::Help {
        return;
    }
    let h = (BINDINGS.len() as u16 + 2).min(area.height);
    let w = 56.min(area.width);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(r, buf);
    let block = s.block("keys (any key closes)");
    let inner = block.inner(r);
    block.render(r, buf);
    let lines: Vec<Line> = BINDINGS
        .iter()
        .map(|(k, _, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>6}  "), s.theme.title()),
                Span::raw(*what),
            ])
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}
