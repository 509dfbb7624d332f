//! What a rate window over samples some seconds apart can tell.

/// A rate is differenced into the count of its last seconds (the detector's throughput now)
/// only when its window holds at least this many samples: with fewer (a Prometheus server
/// scraping every 15 s behind a 45 s rate), it is a staircase extrapolated to its window's
/// edges, and its differences say nothing about seconds.
pub const MIN_SAMPLES_PER_WINDOW: f64 = 4.0;

/// The window (whole seconds) the detector differentiates over for samples `sample_s` apart:
/// three sample intervals (so a window always holds two or three samples, as Grafana's rate
/// interval does), never under 10 s (shorter windows at 1 s scrapes only add noise). Whole
/// seconds: a measured interval jitters by milliseconds, and the query sent should not.
pub fn fast_window_s(sample_s: f64) -> f64 {
    (sample_s * 3.0).round().max(10.0)
}

/// True when a rate over `window_s` of samples `sample_s` apart holds enough of them to be
/// differenced (see `MIN_SAMPLES_PER_WINDOW`).
pub fn rebuildable(window_s: Option<f64>, sample_s: f64) -> bool {
    window_s.is_some_and(|w| sample_s > 0.0 && w >= MIN_SAMPLES_PER_WINDOW * sample_s)
}

/// The seconds a rate over `window_s` of samples `sample_s` apart counts over: the span from
/// its first sample in the window to its last, one interval short of the window (Prometheus
/// extrapolates the increase to the window's edges and divides by the window, which comes to
/// the increase over that span divided by the span). Differencing such rates as if they
/// counted the whole window overshoots every change by window ÷ span (a quarter for 1 s
/// samples behind a 5 s rate).
pub fn rate_span_s(window_s: f64, sample_s: f64) -> f64 {
    if sample_s > 0.0 && window_s > sample_s {
        window_s - sample_s
    } else {
        window_s
    }
}
