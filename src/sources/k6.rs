//! k6's REST API: VUs, run state and cumulative counts of one or more k6 instances (summed).
//! Counts are exported as cumulative totals so `rate()`/`increase()` give windowed figures.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use futures::future::join_all;
use serde_json::Value as Json;

use crate::model::{Labels, Sample, SourceEvent, TimeMs};
use crate::sources::http::{describe_error, install_crypto_provider};
use crate::sources::k6_cycle::{Totals, TotalsWindow};
use crate::sources::probe::ProbeItem;
use crate::sources::{Poller, SourceError};
use crate::text::clean_short;

pub const SOURCE: &str = "k6";
/// The most bytes one reply of k6's REST API may hold (its status and metrics are a few KiB).
const REPLY_CAP: u64 = 4 << 20;

fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    Ok(reqwest::Client::builder()
        .redirect(crate::secret::redirect_policy())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("slitop/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

pub struct K6RestPoller {
    urls: Vec<String>,
    client: reqwest::Client,
    /// Per URL, what it said and how it last failed: tells an ended run from a broken one.
    seen: Vec<Seen>,
    /// The requests' and iterations' running totals over the client window: their means
    /// there (k6's own are since the start).
    cycle: TotalsWindow,
}

/// k6's execution status: the run has started (setup, running, teardown follow).
const STATUS_STARTED: i64 = 5;
/// k6's execution status: the run ended by itself, or was stopped or aborted.
pub const STATUS_ENDED: i64 = 9;
const STATUS_INTERRUPTED: i64 = 10;

/// How a request to k6's API failed, as far as telling the end of a run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// Nothing listens any more: k6 exits at the end of its run.
    Refused,
    /// The connection was closed or reset under the request. k6 exiting while it answered
    /// does this, but so does anything between slitop and a k6 that still runs; `ask_all`
    /// tells them apart by connecting again, and stores `Refused` for the first.
    Closed,
    /// Anything else (timeout, HTTP error, not k6's JSON).
    Other,
}

/// A request failure that carries its `Failure` through `anyhow`.
#[derive(Debug)]
struct Unreachable {
    failure: Failure,
    text: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Unreachable {}

impl Failure {
    /// Reads the failure from the error's causes: the OS error kind where there is one.
    fn of_request(e: &reqwest::Error) -> Failure {
        use std::io::ErrorKind as K;
        if e.is_timeout() {
            return Failure::Other;
        }
        let mut src: Option<&dyn std::error::Error> = Some(e);
        while let Some(c) = src {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    K::ConnectionRefused => return Failure::Refused,
                    K::ConnectionReset
                    | K::ConnectionAborted
                    | K::BrokenPipe
                    | K::UnexpectedEof => return Failure::Closed,
                    _ => {}
                }
            }
            let text = c.to_string().to_lowercase();
            if text.contains("connection refused") {
                return Failure::Refused;
            }
            if text.contains("connection closed before message completed") {
                return Failure::Closed;
            }
            src = c.source();
        }
        Failure::Other
    }

    fn of(e: &anyhow::Error) -> Failure {
        e.downcast_ref::<Unreachable>()
            .map_or(Failure::Other, |u| u.failure)
    }
}

/// What the poller remembers of one k6 instance.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Seen {
    /// The status of its last answer.
    status: Option<i64>,
    /// It was seen with its run started.
    ran: bool,
    /// How its last poll failed; None when it answered or the poll was cut off (timeout).
    failed: Option<Failure>,
}

impl Seen {
    fn answered(&mut self, status: i64, running: bool) {
        self.status = Some(status);
        self.ran |= running || status >= STATUS_STARTED;
        self.failed = None;
    }

    /// Its run is over: the last status said ended or interrupted (then any failure is the
    /// exit), or it was seen running and its API is gone now (a reply cut off by an API that
    /// still listens is a fault on the way, not the end).
    fn ended(&self) -> bool {
        matches!(self.status, Some(STATUS_ENDED | STATUS_INTERRUPTED))
            || (self.ran && self.failed == Some(Failure::Refused))
    }
}

/// Whether something still accepts connections where the API at `base` was: after a reply
/// was cut off, a refusal says k6 has exited.
async fn listening(base: &str) -> bool {
    let Some((host, port)) = reqwest::Url::parse(base)
        .ok()
        .and_then(|u| Some((u.host_str()?.to_string(), u.port_or_known_default()?)))
    else {
        return false;
    };
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    matches!(
        tokio::time::timeout(Duration::from_millis(500), connect).await,
        Ok(Ok(_))
    )
}

/// A failed poll means the test is finished when every instance's run is over.
fn all_ended(seen: &[Seen]) -> bool {
    !seen.is_empty() && seen.iter().all(Seen::ended)
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
    /// Mean request and mean iteration since the start (ms), where k6 reports them.
    request_mean_ms: Option<f64>,
    iteration_mean_ms: Option<f64>,
}

impl Instance {
    /// Its running totals, where it reports both means.
    fn totals(&self) -> Option<Totals> {
        Some(Totals {
            requests: self.reqs,
            request_ms: self.request_mean_ms? * self.reqs,
            iterations: self.iterations,
            iteration_ms: self.iteration_mean_ms? * self.iterations,
        })
    }
}

impl K6RestPoller {
    pub fn new(urls: Vec<String>, timeout: Duration) -> anyhow::Result<Self> {
        for u in &urls {
            reqwest::Url::parse(u)
                .map_err(|e| anyhow!("k6 url {u:?}: {e}; expected e.g. http://127.0.0.1:6565"))?;
        }
        Ok(Self {
            seen: vec![Seen::default(); urls.len()],
            urls: urls
                .into_iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect(),
            client: client(timeout)?,
            cycle: TotalsWindow::new(crate::settings::K6Config::default().window),
        })
    }

    /// Means over `window` (the client window of the JSON output's figures).
    pub fn with_window(mut self, window: Duration) -> Self {
        self.cycle = TotalsWindow::new(window);
        self
    }

    async fn get(&self, url: &str) -> anyhow::Result<Json> {
        let unreachable = |e: reqwest::Error| {
            anyhow::Error::new(Unreachable {
                failure: Failure::of_request(&e),
                text: describe_error(&e, url),
            })
        };
        let mut r = self.client.get(url).send().await.map_err(unreachable)?;
        let status = r.status();
        let too_big = || {
            anyhow!(
                "{url}: reply refused: larger than the {} MiB k6's API answers in",
                REPLY_CAP >> 20
            )
        };
        if r.content_length().is_some_and(|l| l > REPLY_CAP) {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(unreachable)? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > REPLY_CAP {
                return Err(too_big());
            }
        }
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
                "http_req_duration" => {
                    i.p95_ms = s["p(95)"].as_f64();
                    i.request_mean_ms = s["avg"].as_f64();
                }
                "iteration_duration" => i.iteration_mean_ms = s["avg"].as_f64(),
                _ => {}
            }
        }
        // REST gives only the failed share since the start: the count is share × requests.
        i.failed = (failed_rate.unwrap_or(0.0) * i.reqs).round();
        Ok(i)
    }
}

impl K6RestPoller {
    /// The mean request and the VUs' think time over the client window, from the running
    /// totals of every instance (`k6_api_duration_mean_seconds`, `k6_api_think_seconds`): the
    /// client's latency and cycle where k6's JSON output is not read. A poll that did not hear
    /// every instance, or one without both means, starts the window over.
    fn cycle_samples(&mut self, ok: &[(String, Instance)], all: bool, now: TimeMs) -> Vec<Sample> {
        let totals = ok.iter().map(|(_, i)| i.totals()).sum::<Option<Totals>>();
        match totals.filter(|_| all) {
            Some(t) => self.cycle.push(now, t),
            None => self.cycle.clear(),
        }
        let vus = ok.iter().map(|(_, i)| i.vus).sum::<f64>();
        let (mean, think) = self.cycle.means(vus);
        [
            ("k6_api_duration_mean_seconds", mean),
            // The detector's: the window's mean is that of half a window ago.
            (
                "k6_api_recent_duration_mean_seconds",
                self.cycle.recent_mean(),
            ),
            ("k6_api_think_seconds", think),
        ]
        .into_iter()
        .filter_map(|(name, v)| Some(Sample::new(Labels::named(name), now, v?)))
        .collect()
    }
}

/// The instances that answered a poll, and those that failed with their errors.
type Answers = (Vec<(String, Instance)>, Vec<(String, anyhow::Error)>);

impl K6RestPoller {
    /// Asks every instance, remembering what each said or how it failed.
    async fn ask_all(&mut self) -> Answers {
        for s in &mut self.seen {
            s.failed = None;
        }
        let results = join_all(self.urls.iter().map(|u| self.instance(u))).await;
        let (mut ok, mut errors) = (Vec::new(), Vec::new());
        for ((u, r), seen) in self.urls.iter().zip(results).zip(&mut self.seen) {
            match r {
                Ok(i) => {
                    seen.answered(i.status as i64, i.running);
                    ok.push((u.clone(), i));
                }
                Err(e) => {
                    seen.failed = Some(match Failure::of(&e) {
                        Failure::Closed if !listening(u).await => Failure::Refused,
                        f => f,
                    });
                    errors.push((u.clone(), e));
                }
            }
        }
        (ok, errors)
    }
}

impl Poller for K6RestPoller {
    async fn poll(&mut self, now: TimeMs) -> anyhow::Result<Vec<SourceEvent>> {
        let (ok, mut errors) = self.ask_all().await;
        let heard_all = errors.is_empty();
        let mut events = Vec::new();
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
        s.extend(self.cycle_samples(&ok, heard_all, now));
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

    /// k6 exits at the end of its run, so its API going away after the run is the end.
    fn finished(&self) -> bool {
        all_ended(&self.seen)
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
        let window = a.cfg.k6.as_ref().map(|k| k.window).unwrap_or_default();
        let poller = anyhow::Context::context(K6RestPoller::new(urls, a.cfg.timeout()), "k6")?
            .with_window(window);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: i64, running: bool) -> Seen {
        let mut s = Seen::default();
        s.answered(status, running);
        s
    }

    fn failed(mut s: Seen, f: Option<Failure>) -> Seen {
        s.failed = f;
        s
    }

    #[test]
    fn after_ended_or_interrupted_any_failure_is_the_end() {
        for status in [STATUS_ENDED, STATUS_INTERRUPTED] {
            for f in [
                Some(Failure::Refused),
                Some(Failure::Closed),
                Some(Failure::Other),
                None,
            ] {
                assert!(
                    all_ended(&[failed(answered(status, false), f)]),
                    "{status} {f:?}"
                );
            }
        }
    }

    #[test]
    fn a_run_seen_going_whose_api_is_gone_has_ended() {
        let running = answered(7, true);
        assert!(all_ended(&[failed(running, Some(Failure::Refused))]));
        // Setup and teardown are part of the run; `running` alone also counts.
        assert!(all_ended(&[failed(
            answered(6, false),
            Some(Failure::Refused)
        )]));
        assert!(all_ended(&[failed(
            answered(8, false),
            Some(Failure::Refused)
        )]));
        assert!(all_ended(&[failed(
            answered(0, true),
            Some(Failure::Refused)
        )]));
    }

    #[test]
    fn a_timeout_or_an_error_reply_while_running_is_down() {
        let running = answered(7, true);
        assert!(!all_ended(&[failed(running, Some(Failure::Other))]));
        assert!(!all_ended(&[failed(running, None)]));
        // A reply cut off while the API still listens (a proxy or the network reset it).
        assert!(!all_ended(&[failed(running, Some(Failure::Closed))]));
    }

    #[test]
    fn a_k6_never_seen_running_is_down_not_finished() {
        assert!(!all_ended(&[failed(
            Seen::default(),
            Some(Failure::Refused)
        )]));
        // Still initialising when it went away: a crash, not the end of a run.
        assert!(!all_ended(&[failed(
            answered(3, false),
            Some(Failure::Refused)
        )]));
        assert!(!all_ended(&[]));
    }

    #[test]
    fn every_instance_must_have_ended() {
        let done = failed(answered(7, true), Some(Failure::Refused));
        let stuck = failed(answered(7, true), Some(Failure::Other));
        assert!(all_ended(&[done, done]));
        assert!(!all_ended(&[done, stuck]));
    }

    #[test]
    fn an_answer_clears_the_last_failure() {
        let mut s = failed(answered(7, true), Some(Failure::Refused));
        s.answered(7, true);
        assert_eq!(s.failed, None);
        assert!(!s.ended());
    }

    #[tokio::test]
    async fn a_refused_connection_ends_a_run_only_after_k6_was_seen_running() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut p = K6RestPoller::new(
            vec![format!("http://127.0.0.1:{port}")],
            Duration::from_secs(2),
        )
        .unwrap();
        let e = p.poll(0).await.unwrap_err();
        assert!(format!("{e:#}").contains("refused"), "{e:#}");
        assert_eq!(p.seen[0].failed, Some(Failure::Refused));
        assert!(!p.finished(), "never seen running: down");
        p.seen[0].answered(7, true);
        p.poll(0).await.unwrap_err();
        assert!(p.finished());
    }
}
