//! Grafana template variables: their values from `--var NAME=VALUE`, else the dashboard's
//! current value, else a default; and their substitution into a query (`$name`, `${name}`,
//! `${name:format}`, `[[name]]`).

use std::collections::BTreeMap;

use serde_json::Value;

/// Built-in interval variables Grafana computes from the panel and the time range; here
/// fixed defaults that suit slitop's short refresh and window (override with `--var`).
const BUILTINS: &[(&str, &str)] = &[
    ("__rate_interval", "1m"),
    ("__interval", "15s"),
    ("__range", "5m"),
    ("__range_s", "300"),
    ("__range_ms", "300000"),
    ("__interval_ms", "15000"),
    ("interval", "1m"),
];

/// A variable's value, or why it has none.
#[derive(Clone, Debug, PartialEq)]
pub enum VarValue {
    Value(String),
    Missing(String),
}

/// Every variable a query may name: flags first, then the dashboard's `templating.list`,
/// then the built-ins.
pub fn resolve(dashboard: &Value, flags: &BTreeMap<String, String>) -> BTreeMap<String, VarValue> {
    let mut out: BTreeMap<String, VarValue> = BUILTINS
        .iter()
        .map(|(k, v)| (k.to_string(), VarValue::Value(v.to_string())))
        .collect();
    let list = dashboard["templating"]["list"].as_array().cloned();
    for var in list.unwrap_or_default() {
        let Some(name) = var["name"].as_str() else {
            continue;
        };
        out.insert(name.to_string(), from_dashboard(&var));
    }
    for (k, v) in flags {
        out.insert(k.clone(), VarValue::Value(v.clone()));
    }
    out
}

/// A dashboard variable's current value; "All" becomes its `allValue` or a match-anything
/// regex, several selected values one alternation.
fn from_dashboard(var: &Value) -> VarValue {
    let name = var["name"].as_str().unwrap_or_default();
    let all = || {
        let any = var["allValue"].as_str().filter(|s| !s.is_empty());
        VarValue::Value(any.unwrap_or(".*").to_string())
    };
    let current = &var["current"]["value"];
    let values: Vec<String> = match current {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    if values.iter().any(|v| v == "$__all" || v == "All") {
        return all();
    }
    let values: Vec<String> = values
        .into_iter()
        .filter(|v| !v.is_empty() && !v.starts_with("${"))
        .collect();
    match (values.as_slice(), var["type"].as_str()) {
        // An `auto` interval is computed by Grafana from the panel's width.
        ([one], Some("interval")) if one == "auto" || one.starts_with("$__auto") => {
            VarValue::Value("1m".into())
        }
        ([one], _) => VarValue::Value(one.clone()),
        ([], Some("constant" | "textbox")) => match var["query"].as_str() {
            Some(q) if !q.is_empty() => VarValue::Value(q.to_string()),
            _ => VarValue::Missing(format!(
                "variable ${name} has no value; give --var {name}=VALUE"
            )),
        },
        ([], _) if var["includeAll"].as_bool() == Some(true) => all(),
        ([], _) => VarValue::Missing(format!(
            "variable ${name} has no value; give --var {name}=VALUE"
        )),
        (many, _) => VarValue::Value(many.join("|")),
    }
}

/// `query` with every variable replaced; the first variable without a value is the error.
pub fn substitute(query: &str, vars: &BTreeMap<String, VarValue>) -> Result<String, String> {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(i) = rest.find(['$', '[']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some((name, used)) = reference(tail) else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
            continue;
        };
        match vars.get(name) {
            Some(VarValue::Value(v)) => out.push_str(v),
            Some(VarValue::Missing(why)) => return Err(why.clone()),
            None => {
                return Err(format!(
                    "variable ${name} is not defined; give --var {name}=VALUE"
                ))
            }
        }
        rest = &tail[used..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The variable named at the start of `s` and how many bytes name it, if any.
fn reference(s: &str) -> Option<(&str, usize)> {
    let ident_len = |t: &str| {
        t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(t.len())
    };
    if let Some(body) = s.strip_prefix("${") {
        let end = body.find('}')?;
        let name = body[..end].split(':').next()?;
        return (ident_len(name) == name.len() && !name.is_empty()).then_some((name, end + 3));
    }
    if let Some(body) = s.strip_prefix("[[") {
        let end = body.find("]]")?;
        let name = body[..end].split(':').next()?;
        return (ident_len(name) == name.len() && !name.is_empty()).then_some((name, end + 4));
    }
    let body = s.strip_prefix('$')?;
    let n = ident_len(body);
    (n > 0).then_some((&body[..n], n + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, VarValue> {
        let dashboard = serde_json::json!({"templating": {"list": [
            {"name": "job", "type": "query", "current": {"value": "node"}},
            {"name": "inst", "type": "query", "includeAll": true, "current": {"value": ["$__all"]}},
            {"name": "pick", "type": "custom", "current": {"value": ["a", "b"]}},
            {"name": "empty", "type": "query", "current": {}},
        ]}});
        let flags = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&dashboard, &flags)
    }

    #[test]
    fn every_reference_form_is_replaced() {
        let v = vars(&[]);
        let q =
            r#"rate(x{job="$job",i=~"${inst}",p=~"[[pick]]",q="${job:raw}"}[$__rate_interval])"#;
        assert_eq!(
            substitute(q, &v).unwrap(),
            r#"rate(x{job="node",i=~".*",p=~"a|b",q="node"}[1m])"#
        );
        // A range selector's brackets are not a variable.
        assert_eq!(substitute("rate(x[5m])", &v).unwrap(), "rate(x[5m])");
    }

    #[test]
    fn flags_win_and_missing_values_are_named() {
        let v = vars(&[("job", "api"), ("__rate_interval", "30s")]);
        assert_eq!(
            substitute("x{job=\"$job\"}[$__rate_interval]", &v).unwrap(),
            "x{job=\"api\"}[30s]"
        );
        let e = substitute("x{a=\"$empty\"}", &v).unwrap_err();
        assert!(e.contains("--var empty=VALUE"), "{e}");
        let e = substitute("x{a=\"$nope\"}", &v).unwrap_err();
        assert!(e.contains("$nope is not defined"), "{e}");
    }
}
