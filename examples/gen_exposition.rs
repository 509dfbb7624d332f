//! Writes a synthetic /metrics page for benchmarks: counters with four labels and histograms
//! with 12 buckets, about 50k series and 6 MB by default.
//! Run: cargo run --release --example gen_exposition -- FILE [counters=30000] [histograms=1500]

use std::io::Write;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).map(String::as_str).unwrap_or("bench.prom");
    let counters: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(30_000);
    let histograms: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1_500);
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        w,
        "# HELP http_requests_total Requests handled, by route and outcome."
    )?;
    writeln!(w, "# TYPE http_requests_total counter")?;
    let methods = ["GET", "POST", "PUT", "DELETE"];
    for i in 0..counters {
        writeln!(
            w,
            "http_requests_total{{method=\"{}\",path=\"/api/v1/resource/{}\",code=\"{}\",instance=\"10.0.{}.{}:8080\"}} {}",
            methods[i % 4],
            i / 40,
            [200, 201, 404, 500, 503][i % 5],
            (i / 250) % 256,
            i % 250,
            (i as u64).wrapping_mul(7919) % 10_000_000
        )?;
    }
    let bounds = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2", "5", "10", "+Inf",
    ];
    writeln!(w, "# HELP http_request_duration_seconds Request latency.")?;
    writeln!(w, "# TYPE http_request_duration_seconds histogram")?;
    for i in 0..histograms {
        let labels = format!(
            "method=\"{}\",path=\"/api/v1/resource/{}\"",
            methods[i % 4],
            i
        );
        let mut c = 0u64;
        for b in bounds {
            c += (i as u64 % 13) + 1;
            writeln!(
                w,
                "http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {c}"
            )?;
        }
        writeln!(
            w,
            "http_request_duration_seconds_sum{{{labels}}} {}",
            c as f64 * 0.137
        )?;
        writeln!(w, "http_request_duration_seconds_count{{{labels}}} {c}")?;
    }
    w.flush()
}
