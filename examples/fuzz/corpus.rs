//! The seed inputs: the repository's own fixtures, read at start.

use std::path::{Path, PathBuf};

use crate::mutate::MAX_LEN;

/// The repository the harness belongs to.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (recursively) whose name ends with `suffix`, sorted by path.
pub fn files(root: &Path, dir: &str, suffix: &str) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    walk(&root.join(dir), suffix, &mut paths);
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn walk(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, suffix, out);
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
}

/// A text cut into pieces of whole lines, each under half the input cap (room to grow).
pub fn chunks(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut piece = Vec::new();
    for line in text.split_inclusive(|b| *b == b'\n') {
        if piece.len() + line.len() > MAX_LEN / 2 && !piece.is_empty() {
            out.push(std::mem::take(&mut piece));
        }
        piece.extend_from_slice(&line[..line.len().min(MAX_LEN / 2)]);
    }
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}
