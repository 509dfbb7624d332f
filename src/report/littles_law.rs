//! A data-quality check nobody else makes: while the service keeps up, Little's law holds —
//! requests in flight ≈ throughput × time each spends inside. When the in-flight gauge, the
//! throughput and the latency signals disagree by more than `TOLERANCE`, they are not measuring
//! the same requests (a gauge of another hop, a rate over other routes, a latency in other
//! units), and every stage judged from them is suspect.

use crate::detect::StageId;
use crate::settings::Role;
use crate::state::RunState;

use super::data::Warning;

/// In flight over throughput × latency outside [1/TOLERANCE, TOLERANCE] is a disagreement. The
/// latency is the median, not the mean Little's law wants: the band is wide enough for that.
pub const TOLERANCE: f64 = 2.0;
/// Healthy refreshes needed to judge.
const MIN_POINTS: usize = 10;

/// The median ratio L / (X·W) over the healthy loaded refreshes, with how many were judged.
pub fn ratio(state: &RunState) -> Option<(f64, usize, String)> {
    let h = &state.history;
    let name = |r: Role| state.role(r).map(|d| d.name.clone());
    let (l_name, x_name, w_name) = (
        name(Role::Pending)?,
        name(Role::Throughput)?,
        name(Role::LatencyP50)?,
    );
    let (l, x, w) = (h.column(&l_name)?, h.column(&x_name)?, h.column(&w_name)?);
    let d = &state.detector;
    // Healthy: before the first sign of work piling up.
    let end = [StageId::Decoupled, StageId::PendingClimbs]
        .iter()
        .filter_map(|&id| d.stage(id).first_onset)
        .min()
        .unwrap_or(i64::MAX);
    let ratios: Vec<f64> = h
        .ticks()
        .iter()
        .zip(l.iter().zip(x.iter().zip(w)))
        .take_while(|(t, _)| **t < end)
        .filter(|(_, (_, (x, w)))| **x >= d.cfg.min_rate && **w > 0.0)
        .map(|(_, (l, (x, w)))| l / (x * w))
        .filter(|r| r.is_finite())
        .collect();
    let n = ratios.len();
    let m = crate::detect::robust::median(ratios)?;
    Some((m, n, format!("{l_name} vs {x_name} × {w_name}")))
}

/// The warning when the three signals disagree.
pub fn check(state: &RunState, at: i64) -> Option<Warning> {
    let (r, n, what) = ratio(state)?;
    if n < MIN_POINTS || (1.0 / TOLERANCE..=TOLERANCE).contains(&r) {
        return None;
    }
    Some(Warning {
        id: "littles_law".into(),
        unix_ms: at,
        text: format!(
            "Little's law does not hold while healthy: {what} disagree {r:.2}× (median over {n} refreshes; within {TOLERANCE}× expected). The in-flight gauge, the throughput and the latency may not count the same requests, so stages judged from them are suspect"
        ),
    })
}
