//! `[gates]`: pass/fail limits of a run, from the config (per preset) or flags.

use super::slo::{Slo, Warmup};
use super::ConfigError;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatesConfig {
    /// Largest share of failed requests over the loaded run (0.01 or "1%").
    #[serde(
        deserialize_with = "de_fraction",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_error_rate: Option<f64>,
    /// p95 / p99 SLO over the loaded run.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub p95: Option<Duration>,
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub p99: Option<Duration>,
    /// The backlog must drain within this long of its peak.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub drain: Option<Duration>,
    /// Knee (lower) or p95 (higher) worse than the baseline report's by more than this share.
    #[serde(
        deserialize_with = "de_fraction",
        skip_serializing_if = "Option::is_none"
    )]
    pub regression: Option<f64>,
    /// p95 of the last quarter of the run above the first quarter's by more than this share.
    #[serde(
        deserialize_with = "de_fraction",
        skip_serializing_if = "Option::is_none"
    )]
    pub soak_drift: Option<f64>,
    /// The report.json to compare against for `regression`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<PathBuf>,
    /// SLO gates over the seconds of the loaded run, e.g. "client_p95<500ms@99%".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slo: Vec<Slo>,
    /// Left out of the SLO gates: "30s" from the start of the loaded run, or "plateau".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Warmup>,
}

/// A share as a number (0.1) or a percentage string ("10%").
pub fn parse_fraction(s: &str) -> Result<f64, ConfigError> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("{s:?} is not a share: expected e.g. 0.05 or 5%"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(ConfigError::Other(format!(
            "{s:?}: expected a share of at least 0"
        )));
    }
    Ok(v)
}

fn de_fraction<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Num(v)) => parse_fraction(&v.to_string())
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(Raw::Text(s)) => parse_fraction(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

impl GatesConfig {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(e) = self.max_error_rate {
            if e > 1.0 {
                return Err(ConfigError::Other(format!(
                    "gates.max_error_rate = {e}: a share of requests is at most 1 (100%)"
                )));
            }
        }
        for (k, v) in [
            ("regression", self.regression),
            ("soak_drift", self.soak_drift),
        ] {
            if v == Some(0.0) {
                return Err(ConfigError::Other(format!(
                    "gates.{k} = 0: every run would fail; use a share above 0"
                )));
            }
        }
        for (k, v) in [("p95", self.p95), ("p99", self.p99)] {
            if v == Some(Duration::ZERO) {
                return Err(ConfigError::Other(format!(
                    "gates.{k} = 0s: every run would fail"
                )));
            }
        }
        Ok(())
    }

    /// After every layer is applied: settings that need each other are both there.
    pub fn check_complete(&self) -> Result<(), ConfigError> {
        if self.regression.is_some() && self.baseline.is_none() {
            return Err(ConfigError::Other(
                "gates.regression needs a baseline report: set gates.baseline or pass --baseline FILE"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `over`'s settings replace these where given.
    pub fn overlay(&mut self, over: &GatesConfig) {
        macro_rules! take {
            ($($f:ident),*) => {$(if over.$f.is_some() { self.$f = over.$f.clone(); })*};
        }
        take!(
            max_error_rate,
            p95,
            p99,
            drain,
            regression,
            soak_drift,
            baseline,
            warmup
        );
        if !over.slo.is_empty() {
            self.slo = over.slo.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_as_numbers_or_percentages() {
        assert_eq!(parse_fraction("10%").unwrap(), 0.1);
        assert_eq!(parse_fraction("0.25").unwrap(), 0.25);
        assert!(parse_fraction("ten")
            .unwrap_err()
            .to_string()
            .contains("expected e.g. 0.05 or 5%"));
        assert!(parse_fraction("-1%").is_err());
    }
}
