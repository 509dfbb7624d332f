//! `report.json`'s content, built from the run: run metadata and load profile, the numbers
//! that matter (p50/p95/p99, error rate, throughput, saturation at peak load), every stage
//! with its times and evidence, the knee, capacity, scaling guidance, the backlog and its
//! drain, the load plateaus, triage hints, warnings, annotations and per-signal statistics.
//! Gates, the files written and export results are added by the end of the run
//! (`write_local`, `export::finish`).

use std::collections::BTreeMap;

use super::data::finite;
use super::data::{
    Annotation, DetectSettings, Knee, Meta, PlateauRule, Report, Scaling, SignalStats, Stage,
    Warning,
};
use super::headline;
use super::{plateaus, triage, RunState};
use crate::detect::{self, StageId, StageState};
use crate::model::TimeMs;
use crate::record::Header;
use crate::settings::{ReportConfig, RunMeta};
use crate::stats::percentile;

/// Everything a report is built from: the replayed or live state and the run's header.
pub struct Inputs<'a> {
    pub state: &'a RunState,
    pub header: &'a Header,
    pub ended: TimeMs,
    pub cfg: &'a ReportConfig,
}

pub fn signal_stats(state: &RunState) -> BTreeMap<String, SignalStats> {
    let mut out = BTreeMap::new();
    for s in &state.engine.signals {
        let mut v: Vec<f64> = state.history.finite(&s.def.name).collect();
        let last = s.latest.iter().map(|p| p.value).find(|x| x.is_finite());
        let stats = if v.is_empty() {
            SignalStats {
                last,
                ..SignalStats::default()
            }
        } else {
            v.sort_by(f64::total_cmp);
            SignalStats {
                p50: Some(percentile(&v, 0.5)),
                p95: Some(percentile(&v, 0.95)),
                p99: Some(percentile(&v, 0.99)),
                max: Some(v[v.len() - 1]),
                last,
                unit: Some(s.def.unit),
            }
        };
        out.insert(s.def.name.clone(), stats);
    }
    out
}

fn stage(d: &detect::Detector, id: StageId) -> Stage {
    let s = d.stage(id);
    // A suspicion that never held is "inactive" in the report.
    let state = if s.state == StageState::Suspected && !s.reached() {
        StageState::Inactive
    } else if s.state == StageState::Suspected {
        StageState::Cleared
    } else {
        s.state
    };
    Stage {
        id,
        number: id.number(),
        state,
        onset_unix_ms: s.first_onset,
        confirmed_unix_ms: s.first_confirmed,
        cleared_unix_ms: s.cleared,
        activations: s.activations,
        evidence: s.reached().then(|| s.evidence.clone()),
        out_of_sequence: d.out_of_sequence(id),
    }
}

/// The report's own copies of the detector's and the header's types: a field renamed there
/// fails to compile here instead of changing report.json.
fn knee(k: &detect::Knee) -> Knee {
    let detect::Knee {
        load,
        load_unit,
        unix_ms,
        offered_rps,
        vus,
        generator_bound,
        // Refit below on the whole run.
        model: _,
    } = k;
    Knee {
        load: finite(*load),
        load_unit: load_unit.clone(),
        unix_ms: *unix_ms,
        offered_rps: finite(*offered_rps),
        vus: finite(*vus),
        generator_bound: generator_bound.clone(),
        vu_cycle: None,
    }
}

/// The knee where the healthy line meets the capacity (see `Detector::knee_model`), with the
/// VUs' cycle it was read from where it was.
fn modelled_knee(d: &detect::Detector, k: &detect::Knee) -> Knee {
    let model = d.knee_model(k.load_unit == "VUs");
    Knee {
        load: finite(model).or(finite(k.load)),
        vu_cycle: d
            .knee_cycle()
            .filter(|_| k.load_unit == "VUs" && model.is_some()),
        ..knee(k)
    }
}

fn scaling(s: detect::summary::Scaling) -> Scaling {
    let detect::summary::Scaling {
        lambda_rps,
        mean_service_s,
        utilisation,
        workers_needed,
        consumers_now,
    } = s;
    Scaling {
        lambda_rps,
        mean_service_s,
        utilisation,
        workers_needed,
        consumers_now: finite(consumers_now),
    }
}

fn meta(m: &RunMeta) -> Meta {
    let RunMeta {
        scenario,
        service_version,
        tags,
        args,
    } = m.clone();
    Meta {
        scenario,
        service_version,
        tags,
        args,
    }
}

fn detect_settings(d: &detect::Detector) -> DetectSettings {
    DetectSettings {
        load_model: d.cfg.load_model,
        utilisation: d.cfg.utilisation,
        p95_warn_s: d.cfg.p95_warn,
        p95_crit_s: d.cfg.p95_crit,
    }
}

/// The report of the run, before gates, files and exports.
pub fn build(i: &Inputs) -> Report {
    let (state, ended) = (i.state, i.ended);
    let d = &state.detector;
    let security = i.header.security.iter().map(|text| Warning {
        id: "security".into(),
        unix_ms: i.header.started_unix_ms,
        text: text.clone(),
    });
    let store = &state.store;
    let refused = store.refused_by_source.iter().map(|(source, n)| Warning {
        id: "series_refused".into(),
        unix_ms: ended,
        text: crate::state::refusal_text(source, *n, store.limits()),
    });
    let warnings: Vec<Warning> = security
        .chain(d.warnings.iter().map(|w| Warning {
            id: w.id.clone(),
            unix_ms: w.unix_ms,
            text: w.text.clone(),
        }))
        .chain(refused)
        .chain(super::littles_law::check(state, ended))
        .collect();
    let annotations = state
        .annotations
        .iter()
        .map(|(t, text)| Annotation {
            unix_ms: *t,
            text: text.clone(),
        })
        .collect();
    let mut plateau_rows = plateaus::rows(state, i.cfg);
    headline::plateau_drift(state, &mut plateau_rows);
    let started = state.started.unwrap_or(i.header.started_unix_ms);
    Report {
        slitop_version: env!("CARGO_PKG_VERSION").into(),
        recorded_by: i.header.slitop_version.clone(),
        started_unix_ms: state.started,
        ended_unix_ms: ended,
        duration_s: (ended - started) as f64 / 1000.0,
        refresh_ms: i.header.refresh_ms,
        meta: meta(&i.header.meta),
        sources: i.header.sources.clone(),
        detect: detect_settings(d),
        profile: headline::profile(state, &plateau_rows),
        summary: headline::summary(state),
        stages: StageId::ALL.iter().map(|&id| stage(d, id)).collect(),
        knee: d.knee.as_ref().map(|k| modelled_knee(d, k)),
        knee_at: headline::knee_at(state),
        capacity_rps: finite(d.capacity_rps()),
        capacity_basis: d.capacity().map(|c| c.1),
        // Fitted anew on the whole run (the live one is refitted only every few seconds).
        concurrency_model: d.fit_concurrency(),
        scaling: d.scaling().map(scaling),
        drain_s: finite(d.drain_s()),
        backlog: headline::backlog(state),
        drift: Some(headline::drift(state, &plateau_rows)),
        triage: triage::hints(state, &warnings),
        plateaus: plateau_rows,
        rise: super::envelope::rise(state, i.cfg.plateau_tolerance),
        p95_crit_unix_ms: d.p95_crit_at,
        warnings,
        annotations,
        signals: signal_stats(state),
        plateau_rule: PlateauRule {
            tolerance: i.cfg.plateau_tolerance,
            min_s: i.cfg.plateau_min.as_secs_f64(),
        },
        ..Report::default()
    }
}
