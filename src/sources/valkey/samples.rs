//! Pure: the series one poll reports, built from decoded replies.

use std::collections::{HashMap, VecDeque};

use crate::model::stale_nan;
use crate::model::{Labels, Sample, TimeMs};

use super::reply::{
    id_ms, ConsumerInfo, GroupInfo, PendingSummary, RangeHead, ServerInfo, StreamInfo,
};

/// A consumer idle at least this long counts as inactive.
const INACTIVE_AFTER_MS: i64 = 30_000;

/// When Valkey reports the lag as unknown, the undelivered entries are counted by reading at
/// most this many: XRANGE returns every entry with its fields, so the read has to stay small.
pub const COUNT_BOUND: i64 = 10_000;

/// A stream ID whose millisecond part is before 2001 was chosen by the producer (a sequence
/// number), not taken from the server's clock, so it tells nothing about age.
const CLOCK_IDS_FROM_MS: i64 = 978_307_200_000;

/// A consumer holding entries is stuck once idle for longer than this, or than this many
/// observed service times when that is longer.
const STUCK_AFTER_MS: i64 = 30_000;
const STUCK_SERVICE_TIMES: f64 = 20.0;

/// The service time is estimated over about this much of the recent past.
const SERVICE_WINDOW_MS: i64 = 60_000;

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
    let last_delivered_ms = g
        .last_delivered_id
        .as_deref()
        .and_then(id_ms)
        .map(|ms| ms as f64);
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

/// The longest idle time, how many consumers count as inactive and how many as stuck (see
/// `stuck`).
pub fn consumers(
    stream: &str,
    group: &str,
    cs: &[ConsumerInfo],
    stuck_after_ms: i64,
    now: TimeMs,
) -> Vec<Sample> {
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
    let stuck = cs.iter().filter(|c| stuck(c, stuck_after_ms)).count();
    vec![
        Sample::new(
            l("valkey_group_consumer_idle_max_seconds"),
            now,
            idle_max as f64 / 1000.0,
        ),
        Sample::new(l("valkey_group_consumers_inactive"), now, inactive as f64),
        Sample::new(l("valkey_group_consumers_stuck"), now, stuck as f64),
    ]
}

/// A consumer that holds delivered entries but has not even tried to read for longer than
/// `after_ms`: it is not working them off, and nobody else will until they are claimed.
/// `idle` (any attempt resets it) rather than `inactive`, so a consumer that still polls is
/// never called stuck.
pub fn stuck(c: &ConsumerInfo, after_ms: i64) -> bool {
    c.pending.is_some_and(|p| p > 0) && c.idle_ms.is_some_and(|ms| ms > after_ms)
}

/// Of the group's pending entries, those held by consumers that are not stuck: the ones
/// being served.
pub fn served(pending: i64, cs: &[ConsumerInfo], stuck_after_ms: i64) -> i64 {
    let held: i64 = cs
        .iter()
        .filter(|c| stuck(c, stuck_after_ms))
        .filter_map(|c| c.pending)
        .sum();
    (pending - held).max(0)
}

/// How long a consumer holding entries may stay idle: 30 s, or 20 service times when that is
/// longer, so slow jobs are not taken for stuck ones.
pub fn stuck_after_ms(service_s: Option<f64>) -> i64 {
    let by_service = service_s
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(0, |s| (s * STUCK_SERVICE_TIMES * 1000.0) as i64);
    by_service.max(STUCK_AFTER_MS)
}

/// How many entries after the group's last-delivered-id to read: none when Valkey says none
/// is undelivered, the first (for its age) when it knows the lag, and up to `COUNT_BOUND` to
/// count them when it does not.
pub fn range_count(g: &GroupInfo) -> Option<i64> {
    match g.lag {
        Some(0) => None,
        Some(_) => Some(1),
        None => Some(COUNT_BOUND),
    }
}

/// What the reads after XINFO GROUPS found for one group; `None` when one could not be read.
/// A read that was not needed (nothing undelivered, nothing pending) is its empty reply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reads {
    /// XRANGE after the last-delivered-id, with the count `range_count` asked for.
    pub undelivered: Option<RangeHead>,
    pub pending: Option<PendingSummary>,
}

/// The group's backlog: undelivered entries (Valkey's lag, else counted), the backlog
/// (undelivered + pending), the age of the oldest undelivered and of the oldest pending
/// entry, and the acknowledged-entries counter. A figure that cannot be known is a staleness
/// marker, as the lag is, so a query stops using its last value instead of holding it.
pub fn backlog(stream: &str, g: &GroupInfo, reads: &Reads, now: TimeMs) -> Vec<Sample> {
    let l = |n: &str| {
        Labels::named(n)
            .with("stream", stream)
            .with("group", &g.name)
    };
    let undelivered = g
        .lag
        .or_else(|| reads.undelivered.as_ref().map(|r| r.count));
    // A count that reached its bound is a lower bound.
    let capped = g.lag.is_none() && undelivered.is_some_and(|n| n >= COUNT_BOUND);
    let backlog = undelivered.zip(g.pending).map(|(u, p)| u + p);
    let backlog_age = reads
        .undelivered
        .as_ref()
        .and_then(|r| age_s(r.first_id.as_deref(), now));
    let pending_age = reads
        .pending
        .as_ref()
        .and_then(|p| age_s(p.min_id.as_deref(), now));
    // Read minus still pending is what left the PEL: acknowledged (or claimed away as
    // deleted). `entries-read` is a position in the stream, not a count from zero, so only
    // its increase means anything.
    let acked = g.entries_read.zip(g.pending).map(|(r, p)| r - p);
    let known = |v: Option<f64>| v.unwrap_or_else(stale_nan);
    let mut out = vec![
        Sample::new(
            l("valkey_group_undelivered"),
            now,
            known(undelivered.map(|v| v as f64)),
        ),
        Sample::new(
            l("valkey_group_undelivered_capped"),
            now,
            if capped { 1.0 } else { 0.0 },
        ),
        Sample::new(
            l("valkey_group_backlog"),
            now,
            known(backlog.map(|v| v as f64)),
        ),
        Sample::new(
            l("valkey_group_backlog_age_seconds"),
            now,
            known(backlog_age),
        ),
        Sample::new(
            l("valkey_group_pending_age_seconds"),
            now,
            known(pending_age),
        ),
    ];
    if let Some(a) = acked {
        out.push(Sample::new(l("valkey_group_acked_total"), now, a as f64));
    }
    out
}

/// Seconds since the entry `id` was added, from the time in its ID; 0 when there is no such
/// entry (nothing waits, so nothing has waited). None for an ID that is not a time. The ID
/// holds the server's clock, `now` ours: a clock ahead of ours reads as 0, not negative.
fn age_s(id: Option<&str>, now: TimeMs) -> Option<f64> {
    let Some(id) = id else { return Some(0.0) };
    let ms = id_ms(id).filter(|ms| *ms >= CLOCK_IDS_FROM_MS)?;
    Some((now - ms).max(0) as f64 / 1000.0)
}

/// Each group's observed service time: how long an entry stays pending, delivery to
/// acknowledgement, by Little's law (mean pending ÷ acknowledge rate) over about the last
/// minute of polls. Kept across polls; once nothing has been acknowledged for a whole window
/// the last estimate stands, since a stall is exactly when the stuck rule needs it.
#[derive(Debug, Default)]
pub struct ServiceTimes {
    groups: HashMap<(String, String), Track>,
}

#[derive(Debug, Default)]
struct Track {
    /// (time, acked counter, entries pending with consumers that are not stuck), oldest first.
    polls: VecDeque<(TimeMs, f64, f64)>,
    estimate: Option<f64>,
}

impl ServiceTimes {
    /// Seconds, once some entries have been acknowledged while watched.
    pub fn get(&self, stream: &str, group: &str) -> Option<f64> {
        self.groups
            .get(&(stream.to_string(), group.to_string()))?
            .estimate
    }

    /// One poll of a group. Stuck consumers' entries are left out of `pending`: they are not
    /// being served, and counting them would stretch the estimate and so hide them.
    pub fn observe(&mut self, stream: &str, group: &str, now: TimeMs, acked: f64, pending: f64) {
        let t = self
            .groups
            .entry((stream.to_string(), group.to_string()))
            .or_default();
        // A counter that went back (XGROUP SETID, a recreated group), or a clock, starts afresh.
        if t.polls
            .back()
            .is_some_and(|&(at, a, _)| acked < a || now < at)
        {
            t.polls.clear();
        }
        t.polls.push_back((now, acked, pending));
        while t.polls.len() > 2 && now - t.polls[1].0 >= SERVICE_WINDOW_MS {
            t.polls.pop_front();
        }
        let (t0, a0, _) = t.polls[0];
        let (secs, done) = ((now - t0) as f64 / 1000.0, acked - a0);
        if secs > 0.0 && done > 0.0 {
            let mean = t.polls.iter().map(|p| p.2).sum::<f64>() / t.polls.len() as f64;
            t.estimate = Some(mean / (done / secs));
        }
    }
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
            pending: Some(0),
            idle_ms: Some(idle),
            inactive_ms: inactive,
        }
    }

    fn holding(pending: i64, idle: i64) -> ConsumerInfo {
        ConsumerInfo {
            pending: Some(pending),
            ..consumer(idle, Some(idle))
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
        let got = consumers("jobs", "workers", &cs, 30_000, NOW);
        assert_eq!(
            names(&got),
            [
                "valkey_group_consumer_idle_max_seconds",
                "valkey_group_consumers_inactive",
                "valkey_group_consumers_stuck"
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
        let got = consumers("jobs", "workers", &cs, 30_000, NOW);
        assert_eq!((got[0].value, got[1].value), (45.0, 1.0));
    }

    #[test]
    fn a_group_without_consumers_reports_zeros() {
        let got = consumers("jobs", "workers", &[], 30_000, NOW);
        assert_eq!((got[0].value, got[1].value, got[2].value), (0.0, 0.0, 0.0));
    }

    #[test]
    fn stuck_consumers_hold_entries_and_have_not_tried_to_read() {
        let cs = [
            holding(3, 31_000),             // stuck
            holding(0, 600_000),            // idle but holds nothing
            holding(5, 2_000),              // working
            consumer(40_000, Some(40_000)), // idle, nothing pending
            ConsumerInfo {
                pending: None,
                ..consumer(90_000, None)
            }, // Redis 7.0 without pending: not judged
        ];
        let got = consumers("jobs", "workers", &cs, 30_000, NOW);
        assert_eq!(value(&got, "valkey_group_consumers_stuck"), Some(1.0));
        // The same consumers against a longer threshold.
        let got = consumers("jobs", "workers", &cs, 60_000, NOW);
        assert_eq!(value(&got, "valkey_group_consumers_stuck"), Some(0.0));
        assert!(
            !stuck(&holding(1, 30_000), 30_000),
            "the threshold itself is not over"
        );
        // Only the working consumer's 5 are being served.
        assert_eq!(served(8, &cs, 30_000), 5);
        assert_eq!(
            served(2, &cs, 30_000),
            0,
            "pending read before the consumers"
        );
    }

    #[test]
    fn stuck_threshold_is_30s_or_20_service_times() {
        assert_eq!(stuck_after_ms(None), 30_000);
        assert_eq!(stuck_after_ms(Some(0.1)), 30_000);
        assert_eq!(stuck_after_ms(Some(2.0)), 40_000);
        assert_eq!(stuck_after_ms(Some(f64::NAN)), 30_000);
        assert_eq!(stuck_after_ms(Some(-1.0)), 30_000);
    }

    #[test]
    fn the_range_read_depends_on_what_valkey_knows_of_the_lag() {
        assert_eq!(range_count(&workers(Some(0), Some(8))), None);
        assert_eq!(range_count(&workers(Some(12), Some(8))), Some(1));
        assert_eq!(range_count(&workers(None, Some(8))), Some(COUNT_BOUND));
    }

    /// `NOW` is far too early for a clock ID, so the backlog tests use a realistic time.
    const T: TimeMs = 1_700_000_060_000;

    fn at(samples: &[Sample], name: &str) -> Option<f64> {
        assert!(samples.iter().all(|s| s.t == T));
        value(samples, name)
    }

    fn head(count: i64, first: Option<&str>) -> RangeHead {
        RangeHead {
            count,
            first_id: first.map(str::to_string),
        }
    }

    fn pel(total: i64, min: Option<&str>) -> PendingSummary {
        PendingSummary {
            total,
            min_id: min.map(str::to_string),
        }
    }

    #[test]
    fn backlog_with_a_known_lag_and_entries_pending() {
        // 12 undelivered, the oldest added 45 s ago; 3 pending, the oldest added 50 s ago.
        let reads = Reads {
            undelivered: Some(head(1, Some("1700000015000-0"))),
            pending: Some(pel(3, Some("1700000010000-3"))),
        };
        let got = backlog("jobs", &workers(Some(12), Some(8)), &reads, T);
        assert_eq!(
            names(&got),
            [
                "valkey_group_undelivered",
                "valkey_group_undelivered_capped",
                "valkey_group_backlog",
                "valkey_group_backlog_age_seconds",
                "valkey_group_pending_age_seconds",
                "valkey_group_acked_total",
            ]
        );
        assert!(got
            .iter()
            .all(|s| s.labels.get("stream") == Some("jobs")
                && s.labels.get("group") == Some("workers")));
        assert_eq!(at(&got, "valkey_group_undelivered"), Some(12.0));
        assert_eq!(at(&got, "valkey_group_undelivered_capped"), Some(0.0));
        assert_eq!(at(&got, "valkey_group_backlog"), Some(15.0));
        assert_eq!(at(&got, "valkey_group_backlog_age_seconds"), Some(45.0));
        assert_eq!(at(&got, "valkey_group_pending_age_seconds"), Some(50.0));
        assert_eq!(at(&got, "valkey_group_acked_total"), Some(5.0));
    }

    #[test]
    fn an_empty_backlog_is_zero_and_zero_seconds_old() {
        let g = GroupInfo {
            pending: Some(0),
            ..workers(Some(0), Some(8))
        };
        let reads = Reads {
            undelivered: Some(RangeHead::default()),
            pending: Some(PendingSummary::default()),
        };
        let got = backlog("jobs", &g, &reads, T);
        assert_eq!(at(&got, "valkey_group_backlog"), Some(0.0));
        assert_eq!(at(&got, "valkey_group_backlog_age_seconds"), Some(0.0));
        assert_eq!(at(&got, "valkey_group_pending_age_seconds"), Some(0.0));
        assert_eq!(at(&got, "valkey_group_acked_total"), Some(8.0));
    }

    #[test]
    fn unknown_lag_is_counted_and_a_full_count_is_a_lower_bound() {
        let reads = Reads {
            undelivered: Some(head(4, Some("1700000059500-0"))),
            pending: Some(pel(3, Some("1700000059000-0"))),
        };
        let got = backlog("jobs", &workers(None, None), &reads, T);
        assert_eq!(at(&got, "valkey_group_undelivered"), Some(4.0));
        assert_eq!(at(&got, "valkey_group_undelivered_capped"), Some(0.0));
        assert_eq!(at(&got, "valkey_group_backlog"), Some(7.0));
        assert_eq!(at(&got, "valkey_group_backlog_age_seconds"), Some(0.5));
        // No entries-read, no acknowledged counter.
        assert_eq!(at(&got, "valkey_group_acked_total"), None);
        let full = Reads {
            undelivered: Some(head(COUNT_BOUND, Some("1700000000000-0"))),
            ..reads
        };
        let got = backlog("jobs", &workers(None, None), &full, T);
        assert_eq!(at(&got, "valkey_group_undelivered"), Some(10_000.0));
        assert_eq!(at(&got, "valkey_group_undelivered_capped"), Some(1.0));
        assert_eq!(at(&got, "valkey_group_backlog"), Some(10_003.0));
    }

    #[test]
    fn what_could_not_be_read_ends_its_series() {
        let got = backlog("jobs", &workers(None, Some(8)), &Reads::default(), T);
        for name in [
            "valkey_group_undelivered",
            "valkey_group_backlog",
            "valkey_group_backlog_age_seconds",
            "valkey_group_pending_age_seconds",
        ] {
            assert!(is_stale_nan(at(&got, name).unwrap()), "{name}");
        }
        assert_eq!(at(&got, "valkey_group_undelivered_capped"), Some(0.0));
        // A known lag still makes the backlog; only the ages are missing.
        let got = backlog("jobs", &workers(Some(2), Some(8)), &Reads::default(), T);
        assert_eq!(at(&got, "valkey_group_backlog"), Some(5.0));
        assert!(is_stale_nan(
            at(&got, "valkey_group_backlog_age_seconds").unwrap()
        ));
    }

    #[test]
    fn ages_from_ids_that_are_not_times_or_are_ahead_of_our_clock() {
        assert_eq!(age_s(Some("5-0"), T), None, "a producer's sequence number");
        assert_eq!(age_s(Some("garbage"), T), None);
        assert_eq!(
            age_s(Some("1700000070000-0"), T),
            Some(0.0),
            "server clock ahead"
        );
        assert_eq!(age_s(None, T), Some(0.0));
    }

    #[test]
    fn service_time_is_mean_pending_over_acknowledge_rate() {
        let mut st = ServiceTimes::default();
        assert_eq!(st.get("jobs", "workers"), None);
        // 4 pending throughout, 40 acknowledged per second: 100 ms each.
        for i in 0..5 {
            st.observe(
                "jobs",
                "workers",
                T + i * 1000,
                100.0 + 40.0 * i as f64,
                4.0,
            );
        }
        let s = st.get("jobs", "workers").unwrap();
        assert!((s - 0.1).abs() < 1e-9, "{s}");
        // A stall: nothing acknowledged for two minutes (the held entries are stuck, so
        // left out). Once no acknowledgement is left in the window the last estimate stands.
        for i in 5..125 {
            st.observe("jobs", "workers", T + i * 1000, 260.0, 0.0);
        }
        let kept = st.get("jobs", "workers").expect("kept through the stall");
        for i in 125..200 {
            st.observe("jobs", "workers", T + i * 1000, 260.0, 0.0);
        }
        assert_eq!(st.get("jobs", "workers"), Some(kept));
        assert_eq!(st.get("jobs", "other"), None);
    }

    #[test]
    fn service_time_window_is_about_a_minute_and_restarts_on_a_reset() {
        let mut st = ServiceTimes::default();
        // A slow start (1 pending, 1 per second: 1 s), then a minute of 2 per second with 8
        // pending (4 s): the early polls fall out of the window.
        for i in 0..10 {
            st.observe("jobs", "w", T + i * 1000, i as f64, 1.0);
        }
        for i in 10..100 {
            st.observe("jobs", "w", T + i * 1000, 9.0 + 2.0 * (i - 9) as f64, 8.0);
        }
        let s = st.get("jobs", "w").unwrap();
        assert!((s - 4.0).abs() < 1e-9, "{s}");
        // XGROUP SETID back to the start: the counter drops, the history starts afresh.
        st.observe("jobs", "w", T + 100_000, 0.0, 2.0);
        st.observe("jobs", "w", T + 101_000, 1.0, 2.0);
        let s = st.get("jobs", "w").unwrap();
        assert!((s - 2.0).abs() < 1e-9, "{s}");
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
