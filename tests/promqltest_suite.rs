//! The local PromQL evaluator on Prometheus's own `promqltest` scripts
//! (`tests/fixtures/upstream/promqltest/`, see its README). A small reader of the script format
//! loads each `load` block into a store and runs each instant `eval` the local subset supports,
//! comparing with the expected result as Prometheus's own test runner does. What the reader or
//! the subset cannot run is skipped and counted by reason; a supported case that fails is a bug,
//! unless it is listed in `KNOWN_DIFFERENCES` with why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use slitop::model::{stale_nan, Labels, TimeMs};
use slitop::promql::{compile_local, EvalOptions, PromqlError, Value};
use slitop::store::{Store, StoreLimits};

const FILES: &[&str] = &[
    "aggregators",
    "collision",
    "functions",
    "histograms",
    "literals",
    "name_label_dropping",
    "operators",
    "selectors",
    "staleness",
];

/// Supported cases whose result differs from Prometheus's, as `file:line` with why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "name_label_dropping:89",
        "Prometheus's test engine runs with the experimental delayed name removal \
         (`--enable-feature=promql-delayed-name-removal`); a server without it, like slitop, \
         refuses `rate` over two metric names that leave one labelset",
    ),
    (
        "name_label_dropping:119",
        "delayed name removal again: without it `or` keeps the left side's metric name, so \
         `sum by (__name__)` gives two series, as a server without the feature does",
    ),
    (
        "name_label_dropping:123",
        "delayed name removal again (the same `or` with its sides swapped)",
    ),
];

/// Prometheus's `promqltest` tolerance (`defaultEpsilon`).
const EPSILON: f64 = 1e-6;

/// A PromQL duration (`1h5m`, `30s`, `0`); a bare number is seconds.
fn duration_ms(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        return Some((secs * 1000.0).round() as i64);
    }
    let (mut total, mut num) = (0i64, String::new());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            1
        } else {
            match c {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 7 * 86_400_000,
                'y' => 365 * 86_400_000,
                _ => return None,
            }
        };
        total += num.parse::<i64>().ok()? * unit;
        num.clear();
    }
    num.is_empty().then_some(total)
}

fn number(s: &str) -> Option<f64> {
    match s.trim_start_matches('+') {
        "Inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        "stale" => Some(stale_nan()),
        t => t.parse().ok(),
    }
}

/// One token of a points spec: `_`, `_x3`, `stale`, `5`, `1+2x3`, `10-1x4`, `7x2`.
fn expand(tok: &str, out: &mut Vec<Option<f64>>) -> Result<(), String> {
    if tok.starts_with("{{") {
        return Err("native histogram".into());
    }
    let bad = || format!("unreadable points `{tok}`");
    let Some((head, times)) = tok.rsplit_once('x').filter(|(h, _)| !h.is_empty()) else {
        out.push(if tok == "_" {
            None
        } else {
            Some(number(tok).ok_or_else(bad)?)
        });
        return Ok(());
    };
    let n: usize = times.parse().map_err(|_| bad())?;
    if head == "_" {
        out.extend(std::iter::repeat_n(None, n));
        return Ok(());
    }
    // The sign of an increment: the first `+`/`-` past the start that is not an exponent's.
    let b = head.as_bytes();
    let op =
        (1..b.len()).find(|&i| (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E'));
    let (start, step) = match op {
        Some(i) => {
            let step = number(&head[i + 1..]).ok_or_else(bad)?;
            (
                head[..i].to_string(),
                if b[i] == b'-' { -step } else { step },
            )
        }
        None => (head.to_string(), 0.0),
    };
    // Summed step by step, as Prometheus's series parser does.
    let mut v = number(&start).ok_or_else(bad)?;
    for _ in 0..=n {
        out.push(Some(v));
        v += step;
    }
    Ok(())
}

/// `name{a="b", c="d"}` → labels; the rest of the line after it.
fn series(line: &str) -> Result<(Labels, &str), String> {
    let line = line.trim();
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let mut labels = Labels::new();
    if name_end > 0 {
        labels.set("__name__", &line[..name_end]);
    }
    let rest = &line[name_end..];
    let Some(body) = rest.strip_prefix('{') else {
        return Ok((labels, rest));
    };
    let mut chars = body.char_indices().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|(_, c)| c.is_whitespace() || *c == ',')
        {
            chars.next();
        }
        match chars.peek() {
            Some((i, '}')) => return Ok((labels, &body[i + 1..])),
            None => return Err(format!("unclosed labels in `{line}`")),
            _ => {}
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|(_, c)| *c != '=' && *c != ' '))
            .map(|(_, c)| c)
            .collect();
        while chars.next_if(|(_, c)| *c == ' ' || *c == '=').is_some() {}
        let quote = match chars.next() {
            Some((_, q)) if q == '"' || q == '\'' => q,
            _ => return Err(format!("label `{key}` has no quoted value in `{line}`")),
        };
        let mut value = String::new();
        loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("unclosed value in `{line}`")),
                },
                Some((_, c)) if c == quote => break,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unclosed value in `{line}`")),
            }
        }
        labels.set(key.trim(), &value);
    }
}

/// One line of a `load` block or an expected result: labels and points.
fn series_points(line: &str) -> Result<(Labels, Vec<Option<f64>>), String> {
    let (labels, rest) = series(line)?;
    let mut pts = Vec::new();
    for tok in rest.split_whitespace() {
        expand(tok, &mut pts)?;
    }
    Ok((labels, pts))
}

#[derive(Debug)]
enum Expected {
    Scalar(f64),
    Vector(Vec<(Labels, f64)>),
}

struct Eval {
    at: String,
    query: String,
    expect_fail: bool,
    lines: Vec<String>,
    line: usize,
}

/// One script's state: the store of the current `load`s and the names of series that hold
/// native histograms (which the local engine does not read).
struct Script {
    store: Store,
    native: BTreeSet<String>,
}

impl Script {
    fn new() -> Self {
        let limits = StoreLimits {
            raw_points: 100_000,
            ..StoreLimits::default()
        };
        Self {
            store: Store::new(limits),
            native: BTreeSet::new(),
        }
    }

    /// One `load` block. A series given twice in a block takes the later value at a time both
    /// give, as Prometheus's test storage does.
    fn load(&mut self, interval: &str, lines: &[String], nhcb: bool) -> Result<(), String> {
        let step = duration_ms(interval).ok_or_else(|| format!("bad interval `{interval}`"))?;
        let mut block: BTreeMap<Labels, BTreeMap<TimeMs, f64>> = BTreeMap::new();
        for line in lines {
            let (labels, rest) = series(line)?;
            let name = labels.name().unwrap_or_default().to_string();
            if nhcb {
                // The converted histogram is a native one named without `_bucket`.
                self.native
                    .insert(name.trim_end_matches("_bucket").to_string());
            }
            let mut pts = Vec::new();
            if rest
                .split_whitespace()
                .any(|t| expand(t, &mut pts).is_err())
            {
                self.native.insert(name);
                continue;
            }
            let points = block.entry(labels).or_default();
            for (i, v) in pts.iter().enumerate() {
                if let Some(v) = v {
                    points.insert(i as TimeMs * step, *v);
                }
            }
        }
        for (labels, points) in block {
            for (t, v) in points {
                self.store.push(&labels, t, v);
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Tally {
    ran: usize,
    passed: usize,
    known: usize,
    skipped: BTreeMap<String, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn skip(&mut self, why: impl Into<String>) {
        *self.skipped.entry(why.into()).or_default() += 1;
    }
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < EPSILON
}

fn expected(lines: &[String]) -> Result<Expected, String> {
    if let [one] = lines {
        if let Some(v) = number(one.trim()) {
            return Ok(Expected::Scalar(v));
        }
    }
    let mut out = Vec::new();
    for l in lines {
        let (labels, pts) = series_points(l)?;
        match pts.as_slice() {
            [Some(v)] => out.push((labels, *v)),
            _ => return Err(format!("expected one value in `{l}`")),
        }
    }
    Ok(Expected::Vector(out))
}

fn show(v: &[(Labels, f64)]) -> String {
    let mut rows: Vec<String> = v.iter().map(|(l, x)| format!("{l} {x}")).collect();
    rows.sort();
    rows.join(", ")
}

fn matches(got: &Value, want: &Expected) -> bool {
    match (got, want) {
        (Value::Scalar(a), Expected::Scalar(b)) => close(*a, *b),
        (Value::Vector(a), Expected::Vector(b)) => {
            let index = |v: &[(Labels, f64)]| -> BTreeMap<String, f64> {
                v.iter().map(|(l, x)| (l.to_string(), *x)).collect()
            };
            let (a, b) = (index(a), index(b));
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| close(*x, *y)))
        }
        _ => false,
    }
}

/// Runs one `eval` against the loaded store; counts it as skipped, passed or failed.
fn run_eval(script: &Script, e: &Eval, whereabouts: &str, tally: &mut Tally) {
    if e.query.contains("{{") || e.lines.iter().any(|l| l.contains("{{")) {
        return tally.skip("native histograms");
    }
    let Some(at) = duration_ms(&e.at) else {
        return tally.skip("unreadable eval time");
    };
    let q = match compile_local(&e.query) {
        Ok(q) => q,
        Err(PromqlError::Unsupported(what)) => {
            let what = what.split(" `").next().unwrap_or(&what).to_string();
            return tally.skip(format!("unsupported: {what}"));
        }
        Err(e2) if e.expect_fail => {
            tally.ran += 1;
            tally.passed += 1;
            let _ = e2;
            return;
        }
        Err(_) => return tally.skip("promql-parser refuses the query"),
    };
    // A selector by name, or a `__name__` regex that may select a native histogram.
    let by_regex =
        e.query.contains("__name__") && script.native.iter().any(|n| e.query.contains(n.as_str()));
    if by_regex || q.metric_names().iter().any(|n| script.native.contains(n)) {
        return tally.skip("native histograms");
    }
    let want = if e.expect_fail {
        None
    } else {
        match expected(&e.lines) {
            Ok(w) => Some(w),
            Err(_) => return tally.skip("expected result the reader cannot read"),
        }
    };
    tally.ran += 1;
    let got = q.eval(&script.store, at, &EvalOptions::default());
    let ok = match (&got, &want) {
        (Err(_), None) => true,
        (Ok(g), Some(w)) => matches(g, w),
        _ => false,
    };
    let known = KNOWN_DIFFERENCES.iter().any(|(k, _)| *k == whereabouts);
    match (ok, known) {
        (true, false) => tally.passed += 1,
        (false, true) => tally.known += 1,
        (true, true) => tally.failures.push(format!(
            "{whereabouts}: listed as a known difference but passes; drop it from the list"
        )),
        (false, false) => {
            let got = match got {
                Ok(Value::Vector(v)) => show(&v),
                Ok(Value::Scalar(s)) => format!("scalar {s}"),
                Err(e) => format!("error: {e}"),
            };
            let want = match want {
                Some(Expected::Vector(v)) => show(&v),
                Some(Expected::Scalar(s)) => format!("scalar {s}"),
                None => "an error".into(),
            };
            tally.failures.push(format!(
                "{whereabouts}: eval instant at {} {}\n    got  {got}\n    want {want}",
                e.at, e.query
            ));
        }
    }
}

/// A command and the indented lines under it, up to a blank line or the next command.
fn blocks(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let mut out: Vec<(usize, String, Vec<String>)> = Vec::new();
    let mut open = false;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            open = false;
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        let command = !indented
            && ["load", "clear", "eval"]
                .iter()
                .any(|c| trimmed.starts_with(c));
        if command || !open {
            out.push((i + 1, trimmed.to_string(), Vec::new()));
            open = true;
        } else if let Some(last) = out.last_mut() {
            last.2.push(trimmed.to_string());
        }
    }
    out
}

fn run_file(name: &str, tally: &mut Tally) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upstream/promqltest")
        .join(format!("{name}.test"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut script = Script::new();
    for (line, command, body) in blocks(&text) {
        let whereabouts = format!("{name}:{line}");
        let mut words = command.splitn(2, ' ');
        let (verb, rest) = (words.next().unwrap(), words.next().unwrap_or("").trim());
        match verb {
            "clear" => script = Script::new(),
            "load" | "load_with_nhcb" => {
                if let Err(e) = script.load(rest, &body, verb == "load_with_nhcb") {
                    panic!("{whereabouts}: {e}");
                }
            }
            "eval" | "eval_fail" | "eval_ordered" | "eval_warn" | "eval_info" => {
                let Some(instant) = rest.strip_prefix("instant at ") else {
                    tally.skip("range query");
                    continue;
                };
                let (at, query) = instant.split_once(' ').unwrap_or((instant, ""));
                let expects: Vec<&String> =
                    body.iter().filter(|l| l.starts_with("expect ")).collect();
                if expects
                    .iter()
                    .any(|l| l.starts_with("expect string") || l.starts_with("expect range vector"))
                {
                    tally.skip("string or range-vector result");
                    continue;
                }
                let e = Eval {
                    at: at.to_string(),
                    query: query.trim().to_string(),
                    expect_fail: verb == "eval_fail"
                        || expects.iter().any(|l| l.starts_with("expect fail")),
                    lines: body
                        .iter()
                        .filter(|l| !l.starts_with("expect "))
                        .cloned()
                        .collect(),
                    line,
                };
                let _ = e.line;
                run_eval(&script, &e, &whereabouts, tally);
            }
            other => panic!("{whereabouts}: unknown command `{other}`"),
        }
    }
}

#[test]
fn prometheus_promqltest_cases() {
    let mut tally = Tally::default();
    for name in FILES {
        run_file(name, &mut tally);
    }
    let skipped: usize = tally.skipped.values().sum();
    println!(
        "promqltest: {} cases ran, {} passed, {} known differences, {} failed; {skipped} skipped",
        tally.ran,
        tally.passed,
        tally.known,
        tally.failures.len()
    );
    for (why, n) in &tally.skipped {
        println!("  skipped {n:4}  {why}");
    }
    for (case, why) in KNOWN_DIFFERENCES {
        println!("  known difference {case}: {why}");
    }
    assert!(tally.ran > 100, "only {} cases ran", tally.ran);
    assert!(
        tally.failures.is_empty(),
        "{} supported cases fail:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}

#[test]
fn the_points_syntax_expands_like_promtool() {
    let mut v = Vec::new();
    for t in ["1+2x2", "_", "10-1x1", "7x1", "_x2", "stale", "-1e-3"] {
        expand(t, &mut v).unwrap();
    }
    let shown: Vec<String> = v
        .iter()
        .map(|x| match x {
            None => "_".into(),
            Some(x) if x.is_nan() => "stale".into(),
            Some(x) => x.to_string(),
        })
        .collect();
    assert_eq!(
        shown,
        ["1", "3", "5", "_", "10", "9", "7", "7", "_", "_", "stale", "-0.001"]
    );
    assert!(expand("{{schema:1}}", &mut v).is_err());
    assert_eq!(duration_ms("1h5m"), Some(3_900_000));
    assert_eq!(duration_ms("30s"), Some(30_000));
    assert_eq!(duration_ms("100ms"), Some(100));
    let (l, rest) = series(r#"m{a="x y", b='q\"'} 1 2"#).unwrap();
    assert_eq!(
        l.to_string(),
        Labels::named("m")
            .with("a", "x y")
            .with("b", "q\"")
            .to_string()
    );
    assert_eq!(rest.trim(), "1 2");
}
