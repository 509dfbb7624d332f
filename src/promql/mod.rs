//! PromQL evaluated locally over the store, for scrape mode and slitop's own Valkey/k6 series.
//!
//! `promql-parser` parses the text; `compile` checks it against the subset a load-test dashboard
//! needs and lowers it to a small plan; `eval` runs the plan with Prometheus's semantics
//! (counter resets, range extrapolation, bucket interpolation, metric-name dropping).

mod compile;
mod eval;
mod functions;
pub mod interval;
mod parse;
mod quantile;

use crate::model::{Labels, TimeMs};
use crate::store::Store;

pub use compile::SUPPORTED;
pub use eval::Memo;

#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum PromqlError {
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("{0} is not supported in scrape mode (supported: {SUPPORTED})")]
    Unsupported(String),
    #[error("{0}")]
    Eval(String),
}

/// Checks only the syntax, for queries a remote Prometheus evaluates.
pub fn check_syntax(text: &str) -> Result<(), PromqlError> {
    parse::parse(text).map(|_| ())
}

/// A query checked against the local subset and ready to evaluate.
#[derive(Debug)]
pub struct LocalQuery {
    text: String,
    plan: compile::Node,
}

/// Parses and checks `text`; an unsupported construct is named in the error.
pub fn compile_local(text: &str) -> Result<LocalQuery, PromqlError> {
    let expr = parse::parse(text)?;
    let plan = compile::lower(&expr)?;
    Ok(LocalQuery {
        text: text.to_string(),
        plan,
    })
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<(Labels, f64)>),
}

#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// How far back an instant selector looks (Prometheus `--query.lookback-delta`).
    pub lookback_ms: i64,
    /// Prometheus 2.x semantics: range windows and lookback closed at the start `[T−R, T]`,
    /// and 2.x's order of the extrapolation steps. Default: Prometheus 3 (`(T−R, T]`).
    pub closed_range_start: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            lookback_ms: 300_000,
            closed_range_start: false,
        }
    }
}

impl LocalQuery {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Metric names the query selects by name (for `check` to say which are missing).
    pub fn metric_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.plan.metric_names(&mut out);
        out.sort();
        out.dedup();
        out
    }

    pub fn eval(&self, store: &Store, t: TimeMs, opts: &EvalOptions) -> Result<Value, PromqlError> {
        self.eval_shared(store, t, opts, None)
    }

    /// `eval`, sharing the aggregations it computes with the other queries of the same
    /// instant through `memo` (which must be new for each instant and state of the store).
    pub fn eval_shared(
        &self,
        store: &Store,
        t: TimeMs,
        opts: &EvalOptions,
        memo: Option<&eval::Memo>,
    ) -> Result<Value, PromqlError> {
        eval::Evaluator {
            store,
            t,
            opts,
            memo,
        }
        .eval(&self.plan)
    }
}
