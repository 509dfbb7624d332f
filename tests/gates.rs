//! Gates from flags and `[gates]`: a run that breaches one exits 3 naming it (after writing
//! every file), one that meets them exits 0, and the baseline comparison computes the
//! regression from the two reports' numbers.

mod common;

use std::path::{Path, PathBuf};

use common::{FakeHttp, Reply};
use serde_json::Value as Json;

fn run_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    common::fixture_run_dir(name)
}

fn report_json(dir: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn gate<'a>(r: &'a Json, name: &str) -> &'a Json {
    r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no gate {name} in {}", r["gates"]))
}

#[test]
fn each_breached_gate_exits_3_and_is_named() {
    let (dir, rec) = run_dir("ramp");
    // The ramp runs past capacity: seconds of p95, errors, and a backlog that takes seconds to
    // drain once the load stops; the drain limit is half the drain this recording measured.
    let o = slitop(&["report", rec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let drain = report_json(dir.path())["backlog"]["drain_s"]
        .as_f64()
        .unwrap();
    assert!(drain > 1.0, "drain {drain}");
    let half = format!("{}ms", (drain * 500.0) as u64);
    let cases = [
        (["--gate-error-rate", "1%"], "error_rate"),
        (["--gate-p95", "500ms"], "p95"),
        (["--gate-p99", "1s"], "p99"),
        (["--gate-drain", half.as_str()], "drain"),
    ];
    for (flags, name) in cases {
        for f in ["report.json", "report.md", "envelope.svg", "queue.svg"] {
            let _ = std::fs::remove_file(dir.path().join(f));
        }
        let mut args = vec!["report", rec.to_str().unwrap()];
        args.extend(flags);
        let o = slitop(&args);
        assert_eq!(o.status.code(), Some(3), "{flags:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("gate {name} failed")),
            "{}",
            stderr(&o)
        );
        let r = report_json(dir.path());
        let g = gate(&r, name);
        assert_eq!(g["passed"], false);
        assert!(
            g["value"].as_f64().unwrap() > g["limit"].as_f64().unwrap(),
            "{g}"
        );
        for f in ["report.json", "report.md", "envelope.svg", "queue.svg"] {
            assert!(
                dir.path().join(f).is_file(),
                "{f} not written before exit 3"
            );
        }
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains(&format!("| {name} | ✘ FAIL |")), "{md}");
    }
}

#[test]
fn a_run_that_meets_every_gate_exits_0() {
    let (dir, rec) = run_dir("baseline");
    let o = slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--gate-error-rate",
        "1%",
        "--gate-p95",
        "500ms",
        "--gate-p99",
        "1s",
        "--gate-drain",
        "30s",
        "--gate-soak-drift",
        "20%",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report_json(dir.path());
    let gates = r["gates"].as_array().unwrap();
    assert_eq!(gates.len(), 5);
    assert!(gates.iter().all(|g| g["passed"] == true), "{gates:#?}");
    assert_eq!(gate(&r, "p95")["limit"], 0.5);
    assert_eq!(gate(&r, "error_rate")["limit"], 0.01);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("All gates passed."), "{md}");
}

/// Drift means something only where the load held a level: the ramp's soak-drift gate is not
/// measured and says so (its p95 rose 26-fold as the load did, which is no drift); the
/// baseline's, a held level, is judged on its number.
#[test]
fn the_soak_drift_gate_judges_a_held_level_and_says_a_ramp_is_not_measured() {
    let (dir, rec) = run_dir("ramp");
    let o = slitop(&["report", rec.to_str().unwrap(), "--gate-soak-drift", "20%"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report_json(dir.path());
    let g = gate(&r, "soak_drift");
    assert_eq!(g["passed"], true, "{g}");
    assert!(g["value"].is_null(), "{g}");
    assert_eq!(g["note"], "not measured: the load did not hold a level");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains(
            "| soak_drift | ✔ pass | – | 20.00% | not measured: the load did not hold a level |"
        ),
        "{md}"
    );
    let (dir, rec) = run_dir("baseline");
    let o = slitop(&["report", rec.to_str().unwrap(), "--gate-soak-drift", "20%"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report_json(dir.path());
    let g = gate(&r, "soak_drift");
    assert_eq!(g["value"], r["drift"]["drift"], "{g}");
    assert!(g["value"].is_f64() && g.get("note").is_none(), "{g}");
}

#[test]
fn regression_against_a_baseline_report_is_computed_from_both_reports() {
    let (dir, rec) = run_dir("ramp");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let current = report_json(dir.path());
    let knee = current["knee"]["load"].as_f64().unwrap();
    let p95 = current["summary"]["p95_s"].as_f64().unwrap();
    // A baseline whose knee sat 25% higher and whose p95 was a third lower.
    let mut base = current.clone();
    base["knee"]["load"] = serde_json::json!(knee * 1.25);
    base["summary"]["p95_s"] = serde_json::json!(p95 / 1.5);
    let bfile = dir.path().join("baseline.json");
    std::fs::write(&bfile, base.to_string()).unwrap();
    let o = slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--baseline",
        bfile.to_str().unwrap(),
        "--gate-regression",
        "10%",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = report_json(dir.path());
    let k = gate(&r, "knee_regression");
    // (baseline − current) / baseline = 1 − 1/1.25.
    assert!((k["value"].as_f64().unwrap() - 0.2).abs() < 1e-9, "{k}");
    assert_eq!(k["passed"], false);
    let p = gate(&r, "p95_regression");
    // (current − baseline) / baseline = 1.5 − 1.
    assert!((p["value"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{p}");
    assert!(
        stderr(&o).contains("gate knee_regression failed: 20.00% (limit 10.00%)"),
        "{}",
        stderr(&o)
    );
    let o = slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--baseline",
        bfile.to_str().unwrap(),
        "--gate-regression",
        "60%",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A missing or malformed baseline is refused up front, naming the file.
    let o = slitop(&["report", rec.to_str().unwrap(), "--gate-regression", "10%"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("needs a baseline report"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&bfile, "{\"summary\": ").unwrap();
    let o = slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--baseline",
        bfile.to_str().unwrap(),
        "--gate-regression",
        "10%",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("baseline.json:1:"), "{}", stderr(&o));
}

#[test]
fn gates_come_from_the_config_flags_override_them_and_bad_keys_are_named() {
    let (dir, rec) = run_dir("ramp");
    let cfg = dir.path().join("gates.toml");
    std::fs::write(&cfg, "[gates]\np95 = \"500ms\"\nmax_error_rate = \"50%\"\n").unwrap();
    let o = slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = report_json(dir.path());
    assert_eq!(gate(&r, "p95")["passed"], false);
    assert_eq!(gate(&r, "error_rate")["passed"], true);
    assert_eq!(gate(&r, "error_rate")["limit"], 0.5);
    let o = slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--gate-p95",
        "10s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::write(&cfg, "[gates]\np96 = \"500ms\"\n").unwrap();
    let o = slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("gates.toml:2:1") && e.contains("unknown field `p96`"),
        "{e}"
    );
    std::fs::write(&cfg, "[gates]\nmax_error_rate = \"lots\"\n").unwrap();
    let e = stderr(&slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]));
    assert!(
        e.contains("gates.toml:2:") && e.contains("gates.max_error_rate") && e.contains("5%"),
        "{e}"
    );
    std::fs::write(&cfg, "[gates]\nmax_error_rate = 1.5\n").unwrap();
    let e = stderr(&slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]));
    assert!(e.contains("gates.max_error_rate = 1.5"), "{e}");
    let o = slitop(&["report", rec.to_str().unwrap(), "--gate-p95", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--gate-p95"), "{}", stderr(&o));
}

#[test]
fn a_headless_run_writes_every_file_then_exits_3_and_its_recording_keeps_the_gates() {
    let srv = FakeHttp::start(|_| Reply::ok("text/plain; version=0.0.4", "queue_depth 7\n"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = slitop(&[
        "--scrape",
        &srv.url("/metrics"),
        "--signal",
        "depth=queue_depth",
        "--refresh",
        "200ms",
        "--headless",
        "--duration",
        "1500ms",
        "--gate-p95",
        "500ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    // No latency signal: the p95 gate cannot be met.
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("gate p95 failed: – (limit 500 ms): no latency data"),
        "{}",
        stderr(&o)
    );
    for f in [
        "report.json",
        "report.md",
        "recording.jsonl.zst",
        "headless.jsonl",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let o = slitop(&["report", common::recording_in(&out).to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "recorded gates apply again: {}",
        stderr(&o)
    );
    assert!(slitop(&["--help"])
        .stdout
        .windows(21)
        .any(|w| w == b"3 a gate failed (--he"));
}

fn slitop(args: &[&str]) -> std::process::Output {
    common::run_slitop(args, &[])
}

fn stderr(o: &std::process::Output) -> String {
    common::stderr_of(o)
}
