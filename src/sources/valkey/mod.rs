//! Valkey (and Redis 7) streams: length, entries added, consumer-group lag, pending,
//! entries read and consumers, plus server INFO and SLOWLOG LEN. Replies are read as
//! `redis::Value` so RESP2 and RESP3, and Valkey 7.2–9 / Redis 7 shapes, all work; lag and
//! entries-read may be nil and are then omitted rather than guessed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, Value};
use serde::Deserialize;

use crate::model::{now_ms, Labels, Sample, SourceEvent, TimeMs};
use crate::secret::read_secret;
use crate::sources::probe::ProbeItem;
use crate::sources::Poller;
use crate::text::clean_short;

/// The per-stream and per-group series the queue view shows; recordings keep them whether or
/// not a signal reads them, so a replay's queue view is complete.
pub const QUEUE_SERIES: [&str; 7] = [
    "valkey_stream_length",
    "valkey_stream_entries_added_total",
    "valkey_group_lag",
    "valkey_group_pending",
    "valkey_group_consumers",
    "valkey_group_consumer_idle_max_seconds",
    "valkey_group_entries_read_total",
];

pub const SOURCE: &str = "valkey";

/// A consumer idle at least this long counts as inactive.
const INACTIVE_AFTER_MS: i64 = 30_000;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValkeyConfig {
    /// `redis://`, `rediss://` (TLS), `valkey://`, `valkeys://`.
    pub url: String,
    /// ACL user.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub streams: Vec<String>,
    /// Groups to watch; empty means every group of each stream.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Cluster mode: each stream is read from the node that owns its key.
    #[serde(default)]
    pub cluster: bool,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

enum Conn {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Conn {
    async fn run(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<Value> {
        match self {
            Conn::Single(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => cmd.query_async(c).await,
        }
    }

    /// A node-level command (INFO, SLOWLOG LEN) on every primary: (node, reply).
    async fn each_node(
        &mut self,
        cmd: redis::Cmd,
        single_node: &str,
    ) -> redis::RedisResult<Vec<(String, Value)>> {
        match self {
            Conn::Single(c) => Ok(vec![(single_node.to_string(), cmd.query_async(c).await?)]),
            Conn::Cluster(c) => {
                use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
                let v = c
                    .route_command(
                        cmd,
                        RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
                    )
                    .await?;
                Ok(match v.as_map_iter() {
                    Some(it) => it
                        .map(|(k, v)| (text(k).unwrap_or_default(), v.clone()))
                        .collect(),
                    None => vec![("cluster".to_string(), v)],
                })
            }
        }
    }
}

pub struct ValkeyPoller {
    cfg: ValkeyConfig,
    info: redis::ConnectionInfo,
    node: String,
    timeout: Duration,
    root_cert: Option<Vec<u8>>,
    conn: Option<Conn>,
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
            eprintln!(
                "warning: valkey: TLS certificate verification is OFF (insecure_skip_verify)"
            );
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
    async fn read_all(
        &mut self,
        now: TimeMs,
    ) -> anyhow::Result<(Vec<Sample>, Vec<(String, String)>)> {
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        let node = self.node.clone();
        let conn = self.conn.as_mut().expect("connected");
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let fatal = |e: redis::RedisError| anyhow!(describe(&e, &node));

        for (n, reply) in conn
            .each_node(redis::cmd("INFO"), &node)
            .await
            .map_err(fatal)?
        {
            let raw = text(&reply).unwrap_or_default();
            let info = parse_info(&raw);
            let l = |name: &str| Labels::named(name).with("node", &n);
            out.push(Sample::new(l("valkey_up"), now, 1.0));
            for (field, series) in [
                (
                    "instantaneous_ops_per_sec",
                    "valkey_instantaneous_ops_per_sec",
                ),
                ("connected_clients", "valkey_connected_clients"),
                ("blocked_clients", "valkey_blocked_clients"),
                ("used_memory", "valkey_used_memory_bytes"),
                ("evicted_keys", "valkey_evicted_keys_total"),
                ("rejected_connections", "valkey_rejected_connections_total"),
            ] {
                if let Some(v) = info.get(field).and_then(|v| v.parse::<f64>().ok()) {
                    out.push(Sample::new(l(series), now, v));
                }
            }
        }
        for (n, reply) in conn
            .each_node(redis::cmd("SLOWLOG").arg("LEN").clone(), &node)
            .await
            .map_err(fatal)?
        {
            if let Some(v) = int(&reply) {
                out.push(Sample::new(
                    Labels::named("valkey_slowlog_length").with("node", &n),
                    now,
                    v as f64,
                ));
            }
        }

        for stream in self.cfg.streams.clone() {
            let sl = |name: &str| Labels::named(name).with("stream", &stream);
            let xinfo = match conn
                .run(redis::cmd("XINFO").arg("STREAM").arg(&stream))
                .await
            {
                Ok(v) => v,
                Err(e) if is_server_error(&e) => {
                    let msg = if e.to_string().to_lowercase().contains("no such key") {
                        format!(
                            "stream `{stream}` does not exist (XINFO STREAM: {})",
                            clean_short(&e.to_string(), 120)
                        )
                    } else {
                        format!(
                            "stream `{stream}`: XINFO STREAM failed: {}",
                            clean_short(&e.to_string(), 160)
                        )
                    };
                    problems.push((format!("stream {stream}"), msg));
                    continue;
                }
                Err(e) => return Err(fatal(e)),
            };
            let m = map(&xinfo);
            let len = match conn.run(redis::cmd("XLEN").arg(&stream)).await {
                Ok(v) => int(&v),
                Err(e) if is_server_error(&e) => None,
                Err(e) => return Err(fatal(e)),
            };
            if let Some(v) = len.or_else(|| m.get("length").and_then(|v| int(v))) {
                out.push(Sample::new(sl("valkey_stream_length"), now, v as f64));
            }
            if let Some(v) = m.get("entries-added").and_then(|v| int(v)) {
                out.push(Sample::new(
                    sl("valkey_stream_entries_added_total"),
                    now,
                    v as f64,
                ));
            }
            if let Some(v) = m.get("groups").and_then(|v| int(v)) {
                out.push(Sample::new(sl("valkey_stream_groups"), now, v as f64));
            }
            let groups = match conn
                .run(redis::cmd("XINFO").arg("GROUPS").arg(&stream))
                .await
            {
                Ok(v) => v,
                Err(e) if is_server_error(&e) => {
                    problems.push((
                        format!("stream {stream}"),
                        format!(
                            "stream `{stream}`: XINFO GROUPS failed: {}",
                            clean_short(&e.to_string(), 160)
                        ),
                    ));
                    continue;
                }
                Err(e) => return Err(fatal(e)),
            };
            let groups: Vec<HashMap<String, &Value>> = groups
                .as_sequence()
                .unwrap_or(&[])
                .iter()
                .map(map)
                .collect();
            for want in &self.cfg.groups {
                if !groups
                    .iter()
                    .any(|g| g.get("name").and_then(|v| text(v)).as_deref() == Some(want))
                {
                    problems.push((
                        format!("group {stream}/{want}"),
                        format!("consumer group `{want}` does not exist on stream `{stream}` (XINFO GROUPS lists {})", group_names(&groups)),
                    ));
                }
            }
            for g in &groups {
                let Some(name) = g.get("name").and_then(|v| text(v)) else {
                    continue;
                };
                if !self.cfg.groups.is_empty() && !self.cfg.groups.contains(&name) {
                    continue;
                }
                let gl = |n: &str| {
                    Labels::named(n)
                        .with("stream", &stream)
                        .with("group", &name)
                };
                let lag = g.get("lag").and_then(|v| int(v));
                out.push(Sample::new(
                    gl("valkey_group_lag_known"),
                    now,
                    if lag.is_some() { 1.0 } else { 0.0 },
                ));
                // Lag turns unknown (nil) once entries were deleted or trimmed; a staleness
                // marker then ends the series, so queries fall back to the stream length
                // instead of holding the last known lag for the whole lookback.
                let lag_value = lag.map_or_else(crate::store::stale_nan, |v| v as f64);
                out.push(Sample::new(gl("valkey_group_lag"), now, lag_value));
                if let Some(v) = g.get("pending").and_then(|v| int(v)) {
                    out.push(Sample::new(gl("valkey_group_pending"), now, v as f64));
                }
                if let Some(v) = g.get("entries-read").and_then(|v| int(v)) {
                    out.push(Sample::new(
                        gl("valkey_group_entries_read_total"),
                        now,
                        v as f64,
                    ));
                }
                if let Some(v) = g.get("consumers").and_then(|v| int(v)) {
                    out.push(Sample::new(gl("valkey_group_consumers"), now, v as f64));
                }
                if let Some(ms) = g
                    .get("last-delivered-id")
                    .and_then(|v| text(v))
                    .and_then(|id| id.split('-').next()?.parse::<f64>().ok())
                {
                    out.push(Sample::new(gl("valkey_group_last_delivered_ms"), now, ms));
                }
                match conn
                    .run(redis::cmd("XINFO").arg("CONSUMERS").arg(&stream).arg(&name))
                    .await
                {
                    Ok(v) => {
                        let consumers: Vec<HashMap<String, &Value>> =
                            v.as_sequence().unwrap_or(&[]).iter().map(map).collect();
                        let idle_max = consumers
                            .iter()
                            .filter_map(|c| c.get("idle").and_then(|v| int(v)))
                            .max()
                            .unwrap_or(0);
                        // `inactive` (7.2+): ms since the last successful read, −1 if never.
                        // Redis 7.0 lacks it: fall back to `idle`.
                        let inactive = consumers
                            .iter()
                            .filter(|c| {
                                let v = c
                                    .get("inactive")
                                    .and_then(|v| int(v))
                                    .or_else(|| c.get("idle").and_then(|v| int(v)));
                                matches!(v, Some(ms) if !(0..INACTIVE_AFTER_MS).contains(&ms))
                            })
                            .count();
                        out.push(Sample::new(
                            gl("valkey_group_consumer_idle_max_seconds"),
                            now,
                            idle_max as f64 / 1000.0,
                        ));
                        out.push(Sample::new(
                            gl("valkey_group_consumers_inactive"),
                            now,
                            inactive as f64,
                        ));
                    }
                    Err(e) if is_server_error(&e) => problems.push((
                        format!("group {stream}/{name}"),
                        format!(
                            "XINFO CONSUMERS {stream} {name}: {}",
                            clean_short(&e.to_string(), 160)
                        ),
                    )),
                    Err(e) => return Err(fatal(e)),
                }
            }
        }
        Ok((out, problems))
    }
}

fn group_names(groups: &[HashMap<String, &Value>]) -> String {
    let names: Vec<String> = groups
        .iter()
        .filter_map(|g| g.get("name").and_then(|v| text(v)))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// A reply error from the server about this command (as opposed to I/O or auth trouble).
fn is_server_error(e: &redis::RedisError) -> bool {
    let text = e.to_string();
    !(e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.kind() == redis::ErrorKind::AuthenticationFailed
        || text.contains("NOAUTH")
        || text.contains("WRONGPASS"))
}

/// One line that says what failed and what to check.
fn describe(e: &redis::RedisError, node: &str) -> String {
    let s = clean_short(&e.to_string(), 200);
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || s.contains("WRONGPASS")
        || s.contains("NOAUTH")
        || s.contains("invalid password")
    {
        format!("valkey {node}: authentication failed ({s}): check username and password_env / password_file")
    } else if e.is_connection_refusal() || s.to_lowercase().contains("connection refused") {
        format!("valkey {node}: connection refused: is valkey-server running on that port?")
    } else if e.is_timeout() {
        format!("valkey {node}: timed out ({s})")
    } else {
        format!("valkey {node}: {s}")
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(_) | Value::SimpleString(_) => text(v)?.trim().parse().ok(),
        Value::Double(d) => Some(*d as i64),
        _ => None,
    }
}

/// A reply map (RESP3 map or RESP2 flat key/value array) keyed by text.
fn map(v: &Value) -> HashMap<String, &Value> {
    v.as_map_iter()
        .map(|it| it.filter_map(|(k, v)| Some((text(k)?, v))).collect())
        .unwrap_or_default()
}

fn parse_info(s: &str) -> HashMap<&str, &str> {
    s.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end_matches('\r').split_once(':'))
        .collect()
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
            for (k, e) in problems.iter().filter(|(k, _)| k.starts_with("group ")) {
                items.push(ProbeItem::fail(k.clone(), e.clone()));
            }
            items
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_maps_and_nil() {
        let resp2 = Value::Array(vec![
            Value::BulkString(b"name".to_vec()),
            Value::BulkString(b"workers".to_vec()),
            Value::BulkString(b"lag".to_vec()),
            Value::Nil,
            Value::BulkString(b"pending".to_vec()),
            Value::Int(4),
        ]);
        let m = map(&resp2);
        assert_eq!(text(m["name"]).as_deref(), Some("workers"));
        assert_eq!(int(m["lag"]), None);
        assert_eq!(int(m["pending"]), Some(4));
        let resp3 = Value::Map(vec![(Value::SimpleString("lag".into()), Value::Int(7))]);
        assert_eq!(int(map(&resp3)["lag"]), Some(7));
        let info = parse_info("# Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n");
        assert_eq!(info["connected_clients"], "3");
    }
}
