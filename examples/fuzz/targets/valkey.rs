//! The Valkey reply decoders (INFO, XINFO STREAM/GROUPS/CONSUMERS, XRANGE, XPENDING, XLEN), fed
//! RESP2 and RESP3 bytes through the client's own reply parser, as replies arrive.

use std::path::Path;

use redis::Value;
use slitop::sources::valkey::reply;

use super::gen::{number, text};
use super::Target;
use crate::rng::Rng;

pub const TARGET: Target = Target {
    name: "valkey",
    seeds,
    generate,
    tokens: &[
        b"_\r\n",
        b"$-1\r\n",
        b"*-1\r\n",
        b":-1\r\n",
        b",inf\r\n",
        b",nan\r\n",
        b"#t\r\n",
        b"%1\r\n",
        b"*2\r\n",
        b"~1\r\n",
        b"(99999999999999999999999\r\n",
        b"-ERR x\r\n",
        b"+lag\r\n",
        b"$3\r\nlag\r\n",
        b"=7\r\ntxt:a:1\r\n",
        b"$99999999\r\n",
        b"*99999999\r\n",
    ],
    max_len: crate::mutate::MAX_LEN,
    run,
};

/// Field names the decoders read, and a few they do not.
const FIELDS: &[&str] = &[
    "length",
    "entries-added",
    "groups",
    "name",
    "consumers",
    "pending",
    "last-delivered-id",
    "entries-read",
    "lag",
    "idle",
    "inactive",
    "radix-tree-keys",
    "first-entry",
    "x",
];

fn seeds(_: &Path) -> Vec<Vec<u8>> {
    [
        // XINFO STREAM, RESP2 and RESP3.
        "*6\r\n$6\r\nlength\r\n:12\r\n$13\r\nentries-added\r\n:40\r\n$6\r\ngroups\r\n:1\r\n",
        "%3\r\n+length\r\n:12\r\n+entries-added\r\n:40\r\n+groups\r\n:1\r\n",
        // XINFO GROUPS with a nil lag, and XINFO CONSUMERS.
        "*1\r\n*12\r\n$4\r\nname\r\n$7\r\nworkers\r\n$9\r\nconsumers\r\n:4\r\n$7\r\npending\r\n:3\r\n$17\r\nlast-delivered-id\r\n$15\r\n1700000000000-0\r\n$12\r\nentries-read\r\n:37\r\n$3\r\nlag\r\n$-1\r\n",
        "*1\r\n%4\r\n+name\r\n+w1\r\n+pending\r\n:2\r\n+idle\r\n:150\r\n+inactive\r\n:-1\r\n",
        // XRANGE, XPENDING (full and empty), XLEN, INFO (bulk and verbatim).
        "*2\r\n*2\r\n$15\r\n1700000000000-0\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$15\r\n1700000000001-0\r\n*0\r\n",
        "*4\r\n:3\r\n$15\r\n1700000000000-0\r\n$15\r\n1700000000002-0\r\n*1\r\n*2\r\n$2\r\nw1\r\n$1\r\n3\r\n",
        "*4\r\n:0\r\n_\r\n_\r\n_\r\n",
        ":42\r\n",
        "$92\r\n# Stats\r\ninstantaneous_ops_per_sec:120\r\nconnected_clients:5\r\nblocked_clients:4\r\nused_memory:1048576\r\n\r\n",
        "=40\r\ntxt:connected_clients:5\r\nused_memory:x\r\n\r\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// A reply tree of any shape, with the decoders' field names as keys, in RESP2 or RESP3.
fn generate(rng: &mut Rng, _: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    value(rng, 3, &mut out);
    out
}

fn value(rng: &mut Rng, depth: usize, out: &mut Vec<u8>) {
    let scalar = |rng: &mut Rng, out: &mut Vec<u8>| match rng.below(10) {
        0 => out.extend_from_slice(rng.pick(&[b"_\r\n" as &[u8], b"$-1\r\n", b"*-1\r\n"])),
        1 => {
            out.extend_from_slice(format!(":{}\r\n", rng.next() as i64 >> rng.below(64)).as_bytes())
        }
        2 => out.extend_from_slice(
            format!(
                ",{}\r\n",
                rng.pick(&["1.5", "inf", "-inf", "nan", "1e308", "-0"])
            )
            .as_bytes(),
        ),
        3 => out.extend_from_slice(format!("#{}\r\n", rng.pick(&["t", "f"])).as_bytes()),
        4 => out.extend_from_slice(
            format!("-ERR {}\r\n", rng.pick(&["no such key", "WRONGTYPE", ""])).as_bytes(),
        ),
        5 => out.extend_from_slice(
            format!(
                "({}\r\n",
                rng.pick(&[
                    "1",
                    "-99999999999999999999999",
                    "123456789012345678901234567890"
                ])
            )
            .as_bytes(),
        ),
        6 => bulk(
            rng.pick(&[
                "1700000000000-0",
                "0-0",
                "18446744073709551615-1",
                "-",
                "x-y",
                "1700000000000",
            ]),
            out,
        ),
        7 => {
            let t = format!("txt:{}", info(rng));
            out.extend_from_slice(format!("={}\r\n{t}\r\n", t.len()).as_bytes());
        }
        8 => out.extend_from_slice(
            format!("+{}\r\n", number(rng).replace(['\r', '\n'], "")).as_bytes(),
        ),
        _ => bulk(&text(rng), out),
    };
    if depth == 0 || rng.one_in(3) {
        return scalar(rng, out);
    }
    let n = rng.below(7);
    match rng.below(4) {
        0 | 1 => {
            // A map, RESP3 or as RESP2's flat key/value array.
            let resp3 = rng.one_in(2);
            out.extend_from_slice(
                if resp3 {
                    format!("%{n}\r\n")
                } else {
                    format!("*{}\r\n", n * 2)
                }
                .as_bytes(),
            );
            for _ in 0..n {
                bulk(rng.pick(FIELDS), out);
                value(rng, depth - 1, out);
            }
        }
        2 => {
            out.extend_from_slice(format!("*{n}\r\n").as_bytes());
            (0..n).for_each(|_| value(rng, depth - 1, out));
        }
        _ => {
            out.extend_from_slice(format!("~{n}\r\n").as_bytes());
            (0..n).for_each(|_| value(rng, depth - 1, out));
        }
    }
}

fn bulk(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("${}\r\n{s}\r\n", s.len()).as_bytes());
}

fn info(rng: &mut Rng) -> String {
    let field = rng.pick(&[
        "instantaneous_ops_per_sec",
        "connected_clients",
        "used_memory",
        "evicted_keys",
        "# Server",
        "x",
    ]);
    format!("{field}:{}\r\n", number(rng))
}

fn run(input: &[u8]) -> String {
    let v = match redis::parse_redis_value(input) {
        Ok(v) => v,
        Err(e) => return format!("resp error {:?}", e.kind()),
    };
    let results = [
        reply::server_info(&v).map(|_| ()),
        reply::stream_info(&v).map(|_| ()),
        reply::groups(&v).map(|_| ()),
        reply::consumers(&v).map(|_| ()),
        reply::range_head(&v).map(|_| ()),
        reply::pending_summary(&v).map(|_| ()),
        reply::count(&v, "XLEN").map(|_| ()),
    ];
    if let Some(id) = reply::text(&v) {
        let _ = reply::id_ms(&id);
    }
    let shape: String = results
        .iter()
        .map(|r| if r.is_ok() { '+' } else { '-' })
        .collect();
    let first_error = results
        .iter()
        .find_map(|r| r.as_ref().err().map(|e| e.to_string()));
    format!(
        "{} {shape} {}",
        kind_of(&v),
        first_error.unwrap_or_default()
    )
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Int(_) => "int",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Set(_) => "set",
        Value::BulkString(_) | Value::SimpleString(_) | Value::VerbatimString { .. } => "text",
        _ => "other",
    }
}
