//! SVG plots across runs, drawn from their reports alone: two runs' latency envelopes on
//! their rising load with their plateaus and each one's capacity marked (compare.svg), and
//! capacity against workers with the fitted scalability curve and the linear rule (scale.svg).

use plotters::prelude::*;

use super::data::Report;
use super::format;
use super::scale::{as_fit, ScaleCurve};

pub const COMPARE_FILE: &str = "compare.svg";
pub const SCALE_FILE: &str = "scale.svg";
const SIZE: (u32, u32) = (900, 520);

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// (load, p95) of each plateau with a p95.
fn plateau_points(r: &Report) -> Vec<(f64, f64)> {
    r.plateaus
        .iter()
        .filter_map(|p| Some((p.load, p.latency?.p95?)))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect()
}

/// A run's curve: p95 against the rising load (report.json's `rise`), else, for a report
/// without it, its plateaus joined.
fn curve(r: &Report) -> Vec<(f64, f64)> {
    let rise: Vec<(f64, f64)> = r
        .rise
        .iter()
        .flat_map(|e| &e.points)
        .map(|p| (p.load, p.p95_s))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if rise.is_empty() {
        plateau_points(r)
    } else {
        rise
    }
}

/// The load unit the runs are drawn in: the first run's that has one.
fn load_unit<'a>(runs: &[(&str, &'a Report)]) -> &'a str {
    runs.iter()
        .find_map(|(_, r)| {
            let rise = r.rise.as_ref().map(|e| e.load_unit.as_str());
            rise.or(r.plateaus.first().map(|p| p.load_unit.as_str()))
        })
        .unwrap_or("req/s")
}

/// Each run's p95 against its rising load (the drain after the peak left out, as the
/// envelope view draws it), its plateaus as dots and its capacity as a dashed line; None when
/// no run has latency against load.
pub fn compare_svg(runs: &[(&str, &Report)]) -> Result<Option<String>, String> {
    let curves: Vec<Vec<(f64, f64)>> = runs.iter().map(|(_, r)| curve(r)).collect();
    let held: Vec<Vec<(f64, f64)>> = runs.iter().map(|(_, r)| plateau_points(r)).collect();
    if curves.iter().all(Vec::is_empty) {
        return Ok(None);
    }
    let caps: Vec<Option<f64>> = runs
        .iter()
        .map(|(_, r)| r.capacity_rps.filter(|c| c.is_finite()))
        .collect();
    let pts = || curves.iter().chain(&held).flatten();
    let xmax = pts()
        .map(|p| p.0)
        .chain(caps.iter().flatten().copied())
        .fold(1.0, f64::max)
        * 1.08;
    let ymax = pts().map(|p| p.1).fold(0.001, f64::max) * 1.1;
    let unit = load_unit(runs);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Latency envelope: p95 against rising load",
                ("sans-serif", 22),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("load ({unit})"))
            .y_desc("p95")
            .y_label_formatter(&|v| format::secs(Some(*v)))
            .draw()
            .map_err(err)?;
        for (i, ((name, _), pts)) in runs.iter().zip(&curves).enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(name.to_string())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color));
            chart
                .draw_series(held[i].iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
            if let Some(c) = caps[i] {
                let line = vec![(c, 0.0), (c, ymax)];
                chart
                    .draw_series(DashedLineSeries::new(line, 6, 4, color.into()))
                    .map_err(err)?;
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

/// Capacity against workers: the runs, the fitted curve and the linear rule λN.
pub fn scale_svg(c: &ScaleCurve) -> Result<String, String> {
    let nmax = c.points.iter().map(|p| p.workers).fold(1.0, f64::max);
    let fit = c.usl.as_ref().map(as_fit);
    let xmax = fit
        .as_ref()
        .and_then(|f| f.peak_workers())
        .filter(|n| *n <= nmax * 4.0)
        .map_or(nmax, |n| n.max(nmax))
        * 1.25;
    let curve: Vec<(f64, f64)> = fit.as_ref().map_or(Vec::new(), |f| {
        (0..=200)
            .map(|i| 1.0 + (xmax - 1.0) * i as f64 / 200.0)
            .map(|n| (n, f.predict(n)))
            .collect()
    });
    let linear: Vec<(f64, f64)> = fit.as_ref().map_or(Vec::new(), |f| {
        vec![(1.0, f.lambda), (xmax, f.lambda * xmax)]
    });
    let ymax = c
        .points
        .iter()
        .map(|p| p.capacity_rps)
        .chain(curve.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Capacity against workers", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("workers")
            .y_desc("capacity (req/s)")
            .draw()
            .map_err(err)?;
        let pts: Vec<(f64, f64)> = c
            .points
            .iter()
            .map(|p| (p.workers, p.capacity_rps))
            .collect();
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 5, BLACK.filled())))
            .map_err(err)?
            .label("measured capacity")
            .legend(|(x, y)| Circle::new((x + 9, y), 4, BLACK.filled()));
        if !curve.is_empty() {
            chart
                .draw_series(LineSeries::new(curve, BLUE.stroke_width(2)))
                .map_err(err)?
                .label("USL fit")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLUE));
            chart
                .draw_series(DashedLineSeries::new(linear, 6, 4, RED.into()))
                .map_err(err)?
                .label("linear (λN)")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], RED));
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
    Ok(svg)
}
