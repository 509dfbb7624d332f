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
        };
        Duration::from_secs_f64(s.max(0.0))
    }
}
