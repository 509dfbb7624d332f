//! Settings: plain structs for everything a run is configured with (sources, signals, detector,
//! report, gates, exports), read from TOML files (a preset, the user's file) layered under
//! command-line flags and validated into one `Config`. Errors name the file, line, column and
//! field and say what was expected. A leaf: it imports nothing of slitop but the shared model.

mod detect;
mod export;
mod flags;
mod gates;
pub mod recording;
mod report;
mod signal;
mod slo;
mod sources;

pub use detect::{DetectConfig, LoadModel};
pub use export::ExportConfig;
pub use flags::{build_config, report_settings, ExportFlags, ReportSettings, RunMeta, SourceFlags};
pub use gates::{parse_fraction, GatesConfig};
pub use report::ReportConfig;
pub use signal::{
    parse_adhoc, query_identifiers, wanted_series, Band, Direction, Group, QuerySource, Role,
    SignalDef, Unit,
};
pub use slo::{Cmp, Slo, ThresholdKind, Warmup};
pub use sources::{HttpAuth, K6Config, PrometheusConfig, ScrapeConfig, ValkeyConfig};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Presets shipped under `config/`, embedded so the binary works from anywhere.
pub const PRESETS: &[(&str, &str)] = &[
    ("valkey-hop", include_str!("../../config/valkey-hop.toml")),
    ("nvcf", include_str!("../../config/nvcf.toml")),
    ("gofr", include_str!("../../config/gofr.toml")),
    ("axonflow", include_str!("../../config/axonflow.toml")),
    ("k6", include_str!("../../config/k6.toml")),
];

/// Signal sets added whenever a Valkey or k6 source is configured.
pub const SIGNALS_VALKEY: &str = include_str!("../../config/signals-valkey.toml");
pub const SIGNALS_K6: &str = include_str!("../../config/signals-k6.toml");

/// The commented template printed by `--print-config-template`; a test keeps it equal to the defaults.
pub const TEMPLATE: &str = include_str!("../../config/template.toml");

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How often every source is polled and every signal evaluated.
    #[serde(default = "d_refresh", with = "humantime_serde")]
    pub refresh: Duration,
    /// Visible time window (charts, back-fill).
    #[serde(default = "d_window", with = "humantime_serde")]
    pub window: Duration,
    /// Instant-selector lookback for local evaluation, as Prometheus's `--query.lookback-delta`.
    #[serde(default = "d_lookback", with = "humantime_serde")]
    pub lookback: Duration,
    /// Per-request timeout of every source; default: twice the refresh, between 1 s and 10 s.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Longest retry delay while a source is down.
    #[serde(default = "d_backoff_max", with = "humantime_serde")]
    pub backoff_max: Duration,
    #[serde(default)]
    pub prometheus: Option<PrometheusConfig>,
    #[serde(default)]
    pub scrape: Option<ScrapeConfig>,
    #[serde(default)]
    pub valkey: Option<ValkeyConfig>,
    #[serde(default)]
    pub k6: Option<K6Config>,
    #[serde(default, rename = "signal")]
    pub signals: Vec<SignalDef>,
    /// Saturation detector thresholds, hold times and windows.
    #[serde(default)]
    pub detect: DetectConfig,
    /// Pass/fail limits of a run; any failure makes the exit code 3.
    #[serde(default)]
    pub gates: GatesConfig,
    /// How the end-of-run report finds load plateaus.
    #[serde(default)]
    pub report: ReportConfig,
    /// Where the report is pushed: a Pushgateway, Grafana annotations.
    #[serde(default)]
    pub export: ExportConfig,
}

fn d_refresh() -> Duration {
    Duration::from_secs(1)
}
fn d_window() -> Duration {
    Duration::from_secs(60)
}
fn d_lookback() -> Duration {
    Duration::from_secs(300)
}
fn d_backoff_max() -> Duration {
    Duration::from_secs(10)
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("empty config deserializes to defaults")
    }
}

/// The longest refresh: a monitor that looks once an hour watches nothing, and the run
/// multiplies the refresh (windows, timeouts, staleness), which a duration near 2^64 s overflows.
const MAX_REFRESH: Duration = Duration::from_secs(3600);

impl Config {
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or_else(|| {
            (self.refresh.saturating_mul(2)).clamp(Duration::from_secs(1), Duration::from_secs(10))
        })
    }

    /// Checks what serde cannot: ranges, duplicate names, URL shapes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.refresh < Duration::from_millis(50) {
            return Err(ConfigError::Other(format!(
                "refresh {} is too short: at least 50ms",
                humantime::format_duration(self.refresh)
            )));
        }
        if self.refresh > MAX_REFRESH {
            return Err(ConfigError::Other(format!(
                "refresh {} is too long: at most {}",
                humantime::format_duration(self.refresh),
                humantime::format_duration(MAX_REFRESH)
            )));
        }
        if self.window < self.refresh * 2 {
            return Err(ConfigError::Other(
                "window must be at least two refresh intervals".into(),
            ));
        }
        self.detect.validate()?;
        self.gates.validate()?;
        self.report.validate()?;
        self.export.validate()?;
        let mut seen = BTreeMap::new();
        for s in &self.signals {
            s.validate()?;
            if seen.insert(s.name.as_str(), ()).is_some() {
                return Err(ConfigError::Other(format!(
                    "signal {:?} is defined twice",
                    s.name
                )));
            }
        }
        if let Some(p) = &self.prometheus {
            check_http_url(&p.url, "prometheus.url")?;
        }
        if let Some(s) = &self.scrape {
            for u in &s.urls {
                check_http_url(u, "scrape.urls")?;
            }
        }
        Ok(())
    }
}

fn check_http_url(u: &str, field: &str) -> Result<(), ConfigError> {
    match reqwest::Url::parse(u) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
        Ok(url) => Err(ConfigError::Other(format!(
            "{field}: {u:?} has scheme {:?}; expected http or https",
            url.scheme()
        ))),
        Err(e) => Err(ConfigError::Other(format!(
            "{field}: {u:?} is not a URL ({e}); expected e.g. http://127.0.0.1:9090"
        ))),
    }
}

/// A configuration error located in a file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}:{column}: {field}{message}")]
    At {
        file: String,
        line: usize,
        column: usize,
        /// Dotted path of the field, with ": " appended, or empty.
        field: String,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

/// Messages of settings checks: the check says what is wrong and what was expected.
impl From<String> for ConfigError {
    fn from(m: String) -> Self {
        ConfigError::Other(m)
    }
}

/// Parses one TOML document into a `Config`, locating errors in `file`.
pub fn parse_config(text: &str, file: &str) -> Result<Config, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| locate(text, file, "", &e))?;
    let cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            String::new()
        } else {
            format!("field `{path}`: ")
        };
        locate(text, file, &field, e.inner())
    })?;
    cfg.validate()
        .map_err(|m| ConfigError::Other(format!("{file}: {m}")))?;
    Ok(cfg)
}

fn locate(text: &str, file: &str, field: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
    ConfigError::At {
        file: file.to_string(),
        line,
        column,
        field: field.to_string(),
        message: e.message().trim().to_string(),
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

pub fn preset_text(name: &str) -> Result<&'static str, ConfigError> {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<_> = PRESETS.iter().map(|(n, _)| *n).collect();
            ConfigError::Other(format!(
                "unknown preset {name:?}; available: {}",
                names.join(", ")
            ))
        })
}

/// The user's config file: `--config`, else `$XDG_CONFIG_HOME/slitop/config.toml` when it exists.
pub fn find_config_file(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let p = dirs::config_dir()?.join("slitop").join("config.toml");
    p.is_file().then_some(p)
}

/// Layers TOML documents (earlier = lower priority): tables merge key by key, arrays are
/// replaced, except `[[signal]]` entries which merge by name so a file can retune one signal.
pub fn load_layers(layers: &[(String, String)]) -> Result<Config, ConfigError> {
    let mut merged = toml::Table::new();
    for (file, text) in layers {
        // Validate each layer alone first, so errors point into the right file.
        parse_config(text, file)?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| locate(text, file, "", &e))?;
        merge_tables(&mut merged, table);
    }
    let text = toml::to_string(&merged).map_err(|e| ConfigError::Other(e.to_string()))?;
    parse_config(&text, "merged configuration")
}

fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (Some(toml::Value::Array(b)), toml::Value::Array(o)) if k == "signal" => {
                for sig in o {
                    let name = sig.get("name").cloned();
                    match b
                        .iter_mut()
                        .find(|s| s.get("name") == name.as_ref() && name.is_some())
                    {
                        Some(existing) => *existing = sig,
                        None => b.push(sig),
                    }
                }
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzzing harness (the template with its refresh changed): twice a refresh of
    /// 2^64 − 1 seconds overflowed while validating, a panic instead of an error.
    #[test]
    fn a_refresh_too_long_to_double_is_an_error_not_a_panic() {
        let text = "# slitop configuration. Every value shown is the default; uncomment and edit what you need.\n# Load it with `slitop --config FILE`, or put it at $XDG_CONFIG_HOME/slitop/config.toml.\n# Flags override the file; `--preset NAME` loads one of the shipped presets underneath it.\n\nrefresh = \"18446744073709551615s\"\n# Visible time window of the charts, and how much history is back-filled from Prometheus.\nwindow = \"1m\"\n# (Prometheus's --query.lookback-delta).\n# Per-request timeout of every source. Unset: twice the refresh, between 1s and 10s.\n\n# A Prometheus-compatible HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir).\n";
        let e = parse_config(text, "fuzz.toml").unwrap_err().to_string();
        assert!(
            e.contains("refresh") && e.contains("too long: at most 1h"),
            "{e}"
        );
        let hour = parse_config("refresh = \"1h\"\nwindow = \"3h\"\n", "ok.toml").unwrap();
        assert_eq!(hour.timeout(), Duration::from_secs(10));
    }

    #[test]
    fn template_equals_defaults_and_presets_parse() {
        let t = parse_config(TEMPLATE, "template.toml").unwrap();
        assert_eq!(t, Config::default());
        for (name, text) in PRESETS {
            let c = parse_config(text, name).unwrap_or_else(|e| panic!("preset {name}: {e}"));
            assert!(!c.signals.is_empty(), "preset {name} has no signals");
        }
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        let e = parse_config("refresh = \"1s\"\nrefrsh = \"2s\"\n", "my.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("my.toml:2:1: "), "{e}");
        assert!(e.contains("unknown field `refrsh`"), "{e}");
        let e = parse_config("refresh = \"soon\"\n", "my.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("my.toml:1:11: field `refresh`: "), "{e}");
        let e = parse_config(
            "[[signal]]\nname = \"x\"\ngroup = \"leadin\"\nquery = \"up\"\n",
            "s.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("s.toml:3:9") && e.contains("signal[0].group") && e.contains("leading"),
            "{e}"
        );
        let e = parse_config("refresh = [1,\n", "bad.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad.toml:"), "{e}");
        let e = parse_config("[prometheus]\nurl = \"localhost:9090\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected http or https") || e.contains("is not a URL"),
            "{e}"
        );
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let e = preset_text("nope").unwrap_err().to_string();
        assert!(
            e.contains("unknown preset \"nope\"") && e.contains("valkey-hop"),
            "{e}"
        );
    }

    #[test]
    fn layers_merge_tables_and_signals_by_name() {
        let base = "refresh = \"2s\"\n[[signal]]\nname = \"a\"\ngroup = \"leading\"\nquery = \"x\"\n[[signal]]\nname = \"b\"\ngroup = \"leading\"\nquery = \"y\"\n";
        let over = "window = \"5m\"\n[[signal]]\nname = \"a\"\ngroup = \"lagging\"\nquery = \"z\"\nwarn = 1.0\n";
        let c = load_layers(&[("base".into(), base.into()), ("over".into(), over.into())]).unwrap();
        assert_eq!(c.refresh, Duration::from_secs(2));
        assert_eq!(c.window, Duration::from_secs(300));
        assert_eq!(c.signals.len(), 2);
        assert_eq!(c.signals[0].query, "z");
        assert_eq!(c.signals[1].query, "y");
    }
}
