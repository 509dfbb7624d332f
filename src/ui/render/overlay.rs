//! The footer (key hints, the note being typed, questions, status) and the help overlay.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::Screen;
use crate::settings::Band;
use crate::ui::app::Mode;
use crate::ui::keys::{Entry, NORMAL};
use crate::ui::theme::Theme;

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
    if s.app.mode == Mode::Help {
        help(area, buf, &s.theme);
    }
}

/// The normal mode's key table in a box centred in `area`, one entry a line.
fn help(area: Rect, buf: &mut Buffer, theme: &Theme) {
    let h = (NORMAL.len() as u16 + 2).min(area.height);
    let w = 56.min(area.width);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(r, buf);
    let block = super::block(theme, "keys (any key closes)");
    let inner = block.inner(r);
    block.render(r, buf);
    let keys: Vec<String> = NORMAL.iter().map(Entry::keys_label).collect();
    let width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    let lines: Vec<Line> = NORMAL
        .iter()
        .zip(keys)
        .map(|(e, k)| {
            Line::from(vec![
                Span::styled(format!(" {k:>width$}  "), theme.title()),
                Span::raw(e.what),
            ])
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The help drawn on an otherwise empty screen, one string a row.
    fn help_rows(w: u16, h: u16) -> Vec<String> {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        let theme = Theme {
            color: false,
            ascii: false,
        };
        help(area, &mut buf, &theme);
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect())
            .collect()
    }

    #[test]
    fn the_help_lists_every_key_of_the_normal_mode_beside_what_it_does() {
        let rows = help_rows(80, 40);
        for e in NORMAL {
            let row: Vec<&String> = rows.iter().filter(|r| r.contains(e.what)).collect();
            assert_eq!(
                row.len(),
                1,
                "{:?} on one line:\n{}",
                e.what,
                rows.join("\n")
            );
            // The words left of the description, inside the border, are the keys.
            let (left, _) = row[0].split_once(e.what).unwrap();
            let shown: Vec<&str> = left
                .split_whitespace()
                .filter(|w| !["│", "/"].contains(w))
                .collect();
            let bound: Vec<String> = e
                .bindings
                .iter()
                .flat_map(|b| b.keys.iter().map(|k| k.label()))
                .collect();
            assert_eq!(shown, bound, "{}", row[0]);
        }
    }

    #[test]
    fn the_help_fits_an_80_by_24_terminal() {
        let rows = help_rows(80, 24);
        for e in NORMAL {
            assert!(
                rows.iter().any(|r| r.contains(e.what)),
                "{:?} cut off:\n{}",
                e.what,
                rows.join("\n")
            );
        }
    }
}
