//! The per-plateau table as CSV and JSON, for tracking runs over time (one row per plateau,
//! the same numbers as report.json's `plateaus`).

use serde::Serialize;
use serde_json::Value as Json;

use super::data::{Meta, Plateau, Quantiles, Report};
use super::window::QUANTILES;

pub const CSV_FILE: &str = "plateaus.csv";
pub const JSON_FILE: &str = "plateaus.json";

/// The columns before the quantiles, each with its value in `p`: names and values come from
/// this one list so they cannot drift apart.
fn leading(p: &Plateau) -> [(&'static str, Json); 14] {
    [
        ("index", p.index.into()),
        ("from_unix_ms", p.from_unix_ms.into()),
        ("to_unix_ms", p.to_unix_ms.into()),
        ("duration_s", p.duration_s.into()),
        ("load", p.load.into()),
        ("load_unit", p.load_unit.as_str().into()),
        ("offered_rps", p.offered_rps.into()),
        ("achieved_rps", p.achieved_rps.into()),
        ("achieved_ratio", p.achieved_ratio.into()),
        ("error_rate", p.error_rate.into()),
        ("service_mean_s", p.service_mean_s.into()),
        ("peak_queue", p.peak_queue.into()),
        ("peak_in_flight", p.peak_in_flight.into()),
        ("p95_drift", p.p95_drift.into()),
    ]
}

/// Column names: the leading ones, the latency quantiles, then each histogram's (named as in
/// the first row, which every row shares).
fn header(hists: &[&str]) -> Vec<String> {
    let mut h: Vec<String> = leading(&Plateau::default())
        .into_iter()
        .map(|c| c.0.to_string())
        .collect();
    h.extend(QUANTILES.iter().map(|(_, q)| format!("latency_{q}_s")));
    for name in hists {
        h.extend(QUANTILES.iter().map(|(_, q)| format!("{name}_{q}")));
    }
    h
}

fn cells(p: &Plateau, hists: &[&str]) -> Vec<Json> {
    let quantiles = |q: Option<&Quantiles>| q.copied().unwrap_or_default().values().map(Json::from);
    let mut out: Vec<Json> = leading(p).into_iter().map(|c| c.1).collect();
    out.extend(quantiles(p.latency.as_ref()));
    for h in hists {
        out.extend(quantiles(p.histograms.get(*h)));
    }
    out
}

fn field(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => text_field(s),
        other => other.to_string(),
    }
}

/// Text (a unit, a signal's name from a recording) as one CSV field: control characters
/// cleaned; a leading `= + - @` that a spreadsheet would run as a formula is quoted with
/// `'` (OWASP's advice for CSV injection); quoted when it holds a comma or a quote.
fn text_field(s: &str) -> String {
    let mut s = crate::text::clean(s);
    if s.starts_with(['=', '+', '-', '@']) {
        s.insert(0, '\'');
    }
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// RFC 4180 CSV with a header line; empty cells where a signal had no data.
pub fn csv(rows: &[Plateau]) -> String {
    let hists: Vec<&str> = rows
        .first()
        .map(|r| r.histograms.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let names: Vec<String> = header(&hists).iter().map(|h| text_field(h)).collect();
    let mut out = names.join(",");
    out.push_str("\r\n");
    for r in rows {
        let line: Vec<String> = cells(r, &hists).iter().map(field).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// plateaus.json: the rows with enough of the run to tell runs apart.
#[derive(Serialize)]
struct Table<'a> {
    started_unix_ms: Option<i64>,
    meta: &'a Meta,
    slitop_version: &'a str,
    plateaus: &'a [Plateau],
}

pub fn json(report: &Report) -> serde_json::Result<String> {
    let doc = Table {
        started_unix_ms: report.started_unix_ms,
        meta: &report.meta,
        slitop_version: &report.slitop_version,
        plateaus: &report.plateaus,
    };
    // Through a Value, as report.json, so the keys are sorted the same way.
    Ok(serde_json::to_string_pretty(&serde_json::to_value(doc)?)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_names_cannot_run_in_a_spreadsheet_or_a_terminal() {
        let mut p = Plateau::default();
        p.histograms.insert(
            "=HYPERLINK(\"http://x\",\"a\")".into(),
            Quantiles::default(),
        );
        p.load_unit = "vus".into();
        let text = csv(&[p]);
        let head = text.lines().next().unwrap();
        assert!(head.contains("\"'=HYPERLINK(\"\"http://x\"\""), "{head}");
        assert_eq!(text_field("@SUM(A1)\u{1b}[2J"), "'@SUM(A1)\u{fffd}[2J");
        assert_eq!(text_field("-1"), "'-1");
        assert_eq!(text_field("req/s"), "req/s");
    }
}
