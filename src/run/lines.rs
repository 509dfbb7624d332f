//! The headless mode's JSON lines: one object per signal value on every refresh, one per stage
//! transition, health change, query error, warning and note; with a baseline, its stage onsets
//! once and each refresh's throughput against it at the same load. Printed on stdout and
//! copied to `headless.jsonl`; a closed stdout (a reader that went away) never stops the run.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value as Json};

use super::baseline::Baseline;
use crate::detect::Transition;
use crate::model::TimeMs;
use crate::state::{Notice, RunState};

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
        } => json!({"t": t, "source": source, "signal": signal, "error": error}),
        Notice::Warnings {
            source,
            signal,
            warnings,
        } => json!({"t": t, "source": source, "signal": signal, "warnings": warnings}),
    }
}

pub fn transition_line(tr: &Transition) -> Json {
    json!({"t": tr.t, "stage": tr.stage.id(), "state": tr.state.word(), "evidence": tr.evidence})
}

/// What the baseline tells once: its name, the first onset of each stage it reached and its
/// knee, in seconds from its first refresh.
pub fn baseline_line(b: &Baseline, t: TimeMs) -> Json {
    let secs = |ms: TimeMs| ms as f64 / 1000.0;
    let onsets: serde_json::Map<String, Json> = b
        .onsets
        .iter()
        .map(|(id, at)| (id.id().to_string(), json!(secs(*at))))
        .collect();
    let knee = b.knee.as_ref().map_or(
        Json::Null,
        |k| json!({"load": k.load, "load_unit": k.unit, "at_s": secs(k.at)}),
    );
    json!({"t": t, "baseline": b.name, "onsets_s": onsets, "knee": knee})
}

/// This refresh against the baseline at the same load (`Baseline::versus`); None without a
/// load, a throughput or the baseline's series.
pub fn versus_line(b: &Baseline, state: &RunState, t: TimeMs) -> Option<Json> {
    let v = b.versus(state, t)?;
    let ratio = match (v.delta(), v.baseline) {
        (Some(d), Some(base)) if base > 0.0 => json!(d / base),
        _ => Json::Null,
    };
    Some(json!({
        "t": t,
        "baseline": b.name,
        "load": v.at,
        "load_unit": v.load_unit(),
        "throughput": v.throughput,
        "baseline_throughput": v.baseline,
        "vs_baseline": v.delta(),
        "vs_baseline_ratio": ratio,
        "worse": v.worse(),
    }))
}

/// Stdout plus its copy in `DIR/headless.jsonl`.
pub struct Lines {
    /// Gone after a write failed (a full disk): stdout goes on, and the run with it.
    copy: Option<std::io::BufWriter<std::fs::File>>,
    baseline: Option<Baseline>,
    /// The baseline's onsets were printed (on the first refresh).
    told: bool,
}

impl Lines {
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        let p = dir.join("headless.jsonl");
        let f = crate::record::write::create_new(&p)?;
        Ok(Self {
            copy: Some(std::io::BufWriter::new(f)),
            baseline: None,
            told: false,
        })
    }

    /// Lines against `baseline` on every refresh from now on.
    pub fn with_baseline(mut self, baseline: Option<Baseline>) -> Self {
        self.baseline = baseline;
        self
    }

    fn line(&mut self, v: &Json) -> anyhow::Result<()> {
        let s = v.to_string();
        // A closed stdout (a pipe whose reader went away) must not stop the recording.
        let _ = writeln!(std::io::stdout().lock(), "{s}");
        if let Some(copy) = &mut self.copy {
            let written = writeln!(copy, "{s}");
            self.check(written);
        }
        Ok(())
    }

    /// A failed write of the copy ends the copy, said once; the run goes on.
    fn check(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            eprintln!("slitop: cannot write headless.jsonl ({e}); the lines still go to stdout");
            self.copy = None;
        }
    }

    pub fn notice(&mut self, n: &Notice, t: TimeMs) -> anyhow::Result<()> {
        self.line(&notice_line(n, t))
    }

    /// One refresh: every signal, then the transitions it caused, then the baseline's line
    /// (after its onsets, on the first refresh); flushed.
    pub fn tick(&mut self, state: &RunState, t: TimeMs, tr: &[Transition]) -> anyhow::Result<()> {
        for l in signal_lines(state, t) {
            self.line(&l)?;
        }
        for x in tr {
            self.line(&transition_line(x))?;
        }
        let (told, vs) = match &self.baseline {
            Some(b) => (
                (!self.told).then(|| baseline_line(b, t)),
                versus_line(b, state, t),
            ),
            None => (None, None),
        };
        if let Some(l) = told {
            self.told = true;
            self.line(&l)?;
        }
        if let Some(l) = vs {
            self.line(&l)?;
        }
        self.flush()
    }

    pub fn annotation(&mut self, t: TimeMs, text: &str) -> anyhow::Result<()> {
        self.line(&json!({"t": t, "annotation": text}))
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        let _ = std::io::stdout().lock().flush();
        if let Some(copy) = &mut self.copy {
            let flushed = copy.flush();
            self.check(flushed);
        }
        Ok(())
    }
}
