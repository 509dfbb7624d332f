//! The direct-scrape source: target labels, `up`, staleness, size cap and bad input.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{FakeHttp, Reply};
use slitop::model::is_stale_nan;
use slitop::model::{now_ms, Sample, SourceEvent};
use slitop::settings::ScrapeConfig;
use slitop::sources::scrape::ScrapePoller;
use slitop::sources::Poller;

fn cfg(urls: Vec<String>) -> ScrapeConfig {
    let mut c: ScrapeConfig = toml::from_str("").unwrap();
    c.urls = urls;
    c
}

fn samples(evs: &[SourceEvent]) -> Vec<Sample> {
    evs.iter()
        .flat_map(|e| match e {
            SourceEvent::Samples { samples, .. } => samples.clone(),
            _ => vec![],
        })
        .collect()
}

#[tokio::test]
async fn target_labels_up_and_staleness_like_prometheus() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let srv = FakeHttp::start(move |_| {
        let body = if c2.fetch_add(1, Ordering::Relaxed) == 0 {
            "# TYPE a counter\na_total{job=\"app\"} 1\nb 2 1700000000000\n"
        } else {
            "# TYPE a counter\na_total{job=\"app\"} 3\n"
        };
        Reply::ok("text/plain; version=0.0.4", body)
    });
    let mut p = ScrapePoller::new(cfg(vec![srv.url("/metrics")]), Duration::from_secs(2)).unwrap();
    let first = samples(&p.poll(now_ms()).await.unwrap());
    let inst = format!("127.0.0.1:{}", srv.port);
    let a = first
        .iter()
        .find(|s| s.labels.name() == Some("a_total"))
        .unwrap();
    assert_eq!(a.labels.get("job"), Some("scrape"));
    assert_eq!(a.labels.get("exported_job"), Some("app"));
    assert_eq!(a.labels.get("instance"), Some(inst.as_str()));
    let b = first.iter().find(|s| s.labels.name() == Some("b")).unwrap();
    assert_eq!(b.t, 1_700_000_000_000, "exposition timestamp kept");
    let up = first
        .iter()
        .find(|s| s.labels.name() == Some("up"))
        .unwrap();
    assert_eq!(up.value, 1.0);
    let second = samples(&p.poll(now_ms()).await.unwrap());
    let b_gone = second
        .iter()
        .find(|s| s.labels.name() == Some("b"))
        .expect("stale marker for b");
    assert!(is_stale_nan(b_gone.value));
    assert_eq!(
        second
            .iter()
            .find(|s| s.labels.name() == Some("a_total"))
            .unwrap()
            .value,
        3.0
    );
}

#[tokio::test]
async fn bad_input_gives_specific_errors() {
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::ok("text/plain", "ok_metric 1\nbroken_metric{a=\"1\" 2\n"),
            "line 2",
        ),
        (
            Reply::ok("text/html", "<html><body>Not here</body></html>"),
            "the server sent HTML",
        ),
        (
            Reply::Http {
                status: 500,
                content_type: "text/plain",
                body: b"boom\x1b[2J".to_vec(),
            },
            "HTTP 500",
        ),
        (
            Reply::ok("text/plain", b"a 1\n\xff\xfe 2\n".to_vec()),
            "not UTF-8",
        ),
        (
            Reply::ok("application/openmetrics-text; version=1.0.0", "a_total 1\n"),
            "EOF",
        ),
    ];
    for (reply, expect) in cases {
        let reply = std::sync::Mutex::new(Some(reply));
        let srv = FakeHttp::start(move |_| reply.lock().unwrap().take().unwrap_or(Reply::Close));
        let url = srv.url("/metrics");
        let mut p = ScrapePoller::new(cfg(vec![url.clone()]), Duration::from_secs(2)).unwrap();
        let err = format!("{:#}", p.poll(now_ms()).await.unwrap_err());
        assert!(
            err.contains(expect) && err.contains(&url),
            "expected {expect:?} in {err:?}"
        );
        assert!(!err.contains('\x1b'), "escape leaked: {err:?}");
    }
}

#[tokio::test]
async fn oversized_scrape_is_refused_and_one_bad_target_does_not_hide_the_others() {
    let big = FakeHttp::start(|_| Reply::ok("text/plain", "x 1\n".repeat(1000)));
    let good = FakeHttp::start(|_| Reply::ok("text/plain", "y 2\n"));
    let mut c = cfg(vec![big.url("/metrics"), good.url("/metrics")]);
    c.max_bytes = 1024;
    let mut p = ScrapePoller::new(c, Duration::from_secs(2)).unwrap();
    let evs = p.poll(now_ms()).await.unwrap();
    let err = evs
        .iter()
        .find_map(|e| match e {
            SourceEvent::QueryError { error, .. } => Some(error.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        err.contains("scrape refused: body is larger than the 1024 bytes cap"),
        "{err}"
    );
    let s = samples(&evs);
    assert!(s
        .iter()
        .any(|x| x.labels.name() == Some("y") && x.value == 2.0));
    let ups: Vec<f64> = s
        .iter()
        .filter(|x| x.labels.name() == Some("up"))
        .map(|x| x.value)
        .collect();
    assert_eq!(ups, vec![0.0, 1.0]);
}
