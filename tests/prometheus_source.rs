//! The Prometheus source against a real Prometheus and against broken servers.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{FakeHttp, Prometheus, Reply};
use slitop::model::RemoteQuery;
use slitop::model::{now_ms, Health, SourceEvent};
use slitop::settings::PrometheusConfig;
use slitop::sources::prometheus::PrometheusPoller;
use slitop::sources::{run_poller, PollSettings, Poller};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn cfg(url: String) -> PrometheusConfig {
    PrometheusConfig {
        url,
        auth: Default::default(),
    }
}

fn q(signal: &str, query: &str) -> RemoteQuery {
    RemoteQuery {
        signal: signal.into(),
        query: query.into(),
        fit: false,
    }
}

/// A /metrics target whose counter grows by 10 per scrape.
fn counting_target() -> FakeHttp {
    let n = Arc::new(AtomicU64::new(0));
    FakeHttp::start(move |_| {
        let v = n.fetch_add(10, Ordering::Relaxed);
        Reply::ok(
            "text/plain; version=0.0.4",
            format!("# TYPE demo_requests_total counter\ndemo_requests_total{{path=\"/a\"}} {v}\n"),
        )
    })
}

async fn wait_for<F: Fn(&SourceEvent) -> bool>(
    rx: &mut mpsc::Receiver<SourceEvent>,
    limit: Duration,
    f: F,
) -> Option<SourceEvent> {
    let end = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(ev)) if f(&ev) => return Some(ev),
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
}

fn settings(refresh_ms: u64, timeout_ms: u64) -> PollSettings {
    PollSettings {
        name: "prometheus".into(),
        refresh: Duration::from_millis(refresh_ms),
        timeout: Duration::from_millis(timeout_ms),
        backoff_max: Duration::from_millis(refresh_ms * 2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_backfill_errors_and_recovery_against_real_prometheus() {
    let target = counting_target();
    let mut prom = Prometheus::start(&[format!("127.0.0.1:{}", target.port)], "1s");
    // Wait for data, not just readiness: the first samples land seconds after start.
    let probe =
        PrometheusPoller::new(&cfg(prom.url()), vec![], Duration::from_secs(2), None).unwrap();
    let mut have = false;
    for _ in 0..60 {
        if let Ok(Ok((pts, _))) = probe.instant("demo_requests_total", now_ms()).await {
            if !pts.is_empty() {
                have = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(have, "prometheus never scraped the target");
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Back-fill: a matrix of several points, then an instant vector; a bad query is reported
    // against its own signal while the others keep working.
    let queries = vec![
        q("total", "sum(demo_requests_total)"),
        q("broken", "sum(rate(demo_requests_total[1m])"),
        q("scalar", "scalar(sum(demo_requests_total))"),
    ];
    let mut p = PrometheusPoller::new(
        &cfg(prom.url()),
        queries,
        Duration::from_secs(2),
        Some((Duration::from_secs(30), Duration::from_secs(1))),
    )
    .unwrap();
    let evs = p.poll(now_ms()).await.unwrap();
    let backfill = evs
        .iter()
        .find_map(|e| match e {
            SourceEvent::SignalValues { signal, points, .. } if signal == "total" => {
                Some(points.clone())
            }
            _ => None,
        })
        .unwrap();
    assert!(
        backfill.len() >= 3,
        "back-fill returned {} points",
        backfill.len()
    );
    assert!(backfill
        .windows(2)
        .all(|w| w[0].t < w[1].t && w[0].value <= w[1].value));
    let err = evs
        .iter()
        .find_map(|e| match e {
            SourceEvent::QueryError { signal, error, .. } if signal == "broken" => {
                Some(error.clone())
            }
            _ => None,
        })
        .expect("error envelope reported against its signal");
    assert!(err.starts_with("bad_data: "), "{err}");
    let evs = p.poll(now_ms()).await.unwrap();
    let (total, scalar) = {
        let get = |name: &str| {
            evs.iter()
                .find_map(|e| match e {
                    SourceEvent::SignalValues { signal, points, .. } if signal == name => {
                        Some(points.clone())
                    }
                    _ => None,
                })
                .unwrap()
        };
        (get("total"), get("scalar"))
    };
    assert_eq!(total.len(), 1, "instant query gives one point");
    assert_eq!(scalar.len(), 1);
    assert_eq!(total[0].value, scalar[0].value);
    assert!(
        total[0].value >= 20.0 && total[0].value % 10.0 == 0.0,
        "{}",
        total[0].value
    );

    // Kill Prometheus: down with a reason within two refreshes; back by itself after restart.
    let (tx, mut rx) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    let poller = PrometheusPoller::new(
        &cfg(prom.url()),
        vec![q("total", "sum(demo_requests_total)")],
        Duration::from_secs(1),
        None,
    )
    .unwrap();
    let task = tokio::spawn(run_poller(poller, settings(300, 1000), tx, cancel.clone()));
    assert!(wait_for(&mut rx, Duration::from_secs(5), |e| matches!(
        e,
        SourceEvent::Health {
            health: Health::Ok,
            ..
        }
    ))
    .await
    .is_some());
    prom.stop();
    let stopped = std::time::Instant::now();
    let down = wait_for(&mut rx, Duration::from_secs(5), |e| {
        matches!(
            e,
            SourceEvent::Health {
                health: Health::Down { .. },
                ..
            }
        )
    })
    .await
    .expect("down event");
    assert!(
        stopped.elapsed() <= Duration::from_millis(2 * 300 + 1000 + 300),
        "down after {:?}",
        stopped.elapsed()
    );
    if let SourceEvent::Health {
        health: Health::Down { reason },
        ..
    } = down
    {
        assert!(reason.contains("connection refused"), "{reason}");
    }
    prom.restart();
    assert!(
        wait_for(&mut rx, Duration::from_secs(20), |e| matches!(
            e,
            SourceEvent::Health {
                health: Health::Ok,
                ..
            }
        ))
        .await
        .is_some(),
        "prometheus source did not recover"
    );
    assert!(
        wait_for(&mut rx, Duration::from_secs(5), |e| matches!(
            e,
            SourceEvent::SignalValues { .. }
        ))
        .await
        .is_some(),
        "no values after recovery"
    );
    cancel.cancel();
    let _ = task.await;
}

/// The detector's fast view through a real Prometheus: the source measures the server's
/// scrape interval from the raw samples and cuts a display query's minute to three intervals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_queries_are_fitted_to_the_measured_scrape_interval() {
    let target = counting_target();
    let _prom_guard;
    let prom = {
        let p = Prometheus::start(&[format!("127.0.0.1:{}", target.port)], "4s");
        let url = p.url();
        _prom_guard = p;
        url
    };
    let fast = RemoteQuery {
        signal: "rps@fast".into(),
        query: "sum(rate(demo_requests_total[1m]))".into(),
        fit: true,
    };
    let mut p =
        PrometheusPoller::new(&cfg(prom), vec![fast], Duration::from_secs(2), None).unwrap();
    let mut got = None;
    for _ in 0..60 {
        let evs = p.poll(now_ms()).await.unwrap_or_default();
        got = evs.into_iter().find_map(|e| match e {
            SourceEvent::SignalValues { signal, points, .. } if signal == "rps@fast" => {
                Some(points)
            }
            _ => None,
        });
        if got.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(got.is_some(), "the fast query was never sent");
    let interval = p.measured_interval().expect("interval measured");
    assert!(
        (Duration::from_millis(3500)..=Duration::from_millis(4500)).contains(&interval),
        "{interval:?}"
    );
    let sent = p.fitted_query("rps@fast").unwrap();
    assert!(sent.contains("[12s]") && !sent.contains("1m"), "{sent}");
}

#[tokio::test]
async fn non_api_answers_take_the_source_down_with_the_reason() {
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::Http {
                status: 502,
                content_type: "text/html",
                body: b"<html><body>502 Bad Gateway</body></html>".to_vec(),
            },
            "HTTP 502 with a non-JSON body",
        ),
        (
            Reply::Http {
                status: 200,
                content_type: "application/json",
                body: br#"{"status":"success","data":{"resultT"#.to_vec(),
            },
            "truncated JSON",
        ),
        (
            Reply::Http {
                status: 200,
                content_type: "text/plain",
                body: b"hello".to_vec(),
            },
            "non-JSON body",
        ),
        (
            Reply::Http {
                status: 401,
                content_type: "text/plain",
                body: Vec::new(),
            },
            "check the bearer token",
        ),
    ];
    for (reply, expect) in cases {
        let reply = std::sync::Mutex::new(Some(reply));
        let srv = FakeHttp::start(move |_| reply.lock().unwrap().take().unwrap_or(Reply::Close));
        let mut p = PrometheusPoller::new(
            &cfg(srv.url("")),
            vec![q("x", "up")],
            Duration::from_secs(2),
            None,
        )
        .unwrap();
        let err = format!("{:#}", p.poll(now_ms()).await.unwrap_err());
        assert!(err.contains(expect), "expected {expect:?} in {err:?}");
    }
}

#[tokio::test]
async fn a_server_that_never_answers_is_timed_out() {
    let srv = FakeHttp::start(|_| Reply::Hang);
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let poller = PrometheusPoller::new(
        &cfg(srv.url("")),
        vec![q("x", "up")],
        Duration::from_millis(600),
        None,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let task = tokio::spawn(run_poller(poller, settings(200, 600), tx, cancel.clone()));
    let ev = wait_for(&mut rx, Duration::from_secs(5), |e| {
        matches!(
            e,
            SourceEvent::Health {
                health: Health::Down { .. },
                ..
            }
        )
    })
    .await
    .expect("down");
    assert!(started.elapsed() < Duration::from_secs(3));
    if let SourceEvent::Health {
        health: Health::Down { reason },
        ..
    } = ev
    {
        assert!(reason.contains("timed out"), "{reason}");
    }
    cancel.cancel();
    let _ = task.await;
}

#[tokio::test]
async fn bearer_token_comes_from_a_file_and_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("token");
    std::fs::write(&tok, "s3cr3t-token\n").unwrap();
    let srv = FakeHttp::start(|req| {
        if req.contains("authorization: Bearer s3cr3t-token")
            || req.contains("Authorization: Bearer s3cr3t-token")
        {
            Reply::ok(
                "application/json",
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            )
        } else {
            Reply::Http {
                status: 401,
                content_type: "text/plain",
                body: b"no".to_vec(),
            }
        }
    });
    let mut c = cfg(srv.url(""));
    c.auth.bearer_token_file = Some(tok);
    let mut p =
        PrometheusPoller::new(&c, vec![q("x", "up")], Duration::from_secs(2), None).unwrap();
    p.poll(now_ms()).await.expect("authorized");
    let seen = srv.requests.lock().unwrap().join("\n");
    assert!(seen.contains("POST /api/v1/query "), "{seen}");
    assert!(seen.contains("query=up"), "{seen}");
}

#[tokio::test]
async fn a_reply_over_the_size_cap_is_the_signals_error_and_the_source_stays_up() {
    // A valid reply, padded past the cap with a warning no Prometheus would send.
    let pad = "x".repeat(slitop::sources::prometheus::REPLY_CAP as usize + 1);
    let body = format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[]}},"warnings":["{pad}"]}}"#
    );
    // Only the query that names `everything` is answered past the cap; the other is small.
    let small = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    let srv = FakeHttp::start(move |req| {
        let reply = if req.contains("everything") {
            body.clone()
        } else {
            small.to_string()
        };
        Reply::ok("application/json", reply)
    });
    let mut p = PrometheusPoller::new(
        &cfg(srv.url("")),
        vec![q("big", "everything"), q("small", "up")],
        Duration::from_secs(5),
        None,
    )
    .unwrap();
    let evs = p
        .poll(now_ms())
        .await
        .expect("one answer got through: the source is not down");
    let errors: Vec<&str> = evs
        .iter()
        .filter_map(|e| match e {
            SourceEvent::QueryError { signal, error, .. } if signal == "big" => {
                Some(error.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{evs:?}");
    assert!(errors[0].contains("16 MiB"), "{}", errors[0]);
    // When no answer gets through, the source is down with the cap as its reason.
    let mut only_big = PrometheusPoller::new(
        &cfg(srv.url("")),
        vec![q("big", "everything")],
        Duration::from_secs(5),
        None,
    )
    .unwrap();
    let down = only_big
        .poll(now_ms())
        .await
        .expect_err("nothing got through");
    assert!(format!("{down:#}").contains("16 MiB"), "{down:#}");
}
