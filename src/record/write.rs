//! Appends a run to `recording.jsonl`, flushing on every tick so a `kill -9` loses at most the
//! last refresh.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value as Json};

use super::{encode_health, encode_value, Header};
use crate::detect::Transition;
use crate::model::{Labels, SourceEvent, TimeMs};

pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    series: HashMap<Labels, u64>,
    /// Metric names some signal's query mentions (only those series can change a signal) and
    /// the queue view's: only those are recorded (a scrape carries many more); `None`: all.
    wanted: Option<HashSet<String>>,
}

/// Creates `path` for writing, refusing one that exists (a recording, headless lines): an
/// earlier run's files are never replaced.
pub fn create_new(path: &Path) -> anyhow::Result<File> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => anyhow::bail!(
            "{} already exists: a run never overwrites an earlier one's files; give --out a new directory",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

impl Recorder {
    /// Starts a recording at `path`, which must not exist: a run never overwrites one.
    pub fn create(path: &Path, header: &Header) -> anyhow::Result<Self> {
        let f = create_new(path)?;
        let mut r = Self {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
            series: HashMap::new(),
            wanted: crate::settings::wanted_series(&header.signals),
        };
        r.line(&serde_json::to_value(header)?)?;
        r.flush()?;
        Ok(r)
    }

    fn line(&mut self, v: &Json) -> anyhow::Result<()> {
        writeln!(self.out, "{v}").with_context(|| format!("cannot write {}", self.path.display()))
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.out
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn series_id(&mut self, l: &Labels) -> anyhow::Result<u64> {
        if let Some(id) = self.series.get(l) {
            return Ok(*id);
        }
        let id = self.series.len() as u64;
        self.series.insert(l.clone(), id);
        self.line(&json!({"k": "series", "id": id, "labels": l}))?;
        Ok(id)
    }

    /// Records a source event exactly as it is about to be applied.
    pub fn event(&mut self, ev: &SourceEvent) -> anyhow::Result<()> {
        let v = match ev {
            SourceEvent::Samples { source, samples } => {
                let mut rows = Vec::with_capacity(samples.len());
                let wanted = |s: &&crate::model::Sample| {
                    let name = s.labels.name();
                    self.wanted
                        .as_ref()
                        .is_none_or(|w| name.is_some_and(|n| w.contains(n)))
                };
                let keep: Vec<&crate::model::Sample> = samples.iter().filter(wanted).collect();
                for s in keep {
                    rows.push(json!([
                        self.series_id(&s.labels)?,
                        s.t,
                        encode_value(s.value)
                    ]));
                }
                json!({"k": "samples", "src": source, "s": rows})
            }
            SourceEvent::SignalValues {
                source,
                signal,
                points,
            } => {
                let p: Vec<Json> = points
                    .iter()
                    .map(|p| json!({"labels": p.labels, "t": p.t, "v": encode_value(p.value)}))
                    .collect();
                json!({"k": "values", "src": source, "signal": signal, "p": p})
            }
            SourceEvent::QueryError {
                source,
                signal,
                error,
            } => json!({"k": "query_error", "src": source, "signal": signal, "error": error}),
            SourceEvent::QueryWarnings {
                source,
                signal,
                warnings,
            } => json!({"k": "warnings", "src": source, "signal": signal, "warnings": warnings}),
            SourceEvent::Health { source, t, health } => {
                json!({"k": "health", "src": source, "t": t, "health": encode_health(health)})
            }
        };
        self.line(&v)
    }

    pub fn tick(&mut self, t: TimeMs) -> anyhow::Result<()> {
        self.line(&json!({"k": "tick", "t": t}))
    }

    pub fn transition(&mut self, tr: &Transition) -> anyhow::Result<()> {
        self.line(&json!({"k": "stage", "t": tr.t, "stage": tr.stage.id(), "state": tr.state.word(), "evidence": tr.evidence}))
    }

    /// Annotations are flushed at once: they are never lost once confirmed.
    pub fn annotation(&mut self, t: TimeMs, text: &str) -> anyhow::Result<()> {
        self.line(&json!({"k": "annotation", "t": t, "text": text}))?;
        self.flush()
    }

    /// The end line, flushed and synced to the disk: a finished recording survives a crash
    /// of the machine.
    pub fn end(&mut self, t: TimeMs) -> anyhow::Result<()> {
        self.line(&json!({"k": "end", "t": t}))?;
        self.flush()?;
        self.out
            .get_ref()
            .sync_all()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}
