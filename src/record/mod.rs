//! Recordings: JSON lines, one object per line, zstd-compressed in `recording.jsonl.zst` (the
//! default) or plain in `recording.jsonl`. A versioned header, then every source event as it
//! was applied, every refresh tick, annotations and stage transitions, in the order they
//! happened. Replaying the events and ticks through a fresh `RunState` gives the same signals
//! and the same transitions. The format is documented in docs/recording.md.

pub mod read;
pub mod write;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::model::{is_stale_nan, stale_nan, Health, LocalSources, TimeMs};
pub use crate::settings::recording::{find_in, RecordFormat, COMPRESSED_FILE, PLAIN_FILE};
use crate::settings::{DetectConfig, GatesConfig, RunMeta, SignalDef};

/// Version of the recording format; readers refuse newer major versions.
pub const FORMAT_VERSION: u32 = 1;

/// The first line: enough to rebuild the signal engine and detector exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always "slitop-recording".
    pub kind: String,
    pub format: u32,
    pub slitop_version: String,
    pub started_unix_ms: TimeMs,
    pub refresh_ms: TimeMs,
    pub lookback_ms: TimeMs,
    pub window_ms: TimeMs,
    /// Source names with their endpoints (never credentials).
    pub sources: BTreeMap<String, String>,
    pub local_sources: LocalSources,
    pub signals: Vec<SignalDef>,
    pub detect: DetectConfig,
    #[serde(default)]
    pub meta: RunMeta,
    /// The gates the run was judged by; `slitop report` applies them again unless overridden.
    #[serde(default, skip_serializing_if = "GatesConfig::is_empty")]
    pub gates: GatesConfig,
    /// What the configuration risked (credentials in clear, TLS unchecked, a proxy), as the
    /// run said it at its start; the report lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security: Vec<String>,
}

/// A number as JSON: finite values as numbers; NaN, ±Inf and Prometheus's stale marker as
/// strings, since JSON has none of them and the stale marker must survive the round trip.
pub fn encode_value(v: f64) -> Json {
    if is_stale_nan(v) {
        json!("stale")
    } else if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("+Inf")
    } else if v == f64::NEG_INFINITY {
        json!("-Inf")
    } else {
        json!(v)
    }
}

pub fn decode_value(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "stale" => Some(stale_nan()),
            "NaN" => Some(f64::NAN),
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

pub fn encode_health(h: &Health) -> Json {
    match h {
        Health::Starting => json!({"state": "starting"}),
        Health::Ok => json!({"state": "ok"}),
        Health::Stale { since } => json!({"state": "stale", "since": since}),
        Health::Down { reason } => json!({"state": "down", "reason": reason}),
        Health::Finished => json!({"state": "finished"}),
    }
}

pub fn decode_health(v: &Json) -> Option<Health> {
    Some(match v.get("state")?.as_str()? {
        "starting" => Health::Starting,
        "ok" => Health::Ok,
        "stale" => Health::Stale {
            since: v.get("since")?.as_i64()?,
        },
        "down" => Health::Down {
            reason: v.get("reason")?.as_str()?.to_string(),
        },
        "finished" => Health::Finished,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values_survive_the_round_trip() {
        for v in [1.5, 0.0, -2.0, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(decode_value(&encode_value(v)), Some(v));
        }
        assert!(decode_value(&encode_value(f64::NAN)).unwrap().is_nan());
        assert!(!is_stale_nan(
            decode_value(&encode_value(f64::NAN)).unwrap()
        ));
        assert!(is_stale_nan(
            decode_value(&encode_value(stale_nan())).unwrap()
        ));
    }

    #[test]
    fn every_health_survives_the_round_trip() {
        for h in [
            Health::Starting,
            Health::Ok,
            Health::Stale { since: 1234 },
            Health::Down {
                reason: "connection refused".into(),
            },
            Health::Finished,
        ] {
            assert_eq!(decode_health(&encode_health(&h)), Some(h));
        }
        assert_eq!(
            encode_health(&Health::Finished),
            json!({"state": "finished"})
        );
        assert_eq!(decode_health(&json!({"state": "paused"})), None);
    }
}
