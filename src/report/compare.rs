//! Two runs side by side: a delta table of the numbers a capacity test is judged on (knee,
//! capacity — the report's, else the peak throughput once throughput fell behind the load —,
//! p50/p95/p99 over the run and per load plateau matched by level, error rate,
//! drain time, workers needed), each with its change and a verdict. Built from two reports
//! alone, so comparing rebuilt reports, report.json files and a live run's baseline all agree.
//!
//! The noise band is a setting (5% by default) and is widened to the runs' own variation when
//! that is larger: the median, over both runs' plateaus that kept up with their load, of how
//! far p95 moved within a held level (`p95_drift`). A change inside the band is "within
//! noise", whatever its sign; so is a plateau quantile with too few requests above it, or
//! one that moved less than its own sampling error (see `sampling_error`).

pub use super::data::{Comparison, DeltaRow, Verdict};
use super::data::{Plateau, Report};

/// The whole-run rows the overall verdict reads.
const HEADLINE: [&str; 3] = ["knee", "capacity", "workers_needed"];

/// The default noise band: changes within ±5% are noise.
pub const DEFAULT_NOISE: f64 = 0.05;

/// A plateau that carried at least this share of its load kept up with it.
const KEPT_UP: f64 = 0.95;

/// Requests a quantile needs above it before its change is judged: the p99 of 240 requests
/// is its 3rd-highest, and moves by half between two runs of the same service.
const ABOVE: f64 = 15.0;

/// Whether the plateau carried enough requests for its quantile `q` to be judged (unknown
/// counts are judged).
fn enough(p: &Plateau, q: f64) -> bool {
    p.achieved_rps
        .is_none_or(|r| r * p.duration_s * (1.0 - q) >= ABOVE)
}

/// Standard errors a quantile's sampling band spans (about 95% of runs of the same service).
const Z: f64 = 2.0;

/// How far the plateau's quantile `q` moves from run to run of the same service by sampling
/// alone: the rank of a quantile of n requests is uncertain by √(q(1−q)/n), and a rank maps
/// to a latency through the tail's slope, read from the next higher quantile as a shifted
/// exponential, v(q) = a − s·ln(1−q), the shape queueing latency takes (so the slope at q is
/// s/(1−q)). A p50 of 240 requests from a 100 ms exponential service moves by ±19%; a
/// 5% band would call about a third of such reruns worse. None when the count or the tail
/// is unknown.
fn sampling_error(p: &Plateau, q: f64, v: f64) -> Option<f64> {
    let n = p.achieved_rps? * p.duration_s;
    let l = p.latency?;
    let (qh, vh) = [(0.9, l.p90), (0.95, l.p95), (0.99, l.p99), (0.999, l.p99_9)]
        .into_iter()
        .find_map(|(qh, vh)| Some((qh, vh?)).filter(|_| qh > q))?;
    if n < 1.0 || vh <= v {
        return None;
    }
    let s = (vh - v) / ((1.0 - q) / (1.0 - qh)).ln();
    Some(Z * s * (q / ((1.0 - q) * n)).sqrt())
}

/// Differences smaller than these are noise whatever the share (a 0.2 ms p50 that doubles).
fn floor(unit: &str) -> f64 {
    match unit {
        "s" => 0.002,
        "ratio" => 0.005,
        "req/s" | "VUs" => 0.5,
        _ => 0.0,
    }
}

fn judge(
    metric: &str,
    level: Option<f64>,
    unit: &str,
    (base, cur): (Option<f64>, Option<f64>),
    higher_is_better: bool,
    noise: f64,
) -> DeltaRow {
    let absolute = unit == "ratio";
    let change = match (base, cur) {
        (Some(b), Some(c)) if absolute => Some(c - b),
        (Some(b), Some(c)) if b > 0.0 => Some((c - b) / b),
        _ => None,
    };
    let verdict = match (base, cur) {
        (Some(b), Some(c)) => {
            let diff = c - b;
            let band = if absolute {
                noise * b.max(c)
            } else {
                noise * b.abs()
            };
            if diff.abs() <= band.max(floor(unit)) {
                Verdict::WithinNoise
            } else if (diff > 0.0) == higher_is_better {
                Verdict::Better
            } else {
                Verdict::Worse
            }
        }
        _ => Verdict::NotCompared,
    };
    DeltaRow {
        metric: metric.into(),
        level,
        unit: unit.into(),
        baseline: base,
        run: cur,
        change,
        higher_is_better,
        verdict,
    }
}

/// Median |p95 drift| over both runs' plateaus that kept up with their load (a plateau past
/// capacity drifts because its queue grows, which is the run's shape, not its noise).
fn spread(a: &Report, b: &Report) -> Option<f64> {
    let mut d: Vec<f64> = a
        .plateaus
        .iter()
        .chain(&b.plateaus)
        .filter(|p| p.achieved_ratio.is_none_or(|r| r >= KEPT_UP))
        .filter_map(|p| p.p95_drift)
        .filter(|v| v.is_finite())
        .map(f64::abs)
        .collect();
    d.sort_by(f64::total_cmp);
    (!d.is_empty()).then(|| d[d.len() / 2])
}

/// Pairs of plateaus at the same load (within the baseline's plateau tolerance), each
/// baseline plateau with the run's nearest.
pub fn matched<'a>(base: &'a Report, cur: &'a Report) -> Vec<(&'a Plateau, &'a Plateau)> {
    let tol = if base.plateau_rule.tolerance > 0.0 {
        base.plateau_rule.tolerance
    } else {
        0.1
    };
    base.plateaus
        .iter()
        .filter_map(|b| {
            cur.plateaus
                .iter()
                .filter(|c| c.load_unit == b.load_unit)
                .filter(|c| (c.load - b.load).abs() <= tol * b.load.abs().max(1e-9))
                .min_by(|x, y| (x.load - b.load).abs().total_cmp(&(y.load - b.load).abs()))
                .map(|c| (b, c))
        })
        .collect()
}

/// p50/p95/p99 at each plateau both runs held.
fn plateau_rows(base: &Report, cur: &Report, band: f64) -> Vec<DeltaRow> {
    let mut rows = Vec::new();
    for (b, c) in matched(base, cur) {
        let (bl, cl) = (b.latency.unwrap_or_default(), c.latency.unwrap_or_default());
        for (m, q, x, y) in [
            ("p50", 0.5, bl.p50, cl.p50),
            ("p95", 0.95, bl.p95, cl.p95),
            ("p99", 0.99, bl.p99, cl.p99),
        ] {
            let mut row = judge(m, Some(b.load), "s", (x, y), false, band);
            if row.verdict != Verdict::NotCompared && !(enough(b, q) && enough(c, q)) {
                row.verdict = Verdict::WithinNoise;
            }
            // Two runs' quantiles each carry their own sampling error.
            if let (Some(x), Some(y)) = (x, y) {
                let sampled = sampling_error(b, q, x).zip(sampling_error(c, q, y));
                if sampled.is_some_and(|(eb, ec)| (y - x).abs() <= eb.hypot(ec)) {
                    row.verdict = Verdict::WithinNoise;
                }
            }
            rows.push(row);
        }
    }
    rows
}

/// The overall verdict reads the rows that compare like with like: what each run can carry
/// and latency at the same load. Whole-run percentiles, errors and drain are shown but
/// depend on how long each run spent past its own capacity.
fn overall(rows: &[DeltaRow]) -> Verdict {
    let judged = || {
        rows.iter()
            .filter(|r| r.level.is_some() || HEADLINE.contains(&r.metric.as_str()))
            .map(|r| r.verdict)
    };
    if judged().any(|v| v == Verdict::Worse) {
        Verdict::Worse
    } else if judged().any(|v| v == Verdict::Better) {
        Verdict::Better
    } else {
        Verdict::WithinNoise
    }
}

/// The delta table; `noise` is the band from the settings (`DEFAULT_NOISE` unless told).
pub fn compare(base: &Report, cur: &Report, names: (&str, &str), noise: f64) -> Comparison {
    let spread = spread(base, cur);
    let band = spread.map_or(noise, |s| s.max(noise));
    let mut rows = Vec::new();
    let (bk, ck) = (base.knee.as_ref(), cur.knee.as_ref());
    let same_unit = bk.map(|k| &k.load_unit) == ck.map(|k| &k.load_unit);
    let knee_unit = bk.or(ck).map_or("req/s", |k| k.load_unit.as_str());
    let knees = if same_unit {
        (bk.and_then(|k| k.load), ck.and_then(|k| k.load))
    } else {
        (None, None)
    };
    rows.push(judge("knee", None, knee_unit, knees, true, band));
    let capacity = |r: &Report| super::scale::capacity_of(r).map(|c| c.0);
    let cap = (capacity(base), capacity(cur));
    rows.push(judge("capacity", None, "req/s", cap, true, band));
    let (bs, cs) = (base.summary.loaded(), cur.summary.loaded());
    for (m, f) in [
        (
            "p50",
            (|s| s.p50_s) as fn(&super::data::LoadedSummary) -> Option<f64>,
        ),
        ("p95", |s| s.p95_s),
        ("p99", |s| s.p99_s),
    ] {
        rows.push(judge(
            m,
            None,
            "s",
            (bs.and_then(f), cs.and_then(f)),
            false,
            band,
        ));
    }
    rows.extend(plateau_rows(base, cur, band));
    let err = (bs.and_then(|s| s.error_rate), cs.and_then(|s| s.error_rate));
    rows.push(judge("error_rate", None, "ratio", err, false, band));
    rows.push(judge(
        "drain",
        None,
        "s",
        (base.drain_s, cur.drain_s),
        false,
        band,
    ));
    let workers = |r: &Report| r.scaling.as_ref().map(|s| s.workers_needed as f64);
    let w = (workers(base), workers(cur));
    rows.push(judge("workers_needed", None, "workers", w, false, band));
    let verdict = overall(&rows);
    Comparison {
        baseline: names.0.into(),
        run: names.1.into(),
        noise_setting: noise,
        spread,
        noise: band,
        rows,
        verdict,
    }
}

fn value(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "–".into(),
        Some(x) if unit == "s" => super::format::secs(Some(x)),
        Some(x) if unit == "ratio" => format!("{:.2}%", x * 100.0),
        Some(x) if unit == "workers" => format!("{x:.0}"),
        Some(x) => format!("{x:.1} {unit}"),
    }
}

/// The table as Markdown, for report.md and compare.md.
pub fn markdown(c: &Comparison) -> String {
    let mut s = format!(
        "Baseline **{}** against **{}**: overall **{}**. Noise band ±{:.1}%{}.\n\n",
        c.baseline,
        c.run,
        c.verdict.text(),
        c.noise * 100.0,
        match c.spread {
            Some(sp) if sp > c.noise_setting => format!(
                " (widened from ±{:.1}% to the runs' own p95 spread within a plateau)",
                c.noise_setting * 100.0
            ),
            _ => String::new(),
        }
    );
    s += "| metric | at | baseline | run | change | verdict |\n|---|---|---|---|---|---|\n";
    for r in &c.rows {
        let at = r
            .level
            .map_or("whole run".into(), |l| format!("plateau {l:.1}"));
        let change = match r.change {
            None => "–".into(),
            Some(x) if r.unit == "ratio" => format!("{:+.2} pp", x * 100.0),
            Some(x) => format!("{:+.1}%", x * 100.0),
        };
        s += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.metric,
            at,
            value(r.baseline, &r.unit),
            value(r.run, &r.unit),
            change,
            r.verdict.text()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(v: serde_json::Value) -> Report {
        Report::from_value(&v).unwrap()
    }

    fn run(cap: f64, p95: f64, drift: f64) -> Report {
        report(json!({
            "summary": {"p50_s": p95 / 2.0, "p95_s": p95, "p99_s": p95 * 2.0, "error_rate": 0.0},
            "knee": {"load": cap, "load_unit": "req/s"},
            "capacity_rps": cap,
            "plateau_rule": {"tolerance": 0.1, "min_s": 5.0},
            "plateaus": [
                {"load": 20.0, "load_unit": "req/s", "p95_drift": drift,
                 "latency": {"p50": 0.05, "p95": p95, "p99": p95 * 2.0}},
                {"load": cap, "load_unit": "req/s", "p95_drift": drift,
                 "latency": {"p50": 0.1, "p95": p95 * 3.0, "p99": p95 * 6.0}},
            ],
        }))
    }

    #[test]
    fn a_run_against_itself_is_within_noise_on_every_row() {
        let r = run(40.0, 0.2, 0.01);
        let c = compare(&r, &r, ("a", "a"), DEFAULT_NOISE);
        assert!(c.rows.len() >= 10, "{c:?}");
        for row in &c.rows {
            assert!(
                matches!(row.verdict, Verdict::WithinNoise | Verdict::NotCompared),
                "{row:?}"
            );
        }
        assert_eq!(c.verdict, Verdict::WithinNoise);
    }

    #[test]
    fn double_capacity_and_lower_latency_is_better() {
        let (a, b) = (run(40.0, 0.3, 0.01), run(80.0, 0.1, 0.01));
        let c = compare(&a, &b, ("4w", "8w"), DEFAULT_NOISE);
        let cap = c.row("capacity", None).unwrap();
        assert_eq!(cap.verdict, Verdict::Better);
        assert!((cap.change.unwrap() - 1.0).abs() < 1e-12);
        assert!((cap.worse_by().unwrap() + 1.0).abs() < 1e-12);
        // Only the 20 req/s plateau is shared (40 and 80 are not within 10%).
        let p95 = c.row("p95", Some(20.0)).unwrap();
        assert_eq!(p95.verdict, Verdict::Better);
        assert!(c.row("p95", Some(40.0)).is_none());
        assert_eq!(c.verdict, Verdict::Better);
        let back = compare(&b, &a, ("8w", "4w"), DEFAULT_NOISE);
        assert_eq!(back.row("capacity", None).unwrap().verdict, Verdict::Worse);
        assert_eq!(back.verdict, Verdict::Worse);
    }

    #[test]
    fn a_quantile_of_too_few_requests_is_within_noise() {
        let thin = |p99: f64| {
            report(json!({
                "plateau_rule": {"tolerance": 0.05, "min_s": 10.0},
                "plateaus": [{"load": 20.0, "load_unit": "req/s", "achieved_rps": 20.0,
                              "duration_s": 12.0, "latency": {"p50": 0.1, "p95": 0.3, "p99": p99}}],
            }))
        };
        let c = compare(&thin(0.4), &thin(0.8), ("a", "b"), DEFAULT_NOISE);
        // 240 requests: 2.4 above the p99, 12 above the p95 — neither is judged.
        assert_eq!(
            c.row("p99", Some(20.0)).unwrap().verdict,
            Verdict::WithinNoise
        );
        assert!((c.row("p99", Some(20.0)).unwrap().change.unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_plateau_quantile_within_its_sampling_error_is_noise_and_beyond_it_is_judged() {
        // 12 req/s for 20 s from a 100 ms exponential service: p50 69 ms, p90 230 ms.
        let plateau = |p50: f64, n_s: f64| {
            report(json!({
                "plateau_rule": {"tolerance": 0.05, "min_s": 10.0},
                "plateaus": [{"load": 12.0, "load_unit": "req/s", "achieved_rps": 12.0,
                              "duration_s": n_s,
                              "latency": {"p50": p50, "p90": 0.230, "p95": 0.300, "p99": 0.46}}],
            }))
        };
        let verdict = |a: &Report, b: &Report| {
            compare(a, b, ("a", "b"), DEFAULT_NOISE)
                .row("p50", Some(12.0))
                .unwrap()
                .verdict
        };
        // 240 requests each: a 15% higher p50 is within two standard errors (±26%).
        assert_eq!(
            verdict(&plateau(0.069, 20.0), &plateau(0.0795, 20.0)),
            Verdict::WithinNoise
        );
        // 24,000 requests each: the same 15% is far outside (±2.6%).
        assert_eq!(
            verdict(&plateau(0.069, 2000.0), &plateau(0.0795, 2000.0)),
            Verdict::Worse
        );
        // And a doubled p50 stands out of 240 requests too.
        assert_eq!(
            verdict(&plateau(0.069, 20.0), &plateau(0.138, 20.0)),
            Verdict::Worse
        );
    }

    #[test]
    fn the_band_widens_to_the_runs_own_spread() {
        // p95 3% worse: outside 2% but inside the runs' 10% drift.
        let (a, b) = (run(40.0, 0.30, 0.10), run(40.0, 0.309, 0.10));
        let c = compare(&a, &b, ("a", "b"), 0.02);
        assert_eq!(c.noise, 0.10);
        assert_eq!(c.row("p95", None).unwrap().verdict, Verdict::WithinNoise);
        let (a, b) = (run(40.0, 0.30, 0.0), run(40.0, 0.309, 0.0));
        let c = compare(&a, &b, ("a", "b"), 0.02);
        assert_eq!(c.row("p95", None).unwrap().verdict, Verdict::Worse);
        assert!(markdown(&c).contains("| p95 | whole run |"));
    }
}
