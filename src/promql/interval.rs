//! A signal's query re-aimed at one interval: every range selector's window becomes the
//! interval's length, and a `histogram_quantile`'s φ may be swapped. Evaluated at the
//! interval's end this is what Prometheus answers for "over that interval" (a rate over the
//! whole plateau, a quantile of the buckets' increases across it).

use std::time::Duration;

use promql_parser::parser::{Expr, NumberLiteral};

use super::{compile, LocalQuery, PromqlError};

fn rewrite(e: &mut Expr, range: Duration, quantile: Option<f64>) {
    match e {
        Expr::MatrixSelector(m) => m.range = range,
        Expr::Aggregate(a) => {
            rewrite(&mut a.expr, range, quantile);
            if let Some(p) = a.param.as_mut() {
                rewrite(p, range, quantile);
            }
        }
        Expr::Unary(u) => rewrite(&mut u.expr, range, quantile),
        Expr::Binary(b) => {
            rewrite(&mut b.lhs, range, quantile);
            rewrite(&mut b.rhs, range, quantile);
        }
        Expr::Paren(p) => rewrite(&mut p.expr, range, quantile),
        Expr::Subquery(s) => rewrite(&mut s.expr, range, quantile),
        Expr::Call(c) => {
            if c.func.name == "histogram_quantile" {
                if let (Some(q), Some(first)) = (quantile, c.args.args.first_mut()) {
                    **first = Expr::NumberLiteral(NumberLiteral::new(q));
                }
            }
            for a in c.args.args.iter_mut() {
                rewrite(a, range, quantile);
            }
        }
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::Extension(_) => {}
    }
}

/// Shortens every range longer than `range` to `range`; shorter ones stay as the user wrote them.
fn shorten(e: &mut Expr, range: Duration, changed: &mut bool) {
    match e {
        Expr::MatrixSelector(m) if m.range > range => {
            m.range = range;
            *changed = true;
        }
        Expr::Aggregate(a) => {
            shorten(&mut a.expr, range, changed);
            if let Some(p) = a.param.as_mut() {
                shorten(p, range, changed);
            }
        }
        Expr::Unary(u) => shorten(&mut u.expr, range, changed),
        Expr::Binary(b) => {
            shorten(&mut b.lhs, range, changed);
            shorten(&mut b.rhs, range, changed);
        }
        Expr::Paren(p) => shorten(&mut p.expr, range, changed),
        Expr::Call(c) => c
            .args
            .args
            .iter_mut()
            .for_each(|a| shorten(a, range, changed)),
        _ => {}
    }
}

/// The detector's fast view of a query: its ranges cut to `range` (a few sample intervals)
/// so a rate follows the load instead of averaging the display's minute. `None` when no
/// range is longer (the query is already fast, or reads no range).
pub fn fitted(text: &str, range: Duration) -> Result<Option<String>, PromqlError> {
    let mut expr = super::parse::parse(text)?;
    let mut changed = false;
    shorten(&mut expr, range.max(Duration::from_millis(1)), &mut changed);
    Ok(changed.then(|| expr.to_string()))
}

/// The query over the last sample interval alone: every `rate` becomes an `irate`, the
/// per-second increase between a series' last two samples. With samples seconds apart (a
/// Prometheus server scraping every 15 s) it is the newest figure the data holds, where a
/// rate over a few intervals still averages the time before a wall. `None` when the query
/// reads a range through anything but `rate`/`irate` (an `increase` or `deriv` has no such
/// form) or reads no range at all.
pub fn last_interval(text: &str) -> Option<String> {
    /// Rewrites in place; false when a range is read through another function.
    fn walk(e: &mut Expr, rates: &mut usize) -> bool {
        match e {
            Expr::Call(c) => {
                let reads_range = c
                    .args
                    .args
                    .iter()
                    .any(|a| matches!(**a, Expr::MatrixSelector(_)));
                if reads_range {
                    match c.func.name {
                        "rate" | "irate" => {
                            c.func.name = "irate";
                            *rates += 1;
                        }
                        _ => return false,
                    }
                }
                c.args.args.iter_mut().all(|a| walk(a, rates))
            }
            Expr::Aggregate(a) => {
                walk(&mut a.expr, rates) && a.param.as_mut().is_none_or(|p| walk(p, rates))
            }
            Expr::Unary(u) => walk(&mut u.expr, rates),
            Expr::Binary(b) => walk(&mut b.lhs, rates) && walk(&mut b.rhs, rates),
            Expr::Paren(p) => walk(&mut p.expr, rates),
            // A subquery has no per-interval form.
            Expr::Subquery(_) => false,
            Expr::MatrixSelector(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::Extension(_) => true,
        }
    }
    let mut expr = super::parse::parse(text).ok()?;
    let mut rates = 0;
    (walk(&mut expr, &mut rates) && rates > 0).then(|| expr.to_string())
}

/// The window the detector differentiates over for samples `interval` apart
/// (`model::sampling::fast_window_s`: `[12s]`, not `[12s9ms]`).
pub fn fast_window(interval: Duration) -> Duration {
    Duration::from_secs(crate::model::sampling::fast_window_s(interval.as_secs_f64()) as u64)
}

/// The query with each windowed family of the client's latency read from its recent
/// companion (see `model::recent`). `None` when it reads none.
pub fn recent(text: &str) -> Option<String> {
    fn walk(e: &mut Expr, changed: &mut bool) {
        let mut rename = |vs: &mut promql_parser::parser::VectorSelector| {
            let recent = vs
                .name
                .as_deref()
                .and_then(crate::model::recent::recent_family);
            if let Some(r) = recent {
                vs.name = Some(r.to_string());
                *changed = true;
            }
        };
        match e {
            Expr::VectorSelector(vs) => rename(vs),
            Expr::MatrixSelector(m) => rename(&mut m.vs),
            Expr::Aggregate(a) => walk(&mut a.expr, changed),
            Expr::Unary(u) => walk(&mut u.expr, changed),
            Expr::Binary(b) => {
                walk(&mut b.lhs, changed);
                walk(&mut b.rhs, changed);
            }
            Expr::Paren(p) => walk(&mut p.expr, changed),
            Expr::Call(c) => c.args.args.iter_mut().for_each(|a| walk(a, changed)),
            _ => {}
        }
    }
    let mut expr = super::parse::parse(text).ok()?;
    let mut changed = false;
    walk(&mut expr, &mut changed);
    changed.then(|| expr.to_string())
}

/// Calls `f` on every range selector of a query that parses.
fn each_range(text: &str, f: &mut impl FnMut(&promql_parser::parser::MatrixSelector)) {
    fn walk(e: &Expr, f: &mut impl FnMut(&promql_parser::parser::MatrixSelector)) {
        match e {
            Expr::MatrixSelector(m) => f(m),
            Expr::Aggregate(a) => walk(&a.expr, f),
            Expr::Unary(u) => walk(&u.expr, f),
            Expr::Binary(b) => {
                walk(&b.lhs, f);
                walk(&b.rhs, f);
            }
            Expr::Paren(p) => walk(&p.expr, f),
            Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, f)),
            _ => {}
        }
    }
    if let Ok(e) = super::parse::parse(text) {
        walk(&e, f);
    }
}

/// The series selectors a query reads ranges of (`rate(x{a="b"}[1m])` → `x{a="b"}`), for
/// measuring how far apart their samples are.
pub fn range_selectors(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    each_range(text, &mut |m| out.push(m.vs.to_string()));
    out
}

/// The longest range a query reads (`rate(x[1m])` → 1 min): a rate over it is the throughput
/// of about half of it ago.
pub fn longest_range(text: &str) -> Option<Duration> {
    let mut longest = None;
    each_range(text, &mut |m| {
        longest = Some(longest.map_or(m.range, |l: Duration| l.max(m.range)))
    });
    longest
}

/// True when the query's outermost function is `histogram_quantile`, so φ can be swapped.
pub fn is_histogram_quantile(text: &str) -> bool {
    fn outer(e: &Expr) -> bool {
        match e {
            Expr::Call(c) => c.func.name == "histogram_quantile",
            Expr::Paren(p) => outer(&p.expr),
            _ => false,
        }
    }
    super::parse::parse(text).is_ok_and(|e| outer(&e))
}

/// True when the query reads any range (so re-aiming it at an interval changes it).
pub fn has_range(text: &str) -> bool {
    fn any(e: &Expr) -> bool {
        match e {
            Expr::MatrixSelector(_) => true,
            Expr::Aggregate(a) => any(&a.expr) || a.param.as_deref().is_some_and(any),
            Expr::Unary(u) => any(&u.expr),
            Expr::Binary(b) => any(&b.lhs) || any(&b.rhs),
            Expr::Paren(p) => any(&p.expr),
            Expr::Subquery(_) => true,
            Expr::Call(c) => c.args.args.iter().any(|a| any(a)),
            _ => false,
        }
    }
    super::parse::parse(text).is_ok_and(|e| any(&e))
}

/// `text` with every range set to `range` (at least 1 ms) and, for a `histogram_quantile`,
/// φ replaced by `quantile`; compiled for local evaluation.
pub fn over_interval(
    text: &str,
    range: Duration,
    quantile: Option<f64>,
) -> Result<LocalQuery, PromqlError> {
    let mut expr = super::parse::parse(text)?;
    rewrite(&mut expr, range.max(Duration::from_millis(1)), quantile);
    let plan = compile::lower(&expr)?;
    Ok(LocalQuery {
        text: expr.to_string(),
        plan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recent_view_reads_the_companions_of_windowed_means() {
        let q =
            "max(k6_client_duration_mean_seconds) or max(k6_api_duration_mean_seconds{a=\"b\"})";
        assert_eq!(
            recent(q).as_deref(),
            Some("max(k6_client_recent_duration_mean_seconds) or max(k6_api_recent_duration_mean_seconds{a=\"b\"})")
        );
        assert_eq!(recent("max(k6_client_duration_max_seconds)"), None);
    }

    #[test]
    fn the_fast_view_only_shortens() {
        let q = "sum(rate(a_total{m=\"POST\"}[1m])) + sum(rate(b_total[5s]))";
        let f = fitted(q, Duration::from_secs(10)).unwrap().unwrap();
        assert!(f.contains("a_total{m=\"POST\"}[10s]"), "{f}");
        assert!(f.contains("b_total[5s]"), "{f}");
        assert_eq!(
            fitted("sum(rate(x[5s]))", Duration::from_secs(10)).unwrap(),
            None
        );
        assert_eq!(
            fitted("sum(k6_vus)", Duration::from_secs(10)).unwrap(),
            None
        );
        assert_eq!(
            range_selectors(q),
            vec!["a_total{m=\"POST\"}".to_string(), "b_total".to_string()]
        );
        assert_eq!(fast_window(Duration::from_secs(1)), Duration::from_secs(10));
        assert_eq!(
            fast_window(Duration::from_millis(4003)),
            Duration::from_secs(12)
        );
        assert_eq!(
            fast_window(Duration::from_secs(15)),
            Duration::from_secs(45)
        );
    }

    #[test]
    fn ranges_and_quantile_are_replaced() {
        let q = over_interval(
            "histogram_quantile(0.95, sum by (le) (rate(x_bucket{job=\"a\"}[30s])))",
            Duration::from_secs(75),
            Some(0.999),
        )
        .unwrap();
        assert!(q.text().contains("0.999"), "{}", q.text());
        assert!(q.text().contains("[1m15s]"), "{}", q.text());
        assert!(!q.text().contains("30s"), "{}", q.text());
        let q = over_interval(
            "sum(rate(a_sum[30s])) / sum(rate(a_count[10s]))",
            Duration::from_millis(20_500),
            None,
        )
        .unwrap();
        assert_eq!(q.text().matches("[20s500ms]").count(), 2, "{}", q.text());
        assert!(is_histogram_quantile(
            "histogram_quantile(0.5, rate(x[1m]))"
        ));
        assert!(!is_histogram_quantile("sum(rate(x[1m]))"));
        assert!(has_range("sum(rate(x[1m]))"));
        assert!(!has_range("sum(x)"));
    }

    #[test]
    fn the_last_interval_is_an_irate_and_only_rates_have_one() {
        let q =
            last_interval("sum(rate(a_total{m=\"POST\"}[1m])) - sum(irate(b_total[30s]))").unwrap();
        assert_eq!(q.matches("irate(").count(), 2, "{q}");
        assert!(!q.contains(" rate("), "{q}");
        assert!(q.contains("[1m]"), "{q}");
        for none in [
            "sum(increase(x[1m]))",
            "sum(rate(x[1m])) / sum(deriv(y[1m]))",
            "sum(x)",
            "max_over_time(rate(x[1m])[5m:1m])",
        ] {
            assert_eq!(last_interval(none), None, "{none}");
        }
    }
}
