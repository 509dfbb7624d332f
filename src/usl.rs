//! The Universal Scalability Law, fitted: X(N) = λN / (1 + σ(N−1) + κN(N−1)) by least squares
//! on throughput, with σ, κ ≥ 0. Pure numbers in, numbers out (no report or run types), so a
//! scaling curve across runs and a fit within one run use the same arithmetic.
//!
//! For fixed σ and κ the model is linear in λ, so λ has a closed form; σ and κ are found by a
//! grid over several decades and then a shrinking pattern search, which stays inside σ, κ ≥ 0
//! without a solver and gives the same answer on every machine.

/// A fitted curve and how well it fits.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// Throughput of one worker.
    pub lambda: f64,
    /// Contention: the share of the work that is serialised.
    pub sigma: f64,
    /// Coherency: the cost of keeping workers consistent, growing with N².
    pub kappa: f64,
    /// 1 − SSE/SST over the points fitted (1 when every point is met exactly).
    pub r2: f64,
    /// Measured minus fitted throughput, one per point, in the order given.
    pub residuals: Vec<f64>,
}

/// Why a curve could not be fitted.
#[derive(Clone, Debug, PartialEq)]
pub enum FitError {
    /// Fewer than three distinct worker counts: three parameters need three.
    TooFewPoints(usize),
    /// A worker count below 1, or a throughput that is not a positive finite number.
    BadPoint { n: f64, x: f64 },
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FitError::TooFewPoints(k) => write!(
                f,
                "a scalability fit needs at least 3 distinct worker counts, got {k}"
            ),
            FitError::BadPoint { n, x } => write!(
                f,
                "point (workers {n}, throughput {x}): workers must be ≥ 1 and throughput a positive number"
            ),
        }
    }
}

impl std::error::Error for FitError {}

/// The model's denominator at N workers.
fn denominator(n: f64, sigma: f64, kappa: f64) -> f64 {
    1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)
}

impl Fit {
    /// Throughput the curve predicts at `n` workers.
    pub fn predict(&self, n: f64) -> f64 {
        self.lambda * n / denominator(n, self.sigma, self.kappa)
    }

    /// N* = sqrt((1−σ)/κ), where throughput peaks; None when it never does (κ = 0, σ < 1).
    pub fn peak_workers(&self) -> Option<f64> {
        if self.sigma >= 1.0 {
            return Some(1.0);
        }
        (self.kappa > 0.0).then(|| ((1.0 - self.sigma) / self.kappa).sqrt())
    }

    /// The highest throughput the curve reaches (at N*), None when it rises without end.
    pub fn peak_throughput(&self) -> Option<f64> {
        self.peak_workers().map(|n| self.predict(n))
    }

    /// The first whole worker count past which adding one more lowers throughput.
    pub fn retrograde_from(&self) -> Option<u64> {
        let n = self.peak_workers()?;
        let (lo, hi) = (n.floor().max(1.0), n.ceil().max(1.0));
        Some(if self.predict(lo) >= self.predict(hi) {
            lo as u64
        } else {
            hi as u64
        })
    }

    /// The fewest workers whose predicted throughput reaches `rate`; None when the curve
    /// never gets there.
    pub fn workers_for(&self, rate: f64) -> Option<u64> {
        if !(rate.is_finite() && rate > 0.0 && self.lambda > 0.0) {
            return None;
        }
        let limit = match self.peak_workers() {
            Some(p) => p.ceil().max(1.0),
            // Rising towards λ/σ without a peak: solved for N, unreachable at λ/σ and above.
            None if rate * self.sigma >= self.lambda => return None,
            None => (rate * (1.0 - self.sigma) / (self.lambda - rate * self.sigma)).ceil() + 1.0,
        };
        (1..=limit.min(1e6) as u64).find(|&n| self.predict(n as f64) >= rate * (1.0 - 1e-12))
    }
}

/// λ minimising the squared error for fixed σ, κ, and that error.
fn best_lambda(points: &[(f64, f64)], sigma: f64, kappa: f64) -> (f64, f64) {
    let g = |n: f64| n / denominator(n, sigma, kappa);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), &(n, x)| {
        (a + x * g(n), b + g(n) * g(n))
    });
    let lambda = num / den;
    let sse = points
        .iter()
        .map(|&(n, x)| (x - lambda * g(n)).powi(2))
        .sum();
    (lambda, sse)
}

/// Fits the curve to `(workers, throughput)` points by least squares with σ, κ ≥ 0.
pub fn fit(points: &[(f64, f64)]) -> Result<Fit, FitError> {
    if let Some(&(n, x)) = points
        .iter()
        .find(|(n, x)| !(n.is_finite() && *n >= 1.0 && x.is_finite() && *x > 0.0))
    {
        return Err(FitError::BadPoint { n, x });
    }
    let mut ns: Vec<f64> = points.iter().map(|p| p.0).collect();
    ns.sort_by(f64::total_cmp);
    ns.dedup();
    if ns.len() < 3 {
        return Err(FitError::TooFewPoints(ns.len()));
    }
    let sse = |s: f64, k: f64| best_lambda(points, s, k).1;
    // Coarse grid: 0 and 10⁻⁶ … 10 on both axes.
    let axis: Vec<f64> = std::iter::once(0.0)
        .chain((0..=35).map(|i| 10f64.powf(-6.0 + i as f64 * 0.2)))
        .collect();
    let mut best = (0.0, 0.0, sse(0.0, 0.0));
    for &s in &axis {
        for &k in &axis {
            let e = sse(s, k);
            if e < best.2 {
                best = (s, k, e);
            }
        }
    }
    // Pattern search in log steps around the best grid point, clamped at zero.
    let (mut s, mut k, mut e) = best;
    let mut step = 0.5f64;
    while step > 1e-9 {
        let mut moved = false;
        for (ds, dk) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
            let ts = (s + ds * step * s.max(1e-7)).max(0.0);
            let tk = (k + dk * step * k.max(1e-9)).max(0.0);
            let te = sse(ts, tk);
            if te < e {
                (s, k, e, moved) = (ts, tk, te, true);
            }
        }
        if !moved {
            step /= 2.0;
        }
    }
    let (lambda, sse) = best_lambda(points, s, k);
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let sst: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let f = Fit {
        lambda,
        sigma: s,
        kappa: k,
        r2: if sst > 0.0 { 1.0 - sse / sst } else { 1.0 },
        residuals: Vec::new(),
    };
    let residuals = points.iter().map(|&(n, x)| x - f.predict(n)).collect();
    Ok(Fit { residuals, ..f })
}

/// Workers needed by the linear rule: ceil(λ·t/U) for a rate λ, a mean service time t and a
/// target utilisation U.
pub fn linear_workers(rate: f64, service_s: f64, utilisation: f64) -> Option<u64> {
    let w = rate * service_s / utilisation;
    (w.is_finite() && w > 0.0).then(|| w.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(lambda: f64, sigma: f64, kappa: f64, ns: &[f64]) -> Vec<(f64, f64)> {
        ns.iter()
            .map(|&n| (n, lambda * n / denominator(n, sigma, kappa)))
            .collect()
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-12)
    }

    #[test]
    fn recovers_a_known_curve_with_contention_and_coherency() {
        let pts = curve(100.0, 0.05, 0.002, &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]);
        let f = fit(&pts).unwrap();
        assert!(close(f.lambda, 100.0, 1e-4), "{f:?}");
        assert!(close(f.sigma, 0.05, 1e-3), "{f:?}");
        assert!(close(f.kappa, 0.002, 1e-3), "{f:?}");
        assert!(f.r2 > 0.999_999, "{f:?}");
        assert!(f.residuals.iter().all(|r| r.abs() < 1e-2), "{f:?}");
        // N* = sqrt(0.95 / 0.002) ≈ 21.79; throughput there is the curve's highest.
        let peak = f.peak_workers().unwrap();
        assert!(close(peak, (0.95f64 / 0.002).sqrt(), 1e-3), "{peak}");
        assert_eq!(f.retrograde_from(), Some(22));
        let top = f.peak_throughput().unwrap();
        assert!(top > f.predict(21.0) - 1e-9 && top > f.predict(23.0));
    }

    #[test]
    fn linear_scaling_fits_zero_sigma_and_kappa_and_never_peaks() {
        let pts = curve(20.0, 0.0, 0.0, &[1.0, 2.0, 4.0, 8.0]);
        let f = fit(&pts).unwrap();
        assert!(close(f.lambda, 20.0, 1e-6), "{f:?}");
        assert!(f.sigma < 1e-6 && f.kappa < 1e-8, "{f:?}");
        assert_eq!(f.peak_workers(), None);
        assert_eq!(f.peak_throughput(), None);
        assert_eq!(f.workers_for(150.0), Some(8));
        assert_eq!(f.workers_for(160.0), Some(8));
        assert_eq!(f.workers_for(161.0), Some(9));
    }

    #[test]
    fn pure_contention_levels_off_without_a_peak() {
        // σ alone: X → λ/σ = 500 as N grows; never retrograde.
        let pts = curve(50.0, 0.1, 0.0, &[1.0, 2.0, 3.0, 5.0, 8.0, 13.0]);
        let f = fit(&pts).unwrap();
        assert!(close(f.sigma, 0.1, 1e-3) && f.kappa < 1e-7, "{f:?}");
        assert_eq!(f.peak_workers(), None);
        assert_eq!(f.workers_for(f.lambda / f.sigma), None);
        assert!(f
            .workers_for(200.0)
            .is_some_and(|n| f.predict(n as f64) >= 200.0));
    }

    #[test]
    fn noisy_points_fit_with_residuals_that_add_back_to_the_data() {
        let mut pts = curve(30.0, 0.03, 0.001, &[1.0, 2.0, 4.0, 6.0, 8.0, 12.0]);
        for (i, p) in pts.iter_mut().enumerate() {
            p.1 *= if i % 2 == 0 { 1.03 } else { 0.97 };
        }
        let f = fit(&pts).unwrap();
        assert!(f.r2 > 0.95 && f.r2 < 1.0, "{f:?}");
        for (p, r) in pts.iter().zip(&f.residuals) {
            assert!(close(f.predict(p.0) + r, p.1, 1e-12));
        }
        // A least-squares fit beats the curve that made the data, before the noise.
        let truth: f64 = pts
            .iter()
            .map(|&(n, x)| (x - 30.0 * n / denominator(n, 0.03, 0.001)).powi(2))
            .sum();
        let got: f64 = f.residuals.iter().map(|r| r * r).sum();
        assert!(got <= truth + 1e-9, "{got} > {truth}");
    }

    #[test]
    fn refuses_too_few_or_bad_points() {
        assert_eq!(
            fit(&[(1.0, 10.0), (2.0, 19.0), (2.0, 20.0)]),
            Err(FitError::TooFewPoints(2))
        );
        assert!(matches!(
            fit(&[(0.0, 10.0), (2.0, 19.0), (4.0, 30.0)]),
            Err(FitError::BadPoint { .. })
        ));
        assert!(matches!(
            fit(&[(1.0, f64::NAN), (2.0, 19.0), (4.0, 30.0)]),
            Err(FitError::BadPoint { .. })
        ));
        assert!(FitError::TooFewPoints(2).to_string().contains("at least 3"));
    }

    #[test]
    fn linear_rule_rounds_up() {
        assert_eq!(linear_workers(100.0, 0.05, 0.7), Some(8));
        assert_eq!(linear_workers(80.0, 0.05, 1.0), Some(4));
        assert_eq!(linear_workers(0.0, 0.05, 0.7), None);
    }
}
