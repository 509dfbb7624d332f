//! The recording's first line: everything needed to rebuild the run's signals and detector,
//! and where its data came from (credentials redacted by each source kind).

use std::path::PathBuf;
use std::time::Duration;

use crate::model::TimeMs;
use crate::record::Header;
use crate::settings::{Config, GatesConfig, RunMeta};

pub fn header(cfg: &Config, meta: &RunMeta, gates: &GatesConfig, started: TimeMs) -> Header {
    Header {
        kind: "slitop-recording".into(),
        format: crate::record::FORMAT_VERSION,
        slitop_version: env!("CARGO_PKG_VERSION").into(),
        started_unix_ms: started,
        refresh_ms: cfg.refresh.as_millis() as TimeMs,
        lookback_ms: cfg.lookback.as_millis() as TimeMs,
        window_ms: cfg.window.as_millis() as TimeMs,
        sources: crate::sources::endpoints(cfg),
        local_sources: crate::sources::local_sources(cfg),
        signals: cfg.signals.clone(),
        detect: cfg.detect.clone(),
        meta: meta.clone(),
        gates: gates.clone(),
        security: crate::sources::security::warnings(cfg, &|v| std::env::var(v).ok()),
    }
}

/// The output directory when none is given: one per run, named by its start time.
pub fn default_out_dir(started: TimeMs) -> PathBuf {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(started.max(0) as u64);
    let stamp = humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace(':', "");
    PathBuf::from(format!("slitop-run-{stamp}"))
}
