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
    pub health: Vec<(TimeMs, String, Health)>,
    pub events: Vec<Event>,
    pub transitions: Vec<Transition>,
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
        if self.ticks.len() > MAX_TICKS {
            self.thin();
        }
    }

    /// Notes a health change or a query error as it arrives.
    pub fn health_change(&mut self, source: &str, t: TimeMs, health: &Health) {
        self.health.push((t, source.to_string(), health.clone()));
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
        let mut out = BTreeMap::new();
        for (at, src, h) in self.health.iter().filter(|(at, _, _)| *at <= t) {
            out.insert(src.clone(), (*at, h.clone()));
        }
        out
    }

    /// Every stage's state as of `t`.
    pub fn stages_at(&self, t: TimeMs) -> Vec<StageAt> {
        let mut out: Vec<StageAt> = StageId::ALL
            .iter()
            .map(|&id| StageAt {
                id,
                state: StageState::Inactive,
                onset: None,
                cleared_span: None,
                evidence: String::new(),
            })
            .collect();
        for tr in self.transitions.iter().filter(|tr| tr.t <= t) {
            let s = &mut out[tr.stage as usize];
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
            s.evidence = tr.evidence.clone();
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
}
