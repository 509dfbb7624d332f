//! What a run writes as it goes: the recording (every source event, tick, transition and note,
//! in order) and the notes file. Live runs and headless replays write through the same sink.
//!
//! A recording write that fails (a full disk) does not end the run: the recording stops there
//! (what it holds stays readable: a torn end is dropped by the reader), the run says so
//! once, notes still go to annotations.jsonl, and the report is written at the end if the disk
//! allows by then.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::detect::Transition;
use crate::model::{SourceEvent, TimeMs};
use crate::record::write::Recorder;
use crate::record::{Header, RecordFormat};
use crate::state::{Notice, RunState};

pub struct Output {
    dir: PathBuf,
    recorder: Recorder,
    annotations: Option<std::fs::File>,
    /// Why the recording stopped, once a write to it failed.
    broken: Option<String>,
    /// The failure still to be told to the mode.
    untold: Option<String>,
}

impl Output {
    pub fn create(dir: &Path, header: &Header, format: RecordFormat) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            recorder: Recorder::create(dir, header, format)?,
            annotations: None,
            broken: None,
            untold: None,
        })
    }

    /// Runs a write to the recording unless it has stopped; a failure stops it.
    fn record(&mut self, write: impl FnOnce(&mut Recorder) -> anyhow::Result<()>) {
        if self.broken.is_some() {
            return;
        }
        if let Err(e) = write(&mut self.recorder) {
            let why = format!("{e:#}");
            self.untold = Some(format!(
                "the recording stopped: {why}; the run goes on, notes still go to annotations.jsonl, and the report is written at the end if the disk allows"
            ));
            self.broken = Some(why);
        }
    }

    /// The recording's failure, once, for the mode to show.
    pub fn take_failure(&mut self) -> Option<String> {
        self.untold.take()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The recording's file.
    pub fn recording(&self) -> &Path {
        self.recorder.path()
    }

    /// Records a source event, then applies it.
    pub fn apply(
        &mut self,
        state: &mut RunState,
        ev: SourceEvent,
    ) -> anyhow::Result<Option<Notice>> {
        self.record(|r| r.event(&ev));
        Ok(state.apply(ev))
    }

    /// One refresh: the tick, the detector's step and its transitions, all flushed.
    pub fn tick(&mut self, state: &mut RunState, t: TimeMs) -> anyhow::Result<Vec<Transition>> {
        self.record(|r| r.tick(t));
        let transitions = state.tick(t);
        self.record(|r| {
            for tr in &transitions {
                r.transition(tr)?;
            }
            r.flush()
        });
        Ok(transitions)
    }

    /// Saves a note: appended and fsynced to `annotations.jsonl` and flushed to the recording
    /// before the run state (and so the screen) holds it. On error nothing claims it was saved.
    /// Returns the text as saved (cleaned of control characters).
    pub fn annotate(
        &mut self,
        state: &mut RunState,
        t: TimeMs,
        text: &str,
    ) -> anyhow::Result<String> {
        let text = crate::text::clean(text);
        let p = self.dir.join("annotations.jsonl");
        if self.annotations.is_none() {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .with_context(|| format!("cannot open {}", p.display()))?;
            self.annotations = Some(f);
        }
        if let Some(f) = &mut self.annotations {
            let line = json!({"t": t, "text": text}).to_string() + "\n";
            f.write_all(line.as_bytes())
                .and_then(|_| f.sync_data())
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        // Saved once in annotations.jsonl: a recording that stopped does not unsave it.
        self.record(|r| r.annotation(t, &text));
        state.annotations.push((t, text.clone()));
        Ok(text)
    }

    /// Closes the recording with its end line.
    pub fn end(&mut self, ended: TimeMs) -> anyhow::Result<()> {
        self.record(|r| r.end(ended));
        Ok(())
    }
}
