//! The end-of-run report rebuilt from real recordings of the reference pipeline
//! (tests/fixtures/detector): every section present, Markdown numbers equal to report.json,
//! plots that parse as SVG with the knee marked and the envelope drawn over the rising load,
//! per-plateau quantiles equal to Prometheus's `histogram_quantile` over each plateau, and
//! gates that set the exit code.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use slitop::model::SourceEvent;
use slitop::record::read::{Record, Recording};
use slitop::report::format::{count, offset, pct, rate, secs};
use slitop::report::plateaus::load_kind;
use slitop::report::{envelope, plots, Report};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/detector/{name}.jsonl"))
}

/// Copies a fixture into a fresh directory as its recording.jsonl.
fn run_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("recording.jsonl");
    std::fs::copy(fixture(name), &rec).unwrap();
    (dir, rec)
}

fn report(dir: &Path) -> (Json, String) {
    let j = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    (serde_json::from_str(&j).unwrap(), md)
}

fn f(v: &Json) -> Option<f64> {
    v.as_f64()
}

/// Parses an SVG as XML and returns the text of its <text> elements.
fn svg_texts(path: &Path) -> Vec<String> {
    let s = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&s).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn ramp_baseline_and_steps_reports_have_every_section_and_the_json_numbers() {
    for name in ["ramp", "baseline", "steps"] {
        let (dir, rec) = run_dir(name);
        let o = slitop(&["report", rec.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let (r, md) = report(dir.path());
        for s in slitop::report::markdown::SECTIONS {
            assert!(md.contains(&format!("\n{s}\n")), "{name}: no {s} in\n{md}");
        }
        let start = r["started_unix_ms"].as_i64().unwrap();
        let sm = &r["summary"];
        for k in ["p50_s", "p95_s", "p99_s"] {
            assert!(f(&sm[k]).is_some(), "{name}: {k} missing");
        }
        let tuple = format!(
            "| {} | {} | {} | {} | {} req/s | {} req/s |",
            secs(f(&sm["p50_s"])),
            secs(f(&sm["p95_s"])),
            secs(f(&sm["p99_s"])),
            pct(f(&sm["error_rate"])),
            rate(f(&sm["throughput_mean_rps"])),
            rate(f(&sm["throughput_peak_rps"])),
        );
        assert!(md.contains(&tuple), "{name}: {tuple} not in\n{md}");
        for st in r["stages"].as_array().unwrap() {
            let line = format!(
                "| {} | {} | {} | {} |",
                st["number"],
                st["id"].as_str().unwrap(),
                st["state"].as_str().unwrap(),
                offset(st["onset_unix_ms"].as_i64(), start)
            );
            assert!(md.contains(&line), "{name}: {line} not in\n{md}");
        }
        if let Some(k) = f(&r["knee"]["load"]) {
            assert!(
                md.contains(&format!(
                    "- Knee: {} {}",
                    rate(Some(k)),
                    r["knee"]["load_unit"].as_str().unwrap()
                )),
                "{md}"
            );
        }
        if let Some(c) = f(&r["capacity_rps"]) {
            assert!(
                md.contains(&format!("- Capacity: {} req/s", rate(Some(c)))),
                "{md}"
            );
        }
        if r["scaling"].is_object() {
            let w = &r["scaling"]["workers_needed"];
            assert!(md.contains(&format!("= **{w}**")), "{md}");
            assert!(
                md.contains(&secs(f(&r["scaling"]["mean_service_s"]))),
                "{md}"
            );
        }
        if let Some(d) = f(&r["backlog"]["drain_s"]) {
            let peak = count(f(&r["backlog"]["peak"]));
            assert!(
                md.contains(&format!(
                    "- Drain: {} from the backlog's peak of {peak}",
                    secs(Some(d))
                )),
                "{md}"
            );
        }
        for w in r["warnings"].as_array().unwrap() {
            assert!(md.contains(w["text"].as_str().unwrap()), "{md}");
        }
        let texts = svg_texts(&dir.path().join("envelope.svg"));
        svg_texts(&dir.path().join("queue.svg"));
        assert!(
            md.contains("](envelope.svg)") && md.contains("](queue.svg)"),
            "{md}"
        );
        match f(&r["knee_at"]["load"]) {
            Some(k) => assert!(
                texts
                    .iter()
                    .any(|t| t == &format!("knee {} req/s", rate(Some(k)))),
                "{name}: no knee marker in {texts:?}"
            ),
            None => assert!(!texts.iter().any(|t| t.starts_with("knee"))),
        }
        assert!(texts.iter().any(|t| t.starts_with("SLO p95")), "{texts:?}");
        eprintln!(
            "{name}: p50 {} p95 {} p99 {} errors {} knee {:?} capacity {:?} profile {}",
            secs(f(&sm["p50_s"])),
            secs(f(&sm["p95_s"])),
            secs(f(&sm["p99_s"])),
            pct(f(&sm["error_rate"])),
            f(&r["knee"]["load"]),
            f(&r["capacity_rps"]),
            r["profile"]["text"]
        );
    }
}

#[test]
fn the_ramp_has_no_plateau_and_the_baseline_one() {
    let (dir, rec) = run_dir("ramp");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let (r, md) = report(dir.path());
    assert_eq!(r["plateaus"].as_array().unwrap().len(), 0);
    assert_eq!(r["profile"]["shape"], "ramp");
    assert!(md.contains("No load plateaus"), "{md}");
    assert!(!dir.path().join("plateaus.csv").exists());
    let (dir, rec) = run_dir("baseline");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let (r, _) = report(dir.path());
    let p = r["plateaus"].as_array().unwrap();
    assert_eq!(p.len(), 1, "{p:#?}");
    // The baseline fixture offered 16 req/s for 60 s.
    assert!((f(&p[0]["load"]).unwrap() - 16.0).abs() < 1.0, "{}", p[0]);
    assert!(f(&p[0]["duration_s"]).unwrap() >= 40.0, "{}", p[0]);
    assert_eq!(r["profile"]["shape"], "constant");
}

/// The envelope is the rising load: every loaded refresh up to the load's end is either on
/// the curve (from the first load to the last refresh at the peak level) or in the drain after
/// it, which is drawn apart and is all below the peak level. The top plateau stays on the
/// curve (a burst's settle after its spike is drain); the knee is marked.
#[test]
fn the_envelope_plots_the_rising_load_and_draws_the_drain_apart() {
    for name in ["ramp", "baseline", "steps", "burst", "vu-ramp"] {
        let (dir, rec) = run_dir(name);
        assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
        let (r, _) = report(dir.path());
        let recording = Recording::read(&rec).unwrap();
        let (state, _) = slitop::ui::run::timeline_of(&recording).unwrap();
        let d = plots::data(&state, &Report::from_value(&r).unwrap(), None);
        let kind = load_kind(&state);
        let ended = state.detector.load_ended.unwrap_or(i64::MAX);
        let min = state.detector.cfg.min_rate;
        let loaded = state
            .detector
            .history
            .iter()
            .filter(|f| f.t < ended && kind.of(f).is_some_and(|v| v >= min))
            .count();
        assert_eq!(d.envelope.len() + d.drain.len(), loaded, "{name}");
        let peak = d.envelope.iter().map(|p| p.0).fold(0.0, f64::max);
        let top = d.envelope.iter().rposition(|p| p.0 == peak).unwrap();
        // The peak level: the highest load held for two refreshes (k6 may overshoot a step).
        let level = d
            .envelope
            .windows(2)
            .map(|w| w[0].0.min(w[1].0))
            .fold(0.0, f64::max);
        // Past the highest load the curve holds at the peak level and ends there; it never
        // follows the load down.
        for p in &d.envelope[top..] {
            assert!(p.0 >= 0.9 * level, "{name}: {} after the peak {peak}", p.0);
        }
        assert!(d.envelope.last().unwrap().0 >= 0.95 * level, "{name}");
        for p in &d.drain {
            assert!(
                p.0 < 0.95 * level,
                "{name}: drain at {} (peak {level})",
                p.0
            );
        }
        // The curve is the rise as `envelope::phases` splits it, and the top plateau is on it.
        let h = &state.detector.history;
        let pts: Vec<(i64, Option<f64>)> = h.iter().map(|f| (f.t, kind.of(f))).collect();
        let ph = envelope::phases(&pts, 0.05, min, state.detector.load_ended);
        let with_load = h[ph.rise.clone()].iter().filter(|f| kind.of(f).is_some());
        assert_eq!(d.envelope.len(), with_load.count(), "{name}");
        let top = r["plateaus"]
            .as_array()
            .unwrap()
            .iter()
            .max_by(|a, b| f(&a["load"]).unwrap().total_cmp(&f(&b["load"]).unwrap()));
        if let Some(p) = top {
            let to = p["to_unix_ms"].as_i64().unwrap();
            assert!(h[ph.rise.end - 1].t >= to, "{name}: top plateau {p} cut");
        }
        let texts = svg_texts(&dir.path().join("envelope.svg"));
        let drain_label = texts.iter().any(|t| t == "drain: p95 after the peak");
        assert_eq!(drain_label, d.drain.iter().any(|p| p.1.is_some()), "{name}");
        if let Some(k) = f(&r["knee_at"]["load"]) {
            let unit = r["knee_at"]["load_unit"].as_str().unwrap();
            let knee = format!("knee {} {unit}", rate(Some(k)));
            assert!(texts.contains(&knee), "{name}: no {knee} in {texts:?}");
        }
        eprintln!(
            "{name}: envelope {} refreshes to {peak:.1} (level {level:.1}), drain {} ({:?})",
            d.envelope.len(),
            d.drain.len(),
            d.drain.iter().map(|p| p.0.round()).collect::<Vec<_>>()
        );
    }
    // The ramp's load fell from its peak to nothing in a few refreshes: those are the drain.
    let (dir, rec) = run_dir("ramp");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let (state, _) = slitop::ui::run::timeline_of(&Recording::read(&rec).unwrap()).unwrap();
    let (r, _) = report(dir.path());
    let d = plots::data(&state, &Report::from_value(&r).unwrap(), None);
    assert!(!d.drain.is_empty());
    assert!(d.drain.windows(2).all(|w| w[1].0 < w[0].0), "{:?}", d.drain);
    // Nothing on its curve is past the peak: after the highest load there is only the next
    // refresh, still at it (71.7 against 71.9 req/s).
    let peak = d.envelope.iter().map(|p| p.0).fold(0.0, f64::max);
    let top = d.envelope.iter().position(|p| p.0 == peak).unwrap();
    assert!(d.envelope.len() - top <= 2, "{:?}", &d.envelope[top..]);
    assert!(d.envelope[top..].iter().all(|p| p.0 >= 0.99 * peak));
}

/// Drift only where the load held a level: the ramp has no figure and says why (its p95 rose
/// with the load, which is no drift), the baseline keeps its drift over its one plateau, and
/// the steps, several levels, give it per step.
#[test]
fn drift_is_reported_only_where_the_load_held_a_level() {
    let (dir, rec) = run_dir("ramp");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let (r, md) = report(dir.path());
    assert_eq!(
        r["drift"],
        serde_json::json!({"note": "the load did not hold a level"})
    );
    assert!(
        md.contains("- p95 drift: not measured: the load did not hold a level."),
        "{md}"
    );

    let (dir, rec) = run_dir("baseline");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let (r, md) = report(dir.path());
    let d = &r["drift"];
    assert_eq!(d["plateau"], 1, "{d}");
    assert!(f(&d["drift"]).unwrap().abs() < 0.2, "{d}");
    let p = &r["plateaus"][0];
    let line = format!(
        "- p95 drift over plateau 1 ({} req/s, {} – {}): {} in the first {:.0} s, {} in the last: {}.",
        rate(f(&p["load"])),
        offset(p["from_unix_ms"].as_i64(), r["started_unix_ms"].as_i64().unwrap()),
        offset(p["to_unix_ms"].as_i64(), r["started_unix_ms"].as_i64().unwrap()),
        secs(f(&d["early_p95_s"])),
        f(&d["quarter_s"]).unwrap(),
        secs(f(&d["late_p95_s"])),
        pct(f(&d["drift"])),
    );
    assert!(md.contains(&line), "{line} not in\n{md}");
    assert_eq!(p["p95_drift"], d["drift"]);

    let (dir, rec) = run_dir("steps");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let (r, md) = report(dir.path());
    let note = r["drift"]["note"].as_str().unwrap();
    assert!(
        note.contains("5 levels") && note.contains("per plateau"),
        "{note}"
    );
    assert!(
        md.contains(&format!("- p95 drift: not measured: {note}.")),
        "{md}"
    );
    for p in r["plateaus"].as_array().unwrap() {
        let drift = f(&p["p95_drift"]).unwrap_or_else(|| panic!("no drift in {p}"));
        // Below capacity (40 req/s) p95 holds; at and above it, it climbs while the load holds.
        if f(&p["offered_rps"]).unwrap() < 35.0 {
            assert!(drift.abs() < 0.2, "{p}");
        } else {
            assert!(drift > 0.5, "{p}");
        }
        eprintln!("step {}: p95 drift {}", p["index"], pct(Some(drift)));
    }
    assert!(md.contains("| p99.9 | p95 drift |"), "{md}");
}

/// Raw samples of every bucket of `family` as (le, [(t, v)]).
fn buckets(rec: &Recording, family: &str) -> Vec<(f64, Vec<(i64, f64)>)> {
    let name = format!("{family}_bucket");
    let mut out: Vec<(f64, Vec<(i64, f64)>)> = Vec::new();
    for r in &rec.records {
        if let Record::Event(SourceEvent::Samples { samples, .. }) = r {
            for s in samples
                .iter()
                .filter(|s| s.labels.name() == Some(name.as_str()))
            {
                let le: f64 = s.labels.get("le").unwrap().parse().unwrap();
                match out.iter_mut().find(|b| b.0 == le) {
                    Some(b) => b.1.push((s.t, s.value)),
                    None => out.push((le, vec![(s.t, s.value)])),
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// histogram_quantile over (from, to], from each bucket's first and last sample in it. The
/// extrapolation Prometheus adds scales every bucket alike when they are scraped together,
/// so the quantile is the same.
fn quantile_over(b: &[(f64, Vec<(i64, f64)>)], from: i64, to: i64, q: f64) -> f64 {
    let counts: Vec<(f64, f64)> = b
        .iter()
        .map(|(le, pts)| {
            let inside: Vec<f64> = pts
                .iter()
                .filter(|p| p.0 > from && p.0 <= to)
                .map(|p| p.1)
                .collect();
            (*le, inside.last().unwrap() - inside.first().unwrap())
        })
        .collect();
    let total = counts.last().unwrap().1;
    let rank = q * total;
    let i = counts.iter().position(|c| c.1 >= rank).unwrap();
    if i == counts.len() - 1 {
        return counts[i - 1].0;
    }
    let (lo, prev) = if i == 0 {
        (0.0, 0.0)
    } else {
        (counts[i - 1].0, counts[i - 1].1)
    };
    lo + (counts[i].0 - lo) * (rank - prev) / (counts[i].1 - prev)
}

#[test]
fn stepped_run_gets_a_row_per_step_with_quantiles_as_histogram_quantile_gives() {
    let (dir, rec_path) = run_dir("steps");
    let o = slitop(&["report", rec_path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (r, md) = report(dir.path());
    let rows = r["plateaus"].as_array().unwrap();
    let levels: Vec<f64> = rows.iter().map(|p| f(&p["load"]).unwrap()).collect();
    // k6 offered 10, 20, 30, 40 and 50 req/s for 20 s each; on the last step it could not
    // start VUs fast enough (it dropped iterations, which the report warns about), so the
    // gateway saw less than 50 but still more than capacity.
    assert_eq!(levels.len(), 5, "{levels:?}");
    for (l, want) in levels.iter().zip([10.0, 20.0, 30.0, 40.0]) {
        assert!((l - want).abs() / want < 0.05, "{levels:?}");
    }
    assert!(levels[4] > 42.0 && levels[4] <= 50.0, "{levels:?}");
    assert!(r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["id"] == "load_generator_behind"));
    assert_eq!(r["profile"]["shape"], "steps");
    let rec = Recording::read(&rec_path).unwrap();
    let hop = buckets(&rec, "hop_latency_seconds");
    for p in rows {
        let (from, to) = (
            p["from_unix_ms"].as_i64().unwrap(),
            p["to_unix_ms"].as_i64().unwrap(),
        );
        for (q, key) in [
            (0.5, "p50"),
            (0.9, "p90"),
            (0.95, "p95"),
            (0.99, "p99"),
            (0.999, "p99_9"),
        ] {
            let got = f(&p["latency"][key]).unwrap();
            let want = quantile_over(&hop, from, to, q);
            assert!(
                (got - want).abs() <= 1e-9 + 1e-6 * want,
                "plateau {} {key}: {got} vs {want}",
                p["index"]
            );
        }
        // Below capacity (40 req/s) the pipeline keeps up; above it, it cannot.
        let (offered, achieved) = (
            f(&p["offered_rps"]).unwrap(),
            f(&p["achieved_rps"]).unwrap(),
        );
        if offered < 35.0 {
            assert!((achieved / offered - 1.0).abs() < 0.05, "{p}");
        }
        if offered > 45.0 {
            assert!(achieved < 42.0, "{p}");
        }
        let line = format!(
            "| {} | {} – {} | {} | {} req/s |",
            p["index"],
            offset(Some(from), r["started_unix_ms"].as_i64().unwrap()),
            offset(Some(to), r["started_unix_ms"].as_i64().unwrap()),
            rate(f(&p["load"])),
            rate(Some(offered)),
        );
        assert!(md.contains(&line), "{line} not in\n{md}");
        eprintln!(
            "step {}: offered {:.1} achieved {:.1} p50 {} p95 {} p99 {} p99.9 {} queue p95 {} service {} errors {} peak queue {}",
            p["index"],
            offered,
            achieved,
            secs(f(&p["latency"]["p50"])),
            secs(f(&p["latency"]["p95"])),
            secs(f(&p["latency"]["p99"])),
            secs(f(&p["latency"]["p99_9"])),
            secs(f(&p["histograms"]["queue_delay_seconds"]["p95"])),
            secs(f(&p["service_mean_s"])),
            pct(f(&p["error_rate"])),
            count(f(&p["peak_queue"])),
        );
    }
    // The CSV and JSON exports hold the same rows.
    let csv = std::fs::read_to_string(dir.path().join("plateaus.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + rows.len());
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for (line, p) in lines[1..].iter().zip(rows) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len());
        // serde_json's default float parsing may land one ulp off the shortest form written.
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
        let p95: f64 = cells[col("latency_p95_s")].parse().unwrap();
        assert!(same(p95, f(&p["latency"]["p95"]).unwrap()), "{p95}");
        let off: f64 = cells[col("offered_rps")].parse().unwrap();
        assert!(same(off, f(&p["offered_rps"]).unwrap()), "{off}");
    }
    let j: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("plateaus.json")).unwrap())
            .unwrap();
    assert_eq!(&j["plateaus"], &r["plateaus"]);
    assert!(md.contains("[plateaus.csv](plateaus.csv)"));
}

#[test]
fn report_writes_to_out_and_bad_input_is_a_clear_error() {
    let (_dir, rec) = run_dir("baseline");
    let out = tempfile::tempdir().unwrap();
    let o = slitop(&[
        "report",
        rec.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.path().join("report.md").is_file());
    let o = slitop(&["report", "/nonexistent/recording.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/recording.jsonl"),
        "{}",
        stderr(&o)
    );
    let bad = out.path().join("bad.jsonl");
    let text = std::fs::read_to_string(fixture("baseline")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "{\"k\": \"tick\", \"t\": \"soon\"}";
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let o = slitop(&["report", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.jsonl:3:"), "{}", stderr(&o));
}

fn slitop(args: &[&str]) -> std::process::Output {
    common::run_slitop(args, &[])
}

fn stderr(o: &std::process::Output) -> String {
    common::stderr_of(o)
}

/// Little's law on a real recording of the demo: while healthy, requests in flight ≈
/// throughput × latency, so no warning. The same recording with the in-flight gauge scaled
/// tenfold (a gauge of something else) is flagged, with the signals named.
#[test]
fn littles_law_holds_on_the_demo_and_a_wrong_gauge_is_flagged() {
    let text = std::fs::read_to_string(fixture("ramp")).unwrap();
    let rec = Recording::parse(&text, "ramp.jsonl").unwrap();
    let (state, _) = slitop::run::replay::replay_into(&rec).unwrap();
    let (r, n, _) = slitop::report::littles_law::ratio(&state).unwrap();
    assert!(n >= 10 && (0.5..=2.0).contains(&r), "ratio {r} over {n}");
    assert!(slitop::report::littles_law::check(&state, 0).is_none());

    // The gauge's series id, from the recording itself.
    let id = text
        .lines()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .find(|v| v["k"] == "series" && v["labels"]["__name__"] == "axum_http_requests_pending")
        .and_then(|v| v["id"].as_i64())
        .unwrap();
    let scaled: String = text
        .lines()
        .map(|l| {
            let mut v: Json = serde_json::from_str(l).unwrap();
            if v["k"] == "samples" {
                for s in v["s"].as_array_mut().unwrap() {
                    if s[0].as_i64() == Some(id) {
                        s[2] = Json::from(s[2].as_f64().unwrap() * 10.0);
                    }
                }
            }
            v.to_string() + "\n"
        })
        .collect();
    let rec = Recording::parse(&scaled, "scaled.jsonl").unwrap();
    let (state, _) = slitop::run::replay::replay_into(&rec).unwrap();
    let w = slitop::report::littles_law::check(&state, 0).expect("a warning");
    assert!(w.text.contains("in_flight vs"), "{}", w.text);
}

/// A closed loop (the demo's VU ramp, 4 workers at 100 ms: 40 req/s) gets a concurrency
/// model in report.json and report.md: the fitted limit within 5% of the real one; an open
/// loop (the arrival-rate ramp) gets none.
#[test]
fn a_vu_ramp_is_modelled_and_an_arrival_ramp_is_not() {
    let (_d, rec) = run_dir("vu-ramp");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let (j, md) = report(rec.parent().unwrap());
    let m = &j["concurrency_model"];
    assert_eq!(m["trusted"], true, "{m}");
    let max = f(&m["max_throughput_rps"]).unwrap();
    assert!((max - 40.0).abs() / 40.0 < 0.05, "{m}");
    let (lo, hi) = (
        f(&m["max_throughput_range"][0]).unwrap(),
        f(&m["max_throughput_range"][1]).unwrap(),
    );
    assert!(lo <= max && max <= hi, "{m}");
    assert!(md.contains("Concurrency model: at most"), "{md}");
    let (_d, rec) = run_dir("ramp");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let (j, _) = report(rec.parent().unwrap());
    assert!(
        j.get("concurrency_model").is_none(),
        "{}",
        j["concurrency_model"]
    );
}

/// A closed loop's knee read from its VUs' cycle says so: their think time and unloaded
/// latency in report.json, and the rate each VU keeps in report.md. An arrival-rate ramp's
/// knee, in req/s, has none.
#[test]
fn a_knee_read_from_the_vus_cycle_gives_it() {
    let (_d, rec) = run_dir("vu-ramp-slow-think");
    // Its p95 gate (the preset's 2 s) fails past the wall: exit 3, the report written.
    assert_eq!(
        slitop(&["report", rec.to_str().unwrap()]).status.code(),
        Some(3)
    );
    let (j, md) = report(rec.parent().unwrap());
    let c = &j["knee"]["vu_cycle"];
    let (think, unloaded) = (
        f(&c["think_s"]).unwrap(),
        f(&c["unloaded_latency_s"]).unwrap(),
    );
    assert!((think - 0.25).abs() < 0.01, "{c}");
    assert!((0.15..0.2).contains(&unloaded), "{c}");
    let knee = f(&j["knee"]["load"]).unwrap();
    let cap = f(&j["capacity_rps"]).unwrap();
    assert!((knee - cap * (think + unloaded)).abs() < 1e-6, "{j}");
    assert!(md.contains("Each VU thinks 251 ms per request"), "{md}");
    let (_d, rec) = run_dir("ramp");
    assert!(slitop(&["report", rec.to_str().unwrap()]).status.success());
    let (j, _) = report(rec.parent().unwrap());
    assert!(j["knee"].get("vu_cycle").is_none(), "{}", j["knee"]);
}

/// A stage out of the saturation sequence carries its reason in report.json and under the
/// stage table; the ramp, in order, has neither.
#[test]
fn a_stage_out_of_sequence_is_explained_in_the_report() {
    let (dir, rec) = run_dir("burst-hop");
    slitop(&["report", rec.to_str().unwrap()]);
    let (r, md) = report(dir.path());
    let plateau = r["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "plateau")
        .unwrap();
    let why = plateau["out_of_sequence"].as_str().unwrap();
    assert!(why.starts_with("confirmed"), "{why}");
    assert!(md.contains("Out of sequence:"), "{md}");
    assert!(md.contains(&format!("- 4 plateau: {why}")), "{md}");
    let (dir, rec) = run_dir("ramp");
    slitop(&["report", rec.to_str().unwrap()]);
    let (r, md) = report(dir.path());
    assert!(r["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s.get("out_of_sequence").is_none()));
    assert!(!md.contains("Out of sequence"), "{md}");
}
