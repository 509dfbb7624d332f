//! A scaling curve across runs: each run's capacity against its worker count, fitted with the
//! Universal Scalability Law (`crate::usl`), and the workers a target rate needs, by the fit
//! and by the linear rule ceil(λ·t/U) side by side. A run's worker count is its `workers`
//! tag, else its `consumers` tag (the demo sets it), else the consumers Valkey reported at peak.

use serde::{Deserialize, Serialize};

use super::data::Report;

/// One run on the curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScalePoint {
    pub run: String,
    pub workers: f64,
    /// Where the worker count came from: `tag workers`, `tag consumers`, `valkey consumers`.
    pub workers_from: String,
    pub capacity_rps: f64,
    /// `capacity` (the report's, at the plateau), or `peak throughput` of a run that ended
    /// before its plateau was confirmed but whose throughput had fallen behind its load.
    pub capacity_from: String,
    /// The fit's throughput at this worker count, and measured minus fitted.
    pub fitted_rps: Option<f64>,
    pub residual_rps: Option<f64>,
}

/// The fitted law and what it predicts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UslFigures {
    pub lambda_rps: f64,
    pub sigma: f64,
    pub kappa: f64,
    pub r2: f64,
    /// N* = sqrt((1−σ)/κ); null when throughput never peaks.
    pub peak_workers: Option<f64>,
    pub peak_rps: Option<f64>,
    /// Past this many workers, one more lowers throughput.
    pub retrograde_from: Option<u64>,
}

/// Workers needed for a rate, by the fit and by the linear rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkersNeeded {
    pub rate_rps: f64,
    /// The fewest workers whose fitted capacity, run at `utilisation`, carries the rate;
    /// None when the fitted curve never gets there.
    pub usl: Option<u64>,
    pub linear: Option<u64>,
    pub mean_service_s: Option<f64>,
    pub utilisation: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleCurve {
    pub points: Vec<ScalePoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usl: Option<UslFigures>,
    /// Why there is no fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit_error: Option<String>,
    pub workers_needed: WorkersNeeded,
}

/// A run's worker count and where it came from.
fn workers_of(r: &Report) -> Option<(f64, &'static str)> {
    let tag = |k: &str| {
        r.meta
            .tags
            .get(k)
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    tag("workers")
        .map(|w| (w, "tag workers"))
        .or_else(|| tag("consumers").map(|w| (w, "tag consumers")))
        .or_else(|| {
            let at = r.summary.loaded()?.at_peak_load.as_ref()?;
            at.consumers.map(|w| (w, "valkey consumers"))
        })
        .filter(|(w, _)| w.is_finite() && *w >= 1.0)
}

/// A run's capacity: the report's, else its peak throughput once throughput fell behind the
/// load (the decoupled stage confirmed): past that point the peak is what the workers carry.
pub fn capacity_of(r: &Report) -> Option<(f64, &'static str)> {
    let ok = |c: &f64| c.is_finite() && *c > 0.0;
    if let Some(c) = r.capacity_rps.filter(ok) {
        return Some((c, "capacity"));
    }
    let decoupled = r
        .stages
        .iter()
        .any(|s| s.id == crate::detect::StageId::Decoupled && s.confirmed_unix_ms.is_some());
    let peak = r.summary.loaded()?.throughput_peak_rps.filter(ok)?;
    decoupled.then_some((peak, "peak throughput"))
}

/// The curve from named reports; `rate` is the target (default: the highest load a run was
/// asked to carry). Errors name the run that lacks a worker count or a capacity.
pub fn curve(runs: &[(String, Report)], rate: Option<f64>) -> Result<ScaleCurve, String> {
    let mut points = Vec::new();
    for (name, r) in runs {
        let (workers, from) = workers_of(r).ok_or_else(|| {
            format!("{name}: no worker count: tag the run with --tag workers=N (or watch the Valkey consumer group)")
        })?;
        let (capacity, capacity_from) = capacity_of(r).ok_or_else(|| {
            format!("{name}: no capacity in its report (its throughput never fell behind its load)")
        })?;
        points.push(ScalePoint {
            run: name.clone(),
            workers,
            workers_from: from.into(),
            capacity_rps: capacity,
            capacity_from: capacity_from.into(),
            fitted_rps: None,
            residual_rps: None,
        });
    }
    points.sort_by(|a, b| a.workers.total_cmp(&b.workers));
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.workers, p.capacity_rps)).collect();
    let fit = crate::usl::fit(&xy);
    if let Ok(f) = &fit {
        for (p, r) in points.iter_mut().zip(&f.residuals) {
            p.fitted_rps = Some(f.predict(p.workers));
            p.residual_rps = Some(*r);
        }
    }
    let service = runs.iter().find_map(|(_, r)| {
        r.scaling
            .as_ref()
            .map(|s| s.mean_service_s)
            .or_else(|| r.summary.loaded()?.at_peak_load.as_ref()?.service_s)
    });
    let utilisation = runs
        .first()
        .map(|(_, r)| r.detect.utilisation)
        .filter(|u| *u > 0.0)
        .unwrap_or(0.7);
    let target = rate.unwrap_or_else(|| {
        runs.iter()
            .filter_map(|(_, r)| r.scaling.as_ref().map(|s| s.lambda_rps))
            .chain(points.iter().map(|p| p.capacity_rps))
            .fold(0.0, f64::max)
    });
    let workers_needed = WorkersNeeded {
        rate_rps: target,
        // Both at the same headroom: the fit's capacity at utilisation U carries the rate.
        usl: fit
            .as_ref()
            .ok()
            .and_then(|f| f.workers_for(target / utilisation)),
        linear: service.and_then(|t| crate::usl::linear_workers(target, t, utilisation)),
        mean_service_s: service,
        utilisation,
    };
    Ok(ScaleCurve {
        points,
        usl: fit.as_ref().ok().map(|f| UslFigures {
            lambda_rps: f.lambda,
            sigma: f.sigma,
            kappa: f.kappa,
            r2: f.r2,
            peak_workers: f.peak_workers(),
            peak_rps: f.peak_throughput(),
            retrograde_from: f.retrograde_from(),
        }),
        fit_error: fit.err().map(|e| e.to_string()),
        workers_needed,
    })
}

/// The fit as the `crate::usl` type again, to draw and predict with.
pub fn as_fit(u: &UslFigures) -> crate::usl::Fit {
    crate::usl::Fit {
        lambda: u.lambda_rps,
        sigma: u.sigma,
        kappa: u.kappa,
        r2: u.r2,
        residuals: Vec::new(),
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// The curve as Markdown (scale.md).
pub fn markdown(c: &ScaleCurve) -> String {
    let mut s = String::from("# Scaling across runs\n\n| run | workers (from) | capacity (from) | fitted | residual |\n|---|---|---|---|---|\n");
    for p in &c.points {
        s += &format!(
            "| {} | {} ({}) | {:.1} req/s ({}) | {} | {} |\n",
            p.run,
            p.workers,
            p.workers_from,
            p.capacity_rps,
            p.capacity_from,
            opt(p.fitted_rps, 1),
            opt(p.residual_rps, 2)
        );
    }
    s += "\n";
    match (&c.usl, &c.fit_error) {
        (Some(u), _) => {
            s += &format!(
                "Universal Scalability Law fit X(N) = λN / (1 + σ(N−1) + κN(N−1)): λ = {:.2} req/s, σ = {:.4}, κ = {:.5}, R² = {:.3}.\n\n",
                u.lambda_rps, u.sigma, u.kappa, u.r2
            );
            s += &match (u.peak_workers, u.peak_rps, u.retrograde_from) {
                (Some(n), Some(x), Some(r)) => format!(
                    "Predicted peak: {x:.1} req/s at N* = {n:.1} workers; beyond {r} workers adding more lowers throughput.\n\n"
                ),
                _ => "The fit has no peak: throughput keeps rising with workers (κ = 0).\n\n".into(),
            };
        }
        (None, Some(e)) => s += &format!("No fit: {e}.\n\n"),
        (None, None) => {}
    }
    let w = &c.workers_needed;
    s += &format!(
        "Workers needed for {:.1} req/s at {:.0}% utilisation: **{}** by the fit, **{}** by the linear rule ceil(λ·t/U) (t = {}).\n",
        w.rate_rps,
        w.utilisation * 100.0,
        w.usl.map_or("unreachable".into(), |n| n.to_string()),
        w.linear.map_or("–".into(), |n| n.to_string()),
        super::format::secs(w.mean_service_s),
    );
    s
}

pub const JSON_FILE: &str = "scale.json";
pub const MARKDOWN_FILE: &str = "scale.md";
