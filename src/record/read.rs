//! Reads a recording back. A torn last line (the run was killed mid-write) is dropped; any
//! other bad line is an error naming the file, the line and what was wrong.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value as Json;

use super::{decode_health, decode_value, Header, FORMAT_VERSION};
use crate::detect::{StageId, StageState, Transition};
use crate::model::{Labels, Sample, SignalPoint, SourceEvent, TimeMs};

#[derive(Clone, Debug)]
pub enum Record {
    Event(SourceEvent),
    Tick(TimeMs),
    Stage(Transition),
    Annotation { t: TimeMs, text: String },
    End(TimeMs),
}

/// Why a recording cannot be read; every message names the file (and the line).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{file}: cannot read recording: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: empty file; expected a slitop recording")]
    Empty { file: String },
    #[error("{file}:{line}: {message}")]
    At {
        file: String,
        line: usize,
        message: String,
    },
}

#[derive(Clone)]
pub struct Recording {
    pub header: Header,
    pub records: Vec<Record>,
    /// True when the last line was cut short and dropped.
    pub torn_tail: bool,
}

fn labels(v: &Json) -> Result<Labels, String> {
    let m: BTreeMap<String, String> =
        serde_json::from_value(v.clone()).map_err(|e| format!("labels: {e}"))?;
    Ok(Labels(m))
}

fn str_field(v: &Json, k: &str) -> Result<String, String> {
    v.get(k)
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("field {k:?}: expected a string"))
}

fn int_field(v: &Json, k: &str) -> Result<i64, String> {
    v.get(k)
        .and_then(Json::as_i64)
        .ok_or_else(|| format!("field {k:?}: expected an integer"))
}

fn value(v: &Json) -> Result<f64, String> {
    decode_value(v).ok_or_else(|| {
        format!("value {v}: expected a number, \"NaN\", \"+Inf\", \"-Inf\" or \"stale\"")
    })
}

/// One line of a recording as a record; series lines only fill the label-set table.
// One piece: one match arm per record kind of the format (docs/recording.md), in its order.
fn parse_record(v: &Json, series: &mut HashMap<u64, Labels>) -> Result<Option<Record>, String> {
    let kind = str_field(v, "k")?;
    Ok(Some(match kind.as_str() {
        "series" => {
            let id = int_field(v, "id")? as u64;
            series.insert(
                id,
                labels(v.get("labels").ok_or("field \"labels\" missing")?)?,
            );
            return Ok(None);
        }
        "samples" => {
            let rows = v
                .get("s")
                .and_then(Json::as_array)
                .ok_or("field \"s\": expected an array")?;
            let mut samples = Vec::with_capacity(rows.len());
            for r in rows {
                let (Some(id), Some(t), Some(val)) = (
                    r.get(0).and_then(Json::as_u64),
                    r.get(1).and_then(Json::as_i64),
                    r.get(2),
                ) else {
                    return Err(format!("sample {r}: expected [series id, unix ms, value]"));
                };
                let l = series.get(&id).ok_or_else(|| {
                    format!("sample names series {id}, which no earlier line defines")
                })?;
                samples.push(Sample::new(l.clone(), t, value(val)?));
            }
            Record::Event(SourceEvent::Samples {
                source: str_field(v, "src")?,
                samples,
            })
        }
        "values" => {
            let pts = v
                .get("p")
                .and_then(Json::as_array)
                .ok_or("field \"p\": expected an array")?;
            let mut points = Vec::with_capacity(pts.len());
            for p in pts {
                points.push(SignalPoint {
                    labels: labels(p.get("labels").unwrap_or(&Json::Null))?,
                    t: int_field(p, "t")?,
                    value: value(p.get("v").unwrap_or(&Json::Null))?,
                });
            }
            Record::Event(SourceEvent::SignalValues {
                source: str_field(v, "src")?,
                signal: str_field(v, "signal")?,
                points,
            })
        }
        "query_error" => Record::Event(SourceEvent::QueryError {
            source: str_field(v, "src")?,
            signal: str_field(v, "signal")?,
            error: str_field(v, "error")?,
        }),
        "warnings" => Record::Event(SourceEvent::QueryWarnings {
            source: str_field(v, "src")?,
            signal: str_field(v, "signal")?,
            warnings: serde_json::from_value(v.get("warnings").cloned().unwrap_or_default())
                .map_err(|e| format!("warnings: {e}"))?,
        }),
        "health" => Record::Event(SourceEvent::Health {
            source: str_field(v, "src")?,
            t: int_field(v, "t")?,
            health: v.get("health").and_then(decode_health).ok_or(
                "field \"health\": expected {\"state\": ok|starting|stale|down|finished, ...}",
            )?,
        }),
        "tick" => Record::Tick(int_field(v, "t")?),
        "stage" => {
            let id = str_field(v, "stage")?;
            let state = str_field(v, "state")?;
            Record::Stage(Transition {
                t: int_field(v, "t")?,
                stage: StageId::parse(&id).ok_or_else(|| format!("unknown stage {id:?}"))?,
                state: serde_json::from_value::<StageState>(Json::String(state.clone()))
                    .map_err(|_| format!("unknown stage state {state:?}"))?,
                evidence: str_field(v, "evidence").unwrap_or_default(),
            })
        }
        "annotation" => Record::Annotation {
            t: int_field(v, "t")?,
            text: str_field(v, "text")?,
        },
        "end" => Record::End(int_field(v, "t")?),
        // Lines of kinds added by later minor versions are skipped.
        _ => return Ok(None),
    }))
}

impl Recording {
    /// Keeps the records up to `ms` after the first refresh: the run as it stood then.
    pub fn cut_after(&mut self, ms: crate::model::TimeMs) {
        let first = self.records.iter().find_map(|r| match r {
            Record::Tick(t) => Some(*t),
            _ => None,
        });
        if let Some(first) = first {
            let cut = self
                .records
                .iter()
                .position(|r| matches!(r, Record::Tick(t) if *t > first + ms))
                .unwrap_or(self.records.len());
            self.records.truncate(cut);
        }
    }

    pub fn read(path: &Path) -> Result<Recording, RecordError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecordError::Io {
            file: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, name: &str) -> Result<Recording, RecordError> {
        let at = |line: usize, message: String| RecordError::At {
            file: name.to_string(),
            line,
            message,
        };
        let lines: Vec<&str> = text.lines().collect();
        let first = lines.first().ok_or_else(|| RecordError::Empty {
            file: name.to_string(),
        })?;
        let header: Header = serde_json::from_str(first)
            .map_err(|e| at(1, format!("not a slitop recording header ({e})")))?;
        if header.kind != "slitop-recording" {
            let m = format!("kind {:?}; expected \"slitop-recording\"", header.kind);
            return Err(at(1, m));
        }
        if header.format > FORMAT_VERSION {
            return Err(at(1, format!(
                "recording format {} is newer than this slitop reads ({FORMAT_VERSION}); upgrade slitop",
                header.format
            )));
        }
        let mut series = HashMap::new();
        let mut records = Vec::new();
        let mut torn_tail = false;
        // A file cut mid-line ends without a newline.
        let complete = text.ends_with('\n');
        for (i, line) in lines.iter().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let last = i == lines.len() - 1;
            let parsed = serde_json::from_str::<Json>(line)
                .map_err(|e| e.to_string())
                .and_then(|v| parse_record(&v, &mut series));
            match parsed {
                Ok(Some(r)) => records.push(r),
                Ok(None) => {}
                Err(_) if last && !complete => torn_tail = true,
                Err(e) => return Err(at(i + 1, e)),
            }
        }
        Ok(Recording {
            header,
            records,
            torn_tail,
        })
    }
}
