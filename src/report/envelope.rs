//! The latency envelope's two phases: the rise (from the first load up to the load's peak, and
//! on while it holds at the peak level) and the drain after it (the load falling while
//! the backlog empties: high latency at low load, which is not what the system does at that
//! load on the way up). The report's envelope.svg and the screen's envelope view split their
//! points here, so both draw the same curve.

use std::ops::Range;

use super::data::{Rise, RisePoint};
use super::plateaus::{load_kind, LoadKind, ABS_FLOOR};
use super::RunState;
use crate::model::TimeMs;

/// Load bins of the condensed rise in report.json: enough to show a knee's bend, few enough
/// that a day-long ramp stays a few lines.
const RISE_BINS: usize = 40;

/// Indices into a run's refreshes: the rise to plot as the envelope, and the drain after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Phases {
    /// From the first refresh with load (at least `min_load`) to the last one at the peak
    /// level, never past the load's end.
    pub rise: Range<usize>,
    /// The refreshes after the rise until the load ended (or the last refresh); their load may
    /// be anything, down to none.
    pub drain: Range<usize>,
}

/// Splits `(t, load)` per refresh into the rise and the drain, before `ended` (the detector's
/// end of the load). The peak level is the highest load held for two refreshes in a row (the
/// lower of the two), so a one-refresh spike does not set it; the rise runs from the first
/// load to the last refresh within `tol` of that level (as a plateau's band is), and what
/// follows it is the drain.
pub fn phases(
    points: &[(TimeMs, Option<f64>)],
    tol: f64,
    min_load: f64,
    ended: Option<TimeMs>,
) -> Phases {
    let stop = ended.map_or(points.len(), |e| points.partition_point(|p| p.0 < e));
    let loads = &points[..stop];
    let Some(first) = loads
        .iter()
        .position(|p| p.1.is_some_and(|v| v >= min_load))
    else {
        return Phases::default();
    };
    let held = loads[first..]
        .windows(2)
        .filter_map(|w| match (w[0].1, w[1].1) {
            (Some(a), Some(b)) if a.is_finite() && b.is_finite() => Some(a.min(b)),
            _ => None,
        });
    // Without two refreshes of load in a row, the first one's is the level.
    let peak = held.reduce(f64::max).or(loads[first].1).unwrap_or(min_load);
    let low = peak - (tol * peak).max(ABS_FLOOR);
    let last = loads
        .iter()
        .rposition(|p| p.1.is_some_and(|v| v >= low))
        .map_or(first, |i| i.max(first));
    Phases {
        rise: first..last + 1,
        drain: last + 1..stop,
    }
}

/// The run's refreshes split into rise and drain by its load (`kind`), as the report's plots
/// and report.json's `rise` both read them.
pub fn of_run(state: &RunState, kind: LoadKind, tol: f64) -> Phases {
    let d = &state.detector;
    let loads: Vec<(TimeMs, Option<f64>)> = d.history.iter().map(|f| (f.t, kind.of(f))).collect();
    phases(&loads, tol, d.cfg.min_rate, d.load_ended)
}

/// p95 against load over the rise, condensed into `RISE_BINS` equal load bins (the median
/// load and p95 of each bin's refreshes); None when no refresh of the rise has both.
pub fn rise(state: &RunState, tol: f64) -> Option<Rise> {
    let kind = load_kind(state);
    let h = &state.detector.history;
    let pts: Vec<(f64, f64)> = h[of_run(state, kind, tol).rise]
        .iter()
        .filter_map(|f| Some((kind.of(f)?, f.p95.filter(|v| v.is_finite())?)))
        .collect();
    let points = binned(&pts, RISE_BINS);
    (!points.is_empty()).then(|| Rise {
        load_unit: kind.unit().into(),
        points,
    })
}

/// (load, p95) points grouped into `bins` equal bins of load, each the median load and p95
/// of its points, in load order; empty bins are left out.
fn binned(pts: &[(f64, f64)], bins: usize) -> Vec<RisePoint> {
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let width = (hi - lo) / bins as f64;
    let mut groups: Vec<Vec<(f64, f64)>> = vec![Vec::new(); bins];
    for &p in pts {
        let i = if width > 0.0 {
            (((p.0 - lo) / width) as usize).min(bins - 1)
        } else {
            0
        };
        groups[i].push(p);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    groups
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(|g| RisePoint {
            load: median(g.iter().map(|p| p.0).collect()),
            p95_s: median(g.iter().map(|p| p.1).collect()),
            refreshes: g.len(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(loads: &[f64]) -> Vec<(TimeMs, Option<f64>)> {
        loads
            .iter()
            .enumerate()
            .map(|(i, v)| (i as TimeMs * 1000, Some(*v)))
            .collect()
    }

    #[test]
    fn a_ramp_rises_to_its_peak_and_the_fall_after_it_is_the_drain() {
        // Idle, a ramp to 72, one refresh held at the peak, the fall and the idle tail.
        let p = pts(&[
            0.0, 2.0, 10.0, 30.0, 50.0, 71.9, 71.7, 54.0, 36.0, 17.0, 0.0, 0.0,
        ]);
        let ph = phases(&p, 0.05, 1.0, Some(10_000));
        assert_eq!(ph.rise, 1..7);
        // The load ended at 10 s: the idle refreshes after it are neither.
        assert_eq!(ph.drain, 7..10);
        // Without the end known, the idle tail is part of the drain.
        assert_eq!(phases(&p, 0.05, 1.0, None).drain, 7..12);
    }

    #[test]
    fn a_held_level_is_all_rise_and_a_dip_within_it_does_not_end_it() {
        let mut loads = vec![16.0; 30];
        loads[3] = 16.4;
        loads[10] = 12.0;
        loads[11] = 12.0;
        loads.extend([8.0, 0.0, 0.0, 0.0]);
        let ph = phases(&pts(&loads), 0.05, 1.0, None);
        assert_eq!(ph.rise, 0..30);
        assert_eq!(ph.drain, 30..34);
    }

    #[test]
    fn a_spike_does_not_set_the_peak_and_an_overshoot_does_not_end_the_hold() {
        let spike = pts(&[10.0, 20.0, 30.0, 60.0, 30.0, 30.0, 30.0, 5.0]);
        let ph = phases(&spike, 0.05, 1.0, None);
        assert_eq!((ph.rise, ph.drain), (0..7, 7..8));
        // k6 overshoots a step for a few refreshes, then holds a little lower.
        let overshoot = pts(&[10.0, 20.0, 47.0, 47.2, 46.4, 44.7, 44.4, 44.9, 33.0, 20.0]);
        let ph = phases(&overshoot, 0.05, 1.0, None);
        assert_eq!((ph.rise, ph.drain), (0..8, 8..10));
    }

    #[test]
    fn a_dip_before_the_peak_is_part_of_the_rise_and_no_load_is_no_phase() {
        let p = pts(&[5.0, 20.0, 10.0, 30.0, 40.0]);
        let ph = phases(&p, 0.05, 1.0, None);
        assert_eq!((ph.rise, ph.drain), (0..5, 5..5));
        assert_eq!(
            phases(&pts(&[0.0, 0.5]), 0.05, 1.0, None),
            Phases::default()
        );
        assert_eq!(phases(&[], 0.05, 1.0, None), Phases::default());
    }

    #[test]
    fn the_rise_is_condensed_into_load_bins_of_medians() {
        // 5..=84 req/s, one refresh each, p95 = load / 100 except one outlier in the first bin.
        let mut pts: Vec<(f64, f64)> = (5..85).map(|l| (l as f64, l as f64 / 100.0)).collect();
        pts[0].1 = 9.0;
        let b = binned(&pts, 40);
        assert_eq!(b.len(), 40);
        assert_eq!(b.iter().map(|p| p.refreshes).sum::<usize>(), 80);
        // The first bin holds 5 and 6: the outlier moves its median, not the bin's load.
        assert_eq!((b[0].load, b[0].refreshes), (5.5, 2));
        assert!(b.windows(2).all(|w| w[0].load < w[1].load));
        assert!((b[39].p95_s - 0.835).abs() < 1e-12, "{:?}", b[39]);
        assert!(binned(&[], 40).is_empty());
        let one = binned(&[(7.0, 0.1), (7.0, 0.3), (7.0, 0.2)], 40);
        assert_eq!(
            one,
            vec![RisePoint {
                load: 7.0,
                p95_s: 0.2,
                refreshes: 3
            }]
        );
    }
}
