//! A reference HTTP → Valkey stream → worker pipeline, instrumented as load-testing guides
//! ask, for slitop's demo and end-to-end tests. One process runs the gateway, the workers, or
//! both.

mod access_log;
mod gateway;
mod metrics_setup;
mod retention;
mod service_time;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "slitop-pipeline",
    about = "HTTP -> Valkey stream -> worker pipeline for load-test demos"
)]
struct Args {
    /// What this process runs.
    #[arg(long, value_enum, default_value = "all")]
    role: Role,
    /// Gateway listen address (also serves /metrics).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    valkey: String,
    #[arg(long, default_value = "jobs")]
    stream: String,
    #[arg(long, default_value = "workers")]
    group: String,
    /// Consumers (concurrent jobs) in this process.
    #[arg(long, default_value_t = 4)]
    consumers: usize,
    /// Mean service time of one job.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "100ms")]
    service_time: Duration,
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0ms")]
    jitter: Duration,
    #[arg(long, value_enum, default_value = "fixed")]
    distribution: service_time::Distribution,
    /// How long the gateway holds a /pexec connection before dropping it unanswered.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    hold_timeout: Duration,
    /// Larger request bodies get 413.
    #[arg(long, default_value_t = 64 * 1024)]
    max_body: usize,
    /// Work on jobs whose client already gave up (shows the goodput-collapse failure mode).
    #[arg(long)]
    no_skip_expired: bool,
    /// Pending entries idle this long are reclaimed from dead consumers.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    reclaim_after: Duration,
    /// Keep up to N acknowledged entries in the stream, trimming the oldest (XLEN is then
    /// retention, not backlog); an entry not yet acknowledged is never trimmed. By default
    /// workers delete each entry once acknowledged.
    #[arg(long, value_name = "N")]
    retain: Option<u64>,
    /// Count requests dropped on the hold timeout as 504 in axum_http_requests_total and its
    /// duration histogram (by default they appear in neither, only in gateway_hold_timeouts_total).
    #[arg(long)]
    count_drops: bool,
    /// Entries each consumer reads at a time (XREADGROUP COUNT), worked in turn: those read
    /// wait in the consumer's pending list, not the group's lag, while idle consumers may
    /// have nothing to read.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    batch: u64,
    /// Write one JSON line per request at the gateway to this file: arrival_ms, end_ms (answer
    /// or drop), outcome (ok, error, dropped), status, endpoint.
    #[arg(long, value_name = "FILE")]
    access_log: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    All,
    Gateway,
    Worker,
}

pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The pub/sub channel a gateway listens on for its replies.
pub fn reply_channel(gateway: &str) -> String {
    format!("replies:{gateway}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let handle = metrics_setup::install()?;
    let client = redis::Client::open(a.valkey.as_str())?;
    let mut tasks = Vec::new();
    if a.role != Role::Gateway {
        let name_base = format!("w{}-{:x}", std::process::id(), now_ns() & 0xffff);
        for i in 0..a.consumers {
            tasks.push(tokio::spawn(worker::run(worker::WorkerConfig {
                client: client.clone(),
                stream: a.stream.clone(),
                group: a.group.clone(),
                name: format!("{name_base}-{i}"),
                service: service_time::ServiceTime {
                    mean: a.service_time,
                    jitter: a.jitter,
                    dist: a.distribution,
                },
                skip_expired: !a.no_skip_expired,
                reclaim_after: a.reclaim_after,
                keep_acked: a.retain.is_some(),
                batch: a.batch,
            })));
        }
    }
    let listener = tokio::net::TcpListener::bind(&a.listen).await?;
    eprintln!(
        "slitop-pipeline: {:?} on http://{} (valkey {}, stream {}, group {})",
        a.role,
        listener.local_addr()?,
        a.valkey,
        a.stream,
        a.group
    );
    let server = if a.role == Role::Worker {
        // Workers still serve /metrics.
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || async move { handle.render() }),
        );
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .map_err(anyhow::Error::from)
        })
    } else {
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let started = std::time::Instant::now();
        let mut mgr = loop {
            // Valkey may still be starting: retry for a while, then say why.
            match client.get_connection_manager_with_config(cfg.clone()).await {
                Ok(m) => break m,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    eprintln!("slitop-pipeline: waiting for valkey at {}: {e}", a.valkey);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        worker::ensure_group(&mut mgr, &a.stream, &a.group).await?;
        if let Some(keep) = a.retain {
            tokio::spawn(retention::trim_forever(mgr.clone(), a.stream.clone(), keep));
        }
        let g = Arc::new(gateway::Gateway::new(
            mgr,
            client.clone(),
            a.stream.clone(),
            a.hold_timeout,
            gateway::GatewayOptions {
                count_drops: a.count_drops,
                access_log: a
                    .access_log
                    .as_deref()
                    .map(access_log::AccessLog::open)
                    .transpose()?,
            },
        ));
        tokio::spawn(g.clone().listen_for_replies());
        if !g.wait_subscribed(Duration::from_secs(10)).await {
            anyhow::bail!("could not subscribe to replies on valkey at {}", a.valkey);
        }
        tokio::spawn(g.clone().watch_queue());
        let app = gateway::router(g, handle, a.max_body);
        tokio::spawn(gateway::serve(listener, app))
    };
    tokio::select! {
        r = server => r??,
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => { s.recv().await; }
                Err(_) => futures::future::pending::<()>().await,
            }
        } => {}
    }
    Ok(())
}
