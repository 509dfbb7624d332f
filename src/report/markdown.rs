//! `report.md`: the report for a ticket, rendered from the report's data alone (a pure
//! function, so a rebuilt report reads the same as the live one).

use std::fmt::Write;

use super::data::{AsReport, Drift, Evidence, Knee, Plateau, Report, Stage, Summary};
use super::format::{cell, clock, code, count, in_unit, offset, pct, rate, secs};

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

pub fn render(report: &impl AsReport) -> String {
    let r = &*report.as_report();
    let mut o = String::new();
    let start = r.started_unix_ms.unwrap_or(0);
    let scenario = r.meta.scenario.as_deref().unwrap_or("unnamed run");
    let _ = writeln!(o, "# slitop report: {}\n", cell(scenario));
    run(&mut o, r, start);
    result(&mut o, r, start);
    gates(&mut o, r);
    if let Some(c) = &r.comparison {
        let _ = writeln!(
            o,
            "## Against the baseline\n\n{}",
            super::compare::markdown(c)
        );
    }
    stages(&mut o, r, start);
    knee(&mut o, r, start);
    plots(&mut o, r);
    plateaus(&mut o, r, start);
    triage(&mut o, r);
    annotations(&mut o, r, start);
    warnings(&mut o, r, start);
    exports(&mut o, r);
    o
}

/// "–" for an empty list, else its items joined.
fn or_dash(items: Vec<String>, sep: &str) -> String {
    if items.is_empty() {
        "–".into()
    } else {
        items.join(sep)
    }
}

fn run(o: &mut String, r: &Report, start: i64) {
    let m = &r.meta;
    let _ = writeln!(o, "## Run\n\n| | |\n|---|---|");
    let row = |o: &mut String, k: &str, v: String| {
        let _ = writeln!(o, "| {k} | {} |", cell(&v));
    };
    row(o, "scenario", m.scenario.as_deref().unwrap_or("–").into());
    let load = format!("{}, {}", r.profile.model, r.profile.text);
    row(o, "load profile", load);
    row(o, "started", clock(Some(start)));
    row(o, "duration", format!("{:.0} s", r.duration_s));
    let service = m.service_version.as_deref().unwrap_or("–");
    row(o, "service version", service.into());
    let sources = r.sources.iter().map(|(k, v)| format!("{k} {v}")).collect();
    row(o, "sources", or_dash(sources, "; "));
    let mut version = format!("slitop {}", r.slitop_version);
    if !r.recorded_by.is_empty() && r.recorded_by != r.slitop_version {
        version += &format!(" (recorded by {})", r.recorded_by);
    }
    row(o, "version", version);
    if !m.tags.is_empty() {
        let t: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        row(o, "tags", t.join(", "));
    }
    let flags = match m.args.is_empty() {
        true => "–".into(),
        false => code(&m.args.join(" ")),
    };
    let _ = writeln!(o, "| flags | {flags} |");
    o.push('\n');
}

fn result(o: &mut String, r: &Report, start: i64) {
    let _ = writeln!(o, "## Result\n");
    let sm = match &r.summary {
        Summary::NoLoad { note } => {
            let _ = writeln!(o, "{note}\n");
            return;
        }
        Summary::Loaded(sm) => sm,
    };
    let _ = writeln!(
        o,
        "Over the loaded run ({} to {}; latency from {}):\n",
        offset(Some(sm.from_unix_ms), start),
        offset(Some(sm.to_unix_ms), start),
        sm.latency_basis.text()
    );
    let _ = writeln!(o, "| p50 | p95 | p99 | error rate | throughput (mean) | throughput (peak) |\n|---|---|---|---|---|---|");
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} req/s | {} req/s |\n",
        secs(sm.p50_s),
        secs(sm.p95_s),
        secs(sm.p99_s),
        pct(sm.error_rate),
        rate(sm.throughput_mean_rps),
        rate(sm.throughput_peak_rps),
    );
    if let Some(p) = &sm.at_peak_load {
        let _ = writeln!(
            o,
            "At peak load ({} {}): throughput {} req/s, backlog {}, in flight {}, consumers {}, service time {}, utilisation {}, p95 {}.\n",
            rate(p.load),
            sm.load_unit,
            rate(p.throughput_rps),
            count(p.backlog),
            count(p.in_flight),
            count(p.consumers),
            secs(p.service_s),
            pct(p.utilisation),
            secs(p.p95_s),
        );
    }
}

fn gates(o: &mut String, r: &Report) {
    let _ = writeln!(o, "## Gates\n");
    if r.gates.is_empty() {
        let _ = writeln!(
            o,
            "No gates configured (`[gates]` in the config, or `--gate-*` flags).\n"
        );
        return;
    }
    let failed = r.failed_gates().count();
    let _ = writeln!(
        o,
        "{}\n\n| gate | result | value | limit | note |\n|---|---|---|---|---|",
        if failed == 0 {
            "All gates passed.".to_string()
        } else {
            format!("**{failed} gate(s) failed.**")
        }
    );
    for g in &r.gates {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            g.name,
            if g.passed { "✔ pass" } else { "✘ FAIL" },
            in_unit(g.value, g.unit),
            in_unit(Some(g.limit), g.unit),
            cell(g.note.as_deref().unwrap_or("")),
        );
    }
    for s in r.gates.iter().filter_map(|g| g.slo.as_ref()) {
        let failed = match s.failed.as_slice() {
            [] => "none".to_string(),
            f => super::slo::ranges_text(f),
        };
        let _ = writeln!(
            o,
            "\nSLO {}: {} of {} s good from {} to {}; seconds that failed: {failed}.",
            code(&s.objective),
            s.good_s,
            s.judged_s,
            super::slo::mmss(s.from_s),
            super::slo::mmss(s.to_s),
        );
    }
    if let Some(b) = &r.baseline {
        let _ = match &b.error {
            Some(e) => writeln!(
                o,
                "\nBaseline `{}` could not be read: {}",
                cell(&b.path),
                cell(e)
            ),
            None => writeln!(o, "\nBaseline: `{}`.", cell(&b.path)),
        };
    }
    o.push('\n');
}

fn stages(o: &mut String, r: &Report, start: i64) {
    let _ = writeln!(o, "## Saturation sequence\n\n| # | stage | state | onset | confirmed | cleared | evidence |\n|---|---|---|---|---|---|---|");
    for st in &r.stages {
        stage_row(o, st, start);
    }
    let odd: Vec<(&Stage, &str)> = r
        .stages
        .iter()
        .filter_map(|s| Some((s, s.out_of_sequence.as_deref()?)))
        .collect();
    if !odd.is_empty() {
        let _ = writeln!(o, "\nOut of sequence:\n");
        for (st, why) in odd {
            let _ = writeln!(o, "- {} {}: {}", st.number, st.id.id(), cell(why));
        }
    }
    if let Some(t) = r.p95_crit_unix_ms {
        let _ = writeln!(
            o,
            "\np95 passed the critical level ({}) at {}.",
            secs(Some(r.detect.p95_crit_s)),
            offset(Some(t), start)
        );
    }
    o.push('\n');
}

fn stage_row(o: &mut String, st: &Stage, start: i64) {
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} |",
        st.number,
        st.id.id(),
        st.state.word(),
        offset(st.onset_unix_ms, start),
        offset(st.confirmed_unix_ms, start),
        offset(st.cleared_unix_ms, start),
        cell(st.evidence.as_deref().unwrap_or("")),
    );
}

fn knee(o: &mut String, r: &Report, start: i64) {
    let _ = writeln!(o, "## Knee, capacity and scaling\n");
    let _ = match &r.knee {
        Some(k) => writeln!(o, "{}", knee_line(k, r.knee_at.as_ref(), start)),
        None => writeln!(o, "- Knee: not reached (throughput kept up with the load)."),
    };
    let _ = match r.capacity_rps {
        Some(c) => writeln!(
            o,
            "- Capacity: {} req/s ({}).",
            rate(Some(c)),
            r.capacity_basis
                .unwrap_or(crate::detect::summary::CapacityBasis::Plateau)
                .describe()
        ),
        None => writeln!(o, "- Capacity: not reached (no plateau)."),
    };
    let _ = match &r.scaling {
        Some(sc) => writeln!(
            o,
            "- Measured service time: {}; at λ = {} req/s and target utilisation U = {}, workers needed = ceil(λ · t / U) = **{}**{}.",
            secs(Some(sc.mean_service_s)),
            rate(Some(sc.lambda_rps)),
            sc.utilisation,
            sc.workers_needed,
            sc.consumers_now.map(|c| format!(" (consumers now: {c:.0})")).unwrap_or_default()
        ),
        None => writeln!(
            o,
            "- Scaling: no service-time signal (role `service_time`), so no worker count."
        ),
    };
    if let Some(m) = &r.concurrency_model {
        let _ = writeln!(o, "- {}", concurrency_line(m));
    }
    let _ = writeln!(o, "- Drain: {}.", drain(r));
    if let Some(d) = &r.drift {
        let _ = writeln!(o, "- p95 drift{}.", drift(r, d, start));
    }
    o.push('\n');
}

/// The closed loop's fitted limit: the throughput it predicts at most and where, with the
/// range over resamples; or why the fit is not to be trusted yet.
pub fn concurrency_line(m: &crate::detect::concurrency::ConcurrencyModel) -> String {
    let fit = format!(
        "USL fit of throughput against {} (λ {:.3}, σ {:.4}, κ {:.6}, R² {:.3}, {} levels)",
        m.unit, m.lambda, m.sigma, m.kappa, m.r2, m.levels
    );
    if let Some(why) = &m.why_not {
        return format!("Concurrency model: not trusted: {}. {fit}.", cell(why));
    }
    let range = |r: Option<(f64, f64)>| {
        r.map(|(a, b)| format!(" ({}–{})", rate(Some(a)), rate(Some(b))))
            .unwrap_or_default()
    };
    let at = match m.peak_concurrency {
        Some(n) => format!(
            " at {n:.0} {}{}, where the fitted curve peaks",
            m.unit,
            range(m.peak_concurrency_range)
        ),
        None => " as concurrency grows (no peak: it levels off)".into(),
    };
    format!(
        "Concurrency model: at most **{} req/s**{}{at}. {fit}.",
        rate(m.max_throughput_rps),
        range(m.max_throughput_range)
    )
}

/// The drift line after "p95 drift": over which level, and how much; or why it was not measured.
fn drift(r: &Report, d: &Drift, start: i64) -> String {
    let f = match d {
        Drift::NotMeasured { note } => return format!(": not measured: {}", cell(note)),
        Drift::Measured(f) => f,
    };
    let over = match r.plateaus.iter().find(|p| p.index == f.plateau) {
        Some(p) => format!(
            " over plateau {} ({} {}, {} – {})",
            p.index,
            rate(Some(p.load)),
            p.load_unit,
            offset(Some(p.from_unix_ms), start),
            offset(Some(p.to_unix_ms), start)
        ),
        None => String::new(),
    };
    format!(
        "{over}: {} in the first {:.0} s, {} in the last: {}",
        secs(f.early_p95_s),
        f.quarter_s,
        secs(f.late_p95_s),
        pct(f.drift)
    )
}

fn knee_line(k: &Knee, at: Option<&Knee>, start: i64) -> String {
    let then = match (at.and_then(|a| a.offered_rps), at.and_then(|a| a.vus)) {
        (Some(o), Some(v)) => format!(
            "; offered {} req/s and {} VUs then",
            rate(Some(o)),
            rate(Some(v))
        ),
        (Some(o), None) => format!("; offered {} req/s then", rate(Some(o))),
        (None, Some(v)) => format!("; {} VUs then", rate(Some(v))),
        _ => String::new(),
    };
    let cycle = k.vu_cycle.as_ref().map_or(String::new(), |c| {
        format!(
            " Each VU thinks {} per request and waits {} for it unloaded: {} req/s each.",
            secs(Some(c.think_s)),
            secs(Some(c.unloaded_latency_s)),
            rate(c.per_vu_rps())
        )
    });
    format!(
        "- Knee: {} {} at {} (onset of decoupling{then}).{cycle}",
        rate(k.load),
        k.load_unit,
        offset(Some(k.unix_ms), start)
    )
}

fn drain(r: &Report) -> String {
    if !r.backlog.seen {
        return "no queue or backlog signal".into();
    }
    let p = r.backlog.peak();
    let peak = count(p.map(|p| p.peak));
    match p {
        Some(p) if !p.piled_up => "the backlog never piled up".into(),
        Some(p) if p.drain_s.is_some() => format!(
            "{} from the backlog's peak of {peak} until it was empty",
            secs(p.drain_s),
        ),
        _ => format!("the backlog (peak {peak}) had not drained when the run ended"),
    }
}

fn plots(o: &mut String, r: &Report) {
    let _ = writeln!(o, "## Plots\n");
    let mut any = false;
    for (file, title) in [
        (
            &r.files.envelope_svg,
            "Latency envelope: p95 and p99 against offered load",
        ),
        (&r.files.queue_svg, "Queue depth and load over time"),
    ] {
        if let Some(p) = file {
            let _ = writeln!(o, "![{title}]({p})\n");
            any = true;
        }
    }
    if let Some(e) = &r.plot_error {
        let _ = writeln!(o, "Plots could not be drawn: {}\n", cell(e));
    } else if !any {
        let _ = writeln!(o, "No plots: the run had no load or latency data.\n");
    }
}

fn plateaus(o: &mut String, r: &Report, start: i64) {
    let _ = writeln!(o, "## Load plateaus\n");
    let Some(first) = r.plateaus.first() else {
        let _ = writeln!(
            o,
            "No load plateaus: the load never held within {} of a level for {:.0} s (a linear ramp has none).\n",
            pct(Some(r.plateau_rule.tolerance)),
            r.plateau_rule.min_s
        );
        return;
    };
    let lat = first.latency_histogram.as_deref().unwrap_or("latency");
    // Other histograms get a p95 column each, named by their family.
    let others: Vec<&str> = first
        .histograms
        .keys()
        .map(String::as_str)
        .filter(|k| *k != lat)
        .collect();
    let _ = write!(o, "Latency quantiles are over each plateau, as `histogram_quantile` over the buckets' increase across it (`{lat}`); p95 drift is its last quarter's p95 against its first's.\n\n| # | span | load ({}) | offered | achieved | p50 | p90 | p95 | p99 | p99.9 | p95 drift |", first.load_unit);
    for h in &others {
        let _ = write!(o, " {h} p95 |");
    }
    let _ = writeln!(
        o,
        " service (mean) | errors | peak queue | peak in flight |"
    );
    let _ = writeln!(o, "|{}", "---|".repeat(15 + others.len()));
    for p in &r.plateaus {
        plateau_row(o, p, &others, start);
    }
    if let (Some(c), Some(j)) = (&r.files.plateaus_csv, &r.files.plateaus_json) {
        let _ = writeln!(
            o,
            "\nThe same table for long-term tracking: [{c}]({c}), [{j}]({j})."
        );
    }
    o.push('\n');
}

fn plateau_row(o: &mut String, p: &Plateau, others: &[&str], start: i64) {
    let l = p.latency.unwrap_or_default();
    let _ = write!(
        o,
        "| {} | {} – {} | {} | {} req/s | {} req/s ({}) | {} | {} | {} | {} | {} | {} |",
        p.index,
        offset(Some(p.from_unix_ms), start),
        offset(Some(p.to_unix_ms), start),
        rate(Some(p.load)),
        rate(p.offered_rps),
        rate(p.achieved_rps),
        pct(p.achieved_ratio),
        secs(l.p50),
        secs(l.p90),
        secs(l.p95),
        secs(l.p99),
        secs(l.p99_9),
        pct(p.p95_drift),
    );
    for h in others {
        let _ = write!(o, " {} |", secs(p.histograms.get(*h).and_then(|q| q.p95)));
    }
    let _ = writeln!(
        o,
        " {} | {} | {} | {} |",
        secs(p.service_mean_s),
        pct(p.error_rate),
        count(p.peak_queue),
        count(p.peak_in_flight),
    );
}

fn triage(o: &mut String, r: &Report) {
    let _ = writeln!(o, "## Triage\n");
    if r.triage.is_empty() {
        let _ = writeln!(
            o,
            "Latency did not rise (p95_high never held): nothing to triage.\n"
        );
        return;
    }
    let _ = writeln!(o, "Latency rose. Check, in this order:\n");
    for (i, a) in r.triage.iter().enumerate() {
        let ev: Vec<String> = a.evidence.iter().map(evidence).collect();
        let line = if !ev.is_empty() {
            format!("**points here**: {}", ev.join("; "))
        } else if a.covered {
            "its signals stayed flat".to_string()
        } else {
            format!("no signal covers it ({})", a.hint.as_deref().unwrap_or(""))
        };
        let _ = writeln!(o, "{}. {}: {line}", i + 1, a.title);
    }
    o.push('\n');
}

fn evidence(e: &Evidence) -> String {
    match e {
        Evidence::Signal {
            signal,
            before,
            max,
            unit,
        } => format!(
            "`{signal}` rose from {} before the knee to {} at its worst",
            in_unit(Some(*before), *unit),
            in_unit(Some(*max), *unit)
        ),
        Evidence::Warning { text, .. } => cell(text),
    }
}

fn annotations(o: &mut String, r: &Report, start: i64) {
    let _ = writeln!(o, "## Annotations\n");
    if r.annotations.is_empty() {
        let _ = writeln!(o, "None.\n");
        return;
    }
    let mut a: Vec<_> = r.annotations.iter().collect();
    a.sort_by_key(|x| x.unix_ms);
    for x in a {
        let _ = writeln!(o, "- {} {}", offset(Some(x.unix_ms), start), cell(&x.text));
    }
    o.push('\n');
}

fn warnings(o: &mut String, r: &Report, start: i64) {
    let _ = writeln!(o, "## Warnings\n");
    if r.warnings.is_empty() {
        let _ = writeln!(o, "None.\n");
        return;
    }
    for w in &r.warnings {
        let _ = writeln!(
            o,
            "- {} `{}`: {}",
            offset(Some(w.unix_ms), start),
            w.id,
            cell(&w.text)
        );
    }
    o.push('\n');
}

fn exports(o: &mut String, r: &Report) {
    if r.exports.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Exports\n");
    for x in &r.exports {
        let status = if x.ok {
            "ok".to_string()
        } else {
            format!("FAILED: {}", x.error.as_deref().unwrap_or(""))
        };
        let _ = writeln!(
            o,
            "- {} {}: {} ({} attempt(s))",
            x.target,
            cell(&x.url),
            cell(&status),
            x.attempts
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
    fn outside_text_runs_no_escape_and_makes_no_markup() {
        let evil =
            "\u{1b}]0;pwned\u{7}\u{1b}[2J<img src=x onerror=alert(1)> [click](http://x) `code` a|b";
        let r = json!({
            "meta": {"scenario": evil, "tags": {"team": evil}, "args": ["--tag", evil]},
            "annotations": [{"unix_ms": 5, "text": evil}],
            "warnings": [{"id": "w", "unix_ms": 5, "text": evil}],
            "started_unix_ms": 0
        });
        let md = render(&r);
        assert!(!md.contains('\u{1b}') && !md.contains('\u{7}'), "{md:?}");
        // Outside a code span every `<` is escaped; inside one it is only text.
        let prose: String = md.lines().filter(|l| !l.starts_with("| flags")).collect();
        assert_eq!(
            prose.matches("<img").count(),
            prose.matches("\\<img").count(),
            "{md}"
        );
        assert!(
            !prose.contains(" [click](") && prose.contains("\\[click\\](http://x)"),
            "{md}"
        );
        assert!(!prose.contains(" `code` "), "{md}");
        let flags = md.lines().find(|l| l.starts_with("| flags |")).unwrap();
        assert!(flags.starts_with("| flags | `` --tag"), "{flags}");
        // Every table row keeps its two cells.
        for l in md.lines().filter(|l| {
            l.starts_with("| scenario") || l.starts_with("| tags") || l.starts_with("| flags")
        }) {
            let bars = l.chars().filter(|c| *c == '|').count();
            let escaped = l.matches("\\|").count();
            assert_eq!(bars - escaped, 3, "{l}");
        }
    }

    #[test]
    fn table_cells_cannot_break_the_table() {
        let r = json!({"annotations": [{"unix_ms": 5, "text": "a | b\nc"}], "started_unix_ms": 0});
        assert!(render(&r).contains("- +0.0 s a \\| b c"));
    }
}
