//! Prometheus HTTP API source: instant queries on every refresh, a `query_range` back-fill of
//! the visible window at start. Also serves VictoriaMetrics, Thanos and Mimir (same API).

use std::time::Duration;

use anyhow::{anyhow, Context};
use futures::future::join_all;
use serde::Deserialize;

use crate::model::{Labels, RemoteQuery, SignalPoint, SourceEvent, TimeMs};
use crate::settings::PrometheusConfig;
use crate::sources::http::{describe_error, read_capped, HttpEndpoint};

/// The most bytes one answer may hold: a signal is a handful of series, and a query without
/// `sum()` against a big Prometheus would otherwise cost tens of MB every refresh.
pub const REPLY_CAP: u64 = 16 << 20;
/// The most series one answer may hold; past it the answer is the signal's error.
pub const SERIES_CAP: usize = 500;
use crate::sources::{Poller, SourceError};
use crate::text::clean_short;

pub const SOURCE: &str = "prometheus";

pub struct PrometheusPoller {
    ep: HttpEndpoint,
    base: String,
    queries: Vec<RemoteQuery>,
    /// The detector's fast queries as sent: ranges cut to a few of the server's scrape
    /// intervals, once that interval has been measured from the raw samples.
    fit: FitState,
    /// Window to back-fill at start, and the step of that back-fill.
    backfill: Option<(Duration, Duration)>,
}

/// What the source knows of the server's scrape interval and the fast queries it gave.
#[derive(Default)]
struct FitState {
    interval: Option<Duration>,
    /// Signal → query with its ranges fitted to the interval.
    queries: std::collections::HashMap<String, String>,
    /// Before this time no new measurement is tried (a series may not exist yet).
    next_try: TimeMs,
}

/// How often an unmeasured interval is measured again.
const FIT_RETRY_MS: TimeMs = 3_000;

/// The typical spacing of samples in a matrix answer: the median gap within each series.
pub fn median_spacing(points: &[SignalPoint]) -> Option<Duration> {
    let mut by_series: std::collections::BTreeMap<&Labels, Vec<TimeMs>> = Default::default();
    for p in points {
        by_series.entry(&p.labels).or_default().push(p.t);
    }
    let mut gaps: Vec<TimeMs> = Vec::new();
    for ts in by_series.values_mut() {
        ts.sort_unstable();
        gaps.extend(ts.windows(2).map(|w| w[1] - w[0]).filter(|g| *g > 0));
    }
    gaps.sort_unstable();
    let g = *gaps.get(gaps.len() / 2)?;
    Some(Duration::from_millis(g as u64))
}

/// A query-level answer: the server spoke, but about this query only.
pub enum Answer {
    Points(Vec<SignalPoint>, Vec<String>),
    QueryError(String),
    /// The reply ran past `REPLY_CAP` and was not read: this signal's error, and the
    /// source's when no answer got through.
    TooLarge(String),
}

impl PrometheusPoller {
    pub fn new(
        cfg: &PrometheusConfig,
        queries: Vec<RemoteQuery>,
        timeout: Duration,
        backfill: Option<(Duration, Duration)>,
    ) -> anyhow::Result<Self> {
        let base = cfg.url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&base)
            .with_context(|| format!("prometheus url {base:?} is not a valid URL"))?;
        Ok(Self {
            ep: HttpEndpoint::new(&cfg.auth, timeout, SOURCE)?,
            base,
            queries,
            fit: FitState::default(),
            backfill,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Runs one instant query at `t` (ms). Transport failures and non-API answers are `Err`.
    pub async fn instant(
        &self,
        query: &str,
        t: TimeMs,
    ) -> anyhow::Result<Result<(Vec<SignalPoint>, Vec<String>), String>> {
        let time = format!("{:.3}", t as f64 / 1000.0);
        let answer = self
            .call("/api/v1/query", &[("query", query), ("time", &time)])
            .await?;
        Ok(match answer {
            Answer::Points(p, w) => Ok((p, w)),
            Answer::QueryError(e) | Answer::TooLarge(e) => Err(e),
        })
    }

    /// One signal's query: over the back-fill window when one is due, else at `now`.
    async fn ask(
        &self,
        query: &str,
        now: TimeMs,
        backfill: Option<(Duration, Duration)>,
    ) -> anyhow::Result<Answer> {
        match backfill {
            Some((window, step)) => {
                // Prometheus refuses more than 11,000 points per series.
                let step = step.max(window / 10_000).max(Duration::from_millis(1));
                let start = format!(
                    "{:.3}",
                    (now - window.as_millis() as TimeMs) as f64 / 1000.0
                );
                let end = format!("{:.3}", now as f64 / 1000.0);
                let step = format!("{:.3}", step.as_secs_f64());
                self.call(
                    "/api/v1/query_range",
                    &[
                        ("query", query),
                        ("start", &start),
                        ("end", &end),
                        ("step", &step),
                    ],
                )
                .await
            }
            None => {
                let time = format!("{:.3}", now as f64 / 1000.0);
                self.call("/api/v1/query", &[("query", query), ("time", &time)])
                    .await
            }
        }
    }

    async fn call(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Answer> {
        let url = format!("{}{}", self.base, path);
        // POST form-encoded: long expressions do not fit in a URL.
        let resp = self
            .ep
            .post(&url)
            .form(form)
            .send()
            .await
            .map_err(|e| anyhow!(describe_error(&e, &url)))?;
        let status = resp.status();
        let body = match read_capped(resp, REPLY_CAP, &url).await? {
            Ok(body) => body,
            Err(got) => {
                return Ok(Answer::TooLarge(format!(
                    "reply refused: larger than the {} MiB a signal's answer may be ({got} bytes so far); aggregate the query, e.g. sum by (...)",
                    REPLY_CAP >> 20
                )))
            }
        };
        parse_envelope(&body, status.as_u16()).map_err(|e| anyhow!("{url}: {e}"))
    }
}

/// Interprets a Prometheus API reply. `Err` means the reply is not the API speaking at all
/// (HTML error page, truncated JSON, auth proxy); a well-formed error envelope is a query error.
pub fn parse_envelope(body: &[u8], http_status: u16) -> Result<Answer, SourceError> {
    let env: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(e) => {
            let snippet = clean_short(&String::from_utf8_lossy(body), 120);
            let what = if body.is_empty() {
                "an empty body".to_string()
            } else if e.is_eof() {
                format!("truncated JSON ({e})")
            } else {
                format!("a non-JSON body ({e}): {snippet:?}")
            };
            let hint = match http_status {
                401 | 403 => " — check the bearer token or basic auth",
                404 => " — is this the Prometheus base URL (without /api/v1)?",
                _ => "",
            };
            return Err(format!("HTTP {http_status} with {what}{hint}").into());
        }
    };
    if env.status != "success" {
        let kind = env.error_type.unwrap_or_else(|| "error".into());
        let msg = env.error.unwrap_or_else(|| "(no message)".into());
        return Ok(Answer::QueryError(clean_short(
            &format!("{kind}: {msg}"),
            500,
        )));
    }
    let mut notes: Vec<String> = env.warnings.unwrap_or_default();
    notes.extend(env.infos.unwrap_or_default());
    let notes = notes.iter().map(|w| clean_short(w, 300)).collect();
    let data = env
        .data
        .ok_or_else(|| format!("HTTP {http_status}: success reply without `data`"))?;
    let series = match &data {
        Data::Vector(items) => items.len(),
        Data::Matrix(items) => items.len(),
        _ => 1,
    };
    if series > SERIES_CAP {
        return Ok(Answer::QueryError(format!(
            "answer refused: {series} series, more than the {SERIES_CAP} a signal may have; aggregate the query, e.g. sum by (...)"
        )));
    }
    let pts = match data {
        Data::Vector(items) => items
            .into_iter()
            .map(|i| point(i.metric, i.value))
            .collect::<Result<_, _>>()?,
        Data::Matrix(items) => {
            let mut out = Vec::new();
            for s in items {
                let labels = to_labels(s.metric);
                for v in s.values {
                    let (t, value) = sample(v)?;
                    out.push(SignalPoint {
                        labels: labels.clone(),
                        t,
                        value,
                    });
                }
            }
            out
        }
        Data::Scalar(v) => {
            let (t, value) = sample(v)?;
            vec![SignalPoint {
                labels: Labels::new(),
                t,
                value,
            }]
        }
        Data::String(_) => {
            return Ok(Answer::QueryError(
                "query returns a string, not a number".into(),
            ))
        }
    };
    Ok(Answer::Points(pts, notes))
}

fn to_labels(m: std::collections::BTreeMap<String, String>) -> Labels {
    Labels::from(m)
}

fn sample((ts, v): (f64, String)) -> Result<(TimeMs, f64), SourceError> {
    let value = v
        .parse::<f64>()
        .map_err(|_| format!("sample value {:?} is not a number", clean_short(&v, 40)))?;
    Ok(((ts * 1000.0).round() as TimeMs, value))
}

fn point(
    m: std::collections::BTreeMap<String, String>,
    v: (f64, String),
) -> Result<SignalPoint, SourceError> {
    let (t, value) = sample(v)?;
    Ok(SignalPoint {
        labels: to_labels(m),
        t,
        value,
    })
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    warnings: Option<Vec<String>>,
    infos: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorItem>),
    Matrix(Vec<MatrixItem>),
    Scalar((f64, String)),
    String(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct VectorItem {
    metric: std::collections::BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixItem {
    metric: std::collections::BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

impl PrometheusPoller {
    /// Measures the scrape interval from the raw samples of a fast query's series (the last
    /// two minutes of them) and fits every fast query to it.
    async fn fit_queries(&mut self, now: TimeMs) {
        let fits: Vec<&RemoteQuery> = self.queries.iter().filter(|q| q.fit).collect();
        if fits.is_empty() || self.fit.interval.is_some() || now < self.fit.next_try {
            return;
        }
        self.fit.next_try = now + FIT_RETRY_MS;
        let selectors = fits
            .iter()
            .flat_map(|q| crate::promql::interval::range_selectors(&q.query));
        let mut interval = None;
        for sel in selectors {
            if let Ok(Ok((points, _))) = self.instant(&format!("{sel}[2m]"), now).await {
                interval = median_spacing(&points);
                if interval.is_some() {
                    break;
                }
            }
        }
        let Some(interval) = interval else { return };
        let window = crate::promql::interval::fast_window(interval);
        let fitted = fits.iter().map(|q| {
            let text = crate::promql::interval::fitted(&q.query, window)
                .ok()
                .flatten()
                .unwrap_or_else(|| q.query.clone());
            (q.signal.clone(), text)
        });
        self.fit.queries = fitted.collect();
        self.fit.interval = Some(interval);
    }

    /// The measured scrape interval as a sample of its own, so the detector (and a replay)
    /// can fit its windows to it.
    fn interval_sample(&self, now: TimeMs) -> Option<SourceEvent> {
        let labels = crate::model::Labels::named(crate::model::series::SAMPLE_INTERVAL);
        let secs = self.fit.interval?.as_secs_f64();
        Some(SourceEvent::Samples {
            source: SOURCE.into(),
            samples: vec![crate::model::Sample::new(labels, now, secs)],
        })
    }

    /// The server's scrape interval as measured for the fast queries, once known.
    pub fn measured_interval(&self) -> Option<Duration> {
        self.fit.interval
    }

    /// The text sent for a fast query, once fitted.
    pub fn fitted_query(&self, signal: &str) -> Option<&str> {
        self.fit.queries.get(signal).map(String::as_str)
    }

    /// The queries to send now: every shown one, and the fast ones once fitted.
    fn to_send(&self) -> Vec<RemoteQuery> {
        let sendable = |q: &RemoteQuery| -> Option<RemoteQuery> {
            if !q.fit {
                return Some(q.clone());
            }
            let text = self.fit.queries.get(&q.signal)?;
            Some(RemoteQuery {
                query: text.clone(),
                ..q.clone()
            })
        };
        self.queries.iter().filter_map(sendable).collect()
    }
}

impl Poller for PrometheusPoller {
    async fn poll(&mut self, now: TimeMs) -> anyhow::Result<Vec<SourceEvent>> {
        let mut events = Vec::new();
        self.fit_queries(now).await;
        events.extend(self.interval_sample(now));
        let queries = self.to_send();
        let backfill = self.backfill.take();
        let this = &*self;
        let calls = queries
            .iter()
            .map(|q| async move { (q, this.ask(&q.query, now, backfill).await) });
        let results = join_all(calls).await;
        let mut transport_errors = Vec::new();
        // Answers refused as too large: how many, and the first as the source's reason.
        let (mut oversized, mut too_large) = (0, None);
        for (q, r) in results {
            match r {
                Ok(Answer::Points(points, warnings)) => {
                    if !warnings.is_empty() {
                        events.push(SourceEvent::QueryWarnings {
                            source: SOURCE.into(),
                            signal: q.signal.clone(),
                            warnings,
                        });
                    }
                    events.push(SourceEvent::SignalValues {
                        source: SOURCE.into(),
                        signal: q.signal.clone(),
                        points,
                    });
                }
                Ok(Answer::TooLarge(error)) => {
                    oversized += 1;
                    too_large.get_or_insert_with(|| anyhow!("{}: {error}", self.base));
                    events.push(SourceEvent::QueryError {
                        source: SOURCE.into(),
                        signal: q.signal.clone(),
                        error,
                    })
                }
                Ok(Answer::QueryError(error)) => events.push(SourceEvent::QueryError {
                    source: SOURCE.into(),
                    signal: q.signal.clone(),
                    error,
                }),
                Err(e) => transport_errors.push(e),
            }
        }
        if !queries.is_empty() && transport_errors.len() + oversized == queries.len() {
            // Nothing got through: the server, not a query, is the problem (every answer cut
            // off or too large to take). Retry the back-fill.
            self.backfill = backfill;
            return Err(match too_large {
                Some(e) if transport_errors.is_empty() => e,
                _ => transport_errors.swap_remove(0),
            });
        }
        for e in transport_errors {
            events.push(SourceEvent::QueryError {
                source: SOURCE.into(),
                signal: String::new(),
                error: format!("{e:#}"),
            });
        }
        Ok(events)
    }
}

/// `slitop check` probe: readiness plus one instant query per signal.
pub async fn probe(
    poller: &PrometheusPoller,
    now: TimeMs,
) -> Vec<crate::sources::probe::ProbeItem> {
    use crate::sources::probe::ProbeItem;
    let mut items = Vec::new();
    let url = format!("{}/api/v1/status/buildinfo", poller.base);
    let started = std::time::Instant::now();
    let server = match poller.ep.get(&url).send().await {
        Ok(r) => {
            let status = r.status();
            let body = r.bytes().await.unwrap_or_default();
            match parse_buildinfo(&body) {
                Some(v) if status.is_success() => ProbeItem::ok(
                    format!("prometheus {}", poller.base),
                    started.elapsed(),
                    format!("version {v}"),
                ),
                _ => ProbeItem::fail(
                    format!("prometheus {}", poller.base),
                    format!(
                        "HTTP {status} from {url}: {:?} — is this a Prometheus API base URL?",
                        clean_short(&String::from_utf8_lossy(&body), 80)
                    ),
                ),
            }
        }
        Err(e) => ProbeItem::fail(
            format!("prometheus {}", poller.base),
            describe_error(&e, &url),
        ),
    };
    let reachable = server.ok;
    items.push(server);
    if !reachable {
        return items;
    }
    for q in &poller.queries {
        let started = std::time::Instant::now();
        let what = format!("signal {} (prometheus)", q.signal);
        items.push(match poller.instant(&q.query, now).await {
            Ok(Ok((pts, warnings))) => {
                let mut detail = format!("{} series", pts.len());
                if pts.is_empty() {
                    detail.push_str(" — no data yet: check metric names and labels");
                }
                if !warnings.is_empty() {
                    detail.push_str(&format!("; warnings: {}", warnings.join("; ")));
                }
                ProbeItem::ok(what, started.elapsed(), detail)
            }
            Ok(Err(e)) => ProbeItem::fail(what, format!("{e} — query: {}", q.query)),
            Err(e) => ProbeItem::fail(what, format!("{e:#}")),
        });
    }
    items
}

fn parse_buildinfo(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(v.get("data")?.get("version")?.as_str()?.to_string())
}

pub const KIND: crate::sources::SourceKind = crate::sources::SourceKind {
    name: SOURCE,
    flags: "--prometheus URL",
    endpoints: |cfg| {
        cfg.prometheus
            .as_ref()
            .map(|p| crate::text::redact_url(&p.url))
    },
    start: |a| {
        let p = a
            .cfg
            .prometheus
            .as_ref()
            .expect("started only when configured");
        let backfill = Some((a.cfg.window, a.cfg.refresh));
        let poller = PrometheusPoller::new(p, a.remote.to_vec(), a.cfg.timeout(), backfill)?;
        let settings = crate::sources::PollSettings::of(a.cfg, SOURCE);
        Ok(Box::pin(crate::sources::run_poller(
            poller, settings, a.tx, a.cancel,
        )))
    },
    probe: |cfg, remote, timeout| {
        Box::pin(async move {
            let Some(p) = &cfg.prometheus else {
                return Default::default();
            };
            let items = match PrometheusPoller::new(p, remote.to_vec(), timeout, None) {
                Ok(poller) => probe(&poller, crate::model::now_ms()).await,
                Err(e) => vec![crate::sources::probe::ProbeItem::fail(
                    SOURCE,
                    format!("{e:#}"),
                )],
            };
            // Only reaching the server is required; a failing signal query is reported, not fatal.
            crate::sources::Probe {
                failed: !items.first().is_some_and(|i| i.ok),
                items,
                scraped_names: None,
            }
        })
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(a: Answer) -> Vec<SignalPoint> {
        match a {
            Answer::Points(p, _) => p,
            Answer::QueryError(e) | Answer::TooLarge(e) => panic!("query error {e}"),
        }
    }

    #[test]
    fn vector_scalar_matrix_and_special_values() {
        let v = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1700000000.5,"NaN"]},{"metric":{},"value":[1700000000.5,"+Inf"]},{"metric":{},"value":[1700000000.5,"-Inf"]}]}}"#;
        let p = pts(parse_envelope(v, 200).unwrap());
        assert!(p[0].value.is_nan());
        assert_eq!(p[0].t, 1_700_000_000_500);
        assert_eq!(p[0].labels.get("job"), Some("a"));
        assert_eq!(p[1].value, f64::INFINITY);
        assert_eq!(p[2].value, f64::NEG_INFINITY);
        let s = br#"{"status":"success","data":{"resultType":"scalar","result":[1.25,"3.5"]}}"#;
        assert_eq!(pts(parse_envelope(s, 200).unwrap())[0].value, 3.5);
        let m = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"x":"1"},"values":[[1,"1"],[2,"2"]]}]},"warnings":["w1"],"infos":["i1"]}"#;
        match parse_envelope(m, 200).unwrap() {
            Answer::Points(p, w) => {
                assert_eq!(p.len(), 2);
                assert_eq!(w, vec!["w1".to_string(), "i1".to_string()]);
            }
            _ => panic!(),
        }
    }

    #[test]
    fn error_envelope_is_a_query_error_and_garbage_is_a_source_error() {
        let e =
            br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}"#;
        match parse_envelope(e, 400).unwrap() {
            Answer::QueryError(m) => assert_eq!(m, "bad_data: 1:5: parse error: unexpected"),
            _ => panic!(),
        }
        let html = b"<html><body><h1>502 Bad Gateway</h1>\x1b[2J</body></html>";
        let err = parse_envelope(html, 502).err().unwrap().to_string();
        assert!(err.starts_with("HTTP 502 with a non-JSON body"), "{err}");
        assert!(!err.contains('\x1b'));
        let trunc = br#"{"status":"success","data":{"resultType":"vec"#;
        assert!(parse_envelope(trunc, 200)
            .err()
            .unwrap()
            .to_string()
            .contains("truncated JSON"));
        assert!(parse_envelope(b"", 401)
            .err()
            .unwrap()
            .to_string()
            .contains("check the bearer token"));
        let badnum = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"abc"]}}"#;
        assert!(parse_envelope(badnum, 200)
            .err()
            .unwrap()
            .to_string()
            .contains("not a number"));
    }

    #[test]
    fn an_answer_with_too_many_series_is_the_signals_error() {
        let item = |i: usize| format!(r#"{{"metric":{{"pod":"p{i}"}},"value":[1700000000,"1"]}}"#);
        let reply = |n: usize| {
            let items: Vec<String> = (0..n).map(item).collect();
            format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
                items.join(",")
            )
        };
        assert_eq!(
            pts(parse_envelope(reply(SERIES_CAP).as_bytes(), 200).unwrap()).len(),
            SERIES_CAP
        );
        match parse_envelope(reply(SERIES_CAP + 1).as_bytes(), 200).unwrap() {
            Answer::QueryError(e) => assert!(e.contains("501 series"), "{e}"),
            Answer::Points(p, _) => panic!("{} points taken", p.len()),
            Answer::TooLarge(e) => panic!("a small reply read as too large: {e}"),
        }
    }
}
