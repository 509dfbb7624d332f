//! Annotations and stage onsets posted to Grafana's annotations API, so the team's dashboard
//! shows the same marks: `POST /api/annotations` with `Authorization: Bearer <token>` and
//! `{"time": ms, "tags": ["slitop", <stage id or "annotation">], "text": ...}` (plus
//! `dashboardUID` when configured). Each request is retried on its own.

use serde_json::{json, Value as Json};

use super::{check_status, join, with_retries};
use crate::settings::ExportConfig;

/// The annotation bodies for a report, in time order: every reached stage's onset and every
/// user annotation.
pub fn bodies(report: &Json, cfg: &ExportConfig) -> Vec<Json> {
    let scenario = report["meta"]["scenario"].as_str();
    let mut out: Vec<(i64, Json)> = Vec::new();
    for st in report["stages"].as_array().into_iter().flatten() {
        let (Some(t), Some(id)) = (st["onset_unix_ms"].as_i64(), st["id"].as_str()) else {
            continue;
        };
        let mut text = format!("slitop: stage {} {id}", st["number"]);
        if let Some(e) = st["evidence"].as_str() {
            text += &format!(": {e}");
        }
        if let Some(s) = scenario {
            text += &format!(" ({s})");
        }
        out.push((t, json!({"time": t, "tags": ["slitop", id], "text": text})));
    }
    for a in report["annotations"].as_array().into_iter().flatten() {
        let (Some(t), Some(text)) = (a["unix_ms"].as_i64(), a["text"].as_str()) else {
            continue;
        };
        out.push((
            t,
            json!({"time": t, "tags": ["slitop", "annotation"], "text": text}),
        ));
    }
    out.sort_by_key(|(t, _)| *t);
    out.into_iter()
        .map(|(_, mut b)| {
            if let Some(uid) = &cfg.grafana_dashboard_uid {
                b["dashboardUID"] = json!(uid);
            }
            b
        })
        .collect()
}

/// Posts every body; the result for report.json (ok only when all were accepted).
pub async fn post_all(
    client: &reqwest::Client,
    base: &str,
    report: &Json,
    cfg: &ExportConfig,
) -> Json {
    let url = join(base, "/api/annotations");
    let token = match crate::secret::read_secret(
        cfg.grafana_token_env.as_deref(),
        cfg.grafana_token_file.as_deref(),
        "grafana token",
    ) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return json!({"target": "grafana", "url": url, "ok": false, "attempts": 0, "error": "no token: set --grafana-token-env or --grafana-token-file"})
        }
        Err(e) => {
            return json!({"target": "grafana", "url": url, "ok": false, "attempts": 0, "error": format!("{e:#}")})
        }
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
                .map_err(|e| format!("{e}"))?;
            check_status(resp).await
        })
        .await;
        attempts += n;
        match res {
            Ok(()) => posted += 1,
            Err(e) => errors.push(e),
        }
    }
    json!({
        "target": "grafana",
        "url": url,
        "ok": errors.is_empty(),
        "attempts": attempts,
        "posted": posted,
        "failed": errors.len(),
        "error": errors.first(),
    })
}
