//! `report.json`: what the run amounted to — run metadata and load profile, the numbers that
//! matter (p50/p95/p99, error rate, throughput, saturation at peak load), every stage with its
//! times and evidence, the knee, capacity, scaling guidance, the backlog and its drain, the
//! load plateaus, triage hints, warnings, annotations and per-signal statistics. Gates, the
//! baseline comparison and export results are added by the caller (`report::finish`).

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::headline::{self, num};
use super::{plateaus, triage};
use crate::detect::{StageId, StageState};
use crate::model::TimeMs;
use crate::record::Header;
use crate::settings::ReportConfig;
use crate::state::RunState;
use crate::stats::percentile;

/// Everything a report is built from: the replayed or live state and the run's header.
pub struct Inputs<'a> {
    pub state: &'a RunState,
    pub header: &'a Header,
    pub ended: TimeMs,
    pub cfg: &'a ReportConfig,
}

pub fn signal_stats(state: &RunState) -> Json {
    let mut out = BTreeMap::new();
    for s in &state.engine.signals {
        let mut v: Vec<f64> = state.history.finite(&s.def.name).collect();
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

pub fn build(i: &Inputs) -> Json {
    let (state, ended) = (i.state, i.ended);
    let meta = &i.header.meta;
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
    let stats = signal_stats(state);
    let plateau_rows = plateaus::rows(state, i.cfg);
    let triage = triage::hints(state, &warnings);
    let started = state.started.unwrap_or(i.header.started_unix_ms);
    json!({
        "slitop_version": env!("CARGO_PKG_VERSION"),
        "recorded_by": i.header.slitop_version,
        "started_unix_ms": state.started,
        "ended_unix_ms": ended,
        "duration_s": (ended - started) as f64 / 1000.0,
        "refresh_ms": i.header.refresh_ms,
        "meta": meta,
        "sources": i.header.sources,
        "detect": {
            "load_model": d.cfg.load_model,
            "utilisation": d.cfg.utilisation,
            "p95_warn_s": d.cfg.p95_warn,
            "p95_crit_s": d.cfg.p95_crit,
        },
        "profile": headline::profile(state, &plateau_rows),
        "summary": headline::summary(state),
        "stages": stages,
        "knee": d.knee,
        "knee_at": headline::knee_at(state),
        "capacity_rps": num(d.capacity_rps()),
        "scaling": d.scaling(),
        "drain_s": num(d.drain_s()),
        "backlog": headline::backlog(state),
        "drift": headline::drift(state),
        "plateaus": plateau_rows,
        "triage": triage,
        "p95_crit_unix_ms": d.p95_crit_at,
        "warnings": warnings,
        "annotations": annotations,
        "signals": stats,
    })
}
