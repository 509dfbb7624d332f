//! The exposition parser (text 0.0.4 and OpenMetrics): strict, lenient and filtered.

use std::path::Path;

use slitop::exposition::{parse, parse_lenient, parse_only, Format};

use super::gen::{name, number, outcome, text};
use super::Target;
use crate::corpus::{chunks, files};
use crate::rng::Rng;

pub const TARGET: Target = Target {
    name: "exposition",
    seeds,
    generate,
    tokens: &[
        b"# TYPE ",
        b"# HELP ",
        b"# UNIT ",
        b"# EOF\n",
        b" counter\n",
        b" histogram\n",
        b" summary\n",
        b" gaugehistogram\n",
        b" stateset\n",
        b" info\n",
        b"{le=\"+Inf\"}",
        b"_bucket",
        b"_total",
        b"_created",
        b"_sum",
        b"_count",
        b"{}",
        b"{a=\"b\",}",
        b"=\"",
        b"\\\"",
        b"\\n",
        b" # {trace_id=\"x\"} 1 2",
        b" 1700000000000",
        b" 1700000000.5",
    ],
    max_len: crate::mutate::MAX_LEN,
    run,
};

fn seeds(root: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in files(root, "tests/fixtures/openmetrics", ".txt")
        .into_iter()
        .chain(files(
            root,
            "tests/fixtures/upstream/openmetrics/parsers",
            "metrics",
        ))
    {
        out.extend(chunks(&f));
    }
    out
}

fn generate(rng: &mut Rng, _: &[Vec<u8>]) -> Vec<u8> {
    let mut s = String::new();
    for _ in 0..rng.between(1, 6) {
        let family = name(rng);
        if rng.one_in(2) {
            let kind = rng.pick(&[
                "counter",
                "gauge",
                "histogram",
                "summary",
                "untyped",
                "unknown",
                "info",
                "stateset",
                "gaugehistogram",
                "bogus",
            ]);
            s += &format!("# TYPE {family} {kind}\n");
        }
        if rng.one_in(3) {
            s += &format!("# HELP {family} {}\n", text(rng));
        }
        if rng.one_in(6) {
            s += &format!("# UNIT {family} {}\n", name(rng));
        }
        for _ in 0..rng.below(5) {
            s += &sample_line(rng, &family);
        }
    }
    if rng.one_in(2) {
        s += "# EOF\n";
    }
    s.into_bytes()
}

fn sample_line(rng: &mut Rng, family: &str) -> String {
    let suffix = rng.pick(&[
        "", "", "_total", "_bucket", "_sum", "_count", "_created", "_info",
    ]);
    let mut line = format!("{family}{suffix}");
    if !rng.one_in(3) {
        let labels: Vec<String> = (0..rng.below(4))
            .map(|_| {
                let value = if rng.one_in(3) {
                    number(rng)
                } else {
                    text(rng).replace('\n', "\\n")
                };
                format!("{}=\"{}\"", name(rng), value)
            })
            .collect();
        line += &format!("{{{}}}", labels.join(rng.pick(&[",", ", ", ",,"])));
    }
    line += rng.pick(&[" ", "  ", "\t"]);
    line += &number(rng);
    if rng.one_in(3) {
        line += &format!(" {}", number(rng));
    }
    line + rng.pick(&["\n", "\n", "\r\n", ""])
}

fn run(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let strict = parse(&text, Format::Text004);
    let lenient = parse_lenient(&text, Format::Text004);
    // Whatever the strict parser takes, the lenient one takes the same.
    if let Ok(s) = &strict {
        let l = lenient
            .as_ref()
            .expect("strict parse succeeded, so must the lenient one");
        assert_eq!(
            s.samples.len(),
            l.samples.len(),
            "strict and lenient samples differ"
        );
    }
    let om = parse_lenient(&text, Format::OpenMetrics);
    let only = parse_only(&text, Format::OpenMetrics, &|n| n.starts_with('h'));
    let count = |s: &slitop::exposition::Scrape| format!("{} families", s.families.len().min(3));
    format!(
        "{} | {} | {} | {}",
        outcome(&strict, count),
        outcome(&lenient, count),
        outcome(&om, count),
        outcome(&only, count)
    )
}
