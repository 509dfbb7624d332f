//! Polls and refreshes keep one cadence for a whole run: a scrape that answers within half a
//! refresh counts at the refresh just after it, every time, and the polls do not drift.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{run_slitop, stderr_of, FakeHttp, Reply};

#[test]
fn a_slow_scrape_counts_at_the_refresh_just_after_it_every_time() {
    // A target that takes 150 ms to answer, as a busy service's /metrics does.
    let polls = Arc::new(AtomicU64::new(0));
    let n = polls.clone();
    let target = FakeHttp::start(move |_| {
        std::thread::sleep(Duration::from_millis(150));
        let c = n.fetch_add(1, Ordering::Relaxed);
        Reply::ok(
            "text/plain; version=0.0.4",
            format!("# TYPE jobs_total counter\njobs_total {}\n", 10 * c),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/metrics", target.port);
    let out = dir.path().join("run");
    let o = run_slitop(
        &[
            "--scrape",
            &url,
            "--signal",
            "jobs=sum(rate(jobs_total[5s]))",
            "--refresh",
            "1s",
            "--headless",
            "--duration",
            "9s",
            "--record-format",
            "jsonl",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let text = std::fs::read_to_string(out.join("recording.jsonl")).unwrap();
    let (mut ticks, mut samples) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["k"].as_str() {
            Some("tick") => ticks.push(v["t"].as_i64().unwrap()),
            Some("samples") if v["src"] == "scrape" => samples.extend(
                v["s"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s[1].as_i64().unwrap()),
            ),
            _ => {}
        }
    }
    samples.sort();
    samples.dedup();
    assert!(ticks.len() >= 6, "{ticks:?}");
    // Each refresh holds the sample of the poll just before it: never a refresh old.
    for &t in &ticks[1..] {
        let newest = samples.iter().copied().filter(|&s| s <= t).max().unwrap();
        assert!(
            t - newest < 700,
            "refresh at {t}: newest sample {} ms old (ticks {ticks:?}, samples {samples:?})",
            t - newest
        );
    }
    // The polls after the first keep one phase: within 100 ms of each other modulo the refresh.
    let phases: Vec<i64> = samples[1..].iter().map(|s| s.rem_euclid(1000)).collect();
    let spread = phases.iter().max().unwrap() - phases.iter().min().unwrap();
    assert!(spread < 100, "poll phases drift: {phases:?}");
}
