//! `[detect]`: the saturation detector's thresholds, hold times and windows.

use super::ConfigError;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which kind of load drives the test; `auto` decides from what the sources report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadModel {
    #[default]
    Auto,
    /// Arrival-rate tests: load is the offered rate; decoupling is achieved/offered < ratio.
    Open,
    /// VU tests: load is the VU count; decoupling is throughput per VU falling off its healthy level.
    Closed,
}

/// Thresholds, hold times and windows; every preset may set them under `[detect]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    pub load_model: LoadModel,
    /// A condition must hold this long before its stage turns active.
    #[serde(with = "humantime_serde")]
    pub hold: Duration,
    /// An active stage clears after its condition has been gone this long.
    #[serde(with = "humantime_serde")]
    pub clear_hold: Duration,
    /// Span of the Theil–Sen trends of load and throughput.
    #[serde(with = "humantime_serde")]
    pub trend_window: Duration,
    /// Span of the backlog and in-flight trends (shorter: they react without a rate window).
    #[serde(with = "humantime_serde")]
    pub backlog_window: Duration,
    /// Below this throughput (req/s) nothing is judged.
    pub min_rate: f64,
    /// Open loop: decoupled when achieved/offered falls below this...
    pub decouple_ratio: f64,
    /// ...and the shortfall is at least this many req/s (guards low-rate noise).
    pub min_shortfall: f64,
    /// Closed loop: decoupled when throughput per VU (over the VUs its rate window averaged)
    /// falls below this share of its healthy level: flat while healthy, so the same bar as
    /// `decouple_ratio`...
    pub efficiency_drop: f64,
    /// ...while VUs grew by at least this factor since it was last met, from at least `min_vus`
    /// (in arrival-rate tests k6's VUs are the client's concurrency, tiny and jumpy when healthy).
    pub vu_growth: f64,
    pub min_vus: f64,
    /// Backlog (stream lag or length, or in-flight requests) smaller than this is never "piling up".
    pub min_backlog: f64,
    /// Residence time (in-flight ÷ throughput) this many times its best means work piles up.
    pub residence_factor: f64,
    /// Load counts as rising when its trend exceeds this fraction of its level per second.
    pub min_load_growth: f64,
    /// `rate_rises`: throughput's trend over the trend window above this fraction per second.
    pub rise_growth: f64,
    /// Plateau: throughput's relative trend below this share of the load's.
    pub plateau_ratio: f64,
    /// p95 (s) above which `p95_high` is flagged, and the level reported as past saturation.
    pub p95_warn: f64,
    pub p95_crit: f64,
    /// p95 this many times its best also counts as high, when above `p95_floor` seconds.
    pub p95_baseline_factor: f64,
    pub p95_floor: f64,
    /// Target utilisation for `workers_needed`.
    pub utilisation: f64,
    /// Client p95 more than this many times the server's suggests the network or load generator.
    pub divergence_factor: f64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            load_model: LoadModel::Auto,
            hold: Duration::from_secs(2),
            clear_hold: Duration::from_secs(10),
            trend_window: Duration::from_secs(20),
            backlog_window: Duration::from_secs(6),
            min_rate: 1.0,
            decouple_ratio: 0.95,
            min_shortfall: 1.0,
            efficiency_drop: 0.95,
            vu_growth: 1.1,
            min_vus: 5.0,
            min_backlog: 5.0,
            residence_factor: 2.0,
            min_load_growth: 0.004,
            rise_growth: 0.01,
            plateau_ratio: 0.25,
            p95_warn: 0.5,
            p95_crit: 2.0,
            p95_baseline_factor: 5.0,
            p95_floor: 0.05,
            utilisation: 0.7,
            divergence_factor: 3.0,
        }
    }
}

impl DetectConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let unit = |v: f64, f: &str| {
            if v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(ConfigError::Other(format!(
                    "detect.{f} = {v}: expected a fraction in (0, 1]"
                )))
            }
        };
        unit(self.decouple_ratio, "decouple_ratio")?;
        unit(self.efficiency_drop, "efficiency_drop")?;
        unit(self.utilisation, "utilisation")?;
        unit(self.plateau_ratio, "plateau_ratio")?;
        if self.p95_crit < self.p95_warn {
            return Err(ConfigError::Other(format!(
                "detect.p95_crit = {} is below detect.p95_warn = {}",
                self.p95_crit, self.p95_warn
            )));
        }
        if self.trend_window < Duration::from_secs(2)
            || self.backlog_window < Duration::from_secs(2)
        {
            return Err(ConfigError::Other(
                "detect.trend_window and detect.backlog_window must be at least 2s".into(),
            ));
        }
        Ok(())
    }
}
