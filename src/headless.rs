//! `--headless`: no TUI. Each refresh prints one JSON object per signal value; health changes
//! and query errors are printed as they happen. Ends on SIGINT/SIGTERM or after `--duration`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::model::TimeMs;
use crate::runtime::{clock, start_sources, Notice, RunState};

pub struct HeadlessOptions {
    pub duration: Option<Duration>,
    pub out: Option<PathBuf>,
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

struct Writer {
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl Writer {
    fn line(&mut self, v: &Json) -> std::io::Result<()> {
        let s = v.to_string();
        let mut out = std::io::stdout().lock();
        writeln!(out, "{s}")?;
        if let Some(f) = &mut self.file {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().lock().flush()?;
        if let Some(f) = &mut self.file {
            f.flush()?;
        }
        Ok(())
    }
}

pub async fn run(cfg: Config, opts: HeadlessOptions) -> anyhow::Result<()> {
    let mut state = RunState::new(&cfg).map_err(anyhow::Error::msg)?;
    let file = match &opts.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create output directory {}", dir.display()))?;
            let p = dir.join("headless.jsonl");
            let f = std::fs::File::create(&p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            Some(std::io::BufWriter::new(f))
        }
        None => None,
    };
    let mut w = Writer { file };
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
            Some(ev) = running.rx.recv() => {
                if let Some(n) = state.apply(ev) {
                    w.line(&notice_line(&n, clock()))?;
                }
            }
            _ = tick.tick() => {
                let now = clock();
                state.tick(now);
                for l in signal_lines(&state, now) {
                    w.line(&l)?;
                }
                w.flush()?;
            }
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
    w.flush()?;
    Ok(())
}
