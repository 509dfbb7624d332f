//! The k6 sources with a real k6 run against a server that drops some connections.

mod common;
mod recorded;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{k6_bin, ChildGuard};
use slitop::model::{now_ms, Health, Sample, SourceEvent};
use slitop::sources::k6::{stop_test, K6RestPoller};
use slitop::sources::k6_json::K6JsonPoller;
use slitop::sources::{run_poller, PollSettings, Poller};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    eof: AtomicU64,
    reset: AtomicU64,
}

/// Answers 200 with keep-alive, but every 7th request is read and then the connection closed
/// without a response (EOF at the client), and every 10th is never read and the socket closed
/// with the request unread, which makes the kernel send a reset.
fn flaky_server(counts: Arc<Counts>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let counts = counts.clone();
            std::thread::spawn(move || serve(s, &counts));
        }
    });
    port
}

fn serve(mut s: TcpStream, c: &Counts) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut peek = [0u8; 1];
    loop {
        if !matches!(s.peek(&mut peek), Ok(n) if n > 0) {
            return;
        }
        let n = c.requests.fetch_add(1, Ordering::SeqCst);
        if n % 10 == 9 {
            c.reset.fetch_add(1, Ordering::SeqCst);
            return; // dropped with unread data: RST
        }
        // Read the head and the body (Content-Length).
        let mut buf = Vec::new();
        let mut b = [0u8; 4096];
        let head_end = loop {
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(k) => buf.extend_from_slice(&b[..k]),
            }
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(k) => buf.extend_from_slice(&b[..k]),
            }
        }
        if n % 7 == 6 {
            c.eof.fetch_add(1, Ordering::SeqCst);
            let _ = s.shutdown(std::net::Shutdown::Both);
            return;
        }
        std::thread::sleep(Duration::from_millis(2 + n % 5));
        if s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok",
        )
        .is_err()
        {
            return;
        }
    }
}

fn script(dir: &std::path::Path, port: u16, duration: &str) -> std::path::PathBuf {
    let p = dir.join("load.js");
    std::fs::write(
        &p,
        format!(
            "import http from 'k6/http';\nimport {{ sleep }} from 'k6';\n\
             export const options = {{ vus: 5, duration: '{duration}' }};\n\
             export default function () {{ http.post('http://127.0.0.1:{port}/pexec', JSON.stringify({{x: 1}}), {{ headers: {{ 'Content-Type': 'application/json' }}, timeout: '5s' }}); sleep(0.02); }}\n"
        ),
    )
    .unwrap();
    p
}

fn value(s: &[Sample], name: &str) -> Option<f64> {
    s.iter()
        .find(|x| x.labels.name() == Some(name))
        .map(|x| x.value)
}

fn samples(evs: Vec<SourceEvent>) -> Vec<Sample> {
    evs.into_iter()
        .flat_map(|e| match e {
            SourceEvent::Samples { samples, .. } => samples,
            _ => vec![],
        })
        .collect()
}

/// Percentile as k6 defines it, written out again here from its definition.
fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = p * (v.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (rank - lo as f64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_json_read_a_real_run_against_a_flaky_server() {
    let counts = Arc::new(Counts::default());
    let port = flaky_server(counts.clone());
    let dir = tempfile::tempdir().unwrap();
    let js = script(dir.path(), port, "6s");
    let out = dir.path().join("out.json");
    let summary = dir.path().join("summary.json");
    let (mut k6, api) = start_k6_with(
        &js,
        &[
            format!("--out=json={}", out.display()),
            format!("--summary-export={}", summary.display()),
        ],
    );
    let mut rest = K6RestPoller::new(vec![api], Duration::from_secs(2)).unwrap();
    let mut json = K6JsonPoller::new(vec![out.clone()], Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (t1, srv1) = (Instant::now(), counts.requests.load(Ordering::SeqCst));
    let s1 = samples(rest.poll(now_ms()).await.unwrap());
    json.poll(now_ms()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s2 = samples(rest.poll(now_ms()).await.unwrap());
    let (dt, srv2) = (
        t1.elapsed().as_secs_f64(),
        counts.requests.load(Ordering::SeqCst),
    );
    assert_eq!(value(&s1, "k6_vus"), Some(5.0));
    assert_eq!(value(&s1, "k6_running"), Some(1.0));
    let k6_rate = (value(&s2, "k6_http_reqs_total").unwrap()
        - value(&s1, "k6_http_reqs_total").unwrap())
        / dt;
    let server_rate = (srv2 - srv1) as f64 / dt;
    assert!(server_rate > 20.0, "server saw only {server_rate}/s");
    assert!(
        (k6_rate - server_rate).abs() / server_rate < 0.3,
        "k6 REST {k6_rate}/s vs server {server_rate}/s"
    );
    assert!(value(&s2, "k6_http_req_failed_total").unwrap() > 0.0);

    // Let the run finish, then read the rest of the JSON output.
    let end = Instant::now() + Duration::from_secs(30);
    while k6.child.try_wait().unwrap().is_none() && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(k6.child.try_wait().unwrap().is_some(), "k6 did not finish");
    let mut last = Vec::new();
    for _ in 0..10 {
        last = samples(json.poll(now_ms()).await.unwrap());
        if value(&last, "k6_client_requests_total")
            == Some(counts.requests.load(Ordering::SeqCst) as f64)
        {
            break;
        }
    }
    let served = counts.requests.load(Ordering::SeqCst) as f64;
    let (eof, reset) = (
        counts.eof.load(Ordering::SeqCst) as f64,
        counts.reset.load(Ordering::SeqCst) as f64,
    );
    assert!(eof > 5.0 && reset > 5.0, "eof {eof} reset {reset}");
    assert_eq!(value(&last, "k6_client_requests_total"), Some(served));
    assert_eq!(value(&last, "k6_client_failed_total"), Some(eof + reset));
    let by_code = |code: &str| -> f64 {
        last.iter()
            .filter(|x| {
                x.labels.name() == Some("k6_client_errors_total")
                    && x.labels.get("error_code") == Some(code)
            })
            .map(|x| x.value)
            .sum()
    };
    assert_eq!(
        (by_code("1000"), by_code("1220")),
        (eof, reset),
        "errors by code"
    );
    assert_eq!(value(&last, "k6_json_bad_lines_total"), Some(0.0));

    // p95 over the whole run: equal to an independent computation from the file and to k6's own summary.
    let text = std::fs::read_to_string(&out).unwrap();
    let durs: Vec<f64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "Point" && v["metric"] == "http_req_duration")
        .map(|v| v["data"]["value"].as_f64().unwrap())
        .collect();
    let p95 = last
        .iter()
        .find(|x| x.labels.get("quantile") == Some("0.95"))
        .map(|x| x.value)
        .unwrap();
    assert!(
        (p95 * 1000.0 - percentile(durs.clone(), 0.95)).abs() < 1e-9,
        "{p95}"
    );
    let k6_summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let k6_p95 = k6_summary["metrics"]["http_req_duration"]["p(95)"]
        .as_f64()
        .unwrap();
    assert!(
        (p95 * 1000.0 - k6_p95).abs() <= 1e-9 * k6_p95.max(1.0),
        "slitop {} ms vs k6 {k6_p95} ms",
        p95 * 1000.0
    );
    assert_eq!(
        value(&last, "k6_client_window_requests"),
        Some(durs.len() as f64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_test_stops_k6_and_reports_refusals() {
    let counts = Arc::new(Counts::default());
    let port = flaky_server(counts);
    let dir = tempfile::tempdir().unwrap();
    let js = script(dir.path(), port, "60s");
    let (mut k6, url) = start_k6(&js);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let said = stop_test(&url, Duration::from_secs(3))
        .await
        .expect("k6 accepts the stop");
    assert!(said.contains("stopped"), "{said}");
    let end = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = k6.child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > end {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.is_some(), "k6 kept running after the stop");
    let err = stop_test(&url, Duration::from_secs(2))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("refused"), "{err}");
}

#[tokio::test]
async fn a_k6_api_that_never_answers_is_timed_out() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = l.incoming().take(10).collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(held);
    });
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let p = K6RestPoller::new(
        vec![format!("http://127.0.0.1:{port}")],
        Duration::from_millis(500),
    )
    .unwrap();
    let settings = PollSettings {
        name: "k6".into(),
        refresh: Duration::from_millis(250),
        timeout: Duration::from_millis(500),
        backoff_max: Duration::from_millis(500),
    };
    let t0 = Instant::now();
    let task = tokio::spawn(run_poller(p, settings, tx, cancel.clone()));
    let down = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = rx.recv().await {
            if let SourceEvent::Health { health, .. } = e {
                if health.word() == "down" {
                    return health.reason();
                }
            }
        }
        None
    })
    .await
    .unwrap()
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(down.contains("timed out"), "{down}");
    cancel.cancel();
    let _ = task.await;
}

/// Starts k6 on `script` with its REST API on a free port; returns the guard and the API's URL
/// once it answers.
fn start_k6(js: &std::path::Path) -> (ChildGuard, String) {
    start_k6_with(js, &[])
}

/// `start_k6` with more arguments to `k6 run` (outputs, a summary export).
fn start_k6_with(js: &std::path::Path, extra: &[String]) -> (ChildGuard, String) {
    let api = common::free_port();
    let k6 = ChildGuard::spawn(
        "k6",
        Command::new(k6_bin())
            .args(["run", "--quiet", "--address", &format!("127.0.0.1:{api}")])
            .args(extra)
            .arg(js)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert!(
        common::wait_until(Duration::from_secs(15), || common::port_open(api)),
        "k6 REST API never came up"
    );
    (k6, format!("http://127.0.0.1:{api}"))
}

fn wait_exit(k6: &mut ChildGuard, limit: Duration) -> bool {
    common::wait_until(limit, || k6.child.try_wait().unwrap().is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_k6_run_that_completes_is_finished_not_down() {
    let port = flaky_server(Arc::new(Counts::default()));
    let dir = tempfile::tempdir().unwrap();
    let js = script(dir.path(), port, "2s");
    let (mut k6, url) = start_k6(&js);
    let (tx, mut rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let p = K6RestPoller::new(vec![url], Duration::from_secs(2)).unwrap();
    let settings = PollSettings {
        name: "k6".into(),
        refresh: Duration::from_millis(250),
        timeout: Duration::from_secs(2),
        backoff_max: Duration::from_millis(500),
    };
    let task = tokio::spawn(run_poller(p, settings, tx, cancel.clone()));
    let mut seen = Vec::new();
    let mut data = 0;
    let finished = tokio::time::timeout(Duration::from_secs(40), async {
        while let Some(e) = rx.recv().await {
            match e {
                SourceEvent::Health { health, .. } => {
                    seen.push(health.clone());
                    if health == Health::Finished {
                        return true;
                    }
                }
                SourceEvent::Samples { .. } => data += 1,
                _ => {}
            }
        }
        false
    })
    .await;
    assert_eq!(finished, Ok(true), "never finished: {seen:?}");
    assert!(
        wait_exit(&mut k6, Duration::from_secs(15)),
        "k6 did not exit"
    );
    assert!(data >= 2, "only {data} polls answered");
    assert_eq!(seen.first(), Some(&Health::Ok), "{seen:?}");
    assert!(
        !seen.iter().any(|h| matches!(h, Health::Down { .. })),
        "went down on the way: {seen:?}"
    );
    // It stays finished while the poll loop keeps trying the address.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while let Ok(e) = rx.try_recv() {
        if let SourceEvent::Health { health, .. } = e {
            panic!("health changed after finishing: {health:?}");
        }
    }
    cancel.cancel();
    let _ = task.await;
}

/// The whole run as a user gets it: headless lines, the recording, and its replay all say
/// `finished` for a k6 run that ended, and nothing says down.
#[test]
fn headless_lines_and_the_recording_say_finished_when_k6_ends() {
    let port = flaky_server(Arc::new(Counts::default()));
    let dir = tempfile::tempdir().unwrap();
    let js = script(dir.path(), port, "3s");
    let (mut k6, url) = start_k6(&js);
    let out = dir.path().join("run");
    let o = Command::new(common::slitop_bin())
        .args(["--k6", &url, "--refresh", "250ms", "--headless"])
        .args(["--duration", "7s", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        wait_exit(&mut k6, Duration::from_secs(15)),
        "k6 did not exit"
    );
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let k6_health = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["source"] == "k6" && v.get("health").is_some())
            .map(|v| v["health"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(k6_health(&stdout), ["ok", "finished"], "{stdout}");
    let rec = recorded::recording_text(&out);
    assert!(rec.contains(r#"{"state":"finished"}"#), "{rec}");
    assert!(!rec.contains(r#""state":"down""#));
    let replay = Command::new(common::slitop_bin())
        .args(["replay", "--headless", "--out"])
        .arg(dir.path().join("replay"))
        .arg(common::recording_in(&out))
        .output()
        .unwrap();
    let replayed = String::from_utf8_lossy(&replay.stdout).to_string();
    assert_eq!(
        k6_health(&replayed),
        ["ok", "finished"],
        "{replayed}{}",
        String::from_utf8_lossy(&replay.stderr)
    );
}

#[tokio::test]
async fn a_rest_reply_over_the_size_cap_is_refused_with_the_reason() {
    let big = format!(
        r#"{{"data":{{"attributes":{{"status":7,"vus":1,"vus-max":1,"running":true,"pad":"{}"}}}}}}"#,
        "x".repeat(5 << 20)
    );
    let srv = common::FakeHttp::start(move |_| common::Reply::ok("application/json", big.clone()));
    let mut p = K6RestPoller::new(vec![srv.url("")], Duration::from_secs(5)).unwrap();
    let e = format!("{:#}", p.poll(now_ms()).await.unwrap_err());
    assert!(e.contains("reply refused") && e.contains("4 MiB"), "{e}");
}

/// A closed loop of 4 VUs, each sending two requests to a server that takes 30 ms and then
/// thinking 250 ms: k6's REST API gives only means since the start, and their running totals
/// differenced over the client window give the same mean latency and think time as the JSON
/// output's points over that window: the script's 250 ms of think per two requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_api_and_the_json_output_give_the_same_vu_cycle() {
    let server = common::FakeHttp::start(|_| {
        std::thread::sleep(Duration::from_millis(30));
        common::Reply::ok("text/plain", "ok")
    });
    let dir = tempfile::tempdir().unwrap();
    let js = dir.path().join("cycle.js");
    let url = server.url("/x");
    std::fs::write(
        &js,
        format!(
            "import http from 'k6/http';\nimport {{ sleep }} from 'k6';\n\
             export const options = {{ vus: 4, duration: '9s' }};\n\
             export default function () {{ http.get('{url}'); http.get('{url}'); sleep(0.25); }}\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out.json");
    let (_k6, api) = start_k6_with(&js, &[format!("--out=json={}", out.display())]);
    let window = Duration::from_secs(4);
    let mut rest = K6RestPoller::new(vec![api], Duration::from_secs(2))
        .unwrap()
        .with_window(window);
    let mut json = K6JsonPoller::new(vec![out.clone()], window);
    let (mut from_rest, mut from_json) = (Vec::new(), Vec::new());
    // Half-second polls for 7 s: the last ones cover a full window of steady load.
    for _ in 0..14 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = now_ms();
        if let Ok(evs) = rest.poll(now).await {
            from_rest = samples(evs);
        }
        from_json = samples(json.poll(now).await.unwrap());
    }
    let get = |s: &[Sample], name: &str| value(s, name).unwrap_or_else(|| panic!("no {name}"));
    let (rest_mean, rest_think) = (
        get(&from_rest, "k6_api_duration_mean_seconds"),
        get(&from_rest, "k6_api_think_seconds"),
    );
    let (json_mean, json_think) = (
        get(&from_json, "k6_client_duration_mean_seconds"),
        get(&from_json, "k6_client_think_seconds"),
    );
    assert!((0.03..0.08).contains(&rest_mean), "REST mean {rest_mean} s");
    assert!(
        (rest_mean - json_mean).abs() <= 0.15 * json_mean,
        "mean: REST {rest_mean} s, JSON {json_mean} s"
    );
    for (who, think) in [("REST", rest_think), ("JSON", json_think)] {
        assert!(
            (think - 0.125).abs() < 0.02,
            "{who} think {think} s per request"
        );
    }
    assert!(
        (rest_think - json_think).abs() < 0.02,
        "think: REST {rest_think} s, JSON {json_think} s"
    );
}
