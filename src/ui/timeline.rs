//! What the screen can show at any moment of the run besides the signals' values (which it
//! reads from the run state's one history): the queue rows per stream/group at each refresh,
//! health changes and the event log. Built from the run state after each tick, so the live
//! view, a frozen view and a replay's cursor all read the same timeline.

use std::collections::BTreeMap;

use crate::detect::{StageId, StageState, Transition};
use crate::model::{Health, TimeMs};
use crate::state::RunState;

/// The same bound and thinning as the run state's history, so the two stay aligned.
use crate::state::history::{thin_front, MAX_TICKS};

/// Transitions between two kept states of every stage (`Timeline::stages_at`).
const CHECKPOINT: usize = 64;

/// Events the log keeps. Past that the older half of what is not a note is dropped: notes are
/// never lost, and a soak whose source flaps every minute keeps a bounded log.
pub const MAX_EVENTS: usize = 10_000;

/// Health changes kept per source (older ones thinned, like the refreshes).
const MAX_HEALTH_CHANGES: usize = 10_000;

/// One stream/consumer-group row of the queue view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueRow {
    pub stream: String,
    pub group: String,
    pub length: Option<f64>,
    pub lag: Option<f64>,
    pub pending: Option<f64>,
    pub consumers: Option<f64>,
    pub idle_max_s: Option<f64>,
    /// Entries added to the stream and read by the group so far (counters).
    pub added: Option<f64>,
    pub read: Option<f64>,
    /// Not yet delivered: the lag, or counted when Valkey cannot tell; `capped` is 1 when the
    /// count stopped at its bound (a lower bound).
    pub undelivered: Option<f64>,
    pub undelivered_capped: Option<f64>,
    /// Undelivered + pending. Recordings made before it existed have none.
    pub backlog: Option<f64>,
    /// Seconds since the oldest undelivered and the oldest pending entry were added.
    pub backlog_age_s: Option<f64>,
    pub pending_age_s: Option<f64>,
    /// Entries acknowledged so far (a counter with an offset).
    pub acked: Option<f64>,
    pub stuck: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Annotation,
    Stage,
    Health,
    /// A source went finished: logged with the health changes, but no trouble.
    SourceEnded,
    Warning,
    Error,
}

impl EventKind {
    pub fn word(self) -> &'static str {
        match self {
            EventKind::Annotation => "note",
            EventKind::Stage => "stage",
            EventKind::Health | EventKind::SourceEnded => "health",
            EventKind::Warning => "warning",
            EventKind::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub t: TimeMs,
    pub kind: EventKind,
    pub text: String,
}

/// A stage as it stood at some moment.
#[derive(Clone, Debug, PartialEq)]
pub struct StageAt {
    pub id: StageId,
    pub state: StageState,
    /// When the current state's run began (the suspicion before an activation).
    pub onset: Option<TimeMs>,
    /// The last time it was reached: when that began (its onset) and when it cleared.
    pub cleared_span: Option<(TimeMs, TimeMs)>,
    pub evidence: String,
}

#[derive(Default)]
pub struct Timeline {
    pub ticks: Vec<TimeMs>,
    /// Per tick, the queue rows.
    pub queues: Vec<Vec<QueueRow>>,
    /// Per source, its health changes in time order.
    health: BTreeMap<String, Vec<(TimeMs, Health)>>,
    /// The event log, bounded (see `MAX_EVENTS`).
    pub events: Vec<Event>,
    /// Every stage transition, in time order.
    pub transitions: Vec<Transition>,
    /// The stages as they stood after each `CHECKPOINT` transitions, so finding them at any
    /// moment replays at most that many, however long the run.
    checkpoints: Vec<Vec<StageAt>>,
    /// When and why the recording stopped (a write failed): the header says so for the rest
    /// of the run, where the event log would scroll it away.
    pub recording_stopped: Option<(TimeMs, String)>,
    /// How many of the run state's transitions, annotations and warnings are already in.
    seen_transitions: usize,
    seen_annotations: usize,
    seen_warnings: usize,
}

impl Timeline {
    /// Takes in what the last tick produced.
    pub fn observe(&mut self, state: &RunState, t: TimeMs) {
        self.ticks.push(t);
        self.queues.push(queue_rows(state, t));
        for tr in &state.transitions[self.seen_transitions..] {
            self.events.push(Event {
                t: tr.t,
                kind: EventKind::Stage,
                text: format!(
                    "{} {} {}: {}",
                    tr.stage.number(),
                    tr.stage.id(),
                    tr.state.word(),
                    tr.evidence
                ),
            });
            self.transitions.push(tr.clone());
        }
        self.seen_transitions = state.transitions.len();
        self.annotation_saved(state);
        let w = &state.detector.warnings;
        for warning in &w[self.seen_warnings.min(w.len())..] {
            self.events.push(Event {
                t: warning.unix_ms,
                kind: EventKind::Warning,
                text: warning.text.clone(),
            });
        }
        self.seen_warnings = w.len();
        self.checkpoint();
        if self.ticks.len() > MAX_TICKS {
            self.thin();
        }
        self.bound_events();
    }

    /// Keeps the stages' state after every `CHECKPOINT` transitions.
    fn checkpoint(&mut self) {
        while (self.checkpoints.len() + 1) * CHECKPOINT <= self.transitions.len() {
            let from = self.checkpoints.len() * CHECKPOINT;
            let mut stages = self.checkpoints.last().cloned().unwrap_or_else(inactive);
            for tr in &self.transitions[from..from + CHECKPOINT] {
                step(&mut stages, tr);
            }
            self.checkpoints.push(stages);
        }
    }

    /// Drops the older half of the events that are not notes once the log is over its bound.
    fn bound_events(&mut self) {
        if self.events.len() <= MAX_EVENTS {
            return;
        }
        let mut drop = self.events.len() / 2;
        self.events.retain(|e| {
            if drop > 0 && e.kind != EventKind::Annotation {
                drop -= 1;
                return false;
            }
            true
        });
    }

    /// Notes a health change or a query error as it arrives.
    pub fn health_change(&mut self, source: &str, t: TimeMs, health: &Health) {
        let changes = self.health.entry(source.to_string()).or_default();
        changes.push((t, health.clone()));
        if changes.len() > MAX_HEALTH_CHANGES {
            let half = changes.len() / 2;
            thin_front(changes, half);
        }
        self.bound_events();
        let mut text = format!("{source} {}", health.word());
        if let Health::Down { reason } = health {
            text += &format!(": {reason}");
        }
        let kind = match health {
            Health::Finished => EventKind::SourceEnded,
            _ => EventKind::Health,
        };
        self.events.push(Event { t, kind, text });
    }

    pub fn error(&mut self, t: TimeMs, text: String) {
        self.events.push(Event {
            t,
            kind: EventKind::Error,
            text,
        });
        self.bound_events();
    }

    /// Annotations appear in the log the moment they are saved, not at the next tick.
    pub fn annotation_saved(&mut self, state: &RunState) {
        for (at, text) in &state.annotations[self.seen_annotations.min(state.annotations.len())..] {
            self.events.push(Event {
                t: *at,
                kind: EventKind::Annotation,
                text: text.clone(),
            });
        }
        self.seen_annotations = state.annotations.len();
    }

    fn thin(&mut self) {
        let half = self.ticks.len() / 2;
        thin_front(&mut self.ticks, half);
        thin_front(&mut self.queues, half);
    }

    pub fn first(&self) -> Option<TimeMs> {
        self.ticks.first().copied()
    }

    pub fn last(&self) -> Option<TimeMs> {
        self.ticks.last().copied()
    }

    /// Index of the last tick at or before `t`.
    pub fn index_at(&self, t: TimeMs) -> Option<usize> {
        self.ticks.partition_point(|x| *x <= t).checked_sub(1)
    }

    pub fn queues_at(&self, t: TimeMs) -> &[QueueRow] {
        self.index_at(t)
            .and_then(|i| self.queues.get(i))
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }

    /// Each source's health as of `t`, with the time that state began.
    pub fn health_at(&self, t: TimeMs) -> BTreeMap<String, (TimeMs, Health)> {
        self.health
            .iter()
            .filter_map(|(src, changes)| {
                let i = changes.partition_point(|(at, _)| *at <= t).checked_sub(1)?;
                Some((src.clone(), changes[i].clone()))
            })
            .collect()
    }

    /// Every stage's state as of `t`: from the last kept state before it, replaying the
    /// transitions since.
    pub fn stages_at(&self, t: TimeMs) -> Vec<StageAt> {
        let upto = self.transitions.partition_point(|tr| tr.t <= t);
        let kept = (upto / CHECKPOINT).min(self.checkpoints.len());
        let mut out = match kept {
            0 => inactive(),
            k => self.checkpoints[k - 1].clone(),
        };
        for tr in &self.transitions[kept * CHECKPOINT..upto] {
            step(&mut out, tr);
        }
        out
    }

    pub fn events_until(&self, t: TimeMs) -> impl DoubleEndedIterator<Item = &Event> {
        self.events.iter().filter(move |e| e.t <= t)
    }

    /// Annotation times, for the chart markers.
    pub fn annotation_times(&self) -> impl Iterator<Item = TimeMs> + '_ {
        self.events
            .iter()
            .filter(|e| e.kind == EventKind::Annotation)
            .map(|e| e.t)
    }
}

/// Every stage inactive: the state before any transition.
fn inactive() -> Vec<StageAt> {
    StageId::ALL
        .iter()
        .map(|&id| StageAt {
            id,
            state: StageState::Inactive,
            onset: None,
            cleared_span: None,
            evidence: String::new(),
        })
        .collect()
}

/// One transition applied to the stages' state.
fn step(stages: &mut [StageAt], tr: &Transition) {
    let s = &mut stages[tr.stage as usize];
    match (s.state, tr.state) {
        // An activation keeps the onset of the suspicion it confirmed.
        (StageState::Suspected, StageState::Active) => {}
        (StageState::Active, StageState::Cleared) => {
            s.cleared_span = Some((s.onset.unwrap_or(tr.t), tr.t));
            s.onset = Some(tr.t);
        }
        // A suspicion that came to nothing: cleared since the earlier clearing.
        (_, StageState::Cleared) => {
            s.onset = Some(s.cleared_span.map_or(tr.t, |(_, c)| c));
        }
        _ => s.onset = Some(tr.t),
    }
    s.state = tr.state;
    s.evidence.clone_from(&tr.evidence);
}

/// The stream/group rows from the store's newest Valkey samples.
fn queue_rows(state: &RunState, t: TimeMs) -> Vec<QueueRow> {
    let mut rows: BTreeMap<(String, String), QueueRow> = BTreeMap::new();
    let fresh = |s: &crate::store::Series| {
        s.last_at(t)
            .filter(|(at, v)| t - at <= 3 * state.refresh_ms.max(1000) && v.is_finite())
            .map(|(_, v)| v)
    };
    // In the order of `QUEUE_SERIES`.
    let fields: [fn(&mut QueueRow) -> &mut Option<f64>; 14] = [
        |r| &mut r.length,
        |r| &mut r.added,
        |r| &mut r.lag,
        |r| &mut r.pending,
        |r| &mut r.consumers,
        |r| &mut r.idle_max_s,
        |r| &mut r.read,
        |r| &mut r.undelivered,
        |r| &mut r.undelivered_capped,
        |r| &mut r.backlog,
        |r| &mut r.backlog_age_s,
        |r| &mut r.pending_age_s,
        |r| &mut r.acked,
        |r| &mut r.stuck,
    ];
    let families = crate::model::series::QUEUE_SERIES.into_iter().zip(fields);
    // Stream-level numbers are copied onto each of the stream's groups below.
    let mut per_stream: BTreeMap<String, QueueRow> = BTreeMap::new();
    for (name, field) in families {
        for (labels, series) in state.store.family(name) {
            let Some(v) = fresh(series) else { continue };
            let stream = crate::text::clean(labels.get("stream").unwrap_or(""));
            match labels.get("group") {
                Some(g) => {
                    let key = (stream.clone(), crate::text::clean(g));
                    let row = rows.entry(key.clone()).or_insert_with(|| QueueRow {
                        stream: key.0.clone(),
                        group: key.1.clone(),
                        ..QueueRow::default()
                    });
                    *field(row) = Some(v);
                }
                None => {
                    let row = per_stream
                        .entry(stream.clone())
                        .or_insert_with(|| QueueRow {
                            stream,
                            ..QueueRow::default()
                        });
                    *field(row) = Some(v);
                }
            }
        }
    }
    for (stream, s) in per_stream {
        let mut any = false;
        for row in rows.values_mut().filter(|r| r.stream == stream) {
            any = true;
            row.length = s.length;
            row.added = s.added;
        }
        if !any {
            rows.insert((stream.clone(), String::new()), s);
        }
    }
    rows.into_values().collect()
}

/// Per-second rate of a counter between two rows of the same stream/group `secs` apart.
pub fn counter_rate(now: Option<f64>, then: Option<f64>, secs: f64) -> Option<f64> {
    let (a, b) = (now?, then?);
    (secs > 0.0 && a >= b).then(|| (a - b) / secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_onset_is_the_suspicion_an_activation_confirmed() {
        let mut tl = Timeline::default();
        let tr = |t, state| Transition {
            t,
            stage: StageId::Plateau,
            state,
            evidence: format!("e{t}"),
        };
        tl.transitions = vec![
            tr(10, StageState::Suspected),
            tr(12, StageState::Active),
            tr(40, StageState::Cleared),
        ];
        let s = &tl.stages_at(20)[StageId::Plateau as usize];
        assert_eq!((s.state, s.onset), (StageState::Active, Some(10)));
        assert_eq!(s.evidence, "e12");
        let s = &tl.stages_at(50)[StageId::Plateau as usize];
        assert_eq!((s.state, s.onset), (StageState::Cleared, Some(40)));
        let s = &tl.stages_at(5)[StageId::Plateau as usize];
        assert_eq!(s.state, StageState::Inactive);
    }

    #[test]
    fn a_cleared_stage_keeps_when_it_began_and_when_it_cleared() {
        let mut tl = Timeline::default();
        let tr = |t, state| Transition {
            t,
            stage: StageId::PendingClimbs,
            state,
            evidence: String::new(),
        };
        tl.transitions = vec![
            tr(10, StageState::Suspected),
            tr(12, StageState::Active),
            tr(40, StageState::Cleared),
            // Suspected again, then dismissed: back to cleared, the first span still stands.
            tr(50, StageState::Suspected),
            tr(52, StageState::Cleared),
            // Reached again: the new span replaces it once that clears.
            tr(60, StageState::Suspected),
            tr(61, StageState::Active),
            tr(70, StageState::Cleared),
        ];
        let at = |t| tl.stages_at(t)[StageId::PendingClimbs as usize].clone();
        assert_eq!(at(20).cleared_span, None);
        assert_eq!(
            (at(45).onset, at(45).cleared_span),
            (Some(40), Some((10, 40)))
        );
        assert_eq!(at(51).state, StageState::Suspected);
        assert_eq!(
            (at(55).onset, at(55).cleared_span),
            (Some(40), Some((10, 40)))
        );
        assert_eq!(at(65).cleared_span, Some((10, 40)));
        assert_eq!(
            (at(75).onset, at(75).cleared_span),
            (Some(70), Some((60, 70)))
        );
    }

    #[test]
    fn a_finished_source_is_logged_as_an_end_not_as_trouble() {
        let mut tl = Timeline::default();
        tl.health_change("k6", 5, &Health::Finished);
        tl.health_change(
            "scrape",
            6,
            &Health::Down {
                reason: "refused".into(),
            },
        );
        assert_eq!(tl.events[0].kind, EventKind::SourceEnded);
        assert_eq!(
            (tl.events[0].kind.word(), tl.events[0].text.as_str()),
            ("health", "k6 finished")
        );
        assert_eq!(tl.events[1].kind, EventKind::Health);
        assert_eq!(tl.health_at(10)["k6"], (5, Health::Finished));
    }

    #[test]
    fn stages_from_kept_states_equal_a_replay_from_the_start_at_every_moment() {
        let states = [
            StageState::Suspected,
            StageState::Active,
            StageState::Cleared,
            StageState::Inactive,
        ];
        let mut tl = Timeline::default();
        // A pseudo-random walk of 1 000 transitions over all stages, two per moment at times.
        let mut x: u64 = 7;
        for i in 0..1_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            tl.transitions.push(Transition {
                t: (i / 2) as TimeMs,
                stage: StageId::ALL[(x >> 33) as usize % StageId::ALL.len()],
                state: states[(x >> 40) as usize % states.len()],
                evidence: format!("e{i}"),
            });
            tl.checkpoint();
        }
        assert_eq!(tl.checkpoints.len(), 1_000 / CHECKPOINT);
        for t in -1..=501 {
            let mut naive = inactive();
            for tr in tl.transitions.iter().filter(|tr| tr.t <= t) {
                step(&mut naive, tr);
            }
            assert_eq!(tl.stages_at(t), naive, "at {t}");
        }
    }

    #[test]
    fn the_log_stays_bounded_and_keeps_every_note() {
        let mut tl = Timeline::default();
        for i in 0..(3 * MAX_EVENTS) as TimeMs {
            if i % 100 == 0 {
                tl.events.push(Event {
                    t: i,
                    kind: EventKind::Annotation,
                    text: format!("note {i}"),
                });
            }
            let h = if i % 2 == 0 {
                Health::Down {
                    reason: "refused".into(),
                }
            } else {
                Health::Ok
            };
            tl.health_change("valkey", i, &h);
        }
        assert!(tl.events.len() <= MAX_EVENTS + 1, "{}", tl.events.len());
        let notes = tl
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Annotation)
            .count();
        assert_eq!(notes, 3 * MAX_EVENTS / 100);
        // The newest health change is the one in force, the oldest ones are thinned.
        let last = (3 * MAX_EVENTS - 1) as TimeMs;
        assert_eq!(tl.health_at(last)["valkey"], (last, Health::Ok));
        assert!(tl.health["valkey"].len() <= MAX_HEALTH_CHANGES);
        assert!(tl.health_at(-1).is_empty());
    }
}
