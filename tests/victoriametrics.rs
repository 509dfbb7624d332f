//! The Prometheus source against a real VictoriaMetrics: the same signals as from a real
//! Prometheus holding the same samples, equal within 1e-6 where the engines agree.
//!
//! How both get identical samples: one timestamped sample set (counters with a reset and a
//! quadratic growth, a histogram, an all-empty histogram, a gauge, a sparse counter) is rendered
//! twice — as OpenMetrics for Prometheus' own TSDB back-fill (`promtool tsdb create-blocks-from
//! openmetrics`) and as exposition text with millisecond timestamps for VictoriaMetrics'
//! `/api/v1/import/prometheus`. Nothing is scraped, so neither engine sees a sample the other
//! does not. slitop's `PrometheusPoller` then evaluates each signal at fixed past instants
//! against both servers.
//!
//! Where MetricsQL differs on purpose, the case is listed in `DIFFERENCES` with the reason and
//! the test checks that the two answers really do differ (so the list in the README stays true).
//! Lookback (staleness) is checked to agree on this regular grid.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Prometheus, VictoriaMetrics};
use slitop::model::{RemoteQuery, SourceEvent, TimeMs};
use slitop::settings::PrometheusConfig;
use slitop::sources::prometheus::PrometheusPoller;
use slitop::sources::Poller;

const STEP_S: i64 = 15;
const STEPS: i64 = 80;
const BOUNDS: [&str; 4] = ["0.1", "0.5", "1", "+Inf"];

/// One metric family: its OpenMetrics type and its samples (name, labels, value) per step.
struct Family {
    name: &'static str,
    kind: &'static str,
    samples: fn(i64) -> Vec<(String, f64)>,
}

fn families() -> Vec<Family> {
    vec![
        Family {
            name: "c",
            kind: "counter",
            // /a grows linearly; /b quadratically, resetting at step 50.
            samples: |i| {
                let b = if i < 50 { i * i } else { 3 * (i - 50) };
                vec![
                    ("c_total{path=\"/a\"}".into(), (7 * i) as f64),
                    ("c_total{path=\"/b\"}".into(), b as f64),
                ]
            },
        },
        Family {
            name: "h",
            kind: "histogram",
            samples: |i| {
                let mut v: Vec<(String, f64)> = BOUNDS
                    .iter()
                    .zip([1, 3, 4, 5])
                    .map(|(le, k)| (format!("h_bucket{{le=\"{le}\"}}"), (k * i) as f64))
                    .collect();
                v.push(("h_count".into(), (5 * i) as f64));
                v.push(("h_sum".into(), 1.7 * i as f64));
                v
            },
        },
        Family {
            name: "e",
            kind: "histogram",
            samples: |_| {
                let mut v: Vec<(String, f64)> = BOUNDS
                    .iter()
                    .map(|le| (format!("e_bucket{{le=\"{le}\"}}"), 0.0))
                    .collect();
                v.push(("e_count".into(), 0.0));
                v.push(("e_sum".into(), 0.0));
                v
            },
        },
        Family {
            name: "g",
            kind: "gauge",
            samples: |i| vec![("g".into(), 1.5 * (i % 5) as f64)],
        },
        Family {
            name: "sparse",
            kind: "counter",
            // Sampled every 90 s only: a 1m window holds at most one sample.
            samples: |i| {
                if i % 6 == 0 {
                    vec![("sparse_total".into(), i as f64)]
                } else {
                    vec![]
                }
            },
        },
    ]
}

/// The sample set as OpenMetrics (seconds) and as exposition text for import (milliseconds).
fn render(base_s: i64) -> (String, String) {
    let (mut om, mut text) = (String::new(), String::new());
    for f in families() {
        om += &format!("# TYPE {} {}\n", f.name, f.kind);
        for i in 0..STEPS {
            let t = base_s + STEP_S * i;
            for (series, v) in (f.samples)(i) {
                om += &format!("{series} {v} {t}\n");
                text += &format!("{series} {v} {}\n", t * 1000);
            }
        }
    }
    om += "# EOF\n";
    (om, text)
}

/// Signals both engines answer alike on these samples, evaluated at sample instants.
const AGREE: &[(&str, &str)] = &[
    ("rate_by_path", "sum by (path) (rate(c_total[1m]))"),
    ("increase_2m", "increase(c_total[2m])"),
    (
        "p95",
        "histogram_quantile(0.95, sum by (le) (rate(h_bucket[1m])))",
    ),
    (
        "p50_5m",
        "histogram_quantile(0.5, sum by (le) (rate(h_bucket[5m])))",
    ),
    ("total", "sum(c_total)"),
    ("gauge_max", "max(g)"),
    (
        "mean_latency",
        "sum(rate(h_sum[1m])) / sum(rate(h_count[1m]))",
    ),
];

/// Where MetricsQL answers differently by design: (signal, query, step, offset in seconds from
/// that step's sample instant, reason).
const DIFFERENCES: &[(&str, &str, i64, i64, &str)] = &[
    (
        "increase_unaligned",
        "increase(c_total{path=\"/b\"}[1m])",
        43,
        7,
        "Prometheus extrapolates increase/rate to the window's edges; MetricsQL takes the exact \
         difference from the last sample before the window",
    ),
    (
        "rate_one_sample",
        "rate(sparse_total[1m])",
        43,
        0,
        "a window holding one sample: Prometheus has no rate; MetricsQL uses the sample before \
         the window",
    ),
    (
        "quantile_of_empty_histogram",
        "histogram_quantile(0.95, sum by (le) (rate(e_bucket[1m])))",
        43,
        0,
        "buckets that saw nothing: Prometheus answers NaN; MetricsQL drops the series",
    ),
];

type Answer = BTreeMap<String, f64>;

async fn evaluate(url: &str, queries: &[(&str, &str)], t: TimeMs) -> BTreeMap<String, Answer> {
    let cfg = PrometheusConfig {
        url: url.to_string(),
        auth: Default::default(),
    };
    let queries = queries
        .iter()
        .map(|(signal, query)| RemoteQuery {
            signal: signal.to_string(),
            query: query.to_string(),
            fit: false,
        })
        .collect();
    let mut p = PrometheusPoller::new(&cfg, queries, Duration::from_secs(5), None).unwrap();
    let mut out = BTreeMap::new();
    for ev in p.poll(t).await.unwrap_or_else(|e| panic!("{url}: {e:#}")) {
        match ev {
            SourceEvent::SignalValues { signal, points, .. } => {
                let answer: Answer = points
                    .iter()
                    .map(|p| (p.labels.to_string(), p.value))
                    .collect();
                out.insert(signal, answer);
            }
            SourceEvent::QueryError { signal, error, .. } => {
                panic!("{url}: signal {signal:?} failed: {error}")
            }
            _ => {}
        }
    }
    out
}

fn same(a: &Answer, b: &Answer) -> bool {
    a.len() == b.len()
        && a.iter().all(|(k, x)| {
            b.get(k)
                .is_some_and(|y| (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-6)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoriametrics_gives_the_signals_prometheus_gives_on_the_same_samples() {
    // Half an hour back, on a 15 s grid: old enough that no engine treats it as "still arriving".
    let now_s = slitop::model::now_ms() / 1000;
    let base_s = (now_s / STEP_S) * STEP_S - 1800;
    let (om, text) = render(base_s);

    let prom = Prometheus::start_from_openmetrics(&om);
    let vm = VictoriaMetrics::start();
    slitop::tls::install_crypto_provider();
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/api/v1/import/prometheus", vm.url()))
        .body(text)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "import: {}", r.status());
    let r = client
        .get(format!("{}/internal/force_flush", vm.url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "flush: {}", r.status());

    // Instants: before the reset, with the reset inside the windows, and after it.
    let at = |step: i64, off: i64| ((base_s + STEP_S * step + off) * 1000) as TimeMs;
    let mut compared = 0;
    for step in [20, 51, 70] {
        let t = at(step, 0);
        let p = evaluate(&prom.url(), AGREE, t).await;
        let v = evaluate(&vm.url(), AGREE, t).await;
        for (signal, _) in AGREE {
            let (a, b) = (&p[*signal], &v[*signal]);
            assert!(
                !a.is_empty(),
                "{signal} at step {step}: Prometheus gave nothing"
            );
            assert!(
                same(a, b),
                "{signal} at step {step}: Prometheus {a:?} vs VictoriaMetrics {b:?}"
            );
            compared += a.len();
        }
    }
    assert!(compared >= 3 * AGREE.len());

    // Lookback on this 15 s grid: both hold a gauge's last sample for 4 minutes after the data
    // ends, and neither past Prometheus' 5 minutes.
    let gauge = [("gauge_max", "max(g)")];
    for (off, kept) in [(240, true), (330, false)] {
        let t = at(STEPS - 1, off);
        let p = evaluate(&prom.url(), &gauge, t).await;
        let v = evaluate(&vm.url(), &gauge, t).await;
        let (a, b) = (&p["gauge_max"], &v["gauge_max"]);
        assert_eq!(
            !a.is_empty(),
            kept,
            "Prometheus {off} s after the end: {a:?}"
        );
        assert!(
            same(a, b),
            "{off} s after the end: Prometheus {a:?} vs VictoriaMetrics {b:?}"
        );
    }

    for (signal, query, step, off, reason) in DIFFERENCES {
        let t = at(*step, *off);
        let p = evaluate(&prom.url(), &[(signal, query)], t).await;
        let v = evaluate(&vm.url(), &[(signal, query)], t).await;
        let (a, b) = (&p[*signal], &v[*signal]);
        assert!(
            !same(a, b),
            "{signal} ({reason}) no longer differs: both gave {a:?}"
        );
    }
}
