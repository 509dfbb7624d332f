//! Load plateaus: the steps of a stepped ramp (or the one level of a constant-rate run), where
//! the offered load (arrival rate, or VUs in closed-loop tests) held within a tolerance for a
//! while. Each gets a row: offered vs achieved rate, latency quantiles of every histogram over
//! exactly that interval, mean service time, error rate, peak queue and in-flight, and how p95
//! drifted from its first quarter to its last.

use super::data::finite;
use super::data::{Plateau, Quantiles};
use super::window::{self, Window};
use crate::detect::robust::{median, theil_sen};
use crate::detect::Frame;
use crate::model::TimeMs;
use crate::settings::LoadModel;
use crate::settings::ReportConfig;
use crate::settings::Role;
use crate::state::RunState;

/// Which number is "the load" of this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadKind {
    Offered,
    Vus,
}

impl LoadKind {
    pub fn unit(self) -> &'static str {
        match self {
            LoadKind::Offered => "req/s",
            LoadKind::Vus => "VUs",
        }
    }

    pub fn of(self, f: &Frame) -> Option<f64> {
        match self {
            LoadKind::Offered => f.offered,
            LoadKind::Vus => f.vus,
        }
        .filter(|v| v.is_finite())
    }
}

/// Open-loop runs are driven by the offered rate; closed-loop ones by VUs. In `auto`, arrivals
/// outrunning completions mark an open loop (a closed loop cannot offer more than it gets
/// back); otherwise VUs drive the run when there were enough of them to be the load rather
/// than an arrival-rate test's client concurrency.
pub fn load_kind(state: &RunState) -> LoadKind {
    let d = &state.detector;
    match d.cfg.load_model {
        LoadModel::Open => LoadKind::Offered,
        LoadModel::Closed => LoadKind::Vus,
        // The detector's own reading once it has placed a knee: its load model is what it
        // judged the run by (a closed loop's arrivals also outrun completions while VUs are
        // added, which a count of such refreshes would take for an open loop).
        LoadModel::Auto if d.knee.is_some() => {
            if d.load_in_vus() {
                LoadKind::Vus
            } else {
                LoadKind::Offered
            }
        }
        LoadModel::Auto => {
            let outran = d
                .history
                .iter()
                .filter(|f| match (f.offered, f.throughput) {
                    (Some(o), Some(t)) => o - t > d.cfg.min_shortfall.max(0.1 * t),
                    _ => false,
                })
                .count();
            let has_offered = d
                .history
                .iter()
                .any(|f| f.offered.is_some_and(|o| o >= d.cfg.min_rate));
            let many_vus = d
                .history
                .iter()
                .any(|f| f.vus.is_some_and(|v| v >= d.cfg.min_vus));
            if has_offered && (outran >= 3 || !many_vus) {
                LoadKind::Offered
            } else if many_vus || !has_offered {
                LoadKind::Vus
            } else {
                LoadKind::Offered
            }
        }
    }
}

/// A found plateau: indices into the detector's history and the load level held.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub first: usize,
    pub last: usize,
    pub level: f64,
}

/// Consecutive samples outside the band that a plateau rides over (one slow scrape).
const MAX_OUTLIERS: usize = 2;
/// Load below this is "no load" (the run's start and its drain).
const MIN_LOAD: f64 = 1.0;
/// The band never gets narrower than this (in the load's unit), so a low rate's counting
/// noise does not split it.
pub(super) const ABS_FLOOR: f64 = 0.5;

/// Finds the plateaus in `(t, load)` points: runs where each value stays within `tol` of the
/// run's mean (a couple of outliers allowed), lasting at least `min_ms`, and whose Theil–Sen
/// drift across the run stays within the band (a slow ramp is not a plateau).
pub fn find(points: &[(TimeMs, Option<f64>)], tol: f64, min_ms: TimeMs) -> Vec<Span> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < points.len() {
        // A non-finite load is no load, and a value that would make the sum infinite ends
        // the run: an infinite level would take in every value after it.
        let Some(v0) = points[i].1.filter(|v| v.is_finite() && *v >= MIN_LOAD) else {
            i += 1;
            continue;
        };
        let (mut sum, mut n, mut last, mut outliers) = (v0, 1usize, i, 0usize);
        let mut j = i + 1;
        while j < points.len() {
            let mean = sum / n as f64;
            let band = (tol * mean).max(ABS_FLOOR);
            match points[j].1 {
                Some(v) if (sum + v).is_finite() && (v - mean).abs() <= band => {
                    sum += v;
                    n += 1;
                    last = j;
                    outliers = 0;
                }
                _ => {
                    outliers += 1;
                    if outliers > MAX_OUTLIERS {
                        break;
                    }
                }
            }
            j += 1;
        }
        let level = sum / n as f64;
        let long_enough = points[last].0 - points[i].0 >= min_ms;
        if long_enough && flat(&points[i..=last], level, tol) {
            out.push(Span {
                first: i,
                last,
                level,
            });
            i = last + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// The robust drift over the span stays inside half the band (a slow ramp drifts further).
fn flat(points: &[(TimeMs, Option<f64>)], level: f64, tol: f64) -> bool {
    // Theil–Sen is quadratic: thin long spans to ~200 points.
    let step = (points.len() / 200).max(1);
    let pts: Vec<(f64, f64)> = points
        .iter()
        .step_by(step)
        .filter_map(|(t, v)| v.map(|v| (*t as f64 / 1000.0, v)))
        .collect();
    let span_s = match (points.first(), points.last()) {
        (Some(a), Some(b)) => (b.0 - a.0) as f64 / 1000.0,
        _ => return false,
    };
    match theil_sen(&pts) {
        Some(slope) => (slope * span_s).abs() <= (tol * level).max(ABS_FLOOR) / 2.0,
        None => false,
    }
}

/// The plateaus of the run, as report rows.
pub fn rows(state: &RunState, cfg: &ReportConfig) -> Vec<Plateau> {
    let kind = load_kind(state);
    let hist = &state.detector.history;
    let pts: Vec<(TimeMs, Option<f64>)> = hist.iter().map(|f| (f.t, kind.of(f))).collect();
    let spans = find(
        &pts,
        cfg.plateau_tolerance,
        cfg.plateau_min.as_millis() as TimeMs,
    );
    let hists = window::histograms(state);
    spans
        .iter()
        .enumerate()
        .map(|(n, s)| Plateau {
            index: n + 1,
            load: s.level,
            load_unit: kind.unit().into(),
            ..row(state, &hist[s.first..=s.last], &hists)
        })
        .collect()
}

/// The numbers of one plateau: each role's signal over exactly its interval where one is
/// evaluated locally, else the mean (or median) of the detector's per-refresh values.
fn row(state: &RunState, frames: &[Frame], hists: &[window::Histogram]) -> Plateau {
    let w = Window {
        from: frames[0].t,
        to: frames[frames.len() - 1].t,
    };
    let values = |f: fn(&Frame) -> Option<f64>| {
        let v = frames.iter().filter_map(f).filter(|x| x.is_finite());
        v.collect::<Vec<f64>>()
    };
    let mean = |f| {
        Some(values(f))
            .filter(|v| !v.is_empty())
            .map(|v| v.iter().sum::<f64>() / v.len() as f64)
    };
    let max = |f| values(f).into_iter().reduce(f64::max);
    let over = |roles: &[Role]| roles.iter().find_map(|&r| window::role_over(state, r, w));
    let offered = over(&[Role::Offered, Role::EnqueueRate]).or_else(|| mean(|f| f.offered));
    let achieved = over(&[Role::Throughput, Role::DequeueRate]).or_else(|| mean(|f| f.throughput));
    let error_rate = over(&[Role::ErrorRate]).or_else(|| mean(|f| f.error_rate));
    let service =
        over(&[Role::ServiceTime]).or_else(|| median(frames.iter().filter_map(|f| f.service_time)));
    let quantiles =
        |h: &window::Histogram| Quantiles::from_values(window::quantiles(state, h, w).map(finite));
    let achieved_ratio = achieved
        .zip(offered)
        .map(|(a, o)| a / o)
        .filter(|_| offered.is_some_and(|o| o > 0.0));
    let latency = window::latency_histogram(hists);
    Plateau {
        from_unix_ms: w.from,
        to_unix_ms: w.to,
        duration_s: w.secs(),
        offered_rps: finite(offered),
        achieved_rps: finite(achieved),
        achieved_ratio: finite(achieved_ratio),
        error_rate: finite(error_rate),
        service_mean_s: finite(service),
        peak_queue: finite(max(Frame::backlog)),
        peak_in_flight: finite(max(|f| f.pending)),
        latency_histogram: latency.map(|h| h.name.clone()),
        latency: latency.map(quantiles),
        histograms: hists
            .iter()
            .map(|h| (h.name.clone(), quantiles(h)))
            .collect(),
        ..Plateau::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(levels: &[(f64, usize)]) -> Vec<(TimeMs, Option<f64>)> {
        let mut out = Vec::new();
        let mut t = 0;
        for &(v, n) in levels {
            for i in 0..n {
                // ±2% wobble, as a rate over a short window has.
                let w = if i % 2 == 0 { 1.02 } else { 0.98 };
                out.push((t, Some(v * w)));
                t += 1000;
            }
        }
        out
    }

    #[test]
    fn steps_are_found_and_a_linear_ramp_has_none() {
        let s = series(&[(10.0, 15), (20.0, 15), (30.0, 15), (0.0, 5)]);
        let p = find(&s, 0.05, 10_000);
        let levels: Vec<f64> = p.iter().map(|x| x.level.round()).collect();
        assert_eq!(levels, vec![10.0, 20.0, 30.0]);
        assert_eq!((p[0].first, p[0].last), (0, 14));
        let ramp: Vec<(TimeMs, Option<f64>)> = (0..150)
            .map(|i| (i * 1000, Some(5.0 + 0.5 * i as f64)))
            .collect();
        assert!(find(&ramp, 0.05, 10_000).is_empty());
        // A slower ramp (0.5%/s, twice the band's drift over the shortest plateau): none either.
        let slow: Vec<(TimeMs, Option<f64>)> = (0..300)
            .map(|i| (i * 1000, Some(20.0 * 1.005f64.powi(i as i32))))
            .collect();
        assert!(
            find(&slow, 0.05, 10_000).is_empty(),
            "{:?}",
            find(&slow, 0.05, 10_000)
        );
    }

    #[test]
    fn one_odd_sample_does_not_split_a_plateau_and_short_holds_are_not_plateaus() {
        let mut s = series(&[(40.0, 30)]);
        s[12].1 = Some(80.0);
        s[13].1 = None;
        let p = find(&s, 0.05, 10_000);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].first, p[0].last), (0, 29));
        assert!(find(&series(&[(10.0, 8), (20.0, 8)]), 0.05, 10_000).is_empty());
    }

    #[test]
    fn infinite_or_huge_loads_make_no_infinite_plateau() {
        let mut s = series(&[(40.0, 30)]);
        s[3].1 = Some(f64::INFINITY);
        s[4].1 = Some(f64::NAN);
        let p = find(&s, 0.05, 10_000);
        assert!(p.iter().all(|x| x.level.is_finite()), "{p:?}");
        let huge: Vec<(TimeMs, Option<f64>)> =
            (0..30).map(|i| (i * 1000, Some(f64::MAX / 1.5))).collect();
        let p = find(&huge, 0.05, 10_000);
        assert!(p.iter().all(|x| x.level.is_finite()), "{p:?}");
        let inf: Vec<(TimeMs, Option<f64>)> =
            (0..30).map(|i| (i * 1000, Some(f64::INFINITY))).collect();
        assert!(find(&inf, 0.05, 10_000).is_empty());
    }
}
