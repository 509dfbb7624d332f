//! Prometheus text exposition (0.0.4) and the common OpenMetrics 1.0 subset.
//!
//! A small byte-level parser of our own: the popular `prometheus-parse` crate silently drops or
//! corrupts common input (label values holding `,` `=` `}` or escaped quotes, `name{}`, names
//! with `:`, OpenMetrics timestamps, `_total` counters), and `openmetrics-parser` rejects whole
//! inputs whose families mix label-name sets. See `tests/exposition_corpus.rs`.

mod line;

use std::collections::HashMap;

use crate::model::Labels;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl MetricType {
    fn from_word(w: &str) -> Option<Self> {
        Some(match w {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "gaugehistogram" => Self::GaugeHistogram,
            "summary" => Self::Summary,
            "info" => Self::Info,
            "stateset" => Self::StateSet,
            "untyped" | "unknown" => Self::Unknown,
            _ => return None,
        })
    }

    /// Sample-name suffixes that belong to a family of this type.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Self::Counter => &["_total", "_created"],
            Self::Histogram => &["_bucket", "_sum", "_count", "_created"],
            Self::GaugeHistogram => &["_bucket", "_gsum", "_gcount"],
            Self::Summary => &["_sum", "_count", "_created"],
            Self::Info => &["_info"],
            _ => &[],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: MetricType,
    pub help: Option<String>,
    pub unit: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExpSample {
    /// Includes `__name__`, spelled as exposed (`foo_total`, `foo_bucket`).
    pub labels: Labels,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
    /// Index into `Scrape::families`, when a `# TYPE`/`# HELP` line named the family.
    pub family: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    pub families: Vec<Family>,
    pub samples: Vec<ExpSample>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text004,
    OpenMetrics,
}

/// The format a `Content-Type` header announces; text 0.0.4 unless it says OpenMetrics.
pub fn format_from_content_type(content_type: Option<&str>) -> Format {
    match content_type {
        Some(ct)
            if ct
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("application/openmetrics-text") =>
        {
            Format::OpenMetrics
        }
        _ => Format::Text004,
    }
}

#[derive(thiserror::Error, Debug, Clone, PartialEq)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses a whole exposition. Sample order is kept; duplicate series are kept as given.
pub fn parse(input: &str, format: Format) -> Result<Scrape, ParseError> {
    let mut out = Scrape::default();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut saw_eof = false;
    let mut lineno = 0usize;
    for raw in input.split('\n') {
        lineno += 1;
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        if saw_eof {
            if text.trim().is_empty() {
                continue;
            }
            return Err(ParseError {
                line: lineno,
                column: 1,
                message: "content after `# EOF`".into(),
            });
        }
        let err = |col: usize, message: String| ParseError {
            line: lineno,
            column: text[..col.min(text.len())].chars().count() + 1,
            message,
        };
        if text.trim().is_empty() {
            continue;
        }
        if let Some(rest) = text.strip_prefix('#') {
            match line::comment(rest) {
                line::Comment::Eof => {
                    if format == Format::OpenMetrics {
                        saw_eof = true;
                    }
                }
                line::Comment::Meta { kind, name, arg } => {
                    meta(&mut out, &mut by_name, format, kind, name, arg)
                        .map_err(|msg| err(text.len() - arg.len(), msg))?;
                }
                line::Comment::Other => {}
            }
            continue;
        }
        let s = line::sample(text, format).map_err(|(col, msg)| err(col, msg))?;
        let family = family_of(&out.families, &by_name, s.name);
        let mut labels = s.labels;
        labels.set(crate::model::METRIC_NAME, s.name);
        out.samples.push(ExpSample {
            labels,
            value: s.value,
            timestamp_ms: s.timestamp_ms,
            family,
        });
    }
    if format == Format::OpenMetrics && !saw_eof {
        return Err(ParseError {
            line: lineno,
            column: 1,
            message: "OpenMetrics input must end with `# EOF`; the body may be truncated".into(),
        });
    }
    Ok(out)
}

/// `# HELP`, `# TYPE` or `# UNIT`: creates the family on first mention, then sets the field.
fn meta(
    out: &mut Scrape,
    by_name: &mut HashMap<String, usize>,
    format: Format,
    kind: line::MetaKind,
    name: &str,
    arg: &str,
) -> Result<(), String> {
    let idx = *by_name.entry(name.to_string()).or_insert_with(|| {
        out.families.push(Family {
            name: name.to_string(),
            kind: MetricType::Unknown,
            help: None,
            unit: None,
        });
        out.families.len() - 1
    });
    let fam = &mut out.families[idx];
    match kind {
        line::MetaKind::Help => fam.help = Some(line::unescape_help(arg, format)),
        line::MetaKind::Unit => fam.unit = Some(arg.trim().to_string()),
        line::MetaKind::Type => {
            fam.kind = MetricType::from_word(arg.trim()).ok_or_else(|| {
                format!(
                    "unknown metric type {:?} for `{name}`; expected counter, gauge, histogram, summary, untyped (or an OpenMetrics type)",
                    crate::text::clean_short(arg.trim(), 40)
                )
            })?
        }
    }
    Ok(())
}

/// The family a sample belongs to: its own name, or its name minus a suffix that the
/// family's type allows (`foo_total` under `# TYPE foo counter`).
fn family_of(families: &[Family], by_name: &HashMap<String, usize>, name: &str) -> Option<usize> {
    if let Some(&i) = by_name.get(name) {
        return Some(i);
    }
    let cut = name.rfind('_')?;
    let (base, suffix) = name.split_at(cut);
    let &i = by_name.get(base)?;
    families[i].kind.suffixes().contains(&suffix).then_some(i)
}

#[cfg(test)]
mod tests;
