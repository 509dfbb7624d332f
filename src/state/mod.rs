//! The state of one run: the store the sources feed, the signal engine, the detector, the
//! stage transitions, annotations and source health. Every mode (live screen, headless,
//! replay) drives a `RunState` the same way: apply source events as they arrive, `tick` on
//! every refresh. It never touches a source or a file.

pub mod history;

pub use history::History;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::detect::{Detector, Frame, Transition};
use crate::engine::Engine;
use crate::model::LocalSources;
use crate::model::{now_ms, Health, Labels, SourceEvent, TimeMs};
use crate::model::{series, stale_nan};
use crate::promql::EvalOptions;
use crate::settings::Config;
use crate::settings::DetectConfig;
use crate::store::{Store, StoreLimits};

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
    /// Each signal's value at every refresh, bounded (see `history`).
    pub history: History,
}

impl RunState {
    /// The state for a configuration whose sources are `srcs`.
    pub fn new(cfg: &Config, srcs: LocalSources) -> Result<Self, crate::engine::EngineError> {
        Self::from_parts(
            &cfg.signals,
            srcs,
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
    ) -> Result<Self, crate::engine::EngineError> {
        let interval = std::time::Duration::from_millis(refresh_ms.max(1) as u64);
        let engine = Engine::new(signals, srcs, opts, interval)?;
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
            history: History::default(),
        })
    }

    /// Applies one source event; returns what changed that is worth telling.
    pub fn apply(&mut self, ev: SourceEvent) -> Option<Notice> {
        match ev {
            SourceEvent::Samples { source, samples } => {
                self.store.push_samples(&samples);
                if source != crate::model::series::SCRAPE_SOURCE {
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
                if health.ends_series() {
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
        let values = self.engine.signals.iter().map(|s| {
            let v = history::sum_finite(s.latest.iter().map(|p| p.value));
            (s.def.name.as_str(), v)
        });
        self.history.push(now, values);
        let mut frame = Frame::from_engine(&self.engine, now);
        frame.sample_s = self
            .store
            .get(&Labels::named(series::SAMPLE_INTERVAL))
            .and_then(|s| s.last())
            .map(|(_, v)| v)
            .filter(|v| v.is_finite() && *v > 0.0);
        let sample = frame
            .sample_s
            .unwrap_or(self.refresh_ms as f64 / 1000.0)
            .max(0.001);
        // The fast view cuts a rate's window to a few sample intervals, never lengthens it.
        let fast = crate::promql::interval::fast_window(std::time::Duration::from_secs_f64(sample));
        frame.rate_window_s = frame.rate_window_s.map(|w| w.min(fast.as_secs_f64()));
        let tr = self.detector.step(frame);
        self.transitions.extend(tr.iter().cloned());
        tr
    }
}

/// Current wall-clock ms; in one place so replay can substitute its own clock later.
pub fn clock() -> TimeMs {
    now_ms()
}
