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
    /// Aggregations already computed at this instant over this store, by their key.
    pub memo: Option<&'a Memo>,
}

/// Results shared by the queries evaluated at one instant over one state of the store.
pub type Memo = std::cell::RefCell<HashMap<std::sync::Arc<str>, Vector>>;

pub type Vector = Vec<(Labels, f64)>;

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
        // Saturating: a window reaching past the start of time starts there, never wraps.
        let start = self.t.saturating_sub(len_ms);
        if self.opts.closed_range_start {
            start.saturating_sub(1)
        } else {
            start
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
        for (_, s) in self.series(sel) {
            pts.clear();
            pts.extend(s.range(start, self.t).filter(|p| !is_stale_nan(p.1)));
            if let Some(v) =
                functions::apply(f, &pts, self.t, range_ms, self.opts.closed_range_start)
            {
                out.push((s.unnamed().clone(), v));
            }
        }
        out
    }

    /// Evaluates `n`. Like Prometheus, a result whose metric names were dropped may not hold
    /// two series with the same labels (`-{__name__=~"a|b"}`, `rate` over two names).
    pub fn eval(&self, n: &Node) -> Result<Value, PromqlError> {
        let v = self.eval_node(n)?;
        if let (Value::Vector(items), true) = (&v, n.drops_name()) {
            let mut seen = std::collections::HashSet::with_capacity(items.len());
            if !items.iter().all(|(l, _)| seen.insert(l)) {
                return Err(PromqlError::Eval(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
        }
        Ok(v)
    }

    fn eval_node(&self, n: &Node) -> Result<Value, PromqlError> {
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
            Node::Aggregate {
                op,
                expr,
                grouping,
                key,
            } => {
                if let Some(v) = self.memo.and_then(|m| m.borrow().get(key).cloned()) {
                    return Ok(Value::Vector(v));
                }
                let v = aggregate(*op, grouping, self.vector(expr, "aggregation")?);
                if let Some(m) = self.memo {
                    m.borrow_mut().insert(key.clone(), v.clone());
                }
                Value::Vector(v)
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
        // Grouped with the name, dropped after: two histograms that differ only by name
        // are two results with one labelset (an error), not one merged histogram.
        let mut key = l.clone();
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
            (k.without_name(), quantile::bucket_quantile(q, b))
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

/// Prometheus's compensated addition (Kahan with Neumaier's swap): the running sum and the
/// correction term after adding `inc`.
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// One group's running aggregate as Prometheus keeps it: a compensated sum; `avg` divides it
/// at the end unless the sum would overflow, from when on it keeps an incremental mean.
struct Acc {
    key: Labels,
    sum: f64,
    c: f64,
    n: f64,
    min: f64,
    max: f64,
    mean: f64,
    incremental: bool,
}

impl Acc {
    fn new(key: Labels, x: f64) -> Self {
        Acc {
            key,
            sum: x,
            c: 0.0,
            n: 1.0,
            min: x,
            max: x,
            mean: x,
            incremental: false,
        }
    }

    fn add(&mut self, op: AggOp, x: f64) {
        self.n += 1.0;
        // Prometheus replaces a NaN min/max by any number that follows.
        if x < self.min || self.min.is_nan() {
            self.min = x;
        }
        if x > self.max || self.max.is_nan() {
            self.max = x;
        }
        if op != AggOp::Avg {
            (self.sum, self.c) = kahan_inc(x, self.sum, self.c);
            return;
        }
        if !self.incremental {
            let (sum, c) = kahan_inc(x, self.sum, self.c);
            if !sum.is_infinite() {
                (self.sum, self.c) = (sum, c);
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.n - 1.0);
            self.c /= self.n - 1.0;
        }
        let q = (self.n - 1.0) / self.n;
        (self.mean, self.c) = kahan_inc(x / self.n, q * self.mean, q * self.c);
    }

    fn value(&self, op: AggOp) -> f64 {
        match op {
            AggOp::Sum => self.sum + self.c,
            AggOp::Avg if self.incremental => self.mean + self.c,
            AggOp::Avg => self.sum / self.n + self.c / self.n,
            AggOp::Min => self.min,
            AggOp::Max => self.max,
            AggOp::Count => self.n,
        }
    }
}

/// The values of a series' grouping labels, borrowed from it: the group is looked up by
/// these, and its own label set built only once, for the series that opens it.
fn group_values<'l>(l: &'l Labels, g: &'l Grouping, out: &mut Vec<(&'l str, &'l str)>) {
    out.clear();
    match g {
        Grouping::None => {}
        Grouping::By(names) => {
            out.extend(names.iter().map(|n| (n.as_str(), l.get(n).unwrap_or(""))))
        }
        Grouping::Without(names) => out.extend(
            l.iter()
                .filter(|(k, _)| *k != METRIC_NAME && !names.iter().any(|n| n == k)),
        ),
    }
}

fn aggregate(op: AggOp, g: &Grouping, v: Vector) -> Vector {
    // Groups in first-seen order.
    let mut acc: Vec<Acc> = Vec::new();
    let mut index: HashMap<Vec<(&str, &str)>, usize> = HashMap::new();
    let mut key = Vec::new();
    for (l, x) in &v {
        group_values(l, g, &mut key);
        match index.get(&key) {
            Some(&i) => acc[i].add(op, *x),
            None => {
                index.insert(key.clone(), acc.len());
                acc.push(Acc::new(group_key(l, g), *x));
            }
        }
    }
    drop(index);
    acc.into_iter()
        .map(|a| {
            let v = a.value(op);
            (a.key, v)
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
        // Set operators keep whole series (see `set_op`), never an element's value.
        BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
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
    if op.is_set() {
        return match (lhs, rhs) {
            (Value::Vector(l), Value::Vector(r)) => Ok(Value::Vector(set_op(op, m, l, r))),
            _ => Err(PromqlError::Eval(format!(
                "set operator {op:?} not allowed in binary scalar expression"
            ))),
        };
    }
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
            Value::Vector(vector_vector(op, return_bool, m, l, r, finish)?)
        }
    })
}

/// `and`, `or`, `unless`: the series of each side kept by whether their labels (as matched)
/// occur on the other, labels and values untouched, as Prometheus's `VectorAnd`, `VectorOr`
/// and `VectorUnless` do. Many-to-many is allowed.
fn set_op(op: BinOp, m: &Matching, l: Vector, r: Vector) -> Vector {
    let right: std::collections::HashSet<Labels> =
        r.iter().map(|(lab, _)| signature(lab, m)).collect();
    match op {
        BinOp::And => l
            .into_iter()
            .filter(|(lab, _)| right.contains(&signature(lab, m)))
            .collect(),
        BinOp::Unless => l
            .into_iter()
            .filter(|(lab, _)| !right.contains(&signature(lab, m)))
            .collect(),
        _ => {
            let left: std::collections::HashSet<Labels> =
                l.iter().map(|(lab, _)| signature(lab, m)).collect();
            let extra: Vec<_> = r
                .into_iter()
                .filter(|(lab, _)| !left.contains(&signature(lab, m)))
                .collect();
            l.into_iter().chain(extra).collect()
        }
    }
}

/// One-to-one matching of two vectors: each side may hold a signature once (a left series
/// counts as matched whether or not a comparison keeps it), as Prometheus checks.
fn vector_vector(
    op: BinOp,
    return_bool: bool,
    m: &Matching,
    l: Vector,
    r: Vector,
    finish: impl Fn(Labels) -> Labels,
) -> Result<Vector, PromqlError> {
    if l.is_empty() || r.is_empty() {
        return Ok(Vec::new());
    }
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
    let mut matched = std::collections::HashSet::new();
    for (lab, x) in l {
        let sig = signature(&lab, m);
        let Some(&y) = right.get(&sig) else {
            continue;
        };
        if !matched.insert(sig) {
            return Err(PromqlError::Eval(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right), which is not supported".into(),
            ));
        }
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
    Ok(out)
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
