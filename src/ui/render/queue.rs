//! Queue view: per stream and consumer group — the backlog (undelivered + pending) and how
//! long its oldest entries have waited, consumers (stuck ones flagged), enqueue against
//! acknowledge rate and how long the backlog takes to drain, and the stream's length, which
//! is retention, not backlog. A recording made before the backlog series existed shows the
//! older columns: length, lag, pending and read rate.
//!
//! Columns: `age` is how long the oldest undelivered entry has waited, `pend age` the age of
//! the oldest delivered but unacknowledged one; `≥` marks a count that reached its bound.

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
    /// Entries read by the group.
    pub dequeue: Option<f64>,
    /// Entries acknowledged by the group: what actually leaves the backlog.
    pub ack: Option<f64>,
}

pub fn rates(s: &Screen, row: &QueueRow) -> Rates {
    let t = s.t();
    let then_t = t - RATE_SPAN_MS;
    let (Some(i), Some(j)) = (s.tl.index_at(t), s.tl.index_at(then_t)) else {
        return Rates {
            enqueue: None,
            dequeue: None,
            ack: None,
        };
    };
    let secs = (s.tl.ticks[i] - s.tl.ticks[j]) as f64 / 1000.0;
    let old = s.tl.queues[j]
        .iter()
        .find(|r| r.stream == row.stream && r.group == row.group);
    Rates {
        enqueue: counter_rate(row.added, old.and_then(|o| o.added), secs),
        dequeue: counter_rate(row.read, old.and_then(|o| o.read), secs),
        ack: counter_rate(row.acked, old.and_then(|o| o.acked), secs),
    }
}

/// Seconds to empty the backlog at the current net drain rate (what leaves minus what
/// arrives); None while it does not shrink.
pub fn drain_estimate(backlog: Option<f64>, enqueue: Option<f64>, out: Option<f64>) -> Option<f64> {
    let b = backlog?;
    if b <= 0.0 {
        return Some(0.0);
    }
    let net = out? - enqueue?;
    (net > 0.0).then(|| b / net)
}

/// A column of the table, in the order shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Stream,
    Group,
    Backlog,
    Length,
    Lag,
    Pending,
    Age,
    PendingAge,
    Cons,
    Stuck,
    IdleMax,
    In,
    Out,
    Ack,
    Drain,
}

/// Before the backlog series existed: the backlog band sits on the lag.
const OLDER: [Col; 10] = [
    Col::Stream,
    Col::Group,
    Col::Length,
    Col::Lag,
    Col::Pending,
    Col::Cons,
    Col::IdleMax,
    Col::In,
    Col::Out,
    Col::Drain,
];

const TRUTH: [Col; 14] = [
    Col::Stream,
    Col::Group,
    Col::Backlog,
    Col::Lag,
    Col::Pending,
    Col::Age,
    Col::PendingAge,
    Col::Drain,
    Col::In,
    Col::Ack,
    Col::Cons,
    Col::Stuck,
    Col::IdleMax,
    Col::Length,
];

/// When the table is too narrow, columns go in this order: stream length (retention) first,
/// the backlog, its age, the drain time and stuck consumers last.
const DROP_ORDER: [Col; 12] = [
    Col::Length,
    Col::IdleMax,
    Col::Cons,
    Col::In,
    Col::Out,
    Col::Ack,
    Col::Pending,
    Col::Lag,
    Col::PendingAge,
    Col::Stuck,
    Col::Drain,
    Col::Age,
];

impl Col {
    fn header(self) -> &'static str {
        match self {
            Col::Stream => "stream",
            Col::Group => "group",
            Col::Backlog => "backlog",
            Col::Length => "length",
            Col::Lag => "lag",
            Col::Pending => "pending",
            Col::Age => "age",
            Col::PendingAge => "pend age",
            Col::Cons => "cons",
            Col::Stuck => "stuck",
            Col::IdleMax => "idle max",
            Col::In => "in/s",
            Col::Out => "out/s",
            Col::Ack => "ack/s",
            Col::Drain => "drain",
        }
    }

    fn width(self) -> Constraint {
        match self {
            Col::Stream => Constraint::Min(6),
            Col::Group => Constraint::Min(5),
            Col::Length | Col::In | Col::Out | Col::Ack => Constraint::Length(7),
            Col::Lag | Col::Pending | Col::Age | Col::Drain => Constraint::Length(8),
            Col::Backlog | Col::IdleMax | Col::PendingAge => Constraint::Length(9),
            Col::Cons => Constraint::Length(5),
            Col::Stuck => Constraint::Length(6),
        }
    }

    /// Cells it needs to stay readable: names may be cut to 4.
    fn room(self) -> u16 {
        match self.width() {
            Constraint::Length(n) => n,
            _ => 4,
        }
    }
}

/// The columns that fit `width` cells, dropping them in `DROP_ORDER` (one cell between
/// columns).
fn fit(cols: &[Col], width: u16) -> Vec<Col> {
    let mut keep = cols.to_vec();
    let need = |k: &[Col]| k.iter().map(|c| c.room()).sum::<u16>() + k.len() as u16 - 1;
    for gone in DROP_ORDER {
        if need(&keep) <= width {
            break;
        }
        keep.retain(|c| *c != gone);
    }
    keep
}

/// One row's cell in column `c`.
fn cell(s: &Screen, r: &QueueRow, rt: &Rates, c: Col, truth: bool) -> Text<'static> {
    let n = |v: Option<f64>| format::value(v, Unit::Count);
    // The backlog and the rate it drains at: undelivered + pending against acknowledgements,
    // or, in older recordings, lag (else length) against reads.
    let (backlog, out) = if truth {
        (r.backlog, rt.ack)
    } else {
        (r.lag.or(r.length), rt.dequeue)
    };
    let band = match backlog {
        Some(b) if b >= 100.0 => Band::Crit,
        Some(b) if b >= s.state.detector.cfg.min_backlog => Band::Warn,
        Some(_) => Band::Ok,
        None => Band::NoData,
    };
    let banded = |v: String| {
        Text::styled(
            format!("{} {v}", s.theme.band_symbol(band)),
            s.theme.band(band),
        )
    };
    // A count that stopped at its bound is a lower bound.
    let at_least = |v: Option<f64>| {
        let capped = r.undelivered_capped.is_some_and(|c| c > 0.0);
        format!("{}{}", if capped { "≥" } else { "" }, n(v))
    };
    match c {
        Col::Stream => Text::raw(crate::text::clean_short(&r.stream, 20)),
        Col::Group => Text::raw(crate::text::clean_short(&r.group, 16)),
        Col::Backlog => banded(at_least(r.backlog)),
        Col::Length => Text::raw(n(r.length)),
        Col::Lag if truth => Text::raw(at_least(r.undelivered)),
        Col::Lag => banded(n(r.lag)),
        Col::Pending => Text::raw(n(r.pending)),
        Col::Age => Text::raw(format::value(r.backlog_age_s, Unit::Seconds)),
        Col::PendingAge => Text::raw(format::value(r.pending_age_s, Unit::Seconds)),
        Col::Cons => Text::raw(n(r.consumers)),
        Col::Stuck => match r.stuck {
            Some(k) if k > 0.0 => Text::styled(
                format!("{} {}", s.theme.band_symbol(Band::Crit), n(Some(k))),
                s.theme.band(Band::Crit),
            ),
            k => Text::raw(n(k)),
        },
        Col::IdleMax => Text::raw(format::value(r.idle_max_s, Unit::Seconds)),
        Col::In => Text::raw(format::value(rt.enqueue, Unit::None)),
        Col::Out => Text::raw(format::value(rt.dequeue, Unit::None)),
        Col::Ack => Text::raw(format::value(rt.ack, Unit::None)),
        Col::Drain => Text::raw(match drain_estimate(backlog, rt.enqueue, out) {
            Some(d) => format::secs(d),
            None if backlog.is_some_and(|b| b > 0.0) => "growing".into(),
            None => "—".into(),
        }),
    }
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

/// Half the view for the chart when there is room and charts are wanted.
fn chart_height(inner: Rect, s: &Screen) -> u16 {
    if inner.height >= 14 && !s.app.low_bandwidth {
        inner.height / 2
    } else {
        0
    }
}

/// One row per stream and group at the moment shown, or a hint when none is watched. The
/// columns are the queue-truth set when the source reported backlogs (older recordings have
/// only the older set), as many as fit.
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
    let truth = rows.iter().any(|r| r.backlog.is_some());
    let cols = fit(if truth { &TRUTH } else { &OLDER }, area.width);
    let header = Row::new(cols.iter().map(|c| c.header())).style(s.theme.title());
    let body: Vec<Row> = rows
        .iter()
        .map(|r| {
            let rt = rates(s, r);
            Row::new(cols.iter().map(|c| cell(s, r, &rt, *c, truth)))
        })
        .collect();
    let widths: Vec<Constraint> = cols.iter().map(|c| c.width()).collect();
    Widget::render(Table::new(body, widths).header(header), area, buf);
}

/// Backlog and length over time, with in-flight dashed; nothing when no queue signal is bound.
fn render_chart(area: Rect, buf: &mut Buffer, s: &Screen) {
    let mut series = Vec::new();
    // The backlog role's own name says what it is ("backlog", or "lag" in recordings made
    // before the backlog series existed).
    if let Some(d) = s.role(Role::QueueLag) {
        let label = d.name.strip_prefix("queue_").unwrap_or(&d.name);
        series.push((d.name.clone(), label.to_string(), false));
    }
    if let Some(d) = s.role(Role::QueueDepth) {
        series.push((d.name.clone(), "length".to_string(), false));
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
    use crate::model::{Labels, Sample, SourceEvent, TimeMs};
    use crate::state::RunState;
    use crate::ui::app::App;
    use crate::ui::render::RunInfo;
    use crate::ui::theme::Theme;
    use crate::ui::timeline::Timeline;

    const T0: TimeMs = 1_700_000_000_000;

    /// The Valkey series of one group at one refresh, as the source sends them.
    fn group(stream: &str, group: &str, figures: &[(&str, f64)]) -> Vec<Sample> {
        figures
            .iter()
            .map(|(name, v)| {
                let mut l = Labels::named(name).with("stream", stream);
                if !name.starts_with("valkey_stream_") {
                    l = l.with("group", group);
                }
                Sample::new(l, 0, *v)
            })
            .collect()
    }

    /// Two refreshes 10 s apart: `jobs/workers` drains (10 in, 20 acknowledged per second,
    /// 200 left), `big/bulk` grows past the direct count's bound with a stuck consumer.
    fn queue_text(width: u16) -> Vec<String> {
        let mut state = RunState::new(&Default::default(), Default::default()).unwrap();
        let mut tl = Timeline::default();
        for (i, t) in [T0, T0 + 10_000].into_iter().enumerate() {
            let k = i as f64;
            let mut samples = group(
                "jobs",
                "workers",
                &[
                    ("valkey_stream_length", 5000.0),
                    ("valkey_stream_entries_added_total", 1000.0 + 100.0 * k),
                    ("valkey_group_undelivered", 250.0 - 100.0 * k),
                    ("valkey_group_undelivered_capped", 0.0),
                    ("valkey_group_pending", 50.0),
                    ("valkey_group_backlog", 300.0 - 100.0 * k),
                    ("valkey_group_backlog_age_seconds", 12.5),
                    ("valkey_group_pending_age_seconds", 3.25),
                    ("valkey_group_acked_total", 700.0 + 200.0 * k),
                    ("valkey_group_entries_read_total", 750.0 + 200.0 * k),
                    ("valkey_group_consumers", 4.0),
                    ("valkey_group_consumers_stuck", 0.0),
                ],
            );
            samples.extend(group(
                "big",
                "bulk",
                &[
                    ("valkey_stream_entries_added_total", 20_000.0 + 1000.0 * k),
                    ("valkey_group_undelivered", 10_000.0),
                    ("valkey_group_undelivered_capped", 1.0),
                    ("valkey_group_pending", 3.0),
                    ("valkey_group_backlog", 10_003.0),
                    ("valkey_group_backlog_age_seconds", 95.0),
                    ("valkey_group_pending_age_seconds", 140.0),
                    ("valkey_group_acked_total", 9_000.0 + 10.0 * k),
                    ("valkey_group_consumers_stuck", 1.0),
                ],
            ));
            for x in &mut samples {
                x.t = t;
            }
            state.apply(SourceEvent::Samples {
                source: "valkey".into(),
                samples,
            });
            tl.observe(&state, t);
        }
        let app = App::new(60_000, false, false);
        let info = RunInfo::default();
        let s = Screen {
            app: &app,
            tl: &tl,
            state: &state,
            info: &info,
            theme: Theme {
                color: false,
                ascii: false,
            },
            now: T0 + 10_000,
            baseline: None,
        };
        let area = Rect::new(0, 0, width, 6);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &s);
        (0..area.height)
            .map(|y| {
                (1..width - 1)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn backlog_ages_drain_and_stuck_consumers_are_shown() {
        let text = queue_text(160);
        assert_eq!(
            text[1],
            "stream group backlog lag pending age pend age drain in/s ack/s cons stuck \
             idle max length"
        );
        // Rows sort by stream: big first.
        assert_eq!(
            text[2],
            "big bulk ✖ ≥10k ≥10k 3 95.00 s 140 s growing 100 1 — ✖ 1 — —"
        );
        assert_eq!(
            text[3],
            "jobs workers ✖ 200 150 50 12.50 s 3.25 s 20.00 s 10 20 4 0 — 5000"
        );
    }

    #[test]
    fn at_80_wide_retention_and_rates_give_way() {
        let text = queue_text(80);
        assert_eq!(
            text[1],
            "stream group backlog lag pending age pend age drain stuck"
        );
        assert_eq!(
            text[3],
            "jobs workers ✖ 200 150 50 12.50 s 3.25 s 20.00 s 0"
        );
    }

    #[test]
    fn drain_needs_a_net_outflow() {
        assert_eq!(
            drain_estimate(Some(100.0), Some(20.0), Some(40.0)),
            Some(5.0)
        );
        assert_eq!(drain_estimate(Some(100.0), Some(40.0), Some(40.0)), None);
        assert_eq!(drain_estimate(Some(0.0), Some(40.0), Some(10.0)), Some(0.0));
        assert_eq!(drain_estimate(None, Some(1.0), Some(2.0)), None);
        assert_eq!(drain_estimate(Some(5.0), None, Some(2.0)), None);
    }

    #[test]
    fn older_recordings_keep_every_column_at_80_wide() {
        assert_eq!(fit(&OLDER, 78), OLDER);
    }

    #[test]
    fn narrow_tables_drop_retention_and_rates_before_the_backlog() {
        assert_eq!(fit(&TRUTH, 158), TRUTH);
        assert_eq!(
            fit(&TRUTH, 78),
            [
                Col::Stream,
                Col::Group,
                Col::Backlog,
                Col::Lag,
                Col::Pending,
                Col::Age,
                Col::PendingAge,
                Col::Drain,
                Col::Stuck,
            ]
        );
        assert_eq!(
            fit(&TRUTH, 40),
            [Col::Stream, Col::Group, Col::Backlog, Col::Age, Col::Drain]
        );
        // Names and the backlog stay however narrow.
        assert_eq!(fit(&TRUTH, 1), [Col::Stream, Col::Group, Col::Backlog]);
    }
}
