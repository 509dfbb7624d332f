//! Pure: the series one poll reports, built from decoded replies.

use crate::model::{Labels, Sample, TimeMs};
use crate::store::stale_nan;

use super::reply::{ConsumerInfo, GroupInfo, ServerInfo, StreamInfo};

/// A consumer idle at least this long counts as inactive.
const INACTIVE_AFTER_MS: i64 = 30_000;

/// (signal, message): a stream, group or node that could not be read. It is reported on its
/// own and the rest of the poll goes on.
pub type Problem = (String, String);

/// `valkey_up` and the INFO figures of one node.
pub fn server(node: &str, info: &ServerInfo, now: TimeMs) -> Vec<Sample> {
    let l = |name: &str| Labels::named(name).with("node", node);
    let figures = [
        ("valkey_instantaneous_ops_per_sec", info.ops_per_sec),
        ("valkey_connected_clients", info.connected_clients),
        ("valkey_blocked_clients", info.blocked_clients),
        ("valkey_used_memory_bytes", info.used_memory),
        ("valkey_evicted_keys_total", info.evicted_keys),
        (
            "valkey_rejected_connections_total",
            info.rejected_connections,
        ),
    ];
    std::iter::once(Sample::new(l("valkey_up"), now, 1.0))
        .chain(
            figures
                .into_iter()
                .filter_map(|(name, v)| Some(Sample::new(l(name), now, v?))),
        )
        .collect()
}

pub fn slowlog(node: &str, len: i64, now: TimeMs) -> Sample {
    Sample::new(
        Labels::named("valkey_slowlog_length").with("node", node),
        now,
        len as f64,
    )
}

/// XLEN's count when there is one, else XINFO STREAM's `length`.
pub fn stream(stream: &str, info: &StreamInfo, xlen: Option<i64>, now: TimeMs) -> Vec<Sample> {
    let l = |name: &str| Labels::named(name).with("stream", stream);
    [
        ("valkey_stream_length", xlen.or(info.length)),
        ("valkey_stream_entries_added_total", info.entries_added),
        ("valkey_stream_groups", info.groups),
    ]
    .into_iter()
    .filter_map(|(name, v)| Some(Sample::new(l(name), now, v? as f64)))
    .collect()
}

pub fn group(stream: &str, g: &GroupInfo, now: TimeMs) -> Vec<Sample> {
    let l = |n: &str| {
        Labels::named(n)
            .with("stream", stream)
            .with("group", &g.name)
    };
    let known = if g.lag.is_some() { 1.0 } else { 0.0 };
    // Lag turns unknown (nil) once entries were deleted or trimmed; a staleness marker then
    // ends the series, so queries fall back to the stream length instead of holding the last
    // known lag for the whole lookback.
    let lag = g.lag.map_or_else(stale_nan, |v| v as f64);
    // Stream IDs are `<ms>-<seq>`.
    let last_delivered_ms = g
        .last_delivered_id
        .as_deref()
        .and_then(|id| id.split('-').next()?.parse::<f64>().ok());
    let optional = [
        ("valkey_group_pending", g.pending.map(|v| v as f64)),
        (
            "valkey_group_entries_read_total",
            g.entries_read.map(|v| v as f64),
        ),
        ("valkey_group_consumers", g.consumers.map(|v| v as f64)),
        ("valkey_group_last_delivered_ms", last_delivered_ms),
    ];
    [
        Sample::new(l("valkey_group_lag_known"), now, known),
        Sample::new(l("valkey_group_lag"), now, lag),
    ]
    .into_iter()
    .chain(
        optional
            .into_iter()
            .filter_map(|(name, v)| Some(Sample::new(l(name), now, v?))),
    )
    .collect()
}

/// The longest idle time and how many consumers count as inactive.
pub fn consumers(stream: &str, group: &str, cs: &[ConsumerInfo], now: TimeMs) -> Vec<Sample> {
    let l = |n: &str| Labels::named(n).with("stream", stream).with("group", group);
    let idle_max = cs.iter().filter_map(|c| c.idle_ms).max().unwrap_or(0);
    // `inactive` is the time since the last successful read (−1: never), which `idle` is not
    // (any attempt resets it); Redis 7.0 only has `idle`.
    let inactive = cs
        .iter()
        .filter(|c| {
            matches!(c.inactive_ms.or(c.idle_ms), Some(ms) if !(0..INACTIVE_AFTER_MS).contains(&ms))
        })
        .count();
    vec![
        Sample::new(
            l("valkey_group_consumer_idle_max_seconds"),
            now,
            idle_max as f64 / 1000.0,
        ),
        Sample::new(l("valkey_group_consumers_inactive"), now, inactive as f64),
    ]
}

/// The groups to read: those configured, or every group when none are.
pub fn watched<'a>(
    groups: &'a [GroupInfo],
    wanted: &'a [String],
) -> impl Iterator<Item = &'a GroupInfo> + 'a {
    groups
        .iter()
        .filter(move |g| wanted.is_empty() || wanted.contains(&g.name))
}

/// A problem for each configured group the stream does not have.
pub fn missing_groups(stream: &str, wanted: &[String], groups: &[GroupInfo]) -> Vec<Problem> {
    let names = if groups.is_empty() {
        "none".to_string()
    } else {
        groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    wanted
        .iter()
        .filter(|want| !groups.iter().any(|g| &g.name == *want))
        .map(|want| {
            (
                format!("group {stream}/{want}"),
                format!("consumer group `{want}` does not exist on stream `{stream}` (XINFO GROUPS lists {names})"),
            )
        })
        .collect()
}
