//! Drawing: a pure function of the run state, the timeline and the screen state.
//!
//! ```text
//!  slitop ▸ run · 2:31 · scrape ✓ ok · valkey ✓ ok · k6 ✓ running 12 VUs · 1s · ● REC     header
//!  ● 1 rate 0:02  ● 2 decoupled 1:02  ◐ 3 pending 1:04  ○ 4 plateau  ○ 5 p95  ○ 6 errors  stage strip
//!  evidence of the focused (or newest) stage                                              evidence
//! ┌ leading ──────────────────────┐┌ throughput & capacity ─────────┐
//! │ chart: throughput vs load     ││ chart: achieved vs offered     │
//! │ efficiency, pending, queue    ││ dequeue, slots, capacity, …    │
//! └───────────────────────────────┘└────────────────────────────────┘
//! ┌ lagging ──────────────────────┐┌ stability ─────────────────────┐
//! │ chart: p50/p95/p99 + SLO      ││ counters that must stay zero   │
//! └───────────────────────────────┘└────────────────────────────────┘
//!  1:40 note scaled workers to 4 · 1:04 stage 3 pending_climbs active                    event line
//!  ? help  a note  m mark  1-4 views  ←/→ time  +/- zoom  q quit        (or the input line) footer
//! ```
//! The queue, envelope and events views replace the panels; the header, strip and footer stay.

mod dashboard;
mod envelope;
mod events;
mod overlay;
mod queue;
mod strip;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::app::{App, Cursor};
use super::format;
use super::keys::View;
use super::theme::Theme;
use super::timeline::Timeline;
use crate::model::{Health, TimeMs};
use crate::run::baseline::Baseline;
use crate::settings::{Role, SignalDef};
use crate::state::RunState;

/// What the screen says about the run that is not in the run state.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    pub name: String,
    /// Where the recording goes (None: not recording).
    pub recording: Option<String>,
    pub replay: bool,
    /// Source names in the order the header lists them.
    pub sources: Vec<String>,
}

pub struct Screen<'a> {
    pub app: &'a App,
    pub tl: &'a Timeline,
    pub state: &'a RunState,
    pub info: &'a RunInfo,
    pub theme: Theme,
    /// Wall-clock time of this frame (staleness is judged against it).
    pub now: TimeMs,
    /// An earlier run drawn faint under this one (`--baseline`).
    pub baseline: Option<&'a Baseline>,
}

impl Screen<'_> {
    /// The moment shown.
    pub fn t(&self) -> TimeMs {
        self.app.view_time(self.tl.last().unwrap_or(self.now))
    }

    pub fn started(&self) -> TimeMs {
        self.tl.first().unwrap_or(self.now)
    }

    /// The first signal bound to `role` that has data, else the first bound to it.
    pub fn role(&self, role: Role) -> Option<&SignalDef> {
        self.state.role(role)
    }

    pub fn value(&self, def: &SignalDef) -> Option<f64> {
        self.state.history.value_at(&def.name, self.t())
    }

    pub fn role_value(&self, role: Role) -> Option<f64> {
        self.role(role).and_then(|d| self.value(d))
    }

    pub fn defs(&self) -> impl Iterator<Item = &SignalDef> {
        self.state.engine.signals.iter().map(|s| &s.def)
    }

    pub fn block<'b>(&self, title: &'b str) -> Block<'b> {
        block(&self.theme, title)
    }

    /// Offset from the run's start, as the strip and the event lists print times.
    pub fn rel(&self, t: TimeMs) -> String {
        format::elapsed(t - self.started())
    }
}

/// A bordered panel with its title.
fn block<'b>(theme: &Theme, title: &'b str) -> Block<'b> {
    Block::default()
        .borders(Borders::ALL)
        .border_set(theme.border_set())
        .title(Span::styled(format!(" {title} "), theme.title()))
}

/// Below this, only a one-line summary fits.
const MIN_W: u16 = 20;
const MIN_H: u16 = 5;

pub fn render(area: Rect, buf: &mut Buffer, s: &Screen) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    if area.width < MIN_W || area.height < MIN_H {
        tiny(area, buf, s);
        return;
    }
    let [header, strip_area, evidence, body, event_line, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(if s.app.expanded && s.app.view == View::Dashboard {
            3
        } else {
            1
        }),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    self::header(header, buf, s);
    strip::chips(strip_area, buf, s);
    strip::evidence(evidence, buf, s);
    match s.app.view {
        View::Dashboard => dashboard::render(body, buf, s),
        View::Queue => queue::render(body, buf, s),
        View::Envelope => envelope::render(body, buf, s),
        View::Events => events::render(body, buf, s),
    }
    events::latest_line(event_line, buf, s);
    overlay::footer(footer, buf, s);
    overlay::render(area, buf, s);
}

/// Too small for panels: the worst stage and the newest event, clipped.
fn tiny(area: Rect, buf: &mut Buffer, s: &Screen) {
    let stages = s.tl.stages_at(s.t());
    let worst = stages
        .iter()
        .rev()
        .find(|st| st.state == crate::detect::StageState::Active);
    let line = match worst {
        Some(st) => format!("slitop {} {}", st.id.number(), st.id.id()),
        None => "slitop ok".into(),
    };
    let style = worst.map_or(s.theme.dim(), |st| s.theme.stage(st.state));
    Paragraph::new(vec![
        Line::from(Span::styled(line, style)),
        Line::from(format!("{}×{}: too small", area.width, area.height)),
    ])
    .render(area, buf);
}

fn health_span(s: &Screen, name: &str, since: TimeMs, h: &Health) -> Vec<Span<'static>> {
    use crate::settings::Band;
    let band = |b: Band, word: String| (s.theme.band_symbol(b), s.theme.band(b), word);
    let (symbol, style, word) = match h {
        Health::Ok => band(Band::Ok, "ok".to_string()),
        Health::Starting => band(Band::NoData, "starting".to_string()),
        Health::Stale { since: last } => band(
            Band::Warn,
            format!("stale {}s", ((s.now - last) / 1000).max(0)),
        ),
        Health::Down { reason } => band(
            Band::Crit,
            format!("down: {}", crate::text::clean_short(reason, 40)),
        ),
        // The end of what it watches is no trouble: a neutral mark, no band colour.
        Health::Finished => (finished_symbol(&s.theme), s.theme.dim(), "finished".into()),
    };
    let _ = since;
    vec![
        Span::raw(format!("{name} ")),
        Span::styled(format!("{symbol} {word}"), style),
    ]
}

/// The mark of a finished source: a stop square, `=` in ASCII mode.
fn finished_symbol(theme: &Theme) -> &'static str {
    if theme.ascii {
        "="
    } else {
        "■"
    }
}

fn header(area: Rect, buf: &mut Buffer, s: &Screen) {
    let t = s.t();
    let mut spans = vec![
        Span::styled("slitop", s.theme.title()),
        Span::raw(format!(
            " {} · {} ",
            crate::text::clean_short(&s.info.name, 32),
            format::elapsed(t - s.started())
        )),
    ];
    let health = s.tl.health_at(t);
    for name in &s.info.sources {
        spans.push(Span::raw("· "));
        match health.get(name) {
            Some((since, h)) => spans.extend(health_span(s, name, *since, h)),
            None => spans.extend(health_span(s, name, 0, &Health::Starting)),
        }
        if name == "k6" {
            if let Some(word) = k6_state(s) {
                spans.push(Span::raw(format!(" {word}")));
            }
            if let Some(v) = s.role_value(Role::Vus) {
                spans.push(Span::raw(format!(" {} VUs", format::num(v))));
            }
        }
        spans.push(Span::raw(" "));
    }
    spans.push(Span::raw(format!(
        "· {} ",
        format::span(s.state.refresh_ms.max(1))
    )));
    match (s.app.playback, s.app.cursor) {
        (Some(p), _) => spans.push(Span::styled(
            format!(
                "· REPLAY {} {}× ",
                if p.playing { "▶" } else { "⏸" },
                p.speed
            ),
            s.theme.title(),
        )),
        (None, Cursor::At(_)) => spans.push(Span::styled(
            "· FROZEN (End: live) ",
            s.theme.band(crate::settings::Band::Warn),
        )),
        (None, Cursor::Live) => {}
    }
    if s.info.recording.is_some() && !s.info.replay {
        match &s.tl.recording_stopped {
            // A full disk stops the recording, not the run: said for as long as it lasts.
            Some(_) => spans.push(Span::styled(
                "· REC STOPPED (see log) ",
                s.theme.band(crate::settings::Band::Crit),
            )),
            None => spans.push(Span::styled("· ● REC", s.theme.rec())),
        }
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// k6's own run state from its REST status (7 running, 9 ended, 10 interrupted).
fn k6_state(s: &Screen) -> Option<String> {
    let t = s.t();
    let v = s
        .state
        .store
        .family(crate::model::series::K6_STATUS)
        .filter_map(|(_, series)| series.last_at(t).map(|p| p.1))
        .find(|v| v.is_finite())?;
    Some(match v as i64 {
        7 => "running".into(),
        9 => "ended".into(),
        10 => "interrupted".into(),
        n => format!("status {n}"),
    })
}
