//! k6's REST API: VUs, run state and cumulative counts of one or more k6 instances (summed).
//! Counts are exported as cumulative totals so `rate()`/`increase()` give windowed figures.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use futures::future::join_all;
use serde_json::Value as Json;

use crate::model::{Labels, Sample, SourceEvent, TimeMs};
use crate::sources::http::{describe_error, install_crypto_provider};
use crate::sources::probe::ProbeItem;
use crate::sources::{Poller, SourceError};
use crate::text::clean_short;

pub const SOURCE: &str = "k6";

fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("slitop/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

pub struct K6RestPoller {
    urls: Vec<String>,
    client: reqwest::Client,
}

/// What one instance reported.
#[derive(Default, Debug)]
struct Instance {
    status: f64,
    vus: f64,
    vus_max: f64,
    running: bool,
    tainted: bool,
    reqs: f64,
    failed: f64,
    iterations: f64,
    dropped: f64,
    p95_ms: Option<f64>,
}

impl K6RestPoller {
    pub fn new(urls: Vec<String>, timeout: Duration) -> anyhow::Result<Self> {
        for u in &urls {
            reqwest::Url::parse(u)
                .map_err(|e| anyhow!("k6 url {u:?}: {e}; expected e.g. http://127.0.0.1:6565"))?;
        }
        Ok(Self {
            urls: urls
                .into_iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect(),
            client: client(timeout)?,
        })
    }

    async fn get(&self, url: &str) -> anyhow::Result<Json> {
        let r = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| anyhow!(describe_error(&e, url)))?;
        let status = r.status();
        let body = r
            .bytes()
            .await
            .map_err(|e| anyhow!(describe_error(&e, url)))?;
        if !status.is_success() {
            return Err(anyhow!(
                "{url}: HTTP {status}: {:?}",
                clean_short(&String::from_utf8_lossy(&body), 160)
            ));
        }
        serde_json::from_slice(&body).map_err(|e| {
            anyhow!(
                "{url}: not k6's JSON ({e}): {:?}",
                clean_short(&String::from_utf8_lossy(&body), 80)
            )
        })
    }

    async fn instance(&self, base: &str) -> anyhow::Result<Instance> {
        let (su, mu) = (format!("{base}/v1/status"), format!("{base}/v1/metrics"));
        let (st, me) = futures::join!(self.get(&su), self.get(&mu));
        let (st, me) = (st?, me?);
        let a = &st["data"]["attributes"];
        let num = |v: &Json| v.as_f64().unwrap_or(0.0);
        let mut i = Instance {
            status: num(&a["status"]),
            vus: num(&a["vus"]),
            vus_max: num(&a["vus-max"]),
            running: a["running"].as_bool().unwrap_or(false),
            tainted: a["tainted"].as_bool().unwrap_or(false),
            ..Default::default()
        };
        let mut failed_rate = None;
        for m in me["data"].as_array().into_iter().flatten() {
            let s = &m["attributes"]["sample"];
            match m["id"].as_str().unwrap_or("") {
                "http_reqs" => i.reqs = num(&s["count"]),
                "iterations" => i.iterations = num(&s["count"]),
                "dropped_iterations" => i.dropped = num(&s["count"]),
                "http_req_failed" => failed_rate = s["rate"].as_f64(),
                "http_req_duration" => i.p95_ms = s["p(95)"].as_f64(),
                _ => {}
            }
        }
        // REST gives only the failed share since the start: the count is share × requests.
        i.failed = (failed_rate.unwrap_or(0.0) * i.reqs).round();
        Ok(i)
    }
}

impl Poller for K6RestPoller {
    async fn poll(&mut self, now: TimeMs) -> anyhow::Result<Vec<SourceEvent>> {
        let results = join_all(self.urls.iter().map(|u| self.instance(u))).await;
        let mut events = Vec::new();
        let mut ok = Vec::new();
        let mut errors = Vec::new();
        for (u, r) in self.urls.iter().zip(results) {
            match r {
                Ok(i) => ok.push((u, i)),
                Err(e) => errors.push((u, e)),
            }
        }
        if ok.is_empty() {
            let (_, e) = errors.swap_remove(0);
            return Err(e);
        }
        for (u, e) in errors {
            events.push(SourceEvent::QueryError {
                source: SOURCE.into(),
                signal: format!("instance {u}"),
                error: format!("{e:#}"),
            });
        }
        let sum = |f: fn(&Instance) -> f64| ok.iter().map(|(_, i)| f(i)).sum::<f64>();
        let mut s = vec![
            Sample::new(Labels::named("k6_vus"), now, sum(|i| i.vus)),
            Sample::new(Labels::named("k6_vus_max"), now, sum(|i| i.vus_max)),
            Sample::new(
                Labels::named("k6_running"),
                now,
                sum(|i| f64::from(u8::from(i.running))),
            ),
            Sample::new(
                Labels::named("k6_tainted"),
                now,
                f64::from(u8::from(ok.iter().any(|(_, i)| i.tainted))),
            ),
            Sample::new(Labels::named("k6_http_reqs_total"), now, sum(|i| i.reqs)),
            Sample::new(
                Labels::named("k6_http_req_failed_total"),
                now,
                sum(|i| i.failed),
            ),
            Sample::new(
                Labels::named("k6_iterations_total"),
                now,
                sum(|i| i.iterations),
            ),
            Sample::new(
                Labels::named("k6_dropped_iterations_total"),
                now,
                sum(|i| i.dropped),
            ),
            Sample::new(Labels::named("k6_instances_up"), now, ok.len() as f64),
        ];
        // Percentiles cannot be summed: the worst instance's p95 (cumulative since start).
        if let Some(p) = ok.iter().filter_map(|(_, i)| i.p95_ms).reduce(f64::max) {
            s.push(Sample::new(
                Labels::named("k6_http_req_duration_p95_seconds"),
                now,
                p / 1000.0,
            ));
        }
        for (u, i) in &ok {
            s.push(Sample::new(
                Labels::named(crate::model::series::K6_STATUS).with("instance", u),
                now,
                i.status,
            ));
        }
        events.push(SourceEvent::Samples {
            source: SOURCE.into(),
            samples: s,
        });
        Ok(events)
    }
}

/// Stops a running test (`PATCH /v1/status` with `stopped: true`). Ok carries k6's new state;
/// Err carries k6's own refusal text or the connection error.
pub async fn stop_test(url: &str, timeout: Duration) -> Result<String, SourceError> {
    let base = url.trim_end_matches('/');
    let url = format!("{base}/v1/status");
    let c = client(timeout).map_err(|e| SourceError::Request(e.to_string()))?;
    let body = serde_json::json!({"data": {"type": "status", "id": "default", "attributes": {"stopped": true}}});
    let r = c
        .patch(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| SourceError::Request(describe_error(&e, &url)))?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    let json: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
    if status.is_success() {
        let a = &json["data"]["attributes"];
        return Ok(format!(
            "k6 at {base} stopped (status {}, stopped {})",
            a["status"],
            a["stopped"].as_bool().unwrap_or(true)
        ));
    }
    let detail: Vec<String> = json["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let t = e["title"].as_str().unwrap_or("");
            let d = e["detail"].as_str().unwrap_or("");
            clean_short(
                &format!(
                    "{t}{}{d}",
                    if t.is_empty() || d.is_empty() {
                        ""
                    } else {
                        ": "
                    }
                ),
                300,
            )
        })
        .collect();
    Err(SourceError::Refused(if detail.is_empty() {
        format!(
            "k6 at {base} refused: HTTP {status}: {}",
            clean_short(&text, 200)
        )
    } else {
        format!("k6 at {base} refused: {}", detail.join("; "))
    }))
}

/// `slitop check`: one k6 REST API.
pub async fn probe(url: &str, timeout: Duration) -> ProbeItem {
    let what = format!("k6 {url}");
    let p = match K6RestPoller::new(vec![url.to_string()], timeout) {
        Ok(p) => p,
        Err(e) => return ProbeItem::fail(what, format!("{e:#}")),
    };
    let started = Instant::now();
    match p.instance(&p.urls[0]).await {
        Ok(i) => ProbeItem::ok(
            what,
            started.elapsed(),
            format!(
                "status {}, running {}, {} VUs, {} requests so far",
                i.status, i.running, i.vus, i.reqs
            ),
        ),
        Err(e) => ProbeItem::fail(
            what,
            format!("{e:#} — k6 2.x serves its REST API only when started with --address"),
        ),
    }
}

pub const KIND: crate::sources::SourceKind = crate::sources::SourceKind {
    name: SOURCE,
    flags: "--k6 URL",
    endpoints: |cfg| {
        crate::sources::joined(cfg.k6.as_ref().map(|k| k.urls.as_slice()).unwrap_or(&[]))
    },
    start: |a| {
        let urls = a
            .cfg
            .k6
            .as_ref()
            .map(|k| k.urls.clone())
            .unwrap_or_default();
        let poller = anyhow::Context::context(K6RestPoller::new(urls, a.cfg.timeout()), "k6")?;
        let settings = crate::sources::PollSettings::of(a.cfg, SOURCE);
        Ok(Box::pin(crate::sources::run_poller(
            poller, settings, a.tx, a.cancel,
        )))
    },
    probe: |cfg, _, timeout| {
        Box::pin(async move {
            let mut items = Vec::new();
            for url in cfg.k6.iter().flat_map(|k| &k.urls) {
                items.push(probe(url, timeout).await);
            }
            crate::sources::Probe::all_required(items)
        })
    },
};
