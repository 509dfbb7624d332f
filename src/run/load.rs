//! A finished run from a path, as `slitop compare`, `slitop scale` and a baseline read it: a
//! run directory (its report.json, else its recording rebuilt), a recording (rebuilt)
//! or a report.json. Rebuilding writes nothing: the report is built in memory, so reading
//! someone's run never changes their directory.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::report::{Report, JSON_FILE};
use crate::settings::ReportConfig;

/// A run read from a path, and where its report came from (for the reader's messages).
#[derive(Clone, Debug)]
pub struct LoadedRun {
    /// The path as given.
    pub path: PathBuf,
    /// A short name for tables and plot legends: the run directory's name.
    pub name: String,
    pub report: Report,
    /// True when the report was rebuilt from the recording.
    pub rebuilt: bool,
}

/// Reads the run at `path`: a directory, a recording (`.jsonl`) or a report (`.json`).
pub fn load(path: &Path) -> anyhow::Result<LoadedRun> {
    let meta = std::fs::metadata(path).with_context(|| {
        format!(
            "{}: no such run directory, recording or report.json",
            path.display()
        )
    })?;
    let (report, rebuilt) = if meta.is_dir() {
        let json = path.join(JSON_FILE);
        if json.is_file() {
            (crate::report::load_baseline(&json)?, false)
        } else if let Some(rec) = crate::record::find_in(path) {
            (rebuild(&rec)?, true)
        } else {
            bail!(
                "{}: a run directory holds {JSON_FILE} or a recording ({}, {}); this one has neither",
                path.display(),
                crate::record::COMPRESSED_FILE,
                crate::record::PLAIN_FILE
            );
        }
    } else {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => (crate::report::load_baseline(path)?, false),
            Some("jsonl" | "zst") => (rebuild(path)?, true),
            _ => bail!(
                "{}: expected a run directory, a recording (.jsonl, .jsonl.zst) or a report.json (.json)",
                path.display()
            ),
        }
    };
    Ok(LoadedRun {
        path: path.to_path_buf(),
        name: run_name(path),
        report,
        rebuilt,
    })
}

/// The report a recording makes, built in memory with the default plateau rules.
fn rebuild(recording: &Path) -> anyhow::Result<Report> {
    let rec = super::replay::read(recording)?;
    let ended = super::replay::ended(&rec);
    let (state, _) = super::rebuild::replay_into(&rec)
        .with_context(|| format!("{}: cannot replay the recording", recording.display()))?;
    let cfg = ReportConfig::default();
    Ok(crate::report::build(&crate::report::Inputs {
        state: &state,
        header: &rec.header,
        ended,
        cfg: &cfg,
    }))
}

/// The run directory's name: the path itself for a directory, else its parent's, else the
/// file's stem.
fn run_name(path: &Path) -> String {
    let dir = if path.is_dir() {
        Some(path)
    } else {
        path.parent().filter(|p| !p.as_os_str().is_empty())
    };
    let canonical = dir.and_then(|d| d.canonicalize().ok());
    canonical
        .as_deref()
        .and_then(Path::file_name)
        .or_else(|| path.file_stem())
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_input_says_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let err = |p: &Path| format!("{:#}", load(p).unwrap_err());
        assert!(err(&dir.path().join("nope")).contains("no such run directory"));
        assert!(err(dir.path()).contains("has neither"));
        let txt = dir.path().join("notes.txt");
        std::fs::write(&txt, "x").unwrap();
        assert!(err(&txt).contains("expected a run directory"));
        let bad = dir.path().join("report.json");
        std::fs::write(&bad, "{\"summary\": 1}").unwrap();
        assert!(err(&bad).contains("not a slitop report.json"));
        std::fs::write(&bad, "{").unwrap();
        assert!(err(&bad).contains("is not JSON"));
        let rec = dir.path().join("r.jsonl");
        std::fs::write(&rec, "not json\n").unwrap();
        assert!(err(&rec).contains("r.jsonl"));
    }
}
