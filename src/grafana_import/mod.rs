//! `slitop import-grafana`: a Grafana dashboard's Prometheus panels as slitop signals. Each
//! query of a panel becomes one `[[signal]]` (template variables resolved, the unit mapped,
//! threshold steps as warn/crit), grouped by what its panel title says or by a mapping file;
//! every panel or query left out is listed with why. The output is checked by loading it as
//! slitop's own configuration before it is handed back.

mod mapping;
mod panels;
mod units;
mod vars;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::settings::{Direction, Group, QuerySource, SignalDef, Unit};

pub use mapping::Mapping;

#[derive(thiserror::Error, Debug)]
pub enum ImportError {
    #[error("{file}:{line}:{column}: not a JSON dashboard: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

/// What the import is told besides the dashboard.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// `--var NAME=VALUE`: template variable values, before the dashboard's own.
    pub vars: BTreeMap<String, String>,
    pub mapping: Mapping,
    /// Written as the config's `[prometheus] url` when given.
    pub prometheus: Option<String>,
}

/// A panel or query the import left out, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    pub panel: String,
    pub reason: String,
}

#[derive(Debug)]
pub struct Imported {
    /// The configuration, TOML, loadable by slitop as it is.
    pub toml: String,
    pub signals: Vec<SignalDef>,
    pub skipped: Vec<Skipped>,
    pub title: String,
}

/// Reads `--var` values written `NAME=VALUE`.
pub fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("--var {s:?}: expected NAME=VALUE"))?;
    let k = k.trim().trim_start_matches('$');
    if k.is_empty() {
        return Err(format!("--var {s:?}: the name is empty"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Converts the dashboard in `text` (read from `file`, named in errors).
pub fn import(text: &str, file: &str, opts: &ImportOptions) -> Result<Imported, ImportError> {
    let root: Value = serde_json::from_str(text).map_err(|e| ImportError::Json {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    // The API's export wraps the dashboard in `{"dashboard": ...}`.
    let dash = if root.get("dashboard").is_some_and(Value::is_object) {
        &root["dashboard"]
    } else {
        &root
    };
    if !dash.is_object() || (dash.get("panels").is_none() && dash.get("rows").is_none()) {
        return Err(ImportError::Other(format!(
            "{file}: not a Grafana dashboard: expected an object with `panels` (or `rows`)"
        )));
    }
    let vars = vars::resolve(dash, &opts.vars);
    let mut out = panels::Collect::new(dash, &vars, &opts.mapping);
    for p in panels::all(dash) {
        out.panel(p);
    }
    let (mut signals, skipped) = (out.signals, out.skipped);
    unique_names(&mut signals);
    let title = dash["title"].as_str().unwrap_or("(untitled)").to_string();
    let toml = render(&title, file, &signals, &skipped, opts)?;
    crate::settings::parse_config(&toml, "the imported configuration").map_err(|e| {
        ImportError::Other(format!(
            "the converted dashboard does not load as a configuration: {e}"
        ))
    })?;
    Ok(Imported {
        toml,
        signals,
        skipped,
        title,
    })
}

/// Signal names are keys: a repeated one gets `_2`, `_3`, ...
fn unique_names(signals: &mut [SignalDef]) {
    let mut seen = BTreeSet::new();
    for s in signals.iter_mut() {
        let base = s.name.clone();
        let mut n = 1;
        while !seen.insert(s.name.clone()) {
            n += 1;
            s.name = format!("{base}_{n}");
        }
    }
}

/// A signal as written: only the fields that differ from the defaults.
#[derive(Serialize)]
struct SignalOut<'a> {
    name: &'a str,
    group: Group,
    query: &'a str,
    #[serde(skip_serializing_if = "is_auto")]
    source: QuerySource,
    #[serde(skip_serializing_if = "is_no_unit")]
    unit: Unit,
    #[serde(skip_serializing_if = "Option::is_none")]
    warn: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crit: Option<f64>,
    #[serde(skip_serializing_if = "is_higher")]
    direction: Direction,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<crate::settings::Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

fn is_auto(s: &QuerySource) -> bool {
    *s == QuerySource::Auto
}
fn is_no_unit(u: &Unit) -> bool {
    *u == Unit::None
}
fn is_higher(d: &Direction) -> bool {
    *d == Direction::HigherIsWorse
}

#[derive(Serialize)]
struct ConfigOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    prometheus: Option<PromOut<'a>>,
    signal: Vec<SignalOut<'a>>,
}

#[derive(Serialize)]
struct PromOut<'a> {
    url: &'a str,
}

fn render(
    title: &str,
    file: &str,
    signals: &[SignalDef],
    skipped: &[Skipped],
    opts: &ImportOptions,
) -> Result<String, ImportError> {
    let body = ConfigOut {
        prometheus: opts.prometheus.as_deref().map(|url| PromOut { url }),
        signal: signals
            .iter()
            .map(|s| SignalOut {
                name: &s.name,
                group: s.group,
                query: &s.query,
                source: s.source,
                unit: s.unit,
                warn: s.warn,
                crit: s.crit,
                direction: s.direction,
                role: s.role,
                help: s.help.as_deref(),
            })
            .collect(),
    };
    let body = toml::to_string(&body).map_err(|e| ImportError::Other(e.to_string()))?;
    let one_line = |s: &str| s.replace(['\n', '\r'], " ");
    let mut head = format!(
        "# Imported from the Grafana dashboard {:?} ({}) by `slitop import-grafana`.\n# {} signals; {} panels or queries skipped.\n",
        one_line(title),
        one_line(file),
        signals.len(),
        skipped.len()
    );
    for (k, v) in &opts.vars {
        head += &format!("# --var {}={}\n", one_line(k), one_line(v));
    }
    for s in skipped {
        head += &format!(
            "# skipped {:?}: {}\n",
            one_line(&s.panel),
            one_line(&s.reason)
        );
    }
    if opts.prometheus.is_none() {
        head += "# No [prometheus] section: give --prometheus URL when running slitop.\n";
    }
    Ok(format!("{head}\n{body}"))
}

#[cfg(test)]
mod tests;
