//! The direct-scrape source: target labels, `up`, staleness, size cap, bad input and bad lines.

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
            // Nothing in the body parses as a sample: the target fails as a whole.
            Reply::ok(
                "text/plain",
                "# TYPE broken_metric gauge\nbroken_metric{a=\"1\" 2\n",
            ),
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

fn warnings(evs: &[SourceEvent]) -> Vec<(String, String, Vec<String>)> {
    evs.iter()
        .filter_map(|e| match e {
            SourceEvent::QueryWarnings {
                source,
                signal,
                warnings,
            } => Some((source.clone(), signal.clone(), warnings.clone())),
            _ => None,
        })
        .collect()
}

fn value_of(s: &[Sample], name: &str) -> Option<f64> {
    s.iter()
        .find(|x| x.labels.name() == Some(name))
        .map(|x| x.value)
}

#[tokio::test]
async fn one_bad_line_is_skipped_counted_and_warned_and_the_target_stays_up() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let srv = FakeHttp::start(move |_| {
        let body = if c2.fetch_add(1, Ordering::Relaxed) < 2 {
            concat!(
                "# TYPE reqs counter\n",
                "reqs_total{path=\"/a\\z\"} 5\n",
                "reqs_total{path=\"/b\" 6\n",
                "lat 0.25\n",
            )
        } else {
            "reqs_total{path=\"/a\\z\"} 7\nlat 0.5\n"
        };
        Reply::ok("text/plain; version=0.0.4", body)
    });
    let url = srv.url("/metrics");
    let mut p = ScrapePoller::new(cfg(vec![url.clone()]), Duration::from_secs(2)).unwrap();

    let first = p.poll(now_ms()).await.unwrap();
    let s = samples(&first);
    assert_eq!(value_of(&s, "up"), Some(1.0));
    let reqs = s
        .iter()
        .find(|x| x.labels.name() == Some("reqs_total"))
        .unwrap();
    assert_eq!(
        reqs.labels.get("path"),
        Some("/a\\z"),
        "unknown escape kept"
    );
    assert_eq!(
        value_of(&s, "lat"),
        Some(0.25),
        "lines after the bad one kept"
    );
    let skipped = s
        .iter()
        .find(|x| x.labels.name() == Some("scrape_lines_skipped"))
        .unwrap();
    assert_eq!(skipped.value, 1.0);
    assert_eq!(skipped.labels.get("job"), Some("scrape"));
    let inst = format!("127.0.0.1:{}", srv.port);
    assert_eq!(skipped.labels.get("instance"), Some(inst.as_str()));
    assert!(
        !first
            .iter()
            .any(|e| matches!(e, SourceEvent::QueryError { .. })),
        "{first:?}"
    );
    let w = warnings(&first);
    assert_eq!(w.len(), 1, "{w:?}");
    let (source, signal, texts) = &w[0];
    assert_eq!((source.as_str(), signal), ("scrape", &url));
    assert!(
        texts[0].starts_with("1 line skipped; first: line 3, column 22: expected ',' or '}'"),
        "{texts:?}"
    );

    // The same bad line again: still counted, not warned again.
    let second = p.poll(now_ms()).await.unwrap();
    assert_eq!(
        value_of(&samples(&second), "scrape_lines_skipped"),
        Some(1.0)
    );
    assert!(warnings(&second).is_empty(), "{second:?}");

    // Fixed: the count drops to zero and nothing is warned.
    let third = p.poll(now_ms()).await.unwrap();
    let s = samples(&third);
    assert_eq!(value_of(&s, "scrape_lines_skipped"), Some(0.0));
    assert_eq!(value_of(&s, "reqs_total"), Some(7.0));
    assert!(warnings(&third).is_empty(), "{third:?}");
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_and_gets_no_headers() {
    // The other host: reached as `localhost`, which is not the host the scrape was given.
    let other = FakeHttp::start(|_| Reply::ok("text/plain; version=0.0.4", "stolen 1\n"));
    let to = format!("http://localhost:{}/metrics", other.port);
    let srv = FakeHttp::start(move |_| Reply::Redirect(to.clone()));
    let mut c = cfg(vec![srv.url("/metrics")]);
    c.auth
        .headers
        .insert("X-Api-Key".into(), "key-for-the-scrape-host".into());
    let mut p = ScrapePoller::new(c, Duration::from_secs(2)).unwrap();
    let err = p.poll(now_ms()).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("redirect to http://localhost") && text.contains("refused"),
        "{text}"
    );
    assert!(
        other.requests.lock().unwrap().is_empty(),
        "followed: {text}"
    );
    assert_eq!(srv.requests.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_redirect_on_the_same_host_is_followed() {
    let srv = FakeHttp::start(|req| {
        if req.starts_with("GET /old") {
            Reply::Redirect("/metrics".into())
        } else {
            Reply::ok("text/plain; version=0.0.4", "moved 1\n")
        }
    });
    let mut p = ScrapePoller::new(cfg(vec![srv.url("/old")]), Duration::from_secs(2)).unwrap();
    let s = samples(&p.poll(now_ms()).await.unwrap());
    assert!(s.iter().any(|x| x.labels.name() == Some("moved")), "{s:?}");
}

#[tokio::test]
async fn a_timestamp_far_in_the_future_is_left_out_and_does_not_block_its_series() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let srv = FakeHttp::start(move |_| {
        let body = match c2.fetch_add(1, Ordering::Relaxed) {
            // Year 2286: a clock gone wrong, or a hostile target.
            0 => "jobs_total 1 9999999999999\n".to_string(),
            _ => "jobs_total 2\n".to_string(),
        };
        Reply::ok("text/plain; version=0.0.4", body)
    });
    let mut p = ScrapePoller::new(cfg(vec![srv.url("/metrics")]), Duration::from_secs(2)).unwrap();
    let mut store = slitop::store::Store::new(Default::default());
    let first = p.poll(now_ms()).await.unwrap();
    store.push_samples(&samples(&first));
    assert_eq!(value_of(&samples(&first), "jobs_total"), None);
    let w = warnings(&first);
    assert!(
        w.iter()
            .any(|(_, _, t)| t[0].contains("ahead of this machine's clock")),
        "{w:?}"
    );
    let now = now_ms();
    store.push_samples(&samples(&p.poll(now).await.unwrap()));
    let (_, series) = store
        .family("jobs_total")
        .next()
        .expect("the series is there");
    // Stamped when the answer began: at or just after the poll.
    let (t, v) = series.last().unwrap();
    assert_eq!(v, 2.0);
    assert!((now..now + 2_000).contains(&t), "{t} vs {now}");
}

/// A target that answers late (a service busy under load) has its samples stamped when the
/// answer began, not when it was asked for: its counters are as of then, and stamped at the
/// question each interval's count would be divided by a span shorter than its own.
#[tokio::test]
async fn a_late_answer_is_stamped_when_it_began() {
    let srv = FakeHttp::start(|_| {
        std::thread::sleep(Duration::from_millis(400));
        Reply::ok("text/plain; version=0.0.4", "# TYPE a counter\na_total 1\n")
    });
    let mut p = ScrapePoller::new(cfg(vec![srv.url("/metrics")]), Duration::from_secs(2)).unwrap();
    let asked = now_ms();
    let got = samples(&p.poll(asked).await.unwrap());
    let a = got
        .iter()
        .find(|s| s.labels.name() == Some("a_total"))
        .unwrap();
    assert!(
        (asked + 400..asked + 1_500).contains(&a.t),
        "stamped {} ms after it was asked for",
        a.t - asked
    );
}
