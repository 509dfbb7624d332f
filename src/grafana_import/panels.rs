//! Walking a dashboard's panels (nested in rows, or the old `rows[].panels`) and turning each
//! Prometheus query into a signal, or into a reason it was skipped.

use std::collections::BTreeMap;

use serde_json::Value;

use super::mapping::{Mapping, PanelRule};
use super::vars::{self, VarValue};
use super::{units, Skipped};
use crate::settings::{Group, SignalDef};

/// Panels that show no metric.
const NOT_METRICS: &[&str] = &[
    "row",
    "text",
    "news",
    "dashlist",
    "alertlist",
    "annolist",
    "logs",
    "traces",
    "nodeGraph",
    "flamegraph",
];

/// Every panel, depth first: a row's own panels after the row.
pub fn all(dash: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], &mut out);
    for row in dash["rows"].as_array().into_iter().flatten() {
        walk(&row["panels"], &mut out);
    }
    out
}

pub struct Collect<'a> {
    dash: &'a Value,
    vars: &'a BTreeMap<String, VarValue>,
    mapping: &'a Mapping,
    pub signals: Vec<SignalDef>,
    pub skipped: Vec<Skipped>,
}

impl<'a> Collect<'a> {
    pub fn new(
        dash: &'a Value,
        vars: &'a BTreeMap<String, VarValue>,
        mapping: &'a Mapping,
    ) -> Self {
        Self {
            dash,
            vars,
            mapping,
            signals: Vec::new(),
            skipped: Vec::new(),
        }
    }

    fn skip(&mut self, panel: &str, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            panel: panel.to_string(),
            reason: reason.into(),
        });
    }

    pub fn panel(&mut self, p: &Value) {
        let title = p["title"].as_str().unwrap_or("").trim();
        let title = if title.is_empty() {
            format!("panel {}", p["id"])
        } else {
            title.to_string()
        };
        let kind = p["type"].as_str().unwrap_or("graph");
        if NOT_METRICS.contains(&kind) {
            return self.skip(&title, format!("{kind} panel"));
        }
        let rule = self.mapping.rule(&title);
        if rule.is_some_and(|r| r.skip) {
            return self.skip(&title, "skipped by the mapping file");
        }
        let targets: Vec<&Value> = p["targets"].as_array().into_iter().flatten().collect();
        if targets.is_empty() {
            return self.skip(&title, "no queries");
        }
        let panel_ds = match self.prometheus(&p["datasource"]) {
            Ok(mixed) => mixed,
            Err(why) => return self.skip(&title, why),
        };
        let grafana_unit = p["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .or(p["format"].as_str())
            .unwrap_or("");
        let unit = units::unit(grafana_unit);
        let bands = match units::bands(p, unit.divide_by) {
            Ok(b) => b,
            Err(why) => {
                self.skip(&title, format!("thresholds left out: {why}"));
                None
            }
        };
        let shown: Vec<&&Value> = targets.iter().filter(|t| t["hide"] != true).collect();
        let cx = Panel {
            title: title.clone(),
            rule,
            unit,
            unit_note: if units::known(grafana_unit) {
                String::new()
            } else {
                format!(", Grafana unit `{grafana_unit}`")
            },
            bands: bands.unwrap_or_default(),
            mixed: panel_ds == Ds::Mixed,
            queries: shown.len(),
        };
        for t in &shown {
            let label = query_label(t, shown.len());
            let what = if label.is_empty() {
                title.clone()
            } else {
                format!("{title} / {label}")
            };
            match self.signal(&cx, t, &label, &what) {
                Ok(s) => self.signals.push(s),
                Err(why) => self.skip(&what, why),
            }
        }
        if shown.len() < targets.len() {
            self.skip(
                &title,
                format!("{} hidden queries", targets.len() - shown.len()),
            );
        }
    }

    /// One query of a panel as a signal, or why it cannot be one.
    fn signal(&self, cx: &Panel, t: &Value, label: &str, what: &str) -> Result<SignalDef, String> {
        if cx.mixed || !t["datasource"].is_null() {
            self.prometheus(&t["datasource"])?;
        }
        let expr = t["expr"]
            .as_str()
            .filter(|e| !e.trim().is_empty())
            .ok_or("no PromQL expression")?;
        let query = vars::substitute(expr.trim(), self.vars)?;
        let query = if cx.unit.divide_by == 1.0 {
            query
        } else {
            format!("({query}) / {}", cx.unit.divide_by)
        };
        crate::promql::check_syntax(&query)
            .map_err(|e| format!("the query does not parse: {e}"))?;
        let name = match cx.rule.and_then(|r| r.name.clone()) {
            Some(n) if cx.queries > 1 => format!("{n}_{}", slug(label)),
            Some(n) => n,
            None => slug(what),
        };
        Ok(SignalDef {
            name,
            group: cx
                .rule
                .and_then(|r| r.group)
                .unwrap_or_else(|| guess_group(&cx.title, &query, cx.unit.unit)),
            query,
            source: Default::default(),
            unit: cx.unit.unit,
            warn: cx.bands.warn,
            crit: cx.bands.crit,
            direction: cx.bands.direction,
            role: cx.rule.and_then(|r| r.role),
            help: Some(format!("Grafana panel {what:?}{}", cx.unit_note)),
        })
    }

    /// Ok when the datasource is Prometheus (or the dashboard's default, or a variable that
    /// stands for Prometheus); `Mixed` when each query names its own.
    fn prometheus(&self, ds: &Value) -> Result<Ds, String> {
        let (kind, uid) = match ds {
            Value::Null => return Ok(Ds::Prometheus),
            Value::String(s) => (None, s.as_str()),
            Value::Object(o) => (
                o.get("type").and_then(Value::as_str),
                o.get("uid").and_then(Value::as_str).unwrap_or(""),
            ),
            other => return Err(format!("unreadable datasource {other}")),
        };
        if uid == "-- Mixed --" {
            return Ok(Ds::Mixed);
        }
        let kind = match kind {
            Some(k) => k.to_string(),
            None => match self.variable_plugin(uid) {
                Some(k) => k,
                // A datasource named, not typed: taken as Prometheus unless its name says not.
                None if [
                    "loki", "influx", "elastic", "graphite", "tempo", "mysql", "postgres",
                ]
                .iter()
                .any(|w| uid.to_lowercase().contains(w)) =>
                {
                    format!("named {uid:?}")
                }
                None => "prometheus".into(),
            },
        };
        match kind.as_str() {
            "prometheus" => Ok(Ds::Prometheus),
            // A `${DS}` uid whose variable is typed Prometheus.
            "datasource" if uid.starts_with('$') => match self.variable_plugin(uid) {
                Some(k) if k == "prometheus" => Ok(Ds::Prometheus),
                _ => Err(format!("datasource {uid} is not Prometheus")),
            },
            "datasource" => Err("Grafana's own datasource".into()),
            other => Err(format!("datasource {other} is not Prometheus")),
        }
    }

    /// The plugin a `$VAR` / `${VAR}` datasource stands for: its variable's `query`, or the
    /// `__inputs` entry an exported dashboard declares.
    fn variable_plugin(&self, uid: &str) -> Option<String> {
        let name = uid
            .trim_start_matches('$')
            .trim_start_matches('{')
            .trim_end_matches('}');
        if name.is_empty() || !uid.starts_with('$') {
            return None;
        }
        let vars = self.dash["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten();
        let from_var = vars
            .filter(|v| v["name"] == name && v["type"] == "datasource")
            .find_map(|v| v["query"].as_str().map(str::to_string));
        from_var.or_else(|| {
            let inputs = self.dash["__inputs"].as_array().into_iter().flatten();
            inputs
                .filter(|i| i["name"] == name)
                .find_map(|i| i["pluginId"].as_str().map(str::to_string))
        })
    }
}

/// What every query of one panel shares.
struct Panel<'r> {
    title: String,
    rule: Option<&'r PanelRule>,
    unit: units::UnitMap,
    /// Said in the help when slitop has no unit for Grafana's.
    unit_note: String,
    bands: units::Bands,
    mixed: bool,
    queries: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ds {
    Prometheus,
    Mixed,
}

/// What tells one query of a panel from the others: its legend without `{{label}}`
/// placeholders, else its refId. Empty for a panel's only query.
fn query_label(t: &Value, shown: usize) -> String {
    if shown <= 1 {
        return String::new();
    }
    let legend = t["legendFormat"].as_str().unwrap_or("");
    let mut plain = String::new();
    let mut rest = legend;
    while let Some(i) = rest.find("{{") {
        plain.push_str(&rest[..i]);
        rest = rest[i..].find("}}").map_or("", |j| &rest[i + j + 2..]);
    }
    plain.push_str(rest);
    let plain = plain
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_string();
    if plain.is_empty() {
        t["refId"].as_str().unwrap_or("q").to_string()
    } else {
        plain
    }
}

/// A signal name from free text: lower case letters, digits and `_`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "panel".into()
    } else {
        out
    }
}

/// The design's groups from what a panel title and query say: errors and latency lag, rates
/// are throughput, restarts and crashes are stability, the rest (queues, in flight,
/// resources) leads.
fn guess_group(title: &str, query: &str, unit: crate::settings::Unit) -> Group {
    use crate::settings::Unit;
    let t = title.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["restart", "crash", "oom", "panic", "evict", "reject"]) {
        Group::Stability
    } else if has(&[
        "error",
        "fail",
        "5xx",
        "latency",
        "duration",
        "response time",
        "p95",
        "p99",
    ]) || unit == Unit::Seconds && query.contains("quantile")
    {
        Group::Lagging
    } else if unit == Unit::PerSecond
        || has(&[
            "rate",
            "throughput",
            "rps",
            "qps",
            "requests",
            "/s",
            "per second",
        ])
        || ["rate(", "irate(", "increase("]
            .iter()
            .any(|f| query.contains(f))
    {
        Group::Throughput
    } else {
        Group::Leading
    }
}
