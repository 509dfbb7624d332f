//! Data sources. Each runs as its own tokio task: it polls on the refresh tick with a
//! per-request timeout, keeps at most one request in flight per query, backs off
//! exponentially (capped) while failing, and reports its health on every change.

pub mod http;
pub mod k6;
pub mod k6_json;
mod kind;
pub mod probe;
pub mod prometheus;
pub mod scrape;
pub mod valkey;

pub use kind::{all_flags, endpoints, joined, Probe, SourceKind, StartArgs, KINDS};

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use tokio::task::JoinHandle;

use crate::model::{now_ms, Health, LocalSources, RemoteQuery, SourceCommand, SourceEvent, TimeMs};
use crate::settings::Config;

/// What a source's own requests and replies can go wrong with, in words for the screen: the
/// poll loop turns it into the source's "down" reason, a command into its answer.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The request did not get an answer (refused, timed out, TLS, DNS).
    #[error("{0}")]
    Request(String),
    /// The server answered something that is not its API's reply.
    #[error("{0}")]
    Reply(String),
    /// The server understood and said no.
    #[error("{0}")]
    Refused(String),
}

/// A message about a reply: what it held and what was expected.
impl From<String> for SourceError {
    fn from(m: String) -> Self {
        SourceError::Reply(m)
    }
}

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

impl PollSettings {
    /// The settings a configuration gives the source called `name`.
    pub fn of(cfg: &Config, name: &str) -> Self {
        Self {
            name: name.to_string(),
            refresh: cfg.refresh,
            timeout: cfg.timeout(),
            backoff_max: cfg.backoff_max,
        }
    }
}

/// Which sources feed the store and which answer queries, for resolving `source = "auto"`.
pub fn local_sources(cfg: &Config) -> LocalSources {
    let on = |name: &str| KINDS.iter().any(|k| k.name == name && k.enabled(cfg));
    LocalSources {
        prometheus: on(prometheus::SOURCE),
        scrape: on(scrape::SOURCE),
        valkey: on(valkey::SOURCE),
        k6: on(k6::SOURCE) || on(k6_json::SOURCE),
    }
}

/// Started source tasks and the channel their events arrive on.
pub struct RunningSources {
    pub rx: mpsc::Receiver<SourceEvent>,
    pub handles: Vec<JoinHandle<()>>,
    pub names: Vec<String>,
}

/// Builds every configured source (failing fast on bad settings) and spawns its task.
pub fn start_all(
    cfg: &Config,
    remote: &[RemoteQuery],
    cancel: &CancellationToken,
) -> anyhow::Result<RunningSources> {
    let (tx, rx) = mpsc::channel(1024);
    let mut handles = Vec::new();
    let mut names = Vec::new();
    for kind in KINDS.iter().filter(|k| k.enabled(cfg)) {
        let args = StartArgs {
            cfg,
            remote,
            tx: tx.clone(),
            cancel: cancel.clone(),
        };
        let task = (kind.start)(args)?;
        names.push(kind.name.to_string());
        handles.push(tokio::spawn(task));
    }
    Ok(RunningSources { rx, handles, names })
}

/// Carries out a command; the answer is a line for the screen's status bar.
pub async fn command(cfg: &Config, cmd: SourceCommand) -> String {
    match cmd {
        SourceCommand::StopK6 => {
            let Some(url) = cfg.k6.as_ref().and_then(|k| k.urls.first()) else {
                return "k6: no k6 REST API configured (--k6 URL)".into();
            };
            match k6::stop_test(url, cfg.timeout()).await {
                Ok(m) => format!("k6: {m}"),
                Err(e) => format!("k6 refused: {e}"),
            }
        }
    }
}

/// One poll of a source. Returned events are forwarded as-is; an error takes the source down
/// with the error's text as the reason, unless `finished` says the thing it watches has ended.
pub trait Poller: Send + 'static {
    fn poll(
        &mut self,
        now: TimeMs,
    ) -> impl Future<Output = anyhow::Result<Vec<SourceEvent>>> + Send;

    /// Asked after a failed poll: true when the failure means that what the source watches
    /// has ended (a k6 run that completed and exited), so the source is finished, not down.
    fn finished(&self) -> bool {
        false
    }
}

/// A source task's health as it tells it: a change is sent once, when it happens.
struct Reporter {
    name: String,
    health: Health,
    last_ok: Option<TimeMs>,
    tx: mpsc::Sender<SourceEvent>,
}

/// The receiver is gone: the run is ending, so the task stops.
struct Closed;

impl Reporter {
    async fn set(&mut self, h: Health) -> Result<(), Closed> {
        if self.health == h {
            return Ok(());
        }
        self.health = h.clone();
        let ev = SourceEvent::Health {
            source: self.name.clone(),
            t: now_ms(),
            health: h,
        };
        self.tx.send(ev).await.map_err(|_| Closed)
    }

    /// Past one refresh without an answer an OK source turns stale (its panel keeps the data).
    async fn overdue(&mut self) -> Result<(), Closed> {
        if matches!(self.health, Health::Ok) {
            let since = self.last_ok.unwrap_or_else(now_ms);
            self.set(Health::Stale { since }).await?;
        }
        Ok(())
    }

    async fn send(&mut self, events: Vec<SourceEvent>) -> Result<(), Closed> {
        for ev in events {
            self.tx.send(ev).await.map_err(|_| Closed)?;
        }
        Ok(())
    }
}

/// Runs `poller` until `cancel` fires, sending events and health changes to `tx`.
pub async fn run_poller<P: Poller>(
    poller: P,
    settings: PollSettings,
    tx: mpsc::Sender<SourceEvent>,
    cancel: CancellationToken,
) {
    let mut rep = Reporter {
        name: settings.name.clone(),
        health: Health::Starting,
        last_ok: None,
        tx,
    };
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = poll_forever(poller, &settings, &mut rep) => {}
    }
}

/// Polls on the refresh while it succeeds and backs off while it fails (finished too: a new
/// run behind the same address turns it ok again); returns only when the run's receiver is
/// gone.
async fn poll_forever<P: Poller>(mut poller: P, settings: &PollSettings, rep: &mut Reporter) {
    let mut backoff = crate::backoff::Backoff::new(settings.refresh, settings.backoff_max);
    loop {
        let started = tokio::time::Instant::now();
        let Ok(result) = poll_once(&mut poller, settings, rep).await else {
            return;
        };
        let outcome = match result {
            Ok(events) => {
                rep.last_ok = Some(now_ms());
                backoff.reset();
                match rep.set(Health::Ok).await {
                    Ok(()) => rep.send(events).await.map(|_| settings.refresh),
                    Err(c) => Err(c),
                }
            }
            Err(reason) => {
                let h = if poller.finished() {
                    Health::Finished
                } else {
                    Health::Down { reason }
                };
                rep.set(h).await.map(|_| backoff.next_delay())
            }
        };
        let Ok(wait) = outcome else { return };
        tokio::time::sleep(wait.saturating_sub(started.elapsed())).await;
    }
}

/// One poll under the timeout; the source is marked stale while it runs past one refresh.
async fn poll_once<P: Poller>(
    poller: &mut P,
    settings: &PollSettings,
    rep: &mut Reporter,
) -> Result<Result<Vec<SourceEvent>, String>, Closed> {
    let poll = tokio::time::timeout(settings.timeout, poller.poll(now_ms()));
    tokio::pin!(poll);
    let stale_after = tokio::time::sleep(settings.refresh);
    tokio::pin!(stale_after);
    let mut stale_sent = false;
    let result = loop {
        tokio::select! {
            r = &mut poll => break r,
            _ = &mut stale_after, if !stale_sent => {
                stale_sent = true;
                rep.overdue().await?;
            }
        }
    };
    Ok(match result {
        Ok(Ok(events)) => Ok(events),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err(format!(
            "timed out after {}",
            humantime::format_duration(settings.timeout)
        )),
    })
}
