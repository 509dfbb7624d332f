//! Remote exports of a finished report: the summary pushed to a Prometheus Pushgateway, and
//! annotations and stage onsets posted to Grafana; and `finish`, the end of a run, which
//! writes every local file before trying them. Pushes are retried with backoff a bounded
//! number of times; a failure is reported, never fatal, and never loses the local files.
//! Exports read the typed `Report`; the report knows nothing of them.

pub mod grafana;
pub mod pushgateway;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::report::data::ExportResult;
use crate::report::{write_local, write_report_files, Inputs, Outcome, Report};
use crate::settings::{ExportConfig, ReportSettings};

/// One HTTP client for every push, with the export's timeout on connect and on each request.
fn client(cfg: &ExportConfig) -> Result<reqwest::Client, String> {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(crate::secret::redirect_policy())
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// First delay between attempts; it doubles up to `BACKOFF_MAX`.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(4);

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
pub struct Failed {
    pub text: String,
    pub retry: bool,
}

impl Failed {
    /// A request that got no answer. `idempotent`: sending it twice does no harm (a PUT);
    /// a POST that timed out may have been applied, so it is not sent again (Grafana would
    /// show the mark twice), while one that never connected is.
    pub fn request(e: &reqwest::Error, idempotent: bool) -> Self {
        Failed {
            text: format!("{e}"),
            retry: idempotent || e.is_connect(),
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good (a 4xx: the same request would be refused
/// again) or `retries` retries have failed; returns the last error and the attempts made.
pub async fn with_retries<F, Fut>(retries: u32, mut attempt: F) -> (Result<(), String>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Failed>>,
{
    let mut backoff = Backoff::new(BACKOFF_BASE, BACKOFF_MAX);
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Ok(()) => return (Ok(()), n),
            Err(e) if n > retries || !e.retry => return (Err(e.text), n),
            Err(_) => tokio::time::sleep(backoff.next_delay()).await,
        }
    }
}

/// A response's status as an error unless 2xx, with the start of its body (read up to 64
/// KiB). A 4xx other than 408 and 429 is final.
pub async fn check_status(mut resp: reqwest::Response) -> Result<(), Failed> {
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > 64 * 1024 {
            break;
        }
    }
    let body = crate::text::clean(String::from_utf8_lossy(&body).trim());
    let body: String = body.chars().take(200).collect();
    let code = status.as_u16();
    Err(Failed {
        text: format!("HTTP {status}: {body}"),
        retry: !(400..500).contains(&code) || code == 408 || code == 429,
    })
}

/// A target given up on before any request was made.
fn refused(target: &str, url: &str, error: String) -> ExportResult {
    ExportResult {
        target: target.into(),
        url: url.into(),
        ok: false,
        attempts: 0,
        error: Some(error),
        ..ExportResult::default()
    }
}

/// Every configured remote export, in turn; one result per target.
pub async fn push_all(report: &Report, cfg: &ExportConfig) -> Vec<ExportResult> {
    let mut out = Vec::new();
    if cfg.pushgateway.is_none() && cfg.grafana.is_none() {
        return out;
    }
    let client = match client(cfg) {
        Ok(c) => c,
        Err(e) => return vec![refused("http", "", e)],
    };
    let deadline = tokio::time::Instant::now() + EXPORT_BOUND;
    if let Some(url) = &cfg.pushgateway {
        let push = pushgateway::push(&client, url, report, cfg);
        out.push(bounded("pushgateway", url, deadline, push).await);
    }
    if let Some(url) = &cfg.grafana {
        let post = grafana::post_all(&client, url, report, cfg);
        out.push(bounded("grafana", url, deadline, post).await);
    }
    // What is kept of a push (report.json, report.md, the message on stderr) shows no secret.
    for r in &mut out {
        r.url = crate::text::redact_url(&r.url);
        r.error = r.error.as_deref().map(crate::text::redact_text);
    }
    out
}

/// The longest the exports of a run may take in all (every try, every backoff): a run's end
/// never waits minutes on an unreachable Grafana.
pub const EXPORT_BOUND: Duration = Duration::from_secs(60);

/// A target's export, given up at `deadline`.
async fn bounded(
    target: &str,
    url: &str,
    deadline: tokio::time::Instant,
    export: impl Future<Output = ExportResult>,
) -> ExportResult {
    match tokio::time::timeout_at(deadline, export).await {
        Ok(r) => r,
        Err(_) => refused(
            target,
            url,
            format!(
                "given up: the exports ran past the {} s they may take in all",
                EXPORT_BOUND.as_secs()
            ),
        ),
    }
}

/// `base` without trailing slashes followed by `path`.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The end of a run: every local file first, then the exports (retried, never fatal), whose
/// results are added to report.json and report.md.
pub async fn finish(dir: &Path, i: &Inputs<'_>, opts: &ReportSettings) -> anyhow::Result<Outcome> {
    finish_unless(dir, i, opts, std::future::pending()).await
}

/// `finish`, whose exports are abandoned when `stop` resolves first (a second Ctrl-C): the
/// local files are written before any export starts, so nothing of the run is lost.
pub async fn finish_unless(
    dir: &Path,
    i: &Inputs<'_>,
    opts: &ReportSettings,
    stop: impl Future<Output = &'static str>,
) -> anyhow::Result<Outcome> {
    let mut report = write_local(dir, i, opts)?;
    let results = tokio::select! {
        r = push_all(&report, &opts.export) => r,
        why = stop => {
            eprintln!("slitop: {why}: exports abandoned; the local files are written");
            Vec::new()
        }
    };
    if !results.is_empty() {
        for r in results.iter().filter(|r| !r.ok) {
            eprintln!(
                "slitop: export to {} {} failed after {} attempt(s): {} (local files are kept)",
                r.target,
                r.url,
                r.attempts,
                r.error.as_deref().unwrap_or("?")
            );
        }
        report.exports = results;
        write_report_files(dir, &report)?;
    }
    Ok(Outcome {
        dir: dir.to_path_buf(),
        report,
    })
}
