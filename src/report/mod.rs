//! The end-of-run report: `report.json` (the data), `report.md` (rendered from that data
//! alone), SVG plots, the per-plateau table as CSV and JSON, and gates. Data flows one way:
//! the run's state (live, or a recording replayed) → `Report` → local files; the remote
//! exports (`crate::export`) read the finished report and never the other way round.

pub mod compare;
pub mod cross_plots;
pub mod data;
pub mod envelope;
pub mod format;
pub mod gates;
pub mod headline;
pub mod json;
pub mod littles_law;
pub mod markdown;
pub mod plateaus;
pub mod plots;
pub mod scale;
pub mod slo;
pub mod tables;
pub mod triage;
pub mod window;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value as Json;

use crate::settings::ReportSettings;
pub use data::Report;
pub use json::{build, signal_stats, Inputs};

/// The run's state the report is built from; the one place this module names where it lives.
use crate::state::RunState;

pub const JSON_FILE: &str = "report.json";
pub const MARKDOWN_FILE: &str = "report.md";

/// What a finished run leaves: its output directory and its report.
pub struct Outcome {
    pub dir: PathBuf,
    pub report: Report,
}

impl Outcome {
    /// Gates that failed, as "name: value > limit (note)" lines.
    pub fn failed_gates(&self) -> Vec<String> {
        self.report
            .failed_gates()
            .map(|g| {
                let mut s = format!(
                    "gate {} failed: {} (limit {})",
                    g.name,
                    format::in_unit(g.value, g.unit),
                    format::in_unit(Some(g.limit), g.unit)
                );
                if let Some(n) = &g.note {
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

/// The report.json a baseline path stands for: a run directory's, a recording's (beside it),
/// or the file itself.
fn baseline_report_path(path: &Path) -> anyhow::Result<std::path::PathBuf> {
    let is_json = path.extension().is_some_and(|e| e == "json");
    if !path.is_dir() && is_json {
        return Ok(path.to_path_buf());
    }
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    };
    let rep = dir.join("report.json");
    if rep.is_file() {
        return Ok(rep);
    }
    anyhow::bail!(
        "baseline {}: no report.json in {} (build one with `slitop report RECORDING`)",
        path.display(),
        if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }
        .display()
    )
}

/// Reads a baseline's report.json (a run directory, its recording or the file itself); errors
/// name the file (and the key that did not fit).
pub fn load_baseline(path: &Path) -> anyhow::Result<Report> {
    let path = &baseline_report_path(path)?;
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
    // Reading is lenient about missing keys, so first check that this is a report at all.
    if !v.get("summary").is_some_and(Json::is_object) || v.get("knee").is_none() {
        anyhow::bail!(
            "{}: not a slitop report.json (no \"summary\" or \"knee\"); pass the report.json of an earlier run",
            path.display()
        );
    }
    Report::from_value(&v).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a slitop report.json: `{}`: {}",
            path.display(),
            e.path(),
            e.inner()
        )
    })
}

/// Writes `path` whole or not at all: the text goes to a temporary file beside it, which is
/// synced and renamed over `path`, then the directory is synced. A kill or a full disk leaves
/// the previous file (or none), never a truncated one.
pub fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().to_string());
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Writes report.json and report.md from the report: both are tried, so a report.json that
/// does not fit still leaves the smaller report.md.
pub fn write_report_files(dir: &Path, report: &Report) -> anyhow::Result<()> {
    let json = write(&dir.join(JSON_FILE), &report.to_json()?);
    let md = write(&dir.join(MARKDOWN_FILE), &markdown::render(report));
    json.and(md)
}

/// Builds the report and writes every local file: plots, plateau tables, report.json and
/// report.md. Files that cannot be drawn are noted in the report, not fatal.
pub fn write_local(dir: &Path, i: &Inputs, opts: &ReportSettings) -> anyhow::Result<Report> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output directory {}", dir.display()))?;
    let mut report = build(i);
    let baseline = read_baseline(&mut report, opts);
    if let (Some(b), Some(r)) = (&baseline, &report.baseline) {
        let names = (r.path.as_str(), "this run");
        report.comparison = Some(compare::compare(
            b,
            &report,
            names,
            opts.report.compare_noise,
        ));
    }
    report.gates = gates::evaluate(&opts.gates, &report, baseline.as_ref());
    let slo = slo::evaluate(&opts.gates, i.state, &report);
    report.gates.extend(slo);
    report.files.markdown = MARKDOWN_FILE.into();
    // The p95 gate when one is set, else the detector's warning level.
    let slo = opts
        .gates
        .p95
        .map(|d| d.as_secs_f64())
        .or(Some(i.state.detector.cfg.p95_warn));
    let plot_data = plots::data(i.state, &report, slo);
    write_plots(dir, &mut report, plot_data)?;
    if !report.plateaus.is_empty() {
        // The tables repeat report.json's plateaus: one that cannot be written is left out
        // (and said), and report.json still is.
        let csv = write(&dir.join(tables::CSV_FILE), &tables::csv(&report.plateaus));
        let json = write(&dir.join(tables::JSON_FILE), &tables::json(&report)?);
        match csv.and(json) {
            Ok(()) => {
                report.files.plateaus_csv = Some(tables::CSV_FILE.into());
                report.files.plateaus_json = Some(tables::JSON_FILE.into());
            }
            Err(e) => eprintln!("slitop: {e:#}; the plateaus are in report.json"),
        }
    }
    write_report_files(dir, &report)?;
    Ok(report)
}

/// The baseline the gates compare against, named in the report. It was checked before the
/// run; one that has gone since is noted with why, and the gates that need it fail.
fn read_baseline(report: &mut Report, opts: &ReportSettings) -> Option<Report> {
    let p = opts.gates.baseline.as_deref()?;
    let (baseline, error) = match load_baseline(p) {
        Ok(b) => (Some(b), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let path = p.display().to_string();
    report.baseline = Some(data::BaselineRef { path, error });
    baseline
}

/// Draws both plots; one that cannot be drawn leaves `plot_error` in the report instead.
fn write_plots(dir: &Path, report: &mut Report, data: plots::PlotData) -> anyhow::Result<()> {
    let drawn = plots::envelope_svg(&data).and_then(|e| Ok((e, plots::queue_svg(&data)?)));
    let (envelope, queue) = match drawn {
        Ok(svgs) => svgs,
        Err(e) => {
            report.plot_error = Some(e);
            return Ok(());
        }
    };
    for (slot, file, svg) in [
        (
            &mut report.files.envelope_svg,
            plots::ENVELOPE_FILE,
            envelope,
        ),
        (&mut report.files.queue_svg, plots::QUEUE_FILE, queue),
    ] {
        if let Some(svg) = svg {
            match write(&dir.join(file), &svg) {
                Ok(()) => *slot = Some(file.into()),
                Err(e) => report.plot_error = Some(format!("{e:#}")),
            }
        }
    }
    Ok(())
}

/// The scaling curve's files: scale.md, scale.json and scale.svg in `dir` (written here, above
/// both the curve and its plot); returns the Markdown.
pub fn write_scale_files(dir: &Path, c: &scale::ScaleCurve) -> anyhow::Result<String> {
    let mut md = scale::markdown(c);
    match cross_plots::scale_svg(c) {
        Ok(svg) => {
            write(&dir.join(cross_plots::SCALE_FILE), &svg)?;
            md += &format!(
                "\n![capacity against workers]({})\n",
                cross_plots::SCALE_FILE
            );
        }
        Err(e) => md += &format!("\nThe plot could not be drawn: {e}\n"),
    }
    write(
        &dir.join(scale::JSON_FILE),
        &(serde_json::to_string_pretty(c)? + "\n"),
    )?;
    write(&dir.join(scale::MARKDOWN_FILE), &md)?;
    Ok(md)
}
