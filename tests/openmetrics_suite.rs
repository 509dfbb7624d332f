//! The exposition parser on the OpenMetrics project's own parser test suite
//! (`tests/fixtures/upstream/openmetrics/`, see its README): every valid case parses to the
//! samples the reference parser reads from it, no case makes any parse entry point panic, and
//! the invalid cases the parser refuses are counted (it is lenient on purpose, so not all are).

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use slitop::exposition::{parse, parse_lenient, Format, Scrape};

/// Valid cases whose samples differ from the reference parser's, each with why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "timestamps",
        "a timestamp of 1.2e19 s is past what a millisecond i64 holds; it is kept saturated",
    ),
    (
        "duplicate_timestamps_0",
        "the reference parser keeps only the first sample of a series at one timestamp (read to \
         the nanosecond, so 1e-10 s is 0); the parser keeps every sample as given, timestamps \
         in milliseconds",
    ),
    (
        "duplicate_timestamps_1",
        "the reference parser keeps only the first sample of a series at one timestamp; the \
         parser keeps every sample as given",
    ),
];

/// Invalid cases refused today; fewer would be a regression. The parser accepts the rest on
/// purpose: it reads a scrape for its samples and does not police family metadata.
const REFUSED_AT_LEAST: usize = 54;

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream/openmetrics")
}

struct Case {
    name: String,
    valid: bool,
    input: Option<String>,
}

fn cases() -> Vec<Case> {
    let dir = suite().join("parsers");
    let mut out: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            let spec: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path.join("test.json")).unwrap())
                    .unwrap_or_else(|e| panic!("{}/test.json: {e}", path.display()));
            let valid = spec["shouldParse"]
                .as_bool()
                .unwrap_or_else(|| panic!("{}/test.json: no shouldParse", path.display()));
            let bytes = std::fs::read(path.join("metrics")).unwrap();
            Case {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                valid,
                input: String::from_utf8(bytes).ok(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// One sample as compared: name, labels without the name, value spelled as the reference
/// writes it, timestamp in seconds.
type Row = (String, BTreeMap<String, String>, String, Option<f64>);

fn expected() -> BTreeMap<String, Vec<Row>> {
    let path = suite().join("expected.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn spell(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v:?}")
    }
}

fn rows(s: &Scrape) -> Vec<Row> {
    s.samples
        .iter()
        .map(|x| {
            let name = x.labels.name().unwrap_or_default().to_string();
            (
                name,
                (*x.labels.without_name().0).clone(),
                spell(x.value),
                x.timestamp_ms.map(|t| t as f64 / 1000.0),
            )
        })
        .collect()
}

/// Values as numbers: the reference spells them as Python does (`9.2e+18`).
fn same_value(a: &str, b: &str) -> bool {
    let num = |s: &str| match s {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => false,
    }
}

fn same(got: &[Row], want: &[Row]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            let ts = match (g.3, w.3) {
                (None, None) => true,
                // Milliseconds are what a scrape keeps.
                (Some(a), Some(b)) => (a - b).abs() < 1e-3 || (a - b).abs() <= 1e-12 * b.abs(),
                _ => false,
            };
            g.0 == w.0 && g.1 == w.1 && same_value(&g.2, &w.2) && ts
        })
}

/// Every entry point on any input: an error is fine, a panic is not.
fn no_panic(c: &Case) -> Result<(), String> {
    let Some(input) = &c.input else {
        return Ok(());
    };
    for format in [Format::OpenMetrics, Format::Text004] {
        catch_unwind(AssertUnwindSafe(|| {
            let _ = parse(input, format);
            let _ = parse_lenient(input, format);
        }))
        .map_err(|_| format!("{}: panicked ({format:?})", c.name))?;
    }
    Ok(())
}

#[test]
fn openmetrics_parser_suite() {
    let cases = cases();
    let expected = expected();
    let known: BTreeMap<_, _> = KNOWN_DIFFERENCES.iter().copied().collect();
    let mut failures = Vec::new();
    let (mut valid_ok, mut valid_known, mut refused) = (0, 0, 0);
    let mut accepted_invalid = Vec::new();
    for c in &cases {
        if let Err(e) = no_panic(c) {
            failures.push(e);
            continue;
        }
        let parsed = c
            .input
            .as_deref()
            .ok_or_else(|| "not UTF-8".to_string())
            .and_then(|s| parse(s, Format::OpenMetrics).map_err(|e| e.to_string()));
        if !c.valid {
            match parsed {
                Err(_) => refused += 1,
                Ok(_) => accepted_invalid.push(c.name.as_str()),
            }
            continue;
        }
        let want = expected
            .get(&c.name)
            .unwrap_or_else(|| panic!("expected.json has no entry for valid case {}", c.name));
        match parsed {
            Err(e) => failures.push(format!("{}: valid but refused: {e}", c.name)),
            Ok(s) if same(&rows(&s), want) => {
                valid_ok += 1;
                if known.contains_key(c.name.as_str()) {
                    failures.push(format!(
                        "{}: listed as a known difference but now matches; drop it from the list",
                        c.name
                    ));
                }
            }
            Ok(s) if known.contains_key(c.name.as_str()) => {
                valid_known += 1;
                println!(
                    "known difference {}: {}\n  got  {:?}\n  want {:?}",
                    c.name,
                    known[c.name.as_str()],
                    rows(&s),
                    want
                );
            }
            Ok(s) => failures.push(format!(
                "{}: samples differ\n  got  {:?}\n  want {:?}",
                c.name,
                rows(&s),
                want
            )),
        }
    }
    let valid = cases.iter().filter(|c| c.valid).count();
    let invalid = cases.len() - valid;
    println!(
        "OpenMetrics suite: {} cases; valid {valid}: {valid_ok} parsed to the reference samples, \
         {valid_known} known differences; invalid {invalid}: {refused} refused, {} accepted; \
         no panics: {}",
        cases.len(),
        accepted_invalid.len(),
        failures.iter().all(|f| !f.contains("panicked"))
    );
    println!("invalid cases accepted: {}", accepted_invalid.join(" "));
    assert!(
        valid > 40 && invalid > 150,
        "the suite is incomplete: {valid} valid, {invalid} invalid"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        refused >= REFUSED_AT_LEAST,
        "only {refused} invalid cases refused; {REFUSED_AT_LEAST} were before"
    );
}
