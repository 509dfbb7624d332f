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
    /// Lines `parse_lenient` left out; always empty from `parse`.
    pub skipped: Skipped,
    /// Sample lines `parse_only` passed over for a name nobody reads (not parsed, so not
    /// checked either).
    pub filtered: usize,
}

/// The lines of an exposition that did not parse.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Skipped {
    pub lines: usize,
    /// The first of them: where it is and what is wrong with it.
    pub first: Option<ParseError>,
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

/// Parses a whole exposition, failing at the first line that does not parse. Sample order is
/// kept; duplicate series are kept as given.
pub fn parse(input: &str, format: Format) -> Result<Scrape, ParseError> {
    parse_lines(input, format, false)
}

/// Parses a whole exposition as a scrape needs it: a line that does not parse is left out and
/// counted in `Scrape::skipped`, so one odd line does not cost the target all its other series.
/// Still an error: an OpenMetrics body without `# EOF` (likely truncated), and a body where lines
/// were skipped and none was a sample (not an exposition at all, e.g. an HTML error page).
pub fn parse_lenient(input: &str, format: Format) -> Result<Scrape, ParseError> {
    refuse_if_nothing_parsed(parse_lines(input, format, true)?)
}

/// A lenient parse where lines were skipped and none was a sample is not an exposition.
fn refuse_if_nothing_parsed(mut out: Scrape) -> Result<Scrape, ParseError> {
    if out.samples.is_empty() {
        if let Some(mut first) = out.skipped.first.take() {
            first.message += &format!(
                "; no line parsed as a sample ({} skipped)",
                out.skipped.lines
            );
            return Err(first);
        }
    }
    Ok(out)
}

/// `parse_lenient` keeping only the samples whose name `keep` accepts. The others are passed
/// over once their name is read, before any label is: a scrape of thousands of series costs
/// little more than reading it when the signals read a few.
pub fn parse_only(
    input: &str,
    format: Format,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Scrape, ParseError> {
    refuse_if_nothing_parsed(parse_lines_with(input, format, true, Some(keep))?)
}

fn parse_lines(input: &str, format: Format, lenient: bool) -> Result<Scrape, ParseError> {
    parse_lines_with(input, format, lenient, None)
}

fn parse_lines_with(
    input: &str,
    format: Format,
    lenient: bool,
    keep: Option<&dyn Fn(&str) -> bool>,
) -> Result<Scrape, ParseError> {
    let mut p = Parser {
        out: Scrape::default(),
        by_name: HashMap::new(),
        format,
        saw_eof: false,
        keep,
        last: None,
    };
    let mut lineno = 0usize;
    for raw in input.split('\n') {
        lineno += 1;
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        let Err((col, message)) = p.line(text) else {
            continue;
        };
        let e = ParseError {
            line: lineno,
            column: text[..col.min(text.len())].chars().count() + 1,
            message,
        };
        if !lenient {
            return Err(e);
        }
        p.out.skipped.lines += 1;
        p.out.skipped.first.get_or_insert(e);
    }
    if format == Format::OpenMetrics && !p.saw_eof {
        return Err(ParseError {
            line: lineno,
            column: 1,
            message: "OpenMetrics input must end with `# EOF`; the body may be truncated".into(),
        });
    }
    Ok(p.out)
}

struct Parser<'k> {
    out: Scrape,
    by_name: HashMap<String, usize>,
    format: Format,
    saw_eof: bool,
    /// Which sample names to keep (None: all).
    keep: Option<&'k dyn Fn(&str) -> bool>,
    /// The last sample name and its family (cleared when a comment defines a family).
    last: Option<(String, Option<usize>)>,
}

impl Parser<'_> {
    /// Takes in one line; an error carries the byte column and the message. A line that fails
    /// leaves the output as it was.
    fn line(&mut self, text: &str) -> Result<(), (usize, String)> {
        if text.trim().is_empty() {
            return Ok(());
        }
        if self.saw_eof {
            return Err((0, "content after `# EOF`".into()));
        }
        if let Some(rest) = text.strip_prefix('#') {
            match line::comment(rest) {
                line::Comment::Eof => {
                    if self.format == Format::OpenMetrics {
                        self.saw_eof = true;
                    }
                }
                line::Comment::Meta { kind, name, arg } => {
                    self.meta(kind, name, arg)
                        .map_err(|msg| (text.len() - arg.len(), msg))?;
                }
                line::Comment::Other => {}
            }
            return Ok(());
        }
        if let Some(keep) = self.keep {
            let name = line::leading_name(text);
            if !name.is_empty() && !keep(name) {
                self.out.filtered += 1;
                return Ok(());
            }
        }
        let s = line::sample(text, self.format)?;
        // Lines of one family come together: its name is looked up once, not hashed per line.
        let family = match &self.last {
            Some((n, f)) if n == s.name => *f,
            _ => {
                let f = family_of(&self.out.families, &self.by_name, s.name);
                let (n, slot) = self.last.get_or_insert_with(Default::default);
                n.clear();
                n.push_str(s.name);
                *slot = f;
                f
            }
        };
        self.out.samples.push(ExpSample {
            labels: s.labels,
            value: s.value,
            timestamp_ms: s.timestamp_ms,
            family,
        });
        Ok(())
    }

    /// `# HELP`, `# TYPE` or `# UNIT`: creates the family on first mention, then sets the field.
    fn meta(&mut self, kind: line::MetaKind, name: &str, arg: &str) -> Result<(), String> {
        self.last = None;
        // Checked before the family is created, so a skipped line leaves nothing behind.
        let typed = match kind {
            line::MetaKind::Type => Some(MetricType::from_word(arg.trim()).ok_or_else(|| {
                format!(
                    "unknown metric type {:?} for `{name}`; expected counter, gauge, histogram, summary, untyped (or an OpenMetrics type)",
                    crate::text::clean_short(arg.trim(), 40)
                )
            })?),
            _ => None,
        };
        let idx = *self.by_name.entry(name.to_string()).or_insert_with(|| {
            self.out.families.push(Family {
                name: name.to_string(),
                kind: MetricType::Unknown,
                help: None,
                unit: None,
            });
            self.out.families.len() - 1
        });
        let fam = &mut self.out.families[idx];
        match kind {
            line::MetaKind::Help => fam.help = Some(line::unescape_help(arg, self.format)),
            line::MetaKind::Unit => fam.unit = Some(arg.trim().to_string()),
            line::MetaKind::Type => {}
        }
        if let Some(k) = typed {
            fam.kind = k;
        }
        Ok(())
    }
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
