//! Annotations and stage onsets posted to Grafana's annotations API, so the team's dashboard
//! shows the same marks: `POST /api/annotations` with `Authorization: Bearer <token>` and
//! `{"time": ms, "tags": ["slitop", <stage id or "annotation">], "text": ...}` (plus
//! `dashboardUID` when configured). Each request is retried on its own, but never after a
//! 4xx, nor after a timeout (the mark may have been stored: a retry would show it twice).

use serde::Serialize;

use super::{check_status, join, refused, with_retries};
use crate::report::data::{ExportResult, Report};
use crate::settings::ExportConfig;

/// One annotation as Grafana's API takes it. Fields in key order, so the body's bytes are
/// those of a sorted JSON object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Annotation {
    #[serde(rename = "dashboardUID", skip_serializing_if = "Option::is_none")]
    pub dashboard_uid: Option<String>,
    pub tags: [String; 2],
    pub text: String,
    pub time: i64,
}

/// The annotation bodies for a report, in time order: every reached stage's onset and every
/// user annotation.
pub fn bodies(report: &Report, cfg: &ExportConfig) -> Vec<Annotation> {
    let mark = |time: i64, tag: &str, text: String| Annotation {
        dashboard_uid: cfg.grafana_dashboard_uid.clone(),
        tags: ["slitop".into(), tag.into()],
        text,
        time,
    };
    let mut out = Vec::new();
    for st in &report.stages {
        let Some(t) = st.onset_unix_ms else {
            continue;
        };
        let id = st.id.id();
        let mut text = format!("slitop: stage {} {id}", st.number);
        if let Some(e) = &st.evidence {
            text += &format!(": {e}");
        }
        if let Some(s) = &report.meta.scenario {
            text += &format!(" ({s})");
        }
        out.push(mark(t, id, text));
    }
    for a in &report.annotations {
        out.push(mark(a.unix_ms, "annotation", a.text.clone()));
    }
    out.sort_by_key(|a| a.time);
    out
}

/// Posts every body; the result for report.json (ok only when all were accepted).
pub async fn post_all(
    client: &reqwest::Client,
    base: &str,
    report: &Report,
    cfg: &ExportConfig,
) -> ExportResult {
    let url = join(base, "/api/annotations");
    let token = match crate::secret::read_secret(
        cfg.grafana_token_env.as_deref(),
        cfg.grafana_token_file.as_deref(),
        "grafana token",
    ) {
        Ok(Some(t)) => t,
        Ok(None) => {
            let e = "no token: set --grafana-token-env or --grafana-token-file";
            return refused("grafana", &url, e.into());
        }
        Err(e) => return refused("grafana", &url, format!("{e:#}")),
    };
    let (mut posted, mut attempts, mut errors) = (0, 0, Vec::new());
    for b in bodies(report, cfg) {
        let (res, n) = with_retries(cfg.retries, || async {
            let resp = client
                .post(&url)
                .bearer_auth(&token)
                .json(&b)
                .send()
                .await
                .map_err(|e| super::Failed::request(&e, false))?;
            check_status(resp).await
        })
        .await;
        attempts += n;
        match res {
            Ok(()) => posted += 1,
            Err(e) => errors.push(e),
        }
    }
    ExportResult {
        target: "grafana".into(),
        url,
        ok: errors.is_empty(),
        attempts,
        posted: Some(posted),
        failed: Some(errors.len() as u32),
        error: errors.into_iter().next(),
    }
}
