//! Noise-robust statistics for the detector: medians and Theil–Sen slopes. A single outlier
//! (a slow scrape, a GC pause) moves neither.

/// Median of the finite values; None when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    // Selection, not a sort: a plateau held for hours is thousands of values.
    let n = v.len();
    let (below, mid, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let hi = *mid;
    Some(if n % 2 == 1 {
        hi
    } else {
        (below.iter().copied().fold(f64::NEG_INFINITY, f64::max) + hi) / 2.0
    })
}

/// The `q` quantile (0..=1, nearest rank) of the finite values; None when there are none.
pub fn quantile(values: impl IntoIterator<Item = f64>, q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let k = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    let (_, at, _) = v.select_nth_unstable_by(k, f64::total_cmp);
    Some(*at)
}

/// Theil–Sen slope (median of pairwise slopes) of `(t seconds, value)` points, per second.
/// Needs at least three finite points spanning some time.
pub fn theil_sen(points: &[(f64, f64)]) -> Option<f64> {
    let p: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(t, v)| t.is_finite() && v.is_finite())
        .collect();
    if p.len() < 3 {
        return None;
    }
    let mut slopes = Vec::with_capacity(p.len() * (p.len() - 1) / 2);
    for i in 0..p.len() {
        for j in i + 1..p.len() {
            let dt = p[j].0 - p[i].0;
            if dt > 0.0 {
                slopes.push((p[j].1 - p[i].1) / dt);
            }
        }
    }
    median(slopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_ignores_nan_and_handles_even_counts() {
        assert_eq!(median([3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median([f64::NAN]), None);
    }

    #[test]
    fn quantile_is_the_nearest_rank() {
        let v = (1..=9).map(f64::from);
        assert_eq!(quantile(v.clone(), 0.25), Some(3.0));
        assert_eq!(quantile(v.clone(), 0.0), Some(1.0));
        assert_eq!(quantile(v, 1.0), Some(9.0));
        assert_eq!(quantile([f64::NAN], 0.5), None);
    }

    #[test]
    fn theil_sen_resists_an_outlier() {
        let mut p: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        p[10].1 = 1000.0;
        let s = theil_sen(&p).unwrap();
        assert!((s - 2.0).abs() < 1e-9, "{s}");
        assert_eq!(theil_sen(&p[..2]), None);
    }
}
