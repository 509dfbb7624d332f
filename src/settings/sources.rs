//! Source settings: where each source reads from and how it authenticates. Secrets are named
//! here (an environment variable or a file), never held.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Auth and TLS settings of an HTTP endpoint (Prometheus API or a /metrics URL).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpAuth {
    /// Environment variable holding a bearer token.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub basic_user: Option<String>,
    #[serde(default)]
    pub basic_password_env: Option<String>,
    #[serde(default)]
    pub basic_password_file: Option<PathBuf>,
    /// PEM file with the CA(s) that signed the server's certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Prints a warning at start.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Extra request headers, e.g. `X-Scope-OrgID` for Mimir.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL, e.g. `http://127.0.0.1:9090` or `https://mimir.example/prometheus`.
    pub url: String,
    #[serde(default)]
    pub auth: HttpAuth,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// `/metrics` URLs, e.g. `http://127.0.0.1:8080/metrics`.
    #[serde(default)]
    pub urls: Vec<String>,
    /// `job` label given to every scraped series (as a Prometheus scrape job would).
    #[serde(default = "d_job")]
    pub job: String,
    /// A larger body is refused.
    #[serde(default = "d_max_bytes")]
    pub max_bytes: u64,
    /// Ask for OpenMetrics instead of text 0.0.4.
    #[serde(default)]
    pub openmetrics: bool,
    #[serde(default)]
    pub auth: HttpAuth,
}

fn d_job() -> String {
    "scrape".into()
}

fn d_max_bytes() -> u64 {
    32 * 1024 * 1024
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValkeyConfig {
    /// `redis://`, `rediss://` (TLS), `valkey://`, `valkeys://`.
    pub url: String,
    /// ACL user.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub streams: Vec<String>,
    /// Groups to watch; empty means every group of each stream.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Cluster mode: each stream is read from the node that owns its key.
    #[serde(default)]
    pub cluster: bool,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct K6Config {
    /// REST API base URLs, e.g. `http://127.0.0.1:6565`.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Files written by `k6 run --out json=FILE`, tailed as they grow.
    #[serde(default)]
    pub json_files: Vec<PathBuf>,
    /// Window of the client-side percentiles computed from the JSON output.
    #[serde(default = "d_window", with = "humantime_serde")]
    pub window: Duration,
}

fn d_window() -> Duration {
    Duration::from_secs(30)
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            job: d_job(),
            max_bytes: d_max_bytes(),
            openmetrics: false,
            auth: HttpAuth::default(),
        }
    }
}

impl Default for K6Config {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            json_files: Vec::new(),
            window: d_window(),
        }
    }
}

impl ValkeyConfig {
    /// A source at `url` with every other setting at its default.
    pub fn at(url: &str) -> Self {
        Self {
            url: url.to_string(),
            username: None,
            password_env: None,
            password_file: None,
            streams: Vec::new(),
            groups: Vec::new(),
            cluster: false,
            ca_file: None,
            insecure_skip_verify: false,
        }
    }
}
