//! What a rate window over samples some seconds apart can tell.

/// A rate is differenced into the count of its last seconds (the detector's throughput now)
/// only when its window holds at least this many samples: with fewer (a Prometheus server
/// scraping every 15 s behind a 45 s rate), it is a staircase extrapolated to its window's
/// edges, and its differences say nothing about seconds.
pub const MIN_SAMPLES_PER_WINDOW: f64 = 4.0;

/// True when a rate over `window_s` of samples `sample_s` apart holds enough of them to be
/// differenced (see `MIN_SAMPLES_PER_WINDOW`).
pub fn rebuildable(window_s: Option<f64>, sample_s: f64) -> bool {
    window_s.is_some_and(|w| sample_s > 0.0 && w >= MIN_SAMPLES_PER_WINDOW * sample_s)
}
