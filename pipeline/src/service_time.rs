//! How long a worker spends on one job.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Distribution {
    /// Exactly the service time (± jitter uniformly).
    Fixed,
    /// Uniform in [service − jitter, service + jitter].
    Uniform,
    /// Exponential with the service time as mean (jitter ignored).
    Exponential,
    /// Log-normal with the service time as mean and the jitter as standard deviation: a
    /// heavy tail (at a deviation twice the mean, the median is under half the mean and one
    /// job in a hundred takes eight times it).
    Lognormal,
}

#[derive(Clone, Copy, Debug)]
pub struct ServiceTime {
    pub mean: Duration,
    pub jitter: Duration,
    pub dist: Distribution,
}

impl ServiceTime {
    pub fn sample(&self) -> Duration {
        let mean = self.mean.as_secs_f64();
        let j = self.jitter.as_secs_f64();
        let s = match self.dist {
            Distribution::Fixed if j == 0.0 => mean,
            Distribution::Fixed | Distribution::Uniform => mean + (fastrand::f64() * 2.0 - 1.0) * j,
            Distribution::Exponential => -mean * (1.0 - fastrand::f64()).ln(),
            Distribution::Lognormal => lognormal(mean, j),
        };
        Duration::from_secs_f64(s.max(0.0))
    }
}

/// A log-normal draw with this mean and standard deviation (Box–Muller for the normal).
fn lognormal(mean: f64, sd: f64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    let var = (1.0 + (sd / mean).powi(2)).ln();
    let mu = mean.ln() - var / 2.0;
    let (u1, u2) = (1.0 - fastrand::f64(), fastrand::f64());
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (mu + var.sqrt() * z).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_draws_have_the_mean_and_the_tail_asked_for() {
        fastrand::seed(7);
        let n = 200_000;
        let mut xs: Vec<f64> = (0..n).map(|_| lognormal(0.1, 0.2)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.1).abs() < 0.004, "mean {mean}");
        xs.sort_by(f64::total_cmp);
        // ln(1 + 2²) = ln 5: median = mean / √5, p99 = median × e^(2.326 √ln 5).
        let median = xs[n / 2];
        assert!(
            (median - 0.1 / 5f64.sqrt()).abs() < 0.002,
            "median {median}"
        );
        let p99 = xs[n * 99 / 100];
        let want = 0.1 / 5f64.sqrt() * (2.326 * 5f64.ln().sqrt()).exp();
        assert!((p99 - want).abs() / want < 0.05, "p99 {p99} want {want}");
    }
}
