//! The run's summary pushed to a Prometheus Pushgateway: `PUT /metrics/job/<job>/run/<run>
//! /scenario/<scenario>/environment/<env>` with a text-format body, so each run is its own
//! group and a re-push replaces it. Label values that are empty or hold characters outside a
//! plain URL path segment are sent base64url-encoded (`label@base64/value`), as the
//! Pushgateway documents.

use std::fmt::Write;

use serde_json::{json, Value as Json};

use super::{check_status, join, with_retries};
use crate::settings::ExportConfig;

/// base64url (RFC 4648 §5) with padding, which the Pushgateway accepts.
pub fn base64url(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One `/<label>/<value>` segment pair of the grouping key.
pub fn segment(label: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | ':'));
    if plain {
        format!("/{label}/{value}")
    } else {
        format!("/{label}@base64/{}", base64url(value.as_bytes()))
    }
}

/// The run's identity: a `run` tag when given, else its start time (RFC 3339, UTC).
pub fn run_id(report: &Json) -> String {
    report["meta"]["tags"]["run"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| crate::report::format::clock(report["started_unix_ms"].as_i64()))
}

/// The grouping-key path for this report.
pub fn path(report: &Json, cfg: &ExportConfig) -> String {
    let mut p = String::from("/metrics");
    p += &segment("job", &cfg.job);
    p += &segment("run", &run_id(report));
    p += &segment(
        "scenario",
        report["meta"]["scenario"].as_str().unwrap_or("unnamed"),
    );
    p += &segment(
        "environment",
        cfg.environment.as_deref().unwrap_or("unknown"),
    );
    p
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text-format body: every summary number as a gauge.
pub fn body(report: &Json) -> String {
    let mut o = String::new();
    let mut family = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, v) in samples {
            let _ = writeln!(o, "{name}{labels} {v}");
        }
    };
    let one = |v: &Json| {
        v.as_f64()
            .map(|x| vec![(String::new(), x)])
            .unwrap_or_default()
    };
    let s = &report["summary"];
    family(
        "slitop_run_duration_seconds",
        "Length of the run.",
        one(&report["duration_s"]),
    );
    family(
        "slitop_run_end_timestamp_seconds",
        "When the run ended.",
        report["ended_unix_ms"]
            .as_f64()
            .map(|t| vec![(String::new(), t / 1000.0)])
            .unwrap_or_default(),
    );
    family(
        "slitop_run_latency_seconds",
        "Latency quantiles over the loaded run.",
        [("0.5", "p50_s"), ("0.95", "p95_s"), ("0.99", "p99_s")]
            .iter()
            .filter_map(|(q, k)| s[*k].as_f64().map(|v| (format!("{{quantile=\"{q}\"}}"), v)))
            .collect(),
    );
    family(
        "slitop_run_error_ratio",
        "Failed share of requests over the loaded run.",
        one(&s["error_rate"]),
    );
    family(
        "slitop_run_throughput_mean_rps",
        "Mean throughput over the loaded run.",
        one(&s["throughput_mean_rps"]),
    );
    family(
        "slitop_run_throughput_peak_rps",
        "Peak throughput.",
        one(&s["throughput_peak_rps"]),
    );
    family(
        "slitop_run_capacity_rps",
        "Throughput held on the plateau (the capacity wall).",
        one(&report["capacity_rps"]),
    );
    family(
        "slitop_run_knee_load",
        "Load at the onset of decoupling.",
        report["knee"]["load"]
            .as_f64()
            .map(|v| {
                vec![(
                    format!(
                        "{{unit=\"{}\"}}",
                        esc(report["knee"]["load_unit"].as_str().unwrap_or(""))
                    ),
                    v,
                )]
            })
            .unwrap_or_default(),
    );
    family(
        "slitop_run_drain_seconds",
        "Time for the backlog to drain from its peak.",
        one(&report["drain_s"]),
    );
    family(
        "slitop_run_workers_needed",
        "Workers needed at the target utilisation.",
        one(&report["scaling"]["workers_needed"]),
    );
    family(
        "slitop_run_stage_onset_timestamp_seconds",
        "Onset of each stage of the saturation sequence that was reached.",
        report["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|st| {
                let t = st["onset_unix_ms"].as_f64()?;
                Some((
                    format!("{{stage=\"{}\"}}", esc(st["id"].as_str()?)),
                    t / 1000.0,
                ))
            })
            .collect(),
    );
    family(
        "slitop_run_gate_passed",
        "1 when the gate passed, 0 when it failed.",
        report["gates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| {
                let passed = g["passed"].as_bool()?;
                Some((
                    format!("{{gate=\"{}\"}}", esc(g["name"].as_str()?)),
                    if passed { 1.0 } else { 0.0 },
                ))
            })
            .collect(),
    );
    o
}

/// PUTs the summary; retried with backoff; the result for report.json.
pub async fn push(client: &reqwest::Client, base: &str, report: &Json, cfg: &ExportConfig) -> Json {
    let url = join(base, &path(report, cfg));
    let text = body(report);
    let (res, attempts) = with_retries(cfg.retries, || async {
        let resp = client
            .put(&url)
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(text.clone())
            .send()
            .await
            .map_err(|e| format!("{e}"))?;
        check_status(resp).await
    })
    .await;
    json!({
        "target": "pushgateway",
        "url": url,
        "ok": res.is_ok(),
        "attempts": attempts,
        "error": res.err(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg==");
        assert_eq!(base64url(b"fo"), "Zm8=");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"/var/tmp"), "L3Zhci90bXA=");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8=");
    }

    #[test]
    fn values_with_slashes_or_empty_are_encoded() {
        assert_eq!(segment("scenario", "ramp"), "/scenario/ramp");
        assert_eq!(segment("path", "/var/tmp"), "/path@base64/L3Zhci90bXA=");
        assert_eq!(segment("env", ""), "/env@base64/");
    }
}
