//! Queue view: per stream and consumer group — length, lag, pending, consumers and their
//! longest idle time, enqueue against dequeue rate, and how long the backlog takes to drain.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Row, Table, Widget};

use super::dashboard::TimeChart;
use super::Screen;
use crate::settings::{Band, Role, Unit};
use crate::ui::format;
use crate::ui::timeline::{counter_rate, QueueRow};

/// Rates are taken over this span of the timeline.
const RATE_SPAN_MS: i64 = 10_000;

pub struct Rates {
    pub enqueue: Option<f64>,
    pub dequeue: Option<f64>,
}

pub fn rates(s: &Screen, row: &QueueRow) -> Rates {
    let t = s.t();
    let then_t = t - RATE_SPAN_MS;
    let (Some(i), Some(j)) = (s.tl.index_at(t), s.tl.index_at(then_t)) else {
        return Rates {
            enqueue: None,
            dequeue: None,
        };
    };
    let secs = (s.tl.ticks[i] - s.tl.ticks[j]) as f64 / 1000.0;
    let old = s.tl.queues[j]
        .iter()
        .find(|r| r.stream == row.stream && r.group == row.group);
    Rates {
        enqueue: counter_rate(row.added, old.and_then(|o| o.added), secs),
        dequeue: counter_rate(row.read, old.and_then(|o| o.read), secs),
    }
}

/// Seconds to empty the backlog at the current net drain rate; None while it grows.
pub fn drain_estimate(backlog: Option<f64>, r: &Rates) -> Option<f64> {
    let b = backlog?;
    if b <= 0.0 {
        return Some(0.0);
    }
    let net = r.dequeue? - r.enqueue?;
    (net > 0.0).then(|| b / net)
}

pub fn render(area: Rect, buf: &mut Buffer, s: &Screen) {
    let block = s.block("queue");
    let inner = block.inner(area);
    block.render(area, buf);
    let chart_h = chart_height(inner, s);
    let [table_area, chart_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(chart_h)]).areas(inner);
    render_table(table_area, buf, s);
    if chart_h > 0 {
        render_chart(chart_area, buf, s);
    }
}

/// Half the view goes to the chart when both fit; `--low-bandwidth` shows numbers only.
fn chart_height(inner: Rect, s: &Screen) -> u16 {
    if inner.height >= 14 && !s.app.low_bandwidth {
        inner.height / 2
    } else {
        0
    }
}

const COLUMNS: [&str; 10] = [
    "stream", "group", "length", "lag", "pending", "cons", "idle max", "in/s", "out/s", "drain",
];

/// Stream and group share what the fixed-width number columns leave.
const WIDTHS: [Constraint; 10] = [
    Constraint::Min(6),
    Constraint::Min(5),
    Constraint::Length(7),
    Constraint::Length(8),
    Constraint::Length(8),
    Constraint::Length(5),
    Constraint::Length(9),
    Constraint::Length(7),
    Constraint::Length(7),
    Constraint::Length(8),
];

/// One row per stream and group at the moment shown, or a hint when none is watched.
fn render_table(area: Rect, buf: &mut Buffer, s: &Screen) {
    let rows = s.tl.queues_at(s.t());
    if rows.is_empty() {
        Paragraph::new(Line::from(Span::styled(
            "no Valkey streams in view (configure --valkey URL --stream NAME)",
            s.theme.dim(),
        )))
        .render(area, buf);
        return;
    }
    let header = Row::new(COLUMNS).style(s.theme.title());
    let body: Vec<Row> = rows.iter().map(|r| table_row(s, r)).collect();
    Widget::render(Table::new(body, WIDTHS).header(header), area, buf);
}

fn table_row(s: &Screen, r: &QueueRow) -> Row<'static> {
    let rt = rates(s, r);
    // Lag is what the group still has to read; without it, the whole stream is the backlog.
    let backlog = r.lag.or(r.length);
    let band = backlog_band(backlog, s.state.detector.cfg.min_backlog);
    let n = |v: Option<f64>| format::value(v, Unit::Count);
    Row::new(vec![
        Text::raw(crate::text::clean_short(&r.stream, 20)),
        Text::raw(crate::text::clean_short(&r.group, 16)),
        Text::raw(n(r.length)),
        Text::styled(
            format!("{} {}", s.theme.band_symbol(band), n(r.lag)),
            s.theme.band(band),
        ),
        Text::raw(n(r.pending)),
        Text::raw(n(r.consumers)),
        Text::raw(format::value(r.idle_max_s, Unit::Seconds)),
        Text::raw(format::value(rt.enqueue, Unit::None)),
        Text::raw(format::value(rt.dequeue, Unit::None)),
        Text::raw(drain_text(backlog, &rt)),
    ])
}

/// The backlog's band: the detector's own threshold warns, a fixed 100 entries is critical.
fn backlog_band(backlog: Option<f64>, min_backlog: f64) -> Band {
    match backlog {
        Some(b) if b >= 100.0 => Band::Crit,
        Some(b) if b >= min_backlog => Band::Warn,
        Some(_) => Band::Ok,
        None => Band::NoData,
    }
}

/// Time to drain; "growing" while a backlog has no net outflow (or no known rates) to drain it.
fn drain_text(backlog: Option<f64>, rt: &Rates) -> String {
    match drain_estimate(backlog, rt) {
        Some(d) => format::secs(d),
        None if backlog.is_some_and(|b| b > 0.0) => "growing".into(),
        None => "—".into(),
    }
}

/// Lag and length over time, with in-flight dashed; nothing when no queue signal is bound.
fn render_chart(area: Rect, buf: &mut Buffer, s: &Screen) {
    let mut series = Vec::new();
    for (r, label) in [(Role::QueueLag, "lag"), (Role::QueueDepth, "length")] {
        if let Some(d) = s.role(r) {
            series.push((d.name.clone(), label.to_string(), false));
        }
    }
    if let Some(d) = s.role(Role::Pending) {
        series.push((d.name.clone(), "in-flight".to_string(), true));
    }
    if !series.is_empty() {
        TimeChart {
            series,
            hlines: vec![],
            secs: false,
        }
        .render(area, buf, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_needs_a_net_outflow() {
        let r = |e, d| Rates {
            enqueue: Some(e),
            dequeue: Some(d),
        };
        assert_eq!(drain_estimate(Some(100.0), &r(20.0, 40.0)), Some(5.0));
        assert_eq!(drain_estimate(Some(100.0), &r(40.0, 40.0)), None);
        assert_eq!(drain_estimate(Some(0.0), &r(40.0, 10.0)), Some(0.0));
        assert_eq!(drain_estimate(None, &r(1.0, 2.0)), None);
    }
}
