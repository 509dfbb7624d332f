//! Signal engine: compiles every signal for where it is evaluated, evaluates local ones over
//! the store on each refresh, takes remote ones from the Prometheus source, and keeps each
//! signal's latest points (the run state keeps their history).

use std::collections::BTreeMap;

use crate::model::RemoteQuery;
use crate::model::{Labels, LocalSources, SignalPoint, TimeMs};
use crate::promql::{self, EvalOptions, LocalQuery, Value};
use crate::settings::{QuerySource, Role, SignalDef};
use crate::store::Store;

#[derive(Debug)]
pub enum Evaluator {
    Local(Box<LocalQuery>),
    Remote,
    /// Not evaluated; the reason is shown in its panel and by `check`.
    Disabled(String),
}

#[derive(Debug)]
pub struct Signal {
    pub def: SignalDef,
    pub eval: Evaluator,
    /// Latest points (one per label set) and when they were computed.
    pub latest: Vec<SignalPoint>,
    pub updated: Option<TimeMs>,
    /// Last query error, cleared by the next good answer.
    pub error: Option<String>,
    /// The longest range its query reads, parsed once (the detector reads it every refresh).
    pub range: Option<std::time::Duration>,
}

impl Signal {
    pub fn where_evaluated(&self) -> &'static str {
        match self.eval {
            Evaluator::Local(_) => "local",
            Evaluator::Remote => "prometheus",
            Evaluator::Disabled(_) => "disabled",
        }
    }
}

pub struct Engine {
    pub signals: Vec<Signal>,
    /// The detector's fast view of the rate roles: each companion (named `NAME@fast`) is its
    /// signal's query with ranges cut to a few sample intervals (see `promql::fast_window`),
    /// so detection never waits on a display window such as `[1m]`; a throughput's also has
    /// one over the last sample interval alone (`NAME@last`). Not shown, not reported.
    pub fast: Vec<Signal>,
    opts: EvalOptions,
}

/// True when the query names a series family that slitop's own Valkey or k6 source produces.
fn reads_local_series(query: &str, srcs: LocalSources) -> bool {
    crate::settings::query_identifiers(query).any(|tok| {
        (srcs.valkey && tok.starts_with("valkey_")) || (srcs.k6 && tok.starts_with("k6_"))
    })
}

/// A signal whose query does not compile: configuration, so the run refuses to start.
#[derive(Debug, thiserror::Error)]
#[error("signal {signal}: {message} in query {query:?}")]
pub struct EngineError {
    pub signal: String,
    pub query: String,
    pub message: String,
}

impl EngineError {
    fn of(def: &SignalDef, e: impl std::fmt::Display) -> Self {
        Self {
            signal: def.name.clone(),
            query: def.query.clone(),
            message: e.to_string(),
        }
    }
}

/// Roles the detector judges over a window, and so reads through the fast view: rates, and
/// latencies read from histograms' rates or from the client's requests.
const FAST_ROLES: [Role; 14] = [
    Role::Offered,
    Role::Throughput,
    Role::EnqueueRate,
    Role::DequeueRate,
    Role::AckRate,
    Role::IterationRate,
    Role::ClientRate,
    Role::ClientOkRate,
    Role::ErrorRate,
    Role::LatencyP95,
    Role::ClientP95,
    Role::ClientMean,
    Role::HopLatency,
    Role::ServiceTime,
];

/// A fast companion is named after its signal with this suffix.
const FAST_SUFFIX: &str = "@fast";

/// Roles whose figure over the last sample interval alone the detector reads as throughput
/// now where samples are too far apart to rebuild it from a rate (see `detect::unwindow`).
const LAST_ROLES: [Role; 4] = [
    Role::Throughput,
    Role::AckRate,
    Role::ClientOkRate,
    Role::ClientRate,
];

/// A last-interval companion is named after its signal with this suffix.
const LAST_SUFFIX: &str = "@last";

/// Name of a signal's fast companion.
pub fn fast_name(signal: &str) -> String {
    format!("{signal}{FAST_SUFFIX}")
}

/// The fast companion of a compiled signal, when its role is judged from rates and its query
/// has a range to cut. Remote ones are fitted by the Prometheus source, which sees the
/// server's scrape interval; local ones here, from the interval at which sources are polled.
/// The client's latency a local source keeps over a display window is read from its recent
/// companion (see `model::recent`).
fn fast_companion(s: &Signal, interval: std::time::Duration) -> Option<Signal> {
    if !s.def.role.is_some_and(|r| FAST_ROLES.contains(&r)) {
        return None;
    }
    let eval = match &s.eval {
        Evaluator::Remote => (!promql::interval::range_selectors(&s.def.query).is_empty())
            .then_some(Evaluator::Remote)?,
        Evaluator::Local(_) => {
            let window = promql::interval::fast_window(interval);
            let fitted = promql::interval::fitted(&s.def.query, window).ok()?;
            let text =
                promql::interval::recent(fitted.as_deref().unwrap_or(&s.def.query)).or(fitted)?;
            Evaluator::Local(Box::new(promql::compile_local(&text).ok()?))
        }
        Evaluator::Disabled(_) => return None,
    };
    Some(companion(s, fast_name(&s.def.name), None, eval))
}

/// A companion of `s` named `name`, its query `query` where that differs from the signal's.
fn companion(s: &Signal, name: String, query: Option<String>, eval: Evaluator) -> Signal {
    let mut def = s.def.clone();
    def.name = name;
    if let Some(q) = query {
        def.query = q;
    }
    Signal {
        def,
        eval,
        latest: Vec::new(),
        updated: None,
        error: None,
        range: s.range,
    }
}

/// The last-interval companion of a compiled signal (its rates read as `irate`, see
/// `promql::interval::last_interval`), when its role is a throughput and its query has that
/// form. A remote one is sent as it is: an `irate` needs no window fitted to the server.
fn last_companion(s: &Signal, interval: std::time::Duration) -> Option<Signal> {
    if !s.def.role.is_some_and(|r| LAST_ROLES.contains(&r)) {
        return None;
    }
    let text = promql::interval::last_interval(&s.def.query)?;
    let eval = match &s.eval {
        Evaluator::Remote => Evaluator::Remote,
        Evaluator::Local(_) => {
            // Polled often enough for the detector to rebuild throughput now from the rate,
            // the figure would go unread: not evaluated every refresh for nothing.
            let window = promql::interval::fast_window(interval);
            let (w, s) = (window.as_secs_f64(), interval.as_secs_f64());
            if crate::model::sampling::rebuildable(Some(w), s) {
                return None;
            }
            // Two samples are all it reads: a short window spares the evaluator the rest.
            let short = promql::interval::fitted(&text, window).ok()?;
            let q = promql::compile_local(short.as_deref().unwrap_or(&text)).ok()?;
            Evaluator::Local(Box::new(q))
        }
        Evaluator::Disabled(_) => return None,
    };
    let name = format!("{}{LAST_SUFFIX}", s.def.name);
    Some(companion(s, name, Some(text), eval))
}

impl Engine {
    /// Compiles every signal. A PromQL error is fatal and names its signal; a signal that has
    /// no source to run on is disabled with the reason.
    pub fn new(
        defs: &[SignalDef],
        srcs: LocalSources,
        opts: EvalOptions,
        sample_interval: std::time::Duration,
    ) -> Result<Self, EngineError> {
        let mut signals = Vec::new();
        for def in defs {
            let remote = match def.source {
                QuerySource::Prometheus => true,
                QuerySource::Local => false,
                QuerySource::Auto => srcs.prometheus && !reads_local_series(&def.query, srcs),
            };
            let eval = if remote {
                if !srcs.prometheus {
                    Evaluator::Disabled("needs a Prometheus server (--prometheus URL)".into())
                } else {
                    promql::check_syntax(&def.query).map_err(|e| EngineError::of(def, e))?;
                    Evaluator::Remote
                }
            } else {
                let q = promql::compile_local(&def.query).map_err(|e| EngineError::of(def, e))?;
                if !(srcs.scrape || srcs.valkey || srcs.k6) {
                    Evaluator::Disabled(
                        "no local source (--scrape, --valkey or --k6) feeds it".into(),
                    )
                } else {
                    Evaluator::Local(Box::new(q))
                }
            };
            signals.push(Signal {
                def: def.clone(),
                eval,
                latest: Vec::new(),
                updated: None,
                error: None,
                range: promql::interval::longest_range(&def.query),
            });
        }
        let fast = signals
            .iter()
            .filter_map(|s| fast_companion(s, sample_interval))
            .chain(
                signals
                    .iter()
                    .filter_map(|s| last_companion(s, sample_interval)),
            )
            .collect();
        Ok(Self {
            signals,
            fast,
            opts,
        })
    }

    /// How local queries are evaluated (lookback, range semantics).
    pub fn eval_options(&self) -> &EvalOptions {
        &self.opts
    }

    pub fn remote_queries(&self) -> Vec<RemoteQuery> {
        let shown = self.signals.iter().map(|s| (s, false));
        // Only a fast companion's windows are fitted to the server's scrape interval.
        let fast = self
            .fast
            .iter()
            .map(|s| (s, s.def.name.ends_with(FAST_SUFFIX)));
        shown
            .chain(fast)
            .filter(|(s, _)| matches!(s.eval, Evaluator::Remote))
            .map(|(s, fit)| RemoteQuery {
                signal: s.def.name.clone(),
                query: s.def.query.clone(),
                fit,
            })
            .collect()
    }

    fn find_mut(&mut self, name: &str) -> Option<&mut Signal> {
        self.signals
            .iter_mut()
            .chain(self.fast.iter_mut())
            .find(|s| s.def.name == name)
    }

    /// The longest range a signal's query reads, when it reads one.
    pub fn longest_range(&self, name: &str) -> Option<std::time::Duration> {
        self.signals.iter().find(|s| s.def.name == name)?.range
    }

    /// Seconds from the newest sample a locally evaluated signal reads (as of `t`) to `t`:
    /// how far behind the refresh its data is (a scrape that answered after the refresh
    /// began counts only at the next). None for signals Prometheus computes.
    pub fn sample_age_s(&self, store: &Store, name: &str, t: TimeMs) -> Option<f64> {
        let s = self.signals.iter().find(|s| s.def.name == name)?;
        let Evaluator::Local(q) = &s.eval else {
            return None;
        };
        let newest = q
            .metric_names()
            .iter()
            .flat_map(|n| store.family(n))
            .filter_map(|(_, series)| series.last_at(t).map(|p| p.0))
            .max()?;
        Some((t - newest).max(0) as f64 / 1000.0)
    }

    /// A signal's fast companion, when it has one.
    pub fn fast_of(&self, name: &str) -> Option<&Signal> {
        // Read every refresh for every role: compared in place, without building the name.
        self.fast
            .iter()
            .find(|s| s.def.name.strip_suffix(FAST_SUFFIX) == Some(name))
    }

    /// A signal's last-interval companion, when it has one.
    pub fn last_of(&self, name: &str) -> Option<&Signal> {
        self.fast
            .iter()
            .find(|s| s.def.name.strip_suffix(LAST_SUFFIX) == Some(name))
    }

    /// Points computed by Prometheus: an instant answer (one t) or a back-fill matrix.
    pub fn apply_remote(&mut self, signal: &str, points: Vec<SignalPoint>) {
        let Some(target) = self.find_mut(signal) else {
            return;
        };
        // The latest point of each label set is the current value.
        let mut latest: BTreeMap<Labels, SignalPoint> = BTreeMap::new();
        for p in points {
            match latest.get(&p.labels) {
                Some(cur) if cur.t >= p.t => {}
                _ => {
                    latest.insert(p.labels.clone(), p);
                }
            }
        }
        let s = target;
        s.updated = latest.values().map(|p| p.t).max().or(s.updated);
        s.latest = latest.into_values().collect();
        s.error = None;
    }

    pub fn apply_error(&mut self, signal: &str, error: String) {
        if let Some(s) = self.find_mut(signal) {
            s.error = Some(error);
        }
    }

    /// Evaluates every local signal at `t` over `store`.
    pub fn evaluate_local(&mut self, store: &Store, t: TimeMs) {
        let memo = crate::promql::Memo::default();
        for s in self.signals.iter_mut().chain(self.fast.iter_mut()) {
            let Evaluator::Local(q) = &s.eval else {
                continue;
            };
            match q.eval_shared(store, t, &self.opts, Some(&memo)) {
                Ok(v) => {
                    let pts: Vec<SignalPoint> = match v {
                        Value::Scalar(value) => vec![SignalPoint {
                            labels: Labels::new(),
                            t,
                            value,
                        }],
                        Value::Vector(items) => items
                            .into_iter()
                            .map(|(labels, value)| SignalPoint { labels, t, value })
                            .collect(),
                    };
                    s.latest = pts;
                    s.updated = Some(t);
                    s.error = None;
                }
                Err(e) => s.error = Some(e.to_string()),
            }
        }
    }

    /// Forgets remote values older than `max_age` (their source is down or stale).
    pub fn expire_remote(&mut self, now: TimeMs, max_age_ms: TimeMs) {
        for s in self.signals.iter_mut().chain(self.fast.iter_mut()) {
            if matches!(s.eval, Evaluator::Remote)
                && s.updated
                    .is_some_and(|u| now.saturating_sub(u) > max_age_ms)
            {
                s.latest.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::parse_adhoc;

    #[test]
    fn auto_resolves_by_configured_sources() {
        let defs = vec![
            parse_adhoc("rps=sum(rate(http_requests_total[1m]))").unwrap(),
            parse_adhoc("depth=sum(valkey_stream_length)").unwrap(),
        ];
        let srcs = LocalSources {
            prometheus: true,
            valkey: true,
            ..Default::default()
        };
        let e = Engine::new(
            &defs,
            srcs,
            EvalOptions::default(),
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(e.signals[0].where_evaluated(), "prometheus");
        assert_eq!(e.signals[1].where_evaluated(), "local");
        let only_scrape = LocalSources {
            scrape: true,
            ..Default::default()
        };
        let e = Engine::new(
            &defs,
            only_scrape,
            EvalOptions::default(),
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(e.signals[0].where_evaluated(), "local");
    }

    #[test]
    fn unsupported_function_is_named_with_its_signal() {
        let defs = vec![parse_adhoc("x=label_replace(up, \"a\", \"b\", \"c\", \"d\")").unwrap()];
        let srcs = LocalSources {
            scrape: true,
            ..Default::default()
        };
        let e = Engine::new(
            &defs,
            srcs,
            EvalOptions::default(),
            std::time::Duration::from_secs(1),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.starts_with("signal x: ") && e.contains("label_replace"),
            "{e}"
        );
        let bad = vec![parse_adhoc("y=sum(rate(x[1m])").unwrap()];
        let e = Engine::new(
            &bad,
            srcs,
            EvalOptions::default(),
            std::time::Duration::from_secs(1),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.starts_with("signal y: syntax error"), "{e}");
    }

    #[test]
    fn local_evaluation_fills_latest() {
        let defs = vec![parse_adhoc("d=sum(valkey_stream_length)").unwrap()];
        let srcs = LocalSources {
            valkey: true,
            ..Default::default()
        };
        let mut e = Engine::new(
            &defs,
            srcs,
            EvalOptions::default(),
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        let mut st = Store::default();
        st.push(
            &Labels::named("valkey_stream_length").with("stream", "a"),
            1000,
            3.0,
        );
        st.push(
            &Labels::named("valkey_stream_length").with("stream", "b"),
            1000,
            4.0,
        );
        e.evaluate_local(&st, 1500);
        assert_eq!(e.signals[0].latest.len(), 1);
        assert_eq!(e.signals[0].latest[0].value, 7.0);
    }

    #[test]
    fn the_client_mean_is_read_by_the_detector_over_its_newest_requests() {
        let mut def = parse_adhoc(
            "mean=max(k6_client_duration_mean_seconds) or max(k6_api_duration_mean_seconds)",
        )
        .unwrap();
        def.role = Some(Role::ClientMean);
        let srcs = LocalSources {
            k6: true,
            ..Default::default()
        };
        let mut e = Engine::new(
            &[def],
            srcs,
            EvalOptions::default(),
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        let mut st = Store::default();
        st.push(&Labels::named("k6_api_duration_mean_seconds"), 1000, 0.1);
        st.push(
            &Labels::named("k6_api_recent_duration_mean_seconds"),
            1000,
            0.3,
        );
        e.evaluate_local(&st, 1500);
        // The screen keeps the window's mean; the detector reads the newest requests'.
        assert_eq!(e.signals[0].latest[0].value, 0.1);
        assert_eq!(e.fast_of("mean").unwrap().latest[0].value, 0.3);
    }
}
