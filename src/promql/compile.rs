//! Lowering of the parser's AST to the plan `eval` runs, refusing what the subset lacks.

use promql_parser::label::Matcher;
use promql_parser::parser::{Expr, LabelModifier, VectorMatchCardinality, VectorSelector};

use super::PromqlError;

pub const SUPPORTED: &str = "selectors, rate, irate, increase, delta, deriv, histogram_quantile, clamp_min, abs, vector, scalar, sum/avg/min/max/count with by/without, arithmetic and comparisons";

#[derive(Debug, Clone)]
pub struct Selector {
    pub name: Option<String>,
    pub matchers: Vec<Matcher>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFn {
    Rate,
    Irate,
    Increase,
    Delta,
    Deriv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    /// Set operators: which series of each side are kept, by their labels.
    And,
    Or,
    Unless,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le
        )
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// Labels used to match series of two vectors.
#[derive(Debug, Clone)]
pub enum Matching {
    /// Default: all labels but the metric name.
    All,
    On(Vec<String>),
    Ignoring(Vec<String>),
}

#[derive(Debug, Clone)]
pub enum Grouping {
    None,
    By(Vec<String>),
    Without(Vec<String>),
}

#[derive(Debug, Clone)]
pub enum Node {
    Number(f64),
    Select(Selector),
    Range {
        f: RangeFn,
        sel: Selector,
        range_ms: i64,
    },
    Neg(Box<Node>),
    Abs(Box<Node>),
    ClampMin(Box<Node>, Box<Node>),
    HistogramQuantile(Box<Node>, Box<Node>),
    Vector(Box<Node>),
    Scalar(Box<Node>),
    Aggregate {
        op: AggOp,
        expr: Box<Node>,
        grouping: Grouping,
        /// The whole aggregation written out: two queries holding the same one (the p50,
        /// p95 and p99 of one histogram) compute it once per instant under this key.
        key: std::sync::Arc<str>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        return_bool: bool,
        matching: Matching,
    },
}

impl Node {
    /// Whether the node's result drops the metric name (and so may collide labelsets).
    pub fn drops_name(&self) -> bool {
        match self {
            Node::Range { .. }
            | Node::Neg(_)
            | Node::Abs(_)
            | Node::ClampMin(..)
            | Node::HistogramQuantile(..) => true,
            Node::Binary {
                op, return_bool, ..
            } => !op.is_set() && (!op.is_comparison() || *return_bool),
            _ => false,
        }
    }

    pub fn metric_names(&self, out: &mut Vec<String>) {
        let sel = |s: &Selector, out: &mut Vec<String>| {
            if let Some(n) = &s.name {
                out.push(n.clone());
            }
        };
        match self {
            Node::Number(_) => {}
            Node::Select(s) | Node::Range { sel: s, .. } => sel(s, out),
            Node::Neg(a)
            | Node::Abs(a)
            | Node::Vector(a)
            | Node::Scalar(a)
            | Node::Aggregate { expr: a, .. } => a.metric_names(out),
            Node::ClampMin(a, b)
            | Node::HistogramQuantile(a, b)
            | Node::Binary { lhs: a, rhs: b, .. } => {
                a.metric_names(out);
                b.metric_names(out);
            }
        }
    }
}

fn unsupported(what: impl Into<String>) -> PromqlError {
    PromqlError::Unsupported(what.into())
}

fn selector(vs: &VectorSelector) -> Result<Selector, PromqlError> {
    if vs.offset.is_some() {
        return Err(unsupported("offset modifier"));
    }
    if vs.at.is_some() {
        return Err(unsupported("@ modifier"));
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err(unsupported("`or` inside a selector"));
    }
    Ok(Selector {
        name: vs.name.clone(),
        matchers: vs.matchers.matchers.clone(),
    })
}

fn labels(l: &promql_parser::label::Labels) -> Vec<String> {
    l.labels.clone()
}

/// Deepest nesting the local evaluator takes. Its plan is lowered and evaluated recursively on
/// a runtime worker's stack (2 MiB), which a few thousand levels overflow — an abort, not an
/// error; a dashboard's query nests a handful of levels.
pub const MAX_DEPTH: usize = 128;

/// Lowers the parser's AST into the evaluator's nodes, refusing what is not supported.
pub fn lower(e: &Expr) -> Result<Node, PromqlError> {
    lower_at(e, 0)
}

/// `lower` at `depth` levels down.
// One piece: one match arm per kind of PromQL expression, each a few lines; the arms read as
// the table of what the local evaluator supports.
fn lower_at(e: &Expr, depth: usize) -> Result<Node, PromqlError> {
    if depth > MAX_DEPTH {
        return Err(unsupported(format!(
            "an expression nested more than {MAX_DEPTH} levels deep (parentheses, operators, unary minus and calls each count)"
        )));
    }
    let lower = |e: &Expr| lower_at(e, depth + 1);
    Ok(match e {
        Expr::NumberLiteral(n) => Node::Number(n.val),
        Expr::Paren(p) => lower(&p.expr)?,
        Expr::Unary(u) => Node::Neg(Box::new(lower(&u.expr)?)),
        Expr::VectorSelector(vs) => Node::Select(selector(vs)?),
        Expr::MatrixSelector(_) => {
            return Err(unsupported(
                "a range vector outside rate/irate/increase/delta/deriv",
            ))
        }
        Expr::StringLiteral(_) => return Err(unsupported("string literal")),
        Expr::Subquery(_) => return Err(unsupported("subquery")),
        Expr::Extension(_) => return Err(unsupported("extension expression")),
        Expr::Aggregate(a) => {
            let op = match a.op.to_string().as_str() {
                "sum" => AggOp::Sum,
                "avg" => AggOp::Avg,
                "min" => AggOp::Min,
                "max" => AggOp::Max,
                "count" => AggOp::Count,
                other => return Err(unsupported(format!("aggregation `{other}`"))),
            };
            let grouping = match &a.modifier {
                None => Grouping::None,
                Some(LabelModifier::Include(l)) => Grouping::By(labels(l)),
                Some(LabelModifier::Exclude(l)) => Grouping::Without(labels(l)),
            };
            let expr = Box::new(lower(&a.expr)?);
            let key = format!("{op:?} {grouping:?} {expr:?}").into();
            Node::Aggregate {
                op,
                expr,
                grouping,
                key,
            }
        }
        Expr::Binary(b) => {
            let op = match b.op.to_string().as_str() {
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                "%" => BinOp::Mod,
                "^" => BinOp::Pow,
                "==" => BinOp::Eq,
                "!=" => BinOp::Ne,
                ">" => BinOp::Gt,
                "<" => BinOp::Lt,
                ">=" => BinOp::Ge,
                "<=" => BinOp::Le,
                "and" => BinOp::And,
                "or" => BinOp::Or,
                "unless" => BinOp::Unless,
                other => return Err(unsupported(format!("operator `{other}`"))),
            };
            let (return_bool, matching) = match &b.modifier {
                None => (false, Matching::All),
                Some(m) => {
                    // Set operators match many to many; the others one to one only.
                    let card_ok = match m.card {
                        VectorMatchCardinality::OneToOne => true,
                        VectorMatchCardinality::ManyToMany => op.is_set(),
                        _ => false,
                    };
                    if !card_ok {
                        return Err(unsupported("group_left/group_right"));
                    }
                    if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
                        return Err(unsupported("fill modifier"));
                    }
                    let matching = match &m.matching {
                        None => Matching::All,
                        Some(LabelModifier::Include(l)) => Matching::On(labels(l)),
                        Some(LabelModifier::Exclude(l)) => Matching::Ignoring(labels(l)),
                    };
                    (m.return_bool, matching)
                }
            };
            Node::Binary {
                op,
                lhs: Box::new(lower(&b.lhs)?),
                rhs: Box::new(lower(&b.rhs)?),
                return_bool,
                matching,
            }
        }
        Expr::Call(c) => {
            let name = c.func.name;
            let args = &c.args.args;
            let range = |f: RangeFn| -> Result<Node, PromqlError> {
                match args.first().map(|a| a.as_ref()) {
                    Some(Expr::MatrixSelector(ms)) => Ok(Node::Range {
                        f,
                        sel: selector(&ms.vs)?,
                        range_ms: ms.range.as_millis() as i64,
                    }),
                    Some(Expr::Subquery(_)) => Err(unsupported("subquery")),
                    _ => Err(unsupported(format!(
                        "function `{name}` without a range selector"
                    ))),
                }
            };
            let arg = |i: usize| -> Result<Box<Node>, PromqlError> {
                args.get(i)
                    .map(|a| lower(a).map(Box::new))
                    .unwrap_or_else(|| {
                        Err(PromqlError::Syntax(format!(
                            "`{name}` needs argument {}",
                            i + 1
                        )))
                    })
            };
            match name {
                "rate" => range(RangeFn::Rate)?,
                "irate" => range(RangeFn::Irate)?,
                "increase" => range(RangeFn::Increase)?,
                "delta" => range(RangeFn::Delta)?,
                "deriv" => range(RangeFn::Deriv)?,
                "abs" => Node::Abs(arg(0)?),
                "clamp_min" => Node::ClampMin(arg(0)?, arg(1)?),
                "histogram_quantile" => Node::HistogramQuantile(arg(0)?, arg(1)?),
                "vector" => Node::Vector(arg(0)?),
                "scalar" => Node::Scalar(arg(0)?),
                other => return Err(unsupported(format!("function `{other}`"))),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    /// Runs `f` on a thread with a runtime worker's stack, where queries are compiled.
    fn on_worker_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    /// Found by the fuzzing harness: 5,120 `-` (a binary minus, then unary minus upon unary
    /// minus) overflowed the stack while lowering and aborted the process. The parser's door
    /// now refuses that many operators; lowering bounds its own depth too, as the evaluator
    /// recurses over the plan.
    #[test]
    fn a_query_nested_thousands_deep_is_refused_not_a_stack_overflow() {
        on_worker_stack(|| {
            let q = format!("min(http_reques{}ts)", "-".repeat(5120));
            assert!(crate::promql::compile_local(&q).is_err());
            for deep in [
                format!("min(x{}y)", "-".repeat(500)),
                format!("{}x{}", "abs(".repeat(500), ")".repeat(500)),
                vec!["x"; 500].join(" + "),
            ] {
                let e = crate::promql::compile_local(&deep).unwrap_err();
                assert!(e.to_string().contains("nested more than 128 levels"), "{e}");
            }
        });
    }

    #[test]
    fn a_deeply_but_reasonably_nested_query_still_compiles() {
        on_worker_stack(|| {
            let q = format!("{}rate(x[1m]){}", "abs(".repeat(100), ")".repeat(100));
            crate::promql::compile_local(&q).unwrap();
        });
    }

    /// The p50, p95 and p99 of one histogram share `sum by (le) (rate(...))`: with a memo,
    /// the second and third read the first's result, and every answer is the one each
    /// query gives alone.
    #[test]
    fn queries_of_one_instant_share_an_aggregation_and_answer_as_alone() {
        on_worker_stack(|| {
            use crate::model::Labels;
            use crate::promql::{compile_local, EvalOptions, Memo};
            let mut store = crate::store::Store::new(Default::default());
            for (i, le) in ["0.1", "0.5", "+Inf"].iter().enumerate() {
                for pod in ["a", "b"] {
                    let l = Labels::named("h_bucket").with("le", le).with("pod", pod);
                    for s in 0..=30 {
                        store.push(&l, s * 1000, (s * (i as i64 + 1)) as f64);
                    }
                }
            }
            let opts = EvalOptions::default();
            let memo = Memo::default();
            let queries: Vec<_> = ["0.5", "0.95", "0.99"]
                .iter()
                .map(|q| {
                    compile_local(&format!(
                        "histogram_quantile({q}, sum by (le) (rate(h_bucket[10s])))"
                    ))
                    .unwrap()
                })
                .collect();
            for q in &queries {
                let alone = q.eval(&store, 30_000, &opts).unwrap();
                let shared = q.eval_shared(&store, 30_000, &opts, Some(&memo)).unwrap();
                assert_eq!(alone, shared);
            }
            assert_eq!(memo.borrow().len(), 1, "one aggregation, computed once");
        });
    }
}
