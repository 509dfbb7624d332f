//! Reads a recording back, plain or zstd-compressed (told apart by the zstd magic number, not
//! by the name), streaming. A torn end (the run was killed mid-write: a last line, or the zstd
//! block being written) is dropped; any other bad line is an error naming the file, the line
//! and what was wrong.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
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
    /// True when the end was cut short (a last line, or a last zstd block) and dropped.
    pub torn_tail: bool,
}

fn labels(v: &Json) -> Result<Labels, String> {
    // Read in place: the line's JSON is not copied to take its labels.
    let m = BTreeMap::<String, String>::deserialize(v).map_err(|e| format!("labels: {e}"))?;
    Ok(Labels::from(m))
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

    /// Reads a recording line by line (the file is never held whole), decompressing it as
    /// it goes when it starts with the zstd magic number. A last line cut anywhere, even
    /// inside a multi-byte character, or a last zstd block cut anywhere, is dropped as torn.
    pub fn read(path: &Path) -> Result<Recording, RecordError> {
        let name = path.display().to_string();
        let io = |source| RecordError::Io {
            file: name.clone(),
            source,
        };
        let input = BufReader::new(std::fs::File::open(path).map_err(io)?);
        Self::from_either(input, &name)
    }

    /// Reads a recording, plain or zstd-compressed, from any reader (a file, bytes in memory);
    /// `name` names it in errors.
    pub fn from_either(mut input: impl BufRead, name: &str) -> Result<Recording, RecordError> {
        let io = |source| RecordError::Io {
            file: name.to_string(),
            source,
        };
        if !input.fill_buf().map_err(io)?.starts_with(&ZSTD_MAGIC) {
            return Self::from_reader(input, name);
        }
        let mut lines = BufReader::new(Unzstd::new(input).map_err(io)?);
        let mut rec = Self::from_reader(&mut lines, name)?;
        rec.torn_tail |= lines.get_ref().torn;
        Ok(rec)
    }

    pub fn parse(text: &str, name: &str) -> Result<Recording, RecordError> {
        Self::from_reader(text.as_bytes(), name)
    }

    /// Reads records from `input`; `name` names it in errors.
    pub fn from_reader(mut input: impl BufRead, name: &str) -> Result<Recording, RecordError> {
        let at = |line: usize, message: String| RecordError::At {
            file: name.to_string(),
            line,
            message,
        };
        let io = |source| RecordError::Io {
            file: name.to_string(),
            source,
        };
        let mut buf = Vec::new();
        if input.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            return Err(RecordError::Empty {
                file: name.to_string(),
            });
        }
        let header = parse_header(&buf).map_err(|m| at(1, m))?;
        let mut series = HashMap::new();
        let mut records = Vec::new();
        let mut torn_tail = false;
        let mut n = 1;
        loop {
            buf.clear();
            if input.read_until(b'\n', &mut buf).map_err(io)? == 0 {
                break;
            }
            n += 1;
            // A file cut mid-line ends without a newline: that line can only be the last.
            let complete = buf.ends_with(b"\n");
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = serde_json::from_slice::<Json>(&buf)
                .map_err(|e| e.to_string())
                .and_then(|mut v| {
                    clean_strings(&mut v);
                    parse_record(&v, &mut series)
                });
            match parsed {
                Ok(Some(r)) => records.push(r),
                Ok(None) => {}
                Err(_) if !complete => torn_tail = true,
                Err(e) => return Err(at(n, e)),
            }
        }
        Ok(Recording {
            header,
            records,
            torn_tail,
        })
    }
}

/// How every zstd frame begins (RFC 8878, 3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// The decompressed lines of a zstd recording (its frames one after another). A stream that
/// stops inside a frame, with nothing after it, is a run killed mid-write: what was decoded
/// stands and the rest is torn. A frame that fails with bytes still after it is damage,
/// an error.
struct Unzstd<R: BufRead> {
    frames: zstd::stream::read::Decoder<'static, R>,
    torn: bool,
}

impl<R: BufRead> Unzstd<R> {
    fn new(input: R) -> std::io::Result<Self> {
        Ok(Self {
            frames: zstd::stream::read::Decoder::with_buffer(input)?,
            torn: false,
        })
    }
}

impl<R: BufRead> Read for Unzstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.torn {
            return Ok(0);
        }
        match self.frames.read(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                if self.frames.get_mut().fill_buf()?.is_empty() {
                    self.torn = true;
                    Ok(0)
                } else {
                    Err(std::io::Error::new(
                        e.kind(),
                        format!("damaged zstd data before the end of the file: {e}"),
                    ))
                }
            }
        }
    }
}

/// The first line as the header, its text cleaned like every other line's.
fn parse_header(line: &[u8]) -> Result<Header, String> {
    let mut v: Json =
        serde_json::from_slice(line).map_err(|e| format!("not a slitop recording header ({e})"))?;
    clean_strings(&mut v);
    let mut header: Header =
        serde_json::from_value(v).map_err(|e| format!("not a slitop recording header ({e})"))?;
    // A recording from an earlier version (or elsewhere) may hold URLs with their secrets:
    // what is shown or copied into a report from it is redacted here.
    for endpoint in header.sources.values_mut() {
        *endpoint = crate::text::redact_text(endpoint);
    }
    for a in &mut header.meta.args {
        *a = crate::text::redact_text(a);
    }
    if header.kind != "slitop-recording" {
        return Err(format!(
            "kind {:?}; expected \"slitop-recording\"",
            header.kind
        ));
    }
    if header.format > FORMAT_VERSION {
        return Err(format!(
            "recording format {} is newer than this slitop reads ({FORMAT_VERSION}); upgrade slitop",
            header.format
        ));
    }
    Ok(header)
}

/// A recording may come from anywhere: every string in it (keys too) loses its control
/// characters here, where it enters, so no name, note or reason from it can drive the
/// terminal that shows it or break the lines of a file it is copied into. The same text
/// cleans the same way everywhere, so names still match between the header and the lines.
fn clean_strings(v: &mut Json) {
    let dirty = |s: &str| s.chars().any(char::is_control);
    match v {
        Json::String(s) if dirty(s) => *s = crate::text::clean(s),
        Json::Array(a) => a.iter_mut().for_each(clean_strings),
        Json::Object(m) => {
            if m.keys().any(|k| dirty(k)) {
                let old = std::mem::take(m);
                m.extend(old.into_iter().map(|(k, v)| (crate::text::clean(&k), v)));
            }
            m.values_mut().for_each(clean_strings);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"{"kind":"slitop-recording","format":1,"slitop_version":"0.1.0","started_unix_ms":1000,"refresh_ms":1000,"lookback_ms":300000,"window_ms":60000,"sources":{"scrape\u001b[2J":"http://h/metrics"},"local_sources":{"prometheus":false,"scrape":true,"valkey":false,"k6":false},"signals":[],"detect":{}}"#;

    #[test]
    fn a_last_line_torn_at_any_byte_is_dropped_and_the_rest_read() {
        let body = format!(
            "{HEAD}\n{{\"k\":\"tick\",\"t\":2000}}\n{{\"k\":\"annotation\",\"t\":2500,\"text\":\"d\u{e9}j\u{e0} vu \u{4e2d}\u{6587} \u{1F600}\"}}\n"
        );
        let whole = body.as_bytes();
        let last_starts = body[..body.len() - 1].rfind('\n').unwrap() + 1;
        for cut in last_starts + 1..whole.len() - 1 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("recording.jsonl");
            std::fs::write(&path, &whole[..cut]).unwrap();
            let rec = Recording::read(&path).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            assert!(rec.torn_tail, "cut at {cut}");
            assert_eq!(rec.records.len(), 1, "cut at {cut}");
        }
        let rec = Recording::parse(&body, "r").unwrap();
        assert!(!rec.torn_tail);
        assert_eq!(rec.records.len(), 2);
    }

    #[test]
    fn every_string_of_a_recording_is_cleaned_where_it_enters() {
        let body = format!(
            "{HEAD}\n{{\"k\":\"annotation\",\"t\":2500,\"text\":\"\\u001b]0;pwned\\u0007 note\"}}\n"
        );
        let rec = Recording::parse(&body, "r").unwrap();
        let source = rec.header.sources.keys().next().unwrap();
        assert_eq!(source, "scrape\u{FFFD}[2J");
        match &rec.records[0] {
            Record::Annotation { text, .. } => assert_eq!(text, "\u{FFFD}]0;pwned\u{FFFD} note"),
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn secrets_in_an_older_recordings_header_are_redacted_as_it_is_read() {
        let head = HEAD
            .replace(
                r#""http://h/metrics""#,
                r#""http://u:pw-old@h/metrics?token=t-old""#,
            )
            .replace(
                r#""signals":[]"#,
                r#""signals":[],"meta":{"args":["--valkey=redis://:vk-old@h:6379"]}"#,
            );
        let rec = Recording::parse(&format!("{head}\n"), "r").unwrap();
        let shown = format!("{:?} {:?}", rec.header.sources, rec.header.meta.args);
        assert!(!shown.contains("-old"), "{shown}");
        assert!(
            shown.contains("u:REDACTED@h") && shown.contains(":REDACTED@h:6379"),
            "{shown}"
        );
    }

    #[test]
    fn a_bad_line_that_is_not_the_last_is_an_error_with_its_number() {
        let body = format!(
            "{HEAD}\n{{\"k\":\"tick\",\"t\":2000}}\n{{bad\n{{\"k\":\"tick\",\"t\":3000}}\n"
        );
        let e = Recording::parse(&body, "r").err().unwrap().to_string();
        assert!(e.starts_with("r:3: "), "{e}");
        let e = Recording::parse("", "r").err().unwrap().to_string();
        assert!(e.contains("empty file"), "{e}");
    }
}
