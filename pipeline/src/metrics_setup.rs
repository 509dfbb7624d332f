//! The pipeline's metrics: names load-testing guides use, with histogram buckets at the
//! thresholds users judge by (0.5 s and 2 s among them), so interpolated quantiles land right.

use axum_prometheus::AXUM_HTTP_REQUESTS_DURATION_SECONDS;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const GATEWAY_ENQUEUE: &str = "gateway_enqueue_seconds";
pub const VALKEY_RTT: &str = "valkey_enqueue_rtt_seconds";
pub const QUEUE_DELAY: &str = "queue_delay_seconds";
pub const SERVICE: &str = "worker_service_seconds";
/// The worker-side latency name of an NVCF-style deployment.
pub const FUNCTION_LATENCY: &str = "function_request_latency";
pub const HOP: &str = "hop_latency_seconds";
pub const JOBS: &str = "worker_jobs_total";
pub const JOB_FAILURES: &str = "worker_job_failures_total";
pub const JOBS_EXPIRED: &str = "worker_jobs_expired_total";
pub const JOBS_RECLAIMED: &str = "worker_jobs_reclaimed_total";
pub const QUEUE_DEPTH: &str = "pipeline_queue_depth";
pub const WORKER_RESTARTS: &str = "worker_restarts_total";
pub const VALKEY_ERRORS: &str = "gateway_valkey_errors_total";
pub const HOLD_TIMEOUTS: &str = "gateway_hold_timeouts_total";
/// Connections the gateway could not accept (EMFILE under overload); it keeps serving.
pub const ACCEPT_ERRORS: &str = "gateway_accept_errors_total";
/// Held requests waiting for a worker's reply; back to 0 once every request has ended.
pub const WAITERS: &str = "gateway_waiters";
/// Jobs the gateway put on the stream. Once drained it equals worker_jobs_total (done)
/// + worker_jobs_expired_total (skipped) + pipeline_jobs_trimmed_total.
pub const JOBS_ENQUEUED: &str = "gateway_jobs_enqueued_total";
/// Jobs removed from the stream before a worker finished them. The retention trim stops short
/// of the first unacknowledged entry and nothing else trims, so it stays 0; it completes the
/// accounting above.
pub const JOBS_TRIMMED: &str = "pipeline_jobs_trimmed_total";

/// Latency buckets (seconds): fine below 100 ms for the enqueue path, and edges at 0.5, 2 and
/// the 3 s default hold timeout for the judgements that matter.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
    1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0,
];

pub fn install() -> anyhow::Result<PrometheusHandle> {
    let mut b = PrometheusBuilder::new();
    for name in [
        AXUM_HTTP_REQUESTS_DURATION_SECONDS,
        GATEWAY_ENQUEUE,
        VALKEY_RTT,
        QUEUE_DELAY,
        SERVICE,
        FUNCTION_LATENCY,
        HOP,
    ] {
        b = b.set_buckets_for_metric(Matcher::Full(name.to_string()), LATENCY_BUCKETS)?;
    }
    let handle = b.install_recorder()?;
    // Stability counters exist from the start at zero, so "stays zero" is visible.
    for c in [
        JOB_FAILURES,
        JOBS_EXPIRED,
        JOBS_RECLAIMED,
        WORKER_RESTARTS,
        VALKEY_ERRORS,
        HOLD_TIMEOUTS,
        ACCEPT_ERRORS,
        JOBS,
        JOBS_ENQUEUED,
        JOBS_TRIMMED,
    ] {
        metrics::counter!(c).absolute(0);
    }
    metrics::gauge!(WAITERS).set(0.0);
    Ok(handle)
}
