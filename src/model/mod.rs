//! The data every part of slitop shares: label sets, samples, what sources emit, and the
//! names of the series that sources, the screen and the report all read.

pub mod cadence;
pub mod recent;
pub mod sampling;
pub mod series;

use std::collections::BTreeMap;
use std::fmt;

/// Milliseconds since the Unix epoch: the one time unit inside slitop.
pub type TimeMs = i64;

/// Current wall-clock time in ms.
pub fn now_ms() -> TimeMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as TimeMs)
        .unwrap_or(0)
}

/// Name of the label that carries the metric name, as in Prometheus.
pub const METRIC_NAME: &str = "__name__";

/// Halves the first `upto` entries by keeping every second one: the shape survives, and so
/// does the very first entry (the run's start), however often it is thinned. Every bounded
/// history of a run (signal values, detector frames, the screen's timeline) thins this way.
pub fn thin_front<T>(v: &mut Vec<T>, upto: usize) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        i > upto || i % 2 == 1
    });
}

/// A label set, sorted by name. The metric name is the `__name__` label.
///
/// Shared, not copied: a series' labels are cloned into every sample, point and store key
/// that names it, so a clone is a reference count, and a change copies only a shared set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(pub std::sync::Arc<BTreeMap<String, String>>);

impl serde::Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(m: BTreeMap<String, String>) -> Self {
        Self(std::sync::Arc::new(m))
    }
}

impl Labels {
    pub fn new() -> Self {
        Self::default()
    }

    /// A label set holding only a metric name.
    pub fn named(name: &str) -> Self {
        let mut l = Self::new();
        l.set(METRIC_NAME, name);
        l
    }

    /// Builder form: `Labels::named("x").with("a", "b")`.
    pub fn with(mut self, k: &str, v: &str) -> Self {
        self.set(k, v);
        self
    }

    pub fn set(&mut self, k: &str, v: &str) {
        std::sync::Arc::make_mut(&mut self.0).insert(k.to_string(), v.to_string());
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    pub fn name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    pub fn remove(&mut self, k: &str) -> Option<String> {
        // Only a set that holds `k` is copied (when shared) to take it out.
        if !self.0.contains_key(k) {
            return None;
        }
        std::sync::Arc::make_mut(&mut self.0).remove(k)
    }

    /// The same set without `__name__`, as PromQL functions return.
    pub fn without_name(&self) -> Labels {
        let mut l = self.clone();
        l.remove(METRIC_NAME);
        l
    }

    /// Only the named labels (PromQL `by`/`on`).
    pub fn keep_only(&self, names: &[String]) -> Labels {
        let mut k = Labels::new();
        for n in names {
            if let Some(v) = self.get(n) {
                k.set(n, v);
            }
        }
        k
    }

    /// Without the metric name and the named labels (PromQL `without`/`ignoring`).
    pub fn drop_labels(&self, names: &[String]) -> Labels {
        let mut k = self.without_name();
        for n in names {
            k.remove(n);
        }
        k
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Labels {
    /// PromQL-style: `name{a="b",c="d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.name() {
            f.write_str(n)?;
        }
        let rest: Vec<_> = self.iter().filter(|(k, _)| *k != METRIC_NAME).collect();
        if !rest.is_empty() || self.name().is_none() {
            f.write_str("{")?;
            for (i, (k, v)) in rest.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{k}={v:?}")?;
            }
            f.write_str("}")?;
        }
        Ok(())
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Labels {
    fn from(pairs: [(&str, &str); N]) -> Self {
        let mut l = Labels::new();
        for (k, v) in pairs {
            l.set(k, v);
        }
        l
    }
}

/// One observation of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub t: TimeMs,
    pub value: f64,
}

impl Sample {
    pub fn new(labels: Labels, t: TimeMs, value: f64) -> Self {
        Self { labels, t, value }
    }
}

/// Health of one source, as shown in its panel and printed in headless mode.
#[derive(Clone, Debug, PartialEq)]
pub enum Health {
    /// Not polled yet.
    Starting,
    Ok,
    /// A poll is overdue; the last good data is from `since`.
    Stale {
        since: TimeMs,
    },
    Down {
        reason: String,
    },
    /// What the source watches has ended (a k6 run that completed or was stopped): its
    /// failures since are the end, not trouble. Its series end here, as when it goes down.
    Finished,
}

impl Health {
    /// One word for the panel header and the JSON lines.
    pub fn word(&self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Ok => "ok",
            Health::Stale { .. } => "stale",
            Health::Down { .. } => "down",
            Health::Finished => "finished",
        }
    }

    /// The source's series end here: down or finished, nothing it reported still holds.
    pub fn ends_series(&self) -> bool {
        matches!(self, Health::Down { .. } | Health::Finished)
    }

    pub fn reason(&self) -> Option<String> {
        match self {
            Health::Down { reason } => Some(reason.clone()),
            Health::Stale { since } => Some(format!("no data since {since}")),
            _ => None,
        }
    }
}

/// The result of one Prometheus-evaluated signal query at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalPoint {
    pub labels: Labels,
    pub t: TimeMs,
    pub value: f64,
}

/// What a source task sends to the collector. Sources never touch the store directly:
/// data flows one way, sources → store → signals.
#[derive(Clone, Debug)]
pub enum SourceEvent {
    /// Raw series for the local store (scrape, Valkey, k6).
    Samples {
        source: String,
        samples: Vec<Sample>,
    },
    /// Values of a signal already evaluated by a remote Prometheus (instant query or back-fill).
    SignalValues {
        source: String,
        signal: String,
        points: Vec<SignalPoint>,
    },
    /// A query-level problem that does not take the whole source down (e.g. one bad PromQL).
    QueryError {
        source: String,
        signal: String,
        error: String,
    },
    /// Non-fatal warnings returned with a query (Prometheus `warnings`/`infos`).
    QueryWarnings {
        source: String,
        signal: String,
        warnings: Vec<String>,
    },
    Health {
        source: String,
        t: TimeMs,
        health: Health,
    },
}

/// Prometheus's staleness marker: a NaN with this exact bit pattern ends a series.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One signal's query as the Prometheus source sends it.
#[derive(Clone, Debug)]
pub struct RemoteQuery {
    pub signal: String,
    pub query: String,
    /// The detector's fast view: the source cuts the query's ranges to a few of the server's
    /// scrape intervals, which only it can see.
    pub fit: bool,
}

/// Which local sources feed the store, for resolving `source = "auto"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocalSources {
    pub prometheus: bool,
    pub scrape: bool,
    pub valkey: bool,
    pub k6: bool,
}

/// What the screen may ask of a source while a run goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceCommand {
    /// Stop the k6 test through its REST API.
    StopK6,
}
