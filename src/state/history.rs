//! The one history of signal values: per refresh, each signal's value as the screen shows it
//! (the sum over its label sets; NaN when it had none). The screen's charts, the report's
//! statistics and its triage all read it.
//!
//! Bound: at most `MAX_TICKS` refreshes. Past that the older half is thinned to every second
//! refresh, so recent data stays dense: a run at 1 s reaches the bound after 5.6 hours and
//! stays there however long it goes on (8 bytes per signal each: 20 signals ≈ 3 MB).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::TimeMs;

pub const MAX_TICKS: usize = 20_000;

#[derive(Clone, Debug, Default)]
pub struct History {
    ticks: Vec<TimeMs>,
    values: BTreeMap<String, Vec<f64>>,
    /// Signals that have had a finite value at some refresh.
    with_data: BTreeSet<String>,
}

/// The sum of the finite values, NaN when there are none.
pub fn sum_finite(vals: impl Iterator<Item = f64>) -> f64 {
    let mut any = false;
    let mut s = 0.0;
    for v in vals.filter(|v| v.is_finite()) {
        any = true;
        s += v;
    }
    if any {
        s
    } else {
        f64::NAN
    }
}

pub use crate::model::thin_front;

impl History {
    /// Takes in one refresh: `(signal, value)` for every signal.
    pub fn push<'a>(&mut self, t: TimeMs, values: impl Iterator<Item = (&'a str, f64)>) {
        self.ticks.push(t);
        let n = self.ticks.len();
        for (name, v) in values {
            if v.is_finite() && !self.with_data.contains(name) {
                self.with_data.insert(name.to_string());
            }
            let col = match self.values.get_mut(name) {
                Some(c) => c,
                None => self.values.entry(name.to_string()).or_default(),
            };
            // A signal first seen late gets NaN for the refreshes before it.
            col.resize(n - 1, f64::NAN);
            col.push(v);
        }
        if n > MAX_TICKS {
            let half = n / 2;
            thin_front(&mut self.ticks, half);
            for col in self.values.values_mut() {
                col.resize(n, f64::NAN);
                thin_front(col, half);
            }
        }
    }

    pub fn ticks(&self) -> &[TimeMs] {
        &self.ticks
    }

    /// A signal's value at every refresh (aligned with `ticks`; shorter when it stopped).
    pub fn column(&self, signal: &str) -> Option<&[f64]> {
        self.values.get(signal).map(Vec::as_slice)
    }

    /// Whether the signal ever had a value.
    pub fn has_data(&self, signal: &str) -> bool {
        self.with_data.contains(signal)
    }

    /// Index of the last refresh at or before `t`.
    pub fn index_at(&self, t: TimeMs) -> Option<usize> {
        self.ticks.partition_point(|x| *x <= t).checked_sub(1)
    }

    /// A signal's value at the last refresh at or before `t`.
    pub fn value_at(&self, signal: &str, t: TimeMs) -> Option<f64> {
        let i = self.index_at(t)?;
        self.values
            .get(signal)?
            .get(i)
            .copied()
            .filter(|v| !v.is_nan())
    }

    /// (time, value) of a signal's finite values over [from, to].
    pub fn range(&self, signal: &str, from: TimeMs, to: TimeMs) -> Vec<(TimeMs, f64)> {
        let Some(col) = self.values.get(signal) else {
            return Vec::new();
        };
        let a = self.ticks.partition_point(|x| *x < from);
        let b = self.ticks.partition_point(|x| *x <= to);
        (a..b)
            .filter_map(|i| Some((self.ticks[i], *col.get(i)?)))
            .filter(|(_, v)| v.is_finite())
            .collect()
    }

    /// The first refresh at or before `to` when a signal's value met `pred`: scanned from
    /// the start without collecting the column.
    pub fn first_where(
        &self,
        signal: &str,
        to: TimeMs,
        pred: impl Fn(f64) -> bool,
    ) -> Option<(TimeMs, f64)> {
        let col = self.values.get(signal)?;
        let b = self.ticks.partition_point(|x| *x <= to);
        (0..b.min(col.len()))
            .map(|i| (self.ticks[i], col[i]))
            .find(|(_, v)| v.is_finite() && pred(*v))
    }

    /// Every finite value a signal took.
    pub fn finite(&self, signal: &str) -> impl Iterator<Item = f64> + '_ {
        self.values
            .get(signal)
            .into_iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_looked_up_at_or_before_a_time() {
        let mut h = History::default();
        h.push(1000, [("x", 1.0)].into_iter());
        h.push(2000, [("x", f64::NAN)].into_iter());
        h.push(3000, [("x", 3.0), ("y", 4.0)].into_iter());
        assert_eq!(h.value_at("x", 999), None);
        assert_eq!(h.value_at("x", 1500), Some(1.0));
        assert_eq!(h.value_at("x", 2000), None);
        assert_eq!(h.value_at("x", 3000), Some(3.0));
        let y = h.column("y").unwrap();
        assert!(y.len() == 3 && y[0].is_nan() && y[1].is_nan() && y[2] == 4.0);
        assert_eq!(h.value_at("y", 2500), None);
        assert_eq!(h.range("x", 0, 5000), vec![(1000, 1.0), (3000, 3.0)]);
        assert!(h.has_data("y") && !h.has_data("z"));
    }

    #[test]
    fn a_day_at_one_refresh_a_second_stays_bounded_and_recent_data_dense() {
        let mut h = History::default();
        for i in 0..86_400i64 {
            h.push(i * 1000, [("a", i as f64), ("b", 1.0)].into_iter());
        }
        assert!(h.ticks().len() <= MAX_TICKS, "{}", h.ticks().len());
        assert_eq!(h.column("a").unwrap().len(), h.ticks().len());
        // The last refreshes are all there; the first hours are thinned, never dropped.
        let t = h.ticks();
        assert_eq!(t[t.len() - 1], 86_399_000);
        assert_eq!(t[t.len() - 2], 86_398_000);
        assert_eq!(t[0], 0);
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        // Values stay attached to their times.
        for (i, &at) in t.iter().enumerate() {
            assert_eq!(h.column("a").unwrap()[i], (at / 1000) as f64);
        }
    }
}
