//! Pure decoding of the replies the Valkey source reads, in RESP2 (flat key/value arrays,
//! nil as `$-1`) and RESP3 (maps, nil as `_`) alike: `redis::Value` in, plain structs out.
//! Fields the source does not use are ignored so newer servers keep working; a field it uses
//! that has the wrong type is an error naming it, so a strange server is reported, not guessed.

use std::collections::HashMap;
use std::fmt;

use redis::Value;

use crate::text::clean_short;

/// A reply that does not have the shape its command documents.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplyError(String);

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReplyError {}

/// The INFO figures the source reports; `None` when the server does not list one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerInfo {
    pub ops_per_sec: Option<f64>,
    pub connected_clients: Option<f64>,
    pub blocked_clients: Option<f64>,
    pub used_memory: Option<f64>,
    pub evicted_keys: Option<f64>,
    pub rejected_connections: Option<f64>,
}

/// XINFO STREAM. `entries-added` is missing before Redis 7.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamInfo {
    pub length: Option<i64>,
    pub entries_added: Option<i64>,
    pub groups: Option<i64>,
}

/// One entry of XINFO GROUPS. `entries-read` and `lag` are nil whenever the server cannot
/// tell (entries deleted or trimmed, a group created at an arbitrary ID).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupInfo {
    pub name: String,
    pub consumers: Option<i64>,
    pub pending: Option<i64>,
    pub last_delivered_id: Option<String>,
    pub entries_read: Option<i64>,
    pub lag: Option<i64>,
}

/// One entry of XINFO CONSUMERS, in milliseconds. `inactive` (Valkey 7.2+, Redis 7.2+) is −1
/// for a consumer that never read; Redis 7.0 does not send it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerInfo {
    pub pending: Option<i64>,
    pub idle_ms: Option<i64>,
    pub inactive_ms: Option<i64>,
}

/// What the source needs of an XRANGE reply: how many entries it holds and the first one's
/// ID (the oldest, as XRANGE reads forwards).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RangeHead {
    pub count: i64,
    pub first_id: Option<String>,
}

/// XPENDING's summary form, `[total, minId, maxId, [[consumer, count], ..]]`; an empty PEL is
/// `[0, nil, nil, nil]`. The per-consumer counts are left out: XINFO CONSUMERS has them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PendingSummary {
    pub total: i64,
    pub min_id: Option<String>,
}

/// INFO: a bulk string in RESP2, a verbatim `txt` string in RESP3.
pub fn server_info(reply: &Value) -> Result<ServerInfo, ReplyError> {
    match text(reply) {
        Some(s) => parse_info(&s),
        None => Err(ReplyError(format!(
            "INFO reply should be text, got {}",
            kind(reply)
        ))),
    }
}

/// INFO's `field:value` lines; `# Section` headers and fields not listed here are skipped.
pub fn parse_info(s: &str) -> Result<ServerInfo, ReplyError> {
    let fields: HashMap<&str, &str> = s
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end_matches('\r').split_once(':'))
        .collect();
    let num = |name: &str| {
        fields
            .get(name)
            .map(|v| {
                v.parse::<f64>().map_err(|_| {
                    ReplyError(format!(
                        "INFO reply: field `{name}` should be a number, got {:?}",
                        clean_short(v, 40)
                    ))
                })
            })
            .transpose()
    };
    Ok(ServerInfo {
        ops_per_sec: num("instantaneous_ops_per_sec")?,
        connected_clients: num("connected_clients")?,
        blocked_clients: num("blocked_clients")?,
        used_memory: num("used_memory")?,
        evicted_keys: num("evicted_keys")?,
        rejected_connections: num("rejected_connections")?,
    })
}

pub fn stream_info(reply: &Value) -> Result<StreamInfo, ReplyError> {
    let f = Fields::of(reply, "XINFO STREAM reply".into())?;
    Ok(StreamInfo {
        length: f.int("length")?,
        entries_added: f.int("entries-added")?,
        groups: f.int("groups")?,
    })
}

pub fn groups(reply: &Value) -> Result<Vec<GroupInfo>, ReplyError> {
    entries(reply, "XINFO GROUPS", "group")?
        .into_iter()
        .map(|f| {
            Ok(GroupInfo {
                name: f
                    .text("name")?
                    .ok_or_else(|| ReplyError(format!("{}: no `name` field", f.what)))?,
                consumers: f.int("consumers")?,
                pending: f.int("pending")?,
                last_delivered_id: f.text("last-delivered-id")?,
                entries_read: f.int("entries-read")?,
                lag: f.int("lag")?,
            })
        })
        .collect()
}

pub fn consumers(reply: &Value) -> Result<Vec<ConsumerInfo>, ReplyError> {
    entries(reply, "XINFO CONSUMERS", "consumer")?
        .into_iter()
        .map(|f| {
            Ok(ConsumerInfo {
                pending: f.int("pending")?,
                idle_ms: f.int("idle")?,
                inactive_ms: f.int("inactive")?,
            })
        })
        .collect()
}

/// XRANGE: an array of `[id, [field, value, ..]]` entries, the same in RESP2 and RESP3. Only
/// the IDs are looked at; the fields may be anything.
pub fn range_head(reply: &Value) -> Result<RangeHead, ReplyError> {
    let list = match reply {
        Value::Nil => return Ok(RangeHead::default()),
        v => v.as_sequence().ok_or_else(|| {
            ReplyError(format!(
                "XRANGE reply should be an array of entries, got {}",
                kind(v)
            ))
        })?,
    };
    let id_of = |(i, e): (usize, &Value)| {
        e.as_sequence()
            .and_then(|parts| parts.first())
            .and_then(text)
            .ok_or_else(|| {
                ReplyError(format!(
                    "XRANGE reply, entry {} should be [id, fields], got {}",
                    i + 1,
                    kind(e)
                ))
            })
    };
    // Every entry is checked, so a reply of the wrong shape is not counted as entries.
    let mut ids = list.iter().enumerate().map(id_of);
    let first_id = ids.next().transpose()?;
    for id in ids {
        id?;
    }
    Ok(RangeHead {
        count: list.len() as i64,
        first_id,
    })
}

/// XPENDING key group (the summary form).
pub fn pending_summary(reply: &Value) -> Result<PendingSummary, ReplyError> {
    let parts = match reply.as_sequence() {
        Some(p) if p.len() == 4 => p,
        _ => {
            return Err(ReplyError(format!(
                "XPENDING reply should be [total, min id, max id, consumers], got {}",
                kind(reply)
            )))
        }
    };
    let total = int(&parts[0]).ok_or_else(|| {
        ReplyError(format!(
            "XPENDING reply: the total should be an integer, got {}",
            kind(&parts[0])
        ))
    })?;
    let min_id = match &parts[1] {
        Value::Nil => None,
        v => Some(text(v).ok_or_else(|| {
            ReplyError(format!(
                "XPENDING reply: the min id should be a string or nil, got {}",
                kind(v)
            ))
        })?),
    };
    Ok(PendingSummary { total, min_id })
}

/// The millisecond part of a stream ID `<ms>-<seq>` (or a bare `<ms>`).
pub fn id_ms(id: &str) -> Option<i64> {
    id.split('-').next()?.parse().ok()
}

/// A bare integer reply (XLEN, SLOWLOG LEN); nil is `None`.
pub fn count(reply: &Value, command: &str) -> Result<Option<i64>, ReplyError> {
    match reply {
        Value::Nil => Ok(None),
        v => int(v).map(Some).ok_or_else(|| {
            ReplyError(format!(
                "{command} reply should be an integer, got {}",
                kind(v)
            ))
        }),
    }
}

/// Text of a string-like reply; integers too, as servers send some names as either.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// An integer, also when sent as a numeric string or a double.
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(_) | Value::SimpleString(_) => text(v)?.trim().parse().ok(),
        Value::Double(d) => Some(*d as i64),
        _ => None,
    }
}

/// The fields of one reply map, and what to call it in errors.
struct Fields<'a> {
    what: String,
    map: HashMap<String, &'a Value>,
}

impl<'a> Fields<'a> {
    /// A RESP3 map or a RESP2 flat key/value array.
    fn of(v: &'a Value, what: String) -> Result<Self, ReplyError> {
        let Some(it) = v.as_map_iter() else {
            return Err(ReplyError(format!(
                "{what} should be a map, got {}",
                kind(v)
            )));
        };
        let map = it.filter_map(|(k, v)| Some((text(k)?, v))).collect();
        Ok(Self { what, map })
    }

    /// Absent and nil are both `None`: callers treat "not reported" and "unknown" alike.
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map
            .get(field)
            .copied()
            .filter(|v| !matches!(v, Value::Nil))
    }

    fn int(&self, field: &str) -> Result<Option<i64>, ReplyError> {
        self.get(field)
            .map(|v| int(v).ok_or_else(|| self.wrong(field, "an integer", v)))
            .transpose()
    }

    fn text(&self, field: &str) -> Result<Option<String>, ReplyError> {
        self.get(field)
            .map(|v| text(v).ok_or_else(|| self.wrong(field, "a string", v)))
            .transpose()
    }

    fn wrong(&self, field: &str, want: &str, got: &Value) -> ReplyError {
        ReplyError(format!(
            "{}: field `{field}` should be {want} or nil, got {}",
            self.what,
            kind(got)
        ))
    }
}

/// The maps of a list reply (XINFO GROUPS, XINFO CONSUMERS). Errors name the entry by its
/// `name` when it has one, else by its position.
fn entries<'a>(reply: &'a Value, command: &str, item: &str) -> Result<Vec<Fields<'a>>, ReplyError> {
    let Some(list) = reply.as_sequence() else {
        return Err(ReplyError(format!(
            "{command} reply should be an array of {item}s, got {}",
            kind(reply)
        )));
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let mut f = Fields::of(v, format!("{command} reply, {item} {}", i + 1))?;
            if let Ok(Some(name)) = f.text("name") {
                f.what = format!("{command} reply, {item} `{}`", clean_short(&name, 60));
            }
            Ok(f)
        })
        .collect()
}

/// A short description of a value for error messages.
fn kind(v: &Value) -> String {
    let quoted = |s: &str| format!("the string {:?}", clean_short(s, 40));
    match v {
        Value::Nil => "nil".into(),
        Value::Int(i) => format!("the integer {i}"),
        Value::Double(d) => format!("the double {d}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::BulkString(b) => quoted(&String::from_utf8_lossy(b)),
        Value::SimpleString(s) => quoted(s),
        Value::VerbatimString { text, .. } => quoted(text),
        Value::Okay => "OK".into(),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::Map(m) => format!("a map of {}", m.len()),
        Value::Set(s) => format!("a set of {}", s.len()),
        Value::ServerError(e) => format!("the error {:?}", clean_short(&e.to_string(), 80)),
        _ => "an unexpected value".into(),
    }
}

#[cfg(test)]
mod tests {
    //! Replies recorded from Valkey 9.1.2 (`valkey-server`, RESP2 and after `HELLO 3`); keys
    //! are bulk strings in both protocols, only the map framing and nil differ.

    use super::*;
    use redis::VerbatimFormat;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    /// RESP2: `*2n` flat array of key, value, key, value…
    fn resp2(fields: &[(&str, Value)]) -> Value {
        Value::Array(
            fields
                .iter()
                .flat_map(|(k, v)| [bulk(k), v.clone()])
                .collect(),
        )
    }

    /// RESP3: `%n` map.
    fn resp3(fields: &[(&str, Value)]) -> Value {
        Value::Map(fields.iter().map(|(k, v)| (bulk(k), v.clone())).collect())
    }

    /// Both encodings of the same reply map.
    fn both(fields: &[(&str, Value)]) -> [Value; 2] {
        [resp2(fields), resp3(fields)]
    }

    fn entry(id: &str, n: &str) -> Value {
        Value::Array(vec![bulk(id), Value::Array(vec![bulk("n"), bulk(n)])])
    }

    /// XINFO STREAM jobs: 6 added, the last one deleted, 3 groups.
    fn xinfo_stream() -> Vec<(&'static str, Value)> {
        vec![
            ("length", Value::Int(5)),
            ("radix-tree-keys", Value::Int(1)),
            ("radix-tree-nodes", Value::Int(2)),
            ("last-generated-id", bulk("1795794775758-0")),
            ("max-deleted-entry-id", bulk("1795794775758-0")),
            ("entries-added", Value::Int(6)),
            ("recorded-first-entry-id", bulk("1795794775728-0")),
            ("groups", Value::Int(3)),
            ("first-entry", entry("1795794775728-0", "1")),
            ("last-entry", entry("1795794775744-0", "5")),
        ]
    }

    fn group(
        name: &str,
        consumers: i64,
        pending: i64,
        last: &str,
        read: Value,
        lag: Value,
    ) -> Vec<(&'static str, Value)> {
        vec![
            ("name", bulk(name)),
            ("consumers", Value::Int(consumers)),
            ("pending", Value::Int(pending)),
            ("last-delivered-id", bulk(last)),
            ("entries-read", read),
            ("lag", lag),
        ]
    }

    fn consumer(name: &str, pending: i64, idle: i64, inactive: Option<i64>) -> Vec<(&str, Value)> {
        let mut c = vec![
            ("name", bulk(name)),
            ("pending", Value::Int(pending)),
            ("idle", Value::Int(idle)),
        ];
        if let Some(ms) = inactive {
            c.push(("inactive", Value::Int(ms)));
        }
        c
    }

    /// A list reply (XINFO GROUPS / CONSUMERS) in RESP2 and RESP3: an array of maps.
    fn lists(items: &[Vec<(&str, Value)>]) -> [Value; 2] {
        [
            Value::Array(items.iter().map(|i| resp2(i)).collect()),
            Value::Array(items.iter().map(|i| resp3(i)).collect()),
        ]
    }

    fn err_text<T: fmt::Debug>(r: Result<T, ReplyError>) -> String {
        r.expect_err("a reply error").to_string()
    }

    const INFO: &str = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\n\
        valkey_version:9.1.2\r\nexecutable:/usr/bin/valkey-server\r\nconfig_file:\r\n\r\n\
        # Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n\r\n\
        # Memory\r\nused_memory:1048576\r\nmem_fragmentation_ratio:1.53\r\n\r\n\
        # Stats\r\ninstantaneous_ops_per_sec:250\r\nrejected_connections:0\r\n\
        evicted_keys:7\r\n\r\n# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n";

    #[test]
    fn info_as_resp2_bulk_and_resp3_verbatim_text() {
        let want = ServerInfo {
            ops_per_sec: Some(250.0),
            connected_clients: Some(3.0),
            blocked_clients: Some(1.0),
            used_memory: Some(1048576.0),
            evicted_keys: Some(7.0),
            rejected_connections: Some(0.0),
        };
        assert_eq!(server_info(&bulk(INFO)), Ok(want.clone()));
        let verbatim = Value::VerbatimString {
            format: VerbatimFormat::Text,
            text: INFO.into(),
        };
        assert_eq!(server_info(&verbatim), Ok(want));
    }

    #[test]
    fn info_fields_a_server_does_not_list_are_none() {
        let got = parse_info("# Clients\nconnected_clients:2\n").unwrap();
        assert_eq!(got.connected_clients, Some(2.0));
        assert_eq!(got.used_memory, None);
        assert_eq!(parse_info(""), Ok(ServerInfo::default()));
    }

    #[test]
    fn info_field_that_is_not_a_number_is_an_error_naming_it() {
        let e = err_text(parse_info("# Memory\r\nused_memory:lots\r\n"));
        assert!(e.contains("`used_memory`") && e.contains("\"lots\""), "{e}");
    }

    #[test]
    fn info_reply_that_is_not_text_is_an_error() {
        let e = err_text(server_info(&Value::Array(vec![])));
        assert_eq!(e, "INFO reply should be text, got an array of 0");
    }

    #[test]
    fn xinfo_stream_valkey9_both_protocols() {
        for reply in both(&xinfo_stream()) {
            let want = StreamInfo {
                length: Some(5),
                entries_added: Some(6),
                groups: Some(3),
            };
            assert_eq!(stream_info(&reply), Ok(want));
        }
    }

    #[test]
    fn xinfo_stream_without_entries_added_before_redis7() {
        let mut fields = xinfo_stream();
        fields.retain(|(k, _)| *k != "entries-added");
        for reply in both(&fields) {
            assert_eq!(stream_info(&reply).unwrap().entries_added, None);
        }
    }

    #[test]
    fn xinfo_stream_wrong_typed_field_is_an_error_naming_it() {
        let mut fields = xinfo_stream();
        fields[0].1 = Value::Array(vec![Value::Int(5)]);
        for reply in both(&fields) {
            let e = err_text(stream_info(&reply));
            assert_eq!(
                e,
                "XINFO STREAM reply: field `length` should be an integer or nil, got an array of 1"
            );
        }
    }

    #[test]
    fn xinfo_stream_that_is_not_a_map_is_an_error() {
        // An odd-length RESP2 array cannot be key/value pairs.
        let odd = Value::Array(vec![bulk("length"), Value::Int(5), bulk("groups")]);
        let e = err_text(stream_info(&odd));
        assert!(e.starts_with("XINFO STREAM reply should be a map"), "{e}");
        assert!(stream_info(&Value::Okay).is_err());
    }

    #[test]
    fn xinfo_groups_lag_and_entries_read_nil_after_xdel() {
        // Three groups, then an undelivered entry added and deleted: lag is nil for all,
        // entries-read is nil for the two that never read.
        let items = [
            group("fresh", 0, 0, "0-0", Value::Nil, Value::Nil),
            group("late", 0, 0, "1795794775744-0", Value::Nil, Value::Nil),
            group(
                "workers",
                1,
                2,
                "1795794775733-0",
                Value::Int(2),
                Value::Nil,
            ),
        ];
        for reply in lists(&items) {
            let got = groups(&reply).unwrap();
            assert_eq!(got.len(), 3);
            assert_eq!(
                got[2],
                GroupInfo {
                    name: "workers".into(),
                    consumers: Some(1),
                    pending: Some(2),
                    last_delivered_id: Some("1795794775733-0".into()),
                    entries_read: Some(2),
                    lag: None,
                }
            );
            assert_eq!((got[0].entries_read, got[0].lag), (None, None));
            assert_eq!(got[1].name, "late");
        }
    }

    #[test]
    fn xinfo_groups_group_created_at_zero_has_nil_entries_read_and_a_lag() {
        let items = [
            group("atzero", 0, 0, "0-0", Value::Nil, Value::Int(3)),
            group("g", 2, 1, "1-0", Value::Int(1), Value::Int(2)),
        ];
        for reply in lists(&items) {
            let got = groups(&reply).unwrap();
            assert_eq!((got[0].entries_read, got[0].lag), (None, Some(3)));
            assert_eq!((got[1].entries_read, got[1].lag), (Some(1), Some(2)));
        }
    }

    #[test]
    fn xinfo_groups_empty_list() {
        for reply in lists(&[]) {
            assert_eq!(groups(&reply), Ok(vec![]));
        }
        assert_eq!(groups(&Value::Nil), Ok(vec![]));
    }

    #[test]
    fn xinfo_groups_unknown_fields_are_ignored() {
        let mut g = group("workers", 1, 0, "5-0", Value::Int(5), Value::Int(0));
        g.insert(1, ("future-field", Value::Map(vec![])));
        g.push(("another", Value::Boolean(true)));
        for reply in lists(&[g.clone()]) {
            assert_eq!(groups(&reply).unwrap()[0].lag, Some(0));
        }
    }

    #[test]
    fn xinfo_groups_wrong_typed_field_is_an_error_naming_it_and_the_group() {
        let ok = group("a", 0, 0, "0-0", Value::Nil, Value::Int(0));
        let bad = group("workers", 1, 0, "5-0", Value::Int(5), bulk("many"));
        for reply in lists(&[ok.clone(), bad.clone()]) {
            assert_eq!(
                err_text(groups(&reply)),
                "XINFO GROUPS reply, group `workers`: field `lag` should be an integer or nil, \
                 got the string \"many\""
            );
        }
    }

    #[test]
    fn xinfo_groups_group_without_a_name_or_not_a_map_is_an_error() {
        let mut nameless = group("x", 0, 0, "0-0", Value::Nil, Value::Nil);
        nameless.remove(0);
        for reply in lists(&[nameless.clone()]) {
            assert_eq!(
                err_text(groups(&reply)),
                "XINFO GROUPS reply, group 1: no `name` field"
            );
        }
        let e = err_text(groups(&Value::Array(vec![Value::Int(1)])));
        assert_eq!(
            e,
            "XINFO GROUPS reply, group 1 should be a map, got the integer 1"
        );
        let e = err_text(groups(&bulk("nope")));
        assert!(
            e.starts_with("XINFO GROUPS reply should be an array of groups"),
            "{e}"
        );
    }

    #[test]
    fn xinfo_consumers_valkey9_with_inactive() {
        // c2 was created by XGROUP CREATECONSUMER and never read: inactive −1.
        let items = [
            consumer("c1", 1, 367, Some(367)),
            consumer("c2", 0, 359, Some(-1)),
        ];
        for reply in lists(&items) {
            assert_eq!(
                consumers(&reply),
                Ok(vec![
                    ConsumerInfo {
                        pending: Some(1),
                        idle_ms: Some(367),
                        inactive_ms: Some(367)
                    },
                    ConsumerInfo {
                        pending: Some(0),
                        idle_ms: Some(359),
                        inactive_ms: Some(-1)
                    },
                ])
            );
        }
    }

    #[test]
    fn xinfo_consumers_redis70_without_inactive() {
        for reply in lists(&[consumer("c1", 2, 41_000, None)]) {
            assert_eq!(
                consumers(&reply),
                Ok(vec![ConsumerInfo {
                    pending: Some(2),
                    idle_ms: Some(41_000),
                    inactive_ms: None
                }])
            );
        }
        for reply in lists(&[]) {
            assert_eq!(consumers(&reply), Ok(vec![]));
        }
    }

    #[test]
    fn xinfo_consumers_wrong_typed_field_is_an_error_naming_it() {
        let mut c = consumer("c1", 2, 10, Some(10));
        c[2].1 = Value::Array(vec![]);
        for reply in lists(&[c.clone()]) {
            let e = err_text(consumers(&reply));
            assert_eq!(
                e,
                "XINFO CONSUMERS reply, consumer `c1`: field `idle` should be an integer or nil, \
                 got an array of 0"
            );
        }
    }

    /// XRANGE jobs (1700000000001-0 + COUNT n: the same arrays in RESP2 and RESP3.
    fn xrange(ids: &[&str]) -> Value {
        Value::Array(ids.iter().map(|id| entry(id, "3")).collect())
    }

    #[test]
    fn xrange_head_counts_entries_and_names_the_first() {
        let got = range_head(&xrange(&["1700000000002-0", "1700000000003-0"]));
        assert_eq!(
            got,
            Ok(RangeHead {
                count: 2,
                first_id: Some("1700000000002-0".into())
            })
        );
    }

    #[test]
    fn xrange_with_nothing_after_the_start_is_empty() {
        // `*0` when the group has read everything; nil is taken the same way.
        assert_eq!(range_head(&xrange(&[])), Ok(RangeHead::default()));
        assert_eq!(range_head(&Value::Nil), Ok(RangeHead::default()));
    }

    #[test]
    fn xrange_of_the_wrong_shape_is_an_error() {
        let e = err_text(range_head(&Value::Int(3)));
        assert_eq!(
            e,
            "XRANGE reply should be an array of entries, got the integer 3"
        );
        let bad = Value::Array(vec![entry("1-0", "a"), Value::Int(7)]);
        assert_eq!(
            err_text(range_head(&bad)),
            "XRANGE reply, entry 2 should be [id, fields], got the integer 7"
        );
    }

    /// XPENDING jobs workers after c1 read two entries.
    fn xpending_two() -> Value {
        Value::Array(vec![
            Value::Int(2),
            bulk("1700000000000-0"),
            bulk("1700000000001-0"),
            Value::Array(vec![Value::Array(vec![bulk("c1"), bulk("2")])]),
        ])
    }

    #[test]
    fn xpending_summary_total_and_oldest_id() {
        assert_eq!(
            pending_summary(&xpending_two()),
            Ok(PendingSummary {
                total: 2,
                min_id: Some("1700000000000-0".into())
            })
        );
    }

    #[test]
    fn xpending_summary_of_an_empty_pel_in_both_protocols() {
        // RESP2 sends `*4 :0 $-1 $-1 *-1`, RESP3 `*4 :0 _ _ _`: both decode to nils.
        let empty = Value::Array(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil]);
        assert_eq!(pending_summary(&empty), Ok(PendingSummary::default()));
    }

    #[test]
    fn xpending_summary_of_the_wrong_shape_is_an_error() {
        let e = err_text(pending_summary(&Value::Array(vec![Value::Int(0)])));
        assert_eq!(
            e,
            "XPENDING reply should be [total, min id, max id, consumers], got an array of 1"
        );
        let mut parts = vec![bulk("two"), Value::Nil, Value::Nil, Value::Nil];
        assert_eq!(
            err_text(pending_summary(&Value::Array(parts.clone()))),
            "XPENDING reply: the total should be an integer, got the string \"two\""
        );
        parts[0] = Value::Int(1);
        parts[1] = Value::Array(vec![]);
        assert_eq!(
            err_text(pending_summary(&Value::Array(parts))),
            "XPENDING reply: the min id should be a string or nil, got an array of 0"
        );
    }

    #[test]
    fn id_ms_is_the_time_part_of_a_stream_id() {
        assert_eq!(id_ms("1700000000002-0"), Some(1_700_000_000_002));
        assert_eq!(id_ms("1700000000002"), Some(1_700_000_000_002));
        assert_eq!(id_ms("0-0"), Some(0));
        assert_eq!(id_ms("soon-1"), None);
        assert_eq!(id_ms(""), None);
    }

    #[test]
    fn counts_for_xlen_and_slowlog_len() {
        assert_eq!(count(&Value::Int(5), "XLEN"), Ok(Some(5)));
        assert_eq!(count(&Value::Nil, "XLEN"), Ok(None));
        assert_eq!(count(&bulk("12"), "SLOWLOG LEN"), Ok(Some(12)));
        assert_eq!(
            err_text(count(&Value::Okay, "SLOWLOG LEN")),
            "SLOWLOG LEN reply should be an integer, got OK"
        );
    }

    #[test]
    fn integers_sent_as_strings_or_doubles_are_read() {
        let fields = [
            ("length", bulk(" 9 ")),
            ("entries-added", Value::SimpleString("10".into())),
            ("groups", Value::Double(2.0)),
        ];
        for reply in both(&fields) {
            let want = StreamInfo {
                length: Some(9),
                entries_added: Some(10),
                groups: Some(2),
            };
            assert_eq!(stream_info(&reply), Ok(want));
        }
    }
}
