//! Appends a run to its recording, flushing on every tick so a `kill -9` loses at most the
//! last refresh.
//!
//! Compressed, the lines go through one zstd stream: each flush ends a zstd block (so what
//! was flushed is in the file, decodable, and later blocks still find their matches in the
//! earlier ones, which is where the ratio comes from), and every `FRAME_FLUSHES` flushes and
//! at the end the frame is closed with its checksum and a new one begun, so a damaged or
//! unfinished frame costs at most those ticks' worth of history, never the frames before it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde_json::{json, Value as Json};
use zstd::zstd_safe::CParameter;

use super::{encode_health, encode_value, Header, RecordFormat, COMPRESSED_FILE, PLAIN_FILE};
use crate::detect::Transition;
use crate::model::{Labels, SourceEvent, TimeMs};

/// Flushes (ticks, notes) per zstd frame: about a minute at the default refresh. A frame is
/// the unit `zstd -t` checks, and closing one costs only the history the next cannot use.
const FRAME_FLUSHES: u32 = 60;

/// zstd's default level: at a few KB per second, speed is no concern and higher levels gain
/// little on short flushed blocks.
const LEVEL: i32 = 3;

/// Lines held between flushes are written out once they reach this size.
const LINES_HELD: usize = 64 * 1024;

enum Sink {
    Plain(BufWriter<File>),
    /// `None` once the recording ended (or a write failed while a frame was being closed).
    Zstd {
        frame: Option<zstd::stream::write::Encoder<'static, File>>,
        flushes: u32,
    },
}

fn frame(file: File) -> std::io::Result<zstd::stream::write::Encoder<'static, File>> {
    let mut enc = zstd::stream::write::Encoder::new(file, LEVEL)?;
    enc.include_checksum(true)?;
    // Small match tables: a flush compresses a few KB once a second, by which time the
    // level's default tables (hundreds of KB) have left the cache. With 4K entries a flush
    // costs about half as much and the ratio is the same: the matches are in the last
    // refreshes, well inside a 128 KiB window.
    enc.set_parameter(CParameter::WindowLog(17))?;
    enc.set_parameter(CParameter::HashLog(12))?;
    enc.set_parameter(CParameter::ChainLog(12))?;
    Ok(enc)
}

impl Sink {
    fn writer(&mut self) -> std::io::Result<&mut dyn Write> {
        match self {
            Sink::Plain(w) => Ok(w),
            Sink::Zstd { frame: Some(f), .. } => Ok(f),
            Sink::Zstd { frame: None, .. } => Err(closed()),
        }
    }

    /// Everything written so far into the file (a zstd block); every `FRAME_FLUSHES` the
    /// frame is closed and another begun. At the `end` the last frame is closed and the file
    /// synced to the disk.
    fn flush(&mut self, end: bool) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => {
                w.flush()?;
                if end {
                    w.get_ref().sync_all()?;
                }
                Ok(())
            }
            Sink::Zstd {
                frame: slot,
                flushes,
            } => {
                let Some(enc) = slot.as_mut() else {
                    return Err(closed());
                };
                enc.flush()?;
                *flushes += 1;
                if end || *flushes >= FRAME_FLUSHES {
                    *flushes = 0;
                    let file = slot.take().ok_or_else(closed)?.finish()?;
                    if end {
                        return file.sync_all();
                    }
                    *slot = Some(frame(file)?);
                }
                Ok(())
            }
        }
    }
}

/// A samples line, serialized as it is written: the bulk of a recording, so no `Value` tree is
/// built for it. Keys in the order a `json!` object has them (sorted), so lines read the same.
#[derive(Serialize)]
struct SamplesLine<'a> {
    k: &'static str,
    s: Vec<(u64, TimeMs, Encoded)>,
    src: &'a str,
}

/// A number as `encode_value` writes it.
struct Encoded(f64);

impl Serialize for Encoded {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match encode_value(self.0) {
            Json::String(s) => ser.serialize_str(&s),
            _ => ser.serialize_f64(self.0),
        }
    }
}

fn closed() -> std::io::Error {
    std::io::Error::other("the recording's zstd stream is closed (ended, or a write failed)")
}

pub struct Recorder {
    path: PathBuf,
    out: Sink,
    /// The lines since the last flush, serialized here and handed to the stream in one call
    /// at the flush (a value formatted straight into it costs a compression call per token).
    buf: Vec<u8>,
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
    /// Starts a recording in run directory `dir`, which must hold none (of either format):
    /// a run never overwrites one.
    pub fn create(dir: &Path, header: &Header, format: RecordFormat) -> anyhow::Result<Self> {
        for other in [COMPRESSED_FILE, PLAIN_FILE] {
            let p = dir.join(other);
            if other != format.file_name() && p.exists() {
                anyhow::bail!(
                    "{} already exists: a run never overwrites an earlier one's files; give --out a new directory",
                    p.display()
                );
            }
        }
        let path = dir.join(format.file_name());
        let f = create_new(&path)?;
        let out = match format {
            RecordFormat::Jsonl => Sink::Plain(BufWriter::new(f)),
            RecordFormat::Zstd => Sink::Zstd {
                frame: Some(frame(f).with_context(|| format!("cannot write {}", path.display()))?),
                flushes: 0,
            },
        };
        let mut r = Self {
            path,
            out,
            buf: Vec::new(),
            series: HashMap::new(),
            wanted: crate::settings::wanted_series(&header.signals),
        };
        r.line(&serde_json::to_value(header)?)?;
        r.flush()?;
        Ok(r)
    }

    /// Where the recording is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn line(&mut self, v: &impl Serialize) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.buf, v)?;
        self.buf.push(b'\n');
        if self.buf.len() >= LINES_HELD {
            self.write_lines()?;
        }
        Ok(())
    }

    /// Hands the lines held so far to the file's stream.
    fn write_lines(&mut self) -> anyhow::Result<()> {
        let buf = &self.buf;
        let r = self.out.writer().and_then(|w| w.write_all(buf));
        self.buf.clear();
        r.with_context(|| format!("cannot write {}", self.path.display()))
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.write_lines()?;
        self.out
            .flush(false)
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
                    rows.push((self.series_id(&s.labels)?, s.t, Encoded(s.value)));
                }
                return self.line(&SamplesLine {
                    k: "samples",
                    s: rows,
                    src: source,
                });
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
        self.write_lines()?;
        self.out
            .flush(true)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

impl Drop for Recorder {
    /// A run that stops without its end line (an error) still leaves its last frame closed:
    /// nothing written is lost, and `zstd -dc` reads the file without complaint.
    fn drop(&mut self) {
        let _ = self.write_lines();
        if let Sink::Zstd { frame, .. } = &mut self.out {
            if let Some(enc) = frame.take() {
                let _ = enc.finish();
            }
        }
    }
}
