//! Events view (annotations, stage transitions, health changes, warnings; scrollable) and the
//! one-line digest of the newest ones under the panels.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::Screen;
use crate::settings::Band;
use crate::ui::timeline::{Event, EventKind};

fn style(s: &Screen, e: &Event) -> ratatui::style::Style {
    match e.kind {
        EventKind::Annotation => s.theme.marker(),
        EventKind::Stage => s.theme.band(Band::Warn),
        EventKind::Health | EventKind::Error => s.theme.band(Band::Crit),
        EventKind::SourceEnded => s.theme.dim(),
        EventKind::Warning => s.theme.band(Band::Warn),
    }
}

fn text(e: &Event) -> String {
    let t = crate::text::clean(&e.text);
    if e.kind == EventKind::Annotation && t.is_empty() {
        "(mark)".into()
    } else {
        t
    }
}

pub fn render(area: Rect, buf: &mut Buffer, s: &Screen) {
    let block = s.block("events");
    let inner = block.inner(area);
    block.render(area, buf);
    let all: Vec<&Event> = s.tl.events_until(s.t()).collect();
    let h = inner.height as usize;
    let scroll = s.app.events_scroll.min(all.len().saturating_sub(h));
    let end = all.len() - scroll;
    let start = end.saturating_sub(h);
    let lines: Vec<Line> = all[start..end]
        .iter()
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{:>8} ", s.rel(e.t)), s.theme.dim()),
                Span::styled(format!("{:<8}", e.kind.word()), style(s, e)),
                Span::raw(text(e)),
            ])
        })
        .collect();
    if lines.is_empty() {
        Paragraph::new(Span::styled("no events yet", s.theme.dim())).render(inner, buf);
    } else {
        Paragraph::new(lines).render(inner, buf);
    }
}

/// The newest annotation and stage change, on one line.
pub fn latest_line(area: Rect, buf: &mut Buffer, s: &Screen) {
    let mut spans = Vec::new();
    for kind in [EventKind::Annotation, EventKind::Stage] {
        if let Some(e) = s.tl.events_until(s.t()).rev().find(|e| e.kind == kind) {
            if !spans.is_empty() {
                spans.push(Span::raw(" · "));
            }
            spans.push(Span::styled(
                format!("{} {} ", s.rel(e.t), e.kind.word()),
                style(s, e),
            ));
            spans.push(Span::raw(text(e)));
        }
    }
    if spans.is_empty() {
        spans.push(Span::styled(
            "no notes yet: press a to annotate what you changed",
            s.theme.dim(),
        ));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}
