//! Local PromQL must equal what a real Prometheus computes on the same samples.
//!
//! A scripted /metrics target (counter with a reset, a 12-bucket histogram with empty and sparse
//! buckets, an all-empty histogram, a gauge, a series that vanishes) is scraped by a real
//! Prometheus. The raw samples it stored are read back through the API, loaded into slitop's
//! store, and every expression is evaluated by both at several instants.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{FakeHttp, Prometheus, Reply};
use slitop::model::{now_ms, Labels, TimeMs};
use slitop::promql::{compile_local, EvalOptions, Value};
use slitop::store::{Store, StoreLimits};

const BOUNDS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

fn exposition(n: u64) -> String {
    let mut s = String::from("# TYPE c counter\n");
    // Counter /a grows by 7 and resets at scrape 8; /b grows by 1.
    let a = if n < 8 { 7 * n } else { 2 + 3 * (n - 8) };
    s += &format!("c_total{{path=\"/a\"}} {a}\nc_total{{path=\"/b\"}} {n}\n");
    // Histogram: one observation of ~0.3 s per scrape, two of ~3 s every third scrape.
    let slow = 2 * (n / 3);
    s += "# TYPE h histogram\n";
    for b in BOUNDS {
        let le: f64 = b.parse().unwrap();
        let count = if le >= 5.0 {
            n + slow
        } else if le >= 0.5 {
            n
        } else {
            0
        };
        s += &format!("h_bucket{{le=\"{b}\"}} {count}\n");
    }
    s += &format!(
        "h_sum {}\nh_count {}\n",
        0.3 * n as f64 + 3.0 * slow as f64,
        n + slow
    );
    s += "# TYPE e histogram\n";
    for b in BOUNDS {
        s += &format!("e_bucket{{le=\"{b}\"}} 0\n");
    }
    s += &format!(
        "# TYPE g gauge\ng{{x=\"1\"}} {}\ng{{x=\"2\"}} {}\n",
        (n % 5) as f64 * 1.5,
        10.0 - n as f64 * 0.25
    );
    if n < 5 {
        s += "gone 1\n";
    }
    s
}

async fn prom_query(url: &str, q: &str, t: TimeMs) -> serde_json::Value {
    slitop::tls::install_crypto_provider();
    let client = reqwest::Client::new();
    let time = format!("{:.3}", t as f64 / 1000.0);
    let r: serde_json::Value = client
        .get(format!("{url}/api/v1/query"))
        .query(&[("query", q), ("time", time.as_str())])
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "success", "{q}: {r}");
    r["data"].clone()
}

fn labels_of(m: &serde_json::Value) -> Labels {
    let mut l = Labels::new();
    for (k, v) in m.as_object().unwrap() {
        l.set(k, v.as_str().unwrap());
    }
    l
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

/// Prometheus's answer as (labels → value); a scalar has empty labels.
fn prom_result(data: &serde_json::Value) -> BTreeMap<Labels, f64> {
    match data["resultType"].as_str().unwrap() {
        "scalar" => BTreeMap::from([(Labels::new(), num(&data["result"][1]))]),
        "vector" => data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (labels_of(&e["metric"]), num(&e["value"][1])))
            .collect(),
        other => panic!("unexpected result type {other}"),
    }
}

fn ours(v: Value) -> BTreeMap<Labels, f64> {
    match v {
        Value::Scalar(x) => BTreeMap::from([(Labels::new(), x)]),
        Value::Vector(items) => items.into_iter().collect(),
    }
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan())
        || a == b
        || (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
        || (a - b).abs() < 1e-12
}

const EXPRS: &[&str] = &[
    "rate(c_total[5s])",
    "increase(c_total[10s])",
    "increase(c_total[30s])",
    "irate(c_total[5s])",
    "delta(g[10s])",
    "deriv(g[10s])",
    "sum by (le) (rate(h_bucket[10s]))",
    "histogram_quantile(0.95, sum by (le) (rate(h_bucket[10s])))",
    "histogram_quantile(0.5, rate(h_bucket[10s]))",
    "histogram_quantile(0.99, sum by (le) (increase(h_bucket[12s])))",
    "histogram_quantile(0.25, sum by (le, job) (rate(h_bucket[6s])))",
    "histogram_quantile(0.9, sum by (le) (rate(e_bucket[10s])))",
    "sum(rate(h_sum[10s])) / sum(rate(h_count[10s]))",
    "sum by (path) (rate(c_total[5s]))",
    "sum without (instance) (rate(c_total[5s]))",
    "rate(c_total[5s]) * 2 + 1",
    "rate(c_total[5s]) > 3",
    "rate(c_total[5s]) > bool 3",
    "3 < rate(c_total[5s])",
    "c_total >= 10",
    "clamp_min(delta(g[10s]), 0)",
    "abs(delta(g[10s]))",
    "scalar(sum(c_total))",
    "scalar(c_total)",
    "vector(1)",
    "sum(c_total) / count(c_total)",
    "max without (path) (c_total)",
    "min(g)",
    "avg by (x) (g)",
    "count(g)",
    "g - 1",
    "-g",
    "2 * 3 - 1",
    "c_total{path=~\"/a|/c\"}",
    "c_total{path!=\"/a\"}",
    "c_total{path!~\"/b\"}",
    "{__name__=~\"c_t.*\", path=\"/b\"}",
    "rate(c_total[10s]) / on (path) increase(c_total[10s])",
    "g / ignoring (x) vector(2)",
    "rate(gone[5s])",
    "c_total % 4",
    "c_total ^ 0.5",
    // Set operators: a fallback for a series one source may not have (`or`), and filters.
    "max(rate(gone[5s])) or max(rate(c_total[5s]))",
    "max(rate(c_total[5s])) or max(g)",
    "c_total or g",
    "c_total and on (path) c_total{path=\"/a\"}",
    "c_total unless c_total{path=\"/b\"}",
    "rate(c_total[5s]) and ignoring (path) vector(1)",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_promql_equals_prometheus() {
    let scrapes = Arc::new(AtomicU64::new(0));
    let s2 = scrapes.clone();
    let target = FakeHttp::start(move |req| {
        if !req.starts_with("GET /metrics") {
            return Reply::Close;
        }
        let n = s2.fetch_add(1, Ordering::SeqCst);
        Reply::ok("text/plain; version=0.0.4", exposition(n))
    });
    let prom = Prometheus::start(&[format!("127.0.0.1:{}", target.port)], "1s");
    // Wait for data (first scrape lands seconds after readiness), then for ~16 scrapes.
    let ok = common::wait_until(Duration::from_secs(60), || {
        scrapes.load(Ordering::SeqCst) >= 17
    });
    assert!(
        ok,
        "prometheus scraped only {} times",
        scrapes.load(Ordering::SeqCst)
    );
    let t_end = now_ms() - 1500;

    // Read back every raw sample Prometheus stored.
    let raw = prom_query(
        &prom.url(),
        "{__name__=~\"c_total|h_bucket|h_sum|h_count|e_bucket|g|gone\"}[2m]",
        t_end,
    )
    .await;
    let mut store = Store::new(StoreLimits::default());
    let mut n_samples = 0;
    for s in raw["result"].as_array().unwrap() {
        let l = labels_of(&s["metric"]);
        for p in s["values"].as_array().unwrap() {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as TimeMs;
            store.push(&l, t, num(&p[1]));
            n_samples += 1;
        }
    }
    assert!(n_samples > 300, "only {n_samples} samples");

    let opts = EvalOptions {
        closed_range_start: true,
        ..EvalOptions::default()
    };
    let times: Vec<TimeMs> = (0..7).map(|k| t_end - k * 1_370).collect();
    let mut compared = 0;
    let mut max_rel = 0.0f64;
    let mut nonempty = 0;
    for expr in EXPRS {
        let q = compile_local(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        for &t in &times {
            let theirs = prom_result(&prom_query(&prom.url(), expr, t).await);
            let mine = ours(
                q.eval(&store, t, &opts)
                    .unwrap_or_else(|e| panic!("{expr}: {e}")),
            );
            assert_eq!(
                mine.keys().collect::<Vec<_>>(),
                theirs.keys().collect::<Vec<_>>(),
                "label sets differ for {expr} at {t}"
            );
            for (k, a) in &mine {
                let b = theirs[k];
                assert!(
                    same(*a, b),
                    "{expr} at {t} {k}: slitop {a} vs prometheus {b}"
                );
                if a.is_finite() && b.is_finite() && *a != b {
                    max_rel = max_rel.max((a - b).abs() / a.abs().max(b.abs()));
                }
            }
            nonempty += usize::from(!mine.is_empty());
            compared += 1;
        }
    }
    // The reset must be inside the compared windows, and NaN must have been compared.
    assert!(
        nonempty > compared * 3 / 4,
        "too many empty results: {nonempty}/{compared}"
    );
    println!("compared {compared} expression×time pairs on {n_samples} samples; max relative difference {max_rel:e}");
}
