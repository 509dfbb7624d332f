//! Pure: the series one poll reports, built from decoded replies.

use crate::model::stale_nan;
use crate::model::{Labels, Sample, TimeMs};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::is_stale_nan;

    const NOW: TimeMs = 1_000;

    /// Name, the other labels (sorted) and value of one sample.
    type Flat = (String, Vec<(String, String)>, f64);

    fn flat(samples: &[Sample]) -> Vec<Flat> {
        samples
            .iter()
            .map(|s| {
                assert_eq!(s.t, NOW);
                let mut rest: Vec<(String, String)> = ["node", "stream", "group"]
                    .iter()
                    .filter_map(|k| Some((k.to_string(), s.labels.get(k)?.to_string())))
                    .collect();
                rest.sort();
                (s.labels.name().unwrap().to_string(), rest, s.value)
            })
            .collect()
    }

    fn names(samples: &[Sample]) -> Vec<&str> {
        samples.iter().map(|s| s.labels.name().unwrap()).collect()
    }

    fn value(samples: &[Sample], name: &str) -> Option<f64> {
        samples
            .iter()
            .find(|s| s.labels.name() == Some(name))
            .map(|s| s.value)
    }

    fn workers(lag: Option<i64>, entries_read: Option<i64>) -> GroupInfo {
        GroupInfo {
            name: "workers".into(),
            consumers: Some(2),
            pending: Some(3),
            last_delivered_id: Some("1795794775733-4".into()),
            entries_read,
            lag,
        }
    }

    fn consumer(idle: i64, inactive: Option<i64>) -> ConsumerInfo {
        ConsumerInfo {
            idle_ms: Some(idle),
            inactive_ms: inactive,
        }
    }

    #[test]
    fn server_reports_up_and_each_listed_figure_per_node() {
        let info = ServerInfo {
            ops_per_sec: Some(250.0),
            connected_clients: Some(3.0),
            used_memory: Some(1024.0),
            ..ServerInfo::default()
        };
        let node = vec![("node".to_string(), "10.0.0.1:6379".to_string())];
        assert_eq!(
            flat(&server("10.0.0.1:6379", &info, NOW)),
            vec![
                ("valkey_up".into(), node.clone(), 1.0),
                (
                    "valkey_instantaneous_ops_per_sec".into(),
                    node.clone(),
                    250.0
                ),
                ("valkey_connected_clients".into(), node.clone(), 3.0),
                ("valkey_used_memory_bytes".into(), node.clone(), 1024.0),
            ]
        );
        let up_only = server("n", &ServerInfo::default(), NOW);
        assert_eq!(names(&up_only), ["valkey_up"]);
        assert_eq!(
            flat(&[slowlog("n", 4, NOW)]),
            [(
                "valkey_slowlog_length".into(),
                vec![("node".into(), "n".into())],
                4.0
            )]
        );
    }

    #[test]
    fn stream_length_comes_from_xlen_else_from_xinfo() {
        let info = StreamInfo {
            length: Some(5),
            entries_added: Some(6),
            groups: Some(3),
        };
        let jobs = vec![("stream".to_string(), "jobs".to_string())];
        assert_eq!(
            flat(&stream("jobs", &info, Some(7), NOW)),
            vec![
                ("valkey_stream_length".into(), jobs.clone(), 7.0),
                (
                    "valkey_stream_entries_added_total".into(),
                    jobs.clone(),
                    6.0
                ),
                ("valkey_stream_groups".into(), jobs, 3.0),
            ]
        );
        assert_eq!(
            value(&stream("jobs", &info, None, NOW), "valkey_stream_length"),
            Some(5.0)
        );
        let bare = stream("jobs", &StreamInfo::default(), None, NOW);
        assert!(bare.is_empty());
    }

    #[test]
    fn group_with_a_known_lag() {
        let got = group("jobs", &workers(Some(12), Some(8)), NOW);
        let labels = vec![
            ("group".to_string(), "workers".to_string()),
            ("stream".to_string(), "jobs".to_string()),
        ];
        assert_eq!(
            flat(&got),
            vec![
                ("valkey_group_lag_known".into(), labels.clone(), 1.0),
                ("valkey_group_lag".into(), labels.clone(), 12.0),
                ("valkey_group_pending".into(), labels.clone(), 3.0),
                (
                    "valkey_group_entries_read_total".into(),
                    labels.clone(),
                    8.0
                ),
                ("valkey_group_consumers".into(), labels.clone(), 2.0),
                (
                    "valkey_group_last_delivered_ms".into(),
                    labels,
                    1795794775733.0
                ),
            ]
        );
    }

    #[test]
    fn unknown_lag_ends_the_series_and_nil_entries_read_is_omitted() {
        let got = group("jobs", &workers(None, None), NOW);
        assert_eq!(value(&got, "valkey_group_lag_known"), Some(0.0));
        assert!(is_stale_nan(value(&got, "valkey_group_lag").unwrap()));
        assert_eq!(value(&got, "valkey_group_entries_read_total"), None);
        assert_eq!(value(&got, "valkey_group_pending"), Some(3.0));
    }

    #[test]
    fn consumers_idle_max_and_inactive_count() {
        // Reading now, never read (−1), and last read 30 s ago though idle is short.
        let cs = [
            consumer(200, Some(200)),
            consumer(1_500, Some(-1)),
            consumer(100, Some(30_000)),
        ];
        let got = consumers("jobs", "workers", &cs, NOW);
        assert_eq!(
            names(&got),
            [
                "valkey_group_consumer_idle_max_seconds",
                "valkey_group_consumers_inactive"
            ]
        );
        assert_eq!(got[0].value, 1.5);
        assert_eq!(got[1].value, 2.0);
        assert_eq!(got[1].labels.get("group"), Some("workers"));
        assert_eq!(got[1].labels.get("stream"), Some("jobs"));
    }

    #[test]
    fn redis70_consumers_count_as_inactive_by_idle() {
        let cs = [consumer(29_999, None), consumer(45_000, None)];
        let got = consumers("jobs", "workers", &cs, NOW);
        assert_eq!((got[0].value, got[1].value), (45.0, 1.0));
    }

    #[test]
    fn a_group_without_consumers_reports_zeros() {
        let got = consumers("jobs", "workers", &[], NOW);
        assert_eq!((got[0].value, got[1].value), (0.0, 0.0));
    }

    #[test]
    fn watched_groups_and_missing_ones() {
        let groups = [
            workers(None, None),
            GroupInfo {
                name: "audit".into(),
                ..workers(None, None)
            },
        ];
        let all: Vec<&str> = watched(&groups, &[]).map(|g| g.name.as_str()).collect();
        assert_eq!(all, ["workers", "audit"]);
        let wanted = ["audit".to_string(), "ghosts".to_string()];
        let some: Vec<&str> = watched(&groups, &wanted).map(|g| g.name.as_str()).collect();
        assert_eq!(some, ["audit"]);
        assert_eq!(
            missing_groups("jobs", &wanted, &groups),
            [(
                "group jobs/ghosts".to_string(),
                "consumer group `ghosts` does not exist on stream `jobs` (XINFO GROUPS lists workers, audit)".to_string()
            )]
        );
        assert_eq!(
            missing_groups("jobs", &wanted[1..], &[])[0].1,
            "consumer group `ghosts` does not exist on stream `jobs` (XINFO GROUPS lists none)"
        );
    }
}
