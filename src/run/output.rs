//! What a run writes as it goes: the recording (every source event, tick, transition and note,
//! in order) and the notes file. Live runs and headless replays write through the same sink.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::detect::Transition;
use crate::model::{SourceEvent, TimeMs};
use crate::record::write::Recorder;
use crate::record::Header;
use crate::state::{Notice, RunState};

pub struct Output {
    dir: PathBuf,
    recorder: Recorder,
    annotations: Option<std::fs::File>,
}

impl Output {
    pub fn create(dir: &Path, header: &Header) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            recorder: Recorder::create(&dir.join("recording.jsonl"), header)?,
            annotations: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records a source event, then applies it.
    pub fn apply(
        &mut self,
        state: &mut RunState,
        ev: SourceEvent,
    ) -> anyhow::Result<Option<Notice>> {
        self.recorder.event(&ev)?;
        Ok(state.apply(ev))
    }

    /// One refresh: the tick, the detector's step and its transitions, all flushed.
    pub fn tick(&mut self, state: &mut RunState, t: TimeMs) -> anyhow::Result<Vec<Transition>> {
        self.recorder.tick(t)?;
        let transitions = state.tick(t);
        for tr in &transitions {
            self.recorder.transition(tr)?;
        }
        self.recorder.flush()?;
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
        self.recorder.annotation(t, &text)?;
        self.recorder.flush()?;
        state.annotations.push((t, text.clone()));
        Ok(text)
    }

    /// Closes the recording with its end line.
    pub fn end(&mut self, ended: TimeMs) -> anyhow::Result<()> {
        self.recorder.end(ended)?;
        self.recorder.flush()
    }
}
