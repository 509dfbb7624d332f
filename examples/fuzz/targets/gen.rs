//! Pieces the grammars share: names, numbers and strings as the formats spell them, with the
//! odd ones among them.

use crate::rng::Rng;

pub const NAMES: &[&str] = &[
    "http_requests_total",
    "hop_latency_seconds_bucket",
    "up",
    "a",
    "_",
    "a:b:c",
    "x_total",
    "valkey_stream_length",
    "k6_http_reqs_total",
    "job",
    "le",
    "quantile",
    "__name__",
    "instance",
    "é",
    "名",
    "a-b",
    "1a",
    "",
    "a b",
    "sum",
    "rate",
    "by",
    "on",
    "offset",
    "bool",
    "inf",
    "nan",
    "NaN",
    "Inf",
];

/// Numbers as text, ordinary and not.
pub const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.5",
    "42",
    "1e3",
    "1.5e-7",
    "NaN",
    "+Inf",
    "-Inf",
    "Inf",
    "nan",
    "-0",
    "1e308",
    "1e309",
    "-1e309",
    "4.9e-324",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "0x10",
    "1_000",
    ".5",
    "5.",
    "+5",
    "1e",
    "",
    "--1",
    "1.2.3",
    "١",
];

pub fn name(rng: &mut Rng) -> String {
    if rng.one_in(4) {
        let len = rng.between(1, 20);
        (0..len)
            .map(|_| rng.pick(b"abcxyz_:019AZ"))
            .map(char::from)
            .collect()
    } else {
        rng.pick(NAMES).to_string()
    }
}

pub fn number(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => rng.pick(NUMBERS).to_string(),
        1 => (rng.next() as i64 >> rng.below(64)).to_string(),
        _ => format!("{}", f64::from_bits(rng.next())),
    }
}

/// Free text with the characters that need escaping in one format or another.
pub fn text(rng: &mut Rng) -> String {
    const PARTS: &[&str] = &[
        "a",
        "b c",
        "\"",
        "\\",
        "\\\\",
        "\\n",
        "\n",
        "\t",
        ",",
        "=",
        "}",
        "{",
        "#",
        "é",
        "😀",
        "\u{2028}",
        "\u{0}",
        "\u{1b}[31m",
        "'",
        "`",
        "|",
        "<b>",
        "%s",
        "${x}",
    ];
    let n = rng.below(8);
    (0..n).map(|_| rng.pick(PARTS)).collect()
}

/// A JSON string literal of `s`, escaped as JSON wants (the input stays valid JSON).
pub fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

/// A JSON value of any kind, nested at most `depth` deep.
pub fn json_any(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth == 0 { 4 } else { 6 }) {
        0 => "null".into(),
        1 => rng
            .pick(&[
                "true",
                "false",
                "0",
                "-1",
                "1.5",
                "1e400",
                "-0",
                "18446744073709551616",
            ])
            .to_string(),
        2 => json_str(&text(rng)),
        3 => json_str(&number(rng)),
        4 => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| json_any(rng, depth - 1))
                .collect();
            format!("[{}]", items.join(","))
        }
        _ => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| format!("{}:{}", json_str(&name(rng)), json_any(rng, depth - 1)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

/// A Prometheus API sample pair: `[unix seconds, "value"]`, or something near it.
pub fn json_pair(rng: &mut Rng) -> String {
    if rng.one_in(10) {
        return json_any(rng, 2);
    }
    let ts = rng.pick(&[
        "1795644743.473",
        "0",
        "-1",
        "1e308",
        "1.5",
        "\"1\"",
        "1795644743",
    ]);
    let v = if rng.one_in(10) {
        number(rng)
    } else {
        json_str(&number(rng))
    };
    format!("[{ts},{v}]")
}

/// The outcome of a `Result` as text: `ok` with `what`, or the error.
pub fn outcome<T, E: std::fmt::Display>(r: &Result<T, E>, what: impl Fn(&T) -> String) -> String {
    match r {
        Ok(v) => format!("ok {}", what(v)),
        Err(e) => format!("err {e}"),
    }
}
