//! One refresh's worth of the numbers the detector reasons about, read from the signals by
//! their configured role. Several label sets of one signal are summed; a role bound to several
//! signals takes the first that has data; rates come from the engine's fast view.

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Signal};
use crate::model::TimeMs;
use crate::settings::Role;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub t: TimeMs,
    /// Offered arrival rate (req/s), open-loop load.
    pub offered: Option<f64>,
    /// Virtual users, closed-loop load.
    pub vus: Option<f64>,
    pub throughput: Option<f64>,
    pub pending: Option<f64>,
    pub queue_depth: Option<f64>,
    pub queue_lag: Option<f64>,
    pub consumers: Option<f64>,
    pub service_time: Option<f64>,
    /// Server-side p95 (s); the client's when the server has none.
    pub p95: Option<f64>,
    pub client_p95: Option<f64>,
    pub error_rate: Option<f64>,
    /// Cumulative connection-level client failures (EOF, reset).
    pub eof_errors: Option<f64>,
    pub dropped_iterations: Option<f64>,
    /// Counters that must stay zero: (signal name, value).
    pub stability: Vec<(String, f64)>,
}

/// Sum of a signal's finite values over its label sets; None when it has none.
fn finite_sum(s: &Signal) -> Option<f64> {
    let mut vals = s
        .latest
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .peekable();
    vals.peek()?;
    Some(vals.sum())
}

impl Frame {
    /// Backlog at the service: stream lag when known, else stream length.
    pub fn backlog(&self) -> Option<f64> {
        self.queue_lag.or(self.queue_depth)
    }

    pub fn from_engine(engine: &Engine, t: TimeMs) -> Frame {
        let with_role = |r: Role| engine.signals.iter().filter(move |s| s.def.role == Some(r));
        // A rate role is read through its fast companion when that has data (see
        // `Engine::fast`): the detector never waits on a display window.
        let value = |s: &Signal| {
            engine
                .fast_of(&s.def.name)
                .and_then(finite_sum)
                .or_else(|| finite_sum(s))
        };
        let role = |r: Role| with_role(r).find_map(value);
        let server_p95 = role(Role::LatencyP95);
        let client_p95 = role(Role::ClientP95);
        let stability = with_role(Role::Stability)
            .filter(|s| !s.latest.is_empty())
            .map(|s| (s.def.name.clone(), finite_sum(s).unwrap_or(0.0)))
            .collect();
        Frame {
            t,
            offered: role(Role::Offered).or_else(|| role(Role::EnqueueRate)),
            vus: role(Role::Vus),
            throughput: role(Role::Throughput).or_else(|| role(Role::DequeueRate)),
            pending: role(Role::Pending),
            queue_depth: role(Role::QueueDepth),
            queue_lag: role(Role::QueueLag),
            consumers: role(Role::Consumers),
            service_time: role(Role::ServiceTime),
            p95: server_p95.or(client_p95),
            client_p95,
            error_rate: role(Role::ErrorRate),
            eof_errors: role(Role::EofErrors),
            dropped_iterations: role(Role::DroppedIterations),
            stability,
        }
    }
}
