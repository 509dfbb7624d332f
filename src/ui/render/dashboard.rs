//! The four groups: leading, throughput & capacity, lagging, stability. Each panel is a chart
//! over the shared time window (when there is room and `--low-bandwidth` is off) above the
//! group's values, each coloured by its band and carrying the band's symbol.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::Screen;
use crate::model::TimeMs;
use crate::settings::{Band, Group, Role, SignalDef, Unit};
use crate::ui::chart::{nice_max, Chart, HLine, Series, TimeAxis};
use crate::ui::format;

pub fn render(area: Rect, buf: &mut Buffer, s: &Screen) {
    if area.height < 4 {
        return;
    }
    // Two columns when wide enough, else one column of four panels.
    let panels: Vec<Rect> = if area.width >= 70 {
        let rows =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).split(area);
        rows.iter()
            .flat_map(|r| {
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .split(*r)
                    .to_vec()
            })
            .collect()
    } else {
        Layout::vertical([Constraint::Ratio(1, 4); 4])
            .split(area)
            .to_vec()
    };
    leading(panels[0], buf, s);
    throughput(panels[1], buf, s);
    lagging(panels[2], buf, s);
    stability(panels[3], buf, s);
}

/// One value line: symbol, name, value, and the band's word when it is not ok.
pub fn value_line(s: &Screen, name: &str, value: String, band: Band, width: u16) -> Line<'static> {
    let sym = s.theme.band_symbol(band);
    let word = match band {
        Band::Warn | Band::Crit => format!(" {}", band.word()),
        _ => String::new(),
    };
    let name_w = (width as usize)
        .saturating_sub(value.chars().count() + word.len() + 4)
        .min(22);
    Line::from(vec![
        Span::styled(format!("{sym} "), s.theme.band(band)),
        Span::raw(format!(
            "{:<name_w$} ",
            crate::text::clean_short(name, name_w)
        )),
        Span::styled(format!("{value}{word}"), s.theme.band(band)),
    ])
}

/// A configured signal's line at the view time.
pub fn signal_line(s: &Screen, d: &SignalDef, width: u16) -> Line<'static> {
    let v = s.value(d);
    let band = v.map_or(Band::NoData, |v| d.band(v));
    value_line(s, &d.name, format::value(v, d.unit), band, width)
}

/// A derived number without thresholds of its own.
fn plain_line(s: &Screen, name: &str, v: Option<f64>, unit: Unit, width: u16) -> Line<'static> {
    let band = if v.is_some() { Band::Ok } else { Band::NoData };
    value_line(s, name, format::value(v, unit), band, width)
}

/// A panel: its block, then the chart (if any) on top and the lines below.
fn panel(
    area: Rect,
    buf: &mut Buffer,
    s: &Screen,
    title: &str,
    chart: Option<TimeChart>,
    lines: Vec<Line<'static>>,
) {
    let block = s.block(title);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    // The chart takes what the lines leave, and at least half the panel when it is short
    // (the lines are in order of importance; the last ones give way).
    let wanted = lines.len() as u16;
    let chart_rows = match &chart {
        Some(_) if !s.app.low_bandwidth && inner.height >= 7 && inner.width >= 24 => {
            (inner.height - wanted.min(inner.height)).max(inner.height / 2)
        }
        _ => 0,
    };
    // A legend, two rows of plot and the time axis, or nothing.
    let chart_rows = if chart_rows >= 4 { chart_rows } else { 0 };
    let [c, l] =
        Layout::vertical([Constraint::Length(chart_rows), Constraint::Min(0)]).areas(inner);
    if let (Some(ch), true) = (chart, chart_rows > 0) {
        ch.render(c, buf, s);
    }
    Paragraph::new(lines).render(l, buf);
}

/// A chart of signals over the shared time window.
pub struct TimeChart {
    /// (signal name, legend label, dashed)
    pub series: Vec<(String, String, bool)>,
    pub hlines: Vec<(f64, Band)>,
    pub secs: bool,
}

impl TimeChart {
    pub fn render(&self, area: Rect, buf: &mut Buffer, s: &Screen) {
        if area.height < 3 {
            return;
        }
        // Legend on the first row, the chart below.
        let legend = self.legend(s);
        let [l, c] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        Paragraph::new(Line::from(legend)).render(l, buf);
        let cols = Chart::plot_cols(c);
        if cols == 0 {
            return;
        }
        let t = s.t();
        let axis = TimeAxis::new(t, s.app.window_ms, cols, s.state.refresh_ms);
        let mut series = self.baseline_series(s, &axis);
        let mut y_max: f64 = series
            .iter()
            .flat_map(|b| &b.points)
            .map(|p| p.1)
            .fold(0.0, f64::max);
        for (i, (name, _, dashed)) in self.series.iter().enumerate() {
            let pts = axis.bucket(&s.state.history.range(name, axis.start(), t));
            y_max = pts.iter().map(|p| p.1).fold(y_max, f64::max);
            series.push(Series {
                points: pts,
                style: s.theme.series(i),
                dashed: *dashed,
                faint: false,
            });
        }
        let hlines: Vec<HLine> = self
            .hlines
            .iter()
            .map(|(y, b)| HLine {
                y: *y,
                style: s.theme.threshold(*b),
            })
            .collect();
        // Thresholds stay in view only while the data is near them.
        if let Some(lowest) = self.hlines.iter().map(|h| h.0).reduce(f64::min) {
            if y_max > lowest * 0.5 {
                y_max = y_max.max(lowest * 1.05);
            }
        }
        let vlines = markers(s, &axis);
        Chart {
            series,
            hlines,
            vlines,
            y_max: nice_max(y_max),
            ascii: s.theme.ascii,
            y_label: if self.secs {
                format::axis_secs
            } else {
                format::axis
            },
            x_labels: (format!("-{}", format::span(s.app.window_ms)), "now".into()),
        }
        .render(c, buf);
    }
}

impl TimeChart {
    /// Each series' mark and label, and the baseline's when one is drawn.
    fn legend(&self, s: &Screen) -> Vec<Span<'static>> {
        let mut legend: Vec<Span> = self
            .series
            .iter()
            .enumerate()
            .flat_map(|(i, (_, label, dashed))| {
                let mark = if s.theme.ascii {
                    ["*", "o", "+", "#"][i % 4]
                } else if *dashed {
                    "┄"
                } else {
                    "━"
                };
                [
                    Span::styled(format!("{mark} "), s.theme.series(i)),
                    Span::raw(format!("{label}  ")),
                ]
            })
            .collect();
        if let Some(b) = s.baseline.filter(|b| b.state.is_some()) {
            let mark = if s.theme.ascii { ". " } else { "┈ " };
            legend.push(Span::styled(mark, s.theme.baseline(0)));
            legend.push(Span::styled(format!("base {}", b.name), s.theme.dim()));
        }
        legend
    }

    /// The baseline's values of the same signals, at the same elapsed times, faint. A
    /// baseline configured differently is matched by signal name.
    fn baseline_series(&self, s: &Screen, axis: &TimeAxis) -> Vec<Series> {
        let Some(b) = s.baseline else {
            return Vec::new();
        };
        let started = s.started();
        let (from, to) = (axis.start() - started, s.t() - started);
        self.series
            .iter()
            .enumerate()
            .map(|(i, (name, _, dashed))| {
                let pts: Vec<(TimeMs, f64)> = b
                    .range(name, from, to)
                    .into_iter()
                    .map(|(e, v)| (started + e, v))
                    .collect();
                Series {
                    points: axis.bucket(&pts),
                    style: s.theme.baseline(i),
                    dashed: *dashed,
                    faint: true,
                }
            })
            .filter(|b| !b.points.is_empty())
            .collect()
    }
}

/// Annotation and knee columns on a time axis.
fn markers(s: &Screen, axis: &TimeAxis) -> Vec<(usize, Style)> {
    let mut v: Vec<(usize, Style)> =
        s.tl.annotation_times()
            .filter(|t| *t <= s.t())
            .filter_map(|t| axis.column(t))
            .map(|c| (c, s.theme.marker()))
            .collect();
    if let Some(k) = &s.state.detector.knee {
        if k.unix_ms <= s.t() {
            if let Some(c) = axis.column(k.unix_ms) {
                v.push((c, s.theme.band(Band::Warn)));
            }
        }
    }
    v
}

/// Live throughput minus the baseline's at the same load (offered rate, else VUs; see
/// `Baseline::versus`): worse by more than the noise band is a warning.
fn versus_baseline(s: &Screen, width: u16) -> Option<Line<'static>> {
    let v = s.baseline?.versus(s.state, s.t())?;
    let name = "vs base, same load";
    let (Some(base), Some(delta)) = (v.baseline, v.delta()) else {
        return Some(value_line(
            s,
            name,
            "not run at it".into(),
            Band::NoData,
            width,
        ));
    };
    // Rounded to what is printed, so a run over itself reads +0.0, never -0.0.
    let delta = (delta * 10.0).round() / 10.0 + 0.0;
    let band = if v.worse() { Band::Warn } else { Band::Ok };
    let pct = if base > 0.0 {
        format!(" ({:+.0}%)", (100.0 * delta / base).round() + 0.0)
    } else {
        String::new()
    };
    Some(value_line(
        s,
        name,
        format!("{delta:+.1}/s{pct}"),
        band,
        width,
    ))
}

fn role_name(s: &Screen, r: Role) -> Option<String> {
    s.role(r).map(|d| d.name.clone())
}

/// Lines for the group's signals that no dedicated line above covered.
fn rest(s: &Screen, g: Group, shown: &[String], width: u16) -> Vec<Line<'static>> {
    s.defs()
        .filter(|d| d.group == g && !shown.contains(&d.name))
        .map(|d| signal_line(s, d, width))
        .collect()
}

fn line_for(s: &Screen, r: Role, width: u16, shown: &mut Vec<String>) -> Option<Line<'static>> {
    let d = s.role(r)?;
    shown.push(d.name.clone());
    Some(signal_line(s, d, width))
}

fn leading(area: Rect, buf: &mut Buffer, s: &Screen) {
    let w = area.width.saturating_sub(2);
    let mut shown = Vec::new();
    let mut lines = Vec::new();
    let tput = s.role_value(Role::Throughput);
    // Efficiency: completions per unit of load.
    if let (Some(t), Some(o)) = (tput, s.role_value(Role::Offered)) {
        if o > 0.0 {
            let e = t / o;
            let dc = s.state.detector.cfg.decouple_ratio;
            let band = if e < dc { Band::Warn } else { Band::Ok };
            lines.push(value_line(
                s,
                "achieved/offered",
                format::value(Some(e), Unit::Ratio),
                band,
                w,
            ));
        }
    } else if let (Some(t), Some(v)) = (tput, s.role_value(Role::Vus)) {
        if v > 0.0 {
            lines.push(plain_line(s, "req/s per VU", Some(t / v), Unit::None, w));
        }
    }
    lines.extend(line_for(s, Role::Pending, w, &mut shown));
    for r in [Role::QueueLag, Role::QueueDepth] {
        if let Some(d) = s.role(r) {
            shown.push(d.name.clone());
            lines.push(signal_line(s, d, w));
            // Its slope over the last 10 s: the leading sign of a wall.
            let now = s.t();
            let pts = s.state.history.range(&d.name, now - 10_000, now);
            if let (Some(a), Some(b)) = (pts.first(), pts.last()) {
                if b.0 > a.0 {
                    let slope = (b.1 - a.1) / ((b.0 - a.0) as f64 / 1000.0);
                    let band = if slope >= 1.0 { Band::Warn } else { Band::Ok };
                    lines.push(value_line(
                        s,
                        &format!("{} slope", d.name),
                        format!("{slope:+.1}/s"),
                        band,
                        w,
                    ));
                }
            }
        }
    }
    lines.extend(rest(s, crate::settings::Group::Leading, &shown, w));
    let mut series = Vec::new();
    if let Some(n) = role_name(s, Role::Throughput) {
        series.push((n, "throughput".to_string(), false));
    }
    match (role_name(s, Role::Offered), role_name(s, Role::Vus)) {
        (Some(o), _) => series.push((o, "offered".into(), true)),
        (None, Some(v)) => series.push((v, "VUs".into(), true)),
        _ => {}
    }
    let chart = (!series.is_empty()).then_some(TimeChart {
        series,
        hlines: vec![],
        secs: false,
    });
    panel(area, buf, s, "leading", chart, lines);
}

fn throughput(area: Rect, buf: &mut Buffer, s: &Screen) {
    let w = area.width.saturating_sub(2);
    let mut shown = Vec::new();
    let mut lines = Vec::new();
    for r in [
        Role::Throughput,
        Role::Offered,
        Role::DequeueRate,
        Role::EnqueueRate,
        Role::Allocatable,
        Role::Consumers,
        Role::ServiceTime,
    ] {
        lines.extend(line_for(s, r, w, &mut shown));
    }
    let d = &s.state.detector;
    lines.push(plain_line(
        s,
        "capacity (est.)",
        d.live.capacity_rps,
        Unit::PerSecond,
        w,
    ));
    lines.extend(versus_baseline(s, w));
    if let Some(sc) = &d.live.scaling {
        let needed = sc.workers_needed as f64;
        let band = match s.role_value(Role::Consumers) {
            Some(c) if c < needed => Band::Warn,
            _ => Band::Ok,
        };
        lines.push(value_line(
            s,
            &format!("workers needed @U={}", sc.utilisation),
            format!("{}", sc.workers_needed),
            band,
            w,
        ));
    }
    lines.extend(rest(s, Group::Throughput, &shown, w));
    let mut series = Vec::new();
    if let Some(n) = role_name(s, Role::Throughput) {
        series.push((n, "achieved".to_string(), false));
    }
    if let Some(n) = role_name(s, Role::Offered).or_else(|| role_name(s, Role::EnqueueRate)) {
        series.push((n, "offered".into(), true));
    }
    if let Some(n) = role_name(s, Role::DequeueRate) {
        series.push((n, "dequeue".into(), false));
    }
    let chart = (!series.is_empty()).then_some(TimeChart {
        series,
        hlines: vec![],
        secs: false,
    });
    panel(area, buf, s, "throughput & capacity", chart, lines);
}

fn lagging(area: Rect, buf: &mut Buffer, s: &Screen) {
    let w = area.width.saturating_sub(2);
    let mut shown = Vec::new();
    let mut lines = Vec::new();
    for r in [
        Role::LatencyP50,
        Role::LatencyP95,
        Role::LatencyP99,
        Role::ClientP95,
        Role::ErrorRate,
        Role::EofErrors,
    ] {
        lines.extend(line_for(s, r, w, &mut shown));
    }
    lines.extend(rest(s, Group::Lagging, &shown, w));
    let mut series = Vec::new();
    for (r, label, dashed) in [
        (Role::LatencyP50, "p50", false),
        (Role::LatencyP95, "p95", false),
        (Role::LatencyP99, "p99", true),
    ] {
        if let Some(n) = role_name(s, r) {
            series.push((n, label.to_string(), dashed));
        }
    }
    if series.is_empty() {
        if let Some(n) = role_name(s, Role::ClientP95) {
            series.push((n, "client p95".into(), false));
        }
    }
    // Threshold lines from the p95 signal's bands.
    let mut hlines = Vec::new();
    if let Some(d) = s.role(Role::LatencyP95).or_else(|| s.role(Role::ClientP95)) {
        if let Some(wv) = d.warn {
            hlines.push((wv, Band::Warn));
        }
        if let Some(c) = d.crit {
            hlines.push((c, Band::Crit));
        }
    }
    let chart = (!series.is_empty()).then_some(TimeChart {
        series,
        hlines,
        secs: true,
    });
    panel(area, buf, s, "lagging", chart, lines);
}

fn stability(area: Rect, buf: &mut Buffer, s: &Screen) {
    let w = area.width.saturating_sub(2);
    let t = s.t();
    let mut lines = Vec::new();
    for d in s
        .defs()
        .filter(|d| d.group == Group::Stability || d.role == Some(Role::Stability))
    {
        let v = s.value(d);
        match v {
            Some(x) if x > 0.0 => {
                // Red, with the first time it left zero.
                let first = s
                    .state
                    .history
                    .first_where(&d.name, t, |v| v > 0.0)
                    .map(|p| s.rel(p.0))
                    .unwrap_or_default();
                lines.push(value_line(
                    s,
                    &d.name,
                    format!("{} since {first}", format::value(v, d.unit)),
                    Band::Crit,
                    w,
                ));
            }
            _ => lines.push(signal_line(s, d, w)),
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "no stability counters configured",
            s.theme.dim(),
        )));
    }
    // Warnings the detector raised (load generator behind, divergence).
    for warn in s.state.detector.warnings.iter().filter(|x| x.unix_ms <= t) {
        if warn.id.starts_with("stability:") {
            continue;
        }
        lines.push(Line::from(Span::styled(
            format!(
                "{} {}",
                s.theme.band_symbol(Band::Warn),
                crate::text::clean(&warn.text)
            ),
            s.theme.band(Band::Warn),
        )));
    }
    panel(area, buf, s, "stability", None, lines);
}
