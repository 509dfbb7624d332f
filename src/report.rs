//! `report.json`: what the run amounted to — every stage with its times and evidence, the knee,
//! capacity, scaling guidance, drain time, warnings, annotations and per-signal statistics.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use crate::detect::{StageId, StageState};
use crate::model::TimeMs;
use crate::record::RunMeta;
use crate::runtime::RunState;
use crate::sources::k6_json::k6_percentile as percentile;

fn num(v: Option<f64>) -> Json {
    match v {
        Some(x) if x.is_finite() => json!(x),
        _ => Json::Null,
    }
}

pub fn signal_stats(state: &RunState) -> Json {
    let mut out = BTreeMap::new();
    for s in &state.engine.signals {
        let mut v: Vec<f64> = state
            .signal_values
            .get(&s.def.name)
            .map(|v| v.iter().copied().filter(|x| x.is_finite()).collect())
            .unwrap_or_default();
        let last = s.latest.iter().map(|p| p.value).find(|x| x.is_finite());
        if v.is_empty() {
            out.insert(
                s.def.name.clone(),
                json!({"p50": null, "p95": null, "p99": null, "max": null, "last": num(last)}),
            );
            continue;
        }
        v.sort_by(f64::total_cmp);
        out.insert(
            s.def.name.clone(),
            json!({
                "p50": percentile(&v, 0.5),
                "p95": percentile(&v, 0.95),
                "p99": percentile(&v, 0.99),
                "max": v[v.len() - 1],
                "last": num(last),
                "unit": s.def.unit,
            }),
        );
    }
    json!(out)
}

pub fn build(state: &RunState, meta: &RunMeta, ended: TimeMs) -> Json {
    let d = &state.detector;
    let stages: Vec<Json> = StageId::ALL
        .iter()
        .map(|&id| {
            let s = d.stage(id);
            // A suspicion that never held is "inactive" in the report.
            let state = if s.state == StageState::Suspected && !s.reached() {
                StageState::Inactive
            } else if s.state == StageState::Suspected {
                StageState::Cleared
            } else {
                s.state
            };
            json!({
                "id": id.id(),
                "number": id.number(),
                "state": state.word(),
                "onset_unix_ms": s.first_onset,
                "confirmed_unix_ms": s.first_confirmed,
                "cleared_unix_ms": s.cleared,
                "activations": s.activations,
                "evidence": if s.reached() { json!(s.evidence) } else { Json::Null },
            })
        })
        .collect();
    let warnings: Vec<Json> = d
        .warnings
        .iter()
        .map(|w| json!({"id": w.id, "unix_ms": w.unix_ms, "text": w.text}))
        .collect();
    let annotations: Vec<Json> = state
        .annotations
        .iter()
        .map(|(t, text)| json!({"unix_ms": t, "text": text}))
        .collect();
    json!({
        "slitop_version": env!("CARGO_PKG_VERSION"),
        "started_unix_ms": state.started,
        "ended_unix_ms": ended,
        "meta": meta,
        "stages": stages,
        "knee": d.knee,
        "capacity_rps": num(d.capacity_rps()),
        "scaling": d.scaling(),
        "drain_s": num(d.drain_s()),
        "p95_crit_unix_ms": d.p95_crit_at,
        "warnings": warnings,
        "annotations": annotations,
        "signals": signal_stats(state),
    })
}
