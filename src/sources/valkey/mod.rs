//! Valkey (and Redis 7) streams: length, entries added, consumer-group lag, pending,
//! entries read and consumers, plus server INFO and SLOWLOG LEN. Replies are read as
//! `redis::Value` so RESP2 and RESP3, and Valkey 7.2–9 / Redis 7 shapes, all work; lag and
//! entries-read may be nil and are then omitted rather than guessed.
//!
//! Beyond what XINFO says, each group's backlog (undelivered + pending; XLEN is retention),
//! the age of its oldest undelivered and oldest pending entry (from the time in their IDs),
//! a direct bounded count of undelivered entries when the lag is nil, and consumers that
//! hold entries but have stopped reading.
//!
//! `commands` sends the commands and sorts failures; `reply` decodes each reply into a plain
//! struct and `samples` turns those into series, both pure so they are tested on recorded
//! replies without a server.

mod capped;
mod commands;
// Public for the fuzzing harness: the decoders are pure functions of a reply.
pub mod reply;
mod samples;

use std::time::{Duration, Instant};

use anyhow::anyhow;
use redis::aio::ConnectionManagerConfig;
use redis::IntoConnectionInfo;

use crate::model::{now_ms, Sample, SourceEvent, TimeMs};
use crate::secret::read_secret;
use crate::settings::ValkeyConfig;
use crate::sources::probe::ProbeItem;
use crate::sources::Poller;
use commands::{describe, Conn, Gathered};
use samples::{Problem, ServiceTimes};

pub const SOURCE: &str = "valkey";

pub struct ValkeyPoller {
    cfg: ValkeyConfig,
    info: redis::ConnectionInfo,
    node: String,
    timeout: Duration,
    root_cert: Option<Vec<u8>>,
    conn: Option<Conn>,
    /// Kept across polls: the stuck-consumer rule compares idle time with it.
    service_times: ServiceTimes,
}

impl ValkeyPoller {
    /// Checks the settings and reads the secrets; connects lazily on the first poll.
    pub fn new(cfg: ValkeyConfig, timeout: Duration) -> anyhow::Result<Self> {
        crate::sources::http::install_crypto_provider();
        let mut url = cfg.url.clone();
        for (from, to) in [("valkey://", "redis://"), ("valkeys://", "rediss://")] {
            if let Some(rest) = url.strip_prefix(from) {
                url = format!("{to}{rest}");
            }
        }
        if cfg.insecure_skip_verify {
            if !url.starts_with("rediss://") {
                anyhow::bail!("valkey: insecure_skip_verify needs a rediss:// URL");
            }
            // Said by the run (sources::security), where the report records it.
            if !url.contains('#') {
                url.push_str("#insecure");
            }
        }
        let parsed = reqwest::Url::parse(&url).map_err(|e| {
            anyhow!(
                "valkey url {:?}: {e}; expected e.g. redis://127.0.0.1:6379",
                cfg.url
            )
        })?;
        let node = format!(
            "{}:{}",
            parsed.host_str().unwrap_or("?"),
            parsed.port().unwrap_or(6379)
        );
        let mut info = url
            .as_str()
            .into_connection_info()
            .map_err(|e| anyhow!("valkey url {:?}: {e}", cfg.url))?;
        let mut settings = info.redis_settings().clone();
        if let Some(u) = &cfg.username {
            settings = settings.set_username(u);
        }
        if let Some(pw) = read_secret(
            cfg.password_env.as_deref(),
            cfg.password_file.as_deref(),
            "valkey password",
        )? {
            settings = settings.set_password(pw);
        }
        info = info.set_redis_settings(settings);
        let root_cert = match &cfg.ca_file {
            Some(p) => Some(
                std::fs::read(p)
                    .map_err(|e| anyhow!("valkey: cannot read CA file {}: {e}", p.display()))?,
            ),
            None => None,
        };
        Ok(Self {
            cfg,
            info,
            node,
            timeout,
            root_cert,
            conn: None,
            service_times: ServiceTimes::default(),
        })
    }

    async fn connect(&self) -> anyhow::Result<Conn> {
        let err = |e: redis::RedisError| anyhow!(describe(&e, &self.node));
        if self.cfg.cluster {
            let mut b = redis::cluster::ClusterClient::builder(vec![self.info.clone()])
                .connection_timeout(self.timeout)
                .response_timeout(self.timeout)
                .retries(1);
            if let Some(u) = self.info.redis_settings().username() {
                b = b.username(u);
            }
            if let Some(p) = self.info.redis_settings().password() {
                b = b.password(p);
            }
            if let Some(pem) = &self.root_cert {
                b = b.certs(redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                });
            }
            let client = b.build().map_err(err)?;
            let c = tokio::time::timeout(self.timeout, client.get_async_connection())
                .await
                .map_err(|_| anyhow!("valkey {}: connect timed out", self.node))?
                .map_err(err)?;
            return Ok(Conn::Cluster(c));
        }
        if let redis::ConnectionAddr::Tcp(host, port) = self.info.addr() {
            let link = capped::connect(self.info.redis_settings(), host, *port, self.timeout);
            let c = tokio::time::timeout(self.timeout * 2, link)
                .await
                .map_err(|_| anyhow!("valkey {}: connect timed out", self.node))?
                .map_err(err)?;
            return Ok(Conn::Direct(c));
        }
        let client = match &self.root_cert {
            Some(pem) => redis::Client::build_with_tls(
                self.info.clone(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            None => redis::Client::open(self.info.clone()),
        }
        .map_err(err)?;
        // The defaults (500 ms response, 1 s connect) are too short for a loaded server.
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.timeout))
            .set_connection_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        let c = tokio::time::timeout(
            self.timeout * 2,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| anyhow!("valkey {}: connect timed out", self.node))?
        .map_err(err)?;
        Ok(Conn::Single(c))
    }

    /// Reads everything once: samples, plus per-stream/group problems that do not take the
    /// source down (a missing stream or group).
    async fn read_all(&mut self, now: TimeMs) -> anyhow::Result<(Vec<Sample>, Vec<Problem>)> {
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        let conn = self.conn.as_mut().expect("connected");
        let mut got = Gathered::default();
        commands::read_nodes(conn, &self.node, now, &mut got).await?;
        let (streams, groups) = (&self.cfg.streams, &self.cfg.groups);
        let mut link = commands::Link::prefetch(conn, &self.node, streams, groups).await?;
        for stream in streams {
            let times = &mut self.service_times;
            commands::read_stream(&mut link, &self.node, stream, groups, times, now, &mut got)
                .await?;
        }
        Ok((got.samples, got.problems))
    }
}

impl Poller for ValkeyPoller {
    async fn poll(&mut self, now: TimeMs) -> anyhow::Result<Vec<SourceEvent>> {
        match self.read_all(now).await {
            Ok((samples, problems)) => {
                let mut events: Vec<SourceEvent> = problems
                    .into_iter()
                    .map(|(signal, error)| SourceEvent::QueryError {
                        source: SOURCE.into(),
                        signal,
                        error,
                    })
                    .collect();
                events.push(SourceEvent::Samples {
                    source: SOURCE.into(),
                    samples,
                });
                Ok(events)
            }
            Err(e) => {
                // Start afresh next time: the manager may hold a dead or unauthenticated link.
                self.conn = None;
                Err(e)
            }
        }
    }
}

/// `slitop check`: the server, then each stream and group.
pub async fn probe(cfg: &ValkeyConfig, timeout: Duration) -> Vec<ProbeItem> {
    let mut p = match ValkeyPoller::new(cfg.clone(), timeout) {
        Ok(p) => p,
        Err(e) => return vec![ProbeItem::fail("valkey", format!("{e:#}"))],
    };
    let started = Instant::now();
    let what = format!("valkey {}", p.node);
    match p.read_all(now_ms()).await {
        Err(e) => vec![ProbeItem::fail(what, format!("{e:#}"))],
        Ok((samples, problems)) => {
            let lat = started.elapsed();
            let mut items = vec![ProbeItem::ok(
                what,
                lat,
                format!("{} series", samples.len()),
            )];
            for s in &cfg.streams {
                let key = format!("stream {s}");
                items.push(match problems.iter().find(|(k, _)| *k == key) {
                    Some((_, e)) => ProbeItem::fail(key, e.clone()),
                    None => {
                        let len = samples
                            .iter()
                            .find(|x| {
                                x.labels.name() == Some("valkey_stream_length")
                                    && x.labels.get("stream") == Some(s)
                            })
                            .map(|x| x.value);
                        ProbeItem::ok(key, lat, format!("length {}", len.unwrap_or(f64::NAN)))
                    }
                });
            }
            // Groups, and nodes whose INFO or SLOWLOG LEN reply could not be read.
            let others = problems
                .iter()
                .filter(|(k, _)| k.starts_with("group ") || k.starts_with("node "));
            for (k, e) in others {
                items.push(ProbeItem::fail(k.clone(), e.clone()));
            }
            items
        }
    }
}

pub const KIND: crate::sources::SourceKind = crate::sources::SourceKind {
    name: SOURCE,
    flags: "--valkey URL",
    endpoints: |cfg| cfg.valkey.as_ref().map(|v| crate::text::redact_url(&v.url)),
    start: |a| {
        let v = a.cfg.valkey.clone().expect("started only when configured");
        let poller = anyhow::Context::context(ValkeyPoller::new(v, a.cfg.timeout()), "valkey")?;
        let settings = crate::sources::PollSettings::of(a.cfg, SOURCE);
        Ok(Box::pin(crate::sources::run_poller(
            poller, settings, a.tx, a.cancel,
        )))
    },
    probe: |cfg, _, timeout| {
        Box::pin(async move {
            match &cfg.valkey {
                Some(v) => crate::sources::Probe::all_required(probe(v, timeout).await),
                None => Default::default(),
            }
        })
    },
};
