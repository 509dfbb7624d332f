//! SVG plots next to the report, drawn with plotters' SVG backend (no fonts or system
//! libraries: text is left to the SVG viewer). The latency envelope: offered load on x, p95 on
//! y, p99 dashed, the SLO line and the knee marked; the curve is the rising load only, and the
//! drain after the peak (high latency at falling load while the backlog empties) is drawn
//! apart as faint markers, so it does not fold back over the ramp's curve. The queue: backlog
//! and load over time, with the moment the load stopped and the drain after it.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::data::Report;
use super::envelope;
use super::format;
use super::plateaus::load_kind;
use super::RunState;
use crate::detect::Frame;
use crate::settings::Role;

pub const ENVELOPE_FILE: &str = "envelope.svg";
pub const QUEUE_FILE: &str = "queue.svg";
const SIZE: (u32, u32) = (900, 520);

/// An x with two y values, either of which may be unknown.
pub type Point = (f64, Option<f64>, Option<f64>);

/// What the plots show, taken from the run and its report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlotData {
    pub load_unit: String,
    /// (load, p95 s, p99 s) per refresh while the load rose: from the first load up to the
    /// peak and while it held there (`envelope::phases`).
    pub envelope: Vec<Point>,
    /// (load, p95 s, p99 s) per refresh after the rise until the load ended: the drain.
    pub drain: Vec<Point>,
    /// (load, p95, p99) of each plateau, over the plateau.
    pub plateaus: Vec<Point>,
    pub slo_s: Option<f64>,
    pub knee: Option<f64>,
    /// (seconds since start, backlog, load) per refresh.
    pub timeline: Vec<Point>,
    pub load_stopped_s: Option<f64>,
    pub drained_s: Option<f64>,
}

/// `slo_s`: the p95 gate when one is set, else the detector's p95 warning level.
pub fn data(state: &RunState, report: &Report, slo_s: Option<f64>) -> PlotData {
    let kind = load_kind(state);
    let h = &state.detector.history;
    let start = state.started.unwrap_or(0);
    let min = state.detector.cfg.min_rate;
    let p99_signal = state
        .engine
        .signals
        .iter()
        .find(|s| s.def.role == Some(Role::LatencyP99))
        .map(|s| s.def.name.clone());
    let p99_at = |t: i64| {
        let name = p99_signal.as_deref()?;
        // The value of that very refresh, not an older one.
        state.history.range(name, t, t).first().map(|p| p.1)
    };
    let phases = envelope::of_run(state, kind, report.plateau_rule.tolerance);
    let point = |f: &Frame| {
        kind.of(f)
            .map(|l| (l, f.p95.filter(|v| v.is_finite()), p99_at(f.t)))
    };
    let envelope = h[phases.rise].iter().filter_map(point).collect();
    let drain = h[phases.drain]
        .iter()
        .filter(|f| kind.of(f).is_some_and(|v| v >= min))
        .filter_map(point)
        .collect();
    let plateaus = report
        .plateaus
        .iter()
        .filter(|p| p.load.is_finite())
        .map(|p| {
            let l = p.latency.unwrap_or_default();
            (p.load, l.p95, l.p99)
        })
        .collect();
    let secs = |t: i64| (t - start) as f64 / 1000.0;
    let timeline = h
        .iter()
        .map(|f| (secs(f.t), f.backlog(), kind.of(f)))
        .collect();
    let load_stopped_s = h
        .iter()
        .rposition(|f| kind.of(f).is_some_and(|v| v >= min))
        .filter(|&i| i + 1 < h.len())
        .map(|i| secs(h[i].t));
    let drained_s = report
        .backlog
        .peak()
        .and_then(|b| Some(secs(b.peak_unix_ms) + b.drain_s?));
    PlotData {
        load_unit: kind.unit().to_string(),
        envelope,
        drain,
        plateaus,
        slo_s,
        knee: report.knee_at.as_ref().and_then(|k| k.load),
        timeline,
        load_stopped_s,
        drained_s,
    }
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

fn max_of(vals: impl Iterator<Item = f64>) -> f64 {
    vals.filter(|v| v.is_finite()).fold(0.0, f64::max)
}

/// A chart of seconds or loads on both axes, drawn into an SVG string.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A dashed line from `from` to `to` with a label at `at`.
fn marker(
    chart: &mut Chart<'_, '_>,
    line: [(f64, f64); 2],
    style: ShapeStyle,
    dash: (u32, u32),
    label: (String, (f64, f64), TextStyle),
) -> Result<(), String> {
    chart
        .draw_series(DashedLineSeries::new(line.to_vec(), dash.0, dash.1, style))
        .map_err(err)?;
    chart
        .draw_series(std::iter::once(Text::new(label.0, label.1, label.2)))
        .map_err(err)?;
    Ok(())
}

/// The envelope's legend, lower right: the one corner a latency envelope leaves empty (latency
/// is low at low load, and the drain sits high, at falling load).
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// Points (x, y) where y is known.
fn known(pts: &[Point], y: fn(&Point) -> Option<f64>) -> Vec<(f64, f64)> {
    pts.iter().filter_map(|p| y(p).map(|v| (p.0, v))).collect()
}

/// The envelope as SVG text; None when there is nothing to draw.
pub fn envelope_svg(d: &PlotData) -> Result<Option<String>, String> {
    if d.envelope.iter().all(|p| p.1.is_none()) && d.plateaus.is_empty() {
        return Ok(None);
    }
    // The drain's p95 only: its p99 is not drawn.
    let drawn = || d.envelope.iter().chain(&d.plateaus);
    let xmax = max_of(drawn().chain(&d.drain).map(|p| p.0).chain(d.knee)) * 1.08;
    let ymax = max_of(
        drawn()
            .flat_map(|p| [p.1, p.2])
            .chain(d.drain.iter().map(|p| p.1))
            .flatten()
            .chain(d.slo_s),
    ) * 1.1;
    let (xmax, ymax) = (xmax.max(1.0), ymax.max(0.001));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Latency envelope", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("offered load ({})", d.load_unit))
            .y_desc("latency")
            .y_label_formatter(&|v| format::secs(Some(*v)))
            .draw()
            .map_err(err)?;
        envelope_series(&mut chart, d)?;
        envelope_marks(&mut chart, d, xmax, ymax)?;
        legend(&mut chart)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// p95 and p99 per refresh while the load rose, the drain's p95, and each plateau's p95.
fn envelope_series(chart: &mut Chart<'_, '_>, d: &PlotData) -> Result<(), String> {
    let p95 = known(&d.envelope, |p| p.1);
    let p99 = known(&d.envelope, |p| p.2);
    if !p95.is_empty() {
        chart
            .draw_series(LineSeries::new(p95, BLUE.stroke_width(2)))
            .map_err(err)?
            .label("p95")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    }
    if !p99.is_empty() {
        chart
            .draw_series(DashedLineSeries::new(p99, 6, 4, RED.stroke_width(2)))
            .map_err(err)?
            .label("p99 (dashed)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    }
    let drain = known(&d.drain, |p| p.1);
    if !drain.is_empty() {
        // Faint hollow markers, not a line: the drain is not a curve against the load.
        let faint = RGBColor(150, 150, 150);
        chart
            .draw_series(drain.iter().map(|&(x, y)| Circle::new((x, y), 3, faint)))
            .map_err(err)?
            .label("drain: p95 after the peak")
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, faint));
    }
    let pts = known(&d.plateaus, |p| p.1);
    if !pts.is_empty() {
        chart
            .draw_series(
                pts.iter()
                    .map(|&(x, y)| Circle::new((x, y), 5, BLUE.filled())),
            )
            .map_err(err)?
            .label("p95 per plateau")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, BLUE.filled()));
    }
    Ok(())
}

/// The SLO line and the knee.
fn envelope_marks(
    chart: &mut Chart<'_, '_>,
    d: &PlotData,
    xmax: f64,
    ymax: f64,
) -> Result<(), String> {
    if let Some(slo) = d.slo_s {
        let label = format!("SLO p95 {}", format::secs(Some(slo)));
        let style = ("sans-serif", 14).into_text_style(chart.plotting_area());
        marker(
            chart,
            [(0.0, slo), (xmax, slo)],
            BLACK.stroke_width(1),
            (10, 5),
            (label, (xmax * 0.01, slo), style),
        )?;
    }
    if let Some(k) = d.knee {
        let label = format!("knee {} {}", format::rate(Some(k)), d.load_unit);
        let style = ("sans-serif", 15).into_font().color(&MAGENTA);
        // Mid-height, clear of the legend in the lower right.
        marker(
            chart,
            [(k, 0.0), (k, ymax)],
            ShapeStyle::from(&MAGENTA).stroke_width(2),
            (8, 4),
            (label, (k, ymax * 0.6), style),
        )?;
    }
    Ok(())
}

/// Backlog (left axis) and load (right axis) over time, with the load's end and the drain.
pub fn queue_svg(d: &PlotData) -> Result<Option<String>, String> {
    if d.timeline.iter().all(|p| p.1.is_none()) {
        return Ok(None);
    }
    let tmax = max_of(d.timeline.iter().map(|p| p.0)).max(1.0);
    let bmax = (max_of(d.timeline.iter().filter_map(|p| p.1)) * 1.1).max(1.0);
    let lmax = (max_of(d.timeline.iter().filter_map(|p| p.2)) * 1.1).max(1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Queue depth and load", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .right_y_label_area_size(64)
            .build_cartesian_2d(0.0..tmax, 0.0..bmax)
            .map_err(err)?
            .set_secondary_coord(0.0..tmax, 0.0..lmax);
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("backlog (items)")
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_desc(format!("load ({})", d.load_unit))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                known(&d.timeline, |p| p.1),
                BLUE.stroke_width(2),
            ))
            .map_err(err)?
            .label("backlog")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        let load = known(&d.timeline, |p| p.2);
        chart
            .draw_secondary_series(DashedLineSeries::new(load, 6, 4, GREEN.stroke_width(2)))
            .map_err(err)?
            .label(format!("load ({}, dashed)", d.load_unit))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN.stroke_width(2)));
        for (t, label) in [(d.load_stopped_s, "load stops"), (d.drained_s, "drained")] {
            if let Some(t) = t {
                let style = ("sans-serif", 14).into_text_style(chart.plotting_area());
                let label = (format!("{label} +{t:.0} s"), (t, bmax * 0.95), style);
                marker(
                    &mut chart,
                    [(t, 0.0), (t, bmax)],
                    BLACK.stroke_width(1),
                    (8, 4),
                    label,
                )?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}
