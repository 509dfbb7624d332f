//! Range-vector functions over one series' samples, as Prometheus computes them.

use super::compile::RangeFn;
use crate::model::TimeMs;

/// Applies `f` to the samples of one series in the window ending at `t`. None = no output.
/// `prom2` picks Prometheus 2.x's order of the extrapolation steps.
pub fn apply(
    f: RangeFn,
    pts: &[(TimeMs, f64)],
    t: TimeMs,
    range_ms: i64,
    prom2: bool,
) -> Option<f64> {
    match f {
        RangeFn::Rate => extrapolated(
            pts,
            t.saturating_sub(range_ms),
            t,
            range_ms,
            true,
            true,
            prom2,
        ),
        RangeFn::Increase => extrapolated(
            pts,
            t.saturating_sub(range_ms),
            t,
            range_ms,
            true,
            false,
            prom2,
        ),
        RangeFn::Delta => extrapolated(
            pts,
            t.saturating_sub(range_ms),
            t,
            range_ms,
            false,
            false,
            prom2,
        ),
        RangeFn::Irate => irate(pts),
        RangeFn::Deriv => deriv(pts),
    }
}

/// Prometheus's `extrapolatedRate`: the change over the samples, corrected for counter resets,
/// extrapolated towards the window edges (by at most half an average sample interval when the
/// series seems to start or end inside the window, and never below zero for counters).
fn extrapolated(
    pts: &[(TimeMs, f64)],
    range_start: TimeMs,
    range_end: TimeMs,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
    prom2: bool,
) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (first, last) = (pts[0], pts[pts.len() - 1]);
    let mut result = last.1 - first.1;
    if is_counter {
        let mut prev = first.1;
        for &(_, v) in &pts[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first.0 - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let avg = sampled / (pts.len() - 1) as f64;
    let threshold = avg * 1.1;
    let to_zero = |to_start: f64| -> f64 {
        if is_counter && result > 0.0 && first.1 >= 0.0 {
            to_start.min(sampled * (first.1 / result))
        } else {
            to_start
        }
    };
    if prom2 {
        to_start = to_zero(to_start);
        if to_start >= threshold {
            to_start = avg / 2.0;
        }
    } else {
        if to_start >= threshold {
            to_start = avg / 2.0;
        }
        to_start = to_zero(to_start);
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    result *= (sampled + to_start + to_end) / sampled;
    if is_rate {
        result /= range_ms as f64 / 1000.0;
    }
    Some(result)
}

/// Per-second rate between the last two samples; a drop is a counter reset.
fn irate(pts: &[(TimeMs, f64)]) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (prev, last) = (pts[pts.len() - 2], pts[pts.len() - 1]);
    let dt = (last.0 - prev.0) as f64 / 1000.0;
    if dt == 0.0 {
        return None;
    }
    let d = if last.1 < prev.1 {
        last.1
    } else {
        last.1 - prev.1
    };
    Some(d / dt)
}

/// Least-squares slope per second, with times relative to the first sample as Prometheus does.
fn deriv(pts: &[(TimeMs, f64)]) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let t0 = pts[0].0;
    let y0 = pts[0].1;
    if pts.iter().all(|p| p.1 == y0) {
        return Some(if y0.is_infinite() { f64::NAN } else { 0.0 });
    }
    let n = pts.len() as f64;
    let (mut sx, mut sy, mut sxy, mut sx2) = (0.0, 0.0, 0.0, 0.0);
    for &(t, v) in pts {
        let x = (t - t0) as f64 / 1000.0;
        sx += x;
        sy += v;
        sxy += x * v;
        sx2 += x * x;
    }
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    Some(cov / var)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_worked_example() {
        // Samples at +0,15,30,45,60 s = 10,20,30,5,15; [60s] at +65 s, Prometheus 2.x window.
        let all = [
            (0, 10.0),
            (15_000, 20.0),
            (30_000, 30.0),
            (45_000, 5.0),
            (60_000, 15.0),
        ];
        let window: Vec<_> = all.iter().copied().filter(|p| p.0 >= 5_000).collect();
        let inc = apply(RangeFn::Increase, &window, 65_000, 60_000, true).unwrap();
        assert!((inc - 33.333_333_333).abs() < 1e-6, "{inc}");
        let rate = apply(RangeFn::Rate, &window, 65_000, 60_000, true).unwrap();
        assert!((rate - 0.555_555_555).abs() < 1e-6, "{rate}");
        assert_eq!(
            apply(RangeFn::Rate, &window[..1], 65_000, 60_000, true),
            None
        );
    }

    #[test]
    fn irate_delta_deriv() {
        let p = [(0, 5.0), (10_000, 25.0), (20_000, 3.0)];
        assert_eq!(apply(RangeFn::Irate, &p, 20_000, 30_000, false), Some(0.3));
        assert_eq!(
            apply(RangeFn::Irate, &p[..2], 20_000, 30_000, false),
            Some(2.0)
        );
        // delta has no reset logic: 3 - 5 over 20 s, extrapolated by 10 s at the start edge.
        let d = apply(RangeFn::Delta, &p, 20_000, 30_000, false).unwrap();
        assert!((d - (-2.0 * 30.0 / 20.0)).abs() < 1e-9, "{d}");
        let line = [(0, 1.0), (1_000, 3.0), (2_000, 5.0)];
        assert_eq!(
            apply(RangeFn::Deriv, &line, 2_000, 10_000, false),
            Some(2.0)
        );
        assert_eq!(
            apply(
                RangeFn::Deriv,
                &[(0, 4.0), (1_000, 4.0)],
                1_000,
                10_000,
                false
            ),
            Some(0.0)
        );
    }
}
