//! The config loader: one TOML document, and a document layered over a preset.

use std::path::Path;

use slitop::settings::{load_layers, parse_config, preset_text};

use super::gen::{number, outcome, text};
use super::Target;
use crate::corpus::files;
use crate::rng::Rng;

pub const TARGET: Target = Target {
    name: "config",
    seeds,
    generate,
    tokens: &[
        b"[prometheus]\n",
        b"[scrape]\n",
        b"[valkey]\n",
        b"[k6]\n",
        b"[detect]\n",
        b"[report]\n",
        b"[gates]\n",
        b"[export]\n",
        b"[[signal]]\n",
        b"[[slo]]\n",
        b"name = ",
        b"query = ",
        b"refresh = ",
        b"window = ",
        b"\"0s\"",
        b"\"-1s\"",
        b"\"1e400s\"",
        b"\"18446744073709551615s\"",
        b"'''",
        b"\"\"\"",
        b"= [",
        b"= {",
        b"inf",
        b"nan",
        b"-inf",
        b"1979-05-27T07:32:00Z",
        b"0o7",
        b"0b1",
        b"+1_000",
        b"\"redis://[::1\"",
        b"\"http://\"",
    ],
    max_len: crate::mutate::MAX_LEN,
    run,
};

/// The shipped configs, and the template with its commented-out keys switched on.
fn seeds(root: &Path) -> Vec<Vec<u8>> {
    let mut out = files(root, "config", ".toml");
    for f in files(root, "config", "template.toml") {
        out.push(uncommented(&String::from_utf8_lossy(&f)).into_bytes());
    }
    out
}

/// Lines of the template that are keys or tables behind a `# `, without it.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || key_line(rest) => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn key_line(s: &str) -> bool {
    s.split_once(" = ").is_some_and(|(k, _)| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    })
}

/// Tables and keys of the real configs, recombined, with values swapped for odd ones.
fn generate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let seed = String::from_utf8_lossy(rng.pick_ref(seeds).as_slice()).into_owned();
    let tables: Vec<&str> = seed.split("\n[").collect();
    let mut out = String::new();
    for _ in 0..rng.between(1, 5) {
        let table = rng.pick(&tables);
        let mut lines = table.lines();
        if let Some(head) = lines.next() {
            out += if head.starts_with('[') || head.ends_with(']') {
                "["
            } else {
                ""
            };
            out += head;
            out += "\n";
        }
        for line in lines {
            if rng.one_in(4) {
                continue;
            }
            match line.split_once(" = ") {
                Some((k, _)) if rng.one_in(3) => out += &format!("{k} = {}\n", value(rng)),
                _ => out += &format!("{line}\n"),
            }
        }
    }
    out.into_bytes()
}

fn value(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => number(rng).replace("Inf", "inf").replace("NaN", "nan"),
        1 => format!("{:?}", text(rng)),
        2 => format!(
            "\"{}\"",
            rng.pick(&[
                "0s",
                "-1s",
                "1ms",
                "1e400s",
                "18446744073709551615s",
                "5",
                "1h30m",
                "",
                "1 s",
                "∞"
            ])
        ),
        3 => format!(
            "\"{}\"",
            rng.pick(&[
                "http://127.0.0.1:9090",
                "http://",
                "ftp://x",
                "redis://[::1",
                "rediss://u:p@h/0",
                "",
                "http://a b",
                "valkey://h:99999"
            ])
        ),
        4 => rng
            .pick(&[
                "[]",
                "{}",
                "[1, \"a\"]",
                "true",
                "{ a = 1 }",
                "[[]]",
                "1979-05-27",
            ])
            .to_string(),
        _ => format!(
            "\"{}\"",
            rng.pick(&[
                "sum(rate(x[5s]))",
                "",
                "(",
                "histogram_quantile(0.95, x)",
                "higher_is_worse",
                "lower_is_worse",
                "auto",
                "local",
                "leading"
            ])
        ),
    }
}

fn run(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input).into_owned();
    let alone = parse_config(&text, "fuzz.toml");
    // Every few inputs, layered over a preset as `--preset NAME --config FILE` does.
    let layered = if input.len() % 8 == 0 {
        let base = preset_text("valkey-hop").expect("the preset ships");
        outcome(
            &load_layers(&[("preset".into(), base.into()), ("fuzz.toml".into(), text)]),
            |_| String::new(),
        )
    } else {
        String::new()
    };
    format!("{} | {layered}", outcome(&alone, |_| String::new()))
}
