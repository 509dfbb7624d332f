//! The saturation strip: six stage chips with state and times, and the evidence line.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::Screen;
use crate::detect::{StageId, StageState};
use crate::ui::timeline::StageAt;

/// Short chip names, so six fit on 80 columns.
fn short(id: StageId) -> &'static str {
    match id {
        StageId::RateRises => "rate",
        StageId::Decoupled => "decoupled",
        StageId::PendingClimbs => "pending",
        StageId::Plateau => "plateau",
        StageId::P95High => "p95",
        StageId::ErrorsVisible => "errors",
    }
}

/// Shorter still, for when the chips' times need the room.
fn shortest(id: StageId) -> &'static str {
    match id {
        StageId::RateRises => "rate",
        StageId::Decoupled => "dec",
        StageId::PendingClimbs => "pend",
        StageId::Plateau => "plat",
        StageId::P95High => "p95",
        StageId::ErrorsVisible => "err",
    }
}

/// How a chip names its stage: the strip takes the first that fits its width, and drops the
/// names (the number stays) before it drops a time.
const NAMES: [fn(StageId) -> &'static str; 3] = [short, shortest, |_| ""];

const GAP: &str = "  ";

/// One chip: symbol, number, name, and the times of the stage's run: its onset while active
/// or suspected, when it began and when it cleared once cleared (`◌ 3 pending 1:16–1:52`).
fn chip(s: &Screen, st: &StageAt, name: fn(StageId) -> &'static str) -> String {
    let mut text = format!("{} {}", s.theme.stage_symbol(st.state), st.id.number());
    let name = name(st.id);
    if !name.is_empty() {
        text += &format!(" {name}");
    }
    match (st.state, st.onset, st.cleared_span) {
        (StageState::Active | StageState::Suspected, Some(o), _) => {
            text += &format!(" {}", s.rel(o));
        }
        (StageState::Cleared, _, Some((from, to))) => {
            let dash = if s.theme.ascii { "-" } else { "–" };
            text += &format!(" {}{dash}{}", s.rel(from), s.rel(to));
        }
        _ => {}
    }
    text
}

/// The baseline's onset of the stage, as a ghost mark after the chip (`2 dec 1:12 base 1:31`,
/// dim), short enough that six chips with their marks fit 160 columns.
fn ghost(s: &Screen, id: StageId) -> Option<String> {
    let at = *s.baseline?.onsets.get(&id)?;
    Some(format!(" base {}", crate::ui::format::elapsed(at)))
}

pub fn chips(area: Rect, buf: &mut Buffer, s: &Screen) {
    let stages = s.tl.stages_at(s.t());
    let width = |texts: &[(String, Option<String>)]| {
        texts
            .iter()
            .map(|(t, g)| {
                Span::raw(t.as_str()).width() + g.as_ref().map_or(0, |g| g.chars().count())
            })
            .sum::<usize>()
            + GAP.len() * (texts.len().max(1) - 1)
    };
    // Shorter names first, then the baseline's marks give way, then the names.
    let tries = [
        (NAMES[0], true),
        (NAMES[1], true),
        (NAMES[0], false),
        (NAMES[1], false),
        (NAMES[2], false),
    ];
    let mut texts = Vec::new();
    for (name, with_ghosts) in tries {
        texts = stages
            .iter()
            .map(|st| {
                let g = with_ghosts.then(|| ghost(s, st.id)).flatten();
                (chip(s, st, name), g)
            })
            .collect();
        if width(&texts) <= area.width as usize {
            break;
        }
    }
    let mut spans = Vec::new();
    for (i, (st, (text, g))) in stages.iter().zip(texts).enumerate() {
        let mut style = s.theme.stage(st.state);
        if s.app.focus == Some(i) {
            style = style.patch(s.theme.focus());
        }
        spans.push(Span::styled(text, style));
        if let Some(g) = g {
            spans.push(Span::styled(g, s.theme.dim()));
        }
        spans.push(Span::raw(GAP));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// The focused stage's evidence, else the most advanced stage that is active or suspected.
pub fn evidence(area: Rect, buf: &mut Buffer, s: &Screen) {
    let stages = s.tl.stages_at(s.t());
    let pick = match s.app.focus {
        Some(i) => stages.get(i),
        None => stages
            .iter()
            .rev()
            .find(|st| matches!(st.state, StageState::Active | StageState::Suspected)),
    };
    let line = match pick {
        Some(st) => {
            let mut spans = vec![Span::styled(
                format!(
                    "{} {} {}: ",
                    st.id.number(),
                    st.id.meaning(),
                    st.state.word()
                ),
                s.theme.stage(st.state),
            )];
            let ev = if st.evidence.is_empty() {
                "no evidence yet".to_string()
            } else {
                crate::text::clean(&st.evidence)
            };
            spans.push(Span::raw(ev));
            if s.app.expanded {
                if let Some(o) = st.onset {
                    spans.push(Span::styled(
                        format!("  (since {})", s.rel(o)),
                        s.theme.dim(),
                    ));
                }
            }
            Line::from(spans)
        }
        None => Line::from(Span::styled(
            "no saturation stage past the first: the system keeps up",
            s.theme.dim(),
        )),
    };
    Paragraph::new(line)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}
