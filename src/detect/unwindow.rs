//! Completions per second now, recovered from a rate over a window.
//!
//! A rate over *w* seconds is the count of the last *w* seconds over *w*, so it trails any
//! change by up to *w*: a wall shows in it only once its window has filled with the wall
//! (a plateau confirmed about a window late, a capacity read low while the window still
//! holds the time before). A rate over a window of samples *s* apart counts the *w* = window
//! − *s* seconds from its first sample to its last (Prometheus extrapolates the increase to
//! the window's edges, then divides by the window). Since count(t) − count(t − w) =
//! w · rate(t), the count of the
//! last *d* seconds is w · (rate(t) − rate(t − d)) plus the count of the *d* seconds just
//! before the window began, found the same way one window earlier; the count of *d* seconds
//! two windows back is read from the rate whose window is centred on it. No count is carried
//! on from window to window, so noise does not add up over a run (two differences of rates,
//! times w/d, is all it carries). The figure is the throughput of the last *d* seconds
//! wherever completions changed linearly over the last 2.5 windows; a step leaves a bounded
//! wobble (at most half the step) from 1.5 to 2.5 windows after it, symmetric about the new
//! level: past the wall's first window and a half, which the plateau and the capacity read.

use std::collections::VecDeque;

use crate::model::TimeMs;

/// Whether a rate window holds enough samples to be read this way (see `model::sampling`).
/// Where it does not, the throughput's figure over its last sample interval stands in
/// (`Frame::throughput_last`).
pub use crate::model::sampling::rebuildable;

/// Throughput now is over the last this many samples (at least `MIN_SPAN_S`).
pub const SPAN_SAMPLES: f64 = 3.0;
pub const MIN_SPAN_S: f64 = 3.0;

/// The span (s) throughput now covers for samples `sample_s` apart: a few samples where it
/// is rebuilt from a rate over `window_s`, else the last interval.
pub fn span_s(window_s: Option<f64>, sample_s: f64) -> f64 {
    if rebuildable(window_s, sample_s) {
        (SPAN_SAMPLES * sample_s).max(MIN_SPAN_S)
    } else {
        sample_s
    }
}

/// The rates seen lately: (time, rate), oldest first.
#[derive(Clone, Debug, Default)]
pub struct Unwindow {
    rates: VecDeque<(TimeMs, f64)>,
}

impl Unwindow {
    /// Feeds one refresh's rate over `window_s`, read from samples `sample_s` apart; returns
    /// the throughput of the last few seconds once the rates reach back far enough. A
    /// refresh without a rate is skipped; a window too short for its samples starts over.
    pub fn push(
        &mut self,
        t: TimeMs,
        rate: Option<f64>,
        window_s: Option<f64>,
        sample_s: f64,
    ) -> Option<f64> {
        let (Some(rate), Some(w)) = (rate.filter(|r| r.is_finite()), window_s) else {
            return None;
        };
        if !(w > 0.0 && rebuildable(Some(w), sample_s)) {
            self.rates.clear();
            return None;
        }
        if self.rates.back().is_some_and(|&(last, _)| t <= last) {
            return None;
        }
        self.rates.push_back((t, rate));
        // What the rate counts over: one interval short of its window (see `rate_span_s`).
        let w = crate::model::sampling::rate_span_s(w, sample_s);
        let d = (SPAN_SAMPLES * sample_s).max(MIN_SPAN_S);
        let ms = |s: f64| (s * 1000.0) as TimeMs;
        let (w_ms, d_ms) = (ms(w), ms(d));
        let reach = ms(1.5 * w + d / 2.0);
        while self.rates.get(1).is_some_and(|&(t1, _)| t1 <= t - reach) {
            self.rates.pop_front();
        }
        let last = w / d * (rate - self.at(t - d_ms)?);
        // The window before, the same way, when the rates reach back that far: a step's
        // wobble then comes only 1.5 windows after it, past the wall's first window.
        let before = self
            .at(t - reach)
            .zip(self.at(t - w_ms))
            .zip(self.at(t - w_ms - d_ms))
            .map(|((older, a), b)| w / d * (a - b) + older);
        let older = match before {
            Some(v) => v,
            None => self.at(t - ms((w + d) / 2.0))?,
        };
        Some((last + older).max(0.0))
    }

    /// The rate at `t`, interpolated between refreshes; None before the first.
    fn at(&self, t: TimeMs) -> Option<f64> {
        let i = self.rates.partition_point(|&(ti, _)| ti <= t);
        let (ta, ra) = *self.rates.get(i.checked_sub(1)?)?;
        Some(match self.rates.get(i) {
            Some(&(tb, rb)) => ra + (rb - ra) * (t - ta) as f64 / (tb - ta) as f64,
            None => ra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-second completions `c`, read as a rate over `w` seconds each second: samples a
    /// second apart, so the window holds `w` of them and the rate is the count of its last
    /// `w − 1` seconds over those seconds (as Prometheus extrapolates it).
    fn feed(c: &[f64], w: usize) -> Vec<Option<f64>> {
        let mut u = Unwindow::default();
        (0..c.len())
            .map(|i| {
                let from = (i + 2).saturating_sub(w);
                let rate = c[from..=i].iter().sum::<f64>() / (w - 1) as f64;
                u.push(i as TimeMs * 1000, Some(rate), Some(w as f64), 1.0)
            })
            .collect()
    }

    /// Per-second completions `c`, counted by a counter sampled each second and read by the
    /// local PromQL evaluator as `rate(jobs[w])` just after each sample.
    fn through_rate(c: &[f64], w: usize) -> Vec<Option<f64>> {
        use crate::model::Labels;
        use crate::promql::{compile_local, EvalOptions, Value};
        let q = compile_local(&format!("sum(rate(jobs[{w}s]))")).unwrap();
        let mut store = crate::store::Store::new(Default::default());
        let mut u = Unwindow::default();
        let mut total = 0.0;
        c.iter()
            .enumerate()
            .map(|(i, n)| {
                total += n;
                let t = i as TimeMs * 1000;
                store.push(&Labels::named("jobs"), t, total);
                let rate = match q.eval(&store, t + 20, &EvalOptions::default()) {
                    Ok(Value::Vector(v)) => v.first().map(|x| x.1),
                    _ => None,
                };
                u.push(t + 20, rate, Some(w as f64), 1.0)
            })
            .collect()
    }

    #[test]
    fn a_burst_read_through_a_short_rate_is_read_at_its_level_not_above() {
        // 15 req/s, then 39 from second 30 on, read as Prometheus reads `rate(jobs[5s])`:
        // five samples, four seconds between the first and the last. Differenced as if the
        // rate counted five, the step's change came out 5/4 of itself: 45 req/s.
        let c: Vec<f64> = (0..60).map(|i| if i < 30 { 15.0 } else { 39.0 }).collect();
        let u = through_rate(&c, 5);
        // Two seconds in, the burst's level, for as long as the span and a half; then a
        // wobble within half the step, gone 2.5 spans after it.
        for (i, v) in u.iter().enumerate().skip(32) {
            let v = v.unwrap();
            let off = (v - 39.0).abs();
            match i {
                32..=36 | 41.. => assert!(off < 0.5, "second {i}: {v}"),
                37..=40 => assert!(off <= 12.0, "second {i}: {v}"),
                _ => {}
            }
        }
    }

    #[test]
    fn a_wall_shows_within_a_few_seconds_not_a_window_later() {
        // 15 req/s, then 40 from second 30 on, read through a 10 s rate.
        let c: Vec<f64> = (0..70).map(|i| if i < 30 { 15.0 } else { 40.0 }).collect();
        let u = feed(&c, 10);
        // Three seconds into the wall, the throughput now is the wall's, while the rate over
        // 10 s is still under 27, and it stays so for 1.5 spans (nine seconds between the
        // window's first sample and its last); the wobble after that stays within half the
        // step, and is gone 2.5 spans after the step.
        for (i, v) in u.iter().enumerate().skip(32).take(12) {
            assert!((v.unwrap() - 40.0).abs() < 0.5, "second {i}: {v:?}");
        }
        for (i, v) in u.iter().enumerate().skip(32) {
            assert!((v.unwrap() - 40.0).abs() <= 12.5, "second {i}: {v:?}");
        }
        for (i, v) in u.iter().enumerate().skip(53) {
            assert!((v.unwrap() - 40.0).abs() < 0.5, "second {i}: {v:?}");
        }
    }

    #[test]
    fn a_ramp_is_read_as_it_is_now_and_noise_does_not_add_up_over_a_long_run() {
        // 5 → 65 req/s over 60 s, then an hour at 65, each rate read with ±1% noise.
        let mut rng = 0x9E3779B97F4A7C15u64;
        let mut noise = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            1.0 + 0.01 * ((rng % 2001) as f64 / 1000.0 - 1.0)
        };
        let c = |t: f64| 5.0 + t.min(60.0);
        let mut u = Unwindow::default();
        for i in 10..3_660usize {
            // A rate over 10 s of a linear ramp (nine seconds between its first sample and
            // its last) is its value 4.5 s ago.
            let t = i as f64;
            let rate = c(t - 4.5) * noise();
            let got = u.push(i as TimeMs * 1000, Some(rate), Some(10.0), 1.0);
            if let Some(got) = got.filter(|_| i >= 20) {
                // Throughput over the last 3 s is that of 1.5 s ago; 10/3 × two differences
                // of readings 1% noisy stay within ±15%, and no worse an hour on.
                let want = c(t - 1.5);
                assert!(
                    (got - want).abs() <= 0.15 * want,
                    "second {i}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn too_few_samples_in_a_window_give_nothing() {
        let mut u = Unwindow::default();
        let got: Vec<_> = (0..20)
            .map(|i| u.push(i * 15_000, Some(10.0), Some(45.0), 15.0))
            .collect();
        assert!(got.iter().all(Option::is_none), "{got:?}");
    }
}
