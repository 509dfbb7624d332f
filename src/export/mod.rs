//! Exports of a finished report: the per-plateau table as CSV and JSON (local files, for
//! long-term tracking), the summary pushed to a Prometheus Pushgateway, and annotations and
//! stage onsets posted to Grafana. Remote pushes are retried with backoff a bounded number of
//! times; a failure is reported, never fatal.

pub mod grafana;
pub mod pushgateway;
pub mod table;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::sources::backoff::Backoff;

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
    pub fn validate(&self) -> Result<(), String> {
        for (k, u) in [
            ("export.pushgateway", &self.pushgateway),
            ("export.grafana", &self.grafana),
        ] {
            if let Some(u) = u {
                match reqwest::Url::parse(u) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                    _ => {
                        return Err(format!(
                            "{k}: {u:?} is not an http(s) URL; expected e.g. http://127.0.0.1:9091"
                        ))
                    }
                }
            }
        }
        if self.job.trim().is_empty() {
            return Err("export.job must not be empty".into());
        }
        if self.retries > 10 {
            return Err(format!("export.retries = {}: at most 10", self.retries));
        }
        if self.grafana.is_some()
            && self.grafana_token_env.is_none()
            && self.grafana_token_file.is_none()
        {
            return Err("export.grafana needs a token: set grafana_token_env or grafana_token_file (or --grafana-token-env / --grafana-token-file)".into());
        }
        Ok(())
    }

    fn client(&self) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))
    }
}

/// First delay between attempts; it doubles up to `BACKOFF_MAX`.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(4);

/// Runs `attempt` until it succeeds or `retries` retries have failed; returns the last error
/// and how many attempts were made.
pub async fn with_retries<F, Fut>(retries: u32, mut attempt: F) -> (Result<(), String>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut backoff = Backoff::new(BACKOFF_BASE, BACKOFF_MAX);
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Ok(()) => return (Ok(()), n),
            Err(e) if n > retries => return (Err(e), n),
            Err(_) => tokio::time::sleep(backoff.next_delay()).await,
        }
    }
}

/// A response's status as an error unless 2xx, with the start of its body.
pub async fn check_status(resp: reqwest::Response) -> Result<(), String> {
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    let body = crate::text::clean(body.trim());
    let body: String = body.chars().take(200).collect();
    Err(format!("HTTP {status}: {body}"))
}

/// Every configured remote export, in turn; one result object per target.
pub async fn push_all(report: &Json, cfg: &ExportConfig) -> Vec<Json> {
    let mut out = Vec::new();
    if cfg.pushgateway.is_none() && cfg.grafana.is_none() {
        return out;
    }
    let client = match cfg.client() {
        Ok(c) => c,
        Err(e) => {
            return vec![
                json!({"target": "http", "url": "", "ok": false, "attempts": 0, "error": e}),
            ]
        }
    };
    if let Some(url) = &cfg.pushgateway {
        out.push(pushgateway::push(&client, url, report, cfg).await);
    }
    if let Some(url) = &cfg.grafana {
        out.push(grafana::post_all(&client, url, report, cfg).await);
    }
    out
}

/// `base` without trailing slashes followed by `path`.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}
