//! report.json against its JSON Schema (docs/report.schema.json): the report of every fixture
//! recording, of an empty run, of a headless run, and of runs with gates, a baseline and both
//! kinds of export validate; so does each plateaus.json row. A renamed, missing or unknown
//! key does not. Every report reads back into the typed `Report` and writes out the same bytes.

mod common;

use std::path::{Path, PathBuf};

use common::{free_port, FakeHttp, Reply};
use serde_json::{json, Value as Json};
use slitop::report::data::{BaselineRef, ExportResult};
use slitop::report::Report;

const FIXTURES: [&str; 5] = ["ramp", "baseline", "burst", "vu-ramp", "steps"];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The schema, and its plateau definition (the rows of plateaus.json).
struct Schema {
    schemas: boon::Schemas,
    report: boon::SchemaIndex,
    plateau: boon::SchemaIndex,
}

impl Schema {
    fn load() -> Schema {
        let path = manifest().join("docs/report.schema.json");
        let path = path.to_str().unwrap();
        let mut schemas = boon::Schemas::new();
        let mut c = boon::Compiler::new();
        // The schema names its draft; this only guards against a file that loses `$schema`.
        c.set_default_draft(boon::Draft::V2020_12);
        let report = c
            .compile(path, &mut schemas)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let plateau = c
            .compile(&format!("{path}#/$defs/plateau"), &mut schemas)
            .unwrap_or_else(|e| panic!("{e:#}"));
        Schema {
            schemas,
            report,
            plateau,
        }
    }

    fn check(&self, v: &Json, what: &str) {
        if let Err(e) = self.schemas.validate(v, self.report) {
            panic!("{what}: report.json does not match the schema:\n{e:#}");
        }
    }

    fn refuses(&self, v: &Json) -> bool {
        self.schemas.validate(v, self.report).is_err()
    }

    /// Validates the report.json in `dir` (and plateaus.json, when written), checks that it
    /// reads back into a `Report` that writes the same text, and returns it.
    fn check_dir(&self, dir: &Path, what: &str) -> Json {
        let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
        let v: Json = serde_json::from_str(&text).unwrap();
        self.check(&v, what);
        let typed = Report::from_value(&v).unwrap_or_else(|e| panic!("{what}: {e}"));
        // Against the document as parsed: serde_json's default float parsing may land one ulp
        // off the shortest form written.
        let parsed = serde_json::to_string_pretty(&v).unwrap() + "\n";
        if let Some(d) = first_difference(&typed.to_json().unwrap(), &parsed) {
            panic!("{what}: read back differs: {d}");
        }
        if let Ok(t) = std::fs::read_to_string(dir.join("plateaus.json")) {
            let t: Json = serde_json::from_str(&t).unwrap();
            for row in t["plateaus"].as_array().unwrap() {
                if let Err(e) = self.schemas.validate(row, self.plateau) {
                    panic!("{what}: plateaus.json row does not match the schema:\n{e:#}");
                }
            }
        }
        v
    }
}

/// The first line where `got` differs from `want`, with its neighbours.
fn first_difference(got: &str, want: &str) -> Option<String> {
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    let i = (0..g.len().max(w.len())).find(|&i| g.get(i) != w.get(i))?;
    let around = |v: &[&str]| v[i.saturating_sub(3)..(i + 2).min(v.len())].join("\n");
    Some(format!(
        "line {}:\n--- got\n{}\n--- want\n{}",
        i + 1,
        around(&g),
        around(&w)
    ))
}

fn run_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    common::fixture_run_dir(name)
}

#[test]
fn the_report_of_every_fixture_matches_the_schema() {
    let schema = Schema::load();
    for name in FIXTURES {
        let (dir, rec) = run_dir(name);
        let o = slitop(&["report", rec.to_str().unwrap()]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let r = schema.check_dir(dir.path(), name);
        assert!(r["summary"]["p95_s"].is_number(), "{name}");
    }
}

#[test]
fn the_report_of_a_run_without_data_matches_the_schema() {
    let schema = Schema::load();
    let (dir, rec) = run_dir("ramp");
    // The header alone: a run that ended before its first refresh.
    let text = std::fs::read_to_string(&rec).unwrap();
    std::fs::write(&rec, text.lines().next().unwrap().to_string() + "\n").unwrap();
    let o = slitop(&["report", rec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = schema.check_dir(dir.path(), "empty run");
    assert_eq!(
        r["summary"]["note"],
        "no load was seen: nothing to summarise"
    );
    assert_eq!(r["backlog"], json!({"seen": false}));
    assert_eq!(r["profile"]["shape"], "none");
}

#[test]
fn the_report_of_a_headless_run_matches_the_schema() {
    let schema = Schema::load();
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
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = schema.check_dir(&out, "headless run");
    assert_eq!(r["signals"]["depth"]["max"], 7.0);
}

#[test]
fn a_report_with_gates_a_baseline_and_exports_matches_the_schema() {
    let schema = Schema::load();
    let grafana = FakeHttp::start(|_| Reply::ok("application/json", r#"{"id":1}"#));
    let (dir, rec) = run_dir("ramp");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let base = dir.path().join("baseline.json");
    std::fs::copy(dir.path().join("report.json"), &base).unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    // Nothing listens on the Pushgateway's port: that export fails, Grafana's succeeds.
    let pushgateway = format!("http://127.0.0.1:{}", free_port());
    let o = slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--gate-regression",
        "10%",
        "--gate-p95",
        "500ms",
        "--gate-p99",
        "2s",
        "--gate-error-rate",
        "1%",
        "--gate-drain",
        "30s",
        "--gate-soak-drift",
        "20%",
        "--slo",
        "client_p95<500ms@99%",
        "--slo",
        "no_such_signal<1s@90%",
        "--warmup",
        "5s",
        "--pushgateway",
        &pushgateway,
        "--grafana",
        &grafana.url("/"),
        "--grafana-token-file",
        token.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = schema.check_dir(dir.path(), "gates, baseline and exports");
    assert_eq!(r["gates"].as_array().unwrap().len(), 9);
    // Both shapes of an SLO gate: judged, with failed seconds; not judged, with a note only.
    assert!(!r["gates"][7]["slo"]["failed"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(r["gates"][8].get("slo").is_none() && r["gates"][8]["note"].is_string());
    assert_eq!(r["baseline"]["path"], base.to_str().unwrap());
    let targets: Vec<(&str, bool)> = r["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["target"].as_str().unwrap(), e["ok"] == true))
        .collect();
    assert_eq!(targets, vec![("pushgateway", false), ("grafana", true)]);
}

/// Fields no fixture run writes: a baseline that could not be read, a plot error, an export
/// given up on before any request.
#[test]
fn fields_written_only_on_failures_match_the_schema() {
    let schema = Schema::load();
    let (dir, rec) = run_dir("burst");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let text = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let mut r = Report::from_value(&serde_json::from_str(&text).unwrap()).unwrap();
    r.baseline = Some(BaselineRef {
        path: "old/report.json".into(),
        error: Some("cannot read baseline report old/report.json".into()),
    });
    r.plot_error = Some("drawing failed".into());
    r.exports = vec![ExportResult {
        target: "http".into(),
        url: String::new(),
        ok: false,
        attempts: 0,
        error: Some("cannot build an HTTP client".into()),
        ..ExportResult::default()
    }];
    let v: Json = serde_json::from_str(&r.to_json().unwrap()).unwrap();
    schema.check(&v, "failures");
    assert_eq!(
        v["baseline"]["error"],
        "cannot read baseline report old/report.json"
    );
}

#[test]
fn a_renamed_missing_or_unknown_key_is_refused() {
    let schema = Schema::load();
    let (dir, rec) = run_dir("steps");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let good = schema.check_dir(dir.path(), "steps");
    type Edit = fn(&mut Json);
    let edits: [(&str, Edit); 6] = [
        ("renamed summary key", |r| {
            let s = r["summary"].as_object_mut().unwrap();
            let v = s.remove("p95_s").unwrap();
            s.insert("p95".into(), v);
        }),
        ("missing top-level key", |r| {
            r.as_object_mut().unwrap().remove("knee");
        }),
        ("unknown top-level key", |r| r["kneee"] = json!(null)),
        ("unknown plateau key", |r| {
            r["plateaus"][0]["p95"] = json!(1.0)
        }),
        ("string for a number", |r| r["capacity_rps"] = json!("40")),
        ("drift with a note and a figure", |r| {
            r["drift"]["drift"] = json!(0.1)
        }),
    ];
    for (what, edit) in edits {
        let mut r = good.clone();
        edit(&mut r);
        assert!(schema.refuses(&r), "{what} was accepted");
    }
}

fn slitop(args: &[&str]) -> std::process::Output {
    common::run_slitop(args, &[])
}

fn stderr(o: &std::process::Output) -> String {
    common::stderr_of(o)
}
