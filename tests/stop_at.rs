//! `--stop-at STAGE --stop-after D` on a real run (real Valkey, the real pipeline, real k6):
//! slitop stops k6 through its REST API once the stage has held, notes it, and the report
//! (live and rebuilt from the recording) says so.

mod common;
mod recorded;

use std::process::{Command, Stdio};

use serde_json::Value as Json;

fn lines(text: &str) -> Vec<Json> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn stop_at_errors_visible_stops_k6_within_two_refreshes_of_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Errors come early (the gateway drops requests held 1 s) while the ramp still has a
    // minute to go, so only slitop can end k6 this soon.
    let run = Command::new(common::slitop_bin())
        .args(["demo", "--ramp", "60s", "--max-rate", "100"])
        .args(["--hold-timeout", "1s", "--duration", "90s", "--headless"])
        .args([
            "--stop-at",
            "errors_visible",
            "--stop-after",
            "10s",
            "--out",
        ])
        .arg(&out)
        .env("PATH", common::path_with_valkey())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "demo failed: {stderr}");
    let rec = lines(&recorded::recording_text(&out));
    let refresh = rec[0]["refresh_ms"].as_i64().unwrap();
    let confirmed = rec
        .iter()
        .find(|l| l["k"] == "stage" && l["stage"] == "errors_visible" && l["state"] == "active")
        .and_then(|l| l["t"].as_i64())
        .expect("errors_visible never confirmed");
    let deadline = confirmed + 10_000;
    let note = rec
        .iter()
        .find(|l| l["k"] == "annotation")
        .expect("no stop note in the recording");
    let text = note["text"].as_str().unwrap();
    assert!(
        text.starts_with("stopped by slitop at ") && text.ends_with(": errors_visible held 10 s"),
        "{text}"
    );
    let asked = note["t"].as_i64().unwrap();
    // k6 reports its run over (then its API goes away): that is when it stopped.
    let finished = rec
        .iter()
        .find(|l| l["k"] == "health" && l["src"] == "k6" && l["health"]["state"] == "finished")
        .and_then(|l| l["t"].as_i64())
        .expect("k6 never finished");
    assert!(
        asked >= deadline && finished - deadline <= 2 * refresh,
        "deadline {deadline}, stop asked {asked}, k6 finished {finished} (refresh {refresh} ms)"
    );
    assert!(stderr.contains(text), "{stderr}");
    // The run ended with k6, not at --duration.
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(
        report["duration_s"].as_f64().unwrap() < 60.0,
        "{}",
        report["duration_s"]
    );
    assert_eq!(report["annotations"][0]["text"], text);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(text), "{md}");

    // Rebuilt from the recording, the report says so too.
    let rebuilt = dir.path().join("rebuilt");
    let rep = common::rebuild_report(&common::recording_in(&out), &rebuilt);
    assert!(rep.status.success(), "{}", common::stderr_of(&rep));
    let md = std::fs::read_to_string(rebuilt.join("report.md")).unwrap();
    assert!(md.contains(text), "{md}");
}

#[test]
fn stop_flags_are_checked_before_anything_starts() {
    for (args, want) in [
        (
            vec![
                "--headless",
                "--k6",
                "http://127.0.0.1:1",
                "--stop-at",
                "errors",
            ],
            "--stop-at \"errors\": not a stage; expected one of rate_rises",
        ),
        (
            vec![
                "--headless",
                "--k6",
                "http://127.0.0.1:1",
                "--stop-after",
                "5s",
            ],
            "--stop-after needs --stop-at",
        ),
        (
            vec![
                "--headless",
                "--scrape",
                "http://127.0.0.1:1/metrics",
                "--stop-at",
                "plateau",
            ],
            "give --k6 URL",
        ),
    ] {
        let o = common::run_slitop(&args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = common::stderr_of(&o);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
