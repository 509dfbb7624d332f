//! Parses an exposition file repeatedly and prints the median throughput of `parse()`, or,
//! given names, of `parse_only()` keeping just those (as a scrape does for what signals read).
//! Run: cargo run --release --example parse_file -- FILE [rounds=15] [name,name...]

use std::time::Instant;

use slitop::exposition::{parse, parse_only, Format};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: parse_file FILE [rounds]");
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(15);
    let keep: Option<std::collections::HashSet<String>> = args
        .get(3)
        .map(|a| a.split(',').map(str::to_string).collect());
    let text = std::fs::read_to_string(path).expect("read file");
    let mut secs = Vec::new();
    let mut samples = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let s = match &keep {
            Some(k) => parse_only(&text, Format::Text004, &|n| k.contains(n)),
            None => parse(&text, Format::Text004),
        }
        .expect("parse");
        secs.push(t.elapsed().as_secs_f64());
        samples = s.samples.len();
        drop(s);
    }
    secs.sort_by(f64::total_cmp);
    let med = secs[secs.len() / 2];
    let mb = text.len() as f64 / 1e6;
    println!(
        "{:.1} MB/s  ({mb:.2} MB, {samples} samples, median {:.1} ms of {rounds} rounds)",
        mb / med,
        med * 1e3
    );
}
