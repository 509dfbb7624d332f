//! A distributed k6 run: two real k6 instances drive one gateway of the reference pipeline and
//! slitop watches both (`--k6` twice). The figures it records for the summed k6 source must
//! equal the sum of both instances' own end-of-test summaries.
//!
//! Both k6 run with `--linger`, so their REST APIs keep answering with final figures after the
//! test ends; slitop's last polls come after both finished (each instance's last recorded status is "ended").
//! k6 writes `--summary-export` on exit, so each is
//! stopped gracefully once slitop is done.

mod common;
mod recorded;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, k6_bin, port_open, wait_until, ChildGuard, Valkey};
use serde_json::Value;
use slitop::sources::k6::STATUS_ENDED;

fn pipeline_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_slitop")).with_file_name("slitop-pipeline");
    assert!(
        p.is_file(),
        "{} missing: build the workspace (cargo test --workspace)",
        p.display()
    );
    p
}

/// One k6 at a constant arrival `rate` against `target`, its API on a free port.
fn start_k6(target: &str, rate: u32, summary: &Path) -> (ChildGuard, String) {
    let api = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/k6/baseline.js");
    let k6 = ChildGuard::spawn(
        "k6",
        Command::new(k6_bin())
            .args([
                "run",
                "--quiet",
                "--no-usage-report",
                "--linger",
                "--address",
            ])
            .arg(format!("127.0.0.1:{api}"))
            .arg(format!("--summary-export={}", summary.display()))
            .args(["-e", &format!("TARGET={target}")])
            .args(["-e", &format!("RATE={rate}"), "-e", "DURATION=12s"])
            .arg(script)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert!(
        wait_until(Duration::from_secs(15), || port_open(api)),
        "k6 REST API never came up"
    );
    (k6, format!("http://127.0.0.1:{api}"))
}

/// The last value the recording holds for each k6 series, by metric name (`name@instance` for
/// per-instance series).
fn last_k6_values(recording: &str) -> BTreeMap<String, f64> {
    let mut names = BTreeMap::new();
    let mut last = BTreeMap::new();
    for line in recording.lines() {
        let v: Value = serde_json::from_str(line).expect("recording line is JSON");
        match v["k"].as_str() {
            Some("series") => {
                if let (Some(id), Some(name)) = (v["id"].as_u64(), v["labels"]["__name__"].as_str())
                {
                    let key = match v["labels"]["instance"].as_str() {
                        Some(i) => format!("{name}@{i}"),
                        None => name.to_string(),
                    };
                    names.insert(id, key);
                }
            }
            Some("samples") if v["src"] == "k6" => {
                for s in v["s"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(x)) = (s[0].as_u64(), s[2].as_f64()) {
                        if let Some(name) = names.get(&id) {
                            last.insert(name.clone(), x);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    last
}

/// A figure from a `--summary-export` file; k6 leaves out metrics that never got a sample.
fn summary_figure(summary: &Value, metric: &str, field: &str) -> f64 {
    summary["metrics"][metric][field].as_f64().unwrap_or(0.0)
}

#[test]
fn two_k6_instances_are_summed_to_what_their_own_summaries_say() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let valkey = Valkey::start();
    let port = free_port();
    let _pipeline = ChildGuard::spawn(
        "slitop-pipeline",
        Command::new(pipeline_bin())
            .args(["--listen", &format!("127.0.0.1:{port}"), "--valkey"])
            .arg(valkey.url())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert!(wait_until(Duration::from_secs(15), || port_open(port)));
    let target = format!("http://127.0.0.1:{port}");
    let summaries = [d.join("a.json"), d.join("b.json")];
    let (mut k6_a, url_a) = start_k6(&target, 6, &summaries[0]);
    let (mut k6_b, url_b) = start_k6(&target, 4, &summaries[1]);

    // 12 s of load plus start-up; slitop keeps polling the lingering APIs for a few more.
    let out = d.join("run");
    let run = Command::new(common::slitop_bin())
        .args(["--k6", &url_a, "--k6", &url_b])
        .args([
            "--refresh",
            "500ms",
            "--headless",
            "--duration",
            "20s",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", common::stderr_of(&run));
    let rec = recorded::recording_text(&out);
    let got = last_k6_values(&rec);
    // The last poll came after both runs were over: each instance's last status is "ended".
    for url in [&url_a, &url_b] {
        assert_eq!(
            got.get(&format!("k6_status@{url}")),
            Some(&(STATUS_ENDED as f64)),
            "{got:?}"
        );
    }

    // Graceful stop: k6 writes its summary on the way out of --linger.
    for k6 in [&mut k6_a, &mut k6_b] {
        let term = Command::new("kill")
            .args(["-TERM", &k6.pid().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        assert!(
            wait_until(Duration::from_secs(15), || k6
                .child
                .try_wait()
                .unwrap()
                .is_some()),
            "k6 did not exit on SIGTERM"
        );
    }
    let summaries: Vec<Value> = summaries
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            serde_json::from_str(&text).unwrap()
        })
        .collect();

    let figures = [
        ("k6_http_reqs_total", "http_reqs", "count"),
        ("k6_iterations_total", "iterations", "count"),
        // http_req_failed is a rate: its "passes" are the failed requests.
        ("k6_http_req_failed_total", "http_req_failed", "passes"),
        ("k6_dropped_iterations_total", "dropped_iterations", "count"),
        ("k6_vus_max", "vus_max", "value"),
    ];
    for (series, metric, field) in figures {
        let each: Vec<f64> = summaries
            .iter()
            .map(|s| summary_figure(s, metric, field))
            .collect();
        let recorded = got
            .get(series)
            .unwrap_or_else(|| panic!("{series} not recorded: {got:?}"));
        assert_eq!(
            *recorded,
            each.iter().sum::<f64>(),
            "{series}: slitop {recorded} vs summaries {each:?}"
        );
    }
    // Both instances really ran: each drove the gateway on its own.
    for s in &summaries {
        assert!(summary_figure(s, "http_reqs", "count") >= 30.0, "{s}");
    }
}
