//! `slitop check`: probe every configured source and each signal's query, print one line per
//! item — OK with latency, or the error and its likely cause — and fail when a source fails.

use std::collections::BTreeSet;

use crate::engine::Evaluator;
use crate::model::now_ms;
use crate::runtime::RunState;
use crate::settings::Config;
use crate::sources::probe::ProbeItem;
use crate::sources::{self};

/// Runs every probe; returns the items and whether every required one passed.
pub async fn run_checks(cfg: &Config) -> (Vec<ProbeItem>, bool) {
    let timeout = cfg.timeout();
    let mut items = Vec::new();
    let mut failed = false;
    let state = match RunState::new(cfg) {
        Ok(s) => s,
        Err(e) => {
            items.push(ProbeItem::fail("signals", e));
            return (items, false);
        }
    };
    if cfg.prometheus.is_none()
        && cfg.scrape.as_ref().is_none_or(|s| s.urls.is_empty())
        && cfg.valkey.is_none()
        && cfg.k6.is_none()
    {
        items.push(ProbeItem::fail(
            "sources",
            "no source configured: give --prometheus, --scrape, --valkey or --k6, a --preset or a --config file",
        ));
        return (items, false);
    }
    let now = now_ms();
    if let Some(p) = &cfg.prometheus {
        match sources::prometheus::PrometheusPoller::new(
            p,
            state.engine.remote_queries(),
            timeout,
            None,
        ) {
            Ok(poller) => {
                let got = sources::prometheus::probe(&poller, now).await;
                failed |= !got.first().is_some_and(|i| i.ok);
                items.extend(got);
            }
            Err(e) => {
                failed = true;
                items.push(ProbeItem::fail("prometheus", format!("{e:#}")));
            }
        }
    }
    let mut scraped_names: Option<BTreeSet<String>> = None;
    if let Some(s) = cfg.scrape.as_ref().filter(|s| !s.urls.is_empty()) {
        match sources::scrape::ScrapePoller::new(s.clone(), timeout) {
            Ok(poller) => {
                let mut names = BTreeSet::new();
                for url in poller.urls() {
                    let started = std::time::Instant::now();
                    match poller.scrape(url, now).await {
                        Ok(sc) => {
                            names.extend(
                                sc.samples
                                    .iter()
                                    .filter_map(|x| x.labels.name().map(str::to_string)),
                            );
                            items.push(ProbeItem::ok(
                                format!("scrape {url}"),
                                started.elapsed(),
                                format!("{} samples, {} bytes", sc.samples.len(), sc.bytes),
                            ));
                        }
                        Err(e) => {
                            failed = true;
                            items.push(ProbeItem::fail(format!("scrape {url}"), format!("{e:#}")));
                        }
                    }
                }
                scraped_names = Some(names);
            }
            Err(e) => {
                failed = true;
                items.push(ProbeItem::fail("scrape", format!("{e:#}")));
            }
        }
    }
    if let Some(v) = &cfg.valkey {
        let got = sources::valkey::probe(v, timeout).await;
        failed |= got.iter().any(|i| !i.ok);
        items.extend(got);
    }
    if let Some(k) = &cfg.k6 {
        for url in &k.urls {
            let got = sources::k6::probe(url, timeout).await;
            failed |= !got.ok;
            items.push(got);
        }
        for f in &k.json_files {
            items.push(if f.is_file() {
                ProbeItem::ok(
                    format!("k6 json {}", f.display()),
                    std::time::Duration::ZERO,
                    "file exists",
                )
            } else {
                ProbeItem::ok(
                    format!("k6 json {}", f.display()),
                    std::time::Duration::ZERO,
                    "not there yet: it is tailed once k6 creates it",
                )
            });
        }
    }
    // Local signals: say which of their series the scrape targets do not expose.
    for s in &state.engine.signals {
        match &s.eval {
            Evaluator::Local(q) => {
                let what = format!("signal {} (local)", s.def.name);
                let missing: Vec<String> = match &scraped_names {
                    Some(names) => q
                        .metric_names()
                        .into_iter()
                        .filter(|n| {
                            !n.starts_with("valkey_") && !n.starts_with("k6_") && !names.contains(n)
                        })
                        .collect(),
                    None => Vec::new(),
                };
                items.push(if missing.is_empty() {
                    ProbeItem::ok(what, std::time::Duration::ZERO, "query compiles")
                } else {
                    ProbeItem::ok(
                        what,
                        std::time::Duration::ZERO,
                        format!(
                            "no scraped series named {} yet — check the metric names",
                            missing.join(", ")
                        ),
                    )
                });
            }
            Evaluator::Disabled(why) => items.push(ProbeItem::ok(
                format!("signal {} (disabled)", s.def.name),
                std::time::Duration::ZERO,
                why.clone(),
            )),
            Evaluator::Remote => {}
        }
    }
    (items, !failed)
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
