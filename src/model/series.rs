//! Names of series that slitop's own sources produce and that the screen, the recorder and the
//! report read by name, kept here so no reader has to reach into a source module.

/// The per-stream and per-group series the queue view shows; recordings keep them whether or
/// not a signal reads them, so a replay's queue view is complete.
pub const QUEUE_SERIES: [&str; 14] = [
    "valkey_stream_length",
    "valkey_stream_entries_added_total",
    "valkey_group_lag",
    "valkey_group_pending",
    "valkey_group_consumers",
    "valkey_group_consumer_idle_max_seconds",
    "valkey_group_entries_read_total",
    "valkey_group_undelivered",
    "valkey_group_undelivered_capped",
    "valkey_group_backlog",
    "valkey_group_backlog_age_seconds",
    "valkey_group_pending_age_seconds",
    "valkey_group_acked_total",
    "valkey_group_consumers_stuck",
];

/// k6's run state (7 running, 9 ended, 10 interrupted); the dashboard header shows it.
pub const K6_STATUS: &str = "k6_status";

/// The scrape source's name: its series are ended by the scrape itself (as Prometheus marks a
/// vanished target's series stale), not by the run state when the source goes down.
pub const SCRAPE_SOURCE: &str = "scrape";

/// The spacing of fresh samples behind the remote signals (s), as the Prometheus source
/// measured it: the detector fits its windows to it (a trend over fewer than a few samples of
/// a 15 s scrape is a staircase, not a trend). Recorded like any series, so replay agrees.
pub const SAMPLE_INTERVAL: &str = "slitop_sample_interval_seconds";
