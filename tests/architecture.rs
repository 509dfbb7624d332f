//! The shape of the code, checked: every `crate::` reference between top-level modules must
//! follow the layer rules of docs/architecture.md (and so form no cycle), and no function may
//! run past 80 lines unless a comment above it says why it must be one piece.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module may import (besides itself). Kept in the order of the layers,
/// bottom first; docs/architecture.md explains each room.
const LAYERS: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("text", &[]),
    ("stats", &[]),
    ("backoff", &[]),
    ("secret", &[]),
    ("tls", &[]),
    ("usl", &[]),
    ("settings", &["model"]),
    ("exposition", &["model", "text"]),
    ("store", &["model"]),
    ("promql", &["model", "store"]),
    (
        "sources",
        &[
            "model",
            "settings",
            "text",
            "secret",
            "tls",
            "stats",
            "backoff",
            "exposition",
            "promql",
        ],
    ),
    ("engine", &["model", "settings", "promql", "store"]),
    ("detect", &["model", "settings", "engine", "usl"]),
    (
        "state",
        &["model", "settings", "store", "promql", "engine", "detect"],
    ),
    ("record", &["model", "settings", "text", "detect"]),
    (
        "report",
        &[
            "model", "settings", "text", "stats", "store", "promql", "engine", "detect", "state",
            "record", "usl",
        ],
    ),
    (
        "export",
        &[
            "model", "settings", "text", "secret", "tls", "backoff", "report",
        ],
    ),
    (
        "run",
        &[
            "model", "settings", "text", "promql", "store", "sources", "engine", "detect", "state",
            "record", "report", "export",
        ],
    ),
    (
        "check",
        &["model", "settings", "text", "sources", "engine", "state"],
    ),
    (
        "ui",
        &[
            "model", "settings", "text", "store", "engine", "detect", "state", "record", "report",
            "run",
        ],
    ),
    ("demo", &["model", "settings", "report", "run", "ui"]),
    ("grafana_import", &["model", "settings", "promql"]),
    (
        "cli",
        &[
            "model",
            "settings",
            "text",
            "sources",
            "engine",
            "state",
            "report",
            "export",
            "run",
            "check",
            "ui",
            "demo",
            "grafana_import",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The file's text without its `#[cfg(test)]` modules (tests may reach anywhere).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// The top-level module a file belongs to (`src/sources/valkey/mod.rs` → `sources`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let m = first.trim_end_matches(".rs");
    (m != "lib" && m != "main").then(|| m.to_string())
}

/// Top-level modules named after `crate::` in the text, in `use crate::{a, b::c}` groups too.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            // Only the group's first-level items name modules: `crate::{a::{x, y}, b}` → a, b.
            let mut depth = 0usize;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        insert_head(&mut out, &item);
                        item.clear();
                    }
                    c if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            insert_head(&mut out, &item);
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The first path segment of a `use` item (`b::c` → `b`).
fn insert_head(out: &mut BTreeSet<String>, item: &str) {
    let name: String = item
        .trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if !name.is_empty() && name != "self" {
        out.insert(name);
    }
}

fn edges() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in files {
        let Some(from) = module_of(&src, &f) else {
            continue;
        };
        let text = std::fs::read_to_string(&f).unwrap();
        // Comments may name any module; only code imports.
        let code: String = without_tests(&text)
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for to in referenced(&code) {
            if to != from {
                let rel = f.strip_prefix(&src).unwrap().display().to_string();
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(rel);
            }
        }
    }
    edges
}

#[test]
fn imports_follow_the_layers_and_form_no_cycle() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = LAYERS
        .iter()
        .map(|(m, a)| (*m, a.iter().copied().collect()))
        .collect();
    let edges = edges();
    let mut wrong = Vec::new();
    for (from, tos) in &edges {
        let Some(ok) = allowed.get(from.as_str()) else {
            wrong.push(format!("module `{from}` is not in the layer table (tests/architecture.rs, docs/architecture.md)"));
            continue;
        };
        for (to, files) in tos {
            if !ok.contains(to.as_str()) {
                let files: Vec<_> = files.iter().cloned().collect();
                wrong.push(format!(
                    "{from} → {to} (in {}) is against the layers",
                    files.join(", ")
                ));
            }
        }
    }
    for (from, tos) in &edges {
        println!(
            "{from} → {}",
            tos.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The table itself only points down: each module imports modules listed before it.
    let order: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .map(|(i, (m, _))| (*m, i))
        .collect();
    for (i, (m, deps)) in LAYERS.iter().enumerate() {
        for d in *deps {
            assert!(
                order.get(d).is_some_and(|j| *j < i),
                "{m} may import {d}, which is not below it"
            );
        }
    }
}

/// Length of every `fn` body, found by rustfmt's layout: the closing brace sits at the
/// indentation of the `fn` line.
fn long_functions(text: &str, limit: usize) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let indent = l.len() - t.len();
        let is_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) async fn ",
        ]
        .iter()
        .any(|p| t.starts_with(p));
        // A declaration without a body (a trait's) ends in `;` before any `{`.
        let head_end = lines[i..]
            .iter()
            .position(|x| x.ends_with('{') || x.ends_with(';'));
        if !is_fn || head_end.is_none_or(|k| lines[i + k].ends_with(';')) {
            continue;
        }
        let close = format!("{}}}", " ".repeat(indent));
        let Some(end) = lines[i..].iter().position(|x| *x == close) else {
            continue;
        };
        let len = end + 1;
        if len > limit {
            // A comment just above (among its doc comments and attributes) says why.
            let why = lines[..i]
                .iter()
                .rev()
                .take_while(|x| {
                    let x = x.trim_start();
                    x.starts_with("//") || x.starts_with("#[")
                })
                .any(|x| x.contains("One piece"));
            if !why {
                let name: String = t
                    .split("fn ")
                    .nth(1)
                    .unwrap_or("")
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push((name, i + 1, len));
            }
        }
    }
    out
}

#[test]
fn no_function_runs_past_80_lines_without_saying_why() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut long = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (name, line, len) in long_functions(without_tests(&text), 80) {
            long.push(format!("{}:{line}: fn {name} is {len} lines", f.display()));
        }
    }
    assert!(
        long.is_empty(),
        "split these, or say above each why it must be one piece (a comment containing \"One piece\"):\n{}",
        long.join("\n")
    );
}
