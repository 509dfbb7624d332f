//! Gates: pass/fail limits on a run, from `[gates]` in the config (per preset) or flags. Each
//! is judged from the report's own numbers, so a rebuilt report judges the same way; any
//! failure makes `--headless` and `slitop report` exit with `EXIT_GATE_FAILED`.

use serde::Serialize;

use crate::settings::GatesConfig;
use serde_json::{json, Value as Json};

/// One gate's verdict: `{"name", "passed", "value", "limit"}` plus the unit and a note when
/// the value could not be measured or compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GateResult {
    pub name: String,
    pub passed: bool,
    pub value: Option<f64>,
    pub limit: f64,
    pub unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn at_most(
    name: &str,
    value: Option<f64>,
    limit: f64,
    unit: &'static str,
    missing: &str,
) -> GateResult {
    GateResult {
        name: name.into(),
        passed: value.is_some_and(|v| v <= limit),
        value,
        limit,
        unit,
        note: value.is_none().then(|| missing.to_string()),
    }
}

/// Relative change of `cur` against `base`, signed so that positive is worse.
pub fn regression(base: f64, cur: f64, higher_is_better: bool) -> Option<f64> {
    if !(base.is_finite() && cur.is_finite()) || base <= 0.0 {
        return None;
    }
    Some(if higher_is_better {
        (base - cur) / base
    } else {
        (cur - base) / base
    })
}

/// Judges the gates from a report's numbers (`report` as `json::build` makes it) and the
/// baseline report, when one was given.
pub fn evaluate(cfg: &GatesConfig, report: &Json, baseline: Option<&Json>) -> Vec<GateResult> {
    let mut out = Vec::new();
    let s = &report["summary"];
    if let Some(limit) = cfg.max_error_rate {
        out.push(at_most(
            "error_rate",
            s["error_rate"].as_f64(),
            limit,
            "ratio",
            "no error-rate signal had data",
        ));
    }
    if let Some(limit) = cfg.p95 {
        out.push(at_most(
            "p95",
            s["p95_s"].as_f64(),
            limit.as_secs_f64(),
            "s",
            "no latency data",
        ));
    }
    if let Some(limit) = cfg.p99 {
        out.push(at_most(
            "p99",
            s["p99_s"].as_f64(),
            limit.as_secs_f64(),
            "s",
            "no latency data",
        ));
    }
    if let Some(limit) = cfg.drain {
        let b = &report["backlog"];
        let mut g = at_most("drain", b["drain_s"].as_f64(), limit.as_secs_f64(), "s", "");
        g.note = None;
        if b["seen"] != json!(true) {
            g.note = Some("no queue or backlog signal had data".into());
        } else if b["piled_up"] == json!(false) {
            g.passed = true;
            g.value = Some(0.0);
            g.note = Some("the backlog never piled up".into());
        } else if g.value.is_none() {
            g.note = Some("the backlog had not drained when the run ended".into());
        }
        out.push(g);
    }
    if let Some(limit) = cfg.regression {
        let base = baseline.unwrap_or(&Json::Null);
        // Knee: the load where decoupling began; lower is worse.
        let (bk, ck) = (
            base["knee"]["load"].as_f64(),
            report["knee"]["load"].as_f64(),
        );
        let unit_match = base["knee"]["load_unit"] == report["knee"]["load_unit"];
        let mut g = GateResult {
            name: "knee_regression".into(),
            passed: true,
            value: None,
            limit,
            unit: "ratio",
            note: None,
        };
        match (bk, ck) {
            _ if baseline.is_none() => {
                g.passed = false;
                g.note = Some("no baseline report".into());
            }
            (Some(b), Some(c)) if unit_match => {
                g.value = regression(b, c, true);
                g.passed = g.value.is_some_and(|v| v <= limit);
            }
            (Some(_), Some(_)) => {
                g.passed = false;
                g.note = Some("the knees are in different units (open vs closed loop)".into());
            }
            (None, Some(c)) => {
                g.passed = false;
                g.note = Some(format!(
                    "this run reached a knee at {c:.1}; the baseline never did"
                ));
            }
            (_, None) => g.note = Some("this run reached no knee".into()),
        }
        out.push(g);
        let (bp, cp) = (base["summary"]["p95_s"].as_f64(), s["p95_s"].as_f64());
        let value = bp.zip(cp).and_then(|(b, c)| regression(b, c, false));
        out.push(GateResult {
            name: "p95_regression".into(),
            passed: value.is_some_and(|v| v <= limit),
            value,
            limit,
            unit: "ratio",
            note: value
                .is_none()
                .then(|| "no p95 in this run or the baseline".to_string()),
        });
    }
    if let Some(limit) = cfg.soak_drift {
        out.push(at_most(
            "soak_drift",
            report["drift"]["drift"].as_f64(),
            limit,
            "ratio",
            "no p95 in the first or last quarter of the run",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn regression_is_signed_so_positive_is_worse() {
        assert!((regression(40.0, 30.0, true).unwrap() - 0.25).abs() < 1e-12);
        assert!((regression(0.2, 0.3, false).unwrap() - 0.5).abs() < 1e-12);
        assert!(regression(40.0, 44.0, true).unwrap() < 0.0);
        assert_eq!(regression(0.0, 1.0, false), None);
    }

    #[test]
    fn each_gate_passes_at_its_limit_and_fails_past_it() {
        let report = json!({
            "summary": {"error_rate": 0.02, "p95_s": 0.4, "p99_s": 1.2},
            "backlog": {"seen": true, "piled_up": true, "drain_s": 12.0},
            "knee": {"load": 30.0, "load_unit": "req/s"},
            "drift": {"drift": 0.3},
        });
        let base =
            json!({"summary": {"p95_s": 0.32}, "knee": {"load": 40.0, "load_unit": "req/s"}});
        let cfg = GatesConfig {
            max_error_rate: Some(0.01),
            p95: Some(Duration::from_millis(400)),
            p99: Some(Duration::from_secs(1)),
            drain: Some(Duration::from_secs(30)),
            regression: Some(0.2),
            soak_drift: Some(0.2),
            baseline: Some("b.json".into()),
        };
        let r = evaluate(&cfg, &report, Some(&base));
        let verdict: Vec<(&str, bool)> = r.iter().map(|g| (g.name.as_str(), g.passed)).collect();
        assert_eq!(
            verdict,
            vec![
                ("error_rate", false),
                ("p95", true),
                ("p99", false),
                ("drain", true),
                ("knee_regression", false),
                ("p95_regression", false),
                ("soak_drift", false),
            ]
        );
        assert!((r[4].value.unwrap() - 0.25).abs() < 1e-12);
        assert!((r[5].value.unwrap() - 0.25).abs() < 1e-12);
        let undrained = json!({"backlog": {"seen": true, "piled_up": true, "drain_s": null}});
        let g = &evaluate(&cfg, &undrained, None)[3];
        assert!(!g.passed && g.note.as_deref().unwrap().contains("had not drained"));
    }
}
