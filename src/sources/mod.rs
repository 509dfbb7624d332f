//! Data sources. Each runs as its own tokio task: it polls on the refresh tick with a
//! per-request timeout, keeps at most one request in flight per query, backs off
//! exponentially (capped) while failing, and reports its health on every change.

pub mod http;
pub mod k6;
pub mod k6_json;
pub mod probe;
pub mod prometheus;
pub mod scrape;
pub mod valkey;

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::{now_ms, Health, SourceEvent, TimeMs};

/// Settings every source task shares.
#[derive(Clone, Debug)]
pub struct PollSettings {
    /// Source name as shown in the header ("prometheus", "scrape", "valkey", "k6").
    pub name: String,
    pub refresh: Duration,
    /// Per-poll timeout: a server that accepts and never answers is cut off here.
    pub timeout: Duration,
    /// Upper bound of the retry delay while the source is down.
    pub backoff_max: Duration,
}

/// One poll of a source. Returned events are forwarded as-is; an error takes the source down
/// with the error's text as the reason.
pub trait Poller: Send + 'static {
    fn poll(
        &mut self,
        now: TimeMs,
    ) -> impl Future<Output = anyhow::Result<Vec<SourceEvent>>> + Send;
}

/// Runs `poller` until `cancel` fires, sending events and health changes to `tx`.
pub async fn run_poller<P: Poller>(
    mut poller: P,
    settings: PollSettings,
    tx: mpsc::Sender<SourceEvent>,
    cancel: CancellationToken,
) {
    let mut health = Health::Starting;
    let mut last_ok: Option<TimeMs> = None;
    let mut backoff = crate::backoff::Backoff::new(settings.refresh, settings.backoff_max);
    let name = settings.name.clone();
    let set_health = |h: Health, cur: &mut Health| -> Option<SourceEvent> {
        if *cur == h {
            return None;
        }
        *cur = h.clone();
        Some(SourceEvent::Health {
            source: name.clone(),
            t: now_ms(),
            health: h,
        })
    };
    loop {
        let started = tokio::time::Instant::now();
        let poll = tokio::time::timeout(settings.timeout, poller.poll(now_ms()));
        tokio::pin!(poll);
        // While the poll runs past one refresh, the source is stale (its panel keeps the old data).
        let stale_after = tokio::time::sleep(settings.refresh);
        tokio::pin!(stale_after);
        let mut stale_sent = false;
        let result = loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = &mut poll => break r,
                _ = &mut stale_after, if !stale_sent => {
                    stale_sent = true;
                    if matches!(health, Health::Ok) {
                        let since = last_ok.unwrap_or_else(now_ms);
                        if let Some(ev) = set_health(Health::Stale { since }, &mut health) {
                            if tx.send(ev).await.is_err() { return; }
                        }
                    }
                }
            }
        };
        let wait = match result {
            Ok(Ok(events)) => {
                last_ok = Some(now_ms());
                backoff.reset();
                if let Some(ev) = set_health(Health::Ok, &mut health) {
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                for ev in events {
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                settings.refresh.saturating_sub(started.elapsed())
            }
            Ok(Err(e)) => {
                let reason = format!("{e:#}");
                if let Some(ev) = set_health(Health::Down { reason }, &mut health) {
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                backoff.next_delay().saturating_sub(started.elapsed())
            }
            Err(_) => {
                let reason = format!(
                    "timed out after {}",
                    humantime::format_duration(settings.timeout)
                );
                if let Some(ev) = set_health(Health::Down { reason }, &mut health) {
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                backoff.next_delay().saturating_sub(started.elapsed())
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
