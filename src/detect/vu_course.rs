//! Whether the VU count is a schedule or a count of busy VUs.
//!
//! A closed loop's VUs are its load: k6 sets them by the test's stages, one way at a time (a
//! ramp, a step, a hold), whatever the service does. An arrival-rate executor's `vus` counts
//! the VUs busy with an iteration: it goes up and down with each second's arrivals and
//! latency. Where the script sleeps after each request, those VUs look like a closed loop's
//! thinking ones by every ratio (VUs = rate × (think + latency) either way), and a service
//! queueing a little short of its wall makes each of them look less productive, so only the
//! course of the count tells them apart.

use std::collections::VecDeque;

use crate::model::TimeMs;

/// Turns of the VU count (rising to falling or back) that make it a busy count, and the span
/// they fall within: a schedule turns once a stage at most, so four in 15 s take stages
/// under 5 s (a spike test alternating every 10 s turns three times in 20 s), while a busy
/// count read every second turns every second or two.
const TURNS: usize = 4;
const SPAN_MS: TimeMs = 15_000;

#[derive(Clone, Debug, Default)]
pub struct VuCourse {
    last: Option<f64>,
    rising: Option<bool>,
    turns: VecDeque<TimeMs>,
    busy_count: bool,
}

impl VuCourse {
    /// Takes the VU count reported at `t` (a repeated reading is no move).
    pub fn observe(&mut self, t: TimeMs, vus: f64) {
        let Some(last) = self.last.replace(vus) else {
            return;
        };
        if vus == last {
            return;
        }
        let rising = vus > last;
        if self.rising.replace(rising).is_some_and(|r| r != rising) {
            self.turns.push_back(t);
            while self.turns.front().is_some_and(|&a| a < t - SPAN_MS) {
                self.turns.pop_front();
            }
            self.busy_count |= self.turns.len() >= TURNS;
        }
    }

    /// The count was seen to turn back and forth: an arrival-rate pool's busy VUs, not the
    /// load. Kept for the run (a schedule never shows it).
    pub fn busy_count(&self) -> bool {
        self.busy_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course(vus: &[f64], step_ms: TimeMs) -> VuCourse {
        let mut c = VuCourse::default();
        for (i, v) in vus.iter().enumerate() {
            c.observe(i as TimeMs * step_ms, *v);
        }
        c
    }

    #[test]
    fn a_schedule_is_not_a_busy_count() {
        // A ramp, a hold, a step down and up again, k6's samples repeating between moves.
        let ramp: Vec<f64> = (1..=60)
            .chain([60; 10])
            .chain([30; 10])
            .chain([60; 10])
            .map(f64::from)
            .collect();
        assert!(!course(&ramp, 1000).busy_count());
        // A spike test's VUs up and down every 10 s, ramped in 2 s: a turn every stage.
        let spikes: Vec<f64> = [10., 40., 10., 40., 10., 40., 10.]
            .windows(2)
            .flat_map(|w| {
                [
                    (w[0] + w[1]) / 2.0,
                    w[1],
                    w[1],
                    w[1],
                    w[1],
                    w[1],
                    w[1],
                    w[1],
                    w[1],
                    w[1],
                ]
            })
            .collect();
        assert!(!course(&spikes, 1000).busy_count());
    }

    #[test]
    fn busy_vus_of_an_arrival_rate_test_are() {
        // k6's `vus` under a ramping arrival rate whose iterations sleep after the request.
        let busy = [
            2., 2., 3., 3., 4., 3., 7., 4., 6., 4., 7., 7., 7., 9., 10., 8., 8.,
        ];
        assert!(course(&busy, 1000).busy_count());
        // The same turns spread over a minute (a slow scrape) are not enough to tell.
        assert!(!course(&busy, 15_000).busy_count());
    }
}
