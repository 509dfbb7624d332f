//! The recording reader: plain JSON lines and zstd-compressed, from bytes in memory.

use std::path::Path;

use slitop::record::read::Recording;

use super::gen::{json_any, json_str, name, number, outcome, text};
use super::Target;
use crate::corpus::files;
use crate::rng::Rng;

pub const TARGET: Target = Target {
    name: "recording",
    seeds,
    generate,
    tokens: &[
        b"{\"k\":\"tick\",\"t\":1}\n",
        b"{\"k\":\"series\",\"id\":0,\"labels\":{}}\n",
        b"{\"k\":\"samples\",\"src\":\"x\",\"s\":[[0,1,\"NaN\"]]}\n",
        b"\"stale\"",
        b"\"+Inf\"",
        b"\"format\":99",
        b"\"kind\":\"x\"",
        b"(\xb5/\xfd",
        b"\n\n",
        b"{\"k\":1}\n",
    ],
    max_len: crate::mutate::MAX_LEN,
    run,
};

/// Lines kept from the head of each fixture: its header and the first refreshes.
const LINES: usize = 12;

/// The detector fixtures' heads, plain and compressed (a frame per few lines, as the writer
/// flushes one per refresh), and the same with a header cut to one signal.
fn seeds(root: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in files(root, "tests/fixtures/detector", ".jsonl") {
        let text = String::from_utf8_lossy(&f);
        let mut lines: Vec<String> = text.lines().take(LINES).map(|l| format!("{l}\n")).collect();
        let plain = lines.concat().into_bytes();
        out.push(compressed(&lines));
        out.push(plain);
        lines[0] = small_header(&lines[0]);
        out.push(compressed(&lines));
        out.push(lines.concat().into_bytes());
    }
    out
}

fn compressed(lines: &[String]) -> Vec<u8> {
    lines
        .chunks(5)
        .flat_map(|c| zstd::bulk::compress(c.concat().as_bytes(), 1).expect("zstd compresses"))
        .collect()
}

fn small_header(line: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(line).expect("a fixture's header is JSON");
    if let Some(signals) = v.get_mut("signals").and_then(|s| s.as_array_mut()) {
        signals.truncate(1);
    }
    format!("{v}\n")
}

/// A real header, then record lines of every kind with odd fields, plain or compressed, and
/// sometimes cut short.
fn generate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    // Each fixture gives four seeds; the fourth is plain, with a header of one signal.
    let plain = &seeds[rng.below(seeds.len() / 4) * 4 + 3];
    let header_end = plain
        .iter()
        .position(|b| *b == b'\n')
        .map_or(plain.len(), |i| i + 1);
    let mut lines = vec![String::from_utf8_lossy(&plain[..header_end]).into_owned()];
    for _ in 0..rng.between(1, 12) {
        lines.push(format!("{}\n", record(rng)));
    }
    let mut out = if rng.one_in(3) {
        compressed(&lines)
    } else {
        lines.concat().into_bytes()
    };
    if rng.one_in(4) {
        out.truncate(rng.below(out.len() + 1));
    }
    out
}

fn record(rng: &mut Rng) -> String {
    let t = rng.pick(&[
        "1795644743473",
        "0",
        "-1",
        "9223372036854775807",
        "1.5",
        "\"1\"",
        "null",
    ]);
    let src = json_str(&name(rng));
    let id = rng.pick(&["0", "1", "2", "18446744073709551615", "-1", "1.0", "\"0\""]);
    let value = || rng_value();
    match rng.below(11) {
        0 => format!("{{\"k\":\"series\",\"id\":{id},\"labels\":{{\"__name__\":{},\"le\":{}}}}}", json_str(&name(rng)), json_str(&number(rng))),
        1 => format!("{{\"k\":\"samples\",\"src\":{src},\"s\":[[{id},{t},{}],[{id},{t},{}]]}}", value()[rng.below(9)], value()[rng.below(9)]),
        2 => format!("{{\"k\":\"values\",\"src\":{src},\"signal\":{},\"p\":[{{\"labels\":{{}},\"t\":{t},\"v\":{}}}]}}", json_str(&name(rng)), value()[rng.below(9)]),
        3 => format!("{{\"k\":\"tick\",\"t\":{t}}}"),
        4 => format!("{{\"k\":\"stage\",\"t\":{t},\"stage\":{},\"state\":{},\"evidence\":{}}}", json_str(rng.pick(&["rate_rises", "decoupled", "pending_climbs", "plateau", "p95_high", "errors_visible", "x"])), json_str(rng.pick(&["suspected", "active", "cleared", "inactive", "?"])), json_str(&text(rng))),
        5 => format!("{{\"k\":\"annotation\",\"t\":{t},\"text\":{}}}", json_str(&text(rng))),
        6 => format!("{{\"k\":\"end\",\"t\":{t}}}"),
        7 => format!("{{\"k\":\"health\",\"src\":{src},\"t\":{t},\"health\":{{\"state\":{},\"reason\":{},\"since\":{t}}}}}", json_str(rng.pick(&["ok", "starting", "stale", "down", "finished", "x"])), json_str(&text(rng))),
        8 => format!("{{\"k\":\"query_error\",\"src\":{src},\"signal\":\"s\",\"error\":{}}}", json_str(&text(rng))),
        9 => format!("{{\"k\":\"warnings\",\"src\":{src},\"signal\":\"s\",\"warnings\":{}}}", json_any(rng, 2)),
        _ => json_any(rng, 3),
    }
}

fn rng_value() -> [&'static str; 9] {
    [
        "0.0",
        "1.5",
        "\"NaN\"",
        "\"+Inf\"",
        "\"-Inf\"",
        "\"stale\"",
        "1e400",
        "null",
        "\"1\"",
    ]
}

fn run(input: &[u8]) -> String {
    let rec = Recording::from_either(input, "fuzz.jsonl");
    outcome(&rec, |r| format!("torn {}", r.torn_tail))
}
