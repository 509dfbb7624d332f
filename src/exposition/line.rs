//! One line of an exposition: comments (`# HELP/TYPE/UNIT/EOF`) and samples.

use crate::exposition::Format;
use crate::model::Labels;

pub enum MetaKind {
    Help,
    Type,
    Unit,
}

pub enum Comment<'a> {
    Eof,
    Meta {
        kind: MetaKind,
        name: &'a str,
        arg: &'a str,
    },
    Other,
}

/// Classifies the text after a leading `#`.
pub fn comment(rest: &str) -> Comment<'_> {
    let rest = rest.trim_start_matches([' ', '\t']);
    if rest.trim_end() == "EOF" {
        return Comment::Eof;
    }
    let (word, after) = split_word(rest);
    let kind = match word {
        "HELP" => MetaKind::Help,
        "TYPE" => MetaKind::Type,
        "UNIT" => MetaKind::Unit,
        _ => return Comment::Other,
    };
    let (name, arg) = split_word(after.trim_start_matches([' ', '\t']));
    if name.is_empty() || !valid_metric_name(name) {
        return Comment::Other;
    }
    let arg = arg.strip_prefix([' ', '\t']).unwrap_or(arg);
    Comment::Meta { kind, name, arg }
}

fn split_word(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

fn valid_metric_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// HELP text escapes: `\\` and `\n`, plus `\"` in OpenMetrics (whose HELP shares the label-value
/// escapes); any other backslash stays as written, as in Prometheus's parsers.
pub fn unescape_help(s: &str, format: Format) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some('"') if format == Format::OpenMetrics => out.push('"'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub struct Parsed<'a> {
    pub name: &'a str,
    /// Its labels, the metric name (`__name__`) among them.
    pub labels: Labels,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

type LineResult<T> = Result<T, (usize, String)>;

fn found(text: &str, at: usize) -> String {
    match text[at..].chars().next() {
        None => "end of line".into(),
        Some(c) => format!("{:?}", crate::text::clean_short(&c.to_string(), 4)),
    }
}

/// The metric name a sample line starts with (after any blanks); empty when it starts with
/// anything else. Cheap: it reads only the name.
pub fn leading_name(text: &str) -> &str {
    let b = text.as_bytes();
    let start = b.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
    let is_first = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c == b':';
    if !b.get(start).is_some_and(|c| is_first(*c)) {
        return "";
    }
    let len = b[start..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b':')
        .count();
    &text[start..start + len]
}

// One piece: a single forward scan over the line's bytes (the hot path of every scrape);
// splitting it would pass the cursor and the error column through every helper.
/// Parses `name{labels} value [timestamp] [# exemplar]`. Errors carry the byte column.
pub fn sample(text: &str, format: Format) -> LineResult<Parsed<'_>> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let start = i;
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_' || b[i] == b':') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
            i += 1;
        }
    }
    if i == start {
        return Err((
            i,
            format!("expected a metric name, found {}", found(text, i)),
        ));
    }
    let name = &text[start..i];
    // Gathered as pairs and built into the map at once: inserting one label at a time cost a
    // tree walk and a shared-copy check each, on every line of every scrape.
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(8);
    if i < b.len() && b[i] == b'{' {
        i = parse_labels(text, i + 1, &mut pairs)?;
    }
    pairs.push((crate::model::METRIC_NAME.to_string(), name.to_string()));
    // Collecting sorts them (duplicates were refused above).
    let labels = Labels::from(
        pairs
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    );
    if i >= b.len() || !(b[i] == b' ' || b[i] == b'\t') {
        return Err((
            i,
            format!(
                "expected a space and a value after `{name}`, found {}",
                found(text, i)
            ),
        ));
    }
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let vstart = i;
    while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
        i += 1;
    }
    let vtext = &text[vstart..i];
    let value = parse_float(vtext).ok_or_else(|| {
        (
            vstart,
            format!(
                "expected a number for the value of `{name}`, found {:?}",
                crate::text::clean_short(vtext, 40)
            ),
        )
    })?;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let mut timestamp_ms = None;
    if i < b.len() && b[i] != b'#' {
        let tstart = i;
        while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
            i += 1;
        }
        let ttext = &text[tstart..i];
        timestamp_ms = Some(parse_timestamp(ttext, format).ok_or_else(|| {
            let want = match format {
                Format::Text004 => "an integer timestamp in milliseconds",
                Format::OpenMetrics => "a timestamp in seconds",
            };
            (
                tstart,
                format!(
                    "expected {want}, found {:?}",
                    crate::text::clean_short(ttext, 40)
                ),
            )
        })?);
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
    }
    // What may follow is an exemplar (` # {..} v [ts]`): parsed over and ignored.
    if i < b.len() && b[i] != b'#' {
        return Err((
            i,
            format!("unexpected text after the sample: {}", found(text, i)),
        ));
    }
    Ok(Parsed {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

// One piece: the label grammar (names, `=`, quoted values with escapes, commas, the closing
// brace) is one small state machine over one cursor; its steps only make sense together.
/// Parses label pairs after `{`; returns the index after `}`.
fn parse_labels(text: &str, mut i: usize, labels: &mut Vec<(String, String)>) -> LineResult<usize> {
    let b = text.as_bytes();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t') {
            *i += 1;
        }
    };
    let mut value = String::new();
    loop {
        skip_ws(&mut i);
        if i < b.len() && b[i] == b'}' {
            return Ok(i + 1);
        }
        let ns = i;
        if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
        }
        if i == ns {
            return Err((
                i,
                format!("expected a label name or '}}', found {}", found(text, i)),
            ));
        }
        let lname = &text[ns..i];
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'=' {
            return Err((
                i,
                format!(
                    "expected '=' after label name `{lname}`, found {}",
                    found(text, i)
                ),
            ));
        }
        i += 1;
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'"' {
            return Err((
                i,
                format!(
                    "expected '\"' to open the value of label `{lname}`, found {}",
                    found(text, i)
                ),
            ));
        }
        i += 1;
        value.clear();
        let mut run = i;
        loop {
            if i >= b.len() {
                return Err((
                    i,
                    format!("unterminated value of label `{lname}`: missing closing '\"'"),
                ));
            }
            match b[i] {
                b'"' => {
                    value.push_str(&text[run..i]);
                    i += 1;
                    break;
                }
                b'\\' => {
                    let unescaped = match b.get(i + 1) {
                        Some(b'\\') => '\\',
                        Some(b'"') => '"',
                        Some(b'n') => '\n',
                        // Any other escape stays as written, backslash included (`\z` is `\z`), as
                        // in Prometheus's parser; the OpenMetrics parser suite requires it to parse.
                        // A backslash ending the line falls through to "unterminated".
                        _ => {
                            i += 1;
                            continue;
                        }
                    };
                    value.push_str(&text[run..i]);
                    value.push(unescaped);
                    i += 2;
                    run = i;
                }
                // Straight to the next quote or backslash: values are mostly plain text.
                _ => i += memchr::memchr2(b'"', b'\\', &b[i..]).unwrap_or(b.len() - i),
            }
        }
        if lname == crate::model::METRIC_NAME {
            return Err((ns, format!("label `{lname}` appears twice")));
        }
        // A handful of labels: a scan is cheaper than any set.
        if labels.iter().any(|(k, _)| k == lname) {
            return Err((ns, format!("label `{lname}` appears twice")));
        }
        labels.push((lname.to_string(), std::mem::take(&mut value)));
        skip_ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i + 1),
            _ => {
                return Err((
                    i,
                    format!(
                        "expected ',' or '}}' after the value of label `{lname}`, found {}",
                        found(text, i)
                    ),
                ))
            }
        }
    }
}

/// Go float syntax plus NaN and ±Inf in any case, as Prometheus accepts.
fn parse_float(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    // Rust's parser also takes "infinity"/"nan" in any case, as Go's does; reject what Go rejects:
    // leading '.' is fine in both; a lone sign or "e5" are rejected by both.
    if b.contains(&b'_') {
        return None;
    }
    s.parse::<f64>().ok()
}

fn parse_timestamp(s: &str, format: Format) -> Option<i64> {
    match format {
        Format::Text004 => s.parse::<i64>().ok(),
        Format::OpenMetrics => {
            let secs = parse_float(s)?;
            if !secs.is_finite() {
                return None;
            }
            Some((secs * 1000.0).round() as i64)
        }
    }
}
