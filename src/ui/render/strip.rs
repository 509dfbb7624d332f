//! The saturation strip: six stage chips with state and onset, and the evidence line.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::Screen;
use crate::detect::{StageId, StageState};

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

pub fn chips(area: Rect, buf: &mut Buffer, s: &Screen) {
    let stages = s.tl.stages_at(s.t());
    let mut spans = Vec::new();
    for (i, st) in stages.iter().enumerate() {
        let mut text = format!(
            "{} {} {}",
            s.theme.stage_symbol(st.state),
            st.id.number(),
            short(st.id)
        );
        // Onset only for stages that are (or were) reached: the time the run began.
        if matches!(st.state, StageState::Active | StageState::Suspected) {
            if let Some(o) = st.onset {
                text += &format!(" {}", s.rel(o));
            }
        }
        let mut style = s.theme.stage(st.state);
        if s.app.focus == Some(i) {
            style = style.patch(s.theme.focus());
        }
        spans.push(Span::styled(text, style));
        spans.push(Span::raw("  "));
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
