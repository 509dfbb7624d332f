//! Workers: consumers of group `workers` that XREADGROUP → work → XACK → reply. Entries left
//! pending by a dead consumer are reclaimed with XAUTOCLAIM, so no enqueued job is lost.

use std::collections::HashMap;
use std::time::Duration;

use redis::Value;

use crate::metrics_setup as m;
use crate::service_time::ServiceTime;
use crate::{now_ns, reply_channel};

#[derive(Clone)]
pub struct WorkerConfig {
    pub client: redis::Client,
    pub stream: String,
    pub group: String,
    pub name: String,
    pub service: ServiceTime,
    /// Skip (ack and count) jobs whose client has already given up.
    pub skip_expired: bool,
    /// Entries idle this long in another consumer's pending list are taken over.
    pub reclaim_after: Duration,
    /// Leave acknowledged entries in the stream (trimmed only by the producer's MAXLEN), so
    /// XLEN is retention; by default they are deleted and XLEN is the backlog.
    pub keep_acked: bool,
    /// Entries read at a time (XREADGROUP COUNT), worked one after another.
    pub batch: u64,
}

/// Creates the group (at the start of the stream) if it does not exist yet.
pub async fn ensure_group(
    c: &mut impl redis::aio::ConnectionLike,
    stream: &str,
    group: &str,
) -> redis::RedisResult<()> {
    let r: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(c)
        .await;
    match r {
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}

/// Runs one consumer forever, restarting it (and counting the restart) after an error.
pub async fn run(cfg: WorkerConfig) {
    loop {
        if let Err(e) = consume(&cfg).await {
            eprintln!(
                "slitop-pipeline: consumer {} failed ({e}); restarting it",
                cfg.name
            );
            metrics::counter!(m::WORKER_RESTARTS).increment(1);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

async fn consume(cfg: &WorkerConfig) -> redis::RedisResult<()> {
    // Own connection: BLOCK holds it, so its response timeout must outlast the block
    // (the crate's 500 ms default equals our BLOCK and would fail every idle read).
    let conn_cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let mut c = cfg
        .client
        .get_multiplexed_async_connection_with_config(&conn_cfg)
        .await?;
    ensure_group(&mut c, &cfg.stream, &cfg.group).await?;
    let mut last_reclaim = std::time::Instant::now();
    loop {
        if last_reclaim.elapsed() >= cfg.reclaim_after / 2 {
            last_reclaim = std::time::Instant::now();
            let v: Value = redis::cmd("XAUTOCLAIM")
                .arg(&cfg.stream)
                .arg(&cfg.group)
                .arg(&cfg.name)
                .arg(cfg.reclaim_after.as_millis() as u64)
                .arg("0-0")
                .arg("COUNT")
                .arg(100)
                .query_async(&mut c)
                .await?;
            let claimed = autoclaimed(&v);
            metrics::counter!(m::JOBS_RECLAIMED).increment(claimed.len() as u64);
            for e in claimed {
                process(cfg, &mut c, e).await?;
            }
        }
        let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&cfg.group)
            .arg(&cfg.name)
            .arg("COUNT")
            .arg(cfg.batch)
            .arg("BLOCK")
            .arg(500)
            .arg("STREAMS")
            .arg(&cfg.stream)
            .arg(">")
            .query_async(&mut c)
            .await?;
        for key in reply.keys {
            for e in key.ids {
                process(cfg, &mut c, (e.id, e.map)).await?;
            }
        }
    }
}

/// Entries of an XAUTOCLAIM reply: `[next-id, [[id, [f, v, ...]], ...], deleted]`.
fn autoclaimed(v: &Value) -> Vec<(String, HashMap<String, Value>)> {
    let Some(parts) = v.as_sequence() else {
        return Vec::new();
    };
    let Some(entries) = parts.get(1).and_then(Value::as_sequence) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| redis::from_redis_value::<(String, HashMap<String, Value>)>(e.clone()).ok())
        .collect()
}

fn field(map: &HashMap<String, Value>, k: &str) -> Option<String> {
    map.get(k)
        .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
}

/// XACK, then (unless acknowledged entries are kept) XDEL so XLEN is the backlog
/// (undelivered + in service). Deleting delivered entries keeps the group's lag known.
fn ack_pipe(cfg: &WorkerConfig, id: &str) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.cmd("XACK")
        .arg(&cfg.stream)
        .arg(&cfg.group)
        .arg(id)
        .ignore();
    if !cfg.keep_acked {
        pipe.cmd("XDEL").arg(&cfg.stream).arg(id).ignore();
    }
    pipe
}

async fn process(
    cfg: &WorkerConfig,
    c: &mut redis::aio::MultiplexedConnection,
    (id, map): (String, HashMap<String, Value>),
) -> redis::RedisResult<()> {
    let claim = now_ns();
    let enq: u64 = field(&map, "enq_ns")
        .and_then(|v| v.parse().ok())
        .unwrap_or(claim);
    let deadline: u64 = field(&map, "deadline_ns")
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    let reply = field(&map, "reply").unwrap_or_default();
    let corr = field(&map, "corr").unwrap_or_default();
    metrics::histogram!(m::QUEUE_DELAY).record(claim.saturating_sub(enq) as f64 / 1e9);
    let ack = |c: &mut redis::aio::MultiplexedConnection| {
        let pipe = ack_pipe(cfg, &id);
        let mut c = c.clone();
        async move { pipe.query_async::<()>(&mut c).await }
    };
    if cfg.skip_expired && !reply.is_empty() && claim > deadline {
        ack(c).await?;
        metrics::counter!(m::JOBS_EXPIRED).increment(1);
        return Ok(());
    }
    if enq == claim && field(&map, "enq_ns").is_none() {
        // Not one of ours: acknowledge and count it, never crash on it.
        ack(c).await?;
        metrics::counter!(m::JOB_FAILURES).increment(1);
        return Ok(());
    }
    let started = std::time::Instant::now();
    tokio::time::sleep(cfg.service.sample()).await;
    let service = started.elapsed().as_secs_f64();
    metrics::histogram!(m::SERVICE).record(service);
    metrics::histogram!(m::FUNCTION_LATENCY).record(service);
    ack(c).await?;
    if !reply.is_empty() {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(reply_channel(&reply))
            .arg(&corr)
            .query_async(c)
            .await?;
    }
    metrics::histogram!(m::HOP).record(now_ns().saturating_sub(enq) as f64 / 1e9);
    metrics::counter!(m::JOBS).increment(1);
    Ok(())
}
