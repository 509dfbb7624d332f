//! The HTTP gateway: `POST /pexec` enqueues a job and holds the connection until a worker's
//! reply arrives or the hold timeout fires — then it drops the TCP connection without a
//! response, as a load balancer's idle timeout does, so clients see EOF with no status.
//! `POST /hop` enqueues and answers 202 at once.
//!
//! Variants for benchmarks (see `GatewayOptions`): whether a dropped request is counted as a
//! 504 in the HTTP metrics, and an access log.
//!
//! Under overload it keeps serving: a failed accept (out of file descriptors) is counted and
//! retried, and a request whose client left is forgotten at once (`gateway_waiters` returns to
//! 0), whether or not a worker ever replies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use redis::aio::ConnectionManager;
use serde_json::json;
use tokio::sync::{oneshot, Notify};

use crate::access_log::{self, AccessLog, Outcome};
use crate::metrics_setup as m;
use crate::{now_ms, now_ns, reply_channel};

/// How the gateway behaves where real services differ.
#[derive(Clone)]
pub struct GatewayOptions {
    /// Count a request dropped on the hold timeout as a 504 in `axum_http_requests_total`
    /// and its duration histogram (by default a dropped request is in neither).
    pub count_drops: bool,
    /// One JSON line per request: the benchmarks' ground truth.
    pub access_log: Option<AccessLog>,
}

/// The status a dropped request is counted with when `count_drops` is on.
pub const DROP_STATUS: u16 = 504;

pub struct Gateway {
    pub valkey: ConnectionManager,
    pub client: redis::Client,
    pub stream: String,
    pub hold: Duration,
    pub id: String,
    opts: GatewayOptions,
    waiters: Mutex<HashMap<String, oneshot::Sender<()>>>,
    seq: AtomicU64,
    /// True while the reply subscription is live; requests before it would lose their reply.
    subscribed: tokio::sync::watch::Sender<bool>,
}

/// A request's entry in `waiters`, removed when the request ends: answered, timed out, or
/// dropped with its connection when the client left. Without it a waiter whose client left and
/// whose job a worker skipped (no reply ever comes) would stay for the life of the process.
struct Waiter<'a> {
    g: &'a Gateway,
    corr: String,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.g.forget(&self.corr);
    }
}

/// Lets a handler close its own connection without answering.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

impl Gateway {
    pub fn new(
        valkey: ConnectionManager,
        client: redis::Client,
        stream: String,
        hold: Duration,
        opts: GatewayOptions,
    ) -> Self {
        Self {
            valkey,
            client,
            stream,
            hold,
            opts,
            id: format!("gw-{}-{:x}", std::process::id(), now_ns() & 0xffff_ffff),
            waiters: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            subscribed: tokio::sync::watch::channel(false).0,
        }
    }

    /// Waits until the reply subscription is live, so no early reply goes unheard.
    pub async fn wait_subscribed(&self, limit: Duration) -> bool {
        let mut rx = self.subscribed.subscribe();
        let ok = matches!(
            tokio::time::timeout(limit, rx.wait_for(|s| *s)).await,
            Ok(Ok(_))
        );
        ok
    }

    fn corr_id(&self, headers: &HeaderMap) -> String {
        headers
            .get("x-corr-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
            .map(str::to_string)
            .unwrap_or_else(|| self.fresh_id())
    }

    /// An id of this gateway's own, never given before.
    fn fresh_id(&self) -> String {
        format!("{}-{}", self.id, self.seq.fetch_add(1, Ordering::Relaxed))
    }

    /// Registers a request waiting for its reply under `corr`, or under a fresh id when another
    /// request in flight holds `corr`: a client's chosen id cannot take over someone else's
    /// reply. The returned guard removes the entry however the request ends.
    fn register(&self, corr: String) -> (Waiter<'_>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let mut waiters = self.waiters.lock().unwrap();
        let corr = if waiters.contains_key(&corr) {
            self.fresh_id()
        } else {
            corr
        };
        waiters.insert(corr.clone(), tx);
        metrics::gauge!(m::WAITERS).set(waiters.len() as f64);
        (Waiter { g: self, corr }, rx)
    }

    /// Removes a waiter, returning its reply channel if it was still there.
    fn forget(&self, corr: &str) -> Option<oneshot::Sender<()>> {
        let mut waiters = self.waiters.lock().unwrap();
        let tx = waiters.remove(corr);
        metrics::gauge!(m::WAITERS).set(waiters.len() as f64);
        tx
    }

    /// XADD the job; Err is the reason Valkey could not take it.
    async fn enqueue(&self, corr: &str, reply: &str, payload: &[u8]) -> Result<(), String> {
        let enq = now_ns();
        let deadline = enq + self.hold.as_nanos() as u64;
        let mut c = self.valkey.clone();
        // No MAXLEN: a producer's trim can remove jobs no worker has read yet. Retention of
        // acknowledged entries is trimmed apart from the jobs (see `retention`).
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&self.stream)
            .arg("*")
            .arg("corr")
            .arg(corr)
            .arg("enq_ns")
            .arg(enq)
            .arg("deadline_ns")
            .arg(deadline)
            .arg("reply")
            .arg(reply)
            .arg("payload")
            .arg(payload);
        // Its own task: when the client leaves, the request's future is dropped, but an XADD
        // already sent still lands on the stream, and must still be counted.
        let sent = tokio::spawn(async move {
            let t0 = Instant::now();
            let r = xadd.query_async::<String>(&mut c).await;
            metrics::histogram!(m::VALKEY_RTT).record(t0.elapsed().as_secs_f64());
            match r {
                Ok(_) => {
                    metrics::counter!(m::JOBS_ENQUEUED).increment(1);
                    Ok(())
                }
                Err(e) => {
                    metrics::counter!(m::VALKEY_ERRORS).increment(1);
                    Err(e.to_string())
                }
            }
        });
        sent.await
            .unwrap_or_else(|e| Err(format!("enqueue did not finish: {e}")))
    }

    /// Delivers worker replies (published on this gateway's channel) to the waiting requests.
    pub async fn listen_for_replies(self: Arc<Self>) {
        loop {
            let result: redis::RedisResult<()> = async {
                let mut ps = self.client.get_async_pubsub().await?;
                ps.subscribe(reply_channel(&self.id)).await?;
                self.subscribed.send_replace(true);
                let mut msgs = ps.on_message();
                while let Some(msg) = msgs.next().await {
                    let corr: String = msg.get_payload()?;
                    if let Some(tx) = self.forget(&corr) {
                        let _ = tx.send(());
                    }
                }
                Ok(())
            }
            .await;
            self.subscribed.send_replace(false);
            if let Err(e) = result {
                eprintln!("slitop-pipeline: reply subscription lost ({e}); resubscribing");
                metrics::counter!(m::VALKEY_ERRORS).increment(1);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Keeps the queue-depth gauge current.
    pub async fn watch_queue(self: Arc<Self>) {
        loop {
            let mut c = self.valkey.clone();
            if let Ok(n) = redis::cmd("XLEN")
                .arg(&self.stream)
                .query_async::<i64>(&mut c)
                .await
            {
                metrics::gauge!(m::QUEUE_DEPTH).set(n as f64);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

fn error(status: StatusCode, msg: String) -> Response {
    (status, Json(json!({"error": msg}))).into_response()
}

/// The 400 answer for a body that is not JSON, if it is not.
fn reject_malformed(body: &Bytes) -> Option<Response> {
    serde_json::from_slice::<serde_json::Value>(body)
        .err()
        .map(|e| error(StatusCode::BAD_REQUEST, format!("malformed JSON body: {e}")))
}

/// How a held request ended inside the handler.
enum Held {
    Answered(Response),
    /// The hold timeout fired: the connection is to be dropped unanswered.
    TimedOut,
}

async fn pexec(
    State(g): State<Arc<Gateway>>,
    Extension(kill): Extension<ConnKill>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrival = now_ms();
    let t0 = Instant::now();
    match hold_for_reply(&g, &headers, &body, t0).await {
        Held::Answered(r) => {
            g.log("/pexec", arrival, Outcome::Answered(r.status().as_u16()));
            r
        }
        Held::TimedOut => {
            metrics::counter!(m::HOLD_TIMEOUTS).increment(1);
            if g.opts.count_drops {
                count_drop("/pexec", t0);
            }
            g.log("/pexec", arrival, Outcome::Dropped);
            // No response at all: the connection is dropped under the client.
            kill.0.notify_one();
            futures::future::pending::<Response>().await
        }
    }
}

/// Enqueues the job and waits for its reply until the hold timeout.
async fn hold_for_reply(g: &Gateway, headers: &HeaderMap, body: &Bytes, t0: Instant) -> Held {
    if let Some(r) = reject_malformed(body) {
        return Held::Answered(r);
    }
    // Register before enqueueing so a fast reply is never missed.
    let (waiter, rx) = g.register(g.corr_id(headers));
    if let Err(e) = g.enqueue(&waiter.corr, &g.id, body).await {
        return Held::Answered(error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("valkey unavailable: {e}"),
        ));
    }
    metrics::histogram!(m::GATEWAY_ENQUEUE).record(t0.elapsed().as_secs_f64());
    match tokio::time::timeout(g.hold.saturating_sub(t0.elapsed()), rx).await {
        Ok(Ok(())) => Held::Answered(
            (
                StatusCode::OK,
                Json(json!({"corr": waiter.corr, "status": "done"})),
            )
                .into_response(),
        ),
        _ => Held::TimedOut,
    }
}

/// Counts a dropped request where the HTTP metrics layer would have counted an answer.
fn count_drop(endpoint: &str, t0: Instant) {
    let labels = [
        ("method", "POST".to_string()),
        ("status", DROP_STATUS.to_string()),
        ("endpoint", endpoint.to_string()),
    ];
    metrics::counter!(axum_prometheus::AXUM_HTTP_REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(
        axum_prometheus::AXUM_HTTP_REQUESTS_DURATION_SECONDS,
        &labels
    )
    .record(t0.elapsed().as_secs_f64());
}

impl Gateway {
    fn log(&self, endpoint: &str, arrival_ms: u64, outcome: Outcome) {
        if let Some(log) = &self.opts.access_log {
            log.record(&access_log::Entry {
                endpoint,
                arrival_ms,
                end_ms: now_ms(),
                outcome,
            });
        }
    }
}

async fn hop(State(g): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let arrival = now_ms();
    let r = enqueue_only(&g, &headers, &body).await;
    g.log("/hop", arrival, Outcome::Answered(r.status().as_u16()));
    r
}

async fn enqueue_only(g: &Gateway, headers: &HeaderMap, body: &Bytes) -> Response {
    let t0 = Instant::now();
    if let Some(r) = reject_malformed(body) {
        return r;
    }
    let corr = g.corr_id(headers);
    if let Err(e) = g.enqueue(&corr, "", body).await {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("valkey unavailable: {e}"),
        );
    }
    metrics::histogram!(m::GATEWAY_ENQUEUE).record(t0.elapsed().as_secs_f64());
    (
        StatusCode::ACCEPTED,
        Json(json!({"corr": corr, "status": "queued"})),
    )
        .into_response()
}

pub fn router(g: Arc<Gateway>, handle: PrometheusHandle, max_body: usize) -> Router {
    Router::new()
        .route("/pexec", post(pexec))
        .route("/hop", post(hop))
        .layer(axum_prometheus::PrometheusMetricLayer::new())
        .route("/metrics", get(move || async move { handle.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(g)
}

/// Serves HTTP/1.1 with keep-alive; each connection can be dropped by its own handler.
/// A failed accept (EMFILE when held requests outnumber the file limit) is counted and
/// waited out: the server keeps serving the connections it has and accepts again.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> anyhow::Result<()> {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // The counter says how often; the held connections free descriptors soon.
                metrics::counter!(m::ACCEPT_ERRORS).increment(1);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let kill = Arc::new(Notify::new());
        let k = ConnKill(kill.clone());
        let svc = tower::ServiceExt::map_request(
            app.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(k.clone());
                req
            },
        );
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(
                    TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(svc),
                );
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
            }
        });
    }
}
