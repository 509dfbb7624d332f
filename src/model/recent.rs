//! The client's latency over its last few seconds. A source that reports the client's figures
//! over a display window (k6's, 30 s by default) reports its mean as of half a window ago:
//! through a queue that grows a step past the wall, requests in flight by Little's law
//! (rate × mean latency) read 15 s late. The detector reads the mean of the newest requests
//! instead, as few as hold a steady mean, from a companion family of each windowed one.

use super::TimeMs;

/// The recent figures cover at least this much time (a few refreshes)…
pub const RECENT_MIN_MS: TimeMs = 3_000;
/// …and at least this many requests for a mean where the window holds them: at a few
/// requests per second, the seconds it takes (a mean of 50 exponential latencies is within
/// 15% of its own)…
pub const RECENT_REQUESTS: usize = 50;
/// …and this many for a percentile (a p95 is then the tenth slowest).
pub const RECENT_QUANTILE_REQUESTS: usize = 200;

/// Each windowed family of the client's latency, with its recent companion.
const RECENT_FAMILIES: [(&str, &str); 3] = [
    (
        "k6_client_duration_mean_seconds",
        "k6_client_recent_duration_mean_seconds",
    ),
    (
        "k6_api_duration_mean_seconds",
        "k6_api_recent_duration_mean_seconds",
    ),
    (
        "k6_client_duration_seconds",
        "k6_client_recent_duration_seconds",
    ),
];

/// The recent companion of a windowed family, if it has one.
pub fn recent_family(name: &str) -> Option<&'static str> {
    RECENT_FAMILIES
        .iter()
        .find(|(windowed, _)| *windowed == name)
        .map(|(_, recent)| *recent)
}

/// The requests ending by `now`, newest first. `points` are (end, value) in any order.
pub fn newest_first(
    points: impl Iterator<Item = (TimeMs, f64)>,
    now: TimeMs,
) -> Vec<(TimeMs, f64)> {
    let mut newest: Vec<(TimeMs, f64)> = points.filter(|p| p.0 <= now).collect();
    newest.sort_by_key(|p| std::cmp::Reverse(p.0));
    newest
}

/// Of requests newest first (see `newest_first`), the newest: those of the last
/// `RECENT_MIN_MS`, and older ones until `count` are in.
pub fn newest_of(newest: &[(TimeMs, f64)], now: TimeMs, count: usize) -> &[(TimeMs, f64)] {
    let keep = newest
        .iter()
        .enumerate()
        .take_while(|(n, (t, _))| *n < count || *t > now - RECENT_MIN_MS)
        .count();
    &newest[..keep]
}

/// The mean of the values of requests newest first (see `newest_first`): those
/// `newest_of` takes for a mean (`RECENT_REQUESTS`).
pub fn mean_of_newest(newest: &[(TimeMs, f64)], now: TimeMs) -> Option<f64> {
    let v = newest_of(newest, now, RECENT_REQUESTS);
    (!v.is_empty()).then(|| v.iter().map(|p| p.1).sum::<f64>() / v.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recent_mean(points: impl Iterator<Item = (TimeMs, f64)>, now: TimeMs) -> Option<f64> {
        mean_of_newest(&newest_first(points, now), now)
    }

    #[test]
    fn the_recent_mean_takes_the_last_seconds_or_enough_requests() {
        // 100 requests a second for 10 s, each second's latency its own number of ms.
        let busy = (0..1000).map(|i| (i * 10, (i / 100) as f64));
        // The last 3 s: seconds 7, 8 and 9 (a point at 7 000 ms is in the third from the end).
        let m = recent_mean(busy, 9_990).unwrap();
        assert!((m - 8.0).abs() < 0.05, "{m}");
        // 5 requests a second: the newest 50 reach 10 s back.
        let sparse = (0..100).map(|i| (i * 200, (i / 5) as f64));
        let m = recent_mean(sparse.clone(), 19_800).unwrap();
        assert!((m - 14.5).abs() < 1e-9, "{m}");
        // Points stamped after `now` wait for their turn.
        assert_eq!(recent_mean(sparse.clone(), -1), None);
        // A percentile's 200 reach 40 s back: all 100.
        let newest = newest_first(sparse, 19_800);
        assert_eq!(
            newest_of(&newest, 19_800, RECENT_QUANTILE_REQUESTS).len(),
            100
        );
    }

    #[test]
    fn only_the_windowed_means_have_companions() {
        assert_eq!(
            recent_family("k6_api_duration_mean_seconds"),
            Some("k6_api_recent_duration_mean_seconds")
        );
        assert_eq!(recent_family("k6_client_duration_max_seconds"), None);
    }
}
