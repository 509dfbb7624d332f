//! How report numbers are written in report.md (tests use the same functions to check that
//! the Markdown says what report.json holds).

use crate::settings::Unit;

/// Seconds as "850 ms", "2.41 s", "12.5 µs"; "–" when absent.
pub fn secs(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if !v.is_finite() => "–".into(),
        Some(0.0) => "0 ms".into(),
        Some(v) if v.abs() < 0.001 => format!("{:.1} µs", v * 1e6),
        Some(v) if v.abs() < 0.01 => format!("{:.2} ms", v * 1e3),
        Some(v) if v.abs() < 1.0 => format!("{:.0} ms", v * 1e3),
        Some(v) => format!("{v:.2} s"),
    }
}

/// A rate or load: one decimal below 100, none above.
pub fn rate(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.is_finite() => format!("{v:.1}"),
        _ => "–".into(),
    }
}

/// A share as a percentage: "1.25%", "0%".
pub fn pct(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v == 0.0 => "0%".into(),
        Some(v) if v.is_finite() && v.abs() < 0.001 => format!("{:.3}%", v * 100.0),
        Some(v) if v.is_finite() => format!("{:.2}%", v * 100.0),
        _ => "–".into(),
    }
}

/// A count: no decimals.
pub fn count(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.0}"),
        _ => "–".into(),
    }
}

/// Milliseconds since the run started as "+12.0 s".
pub fn offset(t: Option<i64>, start: i64) -> String {
    match t {
        Some(t) => format!("+{:.1} s", (t - start) as f64 / 1000.0),
        None => "–".into(),
    }
}

/// Unix ms as an RFC 3339 UTC time.
pub fn clock(t: Option<i64>) -> String {
    match t {
        Some(t) if t >= 0 => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(t as u64),
        )
        .to_string(),
        _ => "–".into(),
    }
}

/// A value in its unit: a gate's value or limit, a triage signal's level.
pub fn in_unit(v: Option<f64>, unit: Unit) -> String {
    match unit {
        Unit::Seconds => secs(v),
        Unit::Ratio => pct(v),
        _ => rate(v),
    }
}

/// Outside text (notes, scenario, tags, error texts, names from a recording) for report.md,
/// in a table cell or a line: control characters (terminal escapes among them) become U+FFFD
/// and line breaks spaces, so `cat report.md` runs nothing and no row is broken; the
/// characters Markdown or HTML would act on (`| < > & [ ] \` and backticks) are escaped, so
/// nobody's text becomes a link, an image, a tag or a code span.
pub fn cell(s: &str) -> String {
    let clean = crate::text::clean(s);
    let mut out = String::with_capacity(clean.len());
    for c in clean.chars() {
        if matches!(c, '\\' | '|' | '<' | '>' | '&' | '[' | ']' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Outside text as a Markdown code span: cleaned like `cell`, fenced with more backticks than
/// it holds in a row, so no backtick in it can end the span early.
pub fn code(s: &str) -> String {
    // GitHub's tables split on a bare pipe even inside a code span; `\|` is read as one.
    let clean = crate::text::clean(s).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in clean.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    format!("{fence} {clean} {fence}")
}
