//! Tails `k6 run --out json=FILE` as it grows: every request's duration, status and error code,
//! so client-side percentiles over a window and failures by error code are exact.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::model::recent::{mean_of_newest, newest_first, newest_of, RECENT_QUANTILE_REQUESTS};
use crate::model::{now_ms, Labels, Sample, SourceEvent, TimeMs};
use crate::sources::Poller;
use crate::text::clean_short;

pub const SOURCE: &str = "k6-json";
/// Most bytes read from one file per poll; a backlog is consumed over several polls.
const READ_CAP: u64 = 16 * 1024 * 1024;
/// A longer line is skipped as malformed.
const LINE_CAP: usize = 1024 * 1024;
/// Distinct (error_code, error) label pairs kept; the rest are counted as "other".
const ERROR_KINDS_CAP: usize = 100;
/// A point stamped further ahead of the clock than this is a bad line: kept, it would sit in
/// the window for ever (a window ends at the clock), and with it every point after it.
const FUTURE_SLACK_MS: TimeMs = 60_000;

struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

pub struct K6JsonPoller {
    files: Vec<Tail>,
    /// The last read, kept for the next (a poll at load reads a few hundred KB).
    buf: Vec<u8>,
    window_ms: TimeMs,
    /// (sample time, duration ms) of http_req_duration points, oldest first.
    durations: VecDeque<(TimeMs, f64)>,
    /// The same of iteration_duration points: with the requests' durations, the time each VU
    /// spends outside its requests (`k6_client_think_seconds`).
    iterations: VecDeque<(TimeMs, f64)>,
    iterations_seen: f64,
    /// The newest `vus` point (time, VUs) of each file, by its index: each VU has one
    /// iteration running, and instances writing a file each run theirs side by side.
    vus: BTreeMap<usize, (TimeMs, f64)>,
    /// The index of the file whose lines are being read.
    reading: usize,
    requests: f64,
    failed: f64,
    bad_lines: f64,
    errors: BTreeMap<(String, String), f64>,
    statuses: BTreeMap<String, f64>,
}

/// Every line has a type; only `Point` lines carry a sample in `data`.
/// The metrics whose points are read.
const READ_METRICS: [&[u8]; 5] = [
    b"http_req_duration",
    b"http_req_failed",
    b"http_reqs",
    b"iteration_duration",
    b"vus",
];

/// The value of a line's `"metric":"NAME"` key, when it comes before the line's `"data"` (as
/// k6 writes points: a tag named `metric` inside the data is not it) and is a plain name.
fn metric_of(raw: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\"metric\":\"";
    let at = memchr::memmem::find(raw, KEY)? + KEY.len();
    if memchr::memmem::find(raw, b"\"data\"").is_some_and(|d| d < at) {
        return None;
    }
    let len = memchr::memchr2(b'"', b'\\', &raw[at..])?;
    (raw[at + len] == b'"').then(|| &raw[at..at + len])
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
}

/// A line read in one pass, its strings borrowed from it where no escape forces a copy.
/// `data` is optional and its fields too: a `Metric` line's data has another shape.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    metric: Cow<'a, str>,
    #[serde(default, borrow)]
    data: Option<Point<'a>>,
}

#[derive(Deserialize)]
struct Point<'a> {
    #[serde(default, borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default, borrow)]
    tags: Tags<'a>,
}

/// The tags an `http_reqs` point is counted by; the others are passed over.
#[derive(Deserialize, Default)]
struct Tags<'a> {
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    error_code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    error: Option<Cow<'a, str>>,
}

/// What one line of k6's output was to the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineKind {
    Blank,
    /// A line the source does not read (another metric, a `Metric` declaration).
    Unread,
    /// Counted in `k6_json_bad_lines_total`: not JSON, not a point, a bad time or value.
    Bad,
    Duration,
    Iteration,
    Vus,
    Failed,
    Request,
}

impl K6JsonPoller {
    pub fn new(paths: Vec<PathBuf>, window: Duration) -> Self {
        Self {
            files: paths
                .into_iter()
                .map(|path| Tail {
                    path,
                    offset: 0,
                    partial: Vec::new(),
                    skipping: false,
                })
                .collect(),
            buf: Vec::new(),
            window_ms: window.as_millis().max(1) as TimeMs,
            durations: VecDeque::new(),
            iterations: VecDeque::new(),
            iterations_seen: 0.0,
            vus: BTreeMap::new(),
            reading: 0,
            requests: 0.0,
            failed: 0.0,
            bad_lines: 0.0,
            errors: BTreeMap::new(),
            statuses: BTreeMap::new(),
        }
    }

    /// Reads what was appended to every file since the last poll; `now` is the clock.
    fn read_new(&mut self, now: TimeMs) -> anyhow::Result<()> {
        // The tails are taken out while their lines are read in place (no copy of a line
        // unless it straddles two reads), and put back however the reading ends.
        let mut files = std::mem::take(&mut self.files);
        let mut buf = std::mem::take(&mut self.buf);
        let r = files.iter_mut().enumerate().try_for_each(|(i, t)| {
            self.reading = i;
            self.read_file(t, &mut buf, now)
        });
        self.files = files;
        buf.clear();
        // A catch-up read of a long file can take READ_CAP: that much is not kept.
        if buf.capacity() > 1 << 20 {
            buf = Vec::new();
        }
        self.buf = buf;
        r
    }

    /// What was appended to one file, line by line.
    fn read_file(&mut self, t: &mut Tail, buf: &mut Vec<u8>, now: TimeMs) -> anyhow::Result<()> {
        let mut f = match std::fs::File::open(&t.path) {
            Ok(f) => f,
            // Not written yet: k6 creates it when the run starts.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => anyhow::bail!("k6 json {}: {e}", t.path.display()),
        };
        let len = f.metadata()?.len();
        if len < t.offset {
            // Truncated or replaced by a new run: start over.
            t.offset = 0;
            t.partial.clear();
            t.skipping = false;
        }
        if len == t.offset {
            return Ok(());
        }
        f.seek(SeekFrom::Start(t.offset))?;
        buf.clear();
        f.take(READ_CAP).read_to_end(buf)?;
        t.offset += buf.len() as u64;
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', buf) {
            if t.skipping {
                t.skipping = false;
            } else if t.partial.is_empty() {
                self.take_line(&buf[start..i], now);
            } else {
                t.partial.extend_from_slice(&buf[start..i]);
                let line = std::mem::take(&mut t.partial);
                self.take_line(&line, now);
            }
            start = i + 1;
        }
        if !t.skipping {
            t.partial.extend_from_slice(&buf[start..]);
            if t.partial.len() > LINE_CAP {
                t.partial.clear();
                t.skipping = true;
                self.bad_lines += 1.0;
            }
        }
        Ok(())
    }

    /// Takes one line of k6's JSON output; `now` is the clock (a point far ahead of it is bad).
    /// Says what the line was, so a test or the fuzzing harness can tell the paths apart.
    pub fn take_line(&mut self, raw: &[u8], now: TimeMs) -> LineKind {
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            return LineKind::Blank;
        }
        if raw.len() > LINE_CAP {
            self.bad_lines += 1.0;
            return LineKind::Bad;
        }
        // k6 writes a dozen points per request and three are read: a point of another metric
        // is passed over once its name is seen, before any JSON is parsed.
        if metric_of(raw).is_some_and(|m| !READ_METRICS.contains(&m)) {
            return LineKind::Unread;
        }
        let line = match serde_json::from_slice::<Line>(raw) {
            Ok(l) => l,
            // Not a line of the shape read: another type of line is passed over as before
            // (its data need not look like a point's); a point that does not parse is bad.
            Err(_) => {
                return match serde_json::from_slice::<Head>(raw) {
                    Ok(h) if h.kind != "Point" => LineKind::Unread,
                    _ => {
                        self.bad_lines += 1.0;
                        LineKind::Bad
                    }
                };
            }
        };
        if line.kind != "Point" {
            return LineKind::Unread;
        }
        let Some(Point {
            time: Some(time),
            value: Some(value),
            tags,
        }) = line.data
        else {
            self.bad_lines += 1.0;
            return LineKind::Bad;
        };
        // A timed point (a duration, the VUs) is kept by its time: one far ahead of the clock
        // would stay in the window, or stay the newest VU count, for ever.
        let timed = |t: Option<TimeMs>| {
            t.filter(|&t| t <= now.saturating_add(FUTURE_SLACK_MS) && value.is_finite())
        };
        let kind = match line.metric.as_ref() {
            "http_req_duration" => timed(parse_time(&time)).map(|t| {
                self.durations.push_back((t, value));
                LineKind::Duration
            }),
            "iteration_duration" => timed(parse_time(&time)).map(|t| {
                self.iterations.push_back((t, value));
                self.iterations_seen += 1.0;
                LineKind::Iteration
            }),
            "vus" => timed(parse_time(&time)).filter(|_| value >= 0.0).map(|t| {
                let newest = self.vus.entry(self.reading).or_insert((t, value));
                if newest.0 <= t {
                    *newest = (t, value);
                }
                LineKind::Vus
            }),
            "http_req_failed" if value != 0.0 => {
                self.failed += 1.0;
                Some(LineKind::Failed)
            }
            "http_reqs" => {
                self.count_request(value, &tags);
                Some(LineKind::Request)
            }
            _ => Some(LineKind::Unread),
        };
        kind.unwrap_or_else(|| {
            self.bad_lines += 1.0;
            LineKind::Bad
        })
    }

    /// An `http_reqs` point: the request, its status and its error code.
    fn count_request(&mut self, value: f64, tags: &Tags) {
        self.requests += value;
        if let Some(s) = &tags.status {
            *self.statuses.entry(clean_short(s, 8)).or_default() += value;
        }
        if let Some(code) = tags.error_code.as_ref().filter(|c| !c.is_empty()) {
            let err = tags
                .error
                .as_ref()
                .map(|e| clean_short(e, 48))
                .unwrap_or_default();
            let mut key = (clean_short(code, 8), err);
            if !self.errors.contains_key(&key) && self.errors.len() >= ERROR_KINDS_CAP {
                key.1 = "other".into();
            }
            *self.errors.entry(key).or_default() += value;
        }
    }

    /// The seconds a VU spends per request outside it (its think time and the script's own
    /// work): the mean iteration, per request, less the mean request, both over the window.
    /// It does not change with load, and with the unloaded latency it gives a closed loop's
    /// healthy rate per VU, which a rate read over a ramp's window does not (the VUs added
    /// meanwhile, and requests already queueing short of the wall, move it). None before an
    /// iteration has ended.
    fn think_s(&self, requests_ms: &[f64], now: TimeMs) -> Option<f64> {
        let (n, sum) = self
            .iterations
            .iter()
            .filter(|d| d.0 <= now)
            .fold((0.0, 0.0), |(n, s), d| (n + 1.0, s + d.1));
        if n == 0.0 || requests_ms.is_empty() {
            return None;
        }
        let per_iteration = self.requests_per_iteration()?;
        let request = requests_ms.iter().sum::<f64>() / requests_ms.len() as f64;
        Some(super::k6_cycle::think_s(sum / n, per_iteration, request))
    }

    /// Requests per iteration, from every point seen (see `k6_cycle`).
    fn requests_per_iteration(&self) -> Option<f64> {
        let running = self.vus.values().map(|v| v.1).sum();
        super::k6_cycle::requests_per_iteration(self.requests, self.iterations_seen, running)
    }

    /// The client's latency over the window (`window` its requests' durations in ms, sorted):
    /// quantiles, mean, the newest requests' mean and the slowest, and the VUs' think time.
    fn latency_samples(&self, window: &[f64], now: TimeMs) -> Vec<Sample> {
        let mut out = Vec::new();
        if window.is_empty() {
            return out;
        }
        // The detector's: over the window, a p95 rises only once a twentieth of it is slow.
        let newest = newest_first(self.durations.iter().copied(), now);
        let mut recent: Vec<f64> = newest_of(&newest, now, RECENT_QUANTILE_REQUESTS)
            .iter()
            .map(|p| p.1)
            .collect();
        recent.sort_by(f64::total_cmp);
        for (q, label) in [(0.5, "0.5"), (0.95, "0.95"), (0.99, "0.99")] {
            out.push(Sample::new(
                Labels::named("k6_client_duration_seconds").with("quantile", label),
                now,
                crate::stats::percentile(window, q) / 1000.0,
            ));
            out.push(Sample::new(
                Labels::named("k6_client_recent_duration_seconds").with("quantile", label),
                now,
                crate::stats::percentile(&recent, q) / 1000.0,
            ));
        }
        // The mean, for Little's law: requests in flight = rate × mean latency (a p95
        // stands in badly where latency varies: three times the mean for exponential).
        out.push(Sample::new(
            Labels::named("k6_client_duration_mean_seconds"),
            now,
            window.iter().sum::<f64>() / window.len() as f64 / 1000.0,
        ));
        // The detector's: the window's mean is that of half a window ago.
        if let Some(ms) = mean_of_newest(&newest, now) {
            out.push(Sample::new(
                Labels::named("k6_client_recent_duration_mean_seconds"),
                now,
                ms / 1000.0,
            ));
        }
        out.push(Sample::new(
            Labels::named("k6_client_duration_max_seconds"),
            now,
            window[window.len() - 1] / 1000.0,
        ));
        if let Some(think) = self.think_s(window, now) {
            out.push(Sample::new(
                Labels::named("k6_client_think_seconds"),
                now,
                think,
            ));
        }
        out
    }

    fn samples(&mut self, now: TimeMs) -> Vec<Sample> {
        let from = now.saturating_sub(self.window_ms);
        // Points arrive out of order (several files, k6's own buffering): every one that
        // left the window goes, not only those in front.
        self.durations.retain(|d| d.0 > from);
        self.iterations.retain(|d| d.0 > from);
        let mut window: Vec<f64> = self
            .durations
            .iter()
            .filter(|d| d.0 <= now)
            .map(|d| d.1)
            .collect();
        window.sort_by(f64::total_cmp);
        let mut out = vec![
            Sample::new(
                Labels::named("k6_client_window_requests"),
                now,
                window.len() as f64,
            ),
            Sample::new(
                Labels::named("k6_client_requests_total"),
                now,
                self.requests,
            ),
            Sample::new(Labels::named("k6_client_failed_total"), now, self.failed),
            Sample::new(
                Labels::named("k6_json_bad_lines_total"),
                now,
                self.bad_lines,
            ),
        ];
        out.extend(self.latency_samples(&window, now));
        for ((code, err), n) in &self.errors {
            out.push(Sample::new(
                Labels::named("k6_client_errors_total")
                    .with("error_code", code)
                    .with("error", err),
                now,
                *n,
            ));
        }
        for (status, n) in &self.statuses {
            out.push(Sample::new(
                Labels::named("k6_client_status_total").with("status", status),
                now,
                *n,
            ));
        }
        out
    }
}

/// RFC 3339 with optional fraction and a `Z` or `±HH:MM` offset, as Go writes times.
pub fn parse_time(s: &str) -> Option<TimeMs> {
    if s.len() < 20 || !s.is_char_boundary(19) {
        return None;
    }
    let (base, rest) = s.split_at(19);
    let t = humantime::parse_rfc3339(&format!("{base}Z")).ok()?;
    let mut ms = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as TimeMs;
    let mut rest = rest;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let f = &frac[..digits];
        let padded = format!("{f:0<3}");
        ms += padded[..3].parse::<TimeMs>().ok()?;
        rest = &frac[digits..];
    }
    match rest {
        "Z" | "z" => Some(ms),
        // Bytes are checked before slicing: `+0é00` is six bytes too.
        off if off.len() == 6
            && off.is_ascii()
            && (off.starts_with('+') || off.starts_with('-'))
            && off.as_bytes()[3] == b':' =>
        {
            let h: TimeMs = off[1..3].parse().ok().filter(|h| *h <= 23)?;
            let m: TimeMs = off[4..6].parse().ok().filter(|m| *m <= 59)?;
            let d = (h * 60 + m) * 60_000;
            Some(if off.starts_with('+') { ms - d } else { ms + d })
        }
        _ => None,
    }
}

impl Poller for K6JsonPoller {
    async fn poll(&mut self, now: TimeMs) -> anyhow::Result<Vec<SourceEvent>> {
        // File reads are local and bounded per poll; block_in_place keeps the runtime responsive.
        tokio::task::block_in_place(|| self.read_new(now_ms().max(now)))?;
        let now = now.max(now_ms().min(now + 1_000));
        Ok(vec![SourceEvent::Samples {
            source: SOURCE.into(),
            samples: self.samples(now),
        }])
    }
}

pub const KIND: crate::sources::SourceKind = crate::sources::SourceKind {
    name: SOURCE,
    flags: "--k6-json FILE",
    endpoints: |cfg| {
        let files = cfg
            .k6
            .as_ref()
            .map(|k| k.json_files.as_slice())
            .unwrap_or(&[]);
        let shown: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        (!shown.is_empty()).then(|| shown.join(" "))
    },
    start: |a| {
        let k = a.cfg.k6.as_ref().expect("started only when configured");
        let poller = K6JsonPoller::new(k.json_files.clone(), k.window);
        let settings = crate::sources::PollSettings::of(a.cfg, SOURCE);
        Ok(Box::pin(crate::sources::run_poller(
            poller, settings, a.tx, a.cancel,
        )))
    },
    probe: |cfg, _, _| {
        Box::pin(async move {
            // Not required: k6 creates the file when it starts.
            let items = cfg.k6.iter().flat_map(|k| &k.json_files).map(|f| {
                let detail = if f.is_file() {
                    "file exists"
                } else {
                    "not there yet: it is tailed once k6 creates it"
                };
                crate::sources::probe::ProbeItem::ok(
                    format!("k6 json {}", f.display()),
                    std::time::Duration::ZERO,
                    detail,
                )
            });
            crate::sources::Probe::all_required(items.collect())
        })
    },
};

#[cfg(test)]
mod tests {
    #[test]
    fn a_points_metric_is_read_without_parsing_and_only_before_its_data() {
        let point =
            br#"{"metric":"http_req_blocked","type":"Point","data":{"time":"t","value":1}}"#;
        assert_eq!(super::metric_of(point), Some(&b"http_req_blocked"[..]));
        let late = br#"{"type":"Point","data":{"tags":{"metric":"x"}},"metric":"http_reqs"}"#;
        assert_eq!(super::metric_of(late), None);
        assert_eq!(super::metric_of(br#"{"metric":"a\"b"}"#), None);
        assert_eq!(super::metric_of(b"not json"), None);
    }

    use super::*;
    use std::io::Write;

    fn point(metric: &str, t: &str, v: f64, tags: &str) -> String {
        format!("{{\"metric\":\"{metric}\",\"type\":\"Point\",\"data\":{{\"time\":\"{t}\",\"value\":{v},\"tags\":{{{tags}}}}}}}\n")
    }

    #[test]
    fn times_and_percentiles() {
        assert_eq!(
            parse_time("2026-11-22T15:09:39.262166419Z"),
            Some(1_795_360_179_262)
        );
        assert_eq!(
            parse_time("2026-11-22T16:09:39.262+01:00"),
            Some(1_795_360_179_262)
        );
        assert_eq!(parse_time("2026-11-22T15:09:39Z"), Some(1_795_360_179_000));
        assert_eq!(parse_time("garbage"), None);
        // Multi-byte characters where the offset's digits go: no panic, no time.
        assert_eq!(parse_time("2026-11-22T15:09:39+0\u{e9}00"), None);
        assert_eq!(parse_time("2026-11-22T15:09:39.5+\u{e9}:00"), None);
        assert_eq!(parse_time("2026-11-22T15:09:39+01\u{e9}0"), None);
        assert_eq!(parse_time("2026-11-22T15:09:39+99:00"), None);
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(crate::stats::percentile(&v, 0.5), 3.0);
        assert!((crate::stats::percentile(&v, 0.95) - 4.8).abs() < 1e-12);
        assert_eq!(crate::stats::percentile(&[7.0], 0.99), 7.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn partial_lines_truncation_bad_lines_and_a_file_not_there_yet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k6.json");
        let mut p = K6JsonPoller::new(vec![path.clone()], Duration::from_secs(3600));
        let now = now_ms();
        let evs = p.poll(now).await.expect("a missing file is not an error");
        assert_eq!(evs.len(), 1);
        let t = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let line = point("http_req_duration", &t, 120.0, "\"status\":\"200\"");
        let mut f = std::fs::File::create(&path).unwrap();
        // A line written in two parts: nothing until it is whole.
        f.write_all(&line.as_bytes()[..30]).unwrap();
        p.poll(now).await.unwrap();
        assert!(p.durations.is_empty());
        f.write_all(&line.as_bytes()[30..]).unwrap();
        f.write_all(b"{not json\n").unwrap();
        f.write_all(
            point(
                "http_reqs",
                &t,
                1.0,
                "\"status\":\"0\",\"error_code\":\"1000\",\"error\":\"EOF\"",
            )
            .as_bytes(),
        )
        .unwrap();
        f.write_all(point("http_req_failed", &t, 1.0, "").as_bytes())
            .unwrap();
        p.poll(now).await.unwrap();
        assert_eq!(p.durations.len(), 1);
        assert_eq!(p.bad_lines, 1.0);
        assert_eq!(p.errors[&("1000".to_string(), "EOF".to_string())], 1.0);
        assert_eq!(p.failed, 1.0);
        // Truncated (a new run): read from the start again.
        drop(f);
        std::fs::write(&path, point("http_req_duration", &t, 80.0, "")).unwrap();
        p.poll(now).await.unwrap();
        assert_eq!(p.durations.len(), 2);
        // The points were stamped after `now` was taken: ask for the window ending later.
        let s = p.samples(now_ms());
        let p50 = s
            .iter()
            .find(|x| x.labels.get("quantile") == Some("0.5"))
            .unwrap()
            .value;
        assert!((p50 - 0.1).abs() < 1e-12);
        // The mean of 120 ms and 80 ms, for Little's law.
        let mean = s
            .iter()
            .find(|x| x.labels.name() == Some("k6_client_duration_mean_seconds"))
            .unwrap()
            .value;
        assert!((mean - 0.1).abs() < 1e-12, "{mean}");
    }

    #[test]
    fn a_far_future_point_neither_stays_nor_stops_the_window() {
        let mut p = K6JsonPoller::new(Vec::new(), Duration::from_secs(30));
        let now = 1_795_360_179_000;
        let at = |ms: TimeMs| {
            humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + Duration::from_millis(ms as u64),
            )
            .to_string()
        };
        p.take_line(
            point("http_req_duration", &at(now - 5_000), 10.0, "").as_bytes(),
            now,
        );
        p.take_line(
            point("http_req_duration", "2999-01-01T00:00:00Z", 1e9, "").as_bytes(),
            now,
        );
        p.take_line(
            point("http_req_duration", &at(now - 1_000), 30.0, "").as_bytes(),
            now,
        );
        assert_eq!(p.bad_lines, 1.0, "the far-future point is a bad line");
        // Nor does a far-future VU count stay the newest, the one every later count loses to.
        p.take_line(
            point("vus", "2999-01-01T00:00:00Z", 9.0, "").as_bytes(),
            now,
        );
        assert_eq!((p.bad_lines, p.vus.is_empty()), (2.0, true));
        assert_eq!(p.durations.len(), 2);
        // An out-of-order old point behind a newer one is pruned all the same.
        p.take_line(
            point("http_req_duration", &at(now - 2_000), 20.0, "").as_bytes(),
            now,
        );
        let later = now + 28_500;
        p.samples(later);
        let kept: Vec<f64> = p.durations.iter().map(|d| d.1).collect();
        assert_eq!(kept, vec![30.0]);
    }

    /// Feeds `iterations` iterations of `per_iteration` requests of `request_ms` each, the
    /// VU thinking `think_ms` once per iteration, all ending in the window before `now`.
    fn iterate(p: &mut K6JsonPoller, now: TimeMs, iterations: u32, per_iteration: u32) {
        let at = |ms: TimeMs| {
            humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + Duration::from_millis(ms as u64),
            )
            .to_string()
        };
        let (request_ms, think_ms) = (150.0, 250.0);
        for i in 0..iterations {
            let t = at(now - 10_000 + i as TimeMs * 100);
            for _ in 0..per_iteration {
                p.take_line(point("http_reqs", &t, 1.0, "").as_bytes(), now);
                p.take_line(
                    point("http_req_duration", &t, request_ms, "").as_bytes(),
                    now,
                );
            }
            let iteration = per_iteration as f64 * request_ms + think_ms;
            let kind = p.take_line(
                point("iteration_duration", &t, iteration, "").as_bytes(),
                now,
            );
            assert_eq!(kind, LineKind::Iteration);
        }
    }

    fn think(p: &mut K6JsonPoller, now: TimeMs) -> Option<f64> {
        p.samples(now)
            .iter()
            .find(|x| x.labels.name() == Some("k6_client_think_seconds"))
            .map(|x| x.value)
    }

    #[test]
    fn think_time_is_the_iterations_time_outside_their_requests() {
        let now = 1_795_360_179_000;
        let mut p = K6JsonPoller::new(Vec::new(), Duration::from_secs(30));
        assert_eq!(think(&mut p, now), None, "no iteration has ended yet");
        iterate(&mut p, now, 20, 1);
        let z = think(&mut p, now).unwrap();
        assert!((z - 0.25).abs() < 1e-9, "{z}");
        // Two requests an iteration: the VU thinks 250 ms per two requests.
        let mut p = K6JsonPoller::new(Vec::new(), Duration::from_secs(30));
        iterate(&mut p, now, 20, 2);
        let z = think(&mut p, now).unwrap();
        assert!((z - 0.125).abs() < 1e-9, "{z}");
        // Four VUs just added have sent their first requests and are thinking: those are no
        // think time lost (requests ÷ iterations ended alone would read 1.2 requests each).
        let mut p = K6JsonPoller::new(Vec::new(), Duration::from_secs(30));
        iterate(&mut p, now, 20, 1);
        let t = humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + Duration::from_millis(now as u64 - 500),
        )
        .to_string();
        for _ in 0..4 {
            p.take_line(point("http_reqs", &t, 1.0, "").as_bytes(), now);
            p.take_line(point("http_req_duration", &t, 150.0, "").as_bytes(), now);
        }
        assert_eq!(
            p.take_line(point("vus", &t, 4.0, "").as_bytes(), now),
            LineKind::Vus
        );
        let z = think(&mut p, now).unwrap();
        assert!((z - 0.25).abs() < 1e-9, "{z}");
    }

    #[test]
    fn the_vus_of_instances_writing_a_file_each_are_summed() {
        // Two instances have added two VUs each, which have sent their first requests: the
        // four are running, not the two of whichever file was read last.
        let now = 1_795_360_179_000;
        let mut p = K6JsonPoller::new(Vec::new(), Duration::from_secs(30));
        iterate(&mut p, now, 20, 1);
        let t = humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + Duration::from_millis(now as u64 - 500),
        )
        .to_string();
        for file in [0, 1] {
            p.reading = file;
            for _ in 0..2 {
                p.take_line(point("http_reqs", &t, 1.0, "").as_bytes(), now);
                p.take_line(point("http_req_duration", &t, 150.0, "").as_bytes(), now);
            }
            p.take_line(point("vus", &t, 2.0, "").as_bytes(), now);
        }
        assert_eq!(p.requests_per_iteration(), Some(1.0));
        let z = think(&mut p, now).unwrap();
        assert!((z - 0.25).abs() < 1e-9, "{z}");
    }

    proptest::proptest! {
        #[test]
        fn no_line_panics_the_parser(line in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
                                     time in "\\PC{0,40}") {
            let mut p = K6JsonPoller::new(Vec::new(), Duration::from_secs(30));
            p.take_line(&line, 1_795_360_179_000);
            let _ = parse_time(&time);
            let wrapped = point("http_req_duration", &time, 1.0, "");
            p.take_line(wrapped.as_bytes(), 1_795_360_179_000);
        }
    }
}
