//! Throughput against concurrency within one closed-loop run (a VU ramp), fitted with the
//! Universal Scalability Law as the run goes: the throughput it predicts at most, the
//! concurrency where that peak lies, and how sure the fit is (a bootstrap over the points).
//! The fit is trusted only when it explains the points and the peak lies within (or near)
//! the concurrency the run reached; otherwise it says why not.

use serde::{Deserialize, Serialize};

use super::robust::median;
use super::Detector;
use crate::model::TimeMs;
use crate::usl;

/// The fit is redone at most this often (data time): each costs about a millisecond.
pub const REFIT_MS: TimeMs = 5_000;
/// Concurrency levels (bins of the VU range) the points are pooled into.
const BINS: usize = 40;
/// Fewer distinct levels than this fit anything.
const MIN_LEVELS: usize = 6;
/// R² below this: throughput does not follow one curve.
const MIN_R2: f64 = 0.9;
/// A peak further than this many times the highest concurrency reached is an extrapolation.
const MAX_REACH: f64 = 1.5;
/// Resamples for the uncertainty, with a fixed seed (the same run gives the same range).
const RESAMPLES: usize = 40;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConcurrencyModel {
    /// What concurrency is counted in ("VUs").
    pub unit: String,
    /// Concurrency levels fitted, and the highest concurrency reached.
    pub levels: usize,
    pub max_concurrency: f64,
    pub lambda: f64,
    pub sigma: f64,
    pub kappa: f64,
    pub r2: f64,
    /// The most throughput the curve reaches: at its peak, or the level it tends to (λ/σ)
    /// when it has none. None when it rises without bound (σ = κ = 0).
    pub max_throughput_rps: Option<f64>,
    /// Where the peak lies; None when the curve only levels off.
    pub peak_concurrency: Option<f64>,
    /// 5th–95th percentile of `max_throughput_rps` and `peak_concurrency` over resamples.
    pub max_throughput_range: Option<(f64, f64)>,
    pub peak_concurrency_range: Option<(f64, f64)>,
    /// Good enough to act on; `why_not` says what is missing when it is not.
    pub trusted: bool,
    pub why_not: Option<String>,
}

/// The most a curve reaches and where: its peak, or the level λ/σ it tends to.
fn maximum(f: &usl::Fit) -> (Option<f64>, Option<f64>) {
    match f.peak_workers() {
        Some(n) => (Some(f.predict(n)), Some(n)),
        None if f.sigma > 0.0 => (Some(f.lambda / f.sigma), None),
        None => (None, None),
    }
}

/// 5th and 95th percentiles of the finite values.
fn spread(mut v: Vec<f64>) -> Option<(f64, f64)> {
    v.retain(|x| x.is_finite());
    if v.len() < 3 {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    Some((at(0.05), at(0.95)))
}

/// Pools `(concurrency, throughput)` readings into levels: the medians of each bin of the
/// concurrency range.
pub fn levels(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let hi = points.iter().map(|p| p.0).fold(0.0, f64::max);
    if hi <= 0.0 {
        return Vec::new();
    }
    let mut bins: Vec<Vec<(f64, f64)>> = vec![Vec::new(); BINS];
    for &(n, x) in points {
        let b = ((n / hi) * (BINS - 1) as f64).round() as usize;
        bins[b.min(BINS - 1)].push((n, x));
    }
    bins.iter()
        .filter(|b| !b.is_empty())
        .filter_map(|b| {
            Some((
                median(b.iter().map(|p| p.0))?,
                median(b.iter().map(|p| p.1))?,
            ))
        })
        .collect()
}

/// Fits the levels and judges the fit.
pub fn model(points: &[(f64, f64)], unit: &str) -> Option<ConcurrencyModel> {
    let lv = levels(points);
    let max_concurrency = lv.iter().map(|p| p.0).fold(0.0, f64::max);
    let fit = usl::fit(&lv).ok()?;
    let (max_tput, peak) = maximum(&fit);
    // Resampling the levels with replacement (a fixed LCG: reproducible).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    let (mut tputs, mut peaks) = (Vec::new(), Vec::new());
    for _ in 0..RESAMPLES {
        let sample: Vec<(f64, f64)> = (0..lv.len()).map(|_| lv[next(lv.len())]).collect();
        if let Ok(f) = usl::fit(&sample) {
            let (t, n) = maximum(&f);
            tputs.push(t.unwrap_or(f64::INFINITY));
            peaks.push(n.unwrap_or(f64::INFINITY));
        }
    }
    let why_not = if lv.len() < MIN_LEVELS {
        Some(format!(
            "{} concurrency levels so far; the fit needs {MIN_LEVELS}",
            lv.len()
        ))
    } else if fit.r2 < MIN_R2 {
        Some(format!(
            "R² {:.2} < {MIN_R2}: throughput does not follow one curve",
            fit.r2
        ))
    } else if max_tput.is_none() {
        Some("throughput still rises in proportion: no limit in sight yet".into())
    } else if peak.is_some_and(|n| n > MAX_REACH * max_concurrency) {
        Some(format!(
            "the peak ({:.0} {unit}) lies beyond {MAX_REACH}× the {:.0} {unit} reached",
            peak.unwrap_or(0.0),
            max_concurrency
        ))
    } else {
        None
    };
    Some(ConcurrencyModel {
        unit: unit.to_string(),
        levels: lv.len(),
        max_concurrency,
        lambda: fit.lambda,
        sigma: fit.sigma,
        kappa: fit.kappa,
        r2: fit.r2,
        max_throughput_rps: max_tput,
        peak_concurrency: peak,
        max_throughput_range: spread(tputs),
        peak_concurrency_range: peak.and_then(|_| spread(peaks)),
        trusted: why_not.is_none(),
        why_not,
    })
}

impl Detector {
    /// `(VUs, throughput)` of a closed loop's rise: up to the load's end and the first client
    /// error (after it, completions stop measuring the service). A rate over a window is the
    /// throughput of half a window ago, so each reading is paired with the VUs of then.
    pub fn concurrency_points(&self) -> Vec<(f64, f64)> {
        let h = &self.history;
        let end = [
            self.load_ended,
            self.stage(super::StageId::ErrorsVisible).first_onset,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(TimeMs::MAX);
        let vus_at = |t: TimeMs| {
            let f = h[..h.partition_point(|g| g.t <= t)].last()?;
            f.vus.filter(|v| *v >= self.cfg.min_vus)
        };
        h.iter()
            .take_while(|f| f.t < end)
            .filter_map(|f| {
                let lag = (f.rate_window_s.unwrap_or(0.0) * 500.0) as TimeMs;
                let x = f.throughput.filter(|x| *x >= self.cfg.min_rate)?;
                Some((vus_at(f.t - lag)?, x))
            })
            .collect()
    }

    /// The model for a run known to be a closed loop: its knee was found in VUs, or it was
    /// declared closed (None otherwise, or before any fit). A healthy arrival-rate run looks
    /// the same as a healthy VU ramp (its VUs also outnumber the requests in flight), and its
    /// VUs say nothing of its load: it gets no model.
    pub fn fit_concurrency(&self) -> Option<ConcurrencyModel> {
        let closed = self.knee.as_ref().is_some_and(|k| k.load_unit == "VUs")
            || self.cfg.load_model == crate::settings::LoadModel::Closed;
        if !closed {
            return None;
        }
        model(&self.concurrency_points(), "VUs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A curve with a true peak: the fit finds it, inside its own uncertainty.
    #[test]
    fn a_retrograde_curve_is_fitted_with_its_peak() {
        let truth = usl::Fit {
            lambda: 2.0,
            sigma: 0.02,
            kappa: 0.0005,
            r2: 1.0,
            residuals: vec![],
        };
        let n_star = ((1.0 - 0.02) / 0.0005f64).sqrt();
        let pts: Vec<(f64, f64)> = (1..=80)
            .map(|n| {
                let n = n as f64;
                // ±2% of deterministic noise.
                let wobble = 1.0 + 0.02 * ((n * 1.7).sin());
                (n, truth.predict(n) * wobble)
            })
            .collect();
        let m = model(&pts, "VUs").unwrap();
        assert!(m.trusted, "{m:?}");
        let peak = m.peak_concurrency.unwrap();
        assert!((peak - n_star).abs() / n_star < 0.1, "{peak} vs {n_star}");
        let (lo, hi) = m.max_throughput_range.unwrap();
        let best = truth.predict(n_star);
        assert!(
            lo <= best * 1.02 && hi >= best * 0.98,
            "{lo}..{hi} vs {best}"
        );
    }

    /// Still rising in a straight line: nothing to predict, and it says so.
    #[test]
    fn a_straight_line_is_not_trusted() {
        let pts: Vec<(f64, f64)> = (1..=30).map(|n| (n as f64, 3.0 * n as f64)).collect();
        let m = model(&pts, "VUs").unwrap();
        assert!(!m.trusted);
        assert!(m.why_not.unwrap().contains("no limit in sight"));
    }

    #[test]
    fn too_few_levels_say_how_many_are_needed() {
        let pts = [(1.0, 1.0), (2.0, 1.9), (3.0, 2.7), (4.0, 3.4)];
        let m = model(&pts, "VUs").unwrap();
        assert!(!m.trusted);
        assert!(m.why_not.as_deref().unwrap().contains("needs 6"), "{m:?}");
    }

    #[test]
    fn levels_pool_readings_into_medians() {
        let lv = levels(&[(10.0, 5.0), (10.0, 7.0), (10.0, 100.0), (0.0, 0.0)]);
        assert_eq!(lv.last(), Some(&(10.0, 7.0)));
    }
}
