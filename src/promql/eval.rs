//! Evaluation of a plan at one instant over the store.

use std::collections::HashMap;

use super::compile::{AggOp, BinOp, Grouping, Matching, Node, RangeFn, Selector};
use super::{functions, quantile, EvalOptions, PromqlError, Value};
use crate::model::is_stale_nan;
use crate::model::{Labels, TimeMs, METRIC_NAME};
use crate::store::{Series, Store};

pub struct Evaluator<'a> {
    pub store: &'a Store,
    pub t: TimeMs,
    pub opts: &'a EvalOptions,
}

type Vector = Vec<(Labels, f64)>;

fn matches(sel: &Selector, labels: &Labels) -> bool {
    if let Some(n) = &sel.name {
        if labels.name() != Some(n.as_str()) {
            return false;
        }
    }
    sel.matchers
        .iter()
        .all(|m| m.is_match(labels.get(&m.name).unwrap_or("")))
}

impl Evaluator<'_> {
    fn series<'s>(
        &'s self,
        sel: &'s Selector,
    ) -> Box<dyn Iterator<Item = (&'s Labels, &'s Series)> + 's> {
        match &sel.name {
            Some(n) => Box::new(self.store.family(n).filter(move |(l, _)| matches(sel, l))),
            None => Box::new(self.store.all().filter(move |(l, _)| matches(sel, l))),
        }
    }

    /// Start of a window ending at `t`, as the exclusive bound `Series::range` takes.
    fn window_start(&self, len_ms: i64) -> TimeMs {
        if self.opts.closed_range_start {
            self.t - len_ms - 1
        } else {
            self.t - len_ms
        }
    }

    fn instant(&self, sel: &Selector) -> Vector {
        let start = self.window_start(self.opts.lookback_ms);
        self.series(sel)
            .filter_map(|(l, s)| {
                let (ts, v) = s.last_at(self.t)?;
                (ts > start && !is_stale_nan(v)).then(|| (l.clone(), v))
            })
            .collect()
    }

    fn range(&self, f: RangeFn, sel: &Selector, range_ms: i64) -> Vector {
        let start = self.window_start(range_ms);
        let mut out = Vec::new();
        let mut pts = Vec::new();
        for (l, s) in self.series(sel) {
            pts.clear();
            pts.extend(s.range(start, self.t).filter(|p| !is_stale_nan(p.1)));
            if let Some(v) =
                functions::apply(f, &pts, self.t, range_ms, self.opts.closed_range_start)
            {
                out.push((l.without_name(), v));
            }
        }
        out
    }

    pub fn eval(&self, n: &Node) -> Result<Value, PromqlError> {
        Ok(match n {
            Node::Number(v) => Value::Scalar(*v),
            Node::Select(sel) => Value::Vector(self.instant(sel)),
            Node::Range { f, sel, range_ms } => Value::Vector(self.range(*f, sel, *range_ms)),
            Node::Neg(a) => match self.eval(a)? {
                Value::Scalar(v) => Value::Scalar(-v),
                Value::Vector(v) => {
                    Value::Vector(v.into_iter().map(|(l, x)| (l.without_name(), -x)).collect())
                }
            },
            Node::Abs(a) => Value::Vector(
                self.vector(a, "abs")?
                    .into_iter()
                    .map(|(l, x)| (l.without_name(), x.abs()))
                    .collect(),
            ),
            Node::ClampMin(a, m) => {
                let min = self.scalar(m, "clamp_min")?;
                Value::Vector(
                    self.vector(a, "clamp_min")?
                        .into_iter()
                        // Go's math.Max: NaN wins either way (Rust's f64::max would drop it).
                        .map(|(l, x)| {
                            (
                                l.without_name(),
                                if x.is_nan() || min.is_nan() {
                                    f64::NAN
                                } else {
                                    x.max(min)
                                },
                            )
                        })
                        .collect(),
                )
            }
            Node::Vector(a) => Value::Vector(vec![(Labels::new(), self.scalar(a, "vector")?)]),
            Node::Scalar(a) => {
                let v = self.vector(a, "scalar")?;
                Value::Scalar(if v.len() == 1 { v[0].1 } else { f64::NAN })
            }
            Node::HistogramQuantile(q, v) => {
                let q = self.scalar(q, "histogram_quantile")?;
                Value::Vector(histogram_quantile(q, self.vector(v, "histogram_quantile")?))
            }
            Node::Aggregate { op, expr, grouping } => {
                Value::Vector(aggregate(*op, grouping, self.vector(expr, "aggregation")?))
            }
            Node::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => binary(
                *op,
                *return_bool,
                matching,
                self.eval(lhs)?,
                self.eval(rhs)?,
            )?,
        })
    }

    fn vector(&self, n: &Node, what: &str) -> Result<Vector, PromqlError> {
        match self.eval(n)? {
            Value::Vector(v) => Ok(v),
            Value::Scalar(_) => Err(PromqlError::Eval(format!(
                "{what} expects an instant vector, got a scalar"
            ))),
        }
    }

    fn scalar(&self, n: &Node, what: &str) -> Result<f64, PromqlError> {
        match self.eval(n)? {
            Value::Scalar(v) => Ok(v),
            Value::Vector(_) => Err(PromqlError::Eval(format!(
                "{what} expects a scalar, got an instant vector"
            ))),
        }
    }
}

fn histogram_quantile(q: f64, v: Vector) -> Vector {
    let mut groups: HashMap<Labels, Vec<(f64, f64)>> = HashMap::new();
    let mut order: Vec<Labels> = Vec::new();
    for (l, x) in v {
        let Some(le) = l.get("le").and_then(|s| s.trim().parse::<f64>().ok()) else {
            continue;
        };
        let mut key = l.without_name();
        key.remove("le");
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push((le, x));
    }
    order
        .into_iter()
        .map(|k| {
            let b = groups.remove(&k).unwrap_or_default();
            (k, quantile::bucket_quantile(q, b))
        })
        .collect()
}

fn group_key(l: &Labels, g: &Grouping) -> Labels {
    match g {
        Grouping::None => Labels::new(),
        Grouping::By(names) => l.keep_only(names),
        Grouping::Without(names) => l.drop_labels(names),
    }
}

fn aggregate(op: AggOp, g: &Grouping, v: Vector) -> Vector {
    // (sum, count, min, max) per group, in first-seen order.
    let mut acc: Vec<(Labels, f64, f64, f64, f64)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (l, x) in v {
        let k = group_key(&l, g);
        match index.get(&k) {
            Some(&i) => {
                let a = &mut acc[i];
                a.1 += x;
                a.2 += 1.0;
                // Prometheus replaces a NaN min/max by any number that follows.
                if x < a.3 || a.3.is_nan() {
                    a.3 = x;
                }
                if x > a.4 || a.4.is_nan() {
                    a.4 = x;
                }
            }
            None => {
                index.insert(k.clone(), acc.len());
                acc.push((k, x, 1.0, x, x));
            }
        }
    }
    acc.into_iter()
        .map(|(k, sum, n, min, max)| {
            let v = match op {
                AggOp::Sum => sum,
                AggOp::Avg => sum / n,
                AggOp::Min => min,
                AggOp::Max => max,
                AggOp::Count => n,
            };
            (k, v)
        })
        .collect()
}

/// The value of `l op r`; for comparisons, whether the pair is kept (value is `l`).
fn elem(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (l % r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Eq => (l, l == r),
        BinOp::Ne => (l, l != r),
        BinOp::Gt => (l, l > r),
        BinOp::Lt => (l, l < r),
        BinOp::Ge => (l, l >= r),
        BinOp::Le => (l, l <= r),
    }
}

fn signature(l: &Labels, m: &Matching) -> Labels {
    match m {
        Matching::All => l.without_name(),
        Matching::On(names) => l.keep_only(names),
        Matching::Ignoring(names) => l.drop_labels(names),
    }
}

fn binary(
    op: BinOp,
    return_bool: bool,
    m: &Matching,
    lhs: Value,
    rhs: Value,
) -> Result<Value, PromqlError> {
    let drop_name = !op.is_comparison() || return_bool;
    let finish = |mut l: Labels| {
        if drop_name {
            l.remove(METRIC_NAME);
        }
        l
    };
    Ok(match (lhs, rhs) {
        (Value::Scalar(a), Value::Scalar(b)) => {
            let (v, keep) = elem(op, a, b);
            Value::Scalar(if op.is_comparison() {
                if keep {
                    1.0
                } else {
                    0.0
                }
            } else {
                v
            })
        }
        (Value::Vector(v), Value::Scalar(s)) => {
            Value::Vector(vector_scalar(op, return_bool, v, s, false, finish))
        }
        (Value::Scalar(s), Value::Vector(v)) => {
            Value::Vector(vector_scalar(op, return_bool, v, s, true, finish))
        }
        (Value::Vector(l), Value::Vector(r)) => {
            let mut right: HashMap<Labels, f64> = HashMap::with_capacity(r.len());
            for (lab, x) in r {
                if right.insert(signature(&lab, m), x).is_some() {
                    return Err(PromqlError::Eval(format!(
                        "many-to-many matching not allowed: the right side has several series for {}",
                        signature(&lab, m)
                    )));
                }
            }
            let mut out = Vec::new();
            for (lab, x) in l {
                let Some(&y) = right.get(&signature(&lab, m)) else {
                    continue;
                };
                let (mut v, keep) = elem(op, x, y);
                if return_bool {
                    v = if keep { 1.0 } else { 0.0 };
                } else if !keep {
                    continue;
                }
                let res = match m {
                    Matching::On(_) => signature(&lab, m),
                    Matching::Ignoring(names) => {
                        let mut k = lab.clone();
                        for n in names {
                            k.remove(n);
                        }
                        k
                    }
                    Matching::All => lab,
                };
                out.push((finish(res), v));
            }
            Value::Vector(out)
        }
    })
}

fn vector_scalar(
    op: BinOp,
    return_bool: bool,
    v: Vector,
    s: f64,
    swap: bool,
    finish: impl Fn(Labels) -> Labels,
) -> Vector {
    v.into_iter()
        .filter_map(|(l, x)| {
            let (a, b) = if swap { (s, x) } else { (x, s) };
            let (mut val, keep) = elem(op, a, b);
            // A comparison keeps the vector's own value, whichever side it is on.
            if op.is_comparison() && swap {
                val = x;
            }
            if return_bool {
                return Some((finish(l), if keep { 1.0 } else { 0.0 }));
            }
            keep.then(|| (finish(l), val))
        })
        .collect()
}
