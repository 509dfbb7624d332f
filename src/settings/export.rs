//! `[export]`: where the finished report is pushed (a Pushgateway, Grafana annotations).

use super::ConfigError;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[export]` in the config; `--pushgateway`, `--grafana`, `--grafana-token-env`,
/// `--grafana-token-file` and `--environment` override it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// Pushgateway base URL, e.g. http://127.0.0.1:9091.
    pub pushgateway: Option<String>,
    /// Job label of the pushed group.
    pub job: String,
    /// `environment` label of the pushed group (e.g. staging).
    pub environment: Option<String>,
    /// Grafana base URL, e.g. http://127.0.0.1:3000.
    pub grafana: Option<String>,
    /// Where the Grafana service-account token is read from (never a flag's value).
    pub grafana_token_env: Option<String>,
    pub grafana_token_file: Option<PathBuf>,
    /// Put the annotations on this dashboard (else they are organisation-wide).
    pub grafana_dashboard_uid: Option<String>,
    /// Retries after a failed push (with backoff), per request.
    pub retries: u32,
    /// Timeout of each request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            pushgateway: None,
            job: "slitop".into(),
            environment: None,
            grafana: None,
            grafana_token_env: None,
            grafana_token_file: None,
            grafana_dashboard_uid: None,
            retries: 3,
            timeout: Duration::from_secs(5),
        }
    }
}

impl ExportConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (k, u) in [
            ("export.pushgateway", &self.pushgateway),
            ("export.grafana", &self.grafana),
        ] {
            if let Some(u) = u {
                match reqwest::Url::parse(u) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                    _ => {
                        return Err(ConfigError::Other(format!(
                            "{k}: {u:?} is not an http(s) URL; expected e.g. http://127.0.0.1:9091"
                        )))
                    }
                }
            }
        }
        if self.job.trim().is_empty() {
            return Err(ConfigError::Other("export.job must not be empty".into()));
        }
        if self.retries > 10 {
            return Err(ConfigError::Other(format!(
                "export.retries = {}: at most 10",
                self.retries
            )));
        }
        if self.grafana.is_some()
            && self.grafana_token_env.is_none()
            && self.grafana_token_file.is_none()
        {
            return Err(ConfigError::Other("export.grafana needs a token: set grafana_token_env or grafana_token_file (or --grafana-token-env / --grafana-token-file)".into()));
        }
        Ok(())
    }
}
