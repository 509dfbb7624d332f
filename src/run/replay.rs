//! Recordings through the run lifecycle: `slitop replay FILE --headless --out DIR` writes the
//! same outputs a live run wrote (its stage transitions must come out as they were recorded),
//! and `slitop report RECORDING` rebuilds a run's report from its recording alone.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::lines::Lines;
use super::rebuild::drain;
pub use super::rebuild::replay_into;
use super::Run;
use crate::record::read::{Record, Recording};
use crate::report::Outcome;
use crate::settings::ReportSettings;

/// When the recording ends: its `end` line, else its last tick, else its start.
pub fn ended(rec: &Recording) -> crate::model::TimeMs {
    rec.records
        .iter()
        .rev()
        .find_map(|r| match r {
            Record::End(t) | Record::Tick(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(rec.header.started_unix_ms)
}

pub fn read(file: &Path) -> anyhow::Result<Recording> {
    let rec = Recording::read(file)?;
    if rec.torn_tail {
        eprintln!(
            "slitop: {}: the end was cut short (the run was killed); using it up to there",
            file.display()
        );
    }
    Ok(rec)
}

/// `slitop report RECORDING`: the report's files next to the recording (or in `out`). The
/// transitions are not compared: a report can be rebuilt from another version's recording.
pub async fn report(
    rec: Recording,
    file: &Path,
    out: Option<PathBuf>,
    opts: &ReportSettings,
) -> anyhow::Result<Outcome> {
    let dir = out.unwrap_or_else(|| {
        file.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    let mut run = Run::replay(rec, None)?;
    drain(&mut run)?;
    run.finish(&dir, opts).await
}

/// The two paths name one file (by device and inode, so a symlink or `./` does not hide it).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// `slitop replay FILE --headless`: the recording through the lifecycle into a new directory,
/// JSON lines included (against `baseline` when given); fails when the replayed transitions
/// differ from the recorded ones.
pub async fn run(
    rec: Recording,
    file: &Path,
    (out, format): (Option<PathBuf>, crate::record::RecordFormat),
    opts: &ReportSettings,
    baseline: Option<super::baseline::Baseline>,
) -> anyhow::Result<Outcome> {
    let dir = out
        .unwrap_or_else(|| PathBuf::from(format!("{}-replay", file.with_extension("").display())));
    if same_file(&dir.join(format.file_name()), file) {
        bail!(
            "--out {} would overwrite the recording being replayed; choose another directory",
            dir.display()
        );
    }
    let version = rec.header.slitop_version.clone();
    let mut run = Run::replay(rec, Some((&dir, format)))?;
    let mut lines = Lines::create(&dir)?.with_baseline(baseline);
    super::headless::print_steps(&mut run, &mut lines).await?;
    let recorded = run.recorded_transitions().to_vec();
    let replayed = run.state.transitions.clone();
    let outcome = run.finish(&dir, opts).await?;
    eprintln!(
        "slitop replay: report in {}",
        outcome.dir.join("report.md").display()
    );
    if replayed != recorded {
        bail!(
            "replayed stage transitions differ from the recorded ones ({} replayed, {} recorded): the recording may come from another slitop version ({})",
            replayed.len(),
            recorded.len(),
            version
        );
    }
    Ok(outcome)
}
