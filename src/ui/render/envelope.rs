//! Envelope view: latency against load — offered load (or VUs) on x, p95 and p99 (dashed) on
//! y, the SLO line, and the knee marked. The curve is the rising load only (split as the
//! report's envelope is): the drain after the peak, high latency at falling load while the
//! backlog empties, is left out with a note in the legend. Drawn here it would be averaged into
//! the same load columns as the ramp and joined into a line that, without colour, cannot be
//! told from the p95 curve.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use std::ops::Range;

use super::Screen;
use crate::model::TimeMs;
use crate::report::envelope::{self, Phases};
use crate::run::baseline::Baseline;
use crate::settings::{Band, ReportConfig, Role, SignalDef};
use crate::state::RunState;
use crate::ui::chart::{nice_max, Chart, HLine, Series};
use crate::ui::format;

/// Mean of each series' values per load column: (column, value).
pub fn binned(loads: &[(f64, f64)], x_max: f64, cols: usize) -> Vec<(usize, f64)> {
    let mut sums = vec![(0.0, 0usize); cols];
    for &(x, y) in loads {
        if !(x.is_finite() && y.is_finite()) || x < 0.0 {
            continue;
        }
        let c = ((x / x_max) * (cols as f64 - 1.0)).round() as usize;
        if let Some(b) = sums.get_mut(c) {
            b.0 += y;
            b.1 += 1;
        }
    }
    sums.iter()
        .enumerate()
        .filter(|(_, b)| b.1 > 0)
        .map(|(c, b)| (c, b.0 / b.1 as f64))
        .collect()
}

pub fn render(area: Rect, buf: &mut Buffer, s: &Screen) {
    let block = s.block("envelope: latency against load");
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 4 {
        return;
    }
    let env = match Envelope::at(s) {
        Ok(env) => env,
        Err(missing) => {
            Paragraph::new(missing).render(inner, buf);
            return;
        }
    };
    let model = model_line(s);
    let [legend, model_row, chart_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(model.is_some() as u16),
        Constraint::Min(0),
    ])
    .areas(inner);
    Paragraph::new(env.legend(s)).render(legend, buf);
    if let Some(m) = model {
        Paragraph::new(m).render(model_row, buf);
    }
    let cols = Chart::plot_cols(chart_area).max(1);
    env.chart(s, cols).render(chart_area, buf);
}

/// A closed loop's fitted limit (throughput against VUs), or why it is not trusted yet.
fn model_line(s: &Screen) -> Option<Line<'static>> {
    let m = s.state.detector.concurrency.as_ref()?;
    let range = |r: Option<(f64, f64)>| {
        r.map(|(a, b)| format!(" ({}–{})", format::num(a), format::num(b)))
            .unwrap_or_default()
    };
    let text = match (&m.why_not, m.max_throughput_rps) {
        (None, Some(x)) => {
            let at = m
                .peak_concurrency
                .map(|n| format!(" at {n:.0} {}{}", m.unit, range(m.peak_concurrency_range)))
                .unwrap_or_else(|| " (levels off)".into());
            format!(
                "model: at most {} req/s{}{at} · USL R² {:.2}",
                format::num(x),
                range(m.max_throughput_range),
                m.r2
            )
        }
        (Some(why), _) => format!("model: not yet: {why}"),
        (None, None) => return None,
    };
    let style = if m.trusted {
        s.theme.band(Band::Ok)
    } else {
        s.theme.dim()
    };
    Some(Line::from(Span::styled(text, style)))
}

/// Latency against load as it stood at the moment shown.
struct Envelope<'a> {
    load: &'a SignalDef,
    /// Unit of the load axis, as the detector names it for its knee.
    unit: &'static str,
    p95: &'a SignalDef,
    p99: Option<&'a SignalDef>,
    /// (load, latency) at each refresh of the rise up to the moment shown.
    p95_pts: Vec<(f64, f64)>,
    p99_pts: Vec<(f64, f64)>,
    knee: Option<f64>,
    /// Refreshes after the load's peak (the drain) with a latency, left out of the curve.
    drain: usize,
    /// The baseline's curve, when it has one in the same load unit.
    base: Option<BaseCurve>,
}

/// A baseline's curve on the same axes: its p95 over its rise, and its knee.
struct BaseCurve {
    p95_pts: Vec<(f64, f64)>,
    knee: Option<f64>,
}

impl<'a> Envelope<'a> {
    /// The signals and points to plot, or what is missing to plot anything.
    fn at(s: &'a Screen) -> Result<Self, &'static str> {
        let state = s.state;
        // VUs in a closed loop, else the offered rate when there is one, else VUs.
        let (load, unit) =
            load_of(state).ok_or("no load signal (offered rate or VUs) configured")?;
        let p95 = state
            .role(Role::LatencyP95)
            .or_else(|| state.role(Role::ClientP95));
        let Some(p95) = p95 else {
            return Err("no p95 latency signal configured");
        };
        let p99 = state.role(Role::LatencyP99);
        let t = s.t();
        let phases = phases(state, &load.name, t);
        Ok(Self {
            load,
            unit,
            p95,
            p99,
            p95_pts: pairs(state, &load.name, &p95.name, phases.rise.clone()),
            p99_pts: p99
                .map(|d| pairs(state, &load.name, &d.name, phases.rise.clone()))
                .unwrap_or_default(),
            knee: knee_load(state, t, unit),
            drain: pairs(state, &load.name, &p95.name, phases.drain)
                .iter()
                .filter(|p| p.0 >= state.detector.cfg.min_rate && p.1.is_finite())
                .count(),
            base: s.baseline.and_then(|b| base_curve(b, unit)),
        })
    }

    /// The p95 target: drawn as a line and kept on the y axis.
    fn slo(&self) -> Option<f64> {
        self.p95.warn
    }

    /// The baseline's points (none without a baseline curve).
    fn base_pts(&self) -> &[(f64, f64)] {
        self.base.as_ref().map_or(&[], |b| b.p95_pts.as_slice())
    }

    fn x_max(&self) -> f64 {
        let base_knee = self.base.as_ref().and_then(|b| b.knee);
        nice_max(
            self.p95_pts
                .iter()
                .chain(self.base_pts())
                .map(|p| p.0)
                .chain(base_knee)
                .filter(|x| x.is_finite())
                .fold(0.0, f64::max),
        )
    }

    /// The highest latency seen, raised so the SLO line stays in view.
    fn y_max(&self) -> f64 {
        let y_max_data = self
            .p95_pts
            .iter()
            .chain(&self.p99_pts)
            .chain(self.base_pts())
            .map(|p| p.1)
            .filter(|y| y.is_finite())
            .fold(0.0, f64::max);
        nice_max(y_max_data.max(self.slo().unwrap_or(0.0) * 1.05))
    }

    /// Which line is which, the SLO, and the knee (or that there is none yet).
    fn legend(&self, s: &Screen) -> Line<'static> {
        let (solid, dashed, bar) = if s.theme.ascii {
            ("* ", "o ", "| ")
        } else {
            ("━ ", "┄ ", "│ ")
        };
        let mut spans = vec![
            Span::styled(solid, s.theme.series(0)),
            Span::raw(format!("{}  ", self.p95.name)),
        ];
        if let Some(d) = self.p99 {
            spans.push(Span::styled(dashed, s.theme.series(1)));
            spans.push(Span::raw(format!("{}  ", d.name)));
        }
        if let Some(v) = self.slo() {
            spans.push(Span::styled(
                format!("SLO {}  ", format::secs(v)),
                s.theme.threshold(Band::Warn),
            ));
        }
        match self.knee {
            Some(k) => spans.push(Span::styled(
                format!("{bar}knee {} {}", format::num(k), self.unit),
                s.theme.band(Band::Warn),
            )),
            None => spans.push(Span::styled("no knee yet", s.theme.dim())),
        }
        if let Some(b) = &self.base {
            let mark = if s.theme.ascii { "  . " } else { "  ┈ " };
            spans.push(Span::styled(mark, s.theme.baseline(0)));
            let knee = b
                .knee
                .map(|k| format!(", knee {} {}", format::num(k), self.unit))
                .unwrap_or_default();
            spans.push(Span::styled(format!("base p95{knee}"), s.theme.dim()));
        }
        if self.drain > 0 {
            spans.push(Span::styled("  drain not plotted", s.theme.dim()));
        }
        Line::from(spans)
    }

    /// p95 solid, p99 dashed, each averaged per load column; the SLO and the knee marked.
    fn chart(&self, s: &Screen, cols: usize) -> Chart {
        let x_max = self.x_max();
        let mut series = vec![Series {
            points: binned(&self.p95_pts, x_max, cols),
            style: s.theme.series(0),
            dashed: false,
            faint: false,
        }];
        if !self.p99_pts.is_empty() {
            series.push(Series {
                points: binned(&self.p99_pts, x_max, cols),
                style: s.theme.series(1),
                dashed: true,
                faint: false,
            });
        }
        let column = |k: f64| ((k / x_max) * (cols as f64 - 1.0)).round() as usize;
        let mut vlines = Vec::new();
        if let Some(b) = &self.base {
            series.insert(
                0,
                Series {
                    points: binned(&b.p95_pts, x_max, cols),
                    style: s.theme.baseline(0),
                    dashed: false,
                    faint: true,
                },
            );
            vlines.extend(b.knee.map(|k| (column(k), s.theme.dim())));
        }
        vlines.extend(self.knee.map(|k| (column(k), s.theme.band(Band::Warn))));
        let hlines = self
            .slo()
            .map(|v| {
                vec![HLine {
                    y: v,
                    style: s.theme.threshold(Band::Warn),
                }]
            })
            .unwrap_or_default();
        Chart {
            series,
            hlines,
            vlines,
            y_max: self.y_max(),
            ascii: s.theme.ascii,
            y_label: format::axis_secs,
            x_labels: (
                "0".into(),
                format!("{} {} ({})", format::num(x_max), self.unit, self.load.name),
            ),
        }
    }
}

/// The load axis: the offered rate when there is one, else VUs, with its unit.
fn load_of(state: &RunState) -> Option<(&SignalDef, &'static str)> {
    match (state.role(Role::Offered), state.role(Role::Vus)) {
        // A closed loop's arrivals are its own output: its load is the VUs.
        (_, Some(v)) if state.detector.load_in_vus() => Some((v, "VUs")),
        (Some(o), _) => Some((o, "req/s")),
        (None, Some(v)) => Some((v, "VUs")),
        _ => None,
    }
}

/// The baseline's whole rise and its knee, when its load is measured in `unit`.
fn base_curve(b: &Baseline, unit: &str) -> Option<BaseCurve> {
    let state = b.state.as_ref()?;
    let (load, base_unit) = load_of(state)?;
    if base_unit != unit {
        return None;
    }
    let p95 = state
        .role(Role::LatencyP95)
        .or_else(|| state.role(Role::ClientP95))?;
    let end = *state.history.ticks().last()?;
    let phases = phases(state, &load.name, end);
    Some(BaseCurve {
        p95_pts: pairs(state, &load.name, &p95.name, phases.rise),
        knee: b.knee.as_ref().filter(|k| k.unit == unit).map(|k| k.load),
    })
}

/// The refreshes up to the one shown (a held cursor must not see later points), split as the
/// report splits them: the rise, and the drain after the load's peak. The screen has no report
/// settings, so the peak's band is the default plateau tolerance.
fn phases(state: &RunState, load: &str, t: TimeMs) -> Phases {
    let history = &state.history;
    let Some(x) = history.column(load) else {
        return Phases::default();
    };
    let n = history.index_at(t).map_or(0, |i| i + 1);
    let pts: Vec<(TimeMs, Option<f64>)> = history
        .ticks()
        .iter()
        .zip(x)
        .take(n)
        .map(|(t, v)| (*t, Some(*v).filter(|v| v.is_finite())))
        .collect();
    let d = &state.detector;
    let ended = d.load_ended.filter(|e| *e <= t);
    let tol = ReportConfig::default().plateau_tolerance;
    envelope::phases(&pts, tol, d.cfg.min_rate, ended)
}

/// (load, latency) from the history at the refreshes in `at`.
fn pairs(state: &RunState, load: &str, latency: &str, at: Range<usize>) -> Vec<(f64, f64)> {
    let history = &state.history;
    let (Some(x), Some(y)) = (history.column(load), history.column(latency)) else {
        return Vec::new();
    };
    let n = at.len();
    x.iter()
        .zip(y)
        .skip(at.start)
        .take(n)
        .map(|(a, b)| (*a, *b))
        .collect()
}

/// The detector's knee, once it is found by `t` and measured in this view's load unit.
fn knee_load(state: &RunState, t: TimeMs, unit: &str) -> Option<f64> {
    state
        .detector
        .knee
        .as_ref()
        .filter(|k| k.unix_ms <= t && k.load_unit == unit)
        .and_then(|k| k.model.or(k.load))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_average_by_load_column() {
        let b = binned(
            &[(0.0, 1.0), (10.0, 2.0), (10.0, 4.0), (f64::NAN, 9.0)],
            10.0,
            11,
        );
        assert_eq!(b, vec![(0, 1.0), (10, 3.0)]);
    }
}
