//! The binary as a user meets it: config errors, presets, template, check, headless output.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{slitop_bin, FakeHttp, Reply};

#[test]
fn invalid_toml_names_file_line_column_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "refresh = \"1s\"\n\n[[signal]]\nname = \"p95\"\ngroup = \"lagging\"\nquery = \"x\"\nwarn = \"high\"\n").unwrap();
    let o = slitop(&[
        "--config",
        f.to_str().unwrap(),
        "--headless",
        "--duration",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.toml:7:8: field `signal[0].warn`:"), "{e}");
    assert!(
        e.contains("expected f64") || e.contains("invalid type"),
        "{e}"
    );
    std::fs::write(&f, "[prometheus\nurl = 1\n").unwrap();
    let e = stderr(&slitop(&["--config", f.to_str().unwrap(), "check"]));
    assert!(e.contains("bad.toml:1:"), "{e}");
}

#[test]
fn unknown_preset_and_bad_flags_are_clear() {
    let o = slitop(&["--preset", "nope", "check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("unknown preset \"nope\"; available: valkey-hop, nvcf, gofr, axonflow, k6"),
        "{}",
        stderr(&o)
    );
    let o = slitop(&["--stream", "jobs", "check"]);
    assert!(
        stderr(&o).contains("--stream/--group need a Valkey source"),
        "{}",
        stderr(&o)
    );
    let o = slitop(&["--signal", "nonsense", "check"]);
    assert!(
        stderr(&o).contains("expected NAME=PROMQL"),
        "{}",
        stderr(&o)
    );
    let o = slitop(&["--refresh", "soon", "check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--refresh"), "{}", stderr(&o));
}

#[test]
fn promql_errors_are_reported_against_their_signal() {
    let o = slitop(&[
        "--scrape",
        "http://127.0.0.1:9/metrics",
        "--signal",
        "rps=sum(rate(x[1m])",
        "check",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("signal rps: syntax error"), "{e}");
    let o = slitop(&[
        "--scrape",
        "http://127.0.0.1:9/metrics",
        "--signal",
        "t=topk(3, x)",
        "check",
    ]);
    let e = stderr(&o);
    assert!(
        e.contains("signal t:") && e.contains("topk") && e.contains("not supported in scrape mode"),
        "{e}"
    );
}

#[test]
fn template_is_printed_and_parses_to_the_defaults() {
    let o = slitop(&["--print-config-template"]);
    assert!(o.status.success());
    let t = String::from_utf8(o.stdout).unwrap();
    assert_eq!(t, slitop::settings::TEMPLATE);
    assert_eq!(
        slitop::settings::parse_config(&t, "template").unwrap(),
        slitop::settings::Config::default()
    );
}

#[test]
fn completions_and_man_page_are_generated() {
    let o = slitop(&["completions", "bash"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("--prometheus") && s.contains("--scrape") && s.contains("check"));
    let o = slitop(&["man"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.starts_with(".ie") || s.contains(".TH slitop"),
        "{}",
        &s[..s.len().min(200)]
    );
}

#[test]
fn check_reports_each_item_and_fails_on_an_unreachable_source() {
    let metrics = FakeHttp::start(|_| {
        Reply::ok(
            "text/plain; version=0.0.4",
            "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 5\n",
        )
    });
    let good = metrics.url("/metrics");
    let o = slitop(&[
        "--scrape",
        &good,
        "--signal",
        "rps=sum(rate(http_requests_total[1m]))",
        "--signal",
        "lat=sum(missing_metric)",
        "check",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains(&format!("OK   scrape {good} (")), "{out}");
    assert!(
        out.contains("OK   signal rps (local): query compiles"),
        "{out}"
    );
    assert!(
        out.contains("no scraped series named missing_metric"),
        "{out}"
    );
    let dead = format!("http://127.0.0.1:{}/metrics", common::free_port());
    let o = slitop(&[
        "--scrape",
        &dead,
        "--signal",
        "rps=sum(rate(x[1m]))",
        "check",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("FAIL scrape {dead}")) && out.contains("connection refused"),
        "{out}"
    );
    let o = slitop(&["check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no source configured"));
}

#[test]
fn headless_prints_signal_values_health_and_stops_after_duration() {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let srv = FakeHttp::start(move |_| {
        let v = n.fetch_add(5, std::sync::atomic::Ordering::Relaxed);
        Reply::ok(
            "text/plain; version=0.0.4",
            format!("# TYPE reqs_total counter\nreqs_total{{path=\"/x\"}} {v}\nqueue_depth 7\n"),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let started = std::time::Instant::now();
    let o = slitop(&[
        "--scrape",
        &srv.url("/metrics"),
        "--refresh",
        "200ms",
        "--signal",
        "depth=queue_depth",
        "--signal",
        "total=sum(reqs_total)",
        "--signal",
        "none=absent_metric",
        "--headless",
        "--duration",
        "2s",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(6));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    let health: Vec<_> = lines.iter().filter(|l| l.get("health").is_some()).collect();
    assert_eq!(health[0]["source"], "scrape");
    assert_eq!(health[0]["health"], "ok");
    let depth: Vec<_> = lines.iter().filter(|l| l["signal"] == "depth").collect();
    assert!(depth.len() >= 5, "{} depth lines", depth.len());
    let last = depth.last().unwrap();
    assert_eq!(last["value"], 7.0);
    assert_eq!(last["labels"]["__name__"], "queue_depth");
    assert_eq!(last["labels"]["job"], "scrape");
    assert!(last["t"].as_i64().unwrap() > 1_600_000_000_000);
    let totals: Vec<f64> = lines
        .iter()
        .filter(|l| l["signal"] == "total")
        .filter_map(|l| l["value"].as_f64())
        .collect();
    assert!(
        totals.windows(2).all(|w| w[0] <= w[1]) && totals.last() > totals.first(),
        "{totals:?}"
    );
    assert!(lines
        .iter()
        .filter(|l| l["signal"] == "none")
        .all(|l| l["value"].is_null()));
    let saved = std::fs::read_to_string(out_dir.join("headless.jsonl")).unwrap();
    assert_eq!(saved, text);
}

#[test]
fn headless_ends_cleanly_on_sigterm_and_sigint() {
    for sig in ["TERM", "INT"] {
        let srv = FakeHttp::start(|_| Reply::ok("text/plain", "x 1\n"));
        // No --out: the run directory is made in the working directory, a private one here.
        let cwd = tempfile::tempdir().unwrap();
        let mut child = Command::new(slitop_bin())
            .current_dir(cwd.path())
            .args([
                "--scrape",
                &srv.url("/metrics"),
                "--signal",
                "x=x",
                "--headless",
                "--refresh",
                "200ms",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status();
        let end = std::time::Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if std::time::Instant::now() > end {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.expect("exited").success(), "SIG{sig}");
        let made: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().flatten().collect();
        assert!(
            made.iter().any(
                |e| e.file_name().to_string_lossy().starts_with("slitop-run-")
                    && e.path().join("report.json").is_file()
            ),
            "SIG{sig}: no run directory with a report in the working directory"
        );
    }
}

fn slitop(args: &[&str]) -> std::process::Output {
    common::run_slitop(args, &[])
}

fn stderr(o: &std::process::Output) -> String {
    common::stderr_of(o)
}
