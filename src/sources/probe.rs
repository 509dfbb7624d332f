//! Results of `slitop check`: one line per probed item.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct ProbeItem {
    pub what: String,
    pub ok: bool,
    pub latency: Option<Duration>,
    pub detail: String,
}

impl ProbeItem {
    pub fn ok(what: impl Into<String>, latency: Duration, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            ok: true,
            latency: Some(latency),
            detail: detail.into(),
        }
    }

    pub fn fail(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            ok: false,
            latency: None,
            detail: detail.into(),
        }
    }
}
