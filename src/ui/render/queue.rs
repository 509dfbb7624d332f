//! Queue view: per stream and consumer group — length, lag, pending, consumers and their
//! longest idle time, enqueue against dequeue rate, and how long the backlog takes to drain.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, Widget};

use super::dashboard::TimeChart;
use super::Screen;
use crate::settings::{Band, Role};
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
    let rows = s.tl.queues_at(s.t());
    let chart_h = if inner.height >= 14 && !s.app.low_bandwidth {
        inner.height / 2
    } else {
        0
    };
    let [table_area, chart_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(chart_h)]).areas(inner);
    if rows.is_empty() {
        Paragraph::new(Line::from(Span::styled(
            "no Valkey streams in view (configure --valkey URL --stream NAME)",
            s.theme.dim(),
        )))
        .render(table_area, buf);
    } else {
        let header = Row::new([
            "stream", "group", "length", "lag", "pending", "cons", "idle max", "in/s", "out/s",
            "drain",
        ])
        .style(s.theme.title());
        let body: Vec<Row> = rows
            .iter()
            .map(|r| {
                let rt = rates(s, r);
                let backlog = r.lag.or(r.length);
                let drain = match drain_estimate(backlog, &rt) {
                    Some(d) => format::secs(d),
                    None if backlog.is_some_and(|b| b > 0.0) => "growing".into(),
                    None => "—".into(),
                };
                let lag_band = match backlog {
                    Some(b) if b >= 100.0 => Band::Crit,
                    Some(b) if b >= s.state.detector.cfg.min_backlog => Band::Warn,
                    Some(_) => Band::Ok,
                    None => Band::NoData,
                };
                let n = |v: Option<f64>| format::value(v, crate::settings::Unit::Count);
                Row::new(vec![
                    ratatui::text::Text::raw(crate::text::clean_short(&r.stream, 20)),
                    ratatui::text::Text::raw(crate::text::clean_short(&r.group, 16)),
                    ratatui::text::Text::raw(n(r.length)),
                    ratatui::text::Text::styled(
                        format!("{} {}", s.theme.band_symbol(lag_band), n(r.lag)),
                        s.theme.band(lag_band),
                    ),
                    ratatui::text::Text::raw(n(r.pending)),
                    ratatui::text::Text::raw(n(r.consumers)),
                    ratatui::text::Text::raw(format::value(
                        r.idle_max_s,
                        crate::settings::Unit::Seconds,
                    )),
                    ratatui::text::Text::raw(format::value(
                        rt.enqueue,
                        crate::settings::Unit::None,
                    )),
                    ratatui::text::Text::raw(format::value(
                        rt.dequeue,
                        crate::settings::Unit::None,
                    )),
                    ratatui::text::Text::raw(drain),
                ])
            })
            .collect();
        let widths = [
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
        Widget::render(Table::new(body, widths).header(header), table_area, buf);
    }
    if chart_h > 0 {
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
            .render(chart_area, buf, s);
        }
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
