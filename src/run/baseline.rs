//! A baseline run drawn under the live one (`--baseline PATH`, live and in replay): its signal
//! values at every refresh, the first onset of each stage it reached, and its knee. Read from a
//! run directory, its recording (replayed through the same signals and detector, so it is seen
//! as it was seen) or its report.json alone (onsets and knee, no series to draw).
//!
//! Time is elapsed time: the baseline's first refresh lines up with the live run's first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::detect::{StageId, StageState, Transition};
use crate::model::TimeMs;
use crate::record::read::Recording;
use crate::report::Report;
use crate::settings::{Role, SignalDef};
use crate::state::RunState;

/// Share either side of a load within which a baseline refresh counts as "at the same load".
pub const SAME_LOAD: f64 = 0.05;

/// Throughput within this share of the baseline's is within noise.
pub const NOISE: f64 = 0.05;

/// The knee as the baseline judged it, in its load unit ("req/s" or "VUs").
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineKnee {
    pub load: f64,
    pub unit: String,
    /// Elapsed ms from the baseline's first refresh.
    pub at: TimeMs,
}

pub struct Baseline {
    /// What the screen calls it: the run directory's name, or the file's.
    pub name: String,
    /// Its first refresh (unix ms); elapsed time counts from here.
    pub started: TimeMs,
    /// The replayed run, when a recording was read (None for a report.json alone).
    pub state: Option<RunState>,
    /// First onset of each stage it reached (confirmed, not a suspicion that came to nothing),
    /// as elapsed ms.
    pub onsets: BTreeMap<StageId, TimeMs>,
    pub knee: Option<BaselineKnee>,
}

/// Live throughput against the baseline's at the same load, at one refresh: what the
/// dashboard's `vs base, same load` line shows and the headless lines carry.
#[derive(Clone, Debug, PartialEq)]
pub struct Versus {
    /// The load matched on: the offered rate when there is one, else VUs.
    pub load: Role,
    /// The live run's load and throughput at this refresh.
    pub at: f64,
    pub throughput: f64,
    /// The baseline's median throughput at that load while its load rose; None when it
    /// never ran at it.
    pub baseline: Option<f64>,
}

impl Versus {
    /// Live − baseline (req/s).
    pub fn delta(&self) -> Option<f64> {
        Some(self.throughput - self.baseline?)
    }

    /// Lower than the baseline by more than the noise band.
    pub fn worse(&self) -> bool {
        match (self.delta(), self.baseline) {
            (Some(d), Some(b)) => d < -NOISE * b,
            _ => false,
        }
    }

    pub fn load_unit(&self) -> &'static str {
        if self.load == Role::Vus {
            "VUs"
        } else {
            "req/s"
        }
    }
}

/// What a `--baseline` path names.
#[derive(Debug, PartialEq)]
enum Source {
    Recording(PathBuf),
    Report(PathBuf),
}

/// A directory means its recording (the richer of the two), else its report.json; a file is
/// a report when it is JSON (`.json`), else a recording.
fn source_of(path: &Path) -> anyhow::Result<Source> {
    if path.is_dir() {
        let rep = path.join("report.json");
        return if let Some(rec) = crate::record::find_in(path) {
            Ok(Source::Recording(rec))
        } else if rep.is_file() {
            Ok(Source::Report(rep))
        } else {
            anyhow::bail!(
                "baseline {}: a directory without a recording (recording.jsonl.zst, recording.jsonl) or report.json; pass a run directory, a recording or a report.json",
                path.display()
            )
        };
    }
    if !path.exists() {
        anyhow::bail!("baseline {}: no such file or directory", path.display());
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Ok(Source::Report(path.to_path_buf())),
        _ => Ok(Source::Recording(path.to_path_buf())),
    }
}

/// The name shown for the baseline: the run directory's when the path is in one.
fn display_name(path: &Path) -> String {
    let named = if path.is_dir() {
        Some(path)
    } else {
        path.parent().filter(|p| !p.as_os_str().is_empty())
    };
    named
        .and_then(Path::file_name)
        .or_else(|| path.file_name())
        .map(|n| crate::text::clean_short(&n.to_string_lossy(), 40))
        .unwrap_or_else(|| "baseline".into())
}

impl Baseline {
    /// Reads the baseline named by `path`; the error names the file and what was wrong.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let name = display_name(path);
        match source_of(path)? {
            Source::Recording(p) => {
                let rec = Recording::read(&p)
                    .with_context(|| format!("cannot read baseline recording {}", p.display()))?;
                Self::from_recording(name, &rec)
                    .with_context(|| format!("cannot replay baseline recording {}", p.display()))
            }
            Source::Report(p) => Ok(Self::from_report(name, &crate::report::load_baseline(&p)?)),
        }
    }

    /// The recording replayed through its own signals and the detector.
    pub fn from_recording(name: String, rec: &Recording) -> anyhow::Result<Self> {
        let (state, _) = super::rebuild::replay_into(rec)?;
        let Some(&started) = state.history.ticks().first() else {
            anyhow::bail!("the recording holds no refreshes");
        };
        let knee = state.detector.knee.as_ref().and_then(|k| {
            Some(BaselineKnee {
                load: k.load?,
                unit: k.load_unit.clone(),
                at: k.unix_ms - started,
            })
        });
        Ok(Self {
            name,
            started,
            onsets: first_onsets(&state.transitions, started),
            knee,
            state: Some(state),
        })
    }

    /// What a report.json alone tells: when each stage began, and the knee.
    pub fn from_report(name: String, r: &Report) -> Self {
        let started = r.started_unix_ms.unwrap_or(0);
        let onsets = r
            .stages
            .iter()
            .filter(|s| s.confirmed_unix_ms.is_some())
            .filter_map(|s| Some((s.id, s.onset_unix_ms? - started)))
            .collect();
        let knee = r.knee.as_ref().and_then(|k| {
            Some(BaselineKnee {
                load: k.load?,
                unit: k.load_unit.clone(),
                at: k.unix_ms - started,
            })
        });
        Self {
            name,
            started,
            state: None,
            onsets,
            knee,
        }
    }

    /// The signal's values between two elapsed times, as (elapsed ms, value).
    pub fn range(&self, signal: &str, from: TimeMs, to: TimeMs) -> Vec<(TimeMs, f64)> {
        let Some(st) = &self.state else {
            return Vec::new();
        };
        st.history
            .range(signal, self.started + from, self.started + to)
            .into_iter()
            .map(|(t, v)| (t - self.started, v))
            .collect()
    }

    /// The baseline's signal bound to `role` (the first with data), as the screen picks one.
    pub fn role(&self, role: Role) -> Option<&SignalDef> {
        self.state.as_ref().and_then(|s| s.role(role))
    }

    /// The live run (`state`) at time `t` against this baseline at the same load; None when
    /// the baseline has no series (a report.json alone) or the live run has no load or
    /// throughput then.
    pub fn versus(&self, state: &RunState, t: TimeMs) -> Option<Versus> {
        self.state.as_ref()?;
        let value = |r: Role| {
            let d = state.role(r)?;
            state.history.value_at(&d.name, t)
        };
        let load = [Role::Offered, Role::Vus]
            .into_iter()
            .find(|r| value(*r).is_some_and(|v| v > 0.0))?;
        let (throughput, at) = (value(Role::Throughput)?, value(load)?);
        Some(Versus {
            load,
            at,
            throughput,
            baseline: self.at_load(load, Role::Throughput, at),
        })
    }

    /// The median of `value` over the refreshes of the baseline's rising load (up to its
    /// peak) whose `load` was within `SAME_LOAD` of `at`: what the baseline achieved at this
    /// load. None when the baseline never ran at it.
    pub fn at_load(&self, load: Role, value: Role, at: f64) -> Option<f64> {
        let st = self.state.as_ref()?;
        let (l, v) = (
            st.history.column(&self.role(load)?.name)?,
            st.history.column(&self.role(value)?.name)?,
        );
        if !(at.is_finite() && at > 0.0) {
            return None;
        }
        // Only the rise: after the peak the backlog drains at a falling load.
        let peak = l
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_finite())
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        let near = l
            .iter()
            .zip(v)
            .take(peak + 1)
            .filter(|(x, _)| (**x - at).abs() <= SAME_LOAD * at)
            .map(|(_, y)| *y);
        crate::detect::robust::median(near)
    }
}

/// The first onset of each stage that became active: the time of the suspicion it confirmed,
/// or of the activation itself (as the stage strip dates a chip), as elapsed ms.
pub fn first_onsets(transitions: &[Transition], started: TimeMs) -> BTreeMap<StageId, TimeMs> {
    let mut suspected: BTreeMap<StageId, TimeMs> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for tr in transitions {
        if out.contains_key(&tr.stage) {
            continue;
        }
        match tr.state {
            StageState::Suspected => {
                suspected.insert(tr.stage, tr.t);
            }
            StageState::Active => {
                let onset = suspected.remove(&tr.stage).unwrap_or(tr.t);
                out.insert(tr.stage, onset - started);
            }
            StageState::Cleared | StageState::Inactive => {
                suspected.remove(&tr.stage);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(t: TimeMs, stage: StageId, state: StageState) -> Transition {
        Transition {
            t,
            stage,
            state,
            evidence: String::new(),
        }
    }

    #[test]
    fn onsets_are_the_suspicion_an_activation_confirmed() {
        let trs = [
            // A suspicion that came to nothing does not count.
            tr(1_000, StageId::Decoupled, StageState::Suspected),
            tr(2_000, StageId::Decoupled, StageState::Cleared),
            tr(5_000, StageId::Decoupled, StageState::Suspected),
            tr(7_000, StageId::Decoupled, StageState::Active),
            tr(8_000, StageId::RateRises, StageState::Active),
            // A later run of the same stage keeps the first onset.
            tr(9_000, StageId::Decoupled, StageState::Cleared),
            tr(12_000, StageId::Decoupled, StageState::Active),
            // Suspected only: never reached.
            tr(13_000, StageId::Plateau, StageState::Suspected),
        ];
        let o = first_onsets(&trs, 500);
        assert_eq!(o.get(&StageId::Decoupled), Some(&4_500));
        assert_eq!(o.get(&StageId::RateRises), Some(&7_500));
        assert_eq!(o.get(&StageId::Plateau), None);
        assert_eq!(o.len(), 2);
    }

    #[test]
    fn a_path_names_a_recording_or_a_report() {
        let d = tempfile::tempdir().unwrap();
        let err = source_of(d.path()).unwrap_err().to_string();
        assert!(
            err.contains(
                "without a recording (recording.jsonl.zst, recording.jsonl) or report.json"
            ),
            "{err}"
        );
        std::fs::write(d.path().join("report.json"), "{}").unwrap();
        assert_eq!(
            source_of(d.path()).unwrap(),
            Source::Report(d.path().join("report.json"))
        );
        std::fs::write(d.path().join("recording.jsonl"), "").unwrap();
        assert_eq!(
            source_of(d.path()).unwrap(),
            Source::Recording(d.path().join("recording.jsonl"))
        );
        // The compressed recording is preferred when a directory holds both.
        std::fs::write(d.path().join("recording.jsonl.zst"), "").unwrap();
        assert_eq!(
            source_of(d.path()).unwrap(),
            Source::Recording(d.path().join("recording.jsonl.zst"))
        );
        let missing = d.path().join("nope.jsonl");
        let err = source_of(&missing).unwrap_err().to_string();
        assert!(err.contains("no such file"), "{err}");
        assert_eq!(
            display_name(&d.path().join("report.json")),
            display_name(d.path())
        );
    }
}
