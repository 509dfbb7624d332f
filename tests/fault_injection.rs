//! Faults injected between slitop and real servers: a real Valkey, the real reference pipeline's
//! /metrics, a real Prometheus and a real k6's REST API, each behind its own fault proxy. One
//! source at a time gets each fault (latency past the timeout, a stall mid-body, a reset
//! mid-reply, a slow drip, a 1 GB reply, garbage); it must turn down with a reason that names
//! the fault, the other three must keep fresh values in every line, slitop's memory must stay
//! bounded through the 1 GB reply, and once the fault is lifted the source must come back by
//! itself. Run with `--nocapture` (or scripts/fault-table.sh) for the table.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{free_port, k6_bin, port_open, wait_until, ChildGuard, Prometheus, Valkey};
use fault_proxy::{Fault, FaultProxy, Wire};
use serde_json::Value;

/// Each source, the signal that reads only from it, and the wire its proxy speaks.
const SOURCES: [(&str, &str, Wire); 4] = [
    ("valkey", "fi_valkey", Wire::Resp),
    ("scrape", "fi_scrape", Wire::Http),
    ("prometheus", "fi_prom", Wire::Http),
    ("k6", "fi_k6", Wire::Http),
];

/// slitop's per-request timeout; the latency fault exceeds it.
const TIMEOUT: Duration = Duration::from_secs(1);
const REFRESH: Duration = Duration::from_secs(1);
/// How long a fault may take to show as down: the timeout, two refreshes and the retry delay
/// of a source that was already backing off.
const DOWN_WITHIN: Duration = Duration::from_secs(6);
/// The bound on memory while a 1 GB reply is offered.
const RSS_LIMIT_KB: u64 = 300 * 1024;

/// The faults, with words of which the down reason must hold one (lower case).
fn faults() -> Vec<(Fault, &'static [&'static str])> {
    vec![
        (Fault::Latency(TIMEOUT * 3 / 2), &["timed out"]),
        (Fault::StallMidBody, &["timed out"]),
        (Fault::ResetMidReply, &["reset", "broken pipe"]),
        (Fault::Drip, &["timed out"]),
        (Fault::Huge, &["larger than"]),
        (Fault::Garbage, &["invalid", "not valkey's protocol"]),
    ]
}

/// One row of the table.
struct Row {
    fault: &'static str,
    source: &'static str,
    shown: String,
    down_after: Duration,
    recovered_after: Duration,
    rss_max_kb: u64,
    /// Whether the reason holds one of the fault's words.
    named: bool,
}

/// The real servers and a proxy before each; dropped together at the end.
struct Servers {
    _valkey: Valkey,
    _pipeline: ChildGuard,
    prom: Prometheus,
    _k6: ChildGuard,
    k6_port: u16,
    pipeline_port: u16,
    valkey_port: u16,
    _dir: tempfile::TempDir,
}

fn pipeline_bin() -> std::path::PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_slitop")).with_file_name("slitop-pipeline");
    assert!(
        p.is_file(),
        "{} missing: build the workspace (cargo test --workspace)",
        p.display()
    );
    p
}

/// Valkey, the pipeline on it, Prometheus scraping the pipeline, and k6 sending it a few
/// requests a second for longer than the test runs.
fn start_servers() -> Servers {
    let dir = tempfile::tempdir().unwrap();
    let valkey = Valkey::start();
    let pipeline_port = free_port();
    let pipeline = ChildGuard::spawn(
        "slitop-pipeline",
        Command::new(pipeline_bin())
            .args(["--listen", &format!("127.0.0.1:{pipeline_port}")])
            .args(["--valkey", &valkey.url(), "--service-time", "5ms"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert!(wait_until(Duration::from_secs(15), || port_open(
        pipeline_port
    )));
    let prom = Prometheus::start(&[format!("127.0.0.1:{pipeline_port}")], "1s");
    let script = dir.path().join("steady.js");
    std::fs::write(
        &script,
        format!(
            "import http from 'k6/http';\n\
             export const options = {{ scenarios: {{ s: {{ executor: 'constant-arrival-rate', rate: 5, timeUnit: '1s', duration: '600s', preAllocatedVUs: 4 }} }} }};\n\
             export default function () {{ http.post('http://127.0.0.1:{pipeline_port}/pexec', '{{}}', {{ headers: {{ 'Content-Type': 'application/json' }} }}); }}\n"
        ),
    )
    .unwrap();
    let k6_port = free_port();
    let k6 = ChildGuard::spawn(
        "k6",
        Command::new(k6_bin())
            .args(["run", "--quiet", "--no-summary", "--no-usage-report"])
            .args(["--address", &format!("127.0.0.1:{k6_port}")])
            .arg(&script)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert!(wait_until(Duration::from_secs(15), || port_open(k6_port)));
    Servers {
        valkey_port: valkey.port,
        _valkey: valkey,
        _pipeline: pipeline,
        prom,
        _k6: k6,
        k6_port,
        pipeline_port,
        _dir: dir,
    }
}

/// A config holding one signal per source (each read only from its source) and a short
/// backoff cap, so recovery is measured rather than waited out.
fn config(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("faults.toml");
    std::fs::write(
        &p,
        "backoff_max = \"2s\"\n\
         [[signal]]\nname = \"fi_valkey\"\nquery = \"max(valkey_up)\"\ngroup = \"leading\"\nsource = \"local\"\n\
         [[signal]]\nname = \"fi_scrape\"\nquery = \"sum(gateway_enqueue_seconds_count)\"\ngroup = \"leading\"\nsource = \"local\"\n\
         [[signal]]\nname = \"fi_prom\"\nquery = \"sum(up)\"\ngroup = \"leading\"\nsource = \"prometheus\"\n\
         [[signal]]\nname = \"fi_k6\"\nquery = \"max(k6_vus_max)\"\ngroup = \"leading\"\nsource = \"local\"\n",
    )
    .unwrap();
    p
}

/// slitop's resident memory in KiB (0 once it is gone).
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// What the lines of the sources that are not faulted must show: a value in each of their
/// signal lines, no health other than ok, and lines still arriving.
struct Bystanders {
    faulted: &'static str,
    last_seen: Vec<(&'static str, Instant)>,
}

impl Bystanders {
    fn new(faulted: &'static str) -> Self {
        let now = Instant::now();
        let last_seen = SOURCES
            .iter()
            .filter(|s| s.0 != faulted)
            .map(|s| (s.1, now))
            .collect();
        Bystanders { faulted, last_seen }
    }

    /// Checks one line; panics with what went wrong.
    fn check(&mut self, v: &Value, what: &str) {
        let Some((source, signal, _)) = SOURCES
            .iter()
            .find(|s| s.0 != self.faulted && (v["source"] == s.0 || v["signal"] == s.1))
        else {
            return;
        };
        if v.get("health").is_some() {
            assert_eq!(v["health"], "ok", "{source} left ok during {what}: {v}");
        } else if v["signal"] == *signal && v.get("error").is_none() {
            assert!(
                v["value"].is_number(),
                "{signal} lost its value during {what}: {v}"
            );
            let seen = self.last_seen.iter_mut().find(|s| s.0 == *signal).unwrap();
            seen.1 = Instant::now();
        }
    }

    /// Every other source's signal was seen within the last few refreshes.
    fn still_updating(&self, what: &str) {
        for (signal, at) in &self.last_seen {
            assert!(
                at.elapsed() < REFRESH * 4,
                "{signal} stopped updating during {what} (last {:?} ago)",
                at.elapsed()
            );
        }
    }
}

/// Waits until `done` says the line is the one wanted, checking the bystanders on every line
/// and sampling memory; returns the line, or None at the deadline.
fn watch(
    rx: &mpsc::Receiver<Value>,
    limit: Duration,
    pid: u32,
    by: &mut Bystanders,
    rss_max: &mut u64,
    what: &str,
    mut done: impl FnMut(&Value) -> bool,
) -> Option<Value> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        *rss_max = (*rss_max).max(rss_kb(pid));
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(v) => {
                by.check(&v, what);
                if done(&v) {
                    return Some(v);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("slitop ended during {what}"),
        }
        by.still_updating(what);
    }
    None
}

/// One fault on one source: down with its reason, the others untouched, then recovery.
fn one_case(
    rx: &mpsc::Receiver<Value>,
    pid: u32,
    proxy: &FaultProxy,
    (source, signal): (&'static str, &'static str),
    (fault, words): (Fault, &[&str]),
) -> Row {
    let what = format!("{} on {source}", fault.name());
    let mut by = Bystanders::new(source);
    let mut rss_max = 0;
    while rx.try_recv().is_ok() {}
    proxy.set(fault);
    let t0 = Instant::now();
    let down = watch(rx, DOWN_WITHIN, pid, &mut by, &mut rss_max, &what, |v| {
        v["source"] == source && v["health"] == "down"
    })
    .unwrap_or_else(|| panic!("{source} not down within {DOWN_WITHIN:?} of {what}"));
    let down_after = t0.elapsed();
    let reason = down["reason"].as_str().unwrap_or_default().to_string();
    let low = reason.to_lowercase();
    let named = words.iter().any(|w| low.contains(w));
    // Held a little longer, so a fault that is slow to hurt (the 1 GB reply) has its chance.
    watch(rx, REFRESH * 2, pid, &mut by, &mut rss_max, &what, |_| {
        false
    });
    proxy.set(Fault::Pass);
    let t1 = Instant::now();
    let mut ok = false;
    watch(
        rx,
        Duration::from_secs(20),
        pid,
        &mut by,
        &mut rss_max,
        &what,
        |v| {
            ok |= v["source"] == source && v["health"] == "ok";
            ok && v["signal"] == signal && v["value"].is_number()
        },
    )
    .unwrap_or_else(|| panic!("{source} did not recover by itself after {what}"));
    Row {
        fault: fault.name(),
        source,
        shown: format!("down: {reason}"),
        down_after,
        recovered_after: t1.elapsed(),
        rss_max_kb: rss_max,
        named,
    }
}

fn print_table(rows: &[Row]) {
    println!("\nFault injection table (recovery: from the fault's end to fresh values again)\n");
    println!("| fault | source | shown | down after | recovered after | max RSS |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.1} s | {:.1} s | {} MB |",
            r.fault,
            r.source,
            r.shown.replace('|', "/"),
            r.down_after.as_secs_f64(),
            r.recovered_after.as_secs_f64(),
            r.rss_max_kb / 1024
        );
    }
}

#[test]
fn every_fault_on_every_source_shows_down_with_its_reason_and_recovers() {
    let servers = start_servers();
    let upstream = [
        servers.valkey_port,
        servers.pipeline_port,
        servers.prom.port,
        servers.k6_port,
    ];
    let proxies: Vec<FaultProxy> = SOURCES
        .iter()
        .zip(upstream)
        .map(|(s, port)| FaultProxy::start(port, s.2))
        .collect();
    let out = tempfile::tempdir().unwrap();
    let stderr = out.path().join("stderr.txt");
    let mut slitop = ChildGuard::spawn(
        "slitop",
        Command::new(common::slitop_bin())
            .current_dir(out.path())
            .arg("--config")
            .arg(config(out.path()))
            .args([
                "--headless",
                "--refresh",
                &format!("{}ms", REFRESH.as_millis()),
            ])
            .args(["--timeout", &format!("{}ms", TIMEOUT.as_millis())])
            .args(["--valkey", &proxies[0].url("redis", ""), "--stream", "jobs"])
            .args(["--scrape", &proxies[1].url("http", "/metrics")])
            .args(["--prometheus", &proxies[2].url("http", "")])
            .args(["--k6", &proxies[3].url("http", "")])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap()),
    );
    let rx = common::json_lines_of(&mut slitop.child);
    let pid = slitop.pid();
    all_fresh(&rx, &stderr);
    let mut rows = Vec::new();
    for (i, (source, signal, _)) in SOURCES.iter().enumerate() {
        for fault in faults() {
            let row = one_case(&rx, pid, &proxies[i], (source, signal), fault);
            eprintln!(
                "{} on {}: {} after {:.1} s, ok again {:.1} s after the fault ended",
                row.fault,
                row.source,
                row.shown,
                row.down_after.as_secs_f64(),
                row.recovered_after.as_secs_f64()
            );
            rows.push(row);
        }
    }
    print_table(&rows);
    slitop.kill();
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(!err.contains("panicked"), "slitop panicked: {err}");
    let unnamed: Vec<String> = rows
        .iter()
        .filter(|r| !r.named)
        .map(|r| format!("{} on {}: {}", r.fault, r.source, r.shown))
        .collect();
    assert!(
        unnamed.is_empty(),
        "reasons that do not name the fault: {unnamed:#?}"
    );
    for r in rows.iter().filter(|r| r.fault == Fault::Huge.name()) {
        assert!(
            r.rss_max_kb < RSS_LIMIT_KB,
            "{} held {} MB during the 1 GB reply",
            r.source,
            r.rss_max_kb / 1024
        );
    }
}

/// Waits until every source's signal has a value (Prometheus needs a few scrapes first).
fn all_fresh(rx: &mpsc::Receiver<Value>, stderr: &Path) {
    let mut have = std::collections::BTreeSet::new();
    let end = Instant::now() + Duration::from_secs(45);
    while have.len() < SOURCES.len() && Instant::now() < end {
        if let Ok(v) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(s) = SOURCES.iter().find(|s| v["signal"] == s.1) {
                if v["value"].is_number() {
                    have.insert(s.1);
                }
            }
        }
    }
    assert_eq!(
        have.len(),
        SOURCES.len(),
        "only {have:?} had values; slitop said: {}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
    // Lines already queued describe the start; the cases begin from here.
    std::thread::sleep(REFRESH * 2);
}
