//! Signals evaluated over an interval of the run rather than at one instant: the signal's own
//! query with its ranges stretched to the interval, evaluated at the interval's end over the
//! run's store (so "p95 over this plateau" is what Prometheus's `histogram_quantile` over the
//! buckets' increases would answer). Only signals evaluated locally have their raw series in
//! the store; for the others these return None and callers fall back to per-refresh values.

use std::time::Duration;

use crate::engine::Evaluator;
use crate::model::TimeMs;
use crate::promql::interval::{has_range, is_histogram_quantile, over_interval};
use crate::promql::Value;
use crate::settings::{Role, SignalDef};
use crate::state::RunState;

/// The quantiles reported for every histogram: p50, p90, p95, p99, p99.9.
pub const QUANTILES: [(f64, &str); 5] = [
    (0.5, "p50"),
    (0.9, "p90"),
    (0.95, "p95"),
    (0.99, "p99"),
    (0.999, "p99_9"),
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub from: TimeMs,
    pub to: TimeMs,
}

impl Window {
    pub fn secs(&self) -> f64 {
        (self.to - self.from) as f64 / 1000.0
    }
}

/// A histogram the signals read: its bucket family and one query over it to re-aim.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Family name without `_bucket`, e.g. `hop_latency_seconds`.
    pub name: String,
    /// A `histogram_quantile` query over it (φ is replaced per quantile).
    pub query: String,
    /// The role of the signal it came from, when it has one.
    pub role: Option<Role>,
}

fn locally_evaluated(state: &RunState, name: &str) -> bool {
    state
        .engine
        .signals
        .iter()
        .any(|s| s.def.name == name && matches!(s.eval, Evaluator::Local(_)))
}

/// One number from a query's result: quantiles of several label sets take the worst, other
/// values are summed (as the detector sums a signal's label sets).
fn collapse(v: Value, quantile: bool) -> Option<f64> {
    match v {
        Value::Scalar(x) => Some(x).filter(|x| x.is_finite()),
        Value::Vector(items) => {
            let vals: Vec<f64> = items
                .into_iter()
                .map(|(_, v)| v)
                .filter(|v| v.is_finite())
                .collect();
            if vals.is_empty() {
                None
            } else if quantile {
                vals.into_iter().reduce(f64::max)
            } else {
                Some(vals.into_iter().sum())
            }
        }
    }
}

/// `query` with every range set to the window's length, evaluated at its end.
pub fn eval_query(state: &RunState, query: &str, w: Window, quantile: Option<f64>) -> Option<f64> {
    if w.to <= w.from {
        return None;
    }
    let q = over_interval(
        query,
        Duration::from_millis((w.to - w.from) as u64),
        quantile,
    )
    .ok()?;
    let v = q
        .eval(&state.store, w.to, state.engine.eval_options())
        .ok()?;
    collapse(v, quantile.is_some())
}

/// A signal over the window: its ranges stretched to the window. Signals without a range
/// (gauges) or not evaluated locally give None.
pub fn signal_over(state: &RunState, def: &SignalDef, w: Window) -> Option<f64> {
    if !locally_evaluated(state, &def.name) || !has_range(&def.query) {
        return None;
    }
    eval_query(state, &def.query, w, None)
}

/// The first signal bound to `role` (in config order) that yields a value over the window.
pub fn role_over(state: &RunState, role: Role, w: Window) -> Option<f64> {
    state
        .engine
        .signals
        .iter()
        .filter(|s| s.def.role == Some(role))
        .find_map(|s| signal_over(state, &s.def, w))
}

/// Every histogram some locally evaluated `histogram_quantile` signal reads, in config order;
/// the first listed is the one of the latency role (p95, else p50, else p99), when there is one.
pub fn histograms(state: &RunState) -> Vec<Histogram> {
    let mut out: Vec<Histogram> = Vec::new();
    for s in &state.engine.signals {
        if !matches!(s.eval, Evaluator::Local(_)) || !is_histogram_quantile(&s.def.query) {
            continue;
        }
        let Some(bucket) = crate::settings::query_identifiers(&s.def.query)
            .find(|t| t.ends_with("_bucket") && t.len() > "_bucket".len())
        else {
            continue;
        };
        let name = bucket.trim_end_matches("_bucket").to_string();
        match out.iter_mut().find(|h| h.name == name) {
            Some(h) => {
                if h.role.is_none() {
                    h.role = s.def.role;
                }
            }
            None => out.push(Histogram {
                name,
                query: s.def.query.clone(),
                role: s.def.role,
            }),
        }
    }
    let rank = |h: &Histogram| match h.role {
        Some(Role::LatencyP95) => 0,
        Some(Role::LatencyP50) => 1,
        Some(Role::LatencyP99) => 2,
        _ => 3,
    };
    out.sort_by_key(rank);
    out
}

/// The histogram the latency roles read: the request's own latency.
pub fn latency_histogram(hists: &[Histogram]) -> Option<&Histogram> {
    hists.first().filter(|h| {
        matches!(
            h.role,
            Some(Role::LatencyP95 | Role::LatencyP50 | Role::LatencyP99)
        )
    })
}

/// p50 … p99.9 of a histogram over the window, in the order of `QUANTILES`.
pub fn quantiles(state: &RunState, h: &Histogram, w: Window) -> [Option<f64>; QUANTILES.len()] {
    QUANTILES.map(|(q, _)| eval_query(state, &h.query, w, Some(q)))
}
