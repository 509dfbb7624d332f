//! Why a stage came out of the saturation sequence: confirmed after a later stage, or not at
//! all while a later one was. Each reason is read from the run's own data (how far apart its
//! samples were, how soon the later stage followed the first sign of work piling up, what
//! latency was when clients failed), so a report never leaves an odd order unexplained.

use std::time::Duration;

use super::{flat_window, fmt_secs, Detector, Frame, StageId};
use crate::model::TimeMs;

/// A duration in words, whole seconds ("6s").
fn secs_ms(ms: TimeMs) -> String {
    humantime::format_duration(Duration::from_secs((ms.max(0) as u64 + 500) / 1000)).to_string()
}

impl Detector {
    /// Why stage `id` came out of sequence, or None where it did not: "confirmed 4s after
    /// p95_high: …" or "not seen, while errors_visible was: …".
    pub fn out_of_sequence(&self, id: StageId) -> Option<String> {
        let mine = self.stage(id).first_confirmed;
        let (later, at) = StageId::ALL
            .iter()
            .filter(|s| s.number() > id.number())
            .filter_map(|&s| Some((s, self.stage(s).first_confirmed?)))
            .filter(|(_, t)| mine.is_none_or(|m| *t < m))
            .min_by_key(|(_, t)| *t)?;
        let when = match mine {
            Some(m) => format!("confirmed {} after {}", secs_ms(m - at), later.id()),
            None => format!("not seen, while {} was", later.id()),
        };
        Some(format!(
            "{when}: {}",
            self.why_out_of_sequence(id, later, at)
        ))
    }

    fn why_out_of_sequence(&self, id: StageId, later: StageId, at: TimeMs) -> String {
        let piling = self.piling_onset();
        let piled = matches!(
            id,
            StageId::Decoupled | StageId::PendingClimbs | StageId::Plateau
        );
        if piled && piling.is_none() {
            return format!(
                "no work piled up before it: throughput kept up with the load (the {} was not a wall)",
                later.meaning()
            );
        }
        let f = self.frame_at(at);
        // Slow samples behind the late stage: at the later stage's time, or by its own (or
        // by now, where it never came).
        let own = self
            .stage(id)
            .first_confirmed
            .map_or_else(|| self.history.last(), |t| self.frame_at(t));
        let slow_frame = [f, own]
            .into_iter()
            .flatten()
            .find(|f| f.slow_sample_s().is_some());
        let samples = slow_frame.and_then(Frame::slow_sample_s).map(|s| {
            format!(
                "the service's samples came every {s:.0} s, and a rate over them shows a change up to {:.0} s late",
                2.0 * s
            )
        });
        let why = match id {
            StageId::RateRises => Some(
                "throughput was already at its level when first seen (the load rose before the watch began, or in one step)"
                    .to_string(),
            ),
            StageId::Plateau => self.plateau_too_soon(later, at, piling, slow_frame.or(f)),
            StageId::Decoupled | StageId::PendingClimbs => Some(match piling {
                Some(p) if p <= at => format!(
                    "{} came {} after the first sign of work piling up, before this reading of it had held {}",
                    later.id(),
                    secs_ms(at - p),
                    humantime::format_duration(self.cfg.hold)
                ),
                _ => format!(
                    "{} came before completions fell {:.0}% short of the load{}",
                    later.id(),
                    (1.0 - self.cfg.decouple_ratio) * 100.0,
                    if later == StageId::P95High {
                        " (latency grows with the first requests queued)"
                    } else {
                        ""
                    }
                ),
            }),
            StageId::P95High => self.failed_before_slowing(at, slow_frame.is_some()),
            StageId::ErrorsVisible => None,
        };
        let parts: Vec<String> = samples.into_iter().chain(why).collect();
        if parts.is_empty() {
            return format!("{} came first in this run's data", later.id());
        }
        parts.join("; ")
    }

    /// Why no plateau was seen before `later` at `at`: too little time since work began
    /// piling up for throughput to be seen flat, or clients failing first (their abandoned
    /// work then counts in completions, not the service's capacity).
    fn plateau_too_soon(
        &self,
        later: StageId,
        at: TimeMs,
        piling: Option<TimeMs>,
        f: Option<&Frame>,
    ) -> Option<String> {
        let p = piling?;
        // The window the plateau is judged over: the client's completions' where they stand
        // in for slow samples, else throughput now's.
        let flat = match f {
            Some(f) if f.now_is_last_interval() && self.plateau_in_client => {
                self.client_now_window()
            }
            _ => {
                let s = f
                    .and_then(|f| f.sample_s)
                    .unwrap_or_else(|| self.refresh_s());
                flat_window(f.and_then(|f| f.rate_window_s), s)
            }
        };
        let hold = self.cfg.hold;
        let need = (flat + hold).as_millis() as TimeMs;
        if p > at {
            return Some(format!(
                "{} came before the data showed work piling up",
                later.id()
            ));
        }
        let gap = at - p;
        let failed = later == StageId::ErrorsVisible;
        if gap < need {
            return Some(format!(
                "{} came {} after the first sign of work piling up, and throughput is seen flat only over {} and held {}{}",
                later.id(),
                secs_ms(gap),
                humantime::format_duration(flat),
                humantime::format_duration(hold),
                if failed {
                    "; once clients fail, completions count their abandoned work"
                } else {
                    ""
                }
            ));
        }
        failed.then(|| {
            format!(
                "clients failed {} after the first sign of work piling up, while throughput was still rising",
                secs_ms(gap)
            )
        })
    }

    /// Why clients failed before p95 was high: the latency when they did. The client's own
    /// p95, seen every refresh, may have been high already where the p95 judged (the
    /// service's, through `slow` samples) was not yet.
    fn failed_before_slowing(&self, at: TimeMs, slow: bool) -> Option<String> {
        let f = self.frame_at(at)?;
        let warn = self.cfg.p95_warn;
        if let Some(c) = f.client_p95.filter(|c| *c > warn) {
            return Some(format!(
                "the clients' own p95 was {} when they failed; the p95 judged had not shown it yet",
                fmt_secs(c)
            ));
        }
        if slow {
            return None;
        }
        let p95 = f.p95?;
        Some(format!(
            "clients failed while p95 was {}, under {}: requests were refused or dropped before they were slowed",
            fmt_secs(p95),
            fmt_secs(warn)
        ))
    }
}
