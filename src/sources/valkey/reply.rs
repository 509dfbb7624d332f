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
    pub idle_ms: Option<i64>,
    pub inactive_ms: Option<i64>,
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
                idle_ms: f.int("idle")?,
                inactive_ms: f.int("inactive")?,
            })
        })
        .collect()
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
