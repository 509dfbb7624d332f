//! `slitop check`: probe every configured source and each signal's query, print one line per
//! item — OK with latency, or the error and its likely cause — and fail when a source fails.

use std::collections::BTreeSet;

use crate::engine::{Engine, EngineError, Evaluator};
use crate::settings::Config;
use crate::sources::probe::ProbeItem;
use crate::sources::KINDS;

/// Runs every probe; returns the items and whether every required one passed. A signal that
/// does not compile is a configuration error, returned before anything is probed.
pub async fn run_checks(cfg: &Config) -> Result<(Vec<ProbeItem>, bool), EngineError> {
    let srcs = crate::sources::local_sources(cfg);
    let engine = Engine::new(
        &cfg.signals,
        srcs,
        crate::state::eval_options(cfg),
        cfg.refresh,
    )?;
    if !KINDS.iter().any(|k| k.enabled(cfg)) {
        let msg = format!(
            "no source configured: give {}, a --preset or a --config file",
            crate::sources::all_flags()
        );
        return Ok((vec![ProbeItem::fail("sources", msg)], false));
    }
    let remote = engine.remote_queries();
    let mut items: Vec<ProbeItem> =
        crate::sources::security::warnings(cfg, &|v| std::env::var(v).ok())
            .into_iter()
            .map(|w| {
                ProbeItem::ok(
                    "security",
                    std::time::Duration::ZERO,
                    format!("warning: {w}"),
                )
            })
            .collect();
    let mut failed = false;
    let mut scraped: Option<BTreeSet<String>> = None;
    for kind in KINDS.iter().filter(|k| k.enabled(cfg)) {
        let probe = (kind.probe)(cfg, &remote, cfg.timeout()).await;
        failed |= probe.failed;
        items.extend(probe.items);
        scraped = scraped.or(probe.scraped_names);
    }
    items.extend(
        engine
            .signals
            .iter()
            .filter_map(|s| signal_item(s, scraped.as_ref())),
    );
    Ok((items, !failed))
}

/// A local signal: does it compile, and which of its series no scrape target exposes.
fn signal_item(s: &crate::engine::Signal, scraped: Option<&BTreeSet<String>>) -> Option<ProbeItem> {
    let zero = std::time::Duration::ZERO;
    match &s.eval {
        Evaluator::Local(q) => {
            let what = format!("signal {} (local)", s.def.name);
            let missing: Vec<String> = match scraped {
                Some(names) => q
                    .metric_names()
                    .into_iter()
                    .filter(|n| {
                        !n.starts_with("valkey_") && !n.starts_with("k6_") && !names.contains(n)
                    })
                    .collect(),
                None => Vec::new(),
            };
            Some(if missing.is_empty() {
                ProbeItem::ok(what, zero, "query compiles")
            } else {
                let detail = format!(
                    "no scraped series named {} yet — check the metric names",
                    missing.join(", ")
                );
                ProbeItem::ok(what, zero, detail)
            })
        }
        Evaluator::Disabled(why) => Some(ProbeItem::ok(
            format!("signal {} (disabled)", s.def.name),
            zero,
            why.clone(),
        )),
        Evaluator::Remote => None,
    }
}

pub fn print(items: &[ProbeItem]) {
    for i in items {
        let status = if i.ok { "OK  " } else { "FAIL" };
        let lat = i
            .latency
            .filter(|d| !d.is_zero())
            .map(|d| format!(" ({} ms)", d.as_millis()))
            .unwrap_or_default();
        println!(
            "{status} {}{lat}: {}",
            crate::text::clean(&i.what),
            crate::text::clean(&i.detail)
        );
    }
}
