//! Exports at the end of a run: the summary pushed to a real Pushgateway (started here on
//! loopback) and read back from its /metrics; annotations and stage onsets posted to a local
//! endpoint that checks them as Grafana's annotations API documents; failures retried,
//! reported, and never fatal to the local files.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{free_port, wait_until, ChildGuard, FakeHttp, Reply};
use serde_json::{json, Value as Json};

fn run_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    common::fixture_run_dir(name)
}

fn report_json(dir: &std::path::Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn pushgateway_bin() -> PathBuf {
    std::env::var_os("SLITOP_PUSHGATEWAY")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join("prometheus-pushgateway"))
                .find(|p| p.is_file())
        })
        .expect("prometheus-pushgateway not found: run scripts/test.sh (apt-get install prometheus-pushgateway)")
}

/// A Pushgateway on a free loopback port, killed on drop.
struct Pushgateway {
    port: u16,
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Pushgateway {
    fn start() -> Pushgateway {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(pushgateway_bin());
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Debian's default persists to a system path; keep it in the test's directory.
            .arg(format!(
                "--persistence.file={}",
                dir.path().join("pgw.data").display()
            ))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let guard = ChildGuard::spawn("prometheus-pushgateway", &mut cmd);
        assert!(
            wait_until(Duration::from_secs(15), || common::http_get_status(
                port, "/-/ready"
            ) == Some(200)),
            "pushgateway did not become ready"
        );
        Pushgateway {
            port,
            _guard: guard,
            _dir: dir,
        }
    }

    fn metrics(&self) -> String {
        http_get(self.port, "/metrics")
    }
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The value of the first sample line of `name` whose labels include every one of `want`.
fn sample(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| {
            want.iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn summary_is_pushed_to_a_real_pushgateway_and_read_back() {
    let pgw = Pushgateway::start();
    let (dir, rec) = run_dir("ramp");
    let url = format!("http://127.0.0.1:{}", pgw.port);
    let o = slitop(
        &[
            "report",
            rec.to_str().unwrap(),
            "--pushgateway",
            &url,
            "--environment",
            "ci/nightly",
            "--gate-p95",
            "500ms",
            "--slo",
            "client_p95<500ms@99%",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = report_json(dir.path());
    assert_eq!(r["exports"][0]["ok"], true, "{}", r["exports"]);
    assert_eq!(r["exports"][0]["attempts"], 1);
    // A value with '/' travels base64-encoded in the path and comes back as itself.
    assert!(r["exports"][0]["url"]
        .as_str()
        .unwrap()
        .contains("/environment@base64/Y2kvbmlnaHRseQ=="));
    let m = pgw.metrics();
    let run = slitop::export::pushgateway::run_id(&r);
    let group = [
        ("job", "slitop"),
        ("scenario", "capacity-ramp"),
        ("environment", "ci/nightly"),
        ("run", run.as_str()),
    ];
    let with = |extra: (&'static str, &'static str)| {
        let mut v = group.to_vec();
        v.push(extra);
        v
    };
    let p95 = sample(
        &m,
        "slitop_run_latency_seconds",
        &with(("quantile", "0.95")),
    )
    .expect("p95 pushed");
    assert!(
        (p95 - r["summary"]["p95_s"].as_f64().unwrap()).abs() < 1e-9,
        "{m}"
    );
    let cap = sample(&m, "slitop_run_capacity_rps", &group).unwrap();
    assert!((cap - r["capacity_rps"].as_f64().unwrap()).abs() < 1e-9);
    let knee = sample(&m, "slitop_run_knee_load", &with(("unit", "req/s"))).unwrap();
    assert!((knee - r["knee"]["load"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(
        sample(&m, "slitop_run_gate_passed", &with(("gate", "p95"))),
        Some(0.0)
    );
    // An SLO gate is told apart by its objective, with its good and failed seconds.
    let slo = r["gates"][1]["slo"].clone();
    let objective = ("slo", "client_p95<500ms@99%");
    let slo_labels = [with(("gate", "slo")), vec![objective]].concat();
    assert_eq!(
        sample(&m, "slitop_run_gate_passed", &slo_labels),
        Some(if r["gates"][1]["passed"] == true {
            1.0
        } else {
            0.0
        })
    );
    assert_eq!(
        sample(&m, "slitop_run_slo_good_seconds", &slo_labels),
        slo["good_s"].as_f64()
    );
    let failed = slo["judged_s"].as_f64().unwrap() - slo["good_s"].as_f64().unwrap();
    assert_eq!(
        sample(&m, "slitop_run_slo_failed_seconds", &slo_labels),
        Some(failed)
    );
    let onset = sample(
        &m,
        "slitop_run_stage_onset_timestamp_seconds",
        &with(("stage", "plateau")),
    )
    .unwrap();
    let want = r["stages"][3]["onset_unix_ms"].as_f64().unwrap() / 1000.0;
    assert!((onset - want).abs() < 1e-3, "{onset} vs {want}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("## Exports") && md.contains("- pushgateway "),
        "{md}"
    );
}

#[test]
fn a_failed_push_is_retried_reported_and_keeps_the_local_files() {
    // Nothing listens on this port.
    let port = free_port();
    let (dir, rec) = run_dir("baseline");
    let started = std::time::Instant::now();
    let o = slitop(
        &[
            "report",
            rec.to_str().unwrap(),
            "--pushgateway",
            &format!("http://127.0.0.1:{port}"),
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "an export failure is not a gate: {}",
        stderr(&o)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let e = stderr(&o);
    assert!(
        e.contains("export to pushgateway")
            && e.contains("failed after 4 attempt(s)")
            && e.contains("local files are kept"),
        "{e}"
    );
    let r = report_json(dir.path());
    assert_eq!(r["exports"][0]["ok"], false);
    assert_eq!(r["exports"][0]["attempts"], 4);
    for f in [
        "report.md",
        "envelope.svg",
        "queue.svg",
        "plateaus.csv",
        "plateaus.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
}

#[test]
fn annotations_and_stage_onsets_go_to_grafana_as_documented() {
    let seen: Arc<Mutex<u32>> = Arc::new(Mutex::new(0));
    let seen2 = seen.clone();
    // The first request is refused once (a Grafana restarting): the export retries it.
    let srv = FakeHttp::start(move |_| {
        let mut n = seen2.lock().unwrap();
        *n += 1;
        if *n == 1 {
            Reply::Http {
                status: 503,
                content_type: "text/plain",
                body: b"starting".to_vec(),
            }
        } else {
            Reply::ok(
                "application/json",
                r#"{"message":"Annotation added","id":1}"#,
            )
        }
    });
    let (dir, rec) = run_dir("ramp");
    // Add a user annotation to the recording, between two ticks.
    let text = std::fs::read_to_string(&rec).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let tick = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("\"k\":\"tick\""))
        .nth(30)
        .unwrap()
        .0;
    let t: Json = serde_json::from_str(&lines[tick]).unwrap();
    let at = t["t"].as_i64().unwrap() + 1;
    lines.insert(
        tick + 1,
        json!({"k": "annotation", "t": at, "text": "raised consumers to 6"}).to_string(),
    );
    std::fs::write(&rec, lines.join("\n") + "\n").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "glsa_test_token\n").unwrap();
    let o = slitop(
        &[
            "report",
            rec.to_str().unwrap(),
            "--grafana",
            &srv.url("/"),
            "--grafana-token-file",
            token.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report_json(dir.path());
    let reqs = srv.requests.lock().unwrap().clone();
    let reached: Vec<&Json> = r["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["onset_unix_ms"].is_i64())
        .collect();
    // One refused and retried, then one per stage onset and one per annotation.
    assert_eq!(reqs.len(), 1 + reached.len() + 1, "{reqs:#?}");
    assert_eq!(r["exports"][0]["ok"], true, "{}", r["exports"]);
    assert_eq!(r["exports"][0]["posted"], reached.len() + 1);
    let mut bodies = Vec::new();
    for req in &reqs {
        let (head, body) = req.split_once("\r\n\r\n").unwrap();
        let mut hl = head.lines();
        assert_eq!(hl.next().unwrap(), "POST /api/annotations HTTP/1.1");
        let headers: Vec<(String, String)> = hl
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let h = |k: &str| headers.iter().find(|x| x.0 == k).map(|x| x.1.as_str());
        assert_eq!(h("authorization"), Some("Bearer glsa_test_token"));
        assert_eq!(h("content-type"), Some("application/json"));
        let b: Json = serde_json::from_str(body).unwrap();
        let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        assert_eq!(keys, vec!["tags", "text", "time"], "{b}");
        bodies.push(b);
    }
    // The retried first body and then every mark in time order.
    assert_eq!(bodies[0], bodies[1]);
    let times: Vec<i64> = bodies[1..]
        .iter()
        .map(|b| b["time"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    for st in reached {
        let id = st["id"].as_str().unwrap();
        let b = bodies[1..]
            .iter()
            .find(|b| b["tags"] == json!(["slitop", id]))
            .unwrap_or_else(|| panic!("no annotation for {id}"));
        assert_eq!(b["time"], st["onset_unix_ms"]);
        assert!(b["text"]
            .as_str()
            .unwrap()
            .contains(st["evidence"].as_str().unwrap()));
    }
    let a = bodies
        .iter()
        .find(|b| b["tags"] == json!(["slitop", "annotation"]))
        .unwrap();
    assert_eq!(a["time"], at);
    assert_eq!(a["text"], "raised consumers to 6");
    // No token: refused up front, naming what is missing; the token never appears in output.
    let o = slitop(
        &["report", rec.to_str().unwrap(), "--grafana", &srv.url("/")],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs a token"), "{}", stderr(&o));
    let o = slitop(
        &[
            "report",
            rec.to_str().unwrap(),
            "--grafana",
            &srv.url("/"),
            "--grafana-token-env",
            "SLITOP_TEST_GRAFANA_TOKEN",
        ],
        &[("SLITOP_TEST_GRAFANA_TOKEN", "from-env")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let last = srv.requests.lock().unwrap().last().unwrap().clone();
    assert!(
        last.contains("Authorization: Bearer from-env")
            || last.contains("authorization: Bearer from-env"),
        "{last}"
    );
    assert!(!std::fs::read_to_string(dir.path().join("report.json"))
        .unwrap()
        .contains("from-env"));
}

fn slitop(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    common::run_slitop(args, env)
}

fn stderr(o: &std::process::Output) -> String {
    common::stderr_of(o)
}

#[test]
fn a_refused_annotation_is_not_sent_again() {
    let (dir, rec) = common::fixture_run_dir("ramp");
    let srv = FakeHttp::start(|_| Reply::Http {
        status: 400,
        content_type: "application/json",
        body: br#"{"message":"bad request"}"#.to_vec(),
    });
    let o = slitop(
        &[
            "report",
            rec.to_str().unwrap(),
            "--grafana",
            &srv.url("/"),
            "--grafana-token-env",
            "SLITOP_TEST_GRAFANA_TOKEN",
        ],
        &[("SLITOP_TEST_GRAFANA_TOKEN", "t")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let g = &report["exports"][0];
    let bodies = g["failed"].as_u64().unwrap();
    assert!(bodies > 0, "{g}");
    assert_eq!(
        g["attempts"].as_u64(),
        Some(bodies),
        "one try per body: {g}"
    );
    assert_eq!(srv.requests.lock().unwrap().len() as u64, bodies);
    assert!(g["error"].as_str().unwrap().contains("HTTP 400"), "{g}");
}

#[test]
fn a_second_interrupt_abandons_hanging_exports_and_keeps_the_report() {
    let metrics = FakeHttp::start(|_| Reply::ok("text/plain", "x 1\n"));
    let pushgateway = FakeHttp::start(|_| Reply::Hang);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = std::process::Command::new(common::slitop_bin())
        .args(["--scrape", &metrics.url("/metrics"), "--signal", "x=x"])
        .args([
            "--refresh",
            "200ms",
            "--headless",
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--pushgateway", &pushgateway.url("/")])
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", std::env::temp_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let interrupt = |pid: u32| {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
    };
    std::thread::sleep(Duration::from_millis(1200));
    interrupt(child.id());
    // The run ends, writes its files, then waits on a Pushgateway that never answers (5 s a
    // try, retried: about 20 s).
    assert!(
        wait_until(Duration::from_secs(5), || out.join("report.json").is_file()),
        "no report.json"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the exports should be waiting"
    );
    let asked = std::time::Instant::now();
    interrupt(child.id());
    let exited = wait_until(Duration::from_secs(3), || {
        child.try_wait().unwrap().is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    assert!(exited, "still running 3 s after the second interrupt");
    assert!(asked.elapsed() < Duration::from_secs(3));
    let o = child.wait_with_output().unwrap();
    assert!(stderr(&o).contains("exports abandoned"), "{}", stderr(&o));
    assert!(out.join("report.md").is_file());
}
