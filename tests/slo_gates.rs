//! SLO gates over time (`--slo 'SIGNAL<THRESHOLD@SHARE'`, `--warmup`) on a real run (real
//! Valkey, the real pipeline, real k6): one objective the run meets, one it misses with the
//! seconds that failed, the same verdict rebuilt from the recording, and malformed objectives
//! refused with the part that is wrong.

mod common;

use std::path::Path;

use serde_json::Value as Json;

fn report_json(dir: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn slo_gate<'a>(r: &'a Json, objective: &str) -> &'a Json {
    r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["slo"]["objective"] == objective)
        .unwrap_or_else(|| panic!("no SLO gate {objective}: {}", r["gates"]))
}

/// m:ss as the report writes it, from offset seconds.
fn mmss(s: f64) -> String {
    let s = s.round() as i64;
    format!("{}:{:02}", s / 60, s % 60)
}

const MET: &str = "client_p95<5s@99%";
const MISSED: &str = "client_p95<200ms@90%";

#[test]
fn a_real_run_meets_one_slo_and_misses_another_with_its_failed_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = common::short_demo(&out)
        .args([
            "--headless",
            "--slo",
            MET,
            "--slo",
            MISSED,
            "--warmup",
            "5s",
        ])
        .output()
        .unwrap();
    let stderr = common::stderr_of(&run);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("gate slo failed") && stderr.contains(MISSED),
        "{stderr}"
    );
    let r = report_json(&out);

    let met = slo_gate(&r, MET);
    assert_eq!(met["passed"], true, "{met}");
    assert_eq!(met["value"], 1.0);
    assert_eq!(met["limit"], 0.99);
    let s = &met["slo"];
    assert!(s["judged_s"].as_u64().unwrap() >= 20, "{s}");
    assert_eq!(s["good_s"], s["judged_s"]);
    assert_eq!(s["failed"], serde_json::json!([]));

    let missed = slo_gate(&r, MISSED);
    assert_eq!(missed["passed"], false, "{missed}");
    let s = &missed["slo"];
    let (judged, good) = (
        s["judged_s"].as_u64().unwrap(),
        s["good_s"].as_u64().unwrap(),
    );
    assert!(
        good < judged
            && (missed["value"].as_f64().unwrap() - good as f64 / judged as f64).abs() < 1e-12
    );
    // The failed ranges lie after the warm-up, in order, and add up to the bad seconds.
    let (from, to) = (s["from_s"].as_f64().unwrap(), s["to_s"].as_f64().unwrap());
    let ranges: Vec<(f64, f64)> = s["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["from_s"].as_f64().unwrap(), x["to_s"].as_f64().unwrap()))
        .collect();
    assert!(!ranges.is_empty());
    let bad: f64 = ranges.iter().map(|(a, b)| b - a).sum();
    assert_eq!(bad.round() as u64, judged - good, "{ranges:?}");
    assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0), "{ranges:?}");
    assert!(
        ranges[0].0 >= from && ranges.last().unwrap().1 <= to,
        "{ranges:?}"
    );
    // The loaded run started within the run; the warm-up moved the judged part 5 s on.
    assert!(from >= 5.0, "{from}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let (a, b) = ranges[0];
    let first = format!("{}–{}", mmss(a), mmss(b));
    assert!(
        md.contains(&format!("SLO ` {MISSED} `")) && md.contains(&first),
        "{md}"
    );

    // Rebuilt from the recording (whose header keeps the gates): the same verdict, exit 3.
    let rebuilt = dir.path().join("rebuilt");
    let rep = common::rebuild_report(&common::recording_in(&out), &rebuilt);
    assert_eq!(rep.status.code(), Some(3), "{}", common::stderr_of(&rep));
    assert_eq!(report_json(&rebuilt)["gates"], r["gates"]);
}

#[test]
fn malformed_objectives_are_refused_naming_the_bad_part() {
    for (slo, part) in [
        ("client_p95<500ms", "no share"),
        ("client_p95=500ms@99%", "no comparison"),
        ("client_p95<fast@99%", "threshold \"fast\""),
        ("client_p95<500ms@all", "share \"all\""),
    ] {
        let o = common::run_slitop(&["report", "none.jsonl", "--slo", slo], &[]);
        assert_eq!(o.status.code(), Some(2), "{slo}");
        let e = common::stderr_of(&o);
        assert!(e.contains("--slo") && e.contains(part), "{slo}: {e}");
    }
    let o = common::run_slitop(&["report", "none.jsonl", "--warmup", "soon"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(common::stderr_of(&o).contains("\"plateau\""));
    // The config's form is the same text, and its error names the file and the key.
    let (dir, rec) = common::fixture_run_dir("ramp");
    let cfg = dir.path().join("gates.toml");
    std::fs::write(&cfg, "[gates]\nslo = [\"client_p95<500ms@lots\"]\n").unwrap();
    let o = common::run_slitop(
        &[
            "report",
            rec.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = common::stderr_of(&o);
    assert!(
        e.contains("gates.toml:2:") && e.contains("gates.slo") && e.contains("share \"lots\""),
        "{e}"
    );
}
