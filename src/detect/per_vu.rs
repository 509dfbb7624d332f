//! A closed loop's throughput per VU, and the healthy line it keeps while the service keeps
//! up: what `closed_decoupled` judges the decoupling by.
//!
//! A rate over a window counts the completions of the whole window, while a ramp's VUs rose
//! through it: divided by the VUs of now, a healthy ramp's throughput per VU looks low early
//! (the window is much of the ramp) and climbs towards its true level all the way to the wall,
//! so a best taken from it lies at the wall or past it. Divided by the mean VUs over the same
//! window, it is flat while healthy, whatever the window (5 s scraped, 45 s through a 15 s
//! Prometheus), and falls as soon as the VUs added stop buying throughput.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::robust::{median, quantile};
use super::{Detector, Frame};
use crate::model::TimeMs;

/// Healthy readings kept for the line (its median): the last ten, so the first few at a
/// handful of VUs (each new VU asks at once, before its first think) soon drop out.
const LINE_READINGS: usize = 10;
/// The line is trusted once it has them all: read from the first few alone, at a handful of
/// VUs, it lies high, and a bar set too high holds the stage suspected, which stops the line
/// from learning any more.
const LINE_MIN: usize = LINE_READINGS;
/// Readings kept for the knee (the first ones: a closed loop's wall comes once).
const BELOW_WALL_READINGS: usize = 3600;

/// Healthy readings of the client's mean latency and think time kept (a minute at one a
/// second), and the quantile of the latencies read as the unloaded one: the lower quartile,
/// as for the healthy residence (a service short of its wall already queues some).
const CYCLE_READINGS: usize = 60;
const UNLOADED_QUANTILE: f64 = 0.25;

/// A closed loop's cycle: each VU sends a request, waits for it and thinks, so its healthy
/// rate is 1 / (think + unloaded latency), whatever the VUs did meanwhile. Read from rates
/// over a ramp's window, the VUs added lift it, and requests queueing short of a soft wall
/// (few consumers, service times that vary) sink it. Both are read while healthy: the think
/// time does not change with load, but read while latency climbs it comes out short (the
/// requests that end in a window are younger than those of the iterations that end in it).
#[derive(Clone, Debug, Default)]
pub struct Cycle {
    latency: VecDeque<f64>,
    think: VecDeque<f64>,
}

fn keep_last(q: &mut VecDeque<f64>, v: Option<f64>, cap: usize) {
    if let Some(v) = v.filter(|v| v.is_finite() && *v >= 0.0) {
        q.push_back(v);
        if q.len() > cap {
            q.pop_front();
        }
    }
}

impl Cycle {
    /// A healthy reading of the client's mean latency and of its think time, where known.
    pub fn learn(&mut self, latency: Option<f64>, think: Option<f64>) {
        keep_last(&mut self.latency, latency, CYCLE_READINGS);
        keep_last(&mut self.think, think, CYCLE_READINGS);
    }

    /// The think time and the unloaded latency, once three readings of each are in.
    pub fn reading(&self) -> Option<VuCycle> {
        self.reading_of(3)
    }

    /// The same once as many readings as the line needs are in: a bar set from the first
    /// few (k6's first iterations in a short window read the think time low) is met by no
    /// healthy reading, and a stage it raises stops the learning.
    pub fn settled(&self) -> Option<VuCycle> {
        self.reading_of(LINE_MIN)
    }

    fn reading_of(&self, n: usize) -> Option<VuCycle> {
        if self.latency.len() < n || self.think.len() < n {
            return None;
        }
        let c = VuCycle {
            think_s: median(self.think.iter().copied())?,
            unloaded_latency_s: quantile(self.latency.iter().copied(), UNLOADED_QUANTILE)?,
        };
        c.per_vu_rps().map(|_| c)
    }
}

/// What a closed loop's VU does per request while healthy (see `Cycle`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VuCycle {
    /// Seconds it spends per request outside it (think time).
    pub think_s: f64,
    /// Seconds it waits for a request at a light load.
    pub unloaded_latency_s: f64,
}

impl VuCycle {
    /// Requests per second per VU: 1 / (think + unloaded latency).
    pub fn per_vu_rps(&self) -> Option<f64> {
        Some(1.0 / (self.think_s + self.unloaded_latency_s)).filter(|r| r.is_finite() && *r > 0.0)
    }
}

/// Throughput per VU while healthy: its recent readings and the VUs where it was last met.
#[derive(Clone, Debug, Default)]
pub struct Line {
    readings: VecDeque<f64>,
    /// The same readings less what the VUs added over each window lifted them by (one
    /// request per VU added): the healthy rate of the VUs themselves, which the knee is in.
    unlifted: VecDeque<f64>,
    /// Mean VUs over the rate window of the last healthy reading at or above the line.
    pub vus_on_line: Option<f64>,
    /// Readings taken while no stage past `rate_rises` was suspected, each fresh sample once,
    /// unlifted, with the throughput they came from: (per VU, throughput). A wall a few VUs
    /// into a ramp leaves too few readings the VUs added do not lift past the bar's margin for
    /// a line, while the knee needs only those clearly below the capacity, lifted by up to
    /// half (see `Detector::knee_per_vu`).
    pub below_wall: Vec<(f64, f64)>,
    /// The cycle of a VU (think and unloaded latency), where the client reports both.
    pub cycle: Cycle,
    /// VUs of the last healthy reading that met the cycle's bar (see
    /// `Detector::per_vu_bar`): each VU busy with its iterations back to back. An
    /// arrival-rate test's pool never meets it (its VUs idle between scheduled iterations).
    pub vus_on_cycle: Option<f64>,
}

impl Line {
    /// The line: the median of the healthy readings, once there are enough of them. A median,
    /// not the best reading: the best of noisy readings lies above the line, and one
    /// reading out of step would move the bar every later reading is judged against.
    pub fn level(&self) -> Option<f64> {
        if self.readings.len() < LINE_MIN {
            return None;
        }
        median(self.readings.iter().copied())
    }

    /// The unlifted line (see `unlifted`), once the line has its readings.
    pub fn unlifted_level(&self) -> Option<f64> {
        self.level()?;
        median(self.unlifted.iter().copied())
    }

    /// A healthy reading for the knee alone (see `below_wall`), its lift taken out.
    pub fn keep(&mut self, per_vu: f64, tput: f64, lift: f64) {
        // A sample read again (a slow scrape's, every refresh until the next) is one reading:
        // against VUs still being added, its repeats would fall as if each VU did less.
        let fresh = self.below_wall.last().is_none_or(|(_, t)| *t != tput);
        if fresh && self.below_wall.len() < BELOW_WALL_READINGS {
            self.below_wall
                .push((per_vu * (1.0 - lift.clamp(0.0, 1.0)), tput));
        }
    }

    /// The median unlifted throughput per VU of the readings whose throughput was under
    /// `share` of `capacity` (a closed loop below its wall: each VU's rate is its healthy
    /// one), when there are at least three.
    pub fn below(&self, capacity: f64, share: f64) -> Option<f64> {
        let v: Vec<f64> = self
            .below_wall
            .iter()
            .filter(|(_, tput)| *tput < share * capacity)
            .map(|(p, _)| *p)
            .collect();
        (v.len() >= 3).then(|| median(v))?
    }

    /// A healthy reading, the VUs it is per, and the share of it the VUs added over its
    /// window account for (`Detector::ramp_bias`).
    pub fn learn(&mut self, per_vu: f64, vus: f64, lift: f64) {
        self.readings.push_back(per_vu);
        self.unlifted
            .push_back(per_vu * (1.0 - lift.clamp(0.0, 1.0)));
        if self.readings.len() > LINE_READINGS {
            self.readings.pop_front();
            self.unlifted.pop_front();
        }
        if self.level().is_none_or(|l| per_vu >= l) {
            self.vus_on_line = Some(vus);
        }
    }
}

/// How much older the throughput's newest sample is than the VUs' (ms): the VUs of the
/// seconds a rate counts are those read that much before the frame. A scrape that answers
/// after the refresh began lags the VUs by a refresh, and read against the VUs of now, a
/// ramp's throughput per VU reads 6% low at 16 VUs. Where Prometheus computed the rate, its
/// newest sample is half a scrape interval old on average (`refresh_s` where none is said).
fn vus_lead_ms(f: &Frame, refresh_s: f64) -> TimeMs {
    let tp = f.throughput_age_or_mean_s(refresh_s);
    ((tp - f.vus_age_s.unwrap_or(0.0)) * 1000.0) as TimeMs
}

impl Detector {
    /// The VUs a frame's throughput was measured over: their mean across its rate window.
    /// None when the window reaches back before the first frame (the VUs then are unknown).
    pub(super) fn window_vus(&self, f: &Frame) -> Option<f64> {
        self.window_mean(f, |g| g.vus)
    }

    /// The mean of `get` over the seconds a frame's throughput rate counts (as `window_vus`
    /// reads the VUs): a count read against that rate in Little's law must cover the same
    /// time, or on a ramp the count of now, against completions of some seconds ago, reads
    /// high.
    pub(super) fn window_mean(
        &self,
        f: &Frame,
        get: impl Fn(&Frame) -> Option<f64>,
    ) -> Option<f64> {
        let span = self.rate_span_ms(f);
        if span == 0 {
            // Not a rate over a window (or of its first sample alone): the count of now.
            return get(f);
        }
        let end = f.t - vus_lead_ms(f, self.refresh_s());
        self.mean_of(end - span, end, get)
    }

    /// The ms a frame's throughput rate counts over: from the first sample in its window to
    /// the last (see `model::sampling::rate_span_s`), as many as the newest one's age leaves
    /// in the window where it is known. Over the whole window, a ramp's VUs would be those of
    /// half an interval earlier: 4% fewer at 12 VUs on a 1 VU/s ramp, a line that much high.
    fn rate_span_ms(&self, f: &Frame) -> TimeMs {
        let s = f.sample_s.unwrap_or(self.refresh_s());
        let span = match (f.rate_window_s, f.throughput_age_s) {
            (Some(w), Some(age)) if s > 0.0 && w > age + s => {
                // Samples `s` apart from `age` back, inside the window (t − w, t].
                ((w - age) / s).ceil().max(1.0) * s - s
            }
            _ => f.rate_span_s(s).unwrap_or(0.0),
        };
        (span * 1000.0) as TimeMs
    }

    /// Mean VUs of the frames with `from <= t <= to`; None when the history starts after
    /// `from` (the VUs then are unknown).
    fn mean_vus(&self, from: TimeMs, to: TimeMs) -> Option<f64> {
        self.mean_of(from, to, |g| g.vus)
    }

    /// Mean of `get` over the frames with `from <= t <= to`; None when the history starts
    /// after `from`.
    fn mean_of(
        &self,
        from: TimeMs,
        to: TimeMs,
        get: impl Fn(&Frame) -> Option<f64>,
    ) -> Option<f64> {
        let h = &self.history;
        if h.first().is_none_or(|g| g.t > from) {
            return None;
        }
        let i = h.partition_point(|g| g.t < from);
        let j = h.partition_point(|g| g.t <= to);
        let vals: Vec<f64> = h[i..j].iter().filter_map(get).collect();
        (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
    }

    /// `read` of each of the last three refreshes that has it, newest first.
    fn last_three<T>(&self, read: impl Fn(&Frame) -> Option<T>) -> Vec<T> {
        self.recent.iter().rev().take(3).filter_map(read).collect()
    }

    /// The VUs added over a frame's rate window (none when they fell or are unknown).
    fn window_vus_added(&self, f: &Frame) -> Option<f64> {
        let end = f.t - vus_lead_ms(f, self.refresh_s());
        let w = self.rate_span_ms(f);
        let h = &self.history;
        let i = h.partition_point(|g| g.t < end - w);
        let j = h.partition_point(|g| g.t <= end);
        let mut vus = h[i..j].iter().filter_map(|g| g.vus);
        let first = vus.next()?;
        Some((vus.next_back().unwrap_or(first) - first).max(0.0))
    }

    /// How far the VUs added over the rate window may lift the throughput per VU read now,
    /// as a share of it: each VU k6 adds sends its first request at once, and the VU count
    /// is slightly out of step with the completions, both about one request per VU added.
    /// Over a ramp that is its VU rate / (VUs × throughput per VU): large at a handful of
    /// VUs, whatever the window.
    pub(super) fn ramp_bias(&self) -> Option<f64> {
        let vals = self.last_three(|f| {
            let added = self.window_vus_added(f)?;
            let w = Some(self.rate_span_ms(f) as f64 / 1000.0).filter(|w| *w > 0.0)?;
            let tp = f.throughput.filter(|t| *t > 0.0)?;
            Some(added / w / tp)
        });
        median(vals.iter().copied())
    }

    /// Throughput per VU of one frame, and the VUs it is per.
    fn per_vu_of(&self, f: &Frame) -> Option<(f64, f64)> {
        let v = self.window_vus(f).filter(|v| *v > 0.0)?;
        Some((f.throughput? / v, v)).filter(|x| x.0.is_finite())
    }

    /// Throughput now (see `unwindow`) per VU over its own span: each reading divided by the
    /// mean VUs of the seconds it covers. Past the wall it falls as the VUs grow, at once,
    /// where the rate's figure averages the shortfall over its whole window and so falls only
    /// as the window fills with the time past the wall. Median of the last three refreshes;
    /// None where throughput now is not rebuilt.
    pub(super) fn per_vu_now(&self) -> Option<f64> {
        let vals = self.last_three(|f| {
            let tp = f.throughput_now.filter(|_| !f.now_is_last_interval())?;
            let span = super::unwindow::span_s(f.rate_window_s, f.sample_s.unwrap_or(1.0));
            // The seconds it covers: after `t − span`, as old as its samples.
            let end = f.t - vus_lead_ms(f, self.refresh_s());
            let v = self.mean_vus(end - (span * 1000.0) as TimeMs + 1, end)?;
            Some(tp / v).filter(|x| x.is_finite() && v > 0.0)
        });
        if vals.len() < 3 {
            return None;
        }
        median(vals.iter().copied())
    }

    /// Throughput per VU now and the VUs it is per: medians of the last three refreshes, as
    /// every other figure, so one odd reading does not flip the stage.
    pub(super) fn per_vu(&self) -> Option<(f64, f64)> {
        let vals = self.last_three(|f| self.per_vu_of(f));
        if vals.len() < 2 {
            return None;
        }
        Some((
            median(vals.iter().map(|x| x.0))?,
            median(vals.iter().map(|x| x.1))?,
        ))
    }
}
