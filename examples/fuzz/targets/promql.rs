//! The PromQL front end a signal's query goes through: compile for local evaluation, the
//! syntax check for remote queries, and the rewrite of its ranges for the detector.

use std::path::Path;
use std::time::Duration;

use slitop::promql::{check_syntax, compile_local, interval};

use super::gen::{name, number, outcome};
use super::Target;
use crate::corpus::files;
use crate::rng::Rng;

pub const TARGET: Target = Target {
    name: "promql",
    seeds,
    generate,
    tokens: &[
        b"[5m]",
        b"[1s:1s]",
        b"[0s]",
        b"[99999999999y]",
        b" offset 5m",
        b" offset -5m",
        b" @ 1",
        b" @ start()",
        b" by (le)",
        b" without (a)",
        b" on (a) group_left (b) ",
        b" bool ",
        b" and ",
        b" or ",
        b" unless ",
        b"^",
        b"%",
        b"atan2",
        b"{a=~\"(\"}",
        b"{a!~\".*\"}",
        b"{__name__=\"x\"}",
        b"rate(",
        b"histogram_quantile(0.95,",
        b"sum(",
        b"topk(3,",
        b"quantile_over_time(",
        b"label_replace(",
        b"absent(",
        b"vector(1)",
        b"scalar(",
        b"1e309",
        b"0x1p3",
        b"Inf",
        b"#",
        b"`",
        b"'",
    ],
    max_len: 2048,
    run,
};

/// The queries of the shipped configs and the expressions of the upstream PromQL tests.
fn seeds(root: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in files(root, "config", ".toml") {
        for line in String::from_utf8_lossy(&f).lines() {
            if let Some(q) = line.trim().strip_prefix("query = \"") {
                let q = q
                    .trim_end_matches('"')
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\");
                out.push(q.into_bytes());
            }
        }
    }
    for f in files(root, "tests/fixtures/upstream/promqltest", ".test") {
        for line in String::from_utf8_lossy(&f).lines() {
            let expr = line
                .strip_prefix("eval instant at ")
                .and_then(|r| r.split_once(' '))
                .map(|(_, e)| e)
                .or_else(|| {
                    line.strip_prefix("eval range from ")
                        .and_then(|r| r.splitn(6, ' ').nth(5))
                });
            if let Some(e) = expr {
                out.push(e.as_bytes().to_vec());
            }
        }
    }
    out
}

fn generate(rng: &mut Rng, _: &[Vec<u8>]) -> Vec<u8> {
    let depth = rng.between(1, 5);
    expr(rng, depth).into_bytes()
}

fn expr(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 {
        return match rng.below(4) {
            0 => number(rng),
            1 => format!("\"{}\"", name(rng)),
            _ => selector(rng),
        };
    }
    let d = depth - 1;
    match rng.below(9) {
        0 => format!(
            "{}({}[{}])",
            rng.pick(&[
                "rate",
                "irate",
                "increase",
                "delta",
                "deriv",
                "avg_over_time",
                "max_over_time",
                "resets",
                "changes",
                "count_over_time"
            ]),
            selector(rng),
            duration(rng)
        ),
        1 => format!(
            "{} {}({})",
            rng.pick(&["sum", "avg", "max", "min", "count", "stddev", "group"]),
            grouping(rng),
            expr(rng, d)
        ),
        2 => format!(
            "{}({}, {})",
            rng.pick(&[
                "topk",
                "bottomk",
                "quantile",
                "histogram_quantile",
                "clamp_min",
                "clamp_max",
                "round"
            ]),
            number(rng),
            expr(rng, d)
        ),
        3 => format!(
            "{} {} {}{}",
            expr(rng, d),
            rng.pick(&[
                "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or",
                "unless", "atan2"
            ]),
            rng.pick(&[
                "",
                "bool ",
                "on(a) ",
                "ignoring(le) ",
                "on() group_left ",
                "on(a) group_right(b) "
            ]),
            expr(rng, d)
        ),
        4 => format!("({})", expr(rng, d)),
        5 => format!("-{}", expr(rng, d)),
        6 => format!("{}[{}:{}]", expr(rng, d), duration(rng), duration(rng)),
        7 => format!(
            "{}({})",
            rng.pick(&[
                "abs",
                "ceil",
                "floor",
                "exp",
                "ln",
                "sqrt",
                "scalar",
                "vector",
                "time",
                "absent",
                "sort",
                "timestamp",
                "label_join",
                "nonexistent"
            ]),
            expr(rng, d)
        ),
        _ => format!("{} offset {}", selector(rng), duration(rng)),
    }
}

fn selector(rng: &mut Rng) -> String {
    let matchers: Vec<String> = (0..rng.below(3))
        .map(|_| {
            let op = rng.pick(&["=", "!=", "=~", "!~"]);
            let value = rng.pick(&[
                "",
                "a",
                ".*",
                "(",
                "a|b",
                "[a-",
                "\\\\d+",
                "x{1000}{1000}",
                "é",
                "\\\"",
                "200",
            ]);
            format!("{}{op}\"{value}\"", name(rng))
        })
        .collect();
    let metric = if rng.one_in(5) {
        String::new()
    } else {
        name(rng)
    };
    if matchers.is_empty() && !metric.is_empty() {
        metric
    } else {
        format!("{metric}{{{}}}", matchers.join(","))
    }
}

fn duration(rng: &mut Rng) -> String {
    rng.pick(&[
        "1s",
        "5m",
        "30s",
        "1h",
        "0s",
        "1ms",
        "1y",
        "1h30m",
        "999999999999999999d",
        "1.5m",
        "-1m",
        "5",
        "",
    ])
    .to_string()
}

fn grouping(rng: &mut Rng) -> String {
    rng.pick(&[
        "",
        "by (le)",
        "without (instance)",
        "by ()",
        "by (a, b)",
        "by (__name__)",
    ])
    .to_string()
}

fn run(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let compiled = compile_local(&text);
    if let Ok(q) = &compiled {
        let _ = q.metric_names();
    }
    // The detector's fast view must still be a query Prometheus parses.
    let fitted = interval::fitted(&text, Duration::from_secs(10));
    if let Ok(Some(f)) = &fitted {
        assert!(
            check_syntax(f).is_ok(),
            "the rewritten query {f:?} does not parse"
        );
        let _ = interval::range_selectors(f);
    }
    format!(
        "{} | {}",
        outcome(&compiled, |_| String::new()),
        outcome(&fitted, |f| f.is_some().to_string())
    )
}
