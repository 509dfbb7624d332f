//! `--retain N`: the stream keeps up to N acknowledged entries (XLEN is then retention, not
//! backlog), trimmed from the oldest — but never past the first entry some group has not
//! acknowledged yet. `XADD MAXLEN ~ N` would trim by count alone and silently drop jobs no
//! worker had read whenever the backlog outgrew N.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Value;

use crate::metrics_setup as m;

/// How many entries one pass removes at most (each is read once to find the cut).
const MAX_PER_PASS: u64 = 10_000;

/// Trims the stream to `keep` entries every half second, for the life of the process.
pub async fn trim_forever(mut c: ConnectionManager, stream: String, keep: u64) {
    loop {
        if let Err(e) = trim_once(&mut c, &stream, keep).await {
            eprintln!("slitop-pipeline: retention trim of {stream} failed ({e}); trying again");
            metrics::counter!(m::VALKEY_ERRORS).increment(1);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One pass: removes up to `XLEN - keep` of the oldest entries, all acknowledged. Returns how
/// many it removed.
pub async fn trim_once(
    c: &mut ConnectionManager,
    stream: &str,
    keep: u64,
) -> redis::RedisResult<u64> {
    let len: u64 = redis::cmd("XLEN").arg(stream).query_async(c).await?;
    let excess = len.saturating_sub(keep).min(MAX_PER_PASS);
    if excess == 0 {
        return Ok(0);
    }
    let Some(bound) = first_unacknowledged(c, stream).await? else {
        return Ok(0);
    };
    // The oldest `excess` entries below the bound; the cut goes just past the last of them.
    let ids = oldest_ids(c, stream, &bound, excess).await?;
    let Some(cut) = ids.last().and_then(|id| next_id(id)) else {
        return Ok(0);
    };
    redis::cmd("XTRIM")
        .arg(stream)
        .arg("MINID")
        .arg(cut)
        .query_async(c)
        .await
}

/// The lowest id any group still needs: its oldest pending entry or its first undelivered
/// one; `+` (the stream's end) when every entry is acknowledged. None when the stream has no
/// group yet: nothing has been read, so nothing may go.
async fn first_unacknowledged(
    c: &mut ConnectionManager,
    stream: &str,
) -> redis::RedisResult<Option<String>> {
    let groups: Value = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query_async(c)
        .await?;
    let groups = groups
        .as_sequence()
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    if groups.is_empty() {
        return Ok(None);
    }
    let mut bound = "+".to_string();
    for g in &groups {
        let (Some(name), Some(delivered)) = (field(g, "name"), field(g, "last-delivered-id"))
        else {
            return Ok(None);
        };
        for id in [
            first_after(c, stream, &delivered).await?,
            oldest_pending(c, stream, &name).await?,
        ]
        .into_iter()
        .flatten()
        {
            if bound == "+" || cmp_ids(&id, &bound).is_lt() {
                bound = id;
            }
        }
    }
    Ok(Some(bound))
}

/// A string field of an XINFO GROUPS entry (RESP2 flat array or RESP3 map).
fn field(group: &Value, key: &str) -> Option<String> {
    group
        .as_map_iter()?
        .find(|(k, _)| {
            redis::from_redis_value::<String>((*k).clone())
                .ok()
                .as_deref()
                == Some(key)
        })
        .and_then(|(_, v)| redis::from_redis_value::<String>(v.clone()).ok())
}

/// The first entry after `id` (exclusive), if any.
async fn first_after(
    c: &mut ConnectionManager,
    stream: &str,
    id: &str,
) -> redis::RedisResult<Option<String>> {
    let ids = range_ids(c, stream, &format!("({id}"), "+", 1).await?;
    Ok(ids.into_iter().next())
}

/// XPENDING's summary minId for the group: `[count, minId, maxId, consumers]`.
async fn oldest_pending(
    c: &mut ConnectionManager,
    stream: &str,
    group: &str,
) -> redis::RedisResult<Option<String>> {
    let v: Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(c)
        .await?;
    Ok(v.as_sequence()
        .and_then(|s| s.get(1))
        .and_then(|id| redis::from_redis_value::<String>(id.clone()).ok()))
}

/// Ids of up to `count` entries from the start of the stream to `bound` (exclusive); all of
/// them when the bound is the stream's end.
async fn oldest_ids(
    c: &mut ConnectionManager,
    stream: &str,
    bound: &str,
    count: u64,
) -> redis::RedisResult<Vec<String>> {
    let end = if bound == "+" {
        "+".to_string()
    } else {
        format!("({bound}")
    };
    range_ids(c, stream, "-", &end, count).await
}

async fn range_ids(
    c: &mut ConnectionManager,
    stream: &str,
    start: &str,
    end: &str,
    count: u64,
) -> redis::RedisResult<Vec<String>> {
    let r: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(stream)
        .arg(start)
        .arg(end)
        .arg("COUNT")
        .arg(count)
        .query_async(c)
        .await?;
    Ok(r.ids.into_iter().map(|e| e.id).collect())
}

/// The id right after `id` (`ms-seq` → `ms-(seq+1)`), so MINID keeps everything past it.
fn next_id(id: &str) -> Option<String> {
    let (ms, seq) = parse_id(id)?;
    Some(match seq.checked_add(1) {
        Some(s) => format!("{ms}-{s}"),
        None => format!("{}-0", ms.checked_add(1)?),
    })
}

fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Stream ids in order (numeric, not as strings).
fn cmp_ids(a: &str, b: &str) -> std::cmp::Ordering {
    parse_id(a).cmp(&parse_id(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_numerically_and_the_next_one_follows() {
        assert!(cmp_ids("9-5", "10-0").is_lt());
        assert!(cmp_ids("10-2", "10-10").is_lt());
        assert_eq!(next_id("10-2").as_deref(), Some("10-3"));
        assert_eq!(next_id(&format!("7-{}", u64::MAX)).as_deref(), Some("8-0"));
        assert_eq!(next_id("nonsense"), None);
    }
}
