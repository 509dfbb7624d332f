//! Commands over finished runs: `slitop compare A B [C…]` (a delta table of each run against
//! the first, and their envelopes) and `slitop scale RUN…` (capacity against workers with a
//! scalability fit). Each writes Markdown, JSON and SVG into --out (default: a new
//! `slitop-compare` / `slitop-scale` directory) and prints the Markdown.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{exit::Failure, Cli};
use crate::report::compare::{self, Comparison};
use crate::report::{cross_plots, scale, write};
use crate::run::load::{load, LoadedRun};

fn load_all(paths: &[PathBuf], what: &'static str) -> Result<Vec<LoadedRun>, Failure> {
    let runs: Vec<LoadedRun> = paths
        .iter()
        .map(|p| load(p))
        .collect::<anyhow::Result<_>>()
        .map_err(|e| Failure::usage(what, e))?;
    Ok(unique_names(runs))
}

/// Runs with the same directory name get their path as name, so tables tell them apart.
fn unique_names(mut runs: Vec<LoadedRun>) -> Vec<LoadedRun> {
    let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    for r in &mut runs {
        if names.iter().filter(|n| **n == r.name).count() > 1 {
            r.name = r.path.display().to_string();
        }
    }
    runs
}

fn out_dir(cli: &Cli, default: &str) -> anyhow::Result<PathBuf> {
    let dir = match &cli.out {
        Some(d) => d.clone(),
        None => crate::run::header::unique_dir(Path::new(default))?,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Writes `compare.md`, `compare.json` and `compare.svg`; a failed --gate-regression exits 3.
pub fn compare_cmd(cli: &Cli, paths: &[PathBuf], noise: f64) -> Result<(), Failure> {
    let what = "slitop compare";
    let runs = load_all(paths, what)?;
    let base = &runs[0];
    let tables: Vec<Comparison> = runs[1..]
        .iter()
        .map(|r| compare::compare(&base.report, &r.report, (&base.name, &r.name), noise))
        .collect();
    let dir = out_dir(cli, "slitop-compare").map_err(|e| Failure::usage(what, e))?;
    let mut md = String::from("# Comparison\n\n");
    for t in &tables {
        md += &compare::markdown(t);
        md += "\n";
    }
    let named: Vec<(&str, &crate::report::Report)> =
        runs.iter().map(|r| (r.name.as_str(), &r.report)).collect();
    match cross_plots::compare_svg(&named) {
        Ok(Some(svg)) => {
            write(&dir.join(cross_plots::COMPARE_FILE), &svg).map_err(|e| Failure::run(what, e))?;
            md += &format!("![envelopes]({})\n", cross_plots::COMPARE_FILE);
        }
        Ok(None) => md += "No run has latency against a rising load: no envelope to draw.\n",
        Err(e) => md += &format!("The envelope could not be drawn: {e}\n"),
    }
    let json = serde_json::json!({ "comparisons": tables });
    let text = serde_json::to_string_pretty(&json).map_err(|e| Failure::run(what, e))? + "\n";
    write(&dir.join("compare.json"), &text).map_err(|e| Failure::run(what, e))?;
    write(&dir.join("compare.md"), &md).map_err(|e| Failure::run(what, e))?;
    println!("{md}");
    eprintln!("{what}: written to {}", dir.display());
    match cli.gates.gate_regression {
        Some(limit) => regression_gate(&tables, limit),
        None => Ok(()),
    }
}

/// --gate-regression over the table: the knee lower, or the run's p95 higher, than the
/// baseline's by more than `limit`.
fn regression_gate(tables: &[Comparison], limit: f64) -> Result<(), Failure> {
    let failed: Vec<String> = tables
        .iter()
        .flat_map(|t| {
            ["knee", "p95"].into_iter().filter_map(move |m| {
                let w = t.row(m, None)?.worse_by()?;
                (w > limit).then(|| {
                    format!(
                        "gate {m}_regression failed: {} is {:.1}% worse than {} (limit {:.1}%)",
                        t.run,
                        w * 100.0,
                        t.baseline,
                        limit * 100.0
                    )
                })
            })
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Gates {
            what: "slitop compare",
            failed,
        })
    }
}

/// Writes `scale.md`, `scale.json` and `scale.svg`.
pub fn scale_cmd(cli: &Cli, paths: &[PathBuf], rate: Option<f64>) -> Result<(), Failure> {
    let what = "slitop scale";
    let runs = load_all(paths, what)?;
    let named: Vec<(String, crate::report::Report)> =
        runs.into_iter().map(|r| (r.name, r.report)).collect();
    let curve = scale::curve(&named, rate).map_err(|e| Failure::usage(what, anyhow::anyhow!(e)))?;
    let dir = out_dir(cli, "slitop-scale").map_err(|e| Failure::usage(what, e))?;
    let md = crate::report::write_scale_files(&dir, &curve).map_err(|e| Failure::run(what, e))?;
    println!("{md}");
    eprintln!("{what}: written to {}", dir.display());
    Ok(())
}
