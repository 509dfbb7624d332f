//! Envelope view: latency against load — offered load (or VUs) on x, p95 and p99 (dashed) on
//! y, the SLO line, and the knee marked.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::Screen;
use crate::settings::{Band, Role};
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
    let (load, unit) = match (s.role(Role::Offered), s.role(Role::Vus)) {
        (Some(o), _) => (o, "req/s"),
        (None, Some(v)) => (v, "VUs"),
        _ => {
            Paragraph::new("no load signal (offered rate or VUs) configured").render(inner, buf);
            return;
        }
    };
    let p95 = s.role(Role::LatencyP95).or_else(|| s.role(Role::ClientP95));
    let p99 = s.role(Role::LatencyP99);
    let Some(p95) = p95 else {
        Paragraph::new("no p95 latency signal configured").render(inner, buf);
        return;
    };
    let t = s.t();
    let pairs = |lat: &str| -> Vec<(f64, f64)> {
        let (Some(x), Some(y)) = (
            s.state.history.column(&load.name),
            s.state.history.column(lat),
        ) else {
            return Vec::new();
        };
        let n = s.state.history.index_at(t).map_or(0, |i| i + 1);
        x.iter().zip(y).take(n).map(|(a, b)| (*a, *b)).collect()
    };
    let p95_pts = pairs(&p95.name);
    let p99_pts = p99.map(|d| pairs(&d.name)).unwrap_or_default();
    let x_max = nice_max(
        p95_pts
            .iter()
            .map(|p| p.0)
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max),
    );
    let [legend, chart_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let cols = Chart::plot_cols(chart_area).max(1);
    let y_max_data = p95_pts
        .iter()
        .chain(&p99_pts)
        .map(|p| p.1)
        .filter(|y| y.is_finite())
        .fold(0.0, f64::max);
    let slo = p95.warn;
    let y_max = nice_max(y_max_data.max(slo.unwrap_or(0.0) * 1.05));
    let knee = s
        .state
        .detector
        .knee
        .as_ref()
        .filter(|k| k.unix_ms <= t && k.load_unit == unit)
        .and_then(|k| k.load);
    let (solid, dashed, bar) = if s.theme.ascii {
        ("* ", "o ", "| ")
    } else {
        ("━ ", "┄ ", "│ ")
    };
    let mut legend_spans = vec![
        Span::styled(solid, s.theme.series(0)),
        Span::raw(format!("{}  ", p95.name)),
    ];
    if let Some(d) = p99 {
        legend_spans.push(Span::styled(dashed, s.theme.series(1)));
        legend_spans.push(Span::raw(format!("{}  ", d.name)));
    }
    if let Some(v) = slo {
        legend_spans.push(Span::styled(
            format!("SLO {}  ", format::secs(v)),
            s.theme.threshold(Band::Warn),
        ));
    }
    match knee {
        Some(k) => legend_spans.push(Span::styled(
            format!("{bar}knee {} {unit}", format::num(k)),
            s.theme.band(Band::Warn),
        )),
        None => legend_spans.push(Span::styled("no knee yet", s.theme.dim())),
    }
    Paragraph::new(Line::from(legend_spans)).render(legend, buf);
    let mut series = vec![Series {
        points: binned(&p95_pts, x_max, cols),
        style: s.theme.series(0),
        dashed: false,
    }];
    if !p99_pts.is_empty() {
        series.push(Series {
            points: binned(&p99_pts, x_max, cols),
            style: s.theme.series(1),
            dashed: true,
        });
    }
    let vlines = knee
        .map(|k| {
            let c = ((k / x_max) * (cols as f64 - 1.0)).round() as usize;
            vec![(c, s.theme.band(Band::Warn))]
        })
        .unwrap_or_default();
    Chart {
        series,
        hlines: slo
            .map(|v| {
                vec![HLine {
                    y: v,
                    style: s.theme.threshold(Band::Warn),
                }]
            })
            .unwrap_or_default(),
        vlines,
        y_max,
        ascii: s.theme.ascii,
        y_label: format::axis_secs,
        x_labels: (
            "0".into(),
            format!("{} {unit} ({})", format::num(x_max), load.name),
        ),
    }
    .render(chart_area, buf);
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
