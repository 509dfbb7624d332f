//! Ground truth for benchmarks: one JSON line per request at the gateway — when it arrived,
//! when it was answered or dropped, and how it ended — written by a background task so a
//! request never waits on the disk.

use std::io::Write;
use std::path::Path;

use serde_json::json;
use tokio::sync::mpsc;

/// How a request ended at the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with this HTTP status.
    Answered(u16),
    /// Dropped unanswered on the hold timeout (the client sees EOF).
    Dropped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Answered(s) if s < 400 => "ok",
            Outcome::Answered(_) => "error",
            Outcome::Dropped => "dropped",
        }
    }

    fn status(self) -> Option<u16> {
        match self {
            Outcome::Answered(s) => Some(s),
            Outcome::Dropped => None,
        }
    }
}

/// One request: arrival and end in Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub endpoint: &'a str,
    pub arrival_ms: u64,
    pub end_ms: u64,
    pub outcome: Outcome,
}

impl Entry<'_> {
    /// The JSON line (without its newline).
    pub fn line(&self) -> String {
        json!({
            "endpoint": self.endpoint,
            "arrival_ms": self.arrival_ms,
            "end_ms": self.end_ms,
            "outcome": self.outcome.label(),
            "status": self.outcome.status(),
        })
        .to_string()
    }
}

/// The sending side; cloning is cheap. Lines are written in the order they are sent.
#[derive(Clone)]
pub struct AccessLog {
    tx: mpsc::UnboundedSender<String>,
}

impl AccessLog {
    /// Creates (truncates) the file and starts the task that writes to it.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_lines(std::io::BufWriter::new(file), rx));
        Ok(Self { tx })
    }

    pub fn record(&self, entry: &Entry<'_>) {
        let _ = self.tx.send(entry.line());
    }
}

/// Writes every line it receives, flushing whenever the queue runs empty, so the file is
/// complete up to the last request a moment after it ended.
async fn write_lines(mut out: impl Write, mut rx: mpsc::UnboundedReceiver<String>) {
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(line) = next {
            if writeln!(out, "{line}").is_err() {
                eprintln!("slitop-pipeline: access log write failed; no more lines");
                return;
            }
            next = rx.try_recv().ok();
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_how_each_request_ended() {
        let e = |outcome| Entry {
            endpoint: "/pexec",
            arrival_ms: 1000,
            end_ms: 1250,
            outcome,
        };
        let v: serde_json::Value = serde_json::from_str(&e(Outcome::Answered(200)).line()).unwrap();
        assert_eq!(
            v,
            json!({"endpoint": "/pexec", "arrival_ms": 1000, "end_ms": 1250, "outcome": "ok", "status": 200})
        );
        let v: serde_json::Value = serde_json::from_str(&e(Outcome::Dropped).line()).unwrap();
        assert_eq!(
            (v["outcome"].as_str(), v["status"].is_null()),
            (Some("dropped"), true)
        );
        let v: serde_json::Value = serde_json::from_str(&e(Outcome::Answered(503)).line()).unwrap();
        assert_eq!(v["outcome"], "error");
    }

    #[tokio::test]
    async fn every_line_reaches_the_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.jsonl");
        let log = AccessLog::open(&path).unwrap();
        for i in 0..500 {
            log.record(&Entry {
                endpoint: "/hop",
                arrival_ms: i,
                end_ms: i + 1,
                outcome: Outcome::Answered(202),
            });
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let lines = loop {
            let text = std::fs::read_to_string(&path).unwrap();
            let n = text.lines().count();
            if n == 500 || std::time::Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        let arrivals: Vec<u64> = lines
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["arrival_ms"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(arrivals, (0..500).collect::<Vec<_>>());
    }
}
