//! `slitop replay FILE --headless --out DIR`: feeds a recording's events and ticks, in their
//! order, through a fresh `RunState` — the same store → signals → detect path as a live run —
//! and writes the same outputs. The stage transitions must come out as they were recorded.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};

use crate::detect::Transition;
use crate::headless::Output;
use crate::promql::EvalOptions;
use crate::record::read::{Record, Recording};
use crate::report::{Inputs, Outcome};
use crate::runtime::{Notice, RunState};
use crate::settings::ReportSettings;

/// Replays a recording into a state; returns it with the transitions the recording holds.
pub fn replay_into(
    rec: &Recording,
    out: Option<&mut Output>,
) -> anyhow::Result<(RunState, Vec<Transition>)> {
    replay_observed(rec, out, |_, _, _| {})
}

/// `replay_into`, calling `observe` after each record is applied with the state, the record and
/// the notice it caused (the dashboard builds its timeline this way).
pub fn replay_observed(
    rec: &Recording,
    mut out: Option<&mut Output>,
    mut observe: impl FnMut(&RunState, &Record, Option<&Notice>),
) -> anyhow::Result<(RunState, Vec<Transition>)> {
    let h = &rec.header;
    let opts = EvalOptions {
        lookback_ms: h.lookback_ms,
        ..EvalOptions::default()
    };
    let mut state = RunState::from_parts(
        &h.signals,
        h.local_sources,
        opts,
        h.refresh_ms,
        h.detect.clone(),
    )
    .map_err(|e| anyhow!("the recording's signals do not compile: {e}"))?;
    let mut recorded = Vec::new();
    for r in &rec.records {
        let mut notice = None;
        match r {
            Record::Event(ev) => {
                notice = match out.as_deref_mut() {
                    Some(o) => o.apply(&mut state, ev.clone())?,
                    None => state.apply(ev.clone()),
                }
            }
            Record::Tick(t) => match out.as_deref_mut() {
                Some(o) => o.tick(&mut state, *t)?,
                None => {
                    state.tick(*t);
                }
            },
            Record::Annotation { t, text } => match out.as_deref_mut() {
                Some(o) => o.annotate(&mut state, *t, text)?,
                None => state.annotations.push((*t, text.clone())),
            },
            Record::Stage(tr) => recorded.push(tr.clone()),
            Record::End(_) => {}
        }
        observe(&state, r, notice.as_ref());
    }
    Ok((state, recorded))
}

/// When the recording ends: its `end` line, else its last tick, else its start.
fn ended(rec: &Recording) -> crate::model::TimeMs {
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
    let rec = Recording::read(file).map_err(anyhow::Error::msg)?;
    if rec.torn_tail {
        eprintln!(
            "slitop: {}: the last line was cut short (the run was killed); using it up to there",
            file.display()
        );
    }
    Ok(rec)
}

/// `slitop report RECORDING`: replays the recording through the same pipeline and writes the
/// report's files next to it (or into `out`). The transitions are not compared: a report can
/// be rebuilt from a recording made by another version.
pub async fn report(
    rec: &Recording,
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
    let (state, _) = replay_into(rec, None)?;
    let inputs = Inputs {
        state: &state,
        header: &rec.header,
        ended: ended(rec),
        cfg: &opts.report,
    };
    crate::export::finish(&dir, &inputs, opts).await
}

pub async fn run(
    rec: &Recording,
    file: &Path,
    out: Option<PathBuf>,
    opts: &ReportSettings,
) -> anyhow::Result<Outcome> {
    let dir = out
        .unwrap_or_else(|| PathBuf::from(format!("{}-replay", file.with_extension("").display())));
    if dir.join("recording.jsonl") == file {
        bail!(
            "--out {} would overwrite the recording being replayed; choose another directory",
            dir.display()
        );
    }
    let mut output = Output::create(&dir, &rec.header)?;
    let (state, recorded) = replay_into(rec, Some(&mut output))?;
    let outcome = output.finish(&state, ended(rec), opts).await?;
    eprintln!(
        "slitop replay: report in {}",
        outcome.dir.join("report.md").display()
    );
    if state.transitions != recorded {
        bail!(
            "replayed stage transitions differ from the recorded ones ({} replayed, {} recorded): the recording may come from another slitop version ({})",
            state.transitions.len(),
            recorded.len(),
            rec.header.slitop_version
        );
    }
    Ok(outcome)
}
