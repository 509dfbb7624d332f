//! The run's summary pushed to a Prometheus Pushgateway: `PUT /metrics/job/<job>/run/<run>
//! /scenario/<scenario>/environment/<env>` with a text-format body, so each run is its own
//! group and a re-push replaces it. Label values that are empty or hold characters outside a
//! plain URL path segment are sent base64url-encoded (`label@base64/value`), as the
//! Pushgateway documents.

use std::fmt::Write;

use super::{check_status, join, with_retries};
use crate::report::data::{AsReport, ExportResult, GateResult, Report, SloSeconds};
use crate::report::format::clock;
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
pub fn run_id(report: &impl AsReport) -> String {
    let r = report.as_report();
    match r.meta.tags.get("run") {
        Some(run) => run.clone(),
        None => clock(r.started_unix_ms),
    }
}

/// The grouping-key path for this report.
pub fn path(report: &Report, cfg: &ExportConfig) -> String {
    let mut p = String::from("/metrics");
    p += &segment("job", &cfg.job);
    p += &segment("run", &run_id(report));
    p += &segment(
        "scenario",
        report.meta.scenario.as_deref().unwrap_or("unnamed"),
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

/// One gauge family: its samples as (labels, value); a family without samples is left out.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// A family of one unlabelled sample, when the value is known.
fn one(name: &'static str, help: &'static str, v: Option<f64>) -> Family {
    let samples = v.map(|x| vec![(String::new(), x)]).unwrap_or_default();
    Family {
        name,
        help,
        samples,
    }
}

/// The text-format body: every summary number as a gauge.
pub fn body(report: &Report) -> String {
    let mut o = String::new();
    for f in run_families(report)
        .into_iter()
        .chain(outcome_families(report))
    {
        if f.samples.is_empty() {
            continue;
        }
        let _ = writeln!(o, "# HELP {0} {1}\n# TYPE {0} gauge", f.name, f.help);
        for (labels, v) in f.samples {
            let _ = writeln!(o, "{}{labels} {v}", f.name);
        }
    }
    o
}

/// How long the run was and what it measured over the loaded part.
fn run_families(r: &Report) -> Vec<Family> {
    let s = r.summary.loaded();
    let latency = s
        .map(|s| [("0.5", s.p50_s), ("0.95", s.p95_s), ("0.99", s.p99_s)])
        .into_iter()
        .flatten()
        .filter_map(|(q, v)| Some((format!("{{quantile=\"{q}\"}}"), v?)))
        .collect();
    vec![
        one(
            "slitop_run_duration_seconds",
            "Length of the run.",
            Some(r.duration_s),
        ),
        one(
            "slitop_run_end_timestamp_seconds",
            "When the run ended.",
            Some(r.ended_unix_ms as f64 / 1000.0),
        ),
        Family {
            name: "slitop_run_latency_seconds",
            help: "Latency quantiles over the loaded run.",
            samples: latency,
        },
        one(
            "slitop_run_error_ratio",
            "Failed share of requests over the loaded run.",
            s.and_then(|s| s.error_rate),
        ),
        one(
            "slitop_run_throughput_mean_rps",
            "Mean throughput over the loaded run.",
            s.and_then(|s| s.throughput_mean_rps),
        ),
        one(
            "slitop_run_throughput_peak_rps",
            "Peak throughput.",
            s.and_then(|s| s.throughput_peak_rps),
        ),
    ]
}

/// Where it saturated, what it needs, and how the gates judged it.
fn outcome_families(r: &Report) -> Vec<Family> {
    let knee = r
        .knee
        .iter()
        .filter_map(|k| Some((format!("{{unit=\"{}\"}}", esc(&k.load_unit)), k.load?)))
        .collect();
    let onsets = r
        .stages
        .iter()
        .filter_map(|st| {
            let t = st.onset_unix_ms?;
            Some((
                format!("{{stage=\"{}\"}}", esc(st.id.id())),
                t as f64 / 1000.0,
            ))
        })
        .collect();
    let gates = r
        .gates
        .iter()
        .map(|g| (gate_label(g), if g.passed { 1.0 } else { 0.0 }))
        .collect();
    let slo = |f: fn(&SloSeconds) -> f64| -> Vec<(String, f64)> {
        r.gates
            .iter()
            .filter_map(|g| Some((gate_label(g), f(g.slo.as_ref()?))))
            .collect()
    };
    vec![
        one(
            "slitop_run_capacity_rps",
            "Throughput held on the plateau (the capacity wall).",
            r.capacity_rps,
        ),
        Family {
            name: "slitop_run_knee_load",
            help: "Load at the onset of decoupling.",
            samples: knee,
        },
        one(
            "slitop_run_drain_seconds",
            "Time for the backlog to drain from its peak.",
            r.drain_s,
        ),
        one(
            "slitop_run_workers_needed",
            "Workers needed at the target utilisation.",
            r.scaling.as_ref().map(|s| s.workers_needed as f64),
        ),
        Family {
            name: "slitop_run_stage_onset_timestamp_seconds",
            help: "Onset of each stage of the saturation sequence that was reached.",
            samples: onsets,
        },
        Family {
            name: "slitop_run_gate_passed",
            help: "1 when the gate passed, 0 when it failed.",
            samples: gates,
        },
        Family {
            name: "slitop_run_slo_good_seconds",
            help: "Seconds of the judged run that met the SLO.",
            samples: slo(|s| s.good_s as f64),
        },
        Family {
            name: "slitop_run_slo_failed_seconds",
            help: "Seconds of the judged run that did not meet the SLO.",
            samples: slo(|s| (s.judged_s - s.good_s) as f64),
        },
    ]
}

/// A gate's labels: its name, and an SLO gate's objective (several SLO gates share a name).
fn gate_label(g: &GateResult) -> String {
    match &g.slo {
        Some(s) => format!(
            "{{gate=\"{}\",slo=\"{}\"}}",
            esc(&g.name),
            esc(&s.objective)
        ),
        None => format!("{{gate=\"{}\"}}", esc(&g.name)),
    }
}

/// PUTs the summary; retried with backoff; the result for report.json.
pub async fn push(
    client: &reqwest::Client,
    base: &str,
    report: &Report,
    cfg: &ExportConfig,
) -> ExportResult {
    let url = join(base, &path(report, cfg));
    let text = body(report);
    let (res, attempts) = with_retries(cfg.retries, || async {
        let resp = client
            .put(&url)
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(text.clone())
            .send()
            .await
            .map_err(|e| super::Failed::request(&e, true))?;
        check_status(resp).await
    })
    .await;
    ExportResult {
        target: "pushgateway".into(),
        url,
        ok: res.is_ok(),
        attempts,
        error: res.err(),
        ..ExportResult::default()
    }
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
    fn slo_gates_carry_their_objective_and_seconds() {
        let slo = |objective: &str, good_s, judged_s| GateResult {
            name: "slo".into(),
            passed: good_s == judged_s,
            slo: Some(SloSeconds {
                objective: objective.into(),
                judged_s,
                good_s,
                ..SloSeconds::default()
            }),
            ..GateResult::default()
        };
        let r = Report {
            gates: vec![
                slo("client_p95<500ms@99%", 60, 60),
                slo("hop_p95<1s@90%", 40, 60),
            ],
            ..Report::default()
        };
        let b = body(&r);
        for line in [
            "slitop_run_gate_passed{gate=\"slo\",slo=\"client_p95<500ms@99%\"} 1",
            "slitop_run_gate_passed{gate=\"slo\",slo=\"hop_p95<1s@90%\"} 0",
            "slitop_run_slo_good_seconds{gate=\"slo\",slo=\"hop_p95<1s@90%\"} 40",
            "slitop_run_slo_failed_seconds{gate=\"slo\",slo=\"hop_p95<1s@90%\"} 20",
            "slitop_run_slo_failed_seconds{gate=\"slo\",slo=\"client_p95<500ms@99%\"} 0",
        ] {
            assert!(b.lines().any(|l| l == line), "{line} not in\n{b}");
        }
    }

    #[test]
    fn values_with_slashes_or_empty_are_encoded() {
        assert_eq!(segment("scenario", "ramp"), "/scenario/ramp");
        assert_eq!(segment("path", "/var/tmp"), "/path@base64/L3Zhci90bXA=");
        assert_eq!(segment("env", ""), "/env@base64/");
    }
}
