//! A k6 VU's cycle from its counts: the requests each iteration sends and the time a VU spends
//! per request outside it (think time and the script's own work). Shared by the JSON output's
//! points and the REST API's running totals, which see the same iterations.

use std::collections::VecDeque;
use std::time::Duration;

use crate::model::TimeMs;

/// Requests per iteration from the counts so far. The requests of the iterations still running
/// count too, one running on each VU: the ratio lies between requests ÷ (iterations ended +
/// VUs) and requests ÷ iterations ended. A dozen iterations into a ramp those are 1.0 and 1.3
/// for a script of one request; where one whole number lies between them it is that (a script
/// sends whole requests), else their middle.
pub fn requests_per_iteration(requests: f64, ended: f64, running: f64) -> Option<f64> {
    if ended <= 0.0 || requests <= 0.0 {
        return None;
    }
    let (lo, hi) = (requests / (ended + running.max(0.0)), requests / ended);
    Some(if lo.ceil() == hi.floor() && hi >= 1.0 {
        hi.floor()
    } else {
        (lo + hi) / 2.0
    })
}

/// Seconds a VU spends per request outside it: the mean iteration (ms) per request, less the
/// mean request (ms), never below zero. It does not change with load, and with the unloaded
/// latency it gives a closed loop's healthy rate per VU.
pub fn think_s(iteration_mean_ms: f64, per_iteration: f64, request_mean_ms: f64) -> f64 {
    ((iteration_mean_ms / per_iteration - request_mean_ms) / 1000.0).max(0.0)
}

/// Running totals one poll of k6's REST API gives: requests and the sum of their durations,
/// iterations ended and the sum of theirs (ms; each sum is k6's mean × its count).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    pub requests: f64,
    pub request_ms: f64,
    pub iterations: f64,
    pub iteration_ms: f64,
}

impl std::iter::Sum for Totals {
    fn sum<I: Iterator<Item = Totals>>(it: I) -> Totals {
        it.fold(Totals::default(), |a, b| a + b)
    }
}

impl std::ops::Add for Totals {
    type Output = Totals;
    fn add(self, o: Totals) -> Totals {
        Totals {
            requests: self.requests + o.requests,
            request_ms: self.request_ms + o.request_ms,
            iterations: self.iterations + o.iterations,
            iteration_ms: self.iteration_ms + o.iteration_ms,
        }
    }
}

/// The totals read over the last `window`, differenced into the window's means: k6's REST API
/// gives only means since the start, which a ramp's first minute would weigh for ever.
#[derive(Debug)]
pub struct TotalsWindow {
    window_ms: TimeMs,
    seen: VecDeque<(TimeMs, Totals)>,
}

impl TotalsWindow {
    pub fn new(window: Duration) -> Self {
        Self {
            window_ms: window.as_millis().max(1) as TimeMs,
            seen: VecDeque::new(),
        }
    }

    /// A reading at `t`. A count that fell (k6 restarted, an instance no longer summed)
    /// starts over: differences across it mean nothing.
    pub fn push(&mut self, t: TimeMs, x: Totals) {
        if let Some((_, last)) = self.seen.back() {
            if x.requests < last.requests || x.iterations < last.iterations {
                self.seen.clear();
            }
        }
        self.seen.push_back((t, x));
        // Keep one reading at or before the window's start: the base of the differences.
        while self.seen.len() > 2 && self.seen[1].0 <= t - self.window_ms {
            self.seen.pop_front();
        }
    }

    /// Forgets every reading (a poll that did not hear every instance).
    pub fn clear(&mut self) {
        self.seen.clear();
    }

    /// The mean request (s) over the newest readings that span `RECENT_MIN_MS` and hold
    /// `RECENT_REQUESTS` (see `model::recent`), or the whole window where it holds fewer.
    pub fn recent_mean(&self) -> Option<f64> {
        use crate::model::recent::{RECENT_MIN_MS, RECENT_REQUESTS};
        let (t, b) = self.seen.back()?;
        let enough = |(at, a): &&(TimeMs, Totals)| {
            t - at >= RECENT_MIN_MS && b.requests - a.requests >= RECENT_REQUESTS as f64
        };
        let (_, a) = self.seen.iter().rev().find(enough).or(self.seen.front())?;
        let requests = b.requests - a.requests;
        (requests > 0.0).then(|| (b.request_ms - a.request_ms) / requests / 1000.0)
    }

    /// The mean request (s) over the window, and the think time (s, see `think_s`) where
    /// iterations ended in it too; `running` is the VUs, one iteration under way on each.
    pub fn means(&self, running: f64) -> (Option<f64>, Option<f64>) {
        let (Some((_, a)), Some((_, b))) = (self.seen.front(), self.seen.back()) else {
            return (None, None);
        };
        let requests = b.requests - a.requests;
        if requests <= 0.0 {
            return (None, None);
        }
        let request_ms = (b.request_ms - a.request_ms) / requests;
        let iterations = b.iterations - a.iterations;
        let think = (iterations > 0.0)
            .then(|| requests_per_iteration(b.requests, b.iterations, running))
            .flatten()
            .map(|per| {
                think_s(
                    (b.iteration_ms - a.iteration_ms) / iterations,
                    per,
                    request_ms,
                )
            });
        (Some(request_ms / 1000.0), think)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_gives_the_means_of_its_own_requests_and_iterations() {
        let mut w = TotalsWindow::new(Duration::from_secs(10));
        let at = |n: f64, req: f64, iter: f64| Totals {
            requests: n,
            request_ms: n * req,
            iterations: n,
            iteration_ms: n * iter,
        };
        // The first 100 requests took 50 ms each in 300 ms iterations; the next 100, from
        // t = 20 s on, 150 ms each in 400 ms iterations (the same 250 ms of think).
        w.push(0, at(0.0, 0.0, 0.0));
        w.push(10_000, at(100.0, 50.0, 300.0));
        let later = |n: f64| Totals {
            requests: 100.0 + n,
            request_ms: 100.0 * 50.0 + n * 150.0,
            iterations: 100.0 + n,
            iteration_ms: 100.0 * 300.0 + n * 400.0,
        };
        w.push(20_000, later(0.0));
        w.push(30_000, later(100.0));
        let (mean, think) = w.means(0.0);
        assert!(
            (mean.unwrap() - 0.15).abs() < 1e-9,
            "{mean:?}: since the start it is 0.1"
        );
        assert!((think.unwrap() - 0.25).abs() < 1e-9, "{think:?}");
        // The newest readings: the last 100 requests, 10 s apart.
        assert!((w.recent_mean().unwrap() - 0.15).abs() < 1e-9);
        w.push(32_000, later(110.0));
        // 3 s back holds 70 requests (enough): 10 of 150 ms, then 60 of 250 ms.
        w.push(33_000, {
            let mut x = later(170.0);
            x.request_ms += 60.0 * 100.0;
            x
        });
        let m = w.recent_mean().unwrap();
        assert!((m - (10.0 * 0.15 + 60.0 * 0.25) / 70.0).abs() < 1e-9, "{m}");
        // k6 started again: no difference across it.
        w.push(31_000, at(5.0, 50.0, 300.0));
        assert_eq!(w.means(0.0), (None, None));
    }

    #[test]
    fn a_whole_number_of_requests_between_the_bounds_is_taken() {
        // 120 requests, 100 iterations ended, 20 running: between 1.0 and 1.2.
        assert_eq!(requests_per_iteration(120.0, 100.0, 20.0), Some(1.0));
        // 2 requests each: 230 sent, 110 ended, 10 running (1.92…2.09).
        assert_eq!(requests_per_iteration(230.0, 110.0, 10.0), Some(2.0));
        // No whole number between 1.25 and 1.67: their middle.
        let r = requests_per_iteration(50.0, 30.0, 10.0).unwrap();
        assert!((r - (1.25 + 50.0 / 30.0) / 2.0).abs() < 1e-12, "{r}");
        assert_eq!(requests_per_iteration(10.0, 0.0, 5.0), None);
    }

    #[test]
    fn think_time_is_the_iteration_per_request_less_the_request() {
        assert!((think_s(600.0, 2.0, 50.0) - 0.25).abs() < 1e-12);
        assert_eq!(think_s(100.0, 1.0, 120.0), 0.0);
    }
}
