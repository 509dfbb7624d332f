//! The recording's first line: everything needed to rebuild the run's signals and detector,
//! and where its data came from (credentials redacted by each source kind).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

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

/// `base`, else `base-2`, `base-3`… the first that does not exist yet, created here: two runs
/// started in the same second get a directory each.
pub fn unique_dir(base: &Path) -> anyhow::Result<PathBuf> {
    for n in 1..=1000 {
        let p = match n {
            1 => base.to_path_buf(),
            n => PathBuf::from(format!("{}-{n}", base.display())),
        };
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create output directory {}", p.display()))
            }
        }
    }
    anyhow::bail!(
        "{} and 999 like it already exist: give --out a directory",
        base.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_started_in_the_same_second_get_a_directory_each() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join(default_out_dir(1_795_360_179_000));
        let a = unique_dir(&base).unwrap();
        let b = unique_dir(&base).unwrap();
        assert_eq!(a, base);
        assert_eq!(b, PathBuf::from(format!("{}-2", base.display())));
        assert!(a.is_dir() && b.is_dir());
    }
}
