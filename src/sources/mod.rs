//! Data sources. Each runs as its own tokio task: it polls on the refresh tick with a
//! per-request timeout, keeps at most one request in flight per query, backs off
//! exponentially (capped) while failing, and reports its health on every change.

pub mod http;
pub mod k6;
pub mod k6_cycle;
pub mod k6_json;
mod kind;
pub mod probe;
pub mod prometheus;
pub mod scrape;
pub mod security;
pub mod valkey;

pub use kind::{all_flags, endpoints, joined, Probe, SourceKind, StartArgs, KINDS};

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use crate::model::{now_ms, Health, LocalSources, RemoteQuery, SourceCommand, SourceEvent, TimeMs};
use crate::settings::Config;
use crate::text::redact_text;

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
        let again = Restart {
            cfg: cfg.clone(),
            remote: remote.to_vec(),
            tx: tx.clone(),
            cancel: cancel.clone(),
        };
        handles.push(tokio::spawn(supervise(kind, task, again)));
    }
    Ok(RunningSources { rx, handles, names })
}

/// What a source's task is started again with.
pub struct Restart {
    pub cfg: Config,
    pub remote: Vec<RemoteQuery>,
    pub tx: mpsc::Sender<SourceEvent>,
    pub cancel: CancellationToken,
}

/// Runs a source's task and, when it dies of a panic (a bug, or input no parser foresaw),
/// tells it as the source's "down" reason and starts it again after a backoff, so one bad
/// reply neither stops the source for the rest of the run nor leaves it showing "ok".
/// Returns when the task ends on its own (the run is ending).
pub async fn supervise(kind: &'static SourceKind, first: BoxFuture<'static, ()>, again: Restart) {
    let mut backoff = crate::backoff::Backoff::new(again.cfg.refresh, again.cfg.backoff_max);
    let mut task = first;
    loop {
        let died = match tokio::spawn(task).await {
            Err(e) if e.is_panic() => panic_text(e.into_panic()),
            _ => return,
        };
        let reason = format!("stopped on an internal error ({died}); restarting it");
        if down(kind.name, &again.tx, &reason).await.is_err() {
            return;
        }
        tokio::select! {
            _ = again.cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
        let args = StartArgs {
            cfg: &again.cfg,
            remote: &again.remote,
            tx: again.tx.clone(),
            cancel: again.cancel.clone(),
        };
        task = match (kind.start)(args) {
            Ok(t) => t,
            Err(e) => {
                let _ = down(kind.name, &again.tx, &format!("cannot restart: {e:#}")).await;
                return;
            }
        };
    }
}

async fn down(name: &str, tx: &mpsc::Sender<SourceEvent>, reason: &str) -> Result<(), Closed> {
    let ev = SourceEvent::Health {
        source: name.to_string(),
        t: now_ms(),
        health: Health::Down {
            reason: redact_text(&crate::text::clean_short(reason, 300)),
        },
    };
    tx.send(ev).await.map_err(|_| Closed)
}

/// A panic's message, when it has one in words.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Carries out a command; the answer is a line for the screen's status bar (redacted).
pub async fn command(cfg: &Config, cmd: SourceCommand) -> String {
    crate::text::redact_text(&command_answer(cfg, cmd).await)
}

async fn command_answer(cfg: &Config, cmd: SourceCommand) -> String {
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
            health: match h {
                Health::Down { reason } => Health::Down {
                    reason: redact_text(&reason),
                },
                h => h,
            },
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
            self.tx.send(redacted(ev)).await.map_err(|_| Closed)?;
        }
        Ok(())
    }
}

/// An event with the URLs in its words redacted: error texts of every source leave it here,
/// on their way to the screen, the recording, the JSON lines and the report.
fn redacted(ev: SourceEvent) -> SourceEvent {
    match ev {
        SourceEvent::QueryError {
            source,
            signal,
            error,
        } => SourceEvent::QueryError {
            source,
            signal: redact_text(&signal),
            error: redact_text(&error),
        },
        SourceEvent::QueryWarnings {
            source,
            signal,
            warnings,
        } => SourceEvent::QueryWarnings {
            source,
            signal: redact_text(&signal),
            warnings: warnings.iter().map(|w| redact_text(w)).collect(),
        },
        ev => ev,
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
        // The next poll `wait` after this one began, on the refresh's grid (see
        // `model::cadence`), so it never drifts from the refresh that reads it: the grid
        // point nearest to that, never one before now.
        let now = now_ms();
        let period = settings.refresh.as_millis() as TimeMs;
        let due = now + wait.as_millis() as TimeMs - started.elapsed().as_millis() as TimeMs;
        let ms = crate::model::cadence::until_grid(now, due - period / 2, period, 0);
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static STARTS: AtomicUsize = AtomicUsize::new(0);

    /// Panics in its first life, answers in its second.
    struct Flaky {
        life: usize,
    }

    impl Poller for Flaky {
        async fn poll(&mut self, _now: TimeMs) -> anyhow::Result<Vec<SourceEvent>> {
            if self.life == 1 {
                // The kind of slip a parser makes on hostile input.
                let bytes = std::hint::black_box("+0\u{e9}00");
                let _ = &bytes[1..3];
            }
            Ok(Vec::new())
        }
    }

    const FLAKY: SourceKind = SourceKind {
        name: "flaky",
        flags: "",
        endpoints: |_| Some("here".into()),
        start: |a| {
            let life = STARTS.fetch_add(1, Ordering::SeqCst) + 1;
            let settings = PollSettings::of(a.cfg, "flaky");
            Ok(Box::pin(run_poller(
                Flaky { life },
                settings,
                a.tx,
                a.cancel,
            )))
        },
        probe: |_, _, _| Box::pin(async { Probe::default() }),
    };

    #[tokio::test]
    async fn a_task_that_panics_is_down_with_the_reason_then_restarted() {
        let cfg = Config {
            refresh: Duration::from_millis(50),
            backoff_max: Duration::from_millis(100),
            ..Config::default()
        };
        let (tx, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let args = StartArgs {
            cfg: &cfg,
            remote: &[],
            tx: tx.clone(),
            cancel: cancel.clone(),
        };
        let first = (FLAKY.start)(args).unwrap();
        let again = Restart {
            cfg: cfg.clone(),
            remote: Vec::new(),
            tx,
            cancel: cancel.clone(),
        };
        const KIND: &SourceKind = &FLAKY;
        let handle = tokio::spawn(supervise(KIND, first, again));
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !matches!(seen.last(), Some(Health::Ok)) {
            let ev = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("a health change within 5 s")
                .expect("the channel stays open");
            if let SourceEvent::Health { health, .. } = ev {
                seen.push(health);
            }
        }
        let down = seen
            .iter()
            .find_map(|h| match h {
                Health::Down { reason } => Some(reason.clone()),
                _ => None,
            })
            .expect("down before ok");
        assert!(down.contains("internal error"), "{down}");
        assert!(down.contains("byte index"), "{down}");
        assert_eq!(STARTS.load(Ordering::SeqCst), 2);
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(2), handle)
            .await
            .expect("ends when cancelled")
            .unwrap();
    }
}
