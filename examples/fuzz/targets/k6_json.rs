//! The k6 JSON output line parser (`k6 run --out json=FILE`), a few lines at a time.

use std::path::Path;
use std::time::Duration;

use slitop::sources::k6_json::K6JsonPoller;

use super::gen::{json_any, json_str, number, text};
use super::Target;
use crate::rng::Rng;

pub const TARGET: Target = Target {
    name: "k6-json",
    seeds,
    generate,
    tokens: &[
        b"\"metric\":\"http_reqs\",",
        b"\"metric\":\"http_req_duration\",",
        b"\"type\":\"Point\",",
        b"\"data\":",
        b"\"time\":\"2026-11-22T15:09:39.262+01:00\"",
        b"\"value\":",
        b"\"tags\":{",
        b"+0\xc3\xa900",
        b".999999999999999999999Z",
        b"\"error_code\":\"1050\"",
        b"\"status\":\"0\"",
    ],
    max_len: crate::mutate::MAX_LEN,
    run,
};

/// The clock the lines are read against (points up to a minute past it are taken).
const NOW: i64 = 1_795_360_179_000;

/// Lines as k6 v1 writes them: a metric's declaration, then its points.
fn seeds(_: &Path) -> Vec<Vec<u8>> {
    [
        r#"{"type":"Metric","data":{"name":"http_reqs","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"http_reqs"}"#,
        r#"{"metric":"http_reqs","type":"Point","data":{"time":"2026-11-22T15:09:39.262166419Z","value":1,"tags":{"expected_response":"true","group":"","method":"GET","name":"http://127.0.0.1:8080/","proto":"HTTP/1.1","scenario":"default","status":"200","url":"http://127.0.0.1:8080/"}}}"#,
        r#"{"metric":"http_req_duration","type":"Point","data":{"time":"2026-11-22T16:09:39.262+01:00","value":12.5,"tags":{"status":"200","method":"GET"}}}"#,
        r#"{"metric":"http_req_failed","type":"Point","data":{"time":"2026-11-22T15:09:39Z","value":1,"tags":{"error_code":"1211","error":"request timeout","status":"0"}}}"#,
        r#"{"metric":"http_reqs","type":"Point","data":{"time":"2026-11-22T15:09:39.5Z","value":1,"tags":{"error_code":"1050","error":"dial: i/o timeout","status":"0"}}}"#,
        r#"{"metric":"http_req_blocked","type":"Point","data":{"time":"2026-11-22T15:09:39.262Z","value":0.004,"tags":{}}}"#,
        r#"{"metric":"vus","type":"Point","data":{"time":"2026-11-22T15:09:39.262Z","value":10,"tags":null}}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn generate(rng: &mut Rng, _: &[Vec<u8>]) -> Vec<u8> {
    let mut out = String::new();
    for _ in 0..rng.between(1, 5) {
        let metric = json_str(rng.pick(&[
            "http_reqs",
            "http_req_duration",
            "http_req_failed",
            "vus",
            "http_req_blocked",
            "",
            "http_reqs\\u0000",
        ]));
        let kind = json_str(rng.pick(&["Point", "Metric", "point", ""]));
        let value = if rng.one_in(4) {
            json_any(rng, 1)
        } else {
            number(rng).replace("Inf", "1e999").replace("NaN", "0")
        };
        let tags: Vec<String> = (0..rng.below(4))
            .map(|_| {
                format!(
                    "{}:{}",
                    json_str(rng.pick(&["status", "error_code", "error", "method", "metric"])),
                    if rng.one_in(5) {
                        json_any(rng, 1)
                    } else {
                        json_str(&text(rng))
                    }
                )
            })
            .collect();
        let data = format!(
            "{{\"time\":{},\"value\":{value},\"tags\":{{{}}}}}",
            json_str(&time(rng)),
            tags.join(",")
        );
        out += &match rng.below(3) {
            0 => format!("{{\"metric\":{metric},\"type\":{kind},\"data\":{data}}}"),
            1 => format!("{{\"type\":{kind},\"data\":{data},\"metric\":{metric}}}"),
            _ => format!("{{\"data\":{data},\"metric\":{metric},\"type\":{kind}}}"),
        };
        out += rng.pick(&["\n", "\r\n", "\n\n"]);
    }
    out.into_bytes()
}

/// RFC 3339 as Go writes it, and the ways it can be off.
fn time(rng: &mut Rng) -> String {
    let date = rng.pick(&[
        "2026-11-22T15:09:39",
        "0000-01-01T00:00:00",
        "9999-12-31T23:59:60",
        "2026-13-40T25:61:61",
        "1969-12-31T23:59:59",
        "2026-11-22 15:09:39",
        "2026-11-22T15:09:3é",
    ]);
    let frac = rng.pick(&["", ".5", ".262166419", ".", ".9999999999999999999999", ".é"]);
    let zone = rng.pick(&[
        "Z", "z", "+01:00", "-23:59", "+99:00", "+0é00", "+01:0", "", "+01:00Z",
    ]);
    format!("{date}{frac}{zone}")
}

fn run(input: &[u8]) -> String {
    let mut poller = K6JsonPoller::new(Vec::new(), Duration::from_secs(60));
    // The kinds of line seen, not their order: a cheap count of the paths taken.
    let kinds: std::collections::BTreeSet<String> = input
        .split(|b| *b == b'\n')
        .map(|line| format!("{:?}", poller.take_line(line, NOW)))
        .collect();
    kinds.into_iter().collect::<Vec<_>>().join(" ")
}
