//! `--headless`: no TUI. Each refresh prints one JSON object per signal value and one per stage
//! transition; health changes and query errors are printed as they happen. Every run records
//! to DIR/recording.jsonl and ends with DIR/report.json. Ends on SIGINT/SIGTERM/SIGHUP or after
//! `--duration`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

use crate::detect::Transition;
use crate::model::{SourceEvent, TimeMs};
use crate::record::write::Recorder;
use crate::record::Header;
use crate::runtime::{clock, start_sources, Notice, RunState};
use crate::settings::Config;
use crate::settings::RunMeta;

pub struct HeadlessOptions {
    pub duration: Option<Duration>,
    pub out: Option<PathBuf>,
    pub meta: RunMeta,
    /// Gates, plateau rules and exports for the end-of-run report.
    pub report: crate::settings::ReportSettings,
}

/// JSON has no NaN or infinities: those become null, with the Prometheus spelling alongside
/// for ±Inf so "infinitely slow" is not mistaken for "no data".
fn number(v: f64) -> (Json, Option<&'static str>) {
    if v.is_nan() {
        (Json::Null, None)
    } else if v.is_infinite() {
        (Json::Null, Some(if v > 0.0 { "+Inf" } else { "-Inf" }))
    } else {
        (json!(v), None)
    }
}

/// The JSON lines for every signal's current value.
pub fn signal_lines(state: &RunState, t: TimeMs) -> Vec<Json> {
    let mut out = Vec::new();
    for s in &state.engine.signals {
        if s.latest.is_empty() {
            out.push(json!({"t": t, "signal": s.def.name, "value": Json::Null, "labels": {}}));
            continue;
        }
        for p in &s.latest {
            let (value, special) = number(p.value);
            let mut o = json!({"t": t, "signal": s.def.name, "value": value, "labels": p.labels});
            if let Some(sp) = special {
                o["special"] = json!(sp);
            }
            out.push(o);
        }
    }
    out
}

pub fn notice_line(n: &Notice, t: TimeMs) -> Json {
    match n {
        Notice::Health { source, t, health } => {
            json!({"t": t, "source": source, "health": health.word(), "reason": health.reason()})
        }
        Notice::QueryError {
            source,
            signal,
            error,
        } => {
            json!({"t": t, "source": source, "signal": signal, "error": error})
        }
        Notice::Warnings {
            source,
            signal,
            warnings,
        } => {
            json!({"t": t, "source": source, "signal": signal, "warnings": warnings})
        }
    }
}

/// Where a run's output goes: stdout lines (copied to `headless.jsonl`), the recording and, at
/// the end, the report. Live runs and replays write through the same sink.
pub struct Output {
    dir: PathBuf,
    /// The JSON lines: printed on stdout and copied to `headless.jsonl` in headless runs; the
    /// dashboard owns the terminal, so it has neither.
    copy: Option<std::io::BufWriter<std::fs::File>>,
    recorder: Recorder,
    annotations: Option<std::fs::File>,
    pub header: Header,
}

impl Output {
    pub fn create(dir: &Path, header: &Header) -> anyhow::Result<Self> {
        Self::open(dir, header, true)
    }

    /// For the dashboard: the recording and the notes, nothing on stdout.
    pub fn for_dashboard(dir: &Path, header: &Header) -> anyhow::Result<Self> {
        Self::open(dir, header, false)
    }

    fn open(dir: &Path, header: &Header, lines: bool) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        let copy = if lines {
            let p = dir.join("headless.jsonl");
            let f = std::fs::File::create(&p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            Some(std::io::BufWriter::new(f))
        } else {
            None
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            copy,
            recorder: Recorder::create(&dir.join("recording.jsonl"), header)?,
            annotations: None,
            header: header.clone(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn line(&mut self, v: &Json) -> anyhow::Result<()> {
        let Some(copy) = &mut self.copy else {
            return Ok(());
        };
        let s = v.to_string();
        let mut out = std::io::stdout().lock();
        // A closed stdout (a pipe whose reader went away) must not stop the recording.
        let _ = writeln!(out, "{s}");
        writeln!(copy, "{s}").context("cannot write headless.jsonl")?;
        Ok(())
    }

    /// Records a source event, applies it, and prints what it changed.
    pub fn apply(
        &mut self,
        state: &mut RunState,
        ev: SourceEvent,
    ) -> anyhow::Result<Option<Notice>> {
        self.recorder.event(&ev)?;
        let n = state.apply(ev);
        if let Some(n) = &n {
            self.line(&notice_line(n, clock()))?;
        }
        Ok(n)
    }

    /// One refresh: signals, then stage transitions; everything flushed.
    pub fn tick(&mut self, state: &mut RunState, t: TimeMs) -> anyhow::Result<()> {
        self.recorder.tick(t)?;
        let transitions = state.tick(t);
        for l in signal_lines(state, t) {
            self.line(&l)?;
        }
        for tr in &transitions {
            self.recorder.transition(tr)?;
            self.line(&transition_line(tr))?;
        }
        self.flush()
    }

    /// Saves a note: appended and flushed to `annotations.jsonl` and to the recording before
    /// the run state (and so the screen) holds it. On error nothing claims it was saved.
    pub fn annotate(&mut self, state: &mut RunState, t: TimeMs, text: &str) -> anyhow::Result<()> {
        let text = crate::text::clean(text);
        let p = self.dir.join("annotations.jsonl");
        if self.annotations.is_none() {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .with_context(|| format!("cannot open {}", p.display()))?;
            self.annotations = Some(f);
        }
        if let Some(f) = &mut self.annotations {
            let line = json!({"t": t, "text": text}).to_string() + "\n";
            f.write_all(line.as_bytes())
                .and_then(|_| f.sync_data())
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        self.recorder.annotation(t, &text)?;
        self.recorder.flush()?;
        state.annotations.push((t, text.clone()));
        self.line(&json!({"t": t, "annotation": text}))
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(copy) = &mut self.copy {
            let _ = std::io::stdout().lock().flush();
            copy.flush().context("cannot write headless.jsonl")?;
        }
        self.recorder.flush()
    }

    /// Ends the run: closes the recording, writes the report's files, then runs the exports.
    pub async fn finish(
        mut self,
        state: &RunState,
        ended: TimeMs,
        opts: &crate::settings::ReportSettings,
    ) -> anyhow::Result<crate::report::Outcome> {
        self.recorder.end(ended)?;
        self.flush()?;
        let inputs = crate::report::Inputs {
            state,
            header: &self.header,
            ended,
            cfg: &opts.report,
        };
        crate::export::finish(&self.dir, &inputs, opts).await
    }
}

pub fn transition_line(tr: &Transition) -> Json {
    json!({"t": tr.t, "stage": tr.stage.id(), "state": tr.state.word(), "evidence": tr.evidence})
}

/// A URL without its credentials, for the recording header.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("REDACTED"));
            }
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

pub fn header(
    cfg: &Config,
    meta: &RunMeta,
    gates: &crate::settings::GatesConfig,
    started: TimeMs,
) -> Header {
    let mut sources = BTreeMap::new();
    if let Some(p) = &cfg.prometheus {
        sources.insert("prometheus".into(), redact(&p.url));
    }
    if let Some(s) = &cfg.scrape {
        if !s.urls.is_empty() {
            sources.insert(
                "scrape".into(),
                s.urls
                    .iter()
                    .map(|u| redact(u))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
    if let Some(v) = &cfg.valkey {
        sources.insert("valkey".into(), redact(&v.url));
    }
    if let Some(k) = &cfg.k6 {
        if !k.urls.is_empty() {
            sources.insert("k6".into(), k.urls.join(" "));
        }
        if !k.json_files.is_empty() {
            let files: Vec<String> = k
                .json_files
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            sources.insert("k6-json".into(), files.join(" "));
        }
    }
    Header {
        kind: "slitop-recording".into(),
        format: crate::record::FORMAT_VERSION,
        slitop_version: env!("CARGO_PKG_VERSION").into(),
        started_unix_ms: started,
        refresh_ms: cfg.refresh.as_millis() as TimeMs,
        lookback_ms: cfg.lookback.as_millis() as TimeMs,
        window_ms: cfg.window.as_millis() as TimeMs,
        sources,
        local_sources: crate::runtime::local_sources(cfg),
        signals: cfg.signals.clone(),
        detect: cfg.detect.clone(),
        meta: meta.clone(),
        gates: gates.clone(),
    }
}

/// The output directory when none is given: one per run, named by its start time.
pub fn default_out_dir(started: TimeMs) -> PathBuf {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(started.max(0) as u64);
    let stamp = humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace(':', "");
    PathBuf::from(format!("slitop-run-{stamp}"))
}

/// Runs until interrupted or the duration passes; returns the report's outcome (its gates
/// decide the exit code).
pub async fn run(cfg: Config, opts: HeadlessOptions) -> anyhow::Result<crate::report::Outcome> {
    let mut state = RunState::new(&cfg).map_err(anyhow::Error::msg)?;
    let started = clock();
    let dir = opts.out.clone().unwrap_or_else(|| default_out_dir(started));
    let mut out = Output::create(&dir, &header(&cfg, &opts.meta, &opts.report.gates, started))?;
    eprintln!(
        "slitop: recording to {}",
        dir.join("recording.jsonl").display()
    );
    let cancel = CancellationToken::new();
    let mut running = start_sources(&cfg, &state.engine, &cancel)?;
    let mut tick = tokio::time::interval(cfg.refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // The first tick fires at once; skip it so the first line has data from one poll.
    tick.tick().await;
    loop {
        tokio::select! {
            Some(ev) = running.rx.recv() => { out.apply(&mut state, ev)?; }
            _ = tick.tick() => out.tick(&mut state, clock())?,
            _ = async { tokio::time::sleep_until(deadline.unwrap()).await }, if deadline.is_some() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        }
    }
    cancel.cancel();
    for h in running.handles {
        let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
    }
    let outcome = out.finish(&state, clock(), &opts.report).await?;
    eprintln!(
        "slitop: report in {}",
        outcome.dir.join("report.md").display()
    );
    Ok(outcome)
}
