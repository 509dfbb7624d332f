//! Criterion benchmark of the exposition parser on a generated page (counters with four
//! labels and 12-bucket histograms). The side-by-side comparison with other parsers is
//! `scripts/bench-exposition.sh`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use slitop::exposition::{parse, Format};

fn page(counters: usize, histograms: usize) -> String {
    let mut s = String::from("# TYPE http_requests_total counter\n");
    for i in 0..counters {
        s += &format!(
            "http_requests_total{{method=\"GET\",path=\"/api/v1/r/{}\",code=\"{}\",instance=\"10.0.0.{}:8080\"}} {}\n",
            i / 40,
            [200, 404, 500][i % 3],
            i % 250,
            i * 7
        );
    }
    s += "# TYPE lat histogram\n";
    for i in 0..histograms {
        for (j, b) in [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2", "5", "10", "+Inf",
        ]
        .iter()
        .enumerate()
        {
            s += &format!("lat_bucket{{path=\"/r/{i}\",le=\"{b}\"}} {}\n", i + j);
        }
        s += &format!(
            "lat_sum{{path=\"/r/{i}\"}} 1.5\nlat_count{{path=\"/r/{i}\"}} {}\n",
            i + 11
        );
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = page(6_000, 300);
    let mut g = c.benchmark_group("exposition");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse_10k_series", |b| {
        b.iter(|| parse(std::hint::black_box(&text), Format::Text004).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
