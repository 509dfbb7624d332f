//! The end-of-run report: `report.json` (the data), `report.md` (rendered from that data
//! alone), SVG plots, the per-plateau table as CSV and JSON, gates, and the pushes to a
//! Pushgateway and Grafana. Data flows one way: the run's state (live, or a recording
//! replayed) → report data → files → exports. Local files are written before any export is
//! tried, and a failed export never stops the run or loses them.

pub mod data;
pub mod format;
pub mod gates;
pub mod headline;
pub mod json;
pub mod markdown;
pub mod plateaus;
pub mod plots;
pub mod triage;
pub mod window;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value as Json};

pub use gates::EXIT_GATE_FAILED;

use crate::settings::ReportSettings;
pub use data::Report;
pub use json::{build, signal_stats, Inputs};

/// The run's state the report is built from; the one place this module names where it lives.
use crate::runtime::RunState;

pub struct Outcome {
    pub dir: PathBuf,
    pub report: Json,
}

impl Outcome {
    /// Gates that failed, as "name: value > limit (note)" lines.
    pub fn failed_gates(&self) -> Vec<String> {
        self.report["gates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|g| g["passed"] == Json::Bool(false))
            .map(|g| {
                let unit = g["unit"].as_str().unwrap_or("");
                let mut s = format!(
                    "gate {} failed: {} (limit {})",
                    g["name"].as_str().unwrap_or("?"),
                    format::gate_value(g["value"].as_f64(), unit),
                    format::gate_value(g["limit"].as_f64(), unit)
                );
                if let Some(n) = g["note"].as_str() {
                    s += &format!(": {n}");
                }
                s
            })
            .collect()
    }
}

/// Fails early, before a run starts, when the baseline named in the gates cannot be read.
pub fn check_baseline(settings: &ReportSettings) -> anyhow::Result<()> {
    match &settings.gates.baseline {
        Some(b) => load_baseline(b).map(|_| ()),
        None => Ok(()),
    }
}

/// Reads a baseline report.json; errors name the file.
pub fn load_baseline(path: &Path) -> anyhow::Result<Json> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read baseline report {}", path.display()))?;
    let v: Json = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: baseline is not JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if !v.get("summary").is_some_and(Json::is_object) || v.get("knee").is_none() {
        anyhow::bail!(
            "{}: not a slitop report.json (no \"summary\" or \"knee\"); pass the report.json of an earlier run",
            path.display()
        );
    }
    Ok(v)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes report.json and report.md from the report data.
pub fn write_report_files(dir: &Path, report: &Json) -> anyhow::Result<()> {
    write(
        &dir.join("report.json"),
        &(serde_json::to_string_pretty(report)? + "\n"),
    )?;
    write(&dir.join("report.md"), &markdown::render(report))
}

/// Builds the report data and writes every local file: plots, plateau tables, report.json and
/// report.md. Files that cannot be drawn are noted in the report, not fatal.
pub fn write_local(dir: &Path, i: &Inputs, opts: &ReportSettings) -> anyhow::Result<Json> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output directory {}", dir.display()))?;
    let mut report = serde_json::to_value(build(i))?;
    let baseline = match &opts.gates.baseline {
        Some(p) => match load_baseline(p) {
            Ok(b) => {
                report["baseline"] = json!({"path": p.display().to_string()});
                Some(b)
            }
            Err(e) => {
                report["baseline"] =
                    json!({"path": p.display().to_string(), "error": format!("{e:#}")});
                None
            }
        },
        None => None,
    };
    let results = gates::evaluate(&opts.gates, &report, baseline.as_ref());
    report["gates"] = serde_json::to_value(&results)?;
    let mut files = serde_json::Map::new();
    files.insert("markdown".into(), json!("report.md"));
    let slo = opts
        .gates
        .p95
        .map(|d| d.as_secs_f64())
        .or(Some(i.state.detector.cfg.p95_warn));
    let data = plots::data(i.state, &report, slo);
    let drawn = plots::envelope_svg(&data).and_then(|e| Ok((e, plots::queue_svg(&data)?)));
    match drawn {
        Ok((envelope, queue)) => {
            for (key, file, svg) in [
                ("envelope_svg", plots::ENVELOPE_FILE, envelope),
                ("queue_svg", plots::QUEUE_FILE, queue),
            ] {
                if let Some(svg) = svg {
                    write(&dir.join(file), &svg)?;
                    files.insert(key.into(), json!(file));
                }
            }
        }
        Err(e) => report["plot_error"] = json!(e),
    }
    if let Some(rows) = report["plateaus"].as_array().filter(|r| !r.is_empty()) {
        write(
            &dir.join(crate::export::table::CSV_FILE),
            &crate::export::table::csv(rows),
        )?;
        write(
            &dir.join(crate::export::table::JSON_FILE),
            &crate::export::table::json(&report, rows)?,
        )?;
        files.insert("plateaus_csv".into(), json!(crate::export::table::CSV_FILE));
        files.insert(
            "plateaus_json".into(),
            json!(crate::export::table::JSON_FILE),
        );
    }
    report["files"] = Json::Object(files);
    write_report_files(dir, &report)?;
    Ok(report)
}

/// The end of a run: every local file first, then the exports (retried, never fatal), whose
/// results are added to report.json and report.md.
pub async fn finish(dir: &Path, i: &Inputs<'_>, opts: &ReportSettings) -> anyhow::Result<Outcome> {
    let mut report = write_local(dir, i, opts)?;
    let results = crate::export::push_all(&report, &opts.export).await;
    if !results.is_empty() {
        for r in &results {
            if r["ok"] != Json::Bool(true) {
                eprintln!(
                    "slitop: export to {} {} failed after {} attempt(s): {} (local files are kept)",
                    r["target"].as_str().unwrap_or("?"),
                    r["url"].as_str().unwrap_or("?"),
                    r["attempts"],
                    r["error"].as_str().unwrap_or("?")
                );
            }
        }
        report["exports"] = Json::Array(results);
        write_report_files(dir, &report)?;
    }
    Ok(Outcome {
        dir: dir.to_path_buf(),
        report,
    })
}
