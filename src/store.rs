//! Bounded in-memory time series: one two-tier ring buffer per series.
//!
//! Memory bound (documented in README): each series keeps at most `raw_points` samples at full
//! resolution plus `coarse_points` older samples downsampled to one per `coarse_step` (the last
//! sample of each step wins, which keeps counters' rate() correct across the fold). With the
//! defaults (1,800 raw + 4,320 coarse at 10 s) a series costs at most ~98 KiB, and the store keeps
//! at most `max_series` series (default 20,000), and one source at most `max_series_per_source`
//! (10,000): a big `/metrics` cannot starve Valkey's and k6's series. Further new series are
//! refused and counted per source.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::model::{Labels, Sample, TimeMs};

#[derive(Clone, Debug)]
pub struct StoreLimits {
    pub raw_points: usize,
    pub coarse_points: usize,
    pub coarse_step_ms: TimeMs,
    pub max_series: usize,
    /// The most series one source may hold, so that it cannot fill the store alone.
    pub max_series_per_source: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            raw_points: 1_800,
            coarse_points: 4_320,
            coarse_step_ms: 10_000,
            max_series: 20_000,
            max_series_per_source: 10_000,
        }
    }
}

/// One series: recent points at full resolution, older ones downsampled.
#[derive(Clone, Debug, Default)]
pub struct Series {
    coarse: VecDeque<(TimeMs, f64)>,
    raw: VecDeque<(TimeMs, f64)>,
    /// Its labels without the metric name, made once: every `rate()` over it returns them.
    unnamed: Labels,
}

impl Series {
    fn new(labels: &Labels) -> Self {
        Self {
            unnamed: labels.without_name(),
            ..Self::default()
        }
    }

    /// The series' labels without `__name__` (shared, so a clone costs a count).
    pub fn unnamed(&self) -> &Labels {
        &self.unnamed
    }

    fn push(&mut self, t: TimeMs, v: f64, lim: &StoreLimits) {
        // Out-of-order or duplicate timestamps are dropped, as Prometheus does.
        if let Some(&(last_t, _)) = self.raw.back().or(self.coarse.back()) {
            if t <= last_t {
                return;
            }
        }
        // Each tier is allocated once at its bound, not grown by doubling: a day-long run
        // then holds the same memory from its first half hour on, and leaves no freed
        // blocks behind for every later allocation to search through.
        if self.raw.capacity() == 0 {
            self.raw.reserve_exact(lim.raw_points + 1);
        }
        self.raw.push_back((t, v));
        if self.raw.len() > lim.raw_points && self.coarse.capacity() == 0 {
            self.coarse.reserve_exact(lim.coarse_points + 1);
        }
        while self.raw.len() > lim.raw_points {
            let (ot, ov) = self.raw.pop_front().expect("non-empty");
            let bucket = ot.div_euclid(lim.coarse_step_ms.max(1));
            match self.coarse.back_mut() {
                Some(last) if last.0.div_euclid(lim.coarse_step_ms.max(1)) == bucket => {
                    *last = (ot, ov)
                }
                _ => self.coarse.push_back((ot, ov)),
            }
            while self.coarse.len() > lim.coarse_points {
                self.coarse.pop_front();
            }
        }
    }

    /// Points with `start < t <= end`, oldest first. Found by bisection (times only grow):
    /// a window's cost is its own points, not the hours the series holds.
    pub fn range(&self, start: TimeMs, end: TimeMs) -> impl Iterator<Item = (TimeMs, f64)> + '_ {
        let span = |q: &VecDeque<(TimeMs, f64)>| {
            let from = q.partition_point(|p| p.0 <= start);
            // Nearly every window ends at the newest point or after it: no second search.
            let to = match q.back() {
                Some(b) if b.0 <= end => q.len(),
                _ => q.partition_point(|p| p.0 <= end),
            };
            from..to.max(from)
        };
        self.coarse
            .range(span(&self.coarse))
            .chain(self.raw.range(span(&self.raw)))
            .copied()
    }

    /// Latest point with `t <= at`.
    pub fn last_at(&self, at: TimeMs) -> Option<(TimeMs, f64)> {
        let before = |q: &VecDeque<(TimeMs, f64)>| {
            let i = q.partition_point(|p| p.0 <= at);
            i.checked_sub(1).map(|i| q[i])
        };
        before(&self.raw).or_else(|| before(&self.coarse))
    }

    pub fn last(&self) -> Option<(TimeMs, f64)> {
        self.raw.back().or(self.coarse.back()).copied()
    }

    pub fn len(&self) -> usize {
        self.raw.len() + self.coarse.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// All series, indexed by metric name first because nearly every selector names one.
#[derive(Debug, Default)]
pub struct Store {
    by_name: HashMap<String, HashMap<Labels, Series>>,
    limits: StoreLimits,
    count: usize,
    /// New series refused because `max_series` was reached.
    pub refused_series: u64,
    /// Series held per source, and new series refused per source (either cap).
    per_source: BTreeMap<String, usize>,
    pub refused_by_source: BTreeMap<String, u64>,
}

impl Store {
    pub fn new(limits: StoreLimits) -> Self {
        Self {
            limits,
            ..Default::default()
        }
    }

    pub fn limits(&self) -> &StoreLimits {
        &self.limits
    }

    /// A point of a series no particular source owns (stale markers of known series).
    pub fn push(&mut self, labels: &Labels, t: TimeMs, v: f64) {
        self.push_from("", labels, t, v);
    }

    /// A point from `source`: a new series counts against the store's cap and the source's.
    pub fn push_from(&mut self, source: &str, labels: &Labels, t: TimeMs, v: f64) {
        let name = labels.name().unwrap_or("");
        if let Some(s) = self.by_name.get_mut(name).and_then(|f| f.get_mut(labels)) {
            s.push(t, v, &self.limits);
            return;
        }
        // Checked before anything is allocated for the new series or its name.
        let held = self.per_source.get(source).copied().unwrap_or(0);
        if self.count >= self.limits.max_series || held >= self.limits.max_series_per_source {
            self.refused_series += 1;
            *self
                .refused_by_source
                .entry(source.to_string())
                .or_default() += 1;
            return;
        }
        self.count += 1;
        *self.per_source.entry(source.to_string()).or_default() += 1;
        self.by_name
            .entry(name.to_string())
            .or_default()
            .entry(labels.clone())
            .or_insert_with(|| Series::new(labels))
            .push(t, v, &self.limits);
    }

    pub fn push_samples(&mut self, samples: &[Sample]) {
        self.push_samples_from("", samples);
    }

    pub fn push_samples_from(&mut self, source: &str, samples: &[Sample]) {
        for s in samples {
            self.push_from(source, &s.labels, s.t, s.value);
        }
    }

    pub fn get(&self, labels: &Labels) -> Option<&Series> {
        self.by_name.get(labels.name().unwrap_or(""))?.get(labels)
    }

    /// Series whose metric name is `name`.
    pub fn family(&self, name: &str) -> impl Iterator<Item = (&Labels, &Series)> {
        self.by_name.get(name).into_iter().flat_map(|m| m.iter())
    }

    /// Every series (for selectors without a metric name).
    pub fn all(&self) -> impl Iterator<Item = (&Labels, &Series)> {
        self.by_name.values().flat_map(|m| m.iter())
    }

    pub fn series_count(&self) -> usize {
        self.count
    }

    pub fn point_count(&self) -> usize {
        self.all().map(|(_, s)| s.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> StoreLimits {
        StoreLimits {
            raw_points: 10,
            coarse_points: 5,
            coarse_step_ms: 10_000,
            max_series: 2,
            max_series_per_source: 2,
        }
    }

    #[test]
    fn windows_found_by_bisection_are_the_points_a_scan_finds() {
        let mut st = Store::new(lim());
        let l = Labels::named("x");
        for i in 0..60 {
            st.push(&l, i * 1000 + (i % 7) * 130, i as f64);
        }
        let s = st.get(&l).unwrap();
        let all: Vec<_> = s.coarse.iter().chain(s.raw.iter()).copied().collect();
        for start in (-2_000..64_000).step_by(250) {
            for len in [0, 500, 1_000, 5_000, 20_000, 70_000] {
                let end = start + len;
                let scan: Vec<_> = all
                    .iter()
                    .copied()
                    .filter(|p| p.0 > start && p.0 <= end)
                    .collect();
                assert_eq!(
                    s.range(start, end).collect::<Vec<_>>(),
                    scan,
                    "({start}, {end}]"
                );
            }
            let last = all.iter().rev().find(|p| p.0 <= start).copied();
            assert_eq!(s.last_at(start), last, "at {start}");
        }
    }

    #[test]
    fn ring_is_bounded_and_downsamples_old_points() {
        let mut st = Store::new(lim());
        let l = Labels::named("x");
        for i in 0..1000 {
            st.push(&l, i * 1000, i as f64);
        }
        let s = st.get(&l).unwrap();
        assert_eq!(s.len(), 15);
        // Newest raw point is the last one pushed; coarse points are one per 10 s step.
        assert_eq!(s.last(), Some((999_000, 999.0)));
        let pts: Vec<_> = s.range(i64::MIN, i64::MAX).collect();
        let coarse: Vec<_> = pts[..5].iter().map(|p| p.0).collect();
        assert_eq!(coarse, vec![949_000, 959_000, 969_000, 979_000, 989_000]);
    }

    #[test]
    fn range_is_left_open_right_closed_and_drops_out_of_order() {
        let mut st = Store::new(lim());
        let l = Labels::named("x");
        for t in [1000, 2000, 3000, 2500, 3000, 4000] {
            st.push(&l, t, t as f64);
        }
        let s = st.get(&l).unwrap();
        let got: Vec<_> = s.range(1000, 3000).map(|p| p.0).collect();
        assert_eq!(got, vec![2000, 3000]);
        assert_eq!(s.last_at(3500), Some((3000, 3000.0)));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn series_cap_refuses_new_series() {
        let mut st = Store::new(lim());
        for n in ["a", "b", "c"] {
            st.push(&Labels::named(n), 1, 1.0);
        }
        assert_eq!(st.series_count(), 2);
        assert_eq!(st.refused_series, 1);
        assert!(st.get(&Labels::named("c")).is_none());
    }

    #[test]
    fn one_source_cannot_fill_the_store_alone() {
        let mut st = Store::new(StoreLimits {
            max_series: 4,
            max_series_per_source: 2,
            ..lim()
        });
        for n in ["a", "b", "c", "d"] {
            st.push_from("scrape", &Labels::named(n), 1, 1.0);
        }
        st.push_from("valkey", &Labels::named("v"), 1, 1.0);
        assert!(
            st.get(&Labels::named("v")).is_some(),
            "valkey still has room"
        );
        assert_eq!(st.refused_by_source.get("scrape"), Some(&2));
        assert_eq!(st.refused_by_source.get("valkey"), None);
        // A series already held keeps taking points.
        st.push_from("scrape", &Labels::named("a"), 2, 2.0);
        assert_eq!(st.get(&Labels::named("a")).unwrap().last(), Some((2, 2.0)));
    }
}
