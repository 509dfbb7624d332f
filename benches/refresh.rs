//! What one refresh of the run's state costs once the store holds half an hour at 1 s: one
//! second of samples from each source stored, then every signal of the demo (the `valkey-hop`
//! preset with Valkey and k6 attached, and the detector's companions) evaluated locally and the
//! detector stepped. The live screen pays this once per refresh, before it draws.

use criterion::{criterion_group, criterion_main, Criterion};

use slitop::model::{Labels, Sample, SourceEvent, TimeMs};
use slitop::settings::{build_config, SourceFlags};
use slitop::state::RunState;

/// Upper bounds of the pipeline's histograms (seconds), as the demo's service exposes them.
const LE: [&str; 24] = [
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.15", "0.2", "0.25",
    "0.3", "0.4", "0.5", "0.75", "1", "1.5", "2", "2.5", "3", "4", "5", "10", "+Inf",
];
const HISTOGRAMS: [&str; 7] = [
    "hop_latency_seconds",
    "queue_delay_seconds",
    "gateway_enqueue_seconds",
    "valkey_enqueue_rtt_seconds",
    "worker_service_seconds",
    "function_request_latency",
    "axum_http_requests_duration_seconds",
];

/// A service ramping towards a 40 req/s wall: counters grow with what was served so far.
struct Pipeline {
    served: f64,
}

impl Pipeline {
    fn second(&mut self, t: TimeMs) -> Vec<(String, Vec<Sample>)> {
        let s = t as f64 / 1000.0;
        let rate = (10.0 + s / 10.0).min(40.0);
        self.served += rate;
        let n = self.served;
        let p = |name: &str| Labels::named(name);
        let mut scrape = Vec::new();
        for h in HISTOGRAMS {
            for (i, le) in LE.iter().enumerate() {
                // A latency that grows with the load: the lower buckets fill more slowly.
                let share = ((i as f64 + 1.0) / 10.0).min(1.0);
                let l = p(&format!("{h}_bucket")).with("le", le);
                scrape.push(Sample::new(l, t, (n * share).floor()));
            }
            scrape.push(Sample::new(p(&format!("{h}_sum")), t, n * 0.12));
            scrape.push(Sample::new(p(&format!("{h}_count")), t, n.floor()));
        }
        for c in [
            "worker_jobs_total",
            "gateway_jobs_enqueued_total",
            "worker_job_failures_total",
            "worker_restarts_total",
            "gateway_valkey_errors_total",
        ] {
            scrape.push(Sample::new(p(c), t, n.floor()));
        }
        let pending = p("axum_http_requests_pending")
            .with("method", "POST")
            .with("endpoint", "/pexec");
        scrape.push(Sample::new(pending, t, rate / 10.0));
        let sg = |name: &str| p(name).with("stream", "jobs").with("group", "workers");
        let mut valkey = Vec::new();
        for (name, v) in [
            ("valkey_group_backlog", rate / 4.0),
            ("valkey_group_undelivered", rate / 8.0),
            ("valkey_group_pending", rate / 8.0),
            ("valkey_group_backlog_age_seconds", 0.2),
            ("valkey_group_pending_age_seconds", 0.1),
            ("valkey_group_entries_read_total", n),
            ("valkey_group_acked_total", n),
            ("valkey_group_consumers", 4.0),
            ("valkey_group_consumers_stuck", 0.0),
        ] {
            valkey.push(Sample::new(sg(name), t, v));
        }
        let st = |name: &str| p(name).with("stream", "jobs");
        valkey.push(Sample::new(st("valkey_stream_length"), t, n.min(10_000.0)));
        valkey.push(Sample::new(st("valkey_stream_entries_added_total"), t, n));
        for c in [
            "valkey_rejected_connections_total",
            "valkey_evicted_keys_total",
        ] {
            valkey.push(Sample::new(p(c), t, 0.0));
        }
        let k = |name: &str| p(name).with("instance", "127.0.0.1:6565");
        let mut k6 = Vec::new();
        for (name, v) in [
            ("k6_vus", rate / 4.0),
            ("k6_vus_max", 200.0),
            ("k6_http_reqs_total", n),
            ("k6_http_req_failed_total", 0.0),
            ("k6_iterations_total", n),
            ("k6_dropped_iterations_total", 0.0),
        ] {
            k6.push(Sample::new(k(name), t, v));
        }
        for q in ["0.5", "0.95", "0.99"] {
            let l = k("k6_client_duration_seconds").with("quantile", q);
            k6.push(Sample::new(l, t, 0.1));
        }
        for code in ["1000", "1220"] {
            let l = k("k6_client_errors_total").with("error_code", code);
            k6.push(Sample::new(l, t, 0.0));
        }
        vec![
            ("scrape".into(), scrape),
            ("valkey".into(), valkey),
            ("k6".into(), k6),
        ]
    }
}

fn bench(c: &mut Criterion) {
    let flags = SourceFlags {
        preset: Some("valkey-hop".into()),
        scrape: vec!["http://127.0.0.1:9/metrics".into()],
        valkey: Some("redis://127.0.0.1:9".into()),
        stream: vec!["jobs".into()],
        group: vec!["workers".into()],
        k6: vec!["http://127.0.0.1:9".into()],
        ..SourceFlags::default()
    };
    let cfg = build_config(&flags).unwrap();
    let srcs = slitop::model::LocalSources {
        scrape: true,
        valkey: true,
        k6: true,
        ..Default::default()
    };
    let mut state = RunState::new(&cfg, srcs).unwrap();
    let mut pipeline = Pipeline { served: 0.0 };
    let mut t: TimeMs = 0;
    let mut second = |state: &mut RunState| {
        t += 1000;
        for (source, samples) in pipeline.second(t) {
            state.apply(SourceEvent::Samples { source, samples });
        }
        state.tick(t);
    };
    // Half an hour: every series holds its full raw tier, as deep into a run as it gets.
    for _ in 0..1_800 {
        second(&mut state);
    }
    c.bench_function("refresh/demo_signals_30min", |b| {
        b.iter(|| second(&mut state))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
