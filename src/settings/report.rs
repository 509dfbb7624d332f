//! `[report]`: how the end-of-run report finds load plateaus and judges a baseline's changes.

use super::ConfigError;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[report]` in the config: how plateaus are found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// A plateau: the load stays within this share of its level...
    pub plateau_tolerance: f64,
    /// ...for at least this long.
    #[serde(with = "humantime_serde")]
    pub plateau_min: Duration,
    /// A change against a baseline within this share is noise (widened to the runs' own).
    pub compare_noise: f64,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            plateau_tolerance: 0.05,
            plateau_min: Duration::from_secs(10),
            compare_noise: 0.05,
        }
    }
}

impl ReportConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.plateau_tolerance > 0.0 && self.plateau_tolerance < 1.0) {
            return Err(ConfigError::Other(format!(
                "report.plateau_tolerance = {}: expected a share in (0, 1), e.g. 0.05",
                self.plateau_tolerance
            )));
        }
        if !(self.compare_noise >= 0.0 && self.compare_noise < 1.0) {
            return Err(ConfigError::Other(format!(
                "report.compare_noise = {}: expected a share in [0, 1), e.g. 0.05",
                self.compare_noise
            )));
        }
        if self.plateau_min < Duration::from_secs(2) {
            return Err(ConfigError::Other(
                "report.plateau_min must be at least 2s".into(),
            ));
        }
        Ok(())
    }
}
