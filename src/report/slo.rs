//! SLO gates over time: each gate judges one value per second of the loaded run — the
//! signal's value as of that second, from the run's history (so `slitop report` rebuilds the
//! same verdict from a recording) — leaving out the warm-up, and passes when the share of good
//! seconds reaches its target. The seconds that failed are kept as ranges.

use super::data::{GateResult, Report, SecondsRange, SloSeconds};
use super::headline::loaded_window;
use crate::model::TimeMs;
use crate::settings::{GatesConfig, Slo, ThresholdKind, Unit, Warmup};
use crate::state::{History, RunState};

/// One judged second: its end, and the signal's value then (None: it had none).
pub type Second = (TimeMs, Option<f64>);

/// The signal's value as of the end of every whole second from `from` to `to`.
pub fn per_second(h: &History, signal: &str, from: TimeMs, to: TimeMs) -> Vec<Second> {
    (1..)
        .map(|k| from + k * 1000)
        .take_while(|t| *t <= to)
        .map(|t| (t, h.value_at(signal, t)))
        .collect()
}

/// Where the judged part of the loaded run begins: after the warm-up. Err says why it could
/// not be placed.
pub fn judged_from(
    loaded_from: TimeMs,
    warmup: Option<Warmup>,
    r: &Report,
) -> Result<TimeMs, String> {
    match warmup {
        None => Ok(loaded_from),
        Some(Warmup::For(d)) => Ok(loaded_from + d.as_millis() as TimeMs),
        Some(Warmup::Plateau) => r
            .plateaus
            .first()
            .map(|p| p.from_unix_ms.max(loaded_from))
            .ok_or_else(|| {
                "the load held no plateau, so the warm-up (\"plateau\") never ended".into()
            }),
    }
}

/// Counts the good seconds and gathers the bad ones into ranges (offsets from `start`).
pub fn judge(slo: &Slo, seconds: &[Second], start: TimeMs) -> (u64, u64, Vec<SecondsRange>) {
    let (mut judged, mut good) = (0, 0);
    let mut failed: Vec<SecondsRange> = Vec::new();
    for &(t, v) in seconds {
        let Some(v) = v else { continue };
        judged += 1;
        if slo.cmp.holds(v, slo.threshold) {
            good += 1;
            continue;
        }
        let (from_s, to_s) = (
            (t - 1000 - start) as f64 / 1000.0,
            (t - start) as f64 / 1000.0,
        );
        match failed.last_mut() {
            Some(r) if r.to_s == from_s => r.to_s = to_s,
            _ => failed.push(SecondsRange { from_s, to_s }),
        }
    }
    (judged, good, failed)
}

/// Offset seconds as m:ss (h:mm:ss past an hour).
pub fn mmss(s: f64) -> String {
    let s = s.max(0.0).round() as i64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Ranges as "1:12–1:30, 1:40–1:41".
pub fn ranges_text(rs: &[SecondsRange]) -> String {
    let parts: Vec<String> = rs
        .iter()
        .map(|r| format!("{}–{}", mmss(r.from_s), mmss(r.to_s)))
        .collect();
    parts.join(", ")
}

fn failing(slo: &Slo, note: String) -> GateResult {
    GateResult {
        name: "slo".into(),
        passed: false,
        value: None,
        limit: slo.share,
        unit: Unit::Ratio,
        note: Some(format!("{}: {note}", slo.text)),
        slo: None,
    }
}

/// Why a signal cannot be held to the objective's threshold, when it cannot.
fn unit_mismatch(slo: &Slo, unit: Unit) -> Option<String> {
    let fits = match slo.kind {
        ThresholdKind::Time => unit == Unit::Seconds,
        ThresholdKind::Share => unit == Unit::Ratio,
        ThresholdKind::Plain => true,
    };
    let what = if slo.kind == ThresholdKind::Time {
        "a time"
    } else {
        "a share"
    };
    (!fits).then(|| {
        format!(
            "the threshold is {what} but signal {} is in {unit:?}",
            slo.signal
        )
    })
}

/// Judges every SLO gate of `cfg` over the run.
pub fn evaluate(cfg: &GatesConfig, state: &RunState, report: &Report) -> Vec<GateResult> {
    let Some(w) = loaded_window(state) else {
        return cfg
            .slo
            .iter()
            .map(|s| failing(s, "no load was seen".into()))
            .collect();
    };
    let start = report.started_unix_ms.unwrap_or(w.from);
    let from = match judged_from(w.from, cfg.warmup, report) {
        Ok(t) => t,
        Err(why) => return cfg.slo.iter().map(|s| failing(s, why.clone())).collect(),
    };
    cfg.slo
        .iter()
        .map(|slo| one(slo, state, start, from, w.to))
        .collect()
}

fn one(slo: &Slo, state: &RunState, start: TimeMs, from: TimeMs, to: TimeMs) -> GateResult {
    let Some(def) = state
        .engine
        .signals
        .iter()
        .find(|s| s.def.name == slo.signal)
    else {
        return failing(slo, format!("no signal named {} in this run", slo.signal));
    };
    if let Some(why) = unit_mismatch(slo, def.def.unit) {
        return failing(slo, why);
    }
    let seconds = per_second(&state.history, &slo.signal, from, to);
    let (judged, good, failed) = judge(slo, &seconds, start);
    let share = (judged > 0).then(|| good as f64 / judged as f64);
    let span = format!(
        "{}–{}",
        mmss((from - start) as f64 / 1000.0),
        mmss((to - start) as f64 / 1000.0)
    );
    let note = match share {
        None => format!("{}: no value of {} in {span}", slo.text, slo.signal),
        Some(_) if failed.is_empty() => format!("{}: every one of {judged} s in {span}", slo.text),
        Some(v) => format!(
            "{}: {:.1}% of {judged} s in {span}; failed {}",
            slo.text,
            v * 100.0,
            ranges_text(&failed)
        ),
    };
    GateResult {
        name: "slo".into(),
        passed: share.is_some_and(|v| v >= slo.share),
        value: share,
        limit: slo.share,
        unit: Unit::Ratio,
        note: Some(note),
        slo: Some(SloSeconds {
            objective: slo.text.clone(),
            signal: slo.signal.clone(),
            from_s: (from - start) as f64 / 1000.0,
            to_s: (to - start) as f64 / 1000.0,
            judged_s: judged,
            good_s: good,
            failed,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A signal at 1 s refreshes from t = 0: fast, then slow for 3 s, then fast again.
    fn history() -> History {
        let mut h = History::default();
        for (i, v) in [0.2, 0.9, 0.9, 0.2, 0.6, 0.6, 0.6, 0.2, 0.2, f64::NAN, 0.2]
            .iter()
            .enumerate()
        {
            h.push(i as TimeMs * 1000, [("p95", *v)].into_iter());
        }
        h
    }

    #[test]
    fn each_second_is_judged_once_and_the_warmup_is_left_out() {
        let h = history();
        let slo = Slo::parse("p95<500ms@80%").unwrap();
        let r = Report::default();
        // No warm-up: the seconds ending at 1..10 s; the one ending at 9 s had no value.
        let all = per_second(&h, "p95", 0, 10_000);
        assert_eq!(all.len(), 10);
        let (judged, good, failed) = judge(&slo, &all, 0);
        assert_eq!((judged, good), (9, 4));
        assert_eq!(
            failed,
            vec![
                SecondsRange {
                    from_s: 0.0,
                    to_s: 2.0
                },
                SecondsRange {
                    from_s: 3.0,
                    to_s: 6.0
                },
            ]
        );
        assert_eq!(ranges_text(&failed), "0:00–0:02, 0:03–0:06");
        // A 3 s warm-up leaves out the first slow spell.
        let from = judged_from(0, Some(Warmup::For(Duration::from_secs(3))), &r).unwrap();
        let (judged, good, failed) = judge(&slo, &per_second(&h, "p95", from, 10_000), 0);
        assert_eq!((judged, good), (6, 3));
        assert_eq!(
            failed,
            vec![SecondsRange {
                from_s: 3.0,
                to_s: 6.0
            }]
        );
        // "plateau" needs one.
        assert!(judged_from(0, Some(Warmup::Plateau), &r)
            .unwrap_err()
            .contains("no plateau"));
    }

    #[test]
    fn minutes_read_as_on_the_screen() {
        assert_eq!(mmss(72.0), "1:12");
        assert_eq!(mmss(3725.0), "1:02:05");
    }
}
