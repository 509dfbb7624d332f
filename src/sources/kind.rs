//! One table of source kinds: each kind says when a configuration turns it on, how its
//! endpoints are shown (credentials redacted), how its task starts and how `slitop check`
//! probes it. A new source is one new module with its `KIND` plus one line in `KINDS`.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::probe::ProbeItem;
use crate::model::{RemoteQuery, SourceEvent};
use crate::settings::Config;

/// What every source task is started with.
pub struct StartArgs<'a> {
    pub cfg: &'a Config,
    /// The queries the Prometheus source answers (signals evaluated remotely).
    pub remote: &'a [RemoteQuery],
    pub tx: mpsc::Sender<SourceEvent>,
    pub cancel: CancellationToken,
}

/// What a probe found: one line per item, and the metric names a scrape exposed (so `check`
/// can say which series a local signal reads that no target serves).
#[derive(Default)]
pub struct Probe {
    pub items: Vec<ProbeItem>,
    /// A required item failed (a failing item may be informative only, e.g. one bad query).
    pub failed: bool,
    pub scraped_names: Option<BTreeSet<String>>,
}

impl Probe {
    /// Every item required.
    pub fn all_required(items: Vec<ProbeItem>) -> Self {
        Self {
            failed: items.iter().any(|i| !i.ok),
            items,
            scraped_names: None,
        }
    }
}

pub struct SourceKind {
    /// Name in the header, health lines, the recording and `check`.
    pub name: &'static str,
    /// Flags that configure it, for messages that tell the user what to add.
    pub flags: &'static str,
    /// Its endpoints, credentials redacted; `None` when the configuration does not use it.
    pub endpoints: fn(&Config) -> Option<String>,
    /// Builds its poller (failing fast on bad settings) and returns the task to spawn.
    pub start: fn(StartArgs<'_>) -> anyhow::Result<BoxFuture<'static, ()>>,
    /// `slitop check`: one pass over every endpoint with the per-request timeout.
    pub probe: for<'a> fn(&'a Config, &'a [RemoteQuery], Duration) -> BoxFuture<'a, Probe>,
}

impl SourceKind {
    pub fn enabled(&self, cfg: &Config) -> bool {
        (self.endpoints)(cfg).is_some()
    }
}

/// Every source kind, in the order they start and are probed.
pub const KINDS: &[SourceKind] = &[
    super::prometheus::KIND,
    super::scrape::KIND,
    super::valkey::KIND,
    super::k6::KIND,
    super::k6_json::KIND,
];

/// The configured endpoints of each enabled source, for the recording header and the screen.
pub fn endpoints(cfg: &Config) -> std::collections::BTreeMap<String, String> {
    KINDS
        .iter()
        .filter_map(|k| Some((k.name.to_string(), (k.endpoints)(cfg)?)))
        .collect()
}

/// The flags of every kind, for "no source configured" messages.
pub fn all_flags() -> String {
    let flags: Vec<&str> = KINDS.iter().map(|k| k.flags).collect();
    flags.join(", ")
}

/// Endpoints as one string, each redacted; `None` for an empty list.
pub fn joined<S: AsRef<str>>(urls: &[S]) -> Option<String> {
    if urls.is_empty() {
        return None;
    }
    let shown: Vec<String> = urls
        .iter()
        .map(|u| crate::text::redact_url(u.as_ref()))
        .collect();
    Some(shown.join(" "))
}
