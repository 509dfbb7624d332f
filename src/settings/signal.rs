//! Named SLIs: each signal is a PromQL query bound to a source, with warn/crit thresholds and a
//! direction, grouped as in the design (leading, throughput & capacity, lagging, stability).

use super::ConfigError;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Leading,
    Throughput,
    Lagging,
    Stability,
}

/// Where a signal's query is evaluated.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QuerySource {
    /// Prometheus when one is configured, unless the query reads series that slitop's own
    /// Valkey or k6 sources produce; locally otherwise.
    #[default]
    Auto,
    Prometheus,
    Local,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Larger values are worse (latency, errors, queue depth): warn when value ≥ warn.
    #[default]
    HigherIsWorse,
    /// Smaller values are worse (throughput, efficiency): warn when value ≤ warn.
    LowerIsWorse,
}

/// What a signal means to the saturation detector; at most one signal per role is used.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Offered load in closed-loop tests (virtual users).
    Vus,
    /// Offered arrival rate (req/s) in open-loop tests.
    Offered,
    /// Achieved throughput (req/s completed).
    Throughput,
    /// In-flight requests at the service.
    Pending,
    QueueDepth,
    QueueLag,
    /// Entries added to the queue per second: arrivals, when nothing offers the load itself.
    EnqueueRate,
    /// Entries read from the queue per second. Shown, never counted as work done: workers
    /// may read and skip work whose client has gone.
    DequeueRate,
    /// Work acknowledged at the queue per second (completions when the server counts none).
    AckRate,
    /// Iterations k6 started per second (completed + dropped + the growth of those in
    /// progress): the offered load of an arrival-rate test when the service reports none.
    IterationRate,
    /// Requests the client completed per second: the last resort for load and throughput.
    ClientRate,
    /// Requests the client completed without failing, per second: throughput when the
    /// service counts none (a request that ended in EOF is no work done).
    ClientOkRate,
    Consumers,
    /// Slots or instances that could take work.
    Allocatable,
    ServiceTime,
    LatencyP50,
    LatencyP95,
    LatencyP99,
    ClientP95,
    /// The client's mean latency over its recent requests: with its request rate, the
    /// requests it has in flight (Little's law).
    ClientMean,
    /// The seconds a VU spends per request outside it (think time): with the unloaded
    /// latency, a closed loop's healthy rate per VU, and so its knee.
    ClientThink,
    /// Failed requests per second (or fraction).
    ErrorRate,
    /// Connection-level failures seen by clients (EOF, reset).
    EofErrors,
    DroppedIterations,
    /// The most VUs the load generator may run (k6's vus-max).
    VusMax,
    /// A counter that must stay zero.
    Stability,
    /// The latency of one hop of the request's path (gateway enqueue, the Valkey round trip,
    /// queue delay, the worker's service): the detector names the hop that rose first and
    /// most when p95 rises.
    HopLatency,
}

/// Unit of a signal's value, for formatting only.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum Unit {
    #[default]
    #[serde(rename = "")]
    None,
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "req/s")]
    PerSecond,
    #[serde(rename = "ratio")]
    Ratio,
    #[serde(rename = "bytes")]
    Bytes,
    #[serde(rename = "count")]
    Count,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SignalDef {
    pub name: String,
    pub group: Group,
    /// PromQL.
    pub query: String,
    #[serde(default)]
    pub source: QuerySource,
    #[serde(default)]
    pub unit: Unit,
    #[serde(default)]
    pub warn: Option<f64>,
    #[serde(default)]
    pub crit: Option<f64>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub role: Option<Role>,
    /// One line shown in the help and `check`.
    #[serde(default)]
    pub help: Option<String>,
}

/// Threshold band of a value; every band has a word and a symbol so it reads without colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    NoData,
    Ok,
    Warn,
    Crit,
}

impl Band {
    pub fn word(self) -> &'static str {
        match self {
            Band::NoData => "no data",
            Band::Ok => "ok",
            Band::Warn => "warn",
            Band::Crit => "crit",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Band::NoData => "?",
            Band::Ok => "✓",
            Band::Warn => "▲",
            Band::Crit => "✖",
        }
    }
}

impl SignalDef {
    /// The band `value` falls in. NaN is "no data".
    pub fn band(&self, value: f64) -> Band {
        if value.is_nan() {
            return Band::NoData;
        }
        let past = |limit: Option<f64>| match (limit, self.direction) {
            (Some(l), Direction::HigherIsWorse) => value >= l,
            (Some(l), Direction::LowerIsWorse) => value <= l,
            (None, _) => false,
        };
        if past(self.crit) {
            Band::Crit
        } else if past(self.warn) {
            Band::Warn
        } else {
            Band::Ok
        }
    }

    /// Checks the thresholds are ordered for the direction; returns what is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::Other("signal name is empty".into()));
        }
        if !self
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(ConfigError::Other(format!(
                "signal name {:?}: use letters, digits, '_', '-' or '.'",
                self.name
            )));
        }
        if let (Some(w), Some(c)) = (self.warn, self.crit) {
            let ordered = match self.direction {
                Direction::HigherIsWorse => w <= c,
                Direction::LowerIsWorse => w >= c,
            };
            if !ordered {
                return Err(ConfigError::Other(format!(
                    "signal {}: warn {w} and crit {c} are in the wrong order for direction {:?} (crit must be the worse value)",
                    self.name, self.direction
                )));
            }
        }
        Ok(())
    }
}

/// Parses `NAME=PROMQL` from `--signal`.
pub fn parse_adhoc(spec: &str) -> Result<SignalDef, ConfigError> {
    let (name, query) = spec
        .split_once('=')
        .ok_or_else(|| format!("--signal {spec:?}: expected NAME=PROMQL"))?;
    let def = SignalDef {
        name: name.trim().to_string(),
        group: Group::Leading,
        query: query.trim().to_string(),
        source: QuerySource::Auto,
        unit: Unit::None,
        warn: None,
        crit: None,
        direction: Direction::HigherIsWorse,
        role: None,
        help: Some("ad-hoc signal from --signal".into()),
    };
    if def.query.is_empty() {
        return Err(ConfigError::Other(format!(
            "--signal {spec:?}: the PromQL after '=' is empty"
        )));
    }
    def.validate()?;
    Ok(def)
}

/// The metric names a run needs kept: those the signals' queries name and those the screen
/// reads directly (the queue view's, k6's run state). `None` when a query picks series by
/// `__name__`, whose names no list can foresee: then every series is kept.
pub fn wanted_series(signals: &[SignalDef]) -> Option<std::collections::HashSet<String>> {
    let mut names: std::collections::HashSet<String> = signals
        .iter()
        .flat_map(|s| query_identifiers(&s.query).map(str::to_string))
        .collect();
    if names.contains("__name__") {
        return None;
    }
    // The detector reads a windowed mean's recent companion in its place.
    let recent: Vec<String> = names
        .iter()
        .filter_map(|n| crate::model::recent::recent_family(n))
        .map(str::to_string)
        .collect();
    names.extend(recent);
    names.extend(crate::model::series::QUEUE_SERIES.map(str::to_string));
    names.insert(crate::model::series::K6_STATUS.to_string());
    // The detector fits its windows to it.
    names.insert(crate::model::series::SAMPLE_INTERVAL.to_string());
    Some(names)
}

/// The identifiers in a PromQL expression (metric names among them, with label names and
/// function names): enough to tell which series families a query can read.
pub fn query_identifiers(query: &str) -> impl Iterator<Item = &str> {
    query
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(dir: Direction, warn: f64, crit: f64) -> SignalDef {
        SignalDef {
            name: "x".into(),
            group: Group::Lagging,
            query: "x".into(),
            source: QuerySource::Auto,
            unit: Unit::None,
            warn: Some(warn),
            crit: Some(crit),
            direction: dir,
            role: None,
            help: None,
        }
    }

    #[test]
    fn bands_follow_direction() {
        let p95 = sig(Direction::HigherIsWorse, 0.5, 2.0);
        assert_eq!(p95.band(0.1), Band::Ok);
        assert_eq!(p95.band(0.5), Band::Warn);
        assert_eq!(p95.band(2.5), Band::Crit);
        assert_eq!(p95.band(f64::NAN), Band::NoData);
        let rps = sig(Direction::LowerIsWorse, 1000.0, 500.0);
        assert_eq!(rps.band(1200.0), Band::Ok);
        assert_eq!(rps.band(900.0), Band::Warn);
        assert_eq!(rps.band(100.0), Band::Crit);
        assert!(sig(Direction::HigherIsWorse, 2.0, 0.5).validate().is_err());
    }

    #[test]
    fn adhoc_signal_parses() {
        let s = parse_adhoc("rps=sum(rate(x[1m]))").unwrap();
        assert_eq!(
            (s.name.as_str(), s.query.as_str()),
            ("rps", "sum(rate(x[1m]))")
        );
        assert!(parse_adhoc("nope")
            .unwrap_err()
            .to_string()
            .contains("expected NAME=PROMQL"));
        assert!(parse_adhoc("a=").is_err());
    }

    #[test]
    fn a_windowed_mean_keeps_its_recent_companion() {
        let mut d = sig(Direction::HigherIsWorse, 1.0, 2.0);
        d.query = "max(k6_client_duration_mean_seconds)".into();
        let w = wanted_series(&[d]).unwrap();
        assert!(w.contains("k6_client_duration_mean_seconds"));
        assert!(w.contains("k6_client_recent_duration_mean_seconds"));
        assert!(!w.contains("k6_api_recent_duration_mean_seconds"));
    }
}
