//! Order statistics shared by the k6 JSON source (client percentiles) and the report.

/// k6's own trend percentile: linear interpolation between the closest ranks of the sorted
/// values (`i = p·(n−1)`), so slitop's p95 equals the one k6 prints for the same requests.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let i = p * (n as f64 - 1.0);
            let (lo, hi) = (sorted[i.floor() as usize], sorted[i.ceil() as usize]);
            lo + (hi - lo) * (i - i.floor())
        }
    }
}
