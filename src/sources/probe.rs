//! Results of `slitop check`: one line per probed item. What an item says is redacted when
//! it is made (the URLs in it lose their secrets), whoever made it.

use crate::text::redact_text;

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
            what: redact_text(&what.into()),
            ok: true,
            latency: Some(latency),
            detail: redact_text(&detail.into()),
        }
    }

    pub fn fail(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            what: redact_text(&what.into()),
            ok: false,
            latency: None,
            detail: redact_text(&detail.into()),
        }
    }
}
