//! What a run amounts to once its frames are in: capacity, drain time and scaling guidance.

use serde::{Deserialize, Serialize};

use super::robust::median;
use super::{unwindow, Detector, StageId};
use crate::model::sampling::fast_window_s;

/// Whole-run figures kept as frames arrive, so they cover every frame (the history is
/// thinned on long runs) and cost nothing to read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WholeRun {
    /// Peak offered load (req/s).
    pub offered_peak: Option<f64>,
    /// Service times summed over the frames with throughput at least `min_rate`.
    pub service_sum: f64,
    pub service_n: u64,
    /// The consumers last seen.
    pub consumers: Option<f64>,
}

impl WholeRun {
    pub fn add(&mut self, f: &super::Frame, min_rate: f64) {
        if let Some(o) = f.offered.filter(|v| v.is_finite()) {
            self.offered_peak = Some(self.offered_peak.map_or(o, |m| m.max(o)));
        }
        if f.throughput.is_some_and(|t| t >= min_rate) {
            if let Some(s) = f.service_time.filter(|v| v.is_finite() && *v > 0.0) {
                self.service_sum += s;
                self.service_n += 1;
            }
        }
        if f.consumers.is_some() {
            self.consumers = f.consumers;
        }
    }
}

/// What the screen shows of the run's summary, as of the last refit or transition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveSummary {
    pub capacity_rps: Option<f64>,
    pub scaling: Option<Scaling>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Peak offered load of the run (req/s): the λ to provision for.
    pub lambda_rps: f64,
    pub mean_service_s: f64,
    pub utilisation: f64,
    /// ceil(λ · mean service time / U).
    pub workers_needed: u64,
    /// Consumers seen on the stream, when known.
    pub consumers_now: Option<f64>,
}

/// How a capacity was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityBasis {
    /// The median throughput held on the plateau.
    Plateau,
    /// The throughput while work piled up until clients failed.
    PiledUp,
}

impl CapacityBasis {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Plateau => "median throughput on the plateau",
            Self::PiledUp => "throughput while work piled up, until clients failed",
        }
    }
}

/// Refreshes of a plateau before the first client error that make a capacity of their own.
const MIN_HELD: usize = 5;

/// Refreshes a throughput must hold (their median) to count as held while work piled up: the
/// client's completions rebuilt over a few seconds swing by a tenth with counts polled a
/// little early or late, and the highest of three-reading medians read that swing as
/// capacity.
const HELD_READINGS: usize = 5;

/// The highest median of `HELD_READINGS` readings in a row.
fn highest_held(readings: &[f64]) -> Option<f64> {
    readings
        .windows(HELD_READINGS)
        .filter_map(|w| median(w.iter().copied()))
        .reduce(f64::max)
}

/// The healthy line's lag is searched in steps of this many ms, over at least this many
/// readings.
const LAG_STEP_MS: usize = 250;
const MIN_LINE_POINTS: usize = 5;
/// Share of the capacity under which a closed loop's readings are short of its wall.
const BELOW_WALL: f64 = 0.9;

impl Detector {
    /// The throughput the wall held, when one was reached (see `capacity`).
    pub fn capacity_rps(&self) -> Option<f64> {
        self.capacity().map(|c| c.0)
    }

    /// The capacity and how it was read.
    ///
    /// Once clients fail, completions no longer measure the service: their work is abandoned
    /// or skipped, and the completions counted fall. So the capacity is what the plateau held
    /// before the first error when it lasted long enough; when the plateau was confirmed only
    /// after clients failed (a burst fills the queue within seconds), it is the highest
    /// throughput held while work piled up until the error reached the rate window. Without a
    /// plateau (samples too far apart to see one before clients failed, and throughput fell
    /// after), work that piled up until clients failed is the wall all the same: the same
    /// reading then.
    pub fn capacity(&self) -> Option<(f64, CapacityBasis)> {
        let p = self.stage(StageId::Plateau);
        let err = self.stage(StageId::ErrorsVisible).first_onset;
        let Some(plateau_from) = p.first_onset else {
            // Only where work piled up before clients failed: else no wall was seen.
            let before = err.filter(|&e| self.piling_from(e).is_some_and(|p| p < e))?;
            return self
                .wall_before(before)
                .map(|c| (c, CapacityBasis::PiledUp));
        };
        let from = self.saturated_from(plateau_from);
        // The condition stopped holding `clear_hold` before the stage cleared.
        // Nor after the load ended: the drain's falling completions are not what it held.
        let to = p
            .cleared
            .map(|c| c - self.cfg.clear_hold.as_millis() as i64)
            .unwrap_or(i64::MAX)
            .min(self.load_ended.unwrap_or(i64::MAX));
        let Some(err) = err else {
            return self
                .plateau_median(from, to)
                .map(|c| (c, CapacityBasis::Plateau));
        };
        let before = self
            .frames_between(from, err - 1)
            .iter()
            .filter(|f| f.throughput.is_some())
            .count();
        if before >= MIN_HELD {
            return self
                .plateau_median(from, to.min(err - 1))
                .map(|c| (c, CapacityBasis::Plateau));
        }
        self.wall_before(err)
            .map(|c| (c, CapacityBasis::PiledUp))
            .or_else(|| {
                self.plateau_median(from, to)
                    .map(|c| (c, CapacityBasis::Plateau))
            })
    }

    /// Where the service's readings hold its capacity: from the first sign of work piling up
    /// (all its workers busy since) past throughput now's own span, when that is before the
    /// plateau's onset. A plateau is confirmed only once throughput is seen flat for some
    /// seconds; the seconds before count as well, and where service times vary, a median
    /// over few seconds is some percent off the service's mean rate.
    fn saturated_from(&self, plateau_from: i64) -> i64 {
        let Some(start) = self.piling_onset() else {
            return plateau_from;
        };
        plateau_from.min(self.past_now_span(start))
    }

    /// `t` plus the span throughput now covers there: its readings before then still hold
    /// time before `t` (the first sign of work piling up, seen at once: the climb into the
    /// wall).
    fn past_now_span(&self, t: i64) -> i64 {
        let span_ms = self.frame_at(t).map_or(0.0, |f| {
            unwindow::span_s(f.rate_window_s, f.sample_s.unwrap_or(self.refresh_s())) * 1000.0
        });
        // A refresh that came a few ms early is that span past `t` all the same: the one
        // due then must not be left out (a burst's capacity fell back on the climb into the
        // wall, 17% low, for a reading 1 ms short of it).
        t + span_ms as i64 - (self.refresh_s() * 500.0) as i64
    }

    /// Throughput while work piled up until the first client error at `err`: throughput now
    /// where it was known, else the highest rate.
    fn wall_before(&self, err: i64) -> Option<f64> {
        // With samples far apart the reading at the first sign of piling up is an interval
        // that ended before it, and a handful of intervals are all there are: their highest.
        if self
            .frame_at(err)
            .is_some_and(super::Frame::now_is_last_interval)
        {
            return self.peak_before(err);
        }
        self.now_before(err).or_else(|| self.peak_before(err))
    }

    /// The frame at `t`, or the last one before it.
    pub(super) fn frame_at(&self, t: i64) -> Option<&super::Frame> {
        let h = &self.history;
        h.get(
            h.partition_point(|f| f.t < t)
                .min(h.len().saturating_sub(1)),
        )
    }

    /// When work began piling up, as far as the data can date it before clients failed at
    /// `err`: the first sign of it (`piling_onset`), less, through samples far apart, the two
    /// intervals a rate over them may show it late by. A burst through a 15 s scrape can
    /// fail clients inside one interval, before its samples show the queue; the work piled
    /// up all the same.
    fn piling_from(&self, err: i64) -> Option<i64> {
        let onset = self.piling_onset()?;
        // Read where the piling up was seen: a Prometheus server's interval is known only
        // once its samples have come, which may be after the error.
        let slow_s = [self.frame_at(onset), self.frame_at(err)]
            .into_iter()
            .flatten()
            .find_map(super::Frame::slow_sample_s)
            .unwrap_or(0.0);
        Some(onset - (2.0 * slow_s * 1000.0) as i64)
    }

    /// The median throughput now (see `unwindow`) from the first sign of work piling up
    /// (past its own span, where enough readings remain) until the first client error, when
    /// it was rebuilt there: unlike a rate, it then holds no time from before the wall, and
    /// needs no allowance for a window after the error.
    fn now_before(&self, err: i64) -> Option<f64> {
        let start = self.piling_onset()?;
        let now = |from: i64| {
            let v: Vec<f64> = self
                .frames_between(from, err - 1)
                .iter()
                .filter_map(|f| f.throughput_now)
                .collect();
            (v.len() >= MIN_HELD).then(|| median(v))?
        };
        // Throughput now still holds the time before the wall for its own span after work is
        // first seen piling up (seen at once, that is the climb into the wall): left out
        // where enough readings remain after it.
        now(self.past_now_span(start)).or_else(|| now(start))
    }

    /// Median throughput over a plateau's span. A rate over a few sample intervals still
    /// holds samples from before the wall for about two of them after the onset: with slow
    /// samples (a 15 s scrape) those are skipped, when the plateau lasted long enough.
    ///
    /// Only readings taken while the load was at least the knee's count: below it throughput
    /// follows the load (a VU ramp-down, a burst settling back). Through slow samples a
    /// plateau may be confirmed only as the load falls back; what throughput held from the
    /// first sign of work piling up is the capacity then.
    fn plateau_median(&self, from: i64, to: i64) -> Option<f64> {
        // Where the client's completions stood in for the server's slow samples, the plateau
        // was seen in them, and its level is theirs: they trail the wall by a few seconds,
        // where a slow scrape's last interval can still end before it. Only until clients
        // fail: the service's answers to clients that gave up are work done, but not theirs.
        if self.plateau_in_client {
            let err = self.stage(StageId::ErrorsVisible).first_onset;
            let client = self
                .frames_between(from, to.min(err.map_or(i64::MAX, |e| e - 1)))
                .iter()
                .filter(|f| self.at_knee_load(f))
                .filter_map(|f| f.client_done_now);
            if let Some(c) = median(client) {
                return Some(c);
            }
        }
        let held = |from: i64| {
            median(
                self.frames_between(from, to)
                    .iter()
                    .filter(|f| self.at_knee_load(f))
                    .filter_map(super::Frame::throughput_now),
            )
        };
        let i = self.history.partition_point(|f| f.t < from);
        let sample_s = self.history.get(i).and_then(|f| f.sample_s).unwrap_or(0.0);
        let lag = (2.0 * sample_s * 1000.0) as i64;
        let within = |from: i64| {
            if sample_s >= 2.0 && to != i64::MAX && from + 2 * lag > to {
                return held(from);
            }
            held(from + if sample_s >= 2.0 { lag } else { 0 }).or_else(|| held(from))
        };
        within(from).or_else(|| within(self.piling_onset()?.min(from)))
    }

    /// Whether a frame's load was at least the knee's (the load at its onset, in its unit);
    /// true where no knee is known yet.
    fn at_knee_load(&self, f: &super::Frame) -> bool {
        let Some((at, unit)) = self
            .knee
            .as_ref()
            .and_then(|k| Some((k.load?, &k.load_unit)))
        else {
            return true;
        };
        let load = if unit == "VUs" { f.vus } else { f.offered };
        load.is_some_and(|l| l >= at)
    }

    /// The frames with `from <= t <= to`, found by bisection (frames are in time order).
    fn frames_between(&self, from: i64, to: i64) -> &[super::Frame] {
        let h = &self.history;
        let a = h.partition_point(|f| f.t < from);
        let b = h.partition_point(|f| f.t <= to).max(a);
        &h[a..b]
    }

    /// The first sign of work piling up: the earliest onset of `decoupled` or
    /// `pending_climbs`.
    pub(super) fn piling_onset(&self) -> Option<i64> {
        [StageId::Decoupled, StageId::PendingClimbs]
            .iter()
            .filter_map(|&id| self.stage(id).first_onset)
            .min()
    }

    /// The highest throughput held (median of `HELD_READINGS` refreshes) from the first sign
    /// of work piling up (as `piling_from` dates it) until half a rate window after the first
    /// client error (a rate still averages the time before the error that long); the last
    /// interval's where samples are far apart, read no later than its samples' age (half a
    /// scrape) after the error: a later one holds the failures (a gateway that counts its
    /// dropped requests as answered ones counts them as completions).
    fn peak_before(&self, err: i64) -> Option<f64> {
        let start = self.piling_from(err)?;
        let refresh_s = self.refresh_s();
        let h = &self.history;
        let i = h.partition_point(|f| f.t < err);
        let half_window = h
            .get(i)
            .and_then(|f| f.rate_window_s)
            .map_or(0, |w| (w * 500.0) as i64);
        let span: Vec<f64> = self
            .frames_between(start, err.saturating_add(half_window))
            .iter()
            .filter_map(|f| {
                // Samples too far apart for a rate to leave the climb into the wall behind
                // before clients fail: their last interval is the wall's own figure.
                // One interval may straddle the time before the wall (a burst's wall can be
                // shorter than an interval before clients fail): the client's own
                // completions, polled every refresh, are then the fresher figure. They are
                // never more than the service's, so the higher of the two is read.
                let client = f.client_done_now.filter(|_| f.t < err);
                let server = match f.now_is_last_interval() {
                    true => {
                        let age_ms = (f.throughput_age_or_mean_s(refresh_s) * 1000.0) as i64;
                        f.throughput_now.filter(|_| f.t < err + age_ms)
                    }
                    false => f.throughput,
                };
                server.into_iter().chain(client).reduce(f64::max)
            })
            .collect();
        highest_held(&span)
    }

    /// The knee where the healthy line meets the capacity: in VUs for a closed loop
    /// (throughput per VU), in req/s for an open one (completions per arrival). The load at
    /// the confirmation comes a rate window late, and a step or a burst jumps past the wall
    /// between two refreshes; this is where the wall began.
    ///
    /// A rate over a window is the throughput of some time ago, and two sources have
    /// different delays, so each throughput reading is divided by the load of another time.
    /// The lag is found from the data: while healthy, throughput is proportional to the load,
    /// and only the right lag makes their ratio constant across a ramp (a wrong one makes it
    /// drift with the load).
    ///
    /// In req/s it is never above the most completions per second seen before clients
    /// failed: below the knee completions follow the load, so a load never completed lies
    /// past it. A burst that jumps the wall has its onset far above; with no capacity to
    /// meet, that bound is the knee (`None` where it does not bind: the onset load stands).
    pub fn knee_model(&self, vus: bool) -> Option<f64> {
        if vus {
            return self.knee_per_vu().or_else(|| self.knee_line(true));
        }
        let line = self.knee_line(false);
        let Some(peak) = self.completions_peak() else {
            return line;
        };
        match line {
            Some(k) => Some(k.min(peak)),
            None => self
                .knee
                .as_ref()
                .and_then(|k| k.offered_rps)
                .filter(|&onset| onset > peak)
                .map(|_| peak),
        }
    }

    /// The most completions per second any throughput reading showed before clients failed:
    /// once they fail, a service may count its failed answers as completions, and the
    /// client's rate counts them too. A rate over a window still averages the time before the
    /// first error for half a window after it, so it is read that much longer. Throughput now
    /// counts too, and the client's completions over its last seconds: a burst holds the wall
    /// for less than a rate window before clients give up (8 s against k6's 10 s on the slow
    /// system), and no rate over it reaches the wall.
    fn completions_peak(&self) -> Option<f64> {
        let err = self.stage(StageId::ErrorsVisible).first_onset;
        let before = |t: i64, grace_s: f64| {
            err.is_none_or(|e| t < e.saturating_add((grace_s * 1000.0) as i64))
        };
        let rates = self.history.iter().flat_map(|f| {
            let half = f.rate_window_s.unwrap_or(0.0) / 2.0;
            [
                f.throughput.filter(|_| before(f.t, half)),
                f.throughput_last.filter(|_| before(f.t, 0.0)),
                f.client_rate.filter(|_| before(f.t, 0.0)),
            ]
        });
        // The figures over the last seconds swing by a tenth from one refresh to the next:
        // the highest held (median of `HELD_READINGS`), as for the capacity.
        let held = |get: fn(&super::Frame) -> Option<f64>| {
            let v: Vec<f64> = self
                .history
                .iter()
                .filter(|f| before(f.t, 0.0))
                .filter_map(get)
                .collect();
            highest_held(&v)
        };
        let now = [held(|f| f.throughput_now), held(|f| f.client_done_now)];
        rates
            .chain(now)
            .flatten()
            .filter(|v| v.is_finite())
            .reduce(f64::max)
    }

    /// A closed loop's knee from its healthy throughput per VU (`per_vu::Line`: each reading
    /// divided by the mean VUs over its own rate window, so no lag between the two is
    /// guessed): the VUs whose healthy throughput is the capacity.
    ///
    /// Where the client reports its VUs' think time and its mean latency, the healthy rate is
    /// read from their cycle instead (`per_vu::Cycle`): the line, read from rates over the
    /// ramp, lies low where a soft wall queues requests short of it. A wall a few VUs into
    /// the ramp leaves no line: then the readings whose throughput was under `BELOW_WALL` of
    /// the capacity, clearly short of the wall, give the healthy rate.
    fn knee_per_vu(&self) -> Option<f64> {
        let cap = self.capacity_rps().filter(|c| c.is_finite())?;
        let per_vu = self
            .knee_cycle()
            .and_then(|c| c.per_vu_rps())
            .or_else(|| self.line.unlifted_level())
            .or_else(|| self.line.below(cap, BELOW_WALL))
            .filter(|l| *l > 0.0)?;
        Some(cap / per_vu)
    }

    /// The VUs' cycle a closed loop's knee is read from, where the client reports it.
    pub fn knee_cycle(&self) -> Option<super::per_vu::VuCycle> {
        self.line.cycle.reading()
    }

    /// Where the healthy line meets the capacity (see `knee_model`).
    fn knee_line(&self, vus: bool) -> Option<f64> {
        let cap = self.capacity_rps()?;
        // Healthy: before work piled up, and before clients failed (through slow samples,
        // work may be seen piling up only after that).
        let err = self.stage(StageId::ErrorsVisible).first_onset;
        let healthy_until = self
            .piling_onset()?
            .min(err.unwrap_or(i64::MAX))
            .min(self.client_slowed().unwrap_or(i64::MAX));
        let h = &self.history;
        let first = h.first()?.t;
        let healthy: Vec<(i64, f64)> = h
            .iter()
            .take_while(|f| f.t < healthy_until)
            .filter_map(|f| {
                // Read through a Prometheus server (which says its scrape interval), the
                // server's completions come a scrape late, and through slow scrapes (15 s, a
                // rate over 45 s) are a handful of stairs before a wall half a minute in; the
                // client's own completions, polled every refresh with its load and read over
                // the window fitted to that, draw the same line without either.
                let (tput, window_s) = match (f.sample_s, f.client_rate) {
                    (Some(_), Some(c)) => (c, fast_window_s(self.refresh_s())),
                    _ => (f.throughput?, f.rate_window_s.unwrap_or(0.0)),
                };
                // A window not yet full of data is extrapolated: no reading of the line.
                let window_ms = (window_s * 1000.0) as i64;
                (tput >= self.cfg.min_rate && f.t >= first + window_ms).then_some((f.t, tput))
            })
            .collect();
        let floor = if vus {
            self.cfg.min_vus
        } else {
            self.cfg.min_rate
        };
        let load_at = |t: i64| {
            let f = h[..h.partition_point(|g| g.t <= t)].last()?;
            if vus { f.vus } else { f.offered }.filter(|v| *v >= floor)
        };
        let max_lag_ms = h.iter().filter_map(|f| f.rate_window_s).fold(0.0, f64::max) * 1000.0;
        let max_lag_ms = max_lag_ms as i64;
        let mut best: Option<(f64, f64)> = None;
        for lag in (-max_lag_ms..=max_lag_ms).step_by(LAG_STEP_MS) {
            let ratios: Vec<f64> = healthy
                .iter()
                .filter_map(|(t, tput)| Some(tput / load_at(t - lag)?))
                .collect();
            if ratios.len() < MIN_LINE_POINTS {
                continue;
            }
            let Some(m) = median(ratios.iter().copied()) else {
                continue;
            };
            let spread = median(ratios.iter().map(|r| (r - m).abs()))? / m;
            if best.is_none_or(|(s, _)| spread < s) {
                best = Some((spread, m));
            }
        }
        let (_, per_unit) = best?;
        (per_unit > 0.0 && cap.is_finite()).then(|| cap / per_unit)
    }

    /// When the client's p95, seen every refresh, first stood `residence_factor` times its
    /// best so far: requests were waiting. Through slow scrapes work is seen piling up a scrape
    /// or two late, and the readings of a burst's first seconds, completions rising against a
    /// load from before it, are no healthy line (it put a burst's knee at 40% of its wall).
    fn client_slowed(&self) -> Option<i64> {
        // Not from the first requests' few readings, as for the line itself.
        let from = self.history.first()?.t + (fast_window_s(self.refresh_s()) * 1000.0) as i64;
        let mut best = f64::INFINITY;
        self.history.iter().find_map(|f| {
            let p = f.client_p95.filter(|p| *p > 0.0 && f.t >= from)?;
            if p >= self.cfg.residence_factor * best {
                return Some(f.t);
            }
            best = best.min(p);
            None
        })
    }

    pub fn scaling(&self) -> Option<Scaling> {
        let w = &self.whole;
        let lambda = w.offered_peak?;
        if w.service_n == 0 || lambda <= 0.0 {
            return None;
        }
        let mean = w.service_sum / w.service_n as f64;
        let u = self.cfg.utilisation;
        Some(Scaling {
            lambda_rps: lambda,
            mean_service_s: mean,
            utilisation: u,
            workers_needed: (lambda * mean / u - 1e-9).ceil().max(1.0) as u64,
            consumers_now: w.consumers,
        })
    }

    /// Seconds from the backlog's peak (arrivals fell below the service rate) until no item
    /// waited beyond those the consumers hold in service (`Frame::waiting`); None when it
    /// never piled up or has not drained yet.
    pub fn drain_s(&self) -> Option<f64> {
        let (peak_i, peak) = self
            .history
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.waiting().map(|b| (i, b)))
            .fold(None, |m: Option<(usize, f64)>, (i, b)| match m {
                Some((_, mb)) if mb >= b => m,
                _ => Some((i, b)),
            })?;
        if peak < self.cfg.min_backlog {
            return None;
        }
        let t0 = self.history[peak_i].t;
        let end = self.history[peak_i..]
            .iter()
            .find(|f| f.waiting().is_some_and(|b| b < 1.0))?;
        Some((end.t - t0) as f64 / 1000.0)
    }
}
