//! `--stop-at STAGE --stop-after 30s`: once a stage is confirmed and has stayed active that
//! long, the run stops k6 through its REST API (as the screen's `K` does), saves a note saying
//! so (in annotations.jsonl and the recording, so a replay and `slitop report` show it), and
//! ends with its report once k6 has finished. A capacity test stops hurting the service as soon
//! as the answer is known.

use std::time::Duration;

use crate::detect::{StageId, StageState};
use crate::model::{Health, TimeMs};
use crate::settings::Config;
use crate::state::RunState;

/// How long the run waits for k6 to finish after it was told to stop, before ending anyway.
pub const FINISH_GRACE: Duration = Duration::from_secs(15);

/// The stage to stop at and how long it must have held.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopAt {
    pub stage: StageId,
    pub after: Duration,
}

impl StopAt {
    /// Reads `--stop-at` (a stage id) and `--stop-after`; each without the other is an error.
    pub fn from_flags(
        stage: Option<&str>,
        after: Option<Duration>,
    ) -> Result<Option<StopAt>, String> {
        let Some(s) = stage else {
            return match after {
                Some(_) => {
                    Err("--stop-after needs --stop-at STAGE (the stage that must hold)".into())
                }
                None => Ok(None),
            };
        };
        let Some(stage) = StageId::parse(s.trim()) else {
            let ids: Vec<&str> = StageId::ALL.iter().map(|s| s.id()).collect();
            return Err(format!(
                "--stop-at {s:?}: not a stage; expected one of {}",
                ids.join(", ")
            ));
        };
        Ok(Some(StopAt {
            stage,
            after: after.unwrap_or(Duration::ZERO),
        }))
    }

    /// A rule that can never be carried out is refused before the run starts.
    pub fn check(&self, cfg: &Config) -> Result<(), String> {
        match &cfg.k6 {
            Some(k) if !k.urls.is_empty() => Ok(()),
            _ => Err(format!(
                "--stop-at {}: slitop stops k6 through its REST API; give --k6 URL (k6 run --address 127.0.0.1:6565)",
                self.stage.id()
            )),
        }
    }

    /// Whether the stage is active and has been since at least `after` before `t`: the
    /// deadline (its confirmation plus `after`) has come. A k6 run that already ended by
    /// itself is not stopped (nor said to be).
    pub fn due(&self, state: &RunState, t: TimeMs) -> bool {
        let s = state.detector.stage(self.stage);
        !k6_gone(state)
            && s.state == StageState::Active
            && s.confirmed
                .is_some_and(|c| t - c >= self.after.as_millis() as TimeMs)
    }

    /// The note saved when the run stops k6: "stopped by slitop at 2:41: errors_visible held 30 s".
    pub fn note(&self, state: &RunState, t: TimeMs) -> String {
        let start = state.started.unwrap_or(t);
        format!(
            "stopped by slitop at {}: {} held {} s",
            elapsed(t - start),
            self.stage.id(),
            trim(self.after.as_secs_f64())
        )
    }
}

/// A stop under way: when it was asked for, so the run ends once k6 has finished (or the grace
/// has passed).
#[derive(Clone, Copy, Debug)]
pub struct Stopping {
    pub since: tokio::time::Instant,
}

impl Stopping {
    /// k6 has finished (or gone), or it had its grace: the run can end.
    pub fn over(&self, state: &RunState) -> bool {
        k6_gone(state) || self.since.elapsed() >= FINISH_GRACE
    }
}

/// k6's run has finished, or its API has gone.
fn k6_gone(state: &RunState) -> bool {
    let k6 = state.health.get(crate::sources::k6::SOURCE);
    matches!(k6, Some(Health::Finished | Health::Down { .. }))
}

/// Elapsed time as m:ss, or h:mm:ss past an hour.
fn elapsed(ms: TimeMs) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Seconds without a needless fraction: 30, 2.5.
fn trim(s: f64) -> String {
    let t = format!("{s:.1}");
    t.strip_suffix(".0").map(str::to_string).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_name_the_bad_part() {
        assert_eq!(
            StopAt::from_flags(Some("errors_visible"), Some(Duration::from_secs(10))).unwrap(),
            Some(StopAt {
                stage: StageId::ErrorsVisible,
                after: Duration::from_secs(10)
            })
        );
        let e = StopAt::from_flags(Some("errors"), None).unwrap_err();
        assert!(
            e.contains("\"errors\"") && e.contains("errors_visible"),
            "{e}"
        );
        let e = StopAt::from_flags(None, Some(Duration::from_secs(1))).unwrap_err();
        assert!(e.contains("--stop-at"), "{e}");
        assert_eq!(StopAt::from_flags(None, None).unwrap(), None);
    }

    #[test]
    fn times_read_as_on_the_screen() {
        assert_eq!(elapsed(161_400), "2:41");
        assert_eq!(elapsed(3_725_000), "1:02:05");
        assert_eq!(trim(30.0), "30");
        assert_eq!(trim(2.5), "2.5");
    }
}
