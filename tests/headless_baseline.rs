//! `--headless --baseline`: the JSON lines carry, once, the baseline's stage onsets and knee,
//! and on every refresh the live throughput against the baseline's at the same load. Run on
//! recordings of the reference pipeline under real k6 (`tests/fixtures/detector/`): the
//! stepped run replayed headless against the ramp, both at 4 workers (capacity 40 req/s).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

/// A fixture as `DIR/NAME/recording.jsonl`.
fn fixture(dir: &Path, name: &str) -> PathBuf {
    let run = dir.join(name);
    std::fs::create_dir(&run).unwrap();
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/detector/{name}.jsonl"));
    let rec = run.join("recording.jsonl");
    std::fs::copy(src, &rec).unwrap();
    rec
}

fn lines(p: &Path) -> Vec<Json> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The name of the recording's first signal with `role`.
fn signal_with(recording: &Path, role: &str) -> String {
    let header = &lines(recording)[0];
    header["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == role)
        .and_then(|s| s["name"].as_str())
        .unwrap_or_else(|| panic!("no signal with role {role}"))
        .to_string()
}

/// (t, value) of a signal's lines, in order (one series per signal here).
fn series(l: &[Json], name: &str) -> Vec<(i64, Option<f64>)> {
    l.iter()
        .filter(|x| x["signal"] == name)
        .map(|x| (x["t"].as_i64().unwrap(), x["value"].as_f64()))
        .collect()
}

fn replay_headless(rec: &Path, out: &Path, baseline: Option<&Path>) -> Vec<Json> {
    let mut args = vec![
        "replay".to_string(),
        rec.display().to_string(),
        "--headless".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    if let Some(b) = baseline {
        args.extend(["--baseline".into(), b.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = common::run_slitop(&args, &[]);
    assert!(o.status.success(), "{}", common::stderr_of(&o));
    lines(&out.join("headless.jsonl"))
}

/// What the baseline's own lines say it did at `at` on its rising load: the median
/// throughput over the refreshes up to its load's peak whose load was within 5% of `at`.
fn base_at(load: &[(i64, Option<f64>)], tput: &[(i64, Option<f64>)], at: f64) -> Option<f64> {
    let peak = load
        .iter()
        .enumerate()
        .filter_map(|(i, (_, v))| Some((i, (*v)?)))
        .fold(None, |best: Option<(usize, f64)>, (i, v)| match best {
            Some((_, b)) if b > v => best,
            _ => Some((i, v)),
        })?
        .0;
    let mut near: Vec<f64> = load[..=peak]
        .iter()
        .zip(tput)
        .filter(|((_, l), _)| l.is_some_and(|l| (l - at).abs() <= 0.05 * at))
        .filter_map(|(_, (_, y))| *y)
        .collect();
    near.sort_by(f64::total_cmp);
    let n = near.len();
    (n > 0).then(|| {
        if n % 2 == 1 {
            near[n / 2]
        } else {
            (near[n / 2 - 1] + near[n / 2]) / 2.0
        }
    })
}

/// First onset of each stage that became active, from transition lines: the suspicion the
/// activation confirmed, else the activation, in ms from `started`.
fn first_onsets(l: &[Json], started: i64) -> BTreeMap<String, i64> {
    let (mut suspected, mut out) = (BTreeMap::new(), BTreeMap::new());
    for x in l.iter().filter(|x| x.get("stage").is_some()) {
        let (id, t) = (
            x["stage"].as_str().unwrap().to_string(),
            x["t"].as_i64().unwrap(),
        );
        if out.contains_key(&id) {
            continue;
        }
        match x["state"].as_str().unwrap() {
            "suspected" => {
                suspected.insert(id, t);
            }
            "active" => {
                let onset = suspected.remove(&id).unwrap_or(t);
                out.insert(id, onset - started);
            }
            _ => {
                suspected.remove(&id);
            }
        }
    }
    out
}

#[test]
fn a_headless_replay_carries_the_baseline_at_the_same_load_and_its_onsets_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ramp, steps) = (fixture(dir.path(), "ramp"), fixture(dir.path(), "steps"));
    let (offered, tput) = (
        signal_with(&ramp, "offered"),
        signal_with(&ramp, "throughput"),
    );
    // The baseline's own lines, to check against.
    let base = replay_headless(&ramp, &dir.path().join("ramp-lines"), None);
    assert!(base.iter().all(|x| x.get("baseline").is_none()));
    // A baseline is checked for a report.json before the run starts: give it one.
    let o = common::rebuild_report(&ramp, &dir.path().join("ramp"));
    assert!(o.status.success(), "{}", common::stderr_of(&o));
    let run = replay_headless(
        &steps,
        &dir.path().join("steps-lines"),
        Some(&dir.path().join("ramp")),
    );

    // Once, on the first refresh: the ramp's onsets, as its own transitions date them.
    let told: Vec<&Json> = run.iter().filter(|x| x.get("onsets_s").is_some()).collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["baseline"], "ramp");
    let first_refresh = base.iter().find(|x| x.get("signal").is_some()).unwrap();
    let started = first_refresh["t"].as_i64().unwrap();
    let want = first_onsets(&base, started);
    assert!(want.len() >= 4, "the ramp reached few stages: {want:?}");
    let got: BTreeMap<String, i64> = told[0]["onsets_s"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), (v.as_f64().unwrap() * 1000.0).round() as i64))
        .collect();
    assert_eq!(got, want);
    assert_eq!(told[0]["knee"]["load_unit"], "req/s", "{}", told[0]);

    // Every refresh with load: throughput and load as the run's own lines say, the
    // baseline's median throughput at that load, and the difference.
    let (base_load, base_tput) = (series(&base, &offered), series(&base, &tput));
    let (run_load, run_tput) = (series(&run, &offered), series(&run, &tput));
    let vs: Vec<&Json> = run
        .iter()
        .filter(|x| x.get("vs_baseline").is_some())
        .collect();
    let loaded = run_load
        .iter()
        .filter(|p| p.1.is_some_and(|v| v > 0.0))
        .count();
    assert!(
        10 * vs.len() >= 9 * loaded && loaded > 60,
        "{} of {loaded}",
        vs.len()
    );
    // The steps' rise: up to their highest step (after it the backlog drains at a falling load).
    let top = run_load.iter().filter_map(|p| p.1).fold(0.0, f64::max);
    let rise_end = run_load.iter().find(|p| p.1 == Some(top)).unwrap().0;
    let (mut compared, mut below_capacity) = (0, 0);
    for v in &vs {
        let t = v["t"].as_i64().unwrap();
        let at = |s: &[(i64, Option<f64>)]| s.iter().find(|p| p.0 == t).and_then(|p| p.1);
        let load = v["load"].as_f64().unwrap();
        assert_eq!(Some(load), at(&run_load), "{v}");
        assert_eq!(v["throughput"].as_f64(), at(&run_tput), "{v}");
        assert_eq!(v["load_unit"], "req/s");
        let want = base_at(&base_load, &base_tput, load);
        let got = v["baseline_throughput"].as_f64();
        match (want, got) {
            (Some(w), Some(g)) => assert!((w - g).abs() <= 1e-9 * w.abs().max(1.0), "{w} {v}"),
            (None, None) => {
                assert!(v["vs_baseline"].is_null() && v["worse"] == false, "{v}");
                continue;
            }
            _ => panic!("baseline at {load}: expected {want:?}, line {v}"),
        }
        compared += 1;
        let (d, b) = (v["vs_baseline"].as_f64().unwrap(), got.unwrap());
        assert!(
            (d - (v["throughput"].as_f64().unwrap() - b)).abs() < 1e-9,
            "{v}"
        );
        assert_eq!(v["worse"], d < -0.05 * b, "{v}");
        // The same pipeline at 4 workers: on the way up to its 40 req/s it keeps up as the
        // ramp did.
        if t <= rise_end && load < 30.0 && load > 8.0 {
            below_capacity += 1;
            assert!(d.abs() <= 0.15 * b, "{v}");
        }
    }
    assert!(
        compared > 40 && below_capacity > 20,
        "{compared} {below_capacity}"
    );
}
