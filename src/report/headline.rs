//! The numbers that matter, over the whole run: p50/p95/p99 and error rate over the loaded
//! part of the run, throughput, the load profile, what was saturated at peak load, the backlog
//! and its drain, and the p95 drift between the first and last quarter of a soak's level.

use super::data::{
    finite, AtPeak, Backlog, BacklogPeak, Drift, DriftFigure, Knee, LatencyBasis, LoadedSummary,
    Plateau, Profile, Shape, Summary,
};
use super::plateaus::{load_kind, LoadKind};
use super::window::{self, Window};
use crate::detect::Frame;
use crate::settings::Role;
use crate::state::RunState;

/// From the first to the last refresh that saw load (at least `min_rate`), plus the refresh
/// before the first so its rate window is covered.
pub fn loaded_window(state: &RunState) -> Option<Window> {
    let h = &state.detector.history;
    let kind = load_kind(state);
    let min = state.detector.cfg.min_rate;
    let loaded =
        |f: &Frame| kind.of(f).is_some_and(|v| v >= min) || f.throughput.is_some_and(|v| v >= min);
    let first = h.iter().position(loaded)?;
    let last = h.iter().rposition(loaded)?;
    let from = if first > 0 {
        h[first - 1].t
    } else {
        h[first].t
    };
    (h[last].t > from).then(|| Window {
        from,
        to: h[last].t,
    })
}

/// Latency quantiles over a window: the latency histogram's when the signals read one
/// locally, else the p95/p50/p99 role signals' per-refresh values (their median for p50,
/// their 95th/99th percentile otherwise).
fn latency_over(
    state: &RunState,
    w: Window,
) -> (Option<f64>, Option<f64>, Option<f64>, LatencyBasis) {
    let hists = window::histograms(state);
    if let Some(h) = window::latency_histogram(&hists) {
        let q = |p| window::eval_query(state, &h.query, w, Some(p));
        let (a, b, c) = (q(0.5), q(0.95), q(0.99));
        if b.is_some() {
            return (a, b, c, LatencyBasis::Histogram);
        }
    }
    let pick = |role: Role, p: f64| {
        let mut v: Vec<f64> = state
            .engine
            .signals
            .iter()
            .filter(|s| s.def.role == Some(role))
            .flat_map(|s| state.history.range(&s.def.name, w.from, w.to))
            .map(|x| x.1)
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(crate::stats::percentile(&v, p))
    };
    (
        pick(Role::LatencyP50, 0.5),
        pick(Role::LatencyP95, 0.95).or_else(|| pick(Role::ClientP95, 0.95)),
        pick(Role::LatencyP99, 0.99),
        LatencyBasis::PerRefresh,
    )
}

fn frames_in(state: &RunState, w: Window) -> impl Iterator<Item = &Frame> {
    state
        .detector
        .history
        .iter()
        .filter(move |f| f.t >= w.from && f.t <= w.to)
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

pub fn summary(state: &RunState) -> Summary {
    let Some(w) = loaded_window(state) else {
        return Summary::default();
    };
    let (p50, p95, p99, basis) = latency_over(state, w);
    let error_rate = window::role_over(state, Role::ErrorRate, w)
        .or_else(|| mean(frames_in(state, w).filter_map(|f| f.error_rate)));
    let tput_mean = window::role_over(state, Role::Throughput, w)
        .or_else(|| window::role_over(state, Role::DequeueRate, w))
        .or_else(|| mean(frames_in(state, w).filter_map(|f| f.throughput)));
    let tput_peak = frames_in(state, w)
        .filter_map(|f| f.throughput)
        .filter(|x| x.is_finite())
        .reduce(f64::max);
    let kind = load_kind(state);
    // The refresh of peak load: what was saturated when the system was pushed hardest.
    let peak = frames_in(state, w)
        .filter(|f| kind.of(f).is_some())
        .max_by(|a, b| {
            kind.of(a)
                .unwrap_or(0.0)
                .total_cmp(&kind.of(b).unwrap_or(0.0))
        });
    let at_peak = peak.map(|f| {
        let util = match (f.throughput, f.service_time, f.consumers) {
            (Some(t), Some(s), Some(c)) if c > 0.0 => Some(t * s / c),
            _ => None,
        };
        AtPeak {
            unix_ms: f.t,
            load: finite(kind.of(f)),
            throughput_rps: finite(f.throughput),
            backlog: finite(f.backlog()),
            in_flight: finite(f.pending),
            consumers: finite(f.consumers),
            service_s: finite(f.service_time),
            utilisation: finite(util),
            p95_s: finite(f.p95),
        }
    });
    Summary::Loaded(Box::new(LoadedSummary {
        from_unix_ms: w.from,
        to_unix_ms: w.to,
        latency_basis: basis,
        p50_s: finite(p50),
        p95_s: finite(p95),
        p99_s: finite(p99),
        error_rate: finite(error_rate),
        throughput_mean_rps: finite(tput_mean),
        throughput_peak_rps: finite(tput_peak),
        load_unit: kind.unit().into(),
        at_peak_load: at_peak,
    }))
}

/// What the load did: constant, steps or a ramp, with its range.
pub fn profile(state: &RunState, plateaus: &[Plateau]) -> Profile {
    let kind = load_kind(state);
    let vals: Vec<(i64, f64)> = state
        .detector
        .history
        .iter()
        .filter_map(|f| kind.of(f).map(|v| (f.t, v)))
        .filter(|(_, v)| *v >= 1.0)
        .collect();
    let model = match kind {
        LoadKind::Offered => "open loop (arrival rate)",
        LoadKind::Vus => "closed loop (virtual users)",
    };
    let (Some(first), Some(peak)) = (vals.first(), vals.iter().max_by(|a, b| a.1.total_cmp(&b.1)))
    else {
        return Profile {
            model: model.into(),
            shape: Shape::None,
            text: "no load seen".into(),
            ..Profile::default()
        };
    };
    let loaded_s = vals.len() as f64 * state.refresh_ms as f64 / 1000.0;
    let held: f64 = plateaus.iter().map(|p| p.duration_s).sum();
    let unit = kind.unit();
    let levels: Vec<String> = plateaus.iter().map(|p| format!("{:.0}", p.load)).collect();
    let (shape, text) = if plateaus.len() >= 2 && held >= 0.5 * loaded_s {
        (
            Shape::Steps,
            format!("{} steps: {} {unit}", plateaus.len(), levels.join(" → ")),
        )
    } else if plateaus.len() == 1 && held >= 0.5 * loaded_s {
        (Shape::Constant, format!("constant ≈ {} {unit}", levels[0]))
    } else {
        (
            Shape::Ramp,
            format!(
                "ramp {:.0} → {:.0} {unit} over {:.0} s",
                first.1,
                peak.1,
                (peak.0 - first.0) as f64 / 1000.0
            ),
        )
    };
    Profile {
        model: model.into(),
        shape,
        text,
        min: Some(first.1),
        max: Some(peak.1),
        unit: Some(unit.into()),
    }
}

/// The backlog: its peak, whether and how fast it drained.
pub fn backlog(state: &RunState) -> Backlog {
    let d = &state.detector;
    let peak = d
        .history
        .iter()
        .filter_map(|f| f.backlog().map(|b| (f.t, b)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let Some((t, b)) = peak else {
        return Backlog::default();
    };
    // Piled up: work waited beyond what the consumers hold in service (`Frame::waiting`);
    // eight consumers busy at a healthy load are a backlog of eight that never piled up.
    let waited = d
        .history
        .iter()
        .filter_map(|f| f.waiting())
        .fold(0.0, f64::max);
    let piled = waited >= d.cfg.min_backlog;
    let drain = finite(d.drain_s());
    Backlog {
        seen: true,
        peak: Some(BacklogPeak {
            peak: b,
            peak_unix_ms: t,
            piled_up: piled,
            drained: !piled || drain.is_some(),
            drain_s: drain,
            min_backlog: d.cfg.min_backlog,
        }),
    }
}

/// p95 over the first and the last quarter of a window and the drift between them; None when
/// a quarter is shorter than two refreshes. `plateau` is left for the caller to name.
fn quarters(state: &RunState, w: Window) -> Option<DriftFigure> {
    let q = (w.to - w.from) / 4;
    if q < 2 * state.refresh_ms.max(1) {
        return None;
    }
    let early = Window {
        from: w.from,
        to: w.from + q,
    };
    let late = Window {
        from: w.to - q,
        to: w.to,
    };
    let (_, e, _, _) = latency_over(state, early);
    let (_, l, _, _) = latency_over(state, late);
    let drift = match (e, l) {
        (Some(e), Some(l)) if e > 0.0 => Some((l - e) / e),
        _ => None,
    };
    Some(DriftFigure {
        plateau: 0,
        early_p95_s: finite(e),
        late_p95_s: finite(l),
        quarter_s: q as f64 / 1000.0,
        drift: finite(drift),
    })
}

/// Why a ramp has no drift: its quarters are at different loads.
const NO_LEVEL: &str = "the load did not hold a level";

fn not_measured(note: impl Into<String>) -> Drift {
    Drift::NotMeasured { note: note.into() }
}

/// Each plateau's own p95 drift, over its first and last quarter.
pub fn plateau_drift(state: &RunState, rows: &mut [Plateau]) {
    for p in rows {
        let w = Window {
            from: p.from_unix_ms,
            to: p.to_unix_ms,
        };
        p.p95_drift = quarters(state, w).and_then(|d| d.drift);
    }
}

/// p95 drift for a run that held one level for most of its loaded part (a soak): over the
/// quarters of that plateau. Any other run gets a note saying why not; a stepped run's drift
/// is per plateau (`Plateau::p95_drift`).
pub fn drift(state: &RunState, plateaus: &[Plateau]) -> Drift {
    let Some(w) = loaded_window(state) else {
        return not_measured("no load was seen");
    };
    let Some(p) = plateaus
        .iter()
        .max_by(|a, b| a.duration_s.total_cmp(&b.duration_s))
    else {
        return not_measured(NO_LEVEL);
    };
    if p.duration_s < 0.5 * w.secs() {
        let run = format!("the {:.0} s loaded run", w.secs());
        let held = match plateaus.len() {
            1 => format!(
                "one level for {:.0} s of {run}, not most of it",
                p.duration_s
            ),
            n => format!("{n} levels, none for most of {run}"),
        };
        return not_measured(format!("the load held {held}: drift is given per plateau"));
    }
    let w = Window {
        from: p.from_unix_ms,
        to: p.to_unix_ms,
    };
    match quarters(state, w) {
        Some(f) => Drift::Measured(DriftFigure {
            plateau: p.index,
            ..f
        }),
        None => not_measured(format!(
            "plateau {} is too short to compare its quarters",
            p.index
        )),
    }
}

/// The load at the knee's time in the run's own load unit (the detector may judge an
/// arrival-rate run's decoupling by throughput per VU, giving its knee in VUs).
pub fn knee_at(state: &RunState) -> Option<Knee> {
    let k = state.detector.knee.as_ref()?;
    let f = state.detector.history.iter().find(|f| f.t >= k.unix_ms)?;
    let kind = load_kind(state);
    let model = state.detector.knee_model(kind == LoadKind::Vus);
    let load = model.or(kind.of(f));
    Some(Knee {
        unix_ms: k.unix_ms,
        load: finite(load),
        load_unit: kind.unit().into(),
        offered_rps: finite(f.offered),
        vus: finite(f.vus),
        generator_bound: k.generator_bound.clone(),
        vu_cycle: None,
    })
}
