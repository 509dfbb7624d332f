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
    fn theil_sen_resists_an_outlier() {
        let mut p: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        p[10].1 = 1000.0;
        let s = theil_sen(&p).unwrap();
        assert!((s - 2.0).abs() < 1e-9, "{s}");
        assert_eq!(theil_sen(&p[..2]), None);
    }
}
