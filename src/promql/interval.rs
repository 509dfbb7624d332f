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

/// True when the query's outermost function is `histogram_quantile`, so φ can be swapped.
pub fn is_histogram_quantile(text: &str) -> bool {
    fn outer(e: &Expr) -> bool {
        match e {
            Expr::Call(c) => c.func.name == "histogram_quantile",
            Expr::Paren(p) => outer(&p.expr),
            _ => false,
        }
    }
    promql_parser::parser::parse(text).is_ok_and(|e| outer(&e))
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
    promql_parser::parser::parse(text).is_ok_and(|e| any(&e))
}

/// `text` with every range set to `range` (at least 1 ms) and, for a `histogram_quantile`,
/// φ replaced by `quantile`; compiled for local evaluation.
pub fn over_interval(
    text: &str,
    range: Duration,
    quantile: Option<f64>,
) -> Result<LocalQuery, PromqlError> {
    let mut expr = promql_parser::parser::parse(text)
        .map_err(|e| PromqlError::Syntax(e.trim().to_string()))?;
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
}
