//! Gates: pass/fail limits on a run, from `[gates]` in the config (per preset) or flags. Each
//! is judged from the report's own numbers, so a rebuilt report judges the same way; any
//! failure makes `--headless` and `slitop report` exit with 3 (`cli::EXIT_GATE_FAILED`).

use super::compare::{compare, DEFAULT_NOISE};
use super::data::{AsReport, Drift, Report};
use crate::settings::{GatesConfig, Unit};

pub use super::data::GateResult;

// The tests judge reports written as JSON, as report.json is read back.
#[cfg(test)]
use serde_json::json;

fn at_most(name: &str, value: Option<f64>, limit: f64, unit: Unit, missing: &str) -> GateResult {
    GateResult {
        name: name.into(),
        passed: value.is_some_and(|v| v <= limit),
        value,
        limit,
        unit,
        note: value.is_none().then(|| missing.to_string()),
        slo: None,
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

/// Judges the gates from a report's numbers (as `json::build` makes them) and the baseline
/// report, when one was given.
pub fn evaluate<R: AsReport + ?Sized>(
    cfg: &GatesConfig,
    report: &R,
    baseline: Option<&R>,
) -> Vec<GateResult> {
    let report = &*report.as_report();
    let baseline = baseline.map(AsReport::as_report);
    let s = report.summary.loaded();
    let mut out = Vec::new();
    if let Some(limit) = cfg.max_error_rate {
        let v = s.and_then(|s| s.error_rate);
        out.push(at_most(
            "error_rate",
            v,
            limit,
            Unit::Ratio,
            "no error-rate signal had data",
        ));
    }
    for (name, limit, v) in [
        ("p95", cfg.p95, s.and_then(|s| s.p95_s)),
        ("p99", cfg.p99, s.and_then(|s| s.p99_s)),
    ] {
        if let Some(limit) = limit {
            out.push(at_most(
                name,
                v,
                limit.as_secs_f64(),
                Unit::Seconds,
                "no latency data",
            ));
        }
    }
    if let Some(limit) = cfg.drain {
        out.push(drain(report, limit.as_secs_f64()));
    }
    if let Some(limit) = cfg.regression {
        // Judged from the same delta table a comparison shows.
        let table = baseline
            .as_deref()
            .map(|b| compare(b, report, ("baseline", "run"), DEFAULT_NOISE));
        let worse = |m: &str| table.as_ref()?.row(m, None)?.worse_by();
        out.push(knee_regression(
            report,
            baseline.as_deref(),
            worse("knee"),
            limit,
        ));
        out.push(p95_regression(worse("p95"), limit));
    }
    if let Some(limit) = cfg.soak_drift {
        out.push(soak_drift(report, limit));
    }
    out
}

/// Judged only on a run that held a level (a soak): elsewhere drift means nothing, so the gate
/// is not measured, passes and says why, rather than failing on a ramp's rise in latency.
fn soak_drift(report: &Report, limit: f64) -> GateResult {
    let missing = "no p95 in the first or last quarter of the level held";
    match &report.drift {
        Some(Drift::NotMeasured { note }) => GateResult {
            name: "soak_drift".into(),
            passed: true,
            value: None,
            limit,
            unit: Unit::Ratio,
            note: Some(format!("not measured: {note}")),
            slo: None,
        },
        Some(Drift::Measured(f)) => at_most("soak_drift", f.drift, limit, Unit::Ratio, missing),
        None => at_most(
            "soak_drift",
            None,
            limit,
            Unit::Ratio,
            "no drift in the report",
        ),
    }
}

fn drain(report: &Report, limit: f64) -> GateResult {
    let peak = report.backlog.peak();
    let mut g = at_most(
        "drain",
        peak.and_then(|p| p.drain_s),
        limit,
        Unit::Seconds,
        "",
    );
    g.note = None;
    if !report.backlog.seen {
        g.note = Some("no queue or backlog signal had data".into());
    } else if peak.is_some_and(|p| !p.piled_up) {
        g.passed = true;
        g.value = Some(0.0);
        g.note = Some("the backlog never piled up".into());
    } else if g.value.is_none() {
        g.note = Some("the backlog had not drained when the run ended".into());
    }
    g
}

/// Knee: the load where decoupling began; lower is worse.
fn knee_regression(
    report: &Report,
    baseline: Option<&Report>,
    worse_by: Option<f64>,
    limit: f64,
) -> GateResult {
    let (base, cur) = (baseline.and_then(|b| b.knee.as_ref()), report.knee.as_ref());
    let unit_match = base.map(|k| &k.load_unit) == cur.map(|k| &k.load_unit);
    let mut g = GateResult {
        name: "knee_regression".into(),
        passed: true,
        value: None,
        limit,
        unit: Unit::Ratio,
        note: None,
        slo: None,
    };
    match (base.and_then(|k| k.load), cur.and_then(|k| k.load)) {
        _ if baseline.is_none() => {
            g.passed = false;
            g.note = Some("no baseline report".into());
        }
        (Some(_), Some(_)) if unit_match => {
            g.value = worse_by;
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
    g
}

fn p95_regression(value: Option<f64>, limit: f64) -> GateResult {
    GateResult {
        name: "p95_regression".into(),
        passed: value.is_some_and(|v| v <= limit),
        value,
        limit,
        unit: Unit::Ratio,
        note: value
            .is_none()
            .then(|| "no p95 in this run or the baseline".to_string()),
        slo: None,
    }
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
            ..GatesConfig::default()
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

    #[test]
    fn soak_drift_is_judged_only_where_the_load_held_a_level() {
        let cfg = GatesConfig {
            soak_drift: Some(0.2),
            ..GatesConfig::default()
        };
        let ramp = json!({"drift": {"note": "the load did not hold a level"}});
        let g = &evaluate(&cfg, &ramp, None)[0];
        assert!(g.passed && g.value.is_none(), "{g:?}");
        assert_eq!(
            g.note.as_deref(),
            Some("not measured: the load did not hold a level")
        );
        let soak = json!({"drift": {"plateau": 1, "drift": 0.1}});
        let g = &evaluate(&cfg, &soak, None)[0];
        assert!(
            g.passed && g.value == Some(0.1) && g.note.is_none(),
            "{g:?}"
        );
        let no_p95 = json!({"drift": {"plateau": 1, "drift": null}});
        let g = &evaluate(&cfg, &no_p95, None)[0];
        assert!(
            !g.passed && g.note.as_deref().unwrap().contains("no p95"),
            "{g:?}"
        );
    }
}
