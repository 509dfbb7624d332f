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
    /// The signal the offered rate came from, when not one with the `offered` role itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_from: Option<String>,
    /// Virtual users, closed-loop load.
    pub vus: Option<f64>,
    pub throughput: Option<f64>,
    /// The signal throughput came from, when not one with the `throughput` role itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_from: Option<String>,
    pub pending: Option<f64>,
    pub queue_depth: Option<f64>,
    pub queue_lag: Option<f64>,
    pub consumers: Option<f64>,
    pub service_time: Option<f64>,
    /// Server-side p95 (s); the client's when the server has none.
    pub p95: Option<f64>,
    pub client_p95: Option<f64>,
    /// The client's mean latency (s) over its newest requests (k6), for Little's law.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mean: Option<f64>,
    /// The same over the client's display window: steadier, for the unloaded latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mean_window: Option<f64>,
    /// Seconds a VU spends per request outside it (k6 JSON output: its iterations' time less
    /// their requests').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_think: Option<f64>,
    /// Requests the client completes per second (k6), whatever else is the throughput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_rate: Option<f64>,
    /// Requests the client completes per second without failing (k6), whatever else is the
    /// throughput: the same work as the server's completions, polled every refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_done: Option<f64>,
    /// The same, over the last few seconds (rebuilt by the detector as `throughput_now` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_done_now: Option<f64>,
    pub error_rate: Option<f64>,
    /// Cumulative connection-level client failures (EOF, reset).
    pub eof_errors: Option<f64>,
    pub dropped_iterations: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus_max: Option<f64>,
    /// Counters that must stay zero: (signal name, value).
    pub stability: Vec<(String, f64)>,
    /// Latency of each hop of the path (signal name, seconds), and the mean service time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<(String, f64)>,
    /// Seconds between fresh samples behind the signals, when longer than a refresh (a
    /// Prometheus server scraping every 15 s): the detector's windows span a few of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_s: Option<f64>,
    /// The window (s) the throughput is a rate over, where it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_window_s: Option<f64>,
    /// Seconds from the newest sample behind the throughput, and behind the VUs, to the
    /// frame, where slitop evaluated them itself (see `Engine::sample_age_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_age_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus_age_s: Option<f64>,
    /// Completions per second over the last few seconds, rebuilt by the detector from the
    /// throughput's rate and its window (see `detect::unwindow`), where the data allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_now: Option<f64>,
    /// Completions per second over the last sample interval alone (the throughput's query
    /// with its rates read as `irate`), where it has that form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_last: Option<f64>,
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
    /// Backlog at the service: what the consumer group has not finished (undelivered plus
    /// pending, read through the `queue_lag` role). Never the stream's length: a stream keeps
    /// acknowledged entries up to its MAXLEN, so its length is retention, not backlog.
    pub fn backlog(&self) -> Option<f64> {
        self.queue_lag
    }

    /// The backlog beyond what the consumers hold in service: each consumer works one entry
    /// at a time, and those count as pending from delivery to acknowledgement. A load that
    /// rises fills them long before any wall (8 consumers hold 8), so it is this part whose
    /// growth means work piling up. The whole backlog where the consumers are not known.
    pub fn waiting(&self) -> Option<f64> {
        let b = self.backlog()?;
        Some((b - self.consumers.unwrap_or(0.0)).max(0.0))
    }

    /// True when the samples behind this frame are too far apart for its rate window to be
    /// differenced (see `model::sampling`): its throughput now is the last interval's figure.
    pub fn now_is_last_interval(&self) -> bool {
        !crate::model::sampling::rebuildable(self.rate_window_s, self.sample_s.unwrap_or(1.0))
    }

    /// The sample interval (s) where it is known and too long to rebuild throughput now from
    /// (a Prometheus server scraping every 5 or 15 s: its last interval is all there is).
    pub fn slow_sample_s(&self) -> Option<f64> {
        self.sample_s.filter(|_| self.now_is_last_interval())
    }

    /// How old the newest sample behind the throughput is (s): as measured where slitop
    /// evaluated it, else half a sample interval (its mean age where Prometheus computed the
    /// rate; samples `refresh_s` apart where the frame does not say otherwise).
    pub fn throughput_age_or_mean_s(&self, refresh_s: f64) -> f64 {
        self.throughput_age_s
            .unwrap_or(self.sample_s.unwrap_or(refresh_s) / 2.0)
    }

    /// The seconds the throughput's rate counts over (see `model::sampling::rate_span_s`),
    /// for fresh samples `refresh_s` apart where the frame does not say otherwise.
    pub fn rate_span_s(&self, refresh_s: f64) -> Option<f64> {
        let w = self.rate_window_s?;
        let s = self.sample_s.unwrap_or(refresh_s);
        Some(crate::model::sampling::rate_span_s(w, s))
    }

    /// Throughput now where it could be rebuilt from its rate, else the rate itself.
    pub fn throughput_now(&self) -> Option<f64> {
        self.throughput_now.or(self.throughput)
    }

    /// Requests in flight: at the service where it says, else from the client's rate and
    /// latency (`in_flight`), else the client's VUs. A closed loop's VUs are requests plus
    /// think time: they grow because VUs are added, and their residence doubles only once
    /// latency has grown by the think time as well.
    pub fn concurrency(&self) -> Option<f64> {
        self.in_flight().or(self.vus)
    }

    /// Requests in flight: at the service where it says; with only the client in view,
    /// Little's law on its own figures, completions per second times their mean latency.
    pub fn in_flight(&self) -> Option<f64> {
        self.pending
            .or_else(|| Some(self.client_rate.or(self.throughput)? * self.client_latency()?))
    }

    /// The requests an arrival-rate pool's busy VUs hold: each is in a request or sleeping
    /// after one, and rate × think of them are asleep (a count now, less a small rate term,
    /// where Little's law on the rate and mean latency is a window's estimate throughout).
    pub fn busy_vus_in_requests(&self) -> Option<f64> {
        Some((self.vus? - self.client_rate? * self.client_think?).max(0.0))
    }

    /// The client's mean latency, for Little's law; its p95 where it reports no mean (an
    /// upper bound: three times the mean where latency is exponential).
    pub fn client_latency(&self) -> Option<f64> {
        self.client_mean.or(self.client_p95)
    }

    pub fn from_engine(engine: &Engine, t: TimeMs) -> Frame {
        Self::from_engine_aged(engine, |_| None, t)
    }

    /// The same, with the ages of the samples behind the throughput and the VUs: `age` of a
    /// signal's name (see `Engine::sample_age_s`).
    pub fn from_engine_aged(
        engine: &Engine,
        age: impl Fn(&str) -> Option<f64>,
        t: TimeMs,
    ) -> Frame {
        let with_role = |r: Role| engine.signals.iter().filter(move |s| s.def.role == Some(r));
        let value = |s: &Signal| fast_or_shown(engine, s);
        let role = |r: Role| with_role(r).find_map(value);
        // The first role in order of preference that has data, and the signal it came from.
        let first_of = |roles: &[Role]| {
            roles
                .iter()
                .find_map(|&r| with_role(r).find_map(|s| Some((value(s)?, s.def.name.clone(), r))))
        };
        let offered = first_of(&[
            Role::Offered,
            Role::EnqueueRate,
            Role::IterationRate,
            Role::ClientRate,
        ]);
        // Entries read are not work done (skipped jobs are read too): only acknowledged work.
        let throughput = first_of(&[
            Role::Throughput,
            Role::AckRate,
            Role::ClientOkRate,
            Role::ClientRate,
        ]);
        let client_p95 = role(Role::ClientP95);
        let (hops, stability) = hops_and_stability(engine);
        // The rate window behind the throughput: its signal's longest range (the fast view
        // may shorten it further; the run knows by how much).
        let rate_window_s = throughput
            .as_ref()
            .and_then(|x| Some(engine.longest_range(&x.1)?.as_secs_f64()));
        let vus_signal = with_role(Role::Vus).find(|s| value(s).is_some());
        let throughput_age_s = throughput.as_ref().and_then(|x| age(&x.1));
        let throughput_last = throughput
            .as_ref()
            .and_then(|x| engine.last_of(&x.1))
            .and_then(finite_sum);
        Frame {
            t,
            offered_from: fallback(&offered, Role::Offered),
            offered: offered.map(|x| x.0),
            vus: role(Role::Vus),
            throughput_from: fallback(&throughput, Role::Throughput),
            throughput: throughput.map(|x| x.0),
            pending: role(Role::Pending),
            queue_depth: role(Role::QueueDepth),
            queue_lag: role(Role::QueueLag),
            consumers: role(Role::Consumers),
            service_time: role(Role::ServiceTime),
            p95: role(Role::LatencyP95).or(client_p95),
            client_p95,
            client_mean: role(Role::ClientMean),
            client_mean_window: with_role(Role::ClientMean).find_map(finite_sum),
            client_think: role(Role::ClientThink),
            client_rate: role(Role::ClientRate),
            client_done: role(Role::ClientOkRate),
            error_rate: role(Role::ErrorRate),
            eof_errors: role(Role::EofErrors),
            dropped_iterations: role(Role::DroppedIterations),
            vus_max: role(Role::VusMax),
            stability,
            hops,
            rate_window_s,
            throughput_age_s,
            vus_age_s: vus_signal.and_then(|s| age(&s.def.name)),
            throughput_last,
            ..Frame::default()
        }
    }
}

/// The signal a role was filled from, when not one with the role itself.
fn fallback(x: &Option<(f64, String, Role)>, primary: Role) -> Option<String> {
    x.as_ref().filter(|x| x.2 != primary).map(|x| x.1.clone())
}

/// A signal's value as the detector reads it: through its fast companion when that has data
/// (see `Engine::fast`), so it never waits on a display window; else as shown.
fn fast_or_shown(engine: &Engine, s: &Signal) -> Option<f64> {
    engine
        .fast_of(&s.def.name)
        .and_then(finite_sum)
        .or_else(|| finite_sum(s))
}

/// Each hop's latency (and the service time), and each stability counter: (name, value).
#[allow(clippy::type_complexity)]
fn hops_and_stability(engine: &Engine) -> (Vec<(String, f64)>, Vec<(String, f64)>) {
    let with_role = |r: Role| engine.signals.iter().filter(move |s| s.def.role == Some(r));
    // Through the fast view, as the p95 they are held against.
    let hops = with_role(Role::HopLatency)
        .chain(with_role(Role::ServiceTime))
        .filter_map(|s| Some((s.def.name.clone(), fast_or_shown(engine, s)?)))
        .collect();
    let stability = with_role(Role::Stability)
        .filter(|s| !s.latest.is_empty())
        .map(|s| (s.def.name.clone(), finite_sum(s).unwrap_or(0.0)))
        .collect();
    (hops, stability)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, LocalSources};
    use crate::promql::EvalOptions;
    use crate::settings::parse_adhoc;
    use crate::store::Store;

    fn engine(defs: &[(&str, &str, Role)]) -> Engine {
        let defs: Vec<_> = defs
            .iter()
            .map(|(name, query, role)| {
                let mut d = parse_adhoc(&format!("{name}={query}")).unwrap();
                d.role = Some(*role);
                d
            })
            .collect();
        let srcs = LocalSources {
            valkey: true,
            k6: true,
            ..Default::default()
        };
        let interval = std::time::Duration::from_secs(1);
        Engine::new(&defs, srcs, EvalOptions::default(), interval).unwrap()
    }

    fn gauges(values: &[(&str, f64)]) -> Store {
        let mut st = Store::default();
        for (name, v) in values {
            st.push(&Labels::named(name), 1000, *v);
        }
        st
    }

    #[test]
    fn roles_fall_back_in_order_and_say_where_they_came_from() {
        let mut e = engine(&[
            ("read", "sum(valkey_read)", Role::DequeueRate),
            ("acked", "sum(valkey_acked)", Role::AckRate),
            ("k6_offered", "sum(k6_started)", Role::IterationRate),
            ("k6_rps", "sum(k6_done)", Role::ClientRate),
        ]);
        let st = gauges(&[
            ("valkey_read", 134.0),
            ("valkey_acked", 75.0),
            ("k6_started", 120.0),
            ("k6_done", 74.0),
        ]);
        e.evaluate_local(&st, 1500);
        let f = Frame::from_engine(&e, 1500);
        assert_eq!(f.offered, Some(120.0));
        assert_eq!(f.offered_from.as_deref(), Some("k6_offered"));
        // Entries read (including skipped work) are never counted as done.
        assert_eq!(f.throughput, Some(75.0));
        assert_eq!(f.throughput_from.as_deref(), Some("acked"));
    }

    #[test]
    fn the_client_alone_counts_only_requests_that_did_not_fail_as_done() {
        let mut e = engine(&[
            ("k6_rps", "sum(k6_done)", Role::ClientRate),
            ("k6_ok_rps", "sum(k6_ok)", Role::ClientOkRate),
        ]);
        e.evaluate_local(&gauges(&[("k6_done", 70.0), ("k6_ok", 39.0)]), 1500);
        let f = Frame::from_engine(&e, 1500);
        assert_eq!(f.throughput, Some(39.0));
        assert_eq!(f.throughput_from.as_deref(), Some("k6_ok_rps"));
        // The client's own rate (for its requests in flight) is still every request.
        assert_eq!(f.client_rate, Some(70.0));
    }

    #[test]
    fn a_signal_carrying_the_role_is_used_without_a_note() {
        let mut e = engine(&[
            ("enq", "sum(valkey_added)", Role::EnqueueRate),
            ("offered", "sum(k6_planned)", Role::Offered),
            ("done", "sum(k6_done)", Role::Throughput),
        ]);
        let st = gauges(&[
            ("valkey_added", 50.0),
            ("k6_planned", 60.0),
            ("k6_done", 40.0),
        ]);
        e.evaluate_local(&st, 1500);
        let f = Frame::from_engine(&e, 1500);
        assert_eq!((f.offered, f.offered_from), (Some(60.0), None));
        assert_eq!((f.throughput, f.throughput_from), (Some(40.0), None));
    }

    #[test]
    fn rates_are_read_through_the_fast_view() {
        // A display window of a minute; the detector's companion differentiates over 10 s.
        let mut e = engine(&[("tput", "sum(rate(k6_done_total[1m]))", Role::Throughput)]);
        let mut st = Store::default();
        // 1 req/s for 50 s, then 10 req/s for the last 10 s.
        let mut v = 0.0;
        for s in 0..=60i64 {
            st.push(&Labels::named("k6_done_total"), s * 1000, v);
            v += if s < 50 { 1.0 } else { 10.0 };
        }
        e.evaluate_local(&st, 60_000);
        let shown = finite_sum(&e.signals[0]).unwrap();
        let f = Frame::from_engine(&e, 60_000);
        assert!(shown < 3.0, "display rate {shown}");
        assert!(
            f.throughput.unwrap() > 9.0,
            "detector's rate {:?}",
            f.throughput
        );
    }

    #[test]
    fn the_clients_latency_is_its_newest_requests_and_the_windows_mean_is_kept_apart() {
        let mut e = engine(&[
            (
                "mean",
                "max(k6_client_duration_mean_seconds)",
                Role::ClientMean,
            ),
            ("p95", "max(k6_client_duration_seconds)", Role::ClientP95),
        ]);
        let st = gauges(&[
            ("k6_client_duration_mean_seconds", 0.1),
            ("k6_client_recent_duration_mean_seconds", 0.3),
            ("k6_client_duration_seconds", 0.2),
            ("k6_client_recent_duration_seconds", 0.6),
        ]);
        e.evaluate_local(&st, 1500);
        let f = Frame::from_engine(&e, 1500);
        assert_eq!(
            (f.client_mean, f.client_mean_window),
            (Some(0.3), Some(0.1))
        );
        assert_eq!((f.client_p95, f.p95), (Some(0.6), Some(0.6)));
    }

    #[test]
    fn a_histograms_p95_is_read_through_the_fast_view() {
        // A minute's window on screen; the detector's companion reads the last 10 s.
        let q = "histogram_quantile(0.95, sum by (le) (rate(lat_bucket[1m])))";
        let mut e = engine(&[("p95", q, Role::LatencyP95)]);
        let mut st = Store::default();
        // 10 requests a second of 50 ms, then of 2 s for the last 2 s: a thirtieth of the
        // minute, a fifth of the last 10 s.
        let (mut fast, mut slow) = (0.0, 0.0);
        for s in 0..=60i64 {
            for (le, v) in [("0.1", fast), ("2.5", fast + slow), ("+Inf", fast + slow)] {
                st.push(&Labels::named("lat_bucket").with("le", le), s * 1000, v);
            }
            match s < 58 {
                true => fast += 10.0,
                false => slow += 10.0,
            }
        }
        e.evaluate_local(&st, 60_000);
        let shown = finite_sum(&e.signals[0]).unwrap();
        let f = Frame::from_engine(&e, 60_000);
        assert!(shown <= 0.1, "display p95 {shown}");
        assert!(f.p95.unwrap() > 1.0, "detector's p95 {:?}", f.p95);
    }
}
