//! `report.md`: the report for a ticket, rendered from report.json's data alone (a pure
//! function, so a rebuilt report reads the same as the live one).

use std::fmt::Write;

use serde_json::Value as Json;

use super::format::{cell, clock, count, f, gate_value, offset, pct, rate, secs};

/// Section headings, in order; tests check every one is present.
pub const SECTIONS: [&str; 10] = [
    "## Run",
    "## Result",
    "## Gates",
    "## Saturation sequence",
    "## Knee, capacity and scaling",
    "## Plots",
    "## Load plateaus",
    "## Triage",
    "## Annotations",
    "## Warnings",
];

fn s(v: &Json) -> &str {
    v.as_str().unwrap_or("")
}

pub fn render(r: &Json) -> String {
    let mut o = String::new();
    let start = r["started_unix_ms"].as_i64().unwrap_or(0);
    let scenario = r["meta"]["scenario"].as_str().unwrap_or("unnamed run");
    let _ = writeln!(o, "# slitop report: {}\n", cell(scenario));
    run(&mut o, r, start);
    result(&mut o, r);
    gates(&mut o, r);
    stages(&mut o, r, start);
    knee(&mut o, r, start);
    plots(&mut o, r);
    plateaus(&mut o, r);
    triage(&mut o, r);
    annotations(&mut o, r, start);
    warnings(&mut o, r, start);
    exports(&mut o, r);
    o
}

fn run(o: &mut String, r: &Json, start: i64) {
    let m = &r["meta"];
    let _ = writeln!(o, "## Run\n\n| | |\n|---|---|");
    let row = |o: &mut String, k: &str, v: String| {
        let _ = writeln!(o, "| {k} | {} |", cell(&v));
    };
    row(o, "scenario", m["scenario"].as_str().unwrap_or("–").into());
    row(
        o,
        "load profile",
        format!(
            "{}, {}",
            s(&r["profile"]["model"]),
            s(&r["profile"]["text"])
        ),
    );
    row(o, "started", clock(Some(start)));
    row(
        o,
        "duration",
        format!("{:.0} s", f(&r["duration_s"]).unwrap_or(0.0)),
    );
    row(
        o,
        "service version",
        m["service_version"].as_str().unwrap_or("–").into(),
    );
    let sources: Vec<String> = r["sources"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k} {}", s(v))).collect())
        .unwrap_or_default();
    row(
        o,
        "sources",
        if sources.is_empty() {
            "–".into()
        } else {
            sources.join("; ")
        },
    );
    let mut version = format!("slitop {}", s(&r["slitop_version"]));
    if r["recorded_by"].is_string() && r["recorded_by"] != r["slitop_version"] {
        version += &format!(" (recorded by {})", s(&r["recorded_by"]));
    }
    row(o, "version", version);
    if let Some(tags) = m["tags"].as_object().filter(|t| !t.is_empty()) {
        let t: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={}", s(v))).collect();
        row(o, "tags", t.join(", "));
    }
    let args: Vec<&str> = m["args"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    row(
        o,
        "flags",
        if args.is_empty() {
            "–".into()
        } else {
            format!("`{}`", args.join(" "))
        },
    );
    o.push('\n');
}

fn result(o: &mut String, r: &Json) {
    let sm = &r["summary"];
    let _ = writeln!(o, "## Result\n");
    if let Some(n) = sm["note"].as_str() {
        let _ = writeln!(o, "{n}\n");
        return;
    }
    let unit = s(&sm["load_unit"]);
    let _ = writeln!(
        o,
        "Over the loaded run ({} to {}; latency from {}):\n",
        offset(
            sm["from_unix_ms"].as_i64(),
            r["started_unix_ms"].as_i64().unwrap_or(0)
        ),
        offset(
            sm["to_unix_ms"].as_i64(),
            r["started_unix_ms"].as_i64().unwrap_or(0)
        ),
        s(&sm["latency_basis"])
    );
    let _ = writeln!(o, "| p50 | p95 | p99 | error rate | throughput (mean) | throughput (peak) |\n|---|---|---|---|---|---|");
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} req/s | {} req/s |\n",
        secs(f(&sm["p50_s"])),
        secs(f(&sm["p95_s"])),
        secs(f(&sm["p99_s"])),
        pct(f(&sm["error_rate"])),
        rate(f(&sm["throughput_mean_rps"])),
        rate(f(&sm["throughput_peak_rps"])),
    );
    let p = &sm["at_peak_load"];
    if p.is_object() {
        let _ = writeln!(
            o,
            "At peak load ({} {unit}): throughput {} req/s, backlog {}, in flight {}, consumers {}, service time {}, utilisation {}, p95 {}.\n",
            rate(f(&p["load"])),
            rate(f(&p["throughput_rps"])),
            count(f(&p["backlog"])),
            count(f(&p["in_flight"])),
            count(f(&p["consumers"])),
            secs(f(&p["service_s"])),
            pct(f(&p["utilisation"])),
            secs(f(&p["p95_s"])),
        );
    }
}

fn gates(o: &mut String, r: &Json) {
    let _ = writeln!(o, "## Gates\n");
    let g = r["gates"].as_array().cloned().unwrap_or_default();
    if g.is_empty() {
        let _ = writeln!(
            o,
            "No gates configured (`[gates]` in the config, or `--gate-*` flags).\n"
        );
        return;
    }
    let failed = g
        .iter()
        .filter(|x| x["passed"] == Json::Bool(false))
        .count();
    let _ = writeln!(
        o,
        "{}\n\n| gate | result | value | limit | note |\n|---|---|---|---|---|",
        if failed == 0 {
            "All gates passed.".to_string()
        } else {
            format!("**{failed} gate(s) failed.**")
        }
    );
    for x in &g {
        let unit = s(&x["unit"]);
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            s(&x["name"]),
            if x["passed"] == Json::Bool(true) {
                "✔ pass"
            } else {
                "✘ FAIL"
            },
            gate_value(f(&x["value"]), unit),
            gate_value(f(&x["limit"]), unit),
            cell(x["note"].as_str().unwrap_or("")),
        );
    }
    if let Some(b) = r["baseline"].as_object() {
        let path = b.get("path").and_then(Json::as_str).unwrap_or("");
        match b.get("error").and_then(Json::as_str) {
            Some(e) => {
                let _ = writeln!(
                    o,
                    "\nBaseline `{}` could not be read: {}",
                    cell(path),
                    cell(e)
                );
            }
            None => {
                let _ = writeln!(o, "\nBaseline: `{}`.", cell(path));
            }
        }
    }
    o.push('\n');
}

fn stages(o: &mut String, r: &Json, start: i64) {
    let _ = writeln!(o, "## Saturation sequence\n\n| # | stage | state | onset | confirmed | cleared | evidence |\n|---|---|---|---|---|---|---|");
    for st in r["stages"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            st["number"],
            s(&st["id"]),
            s(&st["state"]),
            offset(st["onset_unix_ms"].as_i64(), start),
            offset(st["confirmed_unix_ms"].as_i64(), start),
            offset(st["cleared_unix_ms"].as_i64(), start),
            cell(st["evidence"].as_str().unwrap_or("")),
        );
    }
    if let Some(t) = r["p95_crit_unix_ms"].as_i64() {
        let _ = writeln!(
            o,
            "\np95 passed the critical level ({}) at {}.",
            secs(f(&r["detect"]["p95_crit_s"])),
            offset(Some(t), start)
        );
    }
    o.push('\n');
}

fn knee(o: &mut String, r: &Json, start: i64) {
    let _ = writeln!(o, "## Knee, capacity and scaling\n");
    match r["knee"].as_object() {
        Some(k) => {
            let at = &r["knee_at"];
            let then = match (f(&at["offered_rps"]), f(&at["vus"])) {
                (Some(o), Some(v)) => format!(
                    "; offered {} req/s and {} VUs then",
                    rate(Some(o)),
                    rate(Some(v))
                ),
                (Some(o), None) => format!("; offered {} req/s then", rate(Some(o))),
                (None, Some(v)) => format!("; {} VUs then", rate(Some(v))),
                _ => String::new(),
            };
            let _ = writeln!(
                o,
                "- Knee: {} {} at {} (onset of decoupling{then}).",
                rate(k.get("load").and_then(Json::as_f64)),
                k.get("load_unit").and_then(Json::as_str).unwrap_or(""),
                offset(k.get("unix_ms").and_then(Json::as_i64), start)
            );
        }
        None => {
            let _ = writeln!(o, "- Knee: not reached (throughput kept up with the load).");
        }
    }
    match f(&r["capacity_rps"]) {
        Some(c) => {
            let _ = writeln!(
                o,
                "- Capacity: {} req/s (median throughput on the plateau).",
                rate(Some(c))
            );
        }
        None => {
            let _ = writeln!(o, "- Capacity: not reached (no plateau).");
        }
    }
    let sc = &r["scaling"];
    if sc.is_object() {
        let _ = writeln!(
            o,
            "- Measured service time: {}; at λ = {} req/s and target utilisation U = {}, workers needed = ceil(λ · t / U) = **{}**{}.",
            secs(f(&sc["mean_service_s"])),
            rate(f(&sc["lambda_rps"])),
            f(&sc["utilisation"]).map(|u| format!("{u}")).unwrap_or_default(),
            sc["workers_needed"],
            f(&sc["consumers_now"]).map(|c| format!(" (consumers now: {c:.0})")).unwrap_or_default()
        );
    } else {
        let _ = writeln!(
            o,
            "- Scaling: no service-time signal (role `service_time`), so no worker count."
        );
    }
    let b = &r["backlog"];
    if b["seen"] == Json::Bool(true) {
        let drain = if b["piled_up"] == Json::Bool(false) {
            "the backlog never piled up".to_string()
        } else if let Some(d) = f(&b["drain_s"]) {
            format!(
                "{} from the backlog's peak of {} until it was empty",
                secs(Some(d)),
                count(f(&b["peak"]))
            )
        } else {
            format!(
                "the backlog (peak {}) had not drained when the run ended",
                count(f(&b["peak"]))
            )
        };
        let _ = writeln!(o, "- Drain: {drain}.");
    } else {
        let _ = writeln!(o, "- Drain: no queue or backlog signal.");
    }
    let d = &r["drift"];
    if d.is_object() {
        let _ = writeln!(
            o,
            "- p95 drift: {} in the first {:.0} s, {} in the last: {}.",
            secs(f(&d["early_p95_s"])),
            f(&d["quarter_s"]).unwrap_or(0.0),
            secs(f(&d["late_p95_s"])),
            pct(f(&d["drift"]))
        );
    }
    o.push('\n');
}

fn plots(o: &mut String, r: &Json) {
    let _ = writeln!(o, "## Plots\n");
    let files = &r["files"];
    let mut any = false;
    for (key, title) in [
        (
            "envelope_svg",
            "Latency envelope: p95 and p99 against offered load",
        ),
        ("queue_svg", "Queue depth and load over time"),
    ] {
        if let Some(p) = files[key].as_str() {
            let _ = writeln!(o, "![{title}]({p})\n");
            any = true;
        }
    }
    if let Some(e) = r["plot_error"].as_str() {
        let _ = writeln!(o, "Plots could not be drawn: {}\n", cell(e));
    } else if !any {
        let _ = writeln!(o, "No plots: the run had no load or latency data.\n");
    }
}

fn plateaus(o: &mut String, r: &Json) {
    let _ = writeln!(o, "## Load plateaus\n");
    let rows = r["plateaus"].as_array().cloned().unwrap_or_default();
    let rule = &r["plateau_rule"];
    if rows.is_empty() {
        let _ = writeln!(
            o,
            "No load plateaus: the load never held within {} of a level for {:.0} s (a linear ramp has none).\n",
            pct(f(&rule["tolerance"])),
            f(&rule["min_s"]).unwrap_or(0.0)
        );
        return;
    }
    let lat = rows[0]["latency_histogram"].as_str().unwrap_or("latency");
    // Other histograms get a p95 column each, named by their family.
    let others: Vec<String> = rows[0]["histograms"]
        .as_object()
        .map(|m| m.keys().filter(|k| k.as_str() != lat).cloned().collect())
        .unwrap_or_default();
    let unit = s(&rows[0]["load_unit"]);
    let _ = write!(o, "Latency quantiles are over each plateau, as `histogram_quantile` over the buckets' increase across it (`{lat}`).\n\n| # | span | load ({unit}) | offered | achieved | p50 | p90 | p95 | p99 | p99.9 |");
    for h in &others {
        let _ = write!(o, " {h} p95 |");
    }
    let _ = writeln!(
        o,
        " service (mean) | errors | peak queue | peak in flight |"
    );
    let _ = writeln!(o, "|{}", "---|".repeat(14 + others.len()));
    let start = r["started_unix_ms"].as_i64().unwrap_or(0);
    for p in &rows {
        let l = &p["latency"];
        let _ = write!(
            o,
            "| {} | {} – {} | {} | {} req/s | {} req/s ({}) | {} | {} | {} | {} | {} |",
            p["index"],
            offset(p["from_unix_ms"].as_i64(), start),
            offset(p["to_unix_ms"].as_i64(), start),
            rate(f(&p["load"])),
            rate(f(&p["offered_rps"])),
            rate(f(&p["achieved_rps"])),
            pct(f(&p["achieved_ratio"])),
            secs(f(&l["p50"])),
            secs(f(&l["p90"])),
            secs(f(&l["p95"])),
            secs(f(&l["p99"])),
            secs(f(&l["p99_9"])),
        );
        for h in &others {
            let _ = write!(o, " {} |", secs(f(&p["histograms"][h]["p95"])));
        }
        let _ = writeln!(
            o,
            " {} | {} | {} | {} |",
            secs(f(&p["service_mean_s"])),
            pct(f(&p["error_rate"])),
            count(f(&p["peak_queue"])),
            count(f(&p["peak_in_flight"])),
        );
    }
    let files = &r["files"];
    if let (Some(c), Some(j)) = (
        files["plateaus_csv"].as_str(),
        files["plateaus_json"].as_str(),
    ) {
        let _ = writeln!(
            o,
            "\nThe same table for long-term tracking: [{c}]({c}), [{j}]({j})."
        );
    }
    o.push('\n');
}

fn triage(o: &mut String, r: &Json) {
    let _ = writeln!(o, "## Triage\n");
    let t = r["triage"].as_array().cloned().unwrap_or_default();
    if t.is_empty() {
        let _ = writeln!(
            o,
            "Latency did not rise (p95_high never held): nothing to triage.\n"
        );
        return;
    }
    let _ = writeln!(o, "Latency rose. Check, in this order:\n");
    for (i, a) in t.iter().enumerate() {
        let title = s(&a["title"]);
        let ev: Vec<String> = a["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| match e["signal"].as_str() {
                Some(sig) => {
                    let (m, x) = (f(&e["before"]), f(&e["max"]));
                    let fmt = |v| match s(&e["unit"]) {
                        "s" => secs(v),
                        "ratio" => pct(v),
                        _ => rate(v),
                    };
                    format!(
                        "`{sig}` rose from {} before the knee to {} at its worst",
                        fmt(m),
                        fmt(x)
                    )
                }
                None => cell(s(&e["text"])),
            })
            .collect();
        let line = if !ev.is_empty() {
            format!("**points here**: {}", ev.join("; "))
        } else if a["covered"] == Json::Bool(true) {
            "its signals stayed flat".to_string()
        } else {
            format!("no signal covers it ({})", s(&a["hint"]))
        };
        let _ = writeln!(o, "{}. {title}: {line}", i + 1);
    }
    o.push('\n');
}

fn annotations(o: &mut String, r: &Json, start: i64) {
    let _ = writeln!(o, "## Annotations\n");
    let a = r["annotations"].as_array().cloned().unwrap_or_default();
    if a.is_empty() {
        let _ = writeln!(o, "None.\n");
        return;
    }
    let mut a = a;
    a.sort_by_key(|x| x["unix_ms"].as_i64().unwrap_or(0));
    for x in &a {
        let _ = writeln!(
            o,
            "- {} {}",
            offset(x["unix_ms"].as_i64(), start),
            cell(s(&x["text"]))
        );
    }
    o.push('\n');
}

fn warnings(o: &mut String, r: &Json, start: i64) {
    let _ = writeln!(o, "## Warnings\n");
    let w = r["warnings"].as_array().cloned().unwrap_or_default();
    if w.is_empty() {
        let _ = writeln!(o, "None.\n");
        return;
    }
    for x in &w {
        let _ = writeln!(
            o,
            "- {} `{}`: {}",
            offset(x["unix_ms"].as_i64(), start),
            s(&x["id"]),
            cell(s(&x["text"]))
        );
    }
    o.push('\n');
}

fn exports(o: &mut String, r: &Json) {
    let Some(e) = r["exports"].as_array().filter(|e| !e.is_empty()) else {
        return;
    };
    let _ = writeln!(o, "## Exports\n");
    for x in e {
        let status = if x["ok"] == Json::Bool(true) {
            "ok".to_string()
        } else {
            format!("FAILED: {}", s(&x["error"]))
        };
        let _ = writeln!(
            o,
            "- {} {}: {} ({} attempt(s))",
            s(&x["target"]),
            cell(s(&x["url"])),
            cell(&status),
            x["attempts"]
        );
    }
    o.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_report_still_has_every_section_and_says_why() {
        let md = render(&json!({}));
        for s in SECTIONS {
            assert!(md.contains(&format!("\n{s}\n")), "no {s} in\n{md}");
        }
        let md = render(&json!({"summary": {"note": "no load was seen: nothing to summarise"}}));
        assert!(md.contains("no load was seen"), "{md}");
        assert!(md.contains("Knee: not reached"), "{md}");
    }

    #[test]
    fn table_cells_cannot_break_the_table() {
        let r = json!({"annotations": [{"unix_ms": 5, "text": "a | b\nc"}], "started_unix_ms": 0});
        assert!(render(&r).contains("- +0.0 s a \\| b c"));
    }
}
