//! What a run amounts to once its frames are in: capacity, drain time and scaling guidance.

use serde::{Deserialize, Serialize};

use super::robust::median;
use super::{Detector, StageId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Peak offered load of the run (req/s): the λ to provision for.
    pub lambda_rps: f64,
    pub mean_service_s: f64,
    pub utilisation: f64,
    /// ceil(λ · mean service time / U).
    pub workers_needed: u64,
    /// Consumers seen on the stream, when known.
    pub consumers_now: Option<f64>,
}

impl Detector {
    /// Throughput held during the plateau (median of its samples), if a plateau was reached.
    pub fn capacity_rps(&self) -> Option<f64> {
        let p = self.stage(StageId::Plateau);
        let from = p.first_onset?;
        // The condition stopped holding `clear_hold` before the stage cleared.
        let to = p
            .cleared
            .map(|c| c - self.cfg.clear_hold.as_millis() as i64)
            .unwrap_or(i64::MAX);
        median(
            self.history
                .iter()
                .filter(|f| f.t >= from && f.t <= to)
                .filter_map(|f| f.throughput),
        )
    }

    pub fn scaling(&self) -> Option<Scaling> {
        let lambda = self
            .history
            .iter()
            .filter_map(|f| f.offered)
            .filter(|v| v.is_finite())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))?;
        let service: Vec<f64> = self
            .history
            .iter()
            .filter(|f| f.throughput.is_some_and(|t| t >= self.cfg.min_rate))
            .filter_map(|f| f.service_time)
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        if service.is_empty() || lambda <= 0.0 {
            return None;
        }
        let mean = service.iter().sum::<f64>() / service.len() as f64;
        let u = self.cfg.utilisation;
        Some(Scaling {
            lambda_rps: lambda,
            mean_service_s: mean,
            utilisation: u,
            workers_needed: (lambda * mean / u - 1e-9).ceil().max(1.0) as u64,
            consumers_now: self.history.iter().rev().find_map(|f| f.consumers),
        })
    }

    /// Seconds from the backlog's peak (arrivals fell below the service rate) until it was
    /// back under one item; None when it never piled up or has not drained yet.
    pub fn drain_s(&self) -> Option<f64> {
        let (peak_i, peak) = self
            .history
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.backlog().map(|b| (i, b)))
            .fold(None, |m: Option<(usize, f64)>, (i, b)| match m {
                Some((_, mb)) if mb >= b => m,
                _ => Some((i, b)),
            })?;
        if peak < self.cfg.min_backlog {
            return None;
        }
        let t0 = self.history[peak_i].t;
        let end = self.history[peak_i..]
            .iter()
            .find(|f| f.backlog().is_some_and(|b| b < 1.0))?;
        Some((end.t - t0) as f64 / 1000.0)
    }
}
