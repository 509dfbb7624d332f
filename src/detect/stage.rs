//! The life of one stage: inactive → suspected (condition holds) → active (held for the hold
//! time) → cleared (condition gone for the clear time). A suspicion that lapses before the hold
//! time goes back to inactive (or cleared) without a trace in the run's history.

use serde::{Deserialize, Serialize};

use crate::model::TimeMs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageId {
    RateRises,
    Decoupled,
    PendingClimbs,
    Plateau,
    P95High,
    ErrorsVisible,
}

impl StageId {
    pub const ALL: [StageId; 6] = [
        StageId::RateRises,
        StageId::Decoupled,
        StageId::PendingClimbs,
        StageId::Plateau,
        StageId::P95High,
        StageId::ErrorsVisible,
    ];

    pub fn id(self) -> &'static str {
        match self {
            StageId::RateRises => "rate_rises",
            StageId::Decoupled => "decoupled",
            StageId::PendingClimbs => "pending_climbs",
            StageId::Plateau => "plateau",
            StageId::P95High => "p95_high",
            StageId::ErrorsVisible => "errors_visible",
        }
    }

    pub fn parse(s: &str) -> Option<StageId> {
        StageId::ALL.into_iter().find(|x| x.id() == s)
    }

    /// 1-based position in the saturation sequence.
    pub fn number(self) -> usize {
        self as usize + 1
    }

    pub fn meaning(self) -> &'static str {
        match self {
            StageId::RateRises => "request rate rises with load",
            StageId::Decoupled => "rate growth decouples from load",
            StageId::PendingClimbs => "in-flight work and queue climb",
            StageId::Plateau => "throughput plateaus",
            StageId::P95High => "p95 latency high",
            StageId::ErrorsVisible => "clients see errors",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    Inactive,
    Suspected,
    Active,
    Cleared,
}

impl StageState {
    pub fn word(self) -> &'static str {
        match self {
            StageState::Inactive => "inactive",
            StageState::Suspected => "suspected",
            StageState::Active => "active",
            StageState::Cleared => "cleared",
        }
    }
}

/// One stage's state and its times; times are those of the samples, not of the wall clock.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stage {
    pub id: StageId,
    pub state: StageState,
    /// First sample of the run of samples that confirmed the stage (most recent activation).
    pub onset: Option<TimeMs>,
    pub confirmed: Option<TimeMs>,
    pub cleared: Option<TimeMs>,
    /// First activation in the run, kept when the stage later clears and returns.
    pub first_onset: Option<TimeMs>,
    pub first_confirmed: Option<TimeMs>,
    pub evidence: String,
    /// Evidence at the first confirmation.
    pub first_evidence: String,
    /// How many times it became active.
    pub activations: u32,
    /// Start of the current run of samples where the condition holds.
    run_start: Option<TimeMs>,
    /// Start of the current run of samples where it does not (while active).
    quiet_since: Option<TimeMs>,
    /// State to fall back to when a suspicion lapses.
    before_suspect: StageState,
}

/// A stage changing state, as the headless output and the recording carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub t: TimeMs,
    pub stage: StageId,
    pub state: StageState,
    pub evidence: String,
}

impl Stage {
    pub fn new(id: StageId) -> Self {
        Self {
            id,
            state: StageState::Inactive,
            onset: None,
            confirmed: None,
            cleared: None,
            first_onset: None,
            first_confirmed: None,
            evidence: String::new(),
            first_evidence: String::new(),
            activations: 0,
            run_start: None,
            quiet_since: None,
            before_suspect: StageState::Inactive,
        }
    }

    /// Feeds one evaluation of the stage's condition at sample time `t`; `evidence` is the
    /// text to keep when the condition holds, `cleared` says why it is gone when the stage
    /// clears (a cleared stage never shows the evidence that held it). Returns the transition.
    pub fn update(
        &mut self,
        t: TimeMs,
        holds: bool,
        evidence: impl FnOnce() -> String,
        cleared: impl FnOnce() -> String,
        hold_ms: TimeMs,
        clear_ms: TimeMs,
    ) -> Option<Transition> {
        let before = self.state;
        match (self.state, holds) {
            (StageState::Inactive | StageState::Cleared, true) => {
                self.before_suspect = self.state;
                self.run_start = Some(t);
                self.evidence = evidence();
                self.state = StageState::Suspected;
                if hold_ms == 0 {
                    self.activate(t);
                }
            }
            (StageState::Suspected, true) => {
                self.evidence = evidence();
                if t - self.run_start.unwrap_or(t) >= hold_ms {
                    self.activate(t);
                }
            }
            (StageState::Suspected, false) => {
                self.state = self.before_suspect;
                self.run_start = None;
            }
            (StageState::Active, true) => {
                self.quiet_since = None;
                self.evidence = evidence();
            }
            (StageState::Active, false) => {
                let since = *self.quiet_since.get_or_insert(t);
                if t - since >= clear_ms {
                    self.state = StageState::Cleared;
                    self.cleared = Some(t);
                    self.quiet_since = None;
                    self.evidence = cleared();
                }
            }
            (StageState::Inactive | StageState::Cleared, false) => {}
        }
        (self.state != before).then(|| Transition {
            t,
            stage: self.id,
            state: self.state,
            evidence: self.evidence.clone(),
        })
    }

    fn activate(&mut self, t: TimeMs) {
        self.state = StageState::Active;
        self.onset = self.run_start;
        self.confirmed = Some(t);
        self.cleared = None;
        self.quiet_since = None;
        self.activations += 1;
        if self.first_onset.is_none() {
            self.first_onset = self.onset;
            self.first_confirmed = Some(t);
            self.first_evidence = self.evidence.clone();
        }
    }

    /// True once the stage has been active at some point of the run.
    pub fn reached(&self) -> bool {
        self.activations > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &mut Stage, conds: &[bool]) -> Vec<(TimeMs, StageState)> {
        conds
            .iter()
            .enumerate()
            .filter_map(|(i, &c)| {
                s.update(
                    i as TimeMs * 1000,
                    c,
                    || "e".into(),
                    || "gone".into(),
                    2000,
                    5000,
                )
            })
            .map(|tr| (tr.t, tr.state))
            .collect()
    }

    #[test]
    fn holds_before_activating_and_keeps_onset_at_the_first_sample() {
        let mut s = Stage::new(StageId::Plateau);
        let tr = feed(&mut s, &[false, true, true, true, true]);
        assert_eq!(
            tr,
            vec![(1000, StageState::Suspected), (3000, StageState::Active)]
        );
        assert_eq!((s.onset, s.confirmed), (Some(1000), Some(3000)));
    }

    #[test]
    fn a_short_blip_is_forgotten_and_a_short_gap_does_not_clear() {
        let mut s = Stage::new(StageId::Plateau);
        let tr = feed(
            &mut s,
            &[true, false, true, true, true, false, false, true, true],
        );
        assert_eq!(
            tr,
            vec![
                (0, StageState::Suspected),
                (1000, StageState::Inactive),
                (2000, StageState::Suspected),
                (4000, StageState::Active)
            ]
        );
        assert_eq!(s.activations, 1);
    }

    #[test]
    fn clears_after_the_clear_time() {
        let mut s = Stage::new(StageId::Plateau);
        let mut conds = vec![true; 4];
        conds.extend([false; 7]);
        let tr = feed(&mut s, &conds);
        assert_eq!(tr.last(), Some(&(9000, StageState::Cleared)));
        assert_eq!(s.cleared, Some(9000));
        // The cleared stage says why it cleared, not what held it.
        assert_eq!(s.evidence, "gone");
        assert_eq!(s.first_evidence, "e");
        assert_eq!(s.first_onset, Some(0));
    }
}
