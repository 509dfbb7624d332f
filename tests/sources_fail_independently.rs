//! The whole binary with every kind of source at once: killing one source turns it down with
//! its reason within two refreshes while the others keep updating, and it comes back by itself.

mod common;

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{slitop_bin, ChildGuard, FakeHttp, Prometheus, Reply, Valkey};

/// Waits for a line matching `f`, returning it and every line seen before it.
fn wait_line(
    rx: &mpsc::Receiver<serde_json::Value>,
    limit: Duration,
    f: impl Fn(&serde_json::Value) -> bool,
) -> Option<(serde_json::Value, Vec<serde_json::Value>)> {
    let end = Instant::now() + limit;
    let mut seen = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(v) if f(&v) => return Some((v, seen)),
            Ok(v) => seen.push(v),
            Err(_) => return None,
        }
    }
    None
}

fn health(source: &'static str, word: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |v| v["source"] == source && v["health"] == word
}

#[test]
fn each_source_fails_and_recovers_on_its_own() {
    let mut valkey = Valkey::start();
    let target = FakeHttp::start(|_| {
        Reply::ok(
            "text/plain; version=0.0.4",
            "# TYPE demo_up gauge\ndemo_up 1\n",
        )
    });
    let mut prom = Prometheus::start(&[format!("127.0.0.1:{}", target.port)], "1s");
    // A k6 run with its REST API, long enough for the whole test; killed by its guard.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("idle.js");
    std::fs::write(
        &script,
        "import { sleep } from 'k6';\nexport const options = { vus: 2, duration: '120s' };\nexport default function () { sleep(0.5); }\n",
    )
    .unwrap();
    let k6_port = common::free_port();
    let spawn_k6 = || {
        ChildGuard::spawn(
            "k6",
            Command::new(common::k6_bin())
                .args([
                    "run",
                    "--quiet",
                    "--no-summary",
                    "--address",
                    &format!("127.0.0.1:{k6_port}"),
                ])
                .arg(&script)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
    };
    let mut k6 = spawn_k6();
    assert!(common::wait_until(Duration::from_secs(15), || {
        common::port_open(k6_port)
    }));

    let refresh_ms = 300u64;
    let out = tempfile::tempdir().unwrap();
    let mut slitop = ChildGuard::spawn(
        "slitop",
        Command::new(slitop_bin())
            .current_dir(out.path())
            .args([
                "--headless",
                "--refresh",
                &format!("{refresh_ms}ms"),
                "--timeout",
                "1s",
            ])
            .args(["--scrape", &target.url("/metrics")])
            .args(["--prometheus", &prom.url()])
            .args(["--valkey", &valkey.url(), "--stream", "jobs"])
            .args(["--k6", &format!("http://127.0.0.1:{k6_port}")])
            .args(["--signal", "scraped=demo_up", "--signal", "remote=sum(up)"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let rx = common::json_lines_of(&mut slitop.child);
    // Health lines of the four sources arrive in any order.
    let mut ok = std::collections::BTreeSet::new();
    let all = ["k6", "prometheus", "scrape", "valkey"];
    let end = Instant::now() + Duration::from_secs(20);
    while ok.len() < all.len() && Instant::now() < end {
        if let Ok(v) = rx.recv_timeout(Duration::from_millis(200)) {
            if v["health"] == "ok" {
                ok.insert(v["source"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    assert_eq!(
        ok.iter().map(String::as_str).collect::<Vec<_>>(),
        all,
        "not every source became ok"
    );
    // Prometheus needs a few seconds for its first scrape.
    assert!(
        wait_line(&rx, Duration::from_secs(30), |v| v["signal"] == "remote"
            && v["value"] == 1.0)
        .is_some(),
        "no remote value"
    );

    let max_down = Duration::from_millis(2 * refresh_ms + 1000 + 500);
    // A k6 that was seen running and whose API then goes away has ended its run: it shows as
    // finished (with no reason), not down.
    for (name, state, reason_word) in [
        ("valkey", "down", "valkey 127.0.0.1:"),
        ("prometheus", "down", "refused"),
        ("k6", "finished", ""),
    ] {
        match name {
            "valkey" => valkey.stop(),
            "prometheus" => prom.stop(),
            _ => k6.kill(),
        }
        let t0 = Instant::now();
        let (down, _) = wait_line(&rx, Duration::from_secs(10), health(name, state))
            .unwrap_or_else(|| panic!("{name} never {state}"));
        assert!(
            t0.elapsed() <= max_down,
            "{name} down after {:?}",
            t0.elapsed()
        );
        let reason = down["reason"].as_str().unwrap_or_default().to_string();
        if state == "down" {
            assert!(
                !reason.is_empty() && reason.contains(reason_word),
                "{name} reason {reason:?}"
            );
        } else {
            assert!(reason.is_empty(), "{name} {state} with reason {reason:?}");
        }
        // Meanwhile the scrape source keeps updating.
        assert!(
            wait_line(&rx, Duration::from_secs(3), |v| v["signal"] == "scraped"
                && v["value"] == 1.0)
            .is_some(),
            "scrape stopped updating while {name} was down"
        );
        match name {
            "valkey" => valkey.restart(),
            "prometheus" => prom.restart(),
            _ => k6 = spawn_k6(),
        }
        assert!(
            wait_line(&rx, Duration::from_secs(40), health(name, "ok")).is_some(),
            "{name} did not recover by itself"
        );
    }
}
