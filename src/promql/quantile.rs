//! `histogram_quantile` over classic buckets, exactly as Prometheus's `bucketQuantile`.

/// `buckets`: (upper bound, cumulative count), any order.
pub fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Merge buckets with the same bound (e.g. "1" and "1.0" from two exporters).
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == b.0 => last.1 += b.1,
            _ => merged.push(b),
        }
    }
    // Counts must not fall with the bound; tiny float noise is ironed out, as Prometheus does.
    let mut max = f64::NEG_INFINITY;
    for b in merged.iter_mut() {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let total = merged[merged.len() - 1].1;
    if total == 0.0 || total.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * total;
    let n = merged.len();
    let b = merged[..n - 1]
        .iter()
        .position(|x| x.1 >= rank)
        .unwrap_or(n - 1);
    if b == n - 1 {
        return merged[n - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

#[cfg(test)]
mod tests {
    use super::*;
    const INF: f64 = f64::INFINITY;

    #[test]
    fn reference_cases() {
        let h = vec![(0.1, 1.0), (0.5, 3.0), (1.0, 6.0), (INF, 8.0)];
        assert!((bucket_quantile(0.5, h.clone()) - 0.666_666_666_7).abs() < 1e-9);
        assert_eq!(bucket_quantile(0.95, h.clone()), 1.0);
        let e = vec![(0.1, 0.0), (1.0, 2.0), (INF, 2.0)];
        assert!((bucket_quantile(0.25, e.clone()) - 0.325).abs() < 1e-12);
        assert!(bucket_quantile(0.0, e).is_nan());
        assert!(bucket_quantile(0.5, vec![(0.1, 0.0), (INF, 0.0)]).is_nan());
        assert!(
            bucket_quantile(0.5, vec![(0.1, 1.0), (1.0, 2.0)]).is_nan(),
            "no +Inf bucket"
        );
        assert!(
            bucket_quantile(0.5, vec![(INF, 3.0)]).is_nan(),
            "one bucket"
        );
        assert_eq!(bucket_quantile(-1.0, h.clone()), f64::NEG_INFINITY);
        assert_eq!(bucket_quantile(2.0, h.clone()), INF);
        assert!(bucket_quantile(f64::NAN, h).is_nan());
        // Unsorted, duplicated bounds and a non-monotonic count.
        let messy = vec![(INF, 10.0), (1.0, 4.0), (0.5, 6.0), (1.0, 1.0)];
        // Merged and made monotonic: (0.5, 6), (1, 6), (+Inf, 10); rank 5 falls in the first bucket.
        assert!((bucket_quantile(0.5, messy) - 0.5 * 5.0 / 6.0).abs() < 1e-12);
    }
}
