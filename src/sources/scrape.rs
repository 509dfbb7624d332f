//! Direct scrape of `/metrics` endpoints: the embedded default for people without a Prometheus
//! server. Samples land in the local store and signals are evaluated there with PromQL semantics.
//! Like Prometheus, each target gets `job`/`instance` labels and an `up` series, and series that
//! vanish from a target (or a failed scrape) get a staleness marker. Unlike Prometheus, a line
//! that does not parse costs only itself: it is skipped, counted in `scrape_lines_skipped` and
//! reported as the target's warning, so one odd label does not take a target down.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::anyhow;
use futures::future::join_all;

use crate::exposition;
use crate::model::stale_nan;
use crate::model::{Labels, Sample, SourceEvent, TimeMs};
use crate::settings::ScrapeConfig;
use crate::sources::http::{describe_error, HttpEndpoint};
use crate::sources::probe::ProbeItem;
use crate::sources::Poller;

pub const SOURCE: &str = crate::model::series::SCRAPE_SOURCE;

/// Per target, how many lines of the last scrape did not parse (next to `up`).
pub const LINES_SKIPPED: &str = "scrape_lines_skipped";

pub struct ScrapePoller {
    ep: HttpEndpoint,
    cfg: ScrapeConfig,
    /// Series seen in each target's previous scrape, for staleness markers.
    last_seen: HashMap<String, HashSet<Labels>>,
    /// The skipped-lines warning last reported per target: a standing one is not repeated
    /// every scrape.
    warned: HashMap<String, String>,
    /// Metric names the signals and the screen read; other samples are passed over unparsed
    /// (None: keep all, as a probe does to list what a target exposes).
    keep: Option<HashSet<String>>,
}

/// One target's scrape result.
pub struct Scraped {
    pub samples: Vec<Sample>,
    pub bytes: usize,
    /// Lines of the body that did not parse and were left out.
    pub skipped: exposition::Skipped,
    /// Samples left out for a timestamp too far ahead of this machine's clock: kept, one
    /// would hold its series until that time (a series takes only newer samples).
    pub future: usize,
}

/// How far ahead of the clock an exposition timestamp may be (clocks differ a little).
pub const FUTURE_SLACK_MS: TimeMs = 10 * 60_000;

impl Scraped {
    /// How many lines were skipped and the first one's error, when any were.
    pub fn warning(&self) -> Option<String> {
        let future = (self.future > 0).then(|| {
            format!(
                "{} sample(s) stamped more than 10 minutes ahead of this machine's clock left out",
                self.future
            )
        });
        let skipped = self.skipped.first.as_ref().map(|first| {
            let n = self.skipped.lines;
            let lines = if n == 1 { "line" } else { "lines" };
            format!("{n} {lines} skipped; first: {first}")
        });
        match (skipped, future) {
            (Some(s), Some(f)) => Some(format!("{s}; {f}")),
            (s, f) => s.or(f),
        }
    }
}

impl ScrapePoller {
    pub fn new(cfg: ScrapeConfig, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            ep: HttpEndpoint::new(&cfg.auth, timeout, SOURCE)?,
            cfg,
            last_seen: HashMap::new(),
            warned: HashMap::new(),
            keep: None,
        })
    }

    /// Keeps only samples named in `names` (None: all).
    pub fn keeping(mut self, names: Option<HashSet<String>>) -> Self {
        self.keep = names;
        self
    }

    /// Fetches and parses one target, asked at `now`; `Err` carries the URL and what went
    /// wrong.
    pub async fn scrape(&self, url: &str, now: TimeMs) -> anyhow::Result<Scraped> {
        let accept = if self.cfg.openmetrics {
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        } else {
            "text/plain;version=0.0.4"
        };
        let asked = std::time::Instant::now();
        let mut resp = self
            .ep
            .get(url)
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(|e| anyhow!(describe_error(&e, url)))?;
        // Stamped when the answer began, not when it was asked for: a service renders its
        // counters as it answers, and one answering late under load would otherwise have
        // each interval's completions counted over a span as much shorter than theirs (a
        // wait growing by a second over a 12 s burst read its throughput 8% high).
        let answered = now.saturating_add(asked.elapsed().as_millis() as TimeMs);
        let status = resp.status();
        let cap = self.cfg.max_bytes;
        if let Some(len) = resp.content_length() {
            if len > cap {
                return Err(too_big(url, len, cap));
            }
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Read chunk by chunk so a server without Content-Length cannot push us past the cap.
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| anyhow!(describe_error(&e, url)))?
        {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > cap {
                return Err(too_big(url, body.len() as u64, cap));
            }
        }
        if !status.is_success() {
            return Err(anyhow!(
                "{url}: HTTP {status}: {:?}",
                crate::text::clean_short(&String::from_utf8_lossy(&body), 120)
            ));
        }
        let text = std::str::from_utf8(&body).map_err(|e| {
            anyhow!(
                "{url}: body is not UTF-8 (first bad byte at offset {})",
                e.valid_up_to()
            )
        })?;
        let format = exposition::format_from_content_type(content_type.as_deref());
        let parsed = match &self.keep {
            Some(k) => exposition::parse_only(text, format, &|n| k.contains(n)),
            None => exposition::parse_lenient(text, format),
        };
        let parsed = parsed.map_err(|e| {
            let hint = if text.trim_start().starts_with('<') {
                " — the server sent HTML, not metrics: is this the /metrics path?"
            } else {
                ""
            };
            anyhow!("{url}: {e}{hint}")
        })?;
        let target = target_labels(url, &self.cfg.job);
        let (samples, future) = with_target(parsed.samples, &target, answered);
        Ok(Scraped {
            samples,
            bytes: body.len(),
            skipped: parsed.skipped,
            future,
        })
    }

    pub fn urls(&self) -> &[String] {
        &self.cfg.urls
    }
}

fn too_big(url: &str, got: u64, cap: u64) -> anyhow::Error {
    anyhow!(
        "{url}: scrape refused: body is larger than the {} cap ({} bytes so far); raise scrape.max_bytes if this is expected",
        human_bytes(cap),
        got
    )
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 20 && b % (1 << 20) == 0 {
        format!("{} MiB", b >> 20)
    } else {
        format!("{b} bytes")
    }
}

/// Parsed samples with the target's labels, stamped `now` unless they carry a time; those
/// stamped too far ahead of `now` are left out and counted.
fn with_target(
    parsed: Vec<exposition::ExpSample>,
    target: &Labels,
    now: TimeMs,
) -> (Vec<Sample>, usize) {
    let mut samples = Vec::with_capacity(parsed.len());
    let mut future = 0;
    for s in parsed {
        let t = match s.timestamp_ms {
            Some(t) if t > now.saturating_add(FUTURE_SLACK_MS) => {
                future += 1;
                continue;
            }
            t => t.unwrap_or(now),
        };
        let mut labels = s.labels;
        // Prometheus keeps target labels and renames clashing ones to exported_*.
        for (k, v) in target.iter() {
            if let Some(old) = labels.remove(k) {
                labels.set(&format!("exported_{k}"), &old);
            }
            labels.set(k, v);
        }
        samples.push(Sample::new(labels, t, s.value));
    }
    (samples, future)
}

/// `job` and `instance` (host:port) as Prometheus would attach them.
fn target_labels(url: &str, job: &str) -> Labels {
    let instance = reqwest::Url::parse(url)
        .ok()
        .map(|u| {
            let host = u.host_str().unwrap_or("").to_string();
            match u.port_or_known_default() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            }
        })
        .unwrap_or_else(|| crate::text::redact_url(url));
    Labels::from([("job", job), ("instance", instance.as_str())])
}

impl Poller for ScrapePoller {
    async fn poll(&mut self, now: TimeMs) -> anyhow::Result<Vec<SourceEvent>> {
        let results = join_all(self.cfg.urls.iter().map(|u| self.scrape(u, now))).await;
        let mut samples = Vec::new();
        let mut events = Vec::new();
        let mut failures = Vec::new();
        for (url, r) in self.cfg.urls.clone().iter().zip(results) {
            let target = target_labels(url, &self.cfg.job);
            let of_target = |name: &str| target.clone().with(crate::model::METRIC_NAME, name);
            let previous = self.last_seen.remove(url).unwrap_or_default();
            match r {
                Ok(scraped) => {
                    let warning = scraped.warning();
                    let skipped = of_target(LINES_SKIPPED);
                    let mut seen: HashSet<Labels> =
                        scraped.samples.iter().map(|s| s.labels.clone()).collect();
                    // Kept with the target's series, so a failed scrape marks it stale too.
                    seen.insert(skipped.clone());
                    for gone in previous.difference(&seen) {
                        samples.push(Sample::new(gone.clone(), now, stale_nan()));
                    }
                    samples.extend(scraped.samples);
                    samples.push(Sample::new(of_target("up"), now, 1.0));
                    samples.push(Sample::new(skipped, now, scraped.skipped.lines as f64));
                    self.last_seen.insert(url.clone(), seen);
                    match warning {
                        Some(w) if self.warned.get(url) != Some(&w) => {
                            self.warned.insert(url.clone(), w.clone());
                            events.push(SourceEvent::QueryWarnings {
                                source: SOURCE.into(),
                                signal: url.clone(),
                                warnings: vec![w],
                            });
                        }
                        Some(_) => {}
                        None => {
                            self.warned.remove(url);
                        }
                    }
                }
                Err(e) => {
                    for gone in previous {
                        samples.push(Sample::new(gone, now, stale_nan()));
                    }
                    samples.push(Sample::new(of_target("up"), now, 0.0));
                    self.warned.remove(url);
                    failures.push(e);
                }
            }
        }
        if !failures.is_empty() && failures.len() == self.cfg.urls.len() {
            return Err(failures.swap_remove(0));
        }
        for e in failures {
            events.push(SourceEvent::QueryError {
                source: SOURCE.into(),
                signal: String::new(),
                error: format!("{e:#}"),
            });
        }
        events.push(SourceEvent::Samples {
            source: SOURCE.into(),
            samples,
        });
        Ok(events)
    }
}

pub const KIND: crate::sources::SourceKind = crate::sources::SourceKind {
    name: SOURCE,
    flags: "--scrape URL",
    endpoints: |cfg| {
        let urls = cfg
            .scrape
            .as_ref()
            .map(|s| s.urls.as_slice())
            .unwrap_or(&[]);
        crate::sources::joined(urls)
    },
    start: |a| {
        let s = a.cfg.scrape.clone().expect("started only when configured");
        let poller = ScrapePoller::new(s, a.cfg.timeout())?
            .keeping(crate::settings::wanted_series(&a.cfg.signals));
        let settings = crate::sources::PollSettings::of(a.cfg, SOURCE);
        Ok(Box::pin(crate::sources::run_poller(
            poller, settings, a.tx, a.cancel,
        )))
    },
    probe: |cfg, _, timeout| Box::pin(probe_all(cfg, timeout)),
};

/// Every target scraped once; the metric names they expose are kept for the signal check.
async fn probe_all(
    cfg: &crate::settings::Config,
    timeout: std::time::Duration,
) -> crate::sources::Probe {
    let Some(s) = cfg.scrape.as_ref().filter(|s| !s.urls.is_empty()) else {
        return Default::default();
    };
    let poller = match ScrapePoller::new(s.clone(), timeout) {
        Ok(p) => p,
        Err(e) => {
            return crate::sources::Probe::all_required(vec![ProbeItem::fail(
                SOURCE,
                format!("{e:#}"),
            )])
        }
    };
    let now = crate::model::now_ms();
    let mut items = Vec::new();
    // The series the scrape itself adds per target count as exposed for the signal check.
    let mut names: std::collections::BTreeSet<String> =
        ["up", LINES_SKIPPED].map(String::from).into();
    for url in poller.urls() {
        let started = std::time::Instant::now();
        items.push(match poller.scrape(url, now).await {
            Ok(sc) => {
                let exposed = sc.samples.iter().filter_map(|x| x.labels.name());
                names.extend(exposed.map(str::to_string));
                let mut detail = format!("{} samples, {} bytes", sc.samples.len(), sc.bytes);
                if let Some(w) = sc.warning() {
                    detail += &format!("; {w}");
                }
                ProbeItem::ok(format!("scrape {url}"), started.elapsed(), detail)
            }
            Err(e) => ProbeItem::fail(format!("scrape {url}"), format!("{e:#}")),
        });
    }
    crate::sources::Probe {
        scraped_names: Some(names),
        ..crate::sources::Probe::all_required(items)
    }
}
