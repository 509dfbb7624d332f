//! Wires configured sources to the store and the signal engine. The UI and the headless mode
//! both drive a `RunState`: apply source events as they arrive, `tick` on every refresh.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::detect::{Detector, Frame, Transition};
use crate::engine::Engine;
use crate::model::stale_nan;
use crate::model::LocalSources;
use crate::model::{now_ms, Health, Labels, SourceEvent, TimeMs};
use crate::promql::EvalOptions;
use crate::settings::Config;
use crate::settings::DetectConfig;
use crate::sources::{self, run_poller, PollSettings};
use crate::store::{Store, StoreLimits};

/// Which sources a config turns on.
pub fn local_sources(cfg: &Config) -> LocalSources {
    LocalSources {
        prometheus: cfg.prometheus.is_some(),
        scrape: cfg.scrape.as_ref().is_some_and(|s| !s.urls.is_empty()),
        valkey: cfg.valkey.is_some(),
        k6: cfg
            .k6
            .as_ref()
            .is_some_and(|k| !k.urls.is_empty() || !k.json_files.is_empty()),
    }
}

pub fn eval_options(cfg: &Config) -> EvalOptions {
    EvalOptions {
        lookback_ms: cfg.lookback.as_millis() as i64,
        ..EvalOptions::default()
    }
}

/// A change worth reporting (headless prints these as JSON lines; the UI's event line shows them).
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    Health {
        source: String,
        t: TimeMs,
        health: Health,
    },
    QueryError {
        source: String,
        signal: String,
        error: String,
    },
    Warnings {
        source: String,
        signal: String,
        warnings: Vec<String>,
    },
}

/// Everything the UI and the headless writer read.
pub struct RunState {
    pub store: Store,
    pub engine: Engine,
    pub health: BTreeMap<String, Health>,
    /// Series each non-scrape source pushed, so they can be marked stale when it goes down.
    source_series: HashMap<String, HashSet<Labels>>,
    /// Last query error per (source, signal), so a repeat is not reported again.
    errors: BTreeMap<(String, String), String>,
    pub refresh_ms: TimeMs,
    pub detector: Detector,
    /// Every stage transition of the run, in order.
    pub transitions: Vec<Transition>,
    /// (unix ms, text) of every annotation, in order.
    pub annotations: Vec<(TimeMs, String)>,
    pub started: Option<TimeMs>,
    pub last_tick: Option<TimeMs>,
    /// Every value each signal took, for the report's statistics (thinned past a bound).
    pub signal_values: BTreeMap<String, Vec<f64>>,
}

/// Values kept per signal for the report; past this, every second one is dropped, which keeps
/// the distribution while bounding memory on long runs.
const MAX_VALUES_PER_SIGNAL: usize = 200_000;

/// Halves a history by keeping every second entry: its shape survives, its memory is bounded.
pub fn drop_every_other<T>(v: &mut Vec<T>) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        i % 2 == 0
    });
}

impl RunState {
    pub fn new(cfg: &Config) -> Result<Self, String> {
        Self::from_parts(
            &cfg.signals,
            local_sources(cfg),
            eval_options(cfg),
            cfg.refresh.as_millis() as TimeMs,
            cfg.detect.clone(),
        )
    }

    /// Live runs and replays build the same state from the same parts.
    pub fn from_parts(
        signals: &[crate::settings::SignalDef],
        srcs: LocalSources,
        opts: EvalOptions,
        refresh_ms: TimeMs,
        detect: DetectConfig,
    ) -> Result<Self, String> {
        let engine = Engine::new(signals, srcs, opts)?;
        Ok(Self {
            store: Store::new(StoreLimits::default()),
            engine,
            health: BTreeMap::new(),
            source_series: HashMap::new(),
            errors: BTreeMap::new(),
            refresh_ms,
            detector: Detector::new(detect),
            transitions: Vec::new(),
            annotations: Vec::new(),
            started: None,
            last_tick: None,
            signal_values: BTreeMap::new(),
        })
    }

    /// Applies one source event; returns what changed that is worth telling.
    pub fn apply(&mut self, ev: SourceEvent) -> Option<Notice> {
        match ev {
            SourceEvent::Samples { source, samples } => {
                self.store.push_samples(&samples);
                if source != sources::scrape::SOURCE {
                    let seen = self.source_series.entry(source).or_default();
                    seen.extend(samples.into_iter().map(|s| s.labels));
                }
                None
            }
            SourceEvent::SignalValues {
                source,
                signal,
                points,
            } => {
                self.errors.remove(&(source, signal.clone()));
                self.engine.apply_remote(&signal, points);
                None
            }
            SourceEvent::QueryError {
                source,
                signal,
                error,
            } => {
                self.engine.apply_error(&signal, error.clone());
                let key = (source.clone(), signal.clone());
                if self.errors.get(&key) == Some(&error) {
                    return None;
                }
                self.errors.insert(key, error.clone());
                Some(Notice::QueryError {
                    source,
                    signal,
                    error,
                })
            }
            SourceEvent::QueryWarnings {
                source,
                signal,
                warnings,
            } => Some(Notice::Warnings {
                source,
                signal,
                warnings,
            }),
            SourceEvent::Health { source, t, health } => {
                if matches!(health, Health::Down { .. }) {
                    // Like a failed Prometheus scrape: the source's series end here, so local
                    // signals show no data instead of repeating the last value for 5 minutes.
                    if let Some(series) = self.source_series.remove(&source) {
                        for l in series {
                            self.store.push(&l, t, stale_nan());
                        }
                    }
                }
                self.health.insert(source.clone(), health.clone());
                Some(Notice::Health { source, t, health })
            }
        }
    }

    /// One refresh: evaluate local signals, expire remote values whose source went quiet,
    /// and run the detector on the result. Returns the stage transitions it caused.
    pub fn tick(&mut self, now: TimeMs) -> Vec<Transition> {
        self.started.get_or_insert(now);
        self.last_tick = Some(now);
        self.engine.evaluate_local(&self.store, now);
        self.engine
            .expire_remote(now, (self.refresh_ms * 3).max(5_000));
        for s in &self.engine.signals {
            let v = self.signal_values.entry(s.def.name.clone()).or_default();
            v.extend(s.latest.iter().map(|p| p.value).filter(|x| x.is_finite()));
            if v.len() > MAX_VALUES_PER_SIGNAL {
                drop_every_other(v);
            }
        }
        let tr = self.detector.step(Frame::from_engine(&self.engine, now));
        self.transitions.extend(tr.iter().cloned());
        tr
    }
}

/// Started source tasks and the channel their events arrive on.
pub struct RunningSources {
    pub rx: mpsc::Receiver<SourceEvent>,
    pub handles: Vec<JoinHandle<()>>,
    pub names: Vec<String>,
}

/// Builds every configured source (failing fast on bad settings) and spawns its task.
pub fn start_sources(
    cfg: &Config,
    engine: &Engine,
    cancel: &CancellationToken,
) -> anyhow::Result<RunningSources> {
    let (tx, rx) = mpsc::channel(1024);
    let mut handles = Vec::new();
    let mut names = Vec::new();
    let timeout = cfg.timeout();
    let settings = |name: &str| PollSettings {
        name: name.to_string(),
        refresh: cfg.refresh,
        timeout,
        backoff_max: cfg.backoff_max,
    };
    let mut spawn =
        |name: &str, fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
            names.push(name.to_string());
            handles.push(tokio::spawn(fut));
        };
    if let Some(p) = &cfg.prometheus {
        let queries = engine.remote_queries();
        let backfill = Some((cfg.window, cfg.refresh));
        let poller = sources::prometheus::PrometheusPoller::new(p, queries, timeout, backfill)?;
        spawn(
            sources::prometheus::SOURCE,
            Box::pin(run_poller(
                poller,
                settings(sources::prometheus::SOURCE),
                tx.clone(),
                cancel.clone(),
            )),
        );
    }
    if let Some(s) = cfg.scrape.as_ref().filter(|s| !s.urls.is_empty()) {
        let poller = sources::scrape::ScrapePoller::new(s.clone(), timeout)?;
        spawn(
            sources::scrape::SOURCE,
            Box::pin(run_poller(
                poller,
                settings(sources::scrape::SOURCE),
                tx.clone(),
                cancel.clone(),
            )),
        );
    }
    if let Some(v) = &cfg.valkey {
        let poller = sources::valkey::ValkeyPoller::new(v.clone(), timeout).context("valkey")?;
        spawn(
            "valkey",
            Box::pin(run_poller(
                poller,
                settings("valkey"),
                tx.clone(),
                cancel.clone(),
            )),
        );
    }
    if let Some(k) = &cfg.k6 {
        if !k.urls.is_empty() {
            let poller = sources::k6::K6RestPoller::new(k.urls.clone(), timeout).context("k6")?;
            spawn(
                "k6",
                Box::pin(run_poller(
                    poller,
                    settings("k6"),
                    tx.clone(),
                    cancel.clone(),
                )),
            );
        }
        if !k.json_files.is_empty() {
            let poller = sources::k6_json::K6JsonPoller::new(k.json_files.clone(), k.window);
            spawn(
                "k6-json",
                Box::pin(run_poller(
                    poller,
                    settings("k6-json"),
                    tx.clone(),
                    cancel.clone(),
                )),
            );
        }
    }
    Ok(RunningSources { rx, handles, names })
}

/// Current wall-clock ms; in one place so replay can substitute its own clock later.
pub fn clock() -> TimeMs {
    now_ms()
}
