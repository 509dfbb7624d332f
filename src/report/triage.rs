//! Where latency rose, where to look first: CPU, then the database pool, downstream calls,
//! GC, the network — naming, for each, the signal that points there when one exists.

use super::data::{Evidence, TriageArea, Warning};
use super::RunState;
use crate::settings::Unit;

/// (id, what to look at, words in a signal's name or query that belong to it, a hint when
/// no signal covers it).
const AREAS: [(&str, &str, &[&str], &str); 5] = [
    (
        "cpu",
        "CPU",
        &["cpu"],
        "add a CPU signal, e.g. rate(process_cpu_seconds_total[1m])",
    ),
    (
        "db_pool",
        "database pool",
        &["db_", "database", "pool", "sql", "hikari", "pgx"],
        "add the pool's wait time or in-use connections",
    ),
    (
        "downstream",
        "downstream (queue, workers, dependencies)",
        &[
            "downstream",
            "upstream",
            "queue_delay",
            "enqueue",
            "rtt",
            "dependency",
            "outbound",
            "service_seconds",
            "service_time",
        ],
        "add the latency of each dependency the service calls",
    ),
    (
        "gc",
        "GC",
        &["gc", "garbage", "heap", "goroutines"],
        "add GC pause time, e.g. rate(go_gc_duration_seconds_sum[1m])",
    ),
    (
        "network",
        "network",
        &["network", "net_", "tcp", "eof", "reset", "retrans"],
        "compare client and server latency (k6 JSON output and a server histogram)",
    ),
];

/// A signal "rose" when its largest value is at least this many times its healthy level.
const ROSE: f64 = 2.0;

/// A signal's level before latency rose (median of its values before `before`) and its
/// largest value over the run.
fn before_and_peak(state: &RunState, name: &str, before: i64) -> Option<(f64, f64)> {
    let mut early = Vec::new();
    let mut peak: Option<f64> = None;
    for (t, v) in state.history.range(name, i64::MIN, i64::MAX) {
        if t < before {
            early.push(v);
        }
        peak = Some(peak.map_or(v, |p| p.max(v)));
    }
    Some((crate::detect::robust::median(early)?, peak?))
}

fn matches(name: &str, query: &str, words: &[&str]) -> bool {
    let name = name.to_ascii_lowercase();
    let idents: Vec<String> = crate::settings::query_identifiers(query)
        .map(|t| t.to_ascii_lowercase())
        .collect();
    words
        .iter()
        .any(|w| name.contains(w) || idents.iter().any(|i| i.contains(w)))
}

/// Triage hints, or an empty list when latency did not rise (p95_high never held). Only
/// latencies, ratios and counts are judged (a rate rising with the load says nothing).
pub fn hints(state: &RunState, warnings: &[Warning]) -> Vec<TriageArea> {
    let p95 = state.detector.stage(crate::detect::StageId::P95High);
    let Some(onset) = p95.first_onset else {
        return Vec::new();
    };
    // Healthy levels come from before the first sign of trouble.
    let before = state
        .detector
        .knee
        .as_ref()
        .map(|k| k.unix_ms)
        .unwrap_or(onset)
        .min(onset);
    let mut out = Vec::new();
    for (id, area, words, hint) in AREAS {
        let mut evidence = Vec::new();
        let mut covered = false;
        for s in &state.engine.signals {
            if s.def.unit == Unit::PerSecond || !matches(&s.def.name, &s.def.query, words) {
                continue;
            }
            covered = true;
            let Some((med, max)) = before_and_peak(state, &s.def.name, before) else {
                continue;
            };
            if max > 0.0 && (med <= 0.0 || max >= ROSE * med) {
                evidence.push(Evidence::Signal {
                    signal: s.def.name.clone(),
                    before: med,
                    max,
                    unit: s.def.unit,
                });
            }
        }
        if id == "network" {
            for w in warnings.iter().filter(|w| w.id == "latency_divergence") {
                covered = true;
                evidence.push(Evidence::Warning {
                    warning: w.id.clone(),
                    text: w.text.clone(),
                });
            }
        }
        out.push(TriageArea {
            area: id.into(),
            title: area.into(),
            covered,
            points_here: !evidence.is_empty(),
            evidence,
            hint: (!covered).then(|| hint.to_string()),
        });
    }
    out
}
