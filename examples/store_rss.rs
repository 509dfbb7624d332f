//! Memory of the store over a long run: N series sampled every second for H hours, with
//! label sets like a real scrape. Prints peak RSS before and after, and the retained points.
//! Run: cargo run --release --example store_rss -- [series=200] [hours=6]

use slitop::model::Labels;
use slitop::store::{Store, StoreLimits};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let series: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let hours: i64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(6);
    let before = rss_kib();
    let mut store = Store::new(StoreLimits::default());
    let labels: Vec<Labels> = (0..series)
        .map(|i| {
            Labels::named("http_request_duration_seconds_bucket")
                .with("job", "gateway")
                .with("instance", "127.0.0.1:8080")
                .with("path", &format!("/api/v1/route{}", i % 20))
                .with("le", &format!("{}", i / 20))
        })
        .collect();
    let start = 1_700_000_000_000i64;
    let seconds = hours * 3600;
    let t0 = std::time::Instant::now();
    for s in 0..seconds {
        let t = start + s * 1000;
        for (i, l) in labels.iter().enumerate() {
            store.push(l, t, (s as f64) * (i as f64 + 1.0));
        }
    }
    let elapsed = t0.elapsed();
    let after = rss_kib();
    println!(
        "store: {series} series x {hours} h at 1 s = {} samples pushed in {:.2} s ({:.1} M samples/s)",
        series as i64 * seconds,
        elapsed.as_secs_f64(),
        (series as f64 * seconds as f64) / elapsed.as_secs_f64() / 1e6
    );
    println!(
        "retained points: {} ({} per series); RSS before {:.1} MiB, after {:.1} MiB, store share {:.1} MiB (goal <= 64 MiB)",
        store.point_count(),
        store.point_count() / series.max(1),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / 1024.0
    );
}
