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
    /// Metric names the signals and the screen read; other series are not kept (`None`: all).
    wanted: Option<HashSet<String>>,
    /// Sources already told that the store refused some of their series.
    refusals_told: HashSet<String>,
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
            wanted: crate::settings::wanted_series(signals),
            refusals_told: HashSet::new(),
        })
    }

    /// The first signal bound to `role` that has data, else the first bound to it: the one
    /// the screen shows for that role.
    pub fn role(&self, role: crate::settings::Role) -> Option<&crate::settings::SignalDef> {
        let defs = || {
            self.engine
                .signals
                .iter()
                .map(|s| &s.def)
                .filter(move |d| d.role == Some(role))
        };
        defs()
            .find(|d| self.history.has_data(&d.name))
            .or_else(|| defs().next())
    }

    /// Applies one source event; returns what changed that is worth telling.
    pub fn apply(&mut self, ev: SourceEvent) -> Option<Notice> {
        match ev {
            SourceEvent::Samples {
                source,
                mut samples,
            } => {
                // Only what a signal or the screen reads is kept: a /metrics of thousands of
                // series costs the store only the few the signals need.
                if let Some(w) = &self.wanted {
                    samples.retain(|s| s.labels.name().is_some_and(|n| w.contains(n)));
                }
                self.store.push_samples_from(&source, &samples);
                let refused = self.refusal(&source);
                if source != crate::model::series::SCRAPE_SOURCE {
                    let seen = self.source_series.entry(source).or_default();
                    seen.extend(samples.into_iter().map(|s| s.labels));
                }
                refused
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

    /// Said once per source, when the store first refuses one of its new series.
    fn refusal(&mut self, source: &str) -> Option<Notice> {
        let n = *self.store.refused_by_source.get(source)?;
        if !self.refusals_told.insert(source.to_string()) {
            return None;
        }
        Some(Notice::Warnings {
            source: source.to_string(),
            signal: "store".into(),
            warnings: vec![refusal_text(source, n, self.store.limits())],
        })
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
        let (engine, store) = (&self.engine, &self.store);
        let age = |name: &str| engine.sample_age_s(store, name, now);
        let mut frame = Frame::from_engine_aged(engine, age, now);
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

/// Why a source's series were refused, for the screen, the JSON lines and the report.
pub fn refusal_text(source: &str, n: u64, lim: &crate::store::StoreLimits) -> String {
    format!(
        "{n} new series of {source} refused: the store holds at most {} series, {} per source; signals over them miss data",
        lim.max_series, lim.max_series_per_source
    )
}

/// Current wall-clock ms; in one place so replay can substitute its own clock later.
pub fn clock() -> TimeMs {
    now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, Sample};

    fn state() -> RunState {
        let cfg = Config {
            signals: vec![crate::settings::parse_adhoc("depth=sum(queue_depth)").unwrap()],
            ..Config::default()
        };
        let srcs = LocalSources {
            scrape: true,
            valkey: true,
            ..LocalSources::default()
        };
        RunState::new(&cfg, srcs).unwrap()
    }

    fn samples(name: &str, n: usize) -> SourceEvent {
        let samples = (0..n)
            .map(|i| Sample::new(Labels::named(name).with("i", &i.to_string()), 1_000, 1.0))
            .collect();
        SourceEvent::Samples {
            source: "scrape".into(),
            samples,
        }
    }

    #[test]
    fn only_series_a_signal_or_the_screen_reads_are_kept() {
        let mut s = state();
        s.apply(samples("go_gc_duration_seconds", 5_000));
        s.apply(samples("queue_depth", 3));
        assert_eq!(s.store.series_count(), 3);
    }

    #[test]
    fn the_sample_interval_a_prometheus_source_measured_reaches_the_detector() {
        let mut s = state();
        let iv = Sample::new(Labels::named(series::SAMPLE_INTERVAL), 1_000, 15.0);
        s.apply(SourceEvent::Samples {
            source: "prometheus".into(),
            samples: vec![iv],
        });
        s.tick(1_500);
        let frame = s.detector.history.last().unwrap();
        assert_eq!(frame.sample_s, Some(15.0));
    }

    #[test]
    fn a_big_scrape_leaves_room_for_valkey_and_its_refusals_are_said_once() {
        let mut s = state();
        let first = s.apply(samples("queue_depth", 12_000));
        match first {
            Some(Notice::Warnings {
                source, warnings, ..
            }) => {
                assert_eq!(source, "scrape");
                assert!(
                    warnings[0].starts_with("2000 new series of scrape refused"),
                    "{warnings:?}"
                );
            }
            n => panic!("{n:?}"),
        }
        assert!(
            s.apply(samples("queue_depth", 12_001)).is_none(),
            "said once"
        );
        let lag = Sample::new(Labels::named("valkey_group_lag"), 1_000, 5.0);
        s.apply(SourceEvent::Samples {
            source: "valkey".into(),
            samples: vec![lag.clone()],
        });
        assert!(
            s.store.get(&lag.labels).is_some(),
            "valkey's series found room"
        );
    }
}
