//! The per-plateau table as CSV and JSON, for tracking runs over time (one row per plateau,
//! the same numbers as report.json's `plateaus`).

use serde_json::{json, Value as Json};

use crate::report::window::QUANTILES;

pub const CSV_FILE: &str = "plateaus.csv";
pub const JSON_FILE: &str = "plateaus.json";

/// Column name and how to read it from a plateau row.
fn columns(rows: &[Json]) -> Vec<(String, Vec<String>)> {
    let mut cols: Vec<(String, Vec<String>)> = [
        "index",
        "from_unix_ms",
        "to_unix_ms",
        "duration_s",
        "load",
        "load_unit",
        "offered_rps",
        "achieved_rps",
        "achieved_ratio",
        "error_rate",
        "service_mean_s",
        "peak_queue",
        "peak_in_flight",
    ]
    .iter()
    .map(|k| (k.to_string(), vec![k.to_string()]))
    .collect();
    for (_, q) in QUANTILES {
        cols.push((format!("latency_{q}_s"), vec!["latency".into(), q.into()]));
    }
    let hists: Vec<String> = rows
        .first()
        .and_then(|r| r["histograms"].as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for h in hists {
        for (_, q) in QUANTILES {
            cols.push((
                format!("{h}_{q}"),
                vec!["histograms".into(), h.clone(), q.into()],
            ));
        }
    }
    cols
}

fn field(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.clone()
            }
        }
        other => other.to_string(),
    }
}

/// RFC 4180 CSV with a header line; empty cells where a signal had no data.
pub fn csv(rows: &[Json]) -> String {
    let cols = columns(rows);
    let mut out = cols
        .iter()
        .map(|c| c.0.as_str())
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    for r in rows {
        let cells: Vec<String> = cols
            .iter()
            .map(|(_, path)| field(path.iter().fold(r, |v, k| &v[k.as_str()])))
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The rows with enough of the run to tell runs apart.
pub fn json(report: &Json, rows: &[Json]) -> serde_json::Result<String> {
    let doc = json!({
        "started_unix_ms": report["started_unix_ms"],
        "meta": report["meta"],
        "slitop_version": report["slitop_version"],
        "plateaus": rows,
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}
