//! What the source sends and where. Replies go to `reply` to be decoded and to `samples` to
//! become series; this file only decides what a failure means: a server's error about one
//! stream or group (or a reply of the wrong shape) is a problem reported for it while the
//! poll goes on, anything else (I/O, timeout, auth) fails the poll.

use anyhow::anyhow;
use redis::aio::ConnectionManager;
use redis::Value;

use crate::model::{Sample, TimeMs};
use crate::text::clean_short;

use super::reply::{self, GroupInfo, PendingSummary, RangeHead};
use super::samples::{self, Problem, Reads, ServiceTimes};

pub(super) enum Conn {
    /// A plain-TCP node, read through the reply cap.
    Direct(super::capped::Direct),
    /// A node over TLS or a Unix socket, through the client library's own link.
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

/// `cmds` as one pipeline on one node's link, each reply kept by the command's bytes.
async fn fetch_pipelined(
    c: &mut impl redis::aio::ConnectionLike,
    cmds: &[redis::Cmd],
    into: &mut Fetched,
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    for cmd in cmds {
        pipe.add_command(cmd.clone());
    }
    let replies: Vec<redis::RedisResult<Value>> = pipe.ignore_errors().query_async(c).await?;
    for (cmd, r) in cmds.iter().zip(replies) {
        into.insert(cmd.get_packed_command(), r);
    }
    Ok(())
}

/// Replies fetched ahead in one pipeline, by the command's bytes: the reading below asks
/// for them one by one and gets them without a round trip each.
pub(super) type Fetched = std::collections::HashMap<Vec<u8>, redis::RedisResult<Value>>;

impl Conn {
    async fn run(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<Value> {
        match self {
            Conn::Direct(c) => cmd.query_async(c).await,
            Conn::Single(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => cmd.query_async(c).await,
        }
    }

    /// Sends `cmds` as one pipeline (one round trip under one timeout, however many streams
    /// and groups) and keeps each reply, a server's error about one command included. A
    /// cluster's keys live on several nodes: there each command goes on its own.
    async fn fetch(&mut self, cmds: Vec<redis::Cmd>, into: &mut Fetched) -> redis::RedisResult<()> {
        if cmds.is_empty() {
            return Ok(());
        }
        match self {
            Conn::Direct(c) => fetch_pipelined(c, &cmds, into).await?,
            Conn::Single(c) => fetch_pipelined(c, &cmds, into).await?,
            Conn::Cluster(_) => {
                for cmd in cmds {
                    let r = self.run(&cmd).await;
                    if let Err(e) = &r {
                        if !is_server_error(e) {
                            return Err(r.unwrap_err());
                        }
                    }
                    into.insert(cmd.get_packed_command(), r);
                }
            }
        }
        Ok(())
    }

    /// A node-level command (INFO, SLOWLOG LEN) on every primary: (node, reply).
    async fn each_node(
        &mut self,
        cmd: redis::Cmd,
        single_node: &str,
    ) -> redis::RedisResult<Vec<(String, Value)>> {
        match self {
            Conn::Direct(c) => Ok(vec![(single_node.to_string(), cmd.query_async(c).await?)]),
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
                        .map(|(k, v)| (reply::text(k).unwrap_or_default(), v.clone()))
                        .collect(),
                    None => vec![("cluster".to_string(), v)],
                })
            }
        }
    }
}

/// The connection with the replies fetched ahead for this poll.
pub(super) struct Link<'a> {
    pub conn: &'a mut Conn,
    fetched: Fetched,
}

impl<'a> Link<'a> {
    /// Fetches, in two pipelined rounds, every command reading `streams` will send: each
    /// stream's XINFO STREAM, XLEN and XINFO GROUPS, then each watched group's XRANGE,
    /// XPENDING and XINFO CONSUMERS (which depend on what XINFO GROUPS said). Sent one by one
    /// they were 3 + 3 per group round trips under one timeout: many groups took the source
    /// down on a distant server.
    pub async fn prefetch(
        conn: &'a mut Conn,
        node: &str,
        streams: &[String],
        wanted: &[String],
    ) -> anyhow::Result<Link<'a>> {
        let fatal = |e: redis::RedisError| anyhow!(describe(&e, node));
        let mut fetched = Fetched::new();
        let mut first = Vec::new();
        for s in streams {
            first.push(redis::cmd("XINFO").arg("STREAM").arg(s).clone());
            first.push(redis::cmd("XLEN").arg(s).clone());
            first.push(redis::cmd("XINFO").arg("GROUPS").arg(s).clone());
        }
        conn.fetch(first, &mut fetched).await.map_err(fatal)?;
        let mut second = Vec::new();
        for s in streams {
            let key = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(s)
                .get_packed_command();
            let Some(Ok(v)) = fetched.get(&key) else {
                continue;
            };
            let Ok(groups) = reply::groups(v) else {
                continue;
            };
            for g in samples::watched(&groups, wanted) {
                if let (Some(n), Some(last)) = (samples::range_count(g), &g.last_delivered_id) {
                    second.push(xrange(s, last, n));
                }
                if g.pending != Some(0) {
                    second.push(redis::cmd("XPENDING").arg(s).arg(&g.name).clone());
                }
                second.push(
                    redis::cmd("XINFO")
                        .arg("CONSUMERS")
                        .arg(s)
                        .arg(&g.name)
                        .clone(),
                );
            }
        }
        conn.fetch(second, &mut fetched).await.map_err(fatal)?;
        Ok(Link { conn, fetched })
    }
}

/// The entries after `last` (exclusive: `(`, Redis 6.2+), at most `n`.
fn xrange(stream: &str, last: &str, n: i64) -> redis::Cmd {
    let mut cmd = redis::cmd("XRANGE");
    cmd.arg(stream)
        .arg(format!("({last}"))
        .arg("+")
        .arg("COUNT")
        .arg(n);
    cmd
}

/// What one poll has read so far.
#[derive(Default)]
pub(super) struct Gathered {
    pub samples: Vec<Sample>,
    pub problems: Vec<Problem>,
}

impl Gathered {
    fn problem(&mut self, signal: String, message: String) {
        self.problems.push((signal, message));
    }
}

/// INFO, then SLOWLOG LEN, from every node.
pub(super) async fn read_nodes(
    conn: &mut Conn,
    node: &str,
    now: TimeMs,
    got: &mut Gathered,
) -> anyhow::Result<()> {
    let fatal = |e: redis::RedisError| anyhow!(describe(&e, node));
    for (n, v) in conn
        .each_node(redis::cmd("INFO"), node)
        .await
        .map_err(fatal)?
    {
        // The node answered, so it is up even if its figures cannot be read.
        let info = reply::server_info(&v).unwrap_or_else(|e| {
            got.problem(format!("node {n}"), format!("valkey {n}: {e}"));
            reply::ServerInfo::default()
        });
        got.samples.extend(samples::server(&n, &info, now));
    }
    for (n, v) in conn
        .each_node(redis::cmd("SLOWLOG").arg("LEN").clone(), node)
        .await
        .map_err(fatal)?
    {
        match reply::count(&v, "SLOWLOG LEN") {
            Ok(Some(len)) => got.samples.push(samples::slowlog(&n, len, now)),
            Ok(None) => {}
            Err(e) => got.problem(format!("node {n}"), format!("valkey {n}: {e}")),
        }
    }
    Ok(())
}

/// XINFO STREAM and XLEN, then each watched group. A missing stream or group is a problem,
/// not a failure: the other streams are still read.
pub(super) async fn read_stream(
    conn: &mut Link<'_>,
    node: &str,
    stream: &str,
    wanted: &[String],
    times: &mut ServiceTimes,
    now: TimeMs,
    got: &mut Gathered,
) -> anyhow::Result<()> {
    let key = format!("stream {stream}");
    let info = match ask(conn, redis::cmd("XINFO").arg("STREAM").arg(stream), node).await? {
        Ok(v) => reply::stream_info(&v).map_err(|e| format!("stream `{stream}`: {e}")),
        Err(e) => Err(xinfo_stream_failed(stream, &e)),
    };
    let info = match info {
        Ok(info) => info,
        Err(message) => {
            got.problem(key, message);
            return Ok(());
        }
    };
    // XLEN is preferred; XINFO's `length` stands in when it fails.
    let xlen = match ask(conn, redis::cmd("XLEN").arg(stream), node).await? {
        Ok(v) => reply::count(&v, "XLEN").unwrap_or_else(|e| {
            got.problem(key.clone(), format!("stream `{stream}`: {e}"));
            None
        }),
        Err(_) => None,
    };
    got.samples
        .extend(samples::stream(stream, &info, xlen, now));
    let groups = match ask(conn, redis::cmd("XINFO").arg("GROUPS").arg(stream), node).await? {
        Ok(v) => reply::groups(&v).map_err(|e| format!("stream `{stream}`: {e}")),
        Err(e) => Err(format!(
            "stream `{stream}`: XINFO GROUPS failed: {}",
            clean_short(&e.to_string(), 160)
        )),
    };
    let groups = match groups {
        Ok(groups) => groups,
        Err(message) => {
            got.problem(key, message);
            return Ok(());
        }
    };
    got.problems
        .extend(samples::missing_groups(stream, wanted, &groups));
    for g in samples::watched(&groups, wanted) {
        got.samples.extend(samples::group(stream, g, now));
        let reads = read_backlog(conn, node, stream, g, got).await?;
        got.samples.extend(samples::backlog(stream, g, &reads, now));
        read_consumers(conn, node, stream, g, times, now, got).await?;
    }
    Ok(())
}

/// At most two commands per group: the entries after its last-delivered-id (the first, for
/// its age, or a bounded count when Valkey does not know the lag) and the XPENDING summary
/// (for the oldest pending entry). Each is skipped when XINFO GROUPS already says it would
/// come back empty.
async fn read_backlog(
    conn: &mut Link<'_>,
    node: &str,
    stream: &str,
    g: &GroupInfo,
    got: &mut Gathered,
) -> anyhow::Result<Reads> {
    let group = &g.name;
    let undelivered = match (samples::range_count(g), &g.last_delivered_id) {
        (None, _) => Some(RangeHead::default()),
        (Some(_), None) => None,
        (Some(n), Some(last)) => {
            let cmd = xrange(stream, last, n);
            let what = format!("XRANGE {stream} ({last} + COUNT {n}");
            match ask(conn, &cmd, node).await? {
                Ok(v) => reply::range_head(&v)
                    .map_err(|e| got.problem(group_key(stream, group), format!("{what}: {e}")))
                    .ok(),
                Err(e) => {
                    got.problem(group_key(stream, group), failed(&what, &e));
                    None
                }
            }
        }
    };
    let pending = if g.pending == Some(0) {
        Some(PendingSummary::default())
    } else {
        let what = format!("XPENDING {stream} {group}");
        match ask(conn, redis::cmd("XPENDING").arg(stream).arg(group), node).await? {
            Ok(v) => reply::pending_summary(&v)
                .map_err(|e| got.problem(group_key(stream, group), format!("{what}: {e}")))
                .ok(),
            Err(e) => {
                got.problem(group_key(stream, group), failed(&what, &e));
                None
            }
        }
    };
    Ok(Reads {
        undelivered,
        pending,
    })
}

/// XINFO CONSUMERS, judged stuck against the group's observed service time, which this poll
/// then updates.
async fn read_consumers(
    conn: &mut Link<'_>,
    node: &str,
    stream: &str,
    g: &GroupInfo,
    times: &mut ServiceTimes,
    now: TimeMs,
    got: &mut Gathered,
) -> anyhow::Result<()> {
    let group = &g.name;
    let mut cmd = redis::cmd("XINFO");
    cmd.arg("CONSUMERS").arg(stream).arg(group);
    let message = match ask(conn, &cmd, node).await? {
        Ok(v) => match reply::consumers(&v) {
            Ok(cs) => {
                let after = samples::stuck_after_ms(times.get(stream, group));
                got.samples
                    .extend(samples::consumers(stream, group, &cs, after, now));
                if let (Some(read), Some(pending)) = (g.entries_read, g.pending) {
                    let served = samples::served(pending, &cs, after) as f64;
                    times.observe(stream, group, now, (read - pending) as f64, served);
                }
                return Ok(());
            }
            Err(e) => format!("group `{group}` on stream `{stream}`: {e}"),
        },
        Err(e) => failed(&format!("XINFO CONSUMERS {stream} {group}"), &e),
    };
    got.problem(group_key(stream, group), message);
    Ok(())
}

fn group_key(stream: &str, group: &str) -> String {
    format!("group {stream}/{group}")
}

fn failed(what: &str, e: &redis::RedisError) -> String {
    format!("{what}: {}", clean_short(&e.to_string(), 160))
}

/// Sends one command. The server's error reply about it comes back inside `Ok` for the
/// caller to report against its stream or group; any other failure means the connection is
/// unusable and fails the poll.
async fn ask(
    conn: &mut Link<'_>,
    cmd: &redis::Cmd,
    node: &str,
) -> anyhow::Result<Result<Value, redis::RedisError>> {
    let reply = match conn.fetched.remove(&cmd.get_packed_command()) {
        Some(r) => r,
        None => conn.conn.run(cmd).await,
    };
    match reply {
        Ok(v) => Ok(Ok(v)),
        Err(e) if is_server_error(&e) => Ok(Err(e)),
        Err(e) => Err(anyhow!(describe(&e, node))),
    }
}

fn xinfo_stream_failed(stream: &str, e: &redis::RedisError) -> String {
    let e = e.to_string();
    if e.to_lowercase().contains("no such key") {
        format!(
            "stream `{stream}` does not exist (XINFO STREAM: {})",
            clean_short(&e, 120)
        )
    } else {
        format!(
            "stream `{stream}`: XINFO STREAM failed: {}",
            clean_short(&e, 160)
        )
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
pub(super) fn describe(e: &redis::RedisError, node: &str) -> String {
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
        if s.eq_ignore_ascii_case("timed out") {
            format!("valkey {node}: timed out")
        } else {
            format!("valkey {node}: timed out ({s})")
        }
    } else if s.contains("Parse error") {
        // The protocol parser's own words (byte offsets and codes) alone do not say what
        // happened: something other than Valkey answered, or the reply was corrupted.
        format!("valkey {node}: the reply is not Valkey's protocol (RESP): {s}")
    } else {
        format!("valkey {node}: {s}")
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn garbage_and_timeouts_are_said_plainly() {
        let garbage = redis::parse_redis_value(b"\x93\x17 not resp\r\n").unwrap_err();
        let d = describe(&garbage, "127.0.0.1:6379");
        assert!(d.contains("not Valkey's protocol (RESP)"), "{d}");
        let timeout = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        let d = describe(&timeout, "127.0.0.1:6379");
        assert_eq!(d, "valkey 127.0.0.1:6379: timed out");
    }
}
