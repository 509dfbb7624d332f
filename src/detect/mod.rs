//! The saturation detector: reads one `Frame` per refresh and moves the six stages of the
//! saturation sequence through their states, with evidence; also finds the knee, the capacity,
//! the drain time, scaling guidance and warnings. Deterministic: the same frames give the same
//! transitions, which is what makes replay exact.

pub mod concurrency;
pub mod frame;
pub mod per_vu;
pub mod robust;
mod sequence;
pub mod stage;
pub mod summary;
pub mod unwindow;
mod vu_course;

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use frame::Frame;
pub use stage::{Stage, StageId, StageState, Transition};

use crate::model::TimeMs;
use crate::settings::{DetectConfig, LoadModel};
use per_vu::VuCycle;
use robust::{median, quantile, theil_sen};

/// A warning raised once, at the first time its condition was seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub id: String,
    pub unix_ms: TimeMs,
    pub text: String,
}

/// The load at the knee, in the unit of the test's load model, with both readings kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    pub load: Option<f64>,
    pub load_unit: String,
    pub unix_ms: TimeMs,
    /// Offered arrival rate and virtual users at the knee, where known.
    pub offered_rps: Option<f64>,
    pub vus: Option<f64>,
    /// Why the load generator, not the service, may have been the limit at the knee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_bound: Option<String>,
    /// Where the healthy line meets the capacity (`knee_model`), once a capacity is known:
    /// the wall itself, where `load` is the load a confirmation later. Refit every few seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<f64>,
}

/// The hop of the request's path whose latency rose first and most when p95 rose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bottleneck {
    /// The hop's signal name.
    pub hop: String,
    /// Its latency while healthy and at the moment it was named (s).
    pub before_s: f64,
    pub now_s: f64,
    /// When it first rose well above its healthy level.
    pub rose_unix_ms: TimeMs,
    /// No other hop rose before it.
    pub first: bool,
}

/// A hop "rose" when it is this many times its healthy level (and at least `HOP_RISE_MIN` s
/// above it: a 2 ms hop doubling is noise).
const HOP_RISE: f64 = 2.0;
const HOP_RISE_MIN: f64 = 0.02;

/// Windows span at least this many fresh samples (see `Detector::backlog_window`).
const BACKLOG_SAMPLES: f64 = 3.0;
const TREND_SAMPLES: f64 = 4.0;

/// A closed loop's backlog climbs when it grows by at least this much per second.
const CLOSED_CLIMB: f64 = 0.1;

/// The client's completions stand in for the server's while their means, paired reading by
/// reading over the trend window, are within this share of each other (see
/// `Detector::client_view`).
const CLIENT_AGREES: f64 = 0.25;

/// Frames kept in the detector's history (see `Detector::history`).
pub const MAX_FRAMES: usize = 20_000;

/// Reads one number of a frame.
type Field = fn(&Frame) -> Option<f64>;

/// VUs per request in flight above which the VUs think between requests (a closed loop's
/// load); at or below it they are an arrival-rate test's pool, each busy with one.
const THINKING: f64 = 1.5;
/// VUs whose think time is at least this share of their unloaded latency think between
/// requests: a closed loop's (see `per_vu_bar`).
const THINKS: f64 = 0.25;
/// The most of a reading of throughput per VU the VUs being added may account for, for it to
/// count toward a closed loop's knee (see `per_vu::Line::keep`).
const MAX_LIFT: f64 = 0.5;
/// Seconds the healthy residence is averaged over (see `residence_over_window`), the
/// readings of it kept (a minute at one a second: the level near the load of now), and the
/// quantile of their ratios read where no intercept is fitted (see `fit_residence`).
const RESIDENCE_SPAN_S: f64 = 10.0;
const RESIDENCE_READINGS: usize = 60;
const RESIDENCE_QUANTILE: f64 = 0.25;
/// Healthy spans needed before the residence is trusted.
const RESIDENCE_MIN: usize = 3;
/// Healthy spans, and the factor their completions must span, for an intercept to be fitted.
const RESIDENCE_FIT_MIN: usize = 10;
const RESIDENCE_FIT_SPREAD: f64 = 1.5;

pub struct Detector {
    pub cfg: DetectConfig,
    pub stages: Vec<Stage>,
    /// Frames within the longest window, oldest first.
    recent: VecDeque<Frame>,
    /// Every frame's key numbers, for the summary and the report. Bounded: past
    /// `MAX_FRAMES` the older half is thinned to every second frame (recent frames stay dense),
    /// so a run at 1 s holds at most `MAX_FRAMES` frames (≈ 300 B each: ≈ 6 MB) from its
    /// 6th hour on, however long it lasts.
    pub history: Vec<Frame>,
    /// Residence time while healthy (from `residences`, see `fit_residence`); best (lowest)
    /// p95 seen while healthy; throughput per VU while healthy.
    healthy_residence: Option<f64>,
    /// Requests the in-flight count holds whatever the load (see `fit_residence`).
    in_flight_offset: f64,
    /// (completions per second, mean requests in flight) over healthy ten-second spans.
    residences: VecDeque<(f64, f64)>,
    best_p95: Option<f64>,
    best_client_p95: Option<f64>,
    line: per_vu::Line,
    pub knee: Option<Knee>,
    /// Arrivals have outrun completions (ratio rule held): the load is open-loop, whatever
    /// the VU count did, so the knee is an arrival rate.
    open_seen: bool,
    open_streak: u32,
    /// VUs per request in flight, sampled while healthy.
    vus_per_busy: VecDeque<f64>,
    /// The course of the VU count: a schedule, or an arrival-rate pool's busy VUs.
    vu_course: vu_course::VuCourse,
    pub warnings: Vec<Warning>,
    /// Time p95 first exceeded the critical level.
    pub p95_crit_at: Option<TimeMs>,
    /// The load was seen at or above `min_rate` (so its end can be told apart from a start).
    loaded: bool,
    /// First refresh of the current run of refreshes with the load below `min_rate`.
    quiet_load_since: Option<TimeMs>,
    /// When the load ended (offered rate or VUs at zero, k6 finished), once it has.
    pub load_ended: Option<TimeMs>,
    /// Each hop's best (lowest) latency while healthy, and when it first rose well above it.
    hop_best: std::collections::BTreeMap<String, f64>,
    hop_rose: std::collections::BTreeMap<String, TimeMs>,
    /// The hop that rose first and most once p95 was high.
    pub bottleneck: Option<Bottleneck>,
    /// A closed loop's throughput against its VUs, fitted (refit every `REFIT_MS`).
    pub concurrency: Option<concurrency::ConcurrencyModel>,
    concurrency_fitted: Option<TimeMs>,
    /// The run's summary as the screen shows it, kept from the last refit or transition: the
    /// whole-run scans behind it are not repeated on every frame.
    pub live: summary::LiveSummary,
    whole: summary::WholeRun,
    /// Completions rebuilt from the throughput's rate (see `unwindow`), and from the
    /// client's completions.
    unwindow: unwindow::Unwindow,
    client_unwindow: unwindow::Unwindow,
    /// The client's completions stand in for the server's (see `client_view`), as judged at
    /// the newest frame, and as judged when the plateau was first confirmed: its level is
    /// then read from them (see `summary::plateau_median`).
    client_stands_in: bool,
    plateau_in_client: bool,
}

/// Seconds between fresh samples behind a frame: the source's sample interval where it said,
/// else the time since the refresh before (`prev`).
fn fresh_s(f: &Frame, prev: TimeMs) -> f64 {
    f.sample_s.unwrap_or((f.t - prev) as f64 / 1000.0)
}

/// The span throughput now covers (see `unwindow::span_s`) for a rate over `window_s` of
/// samples `s` apart, and two more samples: the window over which it must be flat.
fn flat_window(window_s: Option<f64>, s: f64) -> Duration {
    let secs = unwindow::span_s(window_s, s) + 2.0 * s;
    // Whole seconds (the evidence names it; refreshes are never exactly 1 s apart).
    Duration::from_secs(secs.round().max(1.0) as u64)
}

fn fmt_rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// What throughput per VU is judged against (see `Detector::per_vu_bar`), named in the
/// evidence only when it fires.
enum PerVuBasis {
    /// The healthy line, last met at these VUs.
    Line { on_line: f64 },
    /// The VUs' cycle; the VUs of the last healthy reading that met its bar, where one did
    /// (else VUs that think).
    Cycle { cycle: VuCycle, met_at: Option<f64> },
}

impl PerVuBasis {
    fn words(&self, rate: f64) -> String {
        match self {
            PerVuBasis::Line { on_line } => {
                format!("its healthy {rate:.2} (last met at {on_line:.0} VUs)")
            }
            PerVuBasis::Cycle { cycle, met_at } => format!(
                "the {rate:.2} each VU asks for unloaded (thinks {}, waits {}; {})",
                fmt_secs(cycle.think_s),
                fmt_secs(cycle.unloaded_latency_s),
                match met_at {
                    Some(v) => format!("met at {v:.0} VUs"),
                    None => "VUs that think".into(),
                }
            ),
        }
    }
}

fn fmt_secs(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.2} s")
    } else {
        format!("{:.0} ms", v * 1000.0)
    }
}

impl Detector {
    pub fn new(cfg: DetectConfig) -> Self {
        Self {
            cfg,
            stages: StageId::ALL.into_iter().map(Stage::new).collect(),
            recent: VecDeque::new(),
            history: Vec::new(),
            healthy_residence: None,
            in_flight_offset: 0.0,
            residences: VecDeque::new(),
            best_p95: None,
            best_client_p95: None,
            line: per_vu::Line::default(),
            knee: None,
            open_seen: false,
            open_streak: 0,
            vus_per_busy: VecDeque::new(),
            vu_course: Default::default(),
            warnings: Vec::new(),
            p95_crit_at: None,
            loaded: false,
            quiet_load_since: None,
            load_ended: None,
            hop_best: Default::default(),
            hop_rose: Default::default(),
            bottleneck: None,
            concurrency: None,
            concurrency_fitted: None,
            live: summary::LiveSummary::default(),
            whole: summary::WholeRun::default(),
            unwindow: Default::default(),
            client_unwindow: Default::default(),
            client_stands_in: false,
            plateau_in_client: false,
        }
    }

    /// The residence (s) a request had while healthy, once learned (see `fit_residence`).
    pub fn healthy_residence(&self) -> Option<f64> {
        self.healthy_residence
    }

    pub fn stage(&self, id: StageId) -> &Stage {
        &self.stages[id as usize]
    }

    /// Points (seconds relative to now, value) of one field over the last `span`.
    ///
    /// Data sampled more slowly than the refresh repeats each value until the next sample: a
    /// 15 s scrape read every second is a staircase, whose repeats would outvote its steps in
    /// a trend (a window mostly on one step reads flat while the data climbs). A repeated value
    /// is kept only once it is a sample interval old, so each fresh sample counts once.
    fn series(&self, span: Duration, f: impl Fn(&Frame) -> Option<f64>) -> Vec<(f64, f64)> {
        let now = self.recent.back().map(|f| f.t).unwrap_or(0);
        let from = now - span.as_millis() as TimeMs;
        let fresh_ms = (self.sample_s() * 900.0) as TimeMs;
        let mut kept: Option<(TimeMs, f64)> = None;
        self.recent
            .iter()
            .filter(|fr| fr.t >= from)
            .filter_map(|fr| Some((fr.t, f(fr)?)))
            .filter(|&(t, v)| {
                let keep = kept.is_none_or(|(kt, kv)| v != kv || t - kt >= fresh_ms);
                if keep {
                    kept = Some((t, v));
                }
                keep
            })
            .map(|(t, v)| ((t - now) as f64 / 1000.0, v))
            .collect()
    }

    /// Median of the last three values of a field: one odd sample does not flip a stage.
    fn level(&self, f: impl Fn(&Frame) -> Option<f64>) -> Option<f64> {
        let vals: Vec<f64> = self.recent.iter().rev().take(3).filter_map(&f).collect();
        if vals.len() < 2 {
            return None;
        }
        median(vals)
    }

    /// Seconds between fresh samples of the data, when the source said (else one refresh).
    fn sample_s(&self) -> f64 {
        self.recent.back().and_then(|f| f.sample_s).unwrap_or(0.0)
    }

    /// Seconds between the last two refreshes (one where there are not two yet).
    fn refresh_s(&self) -> f64 {
        let n = self.recent.len();
        match (n.checked_sub(2), self.recent.back()) {
            (Some(i), Some(last)) => ((last.t - self.recent[i].t) as f64 / 1000.0).max(0.001),
            _ => 1.0,
        }
    }

    /// The backlog window, fitted to the sample interval: a trend needs a few fresh samples,
    /// and a 15 s scrape seen through 6 s is a staircase (flat, then a jump), not a trend.
    fn backlog_window(&self) -> Duration {
        self.cfg
            .backlog_window
            .max(Duration::from_secs_f64(BACKLOG_SAMPLES * self.sample_s()))
    }

    /// True when throughput now is the last sample interval's figure: samples too far apart
    /// to rebuild it from the rate (see `unwindow::rebuildable`).
    fn now_is_last_interval(&self) -> bool {
        self.recent.back().is_some_and(Frame::now_is_last_interval)
    }

    /// Where throughput now is each sample's last interval: a robust trend over its three or
    /// so readings takes two equal ones for flat whatever the newest says (an interval that
    /// straddled a burst's start). True when the newest rose, as `rate_rises` judges it.
    fn newest_interval_rose(&self) -> bool {
        self.now_is_last_interval()
            && self
                .newest_step(self.now_window())
                .is_some_and(|r| r >= self.cfg.rise_growth)
    }

    /// How much the newest fresh reading of throughput now rose over the one before it in
    /// `span`, relative and per second of the sample interval.
    fn newest_step(&self, span: Duration) -> Option<f64> {
        let pts = self.series(span, Frame::throughput_now);
        let newest = pts.last()?.1;
        let before = pts.iter().rev().find(|p| p.1 != newest)?.1;
        (before > 0.0).then(|| (newest - before) / before / self.sample_s().max(1.0))
    }

    /// The window over which throughput now (see `unwindow`) must be flat: its span and two
    /// more samples (at 1 s, six readings: one odd one is outvoted; at 15 s, three intervals).
    fn now_window(&self) -> Duration {
        let n = self.recent.len();
        let s = match (n.checked_sub(2), self.recent.back()) {
            (Some(i), Some(last)) => fresh_s(last, self.recent[i].t),
            _ => 1.0,
        };
        flat_window(self.recent.back().and_then(|f| f.rate_window_s), s)
    }

    /// The trend window, fitted to the sample interval likewise.
    fn trend_window(&self) -> Duration {
        self.cfg
            .trend_window
            .max(Duration::from_secs_f64(TREND_SAMPLES * self.sample_s()))
    }

    fn trend(&self, span: Duration, f: impl Fn(&Frame) -> Option<f64>) -> Option<f64> {
        let pts = self.series(span, f);
        // Wait for most of the window before trusting a trend.
        let covered = pts.first().map(|p| -p.0).unwrap_or(0.0);
        if covered < span.as_secs_f64() * 0.6 {
            return None;
        }
        theil_sen(&pts)
    }

    /// Throughput now for a new frame: rebuilt from its rate (see `unwindow`), or where
    /// samples are too far apart for that, the last interval's figure, the newest the data
    /// holds (a 45 s rate of a 15 s scrape still averages the half minute before a wall).
    fn fill_throughput_now(&mut self, frame: &mut Frame) {
        let Some(prev) = self.recent.back().map(|f| f.t) else {
            return;
        };
        let s = fresh_s(frame, prev);
        frame.throughput_now =
            self.unwindow
                .push(frame.t, frame.throughput, frame.rate_window_s, s);
        if !unwindow::rebuildable(frame.rate_window_s, s) {
            frame.throughput_now = frame.throughput_last;
        }
        // The client is polled every refresh, its rates over the window fitted to that.
        let refresh = (frame.t - prev) as f64 / 1000.0;
        let window = crate::model::sampling::fast_window_s(refresh);
        frame.client_done_now =
            self.client_unwindow
                .push(frame.t, frame.client_done, Some(window), refresh);
    }

    /// Takes a frame into the recent frames, the run's history and its whole-run summary;
    /// returns it with throughput now filled in.
    fn keep(&mut self, mut frame: Frame) -> Frame {
        let t = frame.t;
        self.fill_throughput_now(&mut frame);
        if let Some(v) = frame.vus {
            self.vu_course.observe(t, v);
        }
        self.recent.push_back(frame.clone());
        let keep = self.trend_window().max(self.backlog_window()).as_millis() as TimeMs + 1000;
        while self.recent.front().is_some_and(|f| f.t < t - keep) {
            self.recent.pop_front();
        }
        self.whole.add(&frame, self.cfg.min_rate);
        self.history.push(frame.clone());
        if self.history.len() > MAX_FRAMES {
            let half = self.history.len() / 2;
            crate::model::thin_front(&mut self.history, half);
        }
        frame
    }

    /// Feeds one refresh; returns the stage transitions it caused, in sequence order.
    pub fn step(&mut self, frame: Frame) -> Vec<Transition> {
        let t = frame.t;
        let frame = self.keep(frame);
        // Held for the hold time as refreshes count it: one that comes a few ms early must not
        // make a condition that held for its three refreshes wait for a fourth (and lapse).
        let hold = self.cfg.hold.as_millis() as TimeMs;
        let hold = hold - ((self.refresh_s() * 500.0) as TimeMs).min(hold / 4);
        let clear = self.cfg.clear_hold.as_millis() as TimeMs;
        let mut out = Vec::new();

        self.client_stands_in = self.client_view();
        self.track_load_end();
        self.track_hops();
        let checks = [
            self.rate_rises(),
            self.decoupled(),
            self.pending_climbs(),
            self.plateau(),
            self.p95_high(),
            self.errors_visible(),
        ];
        for (i, check) in checks.into_iter().enumerate() {
            let (holds, evidence) = match check {
                Some(e) => (true, e),
                None => (false, String::new()),
            };
            // Errors are unambiguous: flag the first one at once.
            let h = if self.stages[i].id == StageId::ErrorsVisible {
                0
            } else {
                hold
            };
            // The stage is taken out while it updates, so the note on why it cleared is
            // written only when it clears (it reads the detector's other state).
            let id = self.stages[i].id;
            let mut stage = std::mem::replace(&mut self.stages[i], Stage::new(id));
            let tr = stage.update(t, holds, || evidence, || self.clear_note(id), h, clear);
            self.stages[i] = stage;
            out.extend(tr);
        }
        if self.stage(StageId::Plateau).first_confirmed == Some(t) {
            self.plateau_in_client = self.client_stands_in;
        }
        self.learn_baselines();
        self.track_knee();
        let refit = self
            .concurrency_fitted
            .is_none_or(|at| t - at >= concurrency::REFIT_MS);
        if refit {
            self.concurrency = self.fit_concurrency();
            self.concurrency_fitted = Some(t);
            let model = self
                .knee
                .as_ref()
                .and_then(|k| self.knee_model(k.load_unit == "VUs"));
            if let Some(k) = self.knee.as_mut() {
                k.model = model.filter(|m| m.is_finite());
            }
        }
        if refit || !out.is_empty() {
            self.live = summary::LiveSummary {
                capacity_rps: self.capacity_rps(),
                scaling: self.scaling(),
            };
        }
        self.check_warnings(&frame);
        out
    }

    fn rate_rises(&self) -> Option<String> {
        let tput = self.level(|f| f.throughput)?;
        if tput < self.cfg.min_rate {
            return None;
        }
        // Until the long window has filled (the start of a run), the short one: a rate that
        // rises from nothing shows within seconds.
        let slope = self
            .trend(self.trend_window(), |f| f.throughput)
            .or_else(|| self.trend(self.backlog_window(), |f| f.throughput))?;
        (slope > (self.cfg.rise_growth * tput).max(0.05)).then(|| {
            format!(
                "throughput {} req/s, rising {:.2} req/s per s",
                fmt_rate(tput),
                slope
            )
        })
    }

    fn open_loop(&self) -> bool {
        self.cfg.load_model != LoadModel::Closed
    }

    fn closed_loop(&self) -> bool {
        self.cfg.load_model != LoadModel::Open
    }

    /// Growth per second of the work waiting at the queue (`Frame::waiting`) over the backlog
    /// window, with its current level.
    fn backlog_growth(&self) -> Option<(f64, f64)> {
        let level = self.level(Frame::waiting)?;
        let slope = self.trend(self.backlog_window(), Frame::waiting)?;
        Some((level, slope))
    }

    /// Backlog growth (items/s) that means completions fell below `decouple_ratio` of the
    /// offered rate: the same shortfall `decoupled` and `pending_climbs` both judge by.
    fn growth_needed(&self) -> f64 {
        let offered = self.level(|f| f.offered).unwrap_or(0.0);
        ((1.0 - self.cfg.decouple_ratio) * offered).max(self.cfg.min_shortfall)
    }

    /// Backlog growth (items/s) that counts as climbing. A closed loop's backlog grows no
    /// faster than VUs are added (each waits for its answer before asking again), so any
    /// steady growth counts there; an open loop's must show the decoupling shortfall.
    fn climb_needed(&self) -> f64 {
        if self.vus_known_as_load() && !self.open_seen {
            CLOSED_CLIMB
        } else {
            self.growth_needed()
        }
    }

    /// The backlog grows by at least the shortfall that counts as decoupling: arrivals minus
    /// completions, measured without waiting for a rate window.
    ///
    /// With no queue in view, the requests in flight are that backlog (Little's law: they
    /// grow by arrivals minus completions), unless they are a closed loop's VUs, which grow
    /// because VUs are added.
    fn backlog_decoupling(&self) -> Option<(f64, f64, f64, &'static str)> {
        let offered = self.level(|f| f.offered)?;
        let (backlog, slope, what) = match self.backlog_growth() {
            Some((b, s)) => (b, s, "backlog"),
            None if self.vus_known_as_load() && !self.open_seen => return None,
            None => {
                // An arrival-rate test's busy VUs count its requests in flight directly
                // (less those sleeping after theirs, where the script sleeps), where rate ×
                // mean latency is an estimate read over a rate window.
                let server = self.level(|f| f.pending).is_some();
                let (get, what): (Field, _) = if !server && self.vus_seen_as_pool() {
                    (|f| f.vus, "busy VUs")
                } else if !server
                    && self.vu_course.busy_count()
                    && self.level(Frame::busy_vus_in_requests).is_some()
                {
                    (Frame::busy_vus_in_requests, "busy VUs in a request")
                } else {
                    (Frame::concurrency, "requests in flight")
                };
                let level = self.level(get)?;
                let slope = self.trend(self.backlog_window(), get)?;
                (level, slope - self.load_share_of_growth(level), what)
            }
        };
        (offered >= self.cfg.min_rate
            && backlog >= self.cfg.min_backlog
            && slope >= self.growth_needed())
        .then_some((offered, backlog, slope, what))
    }

    /// How fast requests in flight grow with the work done alone (per s): by Little's law
    /// they are completions × residence, so completions that rise fill them at their rise ×
    /// the residence however well they keep up. A load that starts (k6 reaching its rate in
    /// a few seconds) grew them faster than any shortfall at once. Past the wall completions
    /// stop rising and every request added is the shortfall (the offered rate's rise will
    /// not do: k6's counts the VUs it adds past the wall). The residence is the healthy one,
    /// else that of now (`level` in flight over completions); none without completions.
    fn load_share_of_growth(&self, level: f64) -> f64 {
        let now = || {
            self.level(|f| f.throughput)
                .filter(|t| *t > 0.0)
                .map(|t| level / t)
        };
        let Some(residence) = self.healthy_residence.or_else(now) else {
            return 0.0;
        };
        // Throughput now where it is rebuilt: a rate over a window still rises for a window
        // past the wall.
        let rise = self.trend(self.backlog_window(), |f| f.throughput_now.or(f.throughput));
        residence * rise.unwrap_or(0.0).max(0.0)
    }

    /// Open-loop decoupling: completions fall behind arrivals, by the rate ratio or by the
    /// backlog growth that the shortfall leaves behind.
    fn open_decoupled(&self) -> Option<String> {
        // A closed loop's arrivals are its own output, behind completions by its sources'
        // delays on any ramp: their ratio says nothing once its VUs are known as its load.
        if !self.offered_is_load() {
            return None;
        }
        self.ratio_decoupling()
            .or_else(|| {
                let (offered, backlog, slope, what) = self.backlog_decoupling()?;
                Some(format!(
                    "{what} grow{} {slope:.1}/s ({backlog:.0} now): completions ≈ {:.0}% of offered {} req/s{}",
                    if what == "backlog" { "s" } else { "" },
                    (1.0 - slope / offered).max(0.0) * 100.0,
                    fmt_rate(offered),
                    self.sources_note()
                ))
            })
    }

    /// Requests in flight that climb while each stays twice its best time
    /// (`residence_climbs`, what `pending_climbs` judges without a queue) are arrivals
    /// outrunning completions, since in flight grows by their difference (Little's law). A
    /// shortfall too small for the rates to tell apart within their noise shows there first,
    /// and the stage it causes cannot come before it. With a queue in view as well, the
    /// requests in flight count the queued ones too: the same evidence.
    ///
    /// A closed loop likewise: its VUs = throughput × (residence + think time), so each VU's
    /// throughput has fallen once residence has doubled, before a reading over a rate window
    /// shows it past its margin.
    fn residence_decoupling(&self) -> Option<String> {
        let open = self.offered_is_load();
        let closed = !open && self.vus_closed_loop();
        if !open && !closed {
            return None;
        }
        // With a queue in view, the work must pile up there: a service whose latency rises
        // with utilisation holds more requests in flight while its queue stays empty.
        let queued = |(b, slope): (f64, f64)| b >= self.cfg.min_backlog && slope > 0.0;
        if self.queue_visible() && !self.backlog_growth().is_some_and(queued) {
            return None;
        }
        let piling = self.residence_climbs()?;
        let why = match closed {
            true => "each VU's requests take longer, so its throughput fell",
            false => "arrivals outrun completions",
        };
        Some(format!("{piling}: {why}{}", self.sources_note()))
    }

    /// Where the load and throughput figures came from, when not from signals that carry
    /// those roles themselves: " (offered: k6_offered; throughput: acked_rate)".
    fn sources_note(&self) -> String {
        let Some(f) = self.recent.back() else {
            return String::new();
        };
        let parts: Vec<String> = [
            ("offered", &f.offered_from),
            ("throughput", &f.throughput_from),
        ]
        .into_iter()
        .filter_map(|(what, from)| Some(format!("{what}: {}", from.as_ref()?)))
        .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join("; "))
        }
    }

    /// Requests in flight (at the service, else the client's by Little's law) are many,
    /// growing, and each stays longer than it did; true when none are known (nothing to
    /// corroborate with).
    fn in_flight_piles_up(&self) -> bool {
        let Some(p) = self.level(Frame::in_flight) else {
            return true;
        };
        // More requests in flight because more arrive is no piling up (Little's law: in
        // flight = arrivals × residence; a load that rises from nothing or steps up fills them
        // at once): each must also stay `residence_factor` times its healthy time. Read against the
        // arrivals, which the in-flight count follows without a rate window's lag.
        // Before a healthy residence is known, more in flight is no evidence either; nor,
        // through scrapes seconds apart, is one scrape's count the client's latency does
        // not bear out (a baseline at 40% through a 15 s Prometheus read as decoupled).
        let p = p - self.in_flight_offset;
        let longer = match (self.level(|f| f.offered), self.healthy_residence) {
            (Some(o), Some(best)) if o > 0.0 => p / o >= self.cfg.residence_factor * best,
            (_, best) => best.is_some(),
        };
        p >= self.cfg.min_backlog
            && longer
            && self.client_latency_agrees()
            && self
                .trend(self.backlog_window(), Frame::in_flight)
                .is_some_and(|slope| slope > 0.0)
    }

    fn ratio_decoupling(&self) -> Option<String> {
        let tput = self.level(|f| f.throughput)?;
        let offered = self.level(|f| f.offered)?;
        let r = self.level(|f| Some(f.throughput? / f.offered?).filter(|r| r.is_finite()))?;
        // Arrivals outrunning completions must leave work behind: with a queue in view, an
        // empty one means the ratio is two rate windows out of step.
        // Without a queue, the requests in flight at the service must pile up instead: two
        // rates from sources with different delays (a local queue's arrivals against a
        // Prometheus server's completions) are out of step on any ramp.
        let corroborated = match self.level(Frame::waiting) {
            Some(b) => b >= self.cfg.min_backlog,
            None => self.in_flight_piles_up(),
        };
        (offered >= self.cfg.min_rate
            && r < self.cfg.decouple_ratio
            && offered - tput >= self.cfg.min_shortfall
            && corroborated)
            .then(|| {
                format!(
                    "achieved {} of offered {} req/s ({:.0}% < {:.0}%){}",
                    fmt_rate(tput),
                    fmt_rate(offered),
                    // Rounded down: 94.7% of a 95% bar must not read "95% < 95%".
                    (r * 100.0).floor(),
                    self.cfg.decouple_ratio * 100.0,
                    self.sources_note()
                )
            })
    }

    /// Closed-loop decoupling: more VUs buy less throughput each. Throughput per VU is read
    /// against the VUs its rate window averaged (see `per_vu`), so it is flat while healthy
    /// and the shortfall shows as soon as the rate window holds it.
    fn closed_decoupled(&self) -> Option<String> {
        if !self.vus_closed_loop() {
            return None;
        }
        let tput = self.level(|f| f.throughput)?;
        let (eff, _) = self.per_vu()?;
        let now = self.level(|f| f.vus)?;
        let (bar, reference, basis) = self.per_vu_bar(now)?;
        // Per VU over the rate's window, or over the last few seconds alone (the sooner).
        let (eff, over) = match self.per_vu_now() {
            Some(e) if e < bar && eff >= bar => (e, " over the last seconds"),
            _ => (eff, ""),
        };
        (tput >= self.cfg.min_rate && eff < bar && self.cycle_latency_agrees(&basis, bar)).then(
            || {
                format!(
                    "throughput per VU{over} {:.2} req/s, {:.0}% of {}; now {:.0} VUs, {} req/s",
                    eff,
                    eff / reference * 100.0,
                    basis.words(reference),
                    now,
                    fmt_rate(tput)
                )
            },
        )
    }

    /// What throughput per VU is judged against at `vus` VUs: (the bar, the rate it is a share
    /// of, what that rate is). The healthy line where it has formed and the VUs have grown
    /// since it was last met. Before it has (a wall a few VUs into a ramp leaves too few
    /// healthy readings), the rate each VU asks for unloaded, 1 / (think + unloaded latency),
    /// where the client reports its cycle and the VUs have grown since a healthy reading met
    /// it, or, for VUs that think, from `min_vus`: an upper bound of the line (a service short
    /// of its wall queues a little; the slow system's readings sat 7% under it at its
    /// crossing, the reference system's within −6…+8% while healthy), so held to twice the
    /// line's margin.
    fn per_vu_bar(&self, vus: f64) -> Option<(f64, f64, PerVuBasis)> {
        if let Some(line) = self.line.level() {
            let on_line = self.line.vus_on_line?;
            return (vus >= self.cfg.vu_growth * on_line).then_some((
                self.cfg.efficiency_drop * line,
                line,
                PerVuBasis::Line { on_line },
            ));
        }
        let (bar, cycle) = self.cycle_bar()?;
        // VUs that think between requests are a closed loop's (an arrival-rate script has no
        // reason to sleep: k6 schedules its iterations), judged from `min_vus`, where a wall
        // inside the first rate window leaves no healthy reading to meet the bar.
        let thinks = cycle.think_s >= THINKS * cycle.unloaded_latency_s;
        let met_at = self.line.vus_on_cycle;
        let from = match met_at {
            Some(v) => self.cfg.vu_growth * v,
            None if thinks => self.cfg.min_vus,
            None => return None,
        };
        let rate = cycle.per_vu_rps()?;
        (vus >= from).then_some((bar, rate, PerVuBasis::Cycle { cycle, met_at }))
    }

    /// Against the VUs' cycle, throughput per VU under `bar` means each request now takes
    /// at least 1 / bar − think (a VU's rate is 1 / (think + latency)): the client's latency
    /// over its newest requests must show it. A cycle read in the first seconds holds the
    /// latency of a handful of VUs, which a service may give only then (the deep system's
    /// rose from 260 to 300 ms by a third of its wall), and a ramp's rate over a window
    /// reads each VU's rate some percent low: together past the margin at a quarter of the
    /// wall, while every request still took its healthy time. True against the line, or
    /// where the client reports no latency.
    fn cycle_latency_agrees(&self, basis: &PerVuBasis, bar: f64) -> bool {
        let PerVuBasis::Cycle { cycle, .. } = basis else {
            return true;
        };
        self.level(|f| f.client_mean)
            .is_none_or(|l| l >= 1.0 / bar - cycle.think_s)
    }

    /// The bar throughput per VU is held to against the VUs' cycle, once it has settled, and
    /// that cycle.
    fn cycle_bar(&self) -> Option<(f64, VuCycle)> {
        let cycle = self.line.cycle.settled()?;
        let share = 1.0 - 2.0 * (1.0 - self.cfg.efficiency_drop);
        (share > 0.0).then_some((share * cycle.per_vu_rps()?, cycle))
    }

    /// Notes the VUs of a healthy reading of throughput per VU (`per_vu`, over the rate's
    /// window, or over the last seconds) that meets the cycle's bar (see `Line::vus_on_cycle`).
    fn learn_cycle_met(&mut self, per_vu: Option<f64>) {
        let (Some((bar, _)), Some(eff)) = (self.cycle_bar(), per_vu) else {
            return;
        };
        let vus = self.level(|f| f.vus).unwrap_or(0.0);
        let met = eff >= bar || self.per_vu_now().is_some_and(|e| e >= bar);
        if met && vus >= self.cfg.min_vus {
            self.line.vus_on_cycle = Some(vus);
        }
    }

    /// A closed loop whose VUs are its load. In Auto, VUs that never thought between requests
    /// are an arrival-rate test's pool: their throughput each falls with latency long before
    /// any wall.
    fn vus_closed_loop(&self) -> bool {
        self.closed_loop() && (self.cfg.load_model != LoadModel::Auto || self.vus_drive_load())
    }

    /// Whether the VUs are the test's load: a closed loop's VUs think between requests, so
    /// while healthy they outnumber the requests in flight; an arrival-rate test's VUs are
    /// about as many as those in flight. Unknown (no healthy samples) counts as load.
    fn vus_drive_load(&self) -> bool {
        self.vus_per_busy().is_none_or(|r| r > THINKING) && !self.vus_follow_the_load()
    }

    /// VUs that outnumber the requests in flight are still no closed loop's thinking ones
    /// where the client reports next to no think time (an arrival-rate pool's idle VUs,
    /// allocated before the load needs them and counted against a slow scrape's few
    /// requests in flight), or where their count turned back and forth (an arrival-rate
    /// pool's busy VUs, each sleeping after its request; see `vu_course`).
    fn vus_follow_the_load(&self) -> bool {
        self.vu_course.busy_count()
            || self
                .line
                .cycle
                .reading()
                .is_some_and(|c| c.think_s < THINKS * c.unloaded_latency_s)
    }

    /// VUs per request in flight, the median over the healthy samples seen.
    fn vus_per_busy(&self) -> Option<f64> {
        median(self.vus_per_busy.iter().copied())
    }

    /// Whether this run's load is its VUs (a closed loop), as far as the data shows yet:
    /// the knee's unit once there is one, else the load model or what the VUs were seen doing.
    pub fn load_in_vus(&self) -> bool {
        match &self.knee {
            Some(k) => k.load_unit == "VUs",
            None => {
                self.cfg.load_model == LoadModel::Closed
                    || (self.vus_known_as_load() && !self.open_seen)
            }
        }
    }

    /// The VUs are known to be the load: they were seen, while healthy, to outnumber the
    /// requests in flight (they think between requests: a closed loop). A closed loop's
    /// arrivals also outrun completions while VUs are added (each new VU's request waits),
    /// which must not make it an open loop.
    /// The offered rate is this run's load: an open loop, or one not known to be closed
    /// (a closed loop's arrivals are its own output).
    fn offered_is_load(&self) -> bool {
        self.open_loop() && (self.open_seen || !self.vus_known_as_load())
    }

    fn vus_known_as_load(&self) -> bool {
        self.level(|f| f.vus).is_some() && self.vus_seen_thinking()
    }

    /// VUs were seen, while healthy, to be about as many as the requests in flight: an
    /// arrival-rate test's pool, each busy VU one request (or iteration) under way.
    fn vus_seen_as_pool(&self) -> bool {
        self.vus_per_busy().is_some_and(|r| r <= THINKING)
    }

    /// VUs were seen, while healthy, to outnumber the requests in flight.
    fn vus_seen_thinking(&self) -> bool {
        self.vus_per_busy().is_some_and(|r| r > THINKING) && !self.vus_follow_the_load()
    }

    fn decoupled(&self) -> Option<String> {
        self.open_decoupled()
            .or_else(|| self.residence_decoupling())
            .or_else(|| self.closed_decoupled())
            .or_else(|| self.closed_queue_decoupling())
    }

    /// A closed loop whose queue climbs as `pending_climbs` judges it: the VUs' requests
    /// arrive faster than they are completed, the decoupling itself, read without waiting for
    /// throughput per VU to fall past its margin (VUs added beyond the wall queue at once).
    fn closed_queue_decoupling(&self) -> Option<String> {
        if !self.vus_closed_loop() || !self.queue_visible() {
            return None;
        }
        let vus = self.level(|f| f.vus).filter(|v| *v >= self.cfg.min_vus)?;
        let piling = self.pending_climbs()?;
        Some(format!(
            "{piling} at {vus:.0} VUs: their requests outrun completions"
        ))
    }

    /// A queue reported within the backlog window: one refresh without its reading (a slow
    /// poll) does not turn the queue rules off.
    fn queue_visible(&self) -> bool {
        !self
            .series(self.backlog_window(), Frame::backlog)
            .is_empty()
    }

    /// With a queue in view: whether its backlog climbs as `pending_climbs` judges it. True
    /// when no queue is visible, so callers can use it as a corroboration.
    fn backlog_climbs(&self) -> bool {
        if !self.queue_visible() {
            return true;
        }
        self.backlog_growth()
            .is_some_and(|(b, slope)| b >= self.cfg.min_backlog && slope >= self.climb_needed())
    }

    /// Work piles up as `pending_climbs` judges it: the queue's backlog when one is in view,
    /// else the requests in flight (or the client's VUs). True when neither is known.
    fn work_piles_up(&self) -> bool {
        if self.queue_visible() {
            return self.backlog_climbs();
        }
        self.level(Frame::concurrency).is_none() || self.pending_climbs().is_some()
    }

    fn pending_climbs(&self) -> Option<String> {
        let w = self.backlog_window();
        // A queue is the direct measure; in-flight residence is the fallback for plain HTTP.
        if self.queue_visible() {
            let need = self.climb_needed();
            let (waiting, slope) = self.backlog_growth()?;
            return (waiting >= self.cfg.min_backlog && slope >= need).then(|| {
                format!(
                    "{}, climbing {slope:.1}/s over {}",
                    self.backlog_words(),
                    humantime::format_duration(w)
                )
            });
        }
        self.residence_climbs()
            .or_else(|| self.closed_loop_queueing())
    }

    /// The backlog in words, with the part waiting beyond what the consumers hold in
    /// service where they are known: "backlog 14, 6 past 8 consumers".
    fn backlog_words(&self) -> String {
        let backlog = self.level(Frame::backlog).unwrap_or(0.0);
        match self.level(|f| f.consumers).filter(|c| *c > 0.0) {
            Some(c) => {
                let waiting = self.level(Frame::waiting).unwrap_or(0.0);
                format!("backlog {backlog:.0}, {waiting:.0} past {c:.0} consumers")
            }
            None => format!("backlog {backlog:.0}"),
        }
    }

    /// A closed loop past its wall: each VU added beyond it waits in flight, so the requests
    /// in flight climb while the throughput per VU stays below its healthy line (`decoupled`'s
    /// closed-loop reading; by Little's law, VUs = throughput × (residence + think time), so
    /// that line falls only as residence rises). Residence alone doubles only some VUs later:
    /// with VUs thinking five service times, four VUs past a 24-VU wall.
    fn closed_loop_queueing(&self) -> Option<String> {
        let shortfall = self.closed_decoupled()?;
        // The requests themselves: VUs standing in for them climb all along a VU ramp.
        let pending = self.level(Frame::in_flight)?;
        let slope = self.trend(self.backlog_window(), Frame::in_flight)?;
        (pending >= self.cfg.min_backlog && slope > 0.0).then(|| {
            format!(
                "{} {pending:.0} climbing {slope:.1}/s while {shortfall}",
                self.concurrency_name()
            )
        })
    }

    /// What `Frame::concurrency` read, in words.
    fn concurrency_name(&self) -> &'static str {
        match self.recent.back() {
            Some(f) if f.pending.is_some() => "in-flight",
            Some(f) if f.in_flight().is_some() && f.client_mean.is_some() => {
                "client in-flight (rate × mean latency)"
            }
            Some(f) if f.in_flight().is_some() => "client in-flight (rate × p95)",
            _ => "client VUs",
        }
    }

    /// Requests in flight climbing while each stays `residence_factor` times its best time:
    /// work piling up in front of the service, read without a queue.
    fn residence_climbs(&self) -> Option<String> {
        let w = self.backlog_window();
        let pending = self.level(Frame::concurrency)?;
        let tput = self.level(|f| f.throughput)?;
        let healthy = self.healthy_residence?;
        // The requests the count holds whatever the load are not staying longer.
        let count = pending;
        let pending = pending - self.in_flight_offset;
        let residence = pending / tput;
        let slope = self.trend(w, Frame::concurrency)?;
        let what = self.concurrency_name();
        (tput >= self.cfg.min_rate
            && pending >= self.cfg.min_backlog
            && residence >= self.cfg.residence_factor * healthy
            && slope > 0.0
            && self.client_latency_agrees())
        .then(|| {
            let at_any_load = match self.in_flight_offset {
                c if c >= 0.5 => format!(" ({c:.0} at any load)"),
                _ => String::new(),
            };
            format!(
                "{what} {count:.0}{at_any_load} climbing {slope:.1}/s; residence {} vs healthy {}",
                fmt_secs(residence),
                fmt_secs(healthy)
            )
        })
    }

    /// A count of requests in flight scraped every few seconds is one moment's, read for the
    /// whole interval: where the client's own latency, seen every refresh, has not grown by
    /// the residence factor too, the requests are not staying longer. True where samples
    /// come every refresh, or the client's latency is not known.
    fn client_latency_agrees(&self) -> bool {
        !self.now_is_last_interval()
            || match (self.level(|f| f.client_p95), self.best_client_p95) {
                (Some(p), Some(b)) => p >= self.cfg.residence_factor * b,
                _ => true,
            }
    }

    /// The load that is rising, if any: (name, unit, relative slope, first, last).
    fn rising_load(&self) -> Option<(&'static str, f64, f64, f64)> {
        let w = self.trend_window();
        let mut candidates: Vec<(&'static str, Field)> = Vec::new();
        // A closed loop's arrivals are its own output (each VU asks again once answered),
        // not the load: its load is the VUs.
        if self.offered_is_load() {
            candidates.push(("offered", |f| f.offered));
        }
        if self.closed_loop() {
            candidates.push(("VUs", |f| f.vus));
        }
        for (name, get) in candidates {
            let pts = self.series(w, get);
            let (Some(level), Some(slope), Some(short)) = (
                self.level(get),
                self.trend(w, get),
                self.trend(self.backlog_window(), get),
            ) else {
                continue;
            };
            // VUs in single digits are an arrival-rate test's client concurrency, not load;
            // so are VUs that were each busy with a request while the system was healthy
            // (k6's arrival-rate executors add a VU per request in flight as latency grows).
            if name == "VUs" && level < self.cfg.min_vus {
                continue;
            }
            if name == "VUs" && self.level(|f| f.offered).is_some() && !self.vus_drive_load() {
                continue;
            }
            // Rising now (short window) and for a while (long window): a start-up transient
            // or one step of VUs is not a rising load.
            let growth = self.cfg.min_load_growth;
            if level > 0.0 && slope / level > growth && short / level > growth {
                let first = median(pts.iter().take(3).map(|p| p.1))?;
                // How fast it rises now: a long window's robust trend reads a step (a burst)
                // as barely rising until most of the window is past it.
                return Some((name, slope.max(short) / level, first, level));
            }
        }
        None
    }

    fn plateau(&self) -> Option<String> {
        // Throughput now, not a window late: a rate's trend flattens only once its whole
        // window is past the wall.
        let tput = self.level(Frame::throughput_now)?;
        if tput < self.cfg.min_rate {
            return None;
        }
        // A load that jumped past the wall and stays there (a burst, a step) no longer rises:
        // arrivals held above completions that do not rise are the same wall.
        let rising = self.rising_load();
        let held = rising.is_none().then(|| self.overload_held()).flatten();
        let (name, load_rel, first, last) = rising.or(held.map(|o| ("offered", 0.0, o, o)))?;
        let (w, trel, flat, tput) = self.throughput_flat(tput, held.is_some(), load_rel)?;
        // (The client's completions are fresh every refresh: no interval straddles a jump.)
        let flat = flat && (self.client_stands_in || !self.newest_interval_rose());
        // Arrivals rising against flat completions leave their excess behind: in the queue
        // when one is in view, else in flight. A plateau starts only once work piles up as
        // `pending_climbs` judges it (rate windows can flatten a few seconds before it does,
        // and a noisy offered rate "rises" across a held step). Once active it holds on
        // throughput alone, since a queue bounded by client deadlines stops growing.
        // (A closed loop's queue is bounded by its VUs: no such corroboration there.)
        if name == "offered"
            && self.stage(StageId::Plateau).state != StageState::Active
            && !self.work_piles_up()
        {
            return None;
        }
        // Throughput flat while the load rises is its growth decoupled from the load: the
        // plateau is the stronger form of that decoupling, so it does not start before it (in
        // a closed loop, throughput per VU falling; in an open loop, completions short of
        // arrivals). An open loop's plateau, once active, holds on throughput alone.
        // (Decoupling that was confirmed and has since cleared counts: a noisy ratio may
        // lapse for a while as the queue bounded by client deadlines stops growing.)
        let dec = self.stage(StageId::Decoupled);
        let decoupled = matches!(dec.state, StageState::Suspected | StageState::Active)
            || (dec.state == StageState::Cleared && dec.first_confirmed.is_some());
        let starting = self.stage(StageId::Plateau).state != StageState::Active;
        if !decoupled && (name == "VUs" || starting) {
            return None;
        }
        flat.then(|| {
            let unit = if name == "VUs" { "" } else { " req/s" };
            let generator = self
                .generator_limit()
                .map(|why| format!(" — generator-bound: {why}"))
                .unwrap_or_default();
            let load = match held {
                Some(o) => format!("offered stays above it at {} req/s", fmt_rate(o)),
                None => format!("{name} rose {} → {}{unit}", fmt_rate(first), fmt_rate(last)),
            };
            // Say whose completions were judged, and why not the server's.
            let whose = match self.client_stands_in {
                true => format!(
                    "client completions (server samples every {:.0} s) ",
                    self.sample_s()
                ),
                false => "throughput ".into(),
            };
            format!(
                "{whose}{} req/s flat for {} ({:+.2}%/s) while {load}{}{generator}",
                fmt_rate(tput),
                humantime::format_duration(w),
                trel * 100.0,
                self.sources_note()
            )
        })
    }

    /// Whether throughput stopped growing: (the window judged, its relative trend, flat, the
    /// level judged). Flat is not rising, as `rate_rises` judges it, where the load is `held`
    /// above it; else growing by less than `plateau_ratio` of the load's relative trend
    /// `load_rel`.
    ///
    /// Load's trend is over the long window (it must really be rising); throughput's over a
    /// short one: throughput now (`tput`) where it could be rebuilt, so a wall shows within a
    /// few samples, else the rate's over the backlog window, once that has filled with it.
    fn throughput_flat(
        &self,
        tput: f64,
        held: bool,
        load_rel: f64,
    ) -> Option<(Duration, f64, bool, f64)> {
        let is_flat = |trel: f64| match held {
            true => trel < self.cfg.rise_growth,
            false => trel < self.cfg.plateau_ratio * load_rel,
        };
        if self.client_stands_in {
            let level = self.level(|f| f.client_done_now).filter(|l| *l > 0.0)?;
            let now = self.client_now_window();
            let trel = self.trend(now, |f| f.client_done_now)? / level;
            return Some((now, trel, is_flat(trel), level));
        }
        let w = self.backlog_window();
        let rate = || {
            let level = self.level(|f| f.throughput).filter(|l| *l > 0.0)?;
            Some((w, self.trend(w, |f| f.throughput)? / level, level))
        };
        if self.recent.back().and_then(|f| f.throughput_now).is_none() {
            let (w, trel, level) = rate()?;
            return Some((w, trel, is_flat(trel), level));
        }
        // Throughput now trails the wall by its span only: a longer window would still
        // hold the climb into the wall.
        let now = self.now_window();
        let trel = self.trend(now, Frame::throughput_now)? / tput;
        if is_flat(trel) {
            return Some((now, trel, true, tput));
        }
        // Rebuilt from two differences of rates, it swings by w/d times their jitter (a
        // counter polled a little early or late): the rate itself, once its window is past
        // the wall, is flat where it swings. (Not where throughput now is the last
        // interval's: a rate over a few sparse samples still holds the time before the
        // wall, and falls once clients give up.)
        let sparse = self.now_is_last_interval();
        Some(match rate().filter(|&(_, r, _)| !sparse && is_flat(r)) {
            Some((w, r, level)) => (w, r, true, level),
            None => (now, trel, false, tput),
        })
    }

    /// Whether to judge the plateau on the client's completions: where the server's samples
    /// are too far apart to rebuild its throughput now (a Prometheus server scraping every 5
    /// or 15 s: its last interval is all there is, and three of them take half a minute to
    /// look flat), the client's completions that did not fail are the same work, polled
    /// every refresh. They stand in only while their level agrees with the server's over the
    /// trend window (the client may not be all of the service's traffic, nor the service
    /// count only the client's successes), and while clients do not fail.
    fn client_view(&self) -> bool {
        // While clients fail, their completions are short of the service's: it still
        // answers requests whose client gave up.
        if !self.now_is_last_interval()
            || self.stage(StageId::ErrorsVisible).state == StageState::Active
        {
            return false;
        }
        // Both as means over time, over the same readings: each of the server's paired with
        // the client's one interval earlier (its last interval is about that old at its
        // middle on average: half an interval to its end, which is up to an interval old).
        let now = self.recent.back().map_or(0, |f| f.t);
        let w = self.trend_window().as_millis() as TimeMs;
        let lag = (self.sample_s() * 1000.0) as TimeMs;
        let h = &self.history;
        let at = |t: TimeMs| h.get(h.partition_point(|f| f.t <= t).checked_sub(1)?);
        let pairs: Vec<(f64, f64)> = h[h.partition_point(|f| f.t < now - w)..]
            .iter()
            .filter_map(|f| Some((at(f.t - lag)?.client_done_now?, f.throughput_now?)))
            .collect();
        let n = pairs.len();
        // At least one of the server's intervals.
        if (n as f64) * self.refresh_s() < self.sample_s() {
            return false;
        }
        let (client, server) = pairs
            .iter()
            .fold((0.0, 0.0), |(c, s), p| (c + p.0, s + p.1));
        server > 0.0 && (client / server - 1.0).abs() <= CLIENT_AGREES
    }

    /// The window over which the client's completions now must be flat: as `now_window`,
    /// for samples a refresh apart behind a rate over the window fitted to them.
    fn client_now_window(&self) -> Duration {
        let r = self.refresh_s();
        flat_window(Some(crate::model::sampling::fast_window_s(r)), r)
    }

    /// The offered rate, when it has stayed above completions by the decoupling margin over
    /// the whole backlog window in an open loop (it need not be rising any more).
    fn overload_held(&self) -> Option<f64> {
        if !self.offered_is_load() {
            return None;
        }
        let w = self.backlog_window();
        let short = |f: &Frame| {
            let (o, t) = (f.offered?, f.throughput?);
            Some(f64::from(u8::from(
                o >= self.cfg.min_rate
                    && t < self.cfg.decouple_ratio * o
                    && o - t >= self.cfg.min_shortfall,
            )))
        };
        let pts = self.series(w, short);
        let covered = pts.first().is_some_and(|p| -p.0 >= 0.6 * w.as_secs_f64());
        (covered && pts.iter().all(|p| p.1 > 0.0)).then_some(())?;
        self.level(|f| f.offered)
    }

    fn p95_high(&mut self) -> Option<String> {
        let p95 = self.level(|f| f.p95)?;
        let t = self.recent.back()?.t;
        if p95 > self.cfg.p95_crit && self.p95_crit_at.is_none() {
            self.p95_crit_at = Some(t);
        }
        let by_level = p95 > self.cfg.p95_warn;
        let by_baseline = self
            .best_p95
            .is_some_and(|b| p95 > self.cfg.p95_baseline_factor * b && p95 > self.cfg.p95_floor);
        if !(by_level || by_baseline) {
            return None;
        }
        let mut s = format!("p95 {}", fmt_secs(p95));
        if p95 > self.cfg.p95_crit {
            s += &format!(" > {} (at or past saturation)", fmt_secs(self.cfg.p95_crit));
        } else if by_level {
            s += &format!(" > {}", fmt_secs(self.cfg.p95_warn));
        }
        if let Some(b) = self.best_p95 {
            s += &format!(", {:.1}× its best {}", p95 / b, fmt_secs(b));
        }
        if let Some(b) = &self.bottleneck {
            s += &format!(
                "; slowest hop: {} {} → {}{}",
                b.hop,
                fmt_secs(b.before_s),
                fmt_secs(b.now_s),
                if b.first { ", first to rise" } else { "" }
            );
        }
        Some(s)
    }

    /// Each hop's level now: the median of its last three readings, as for every other figure.
    fn hop_levels(&self) -> Vec<(String, f64)> {
        let Some(last) = self.recent.back() else {
            return Vec::new();
        };
        last.hops
            .iter()
            .filter_map(|(name, _)| {
                let of = |f: &Frame| f.hops.iter().find(|h| &h.0 == name).map(|h| h.1);
                Some((name.clone(), self.level(of)?))
            })
            .collect()
    }

    /// Notes when each hop first rose well above its healthy level, and names the one that
    /// rose most (by how far above its own best it is), saying whether it also rose first.
    fn track_hops(&mut self) {
        let Some(t) = self.recent.back().map(|f| f.t) else {
            return;
        };
        let mut worst: Option<(String, f64, f64, f64)> = None;
        for (name, v) in self.hop_levels() {
            let Some(&best) = self.hop_best.get(&name) else {
                continue;
            };
            let risen = v >= HOP_RISE * best && v - best >= HOP_RISE_MIN;
            if risen {
                self.hop_rose.entry(name.clone()).or_insert(t);
                let excess = v - best;
                if worst.as_ref().is_none_or(|w| excess > w.3) {
                    worst = Some((name, best, v, excess));
                }
            }
        }
        if let Some((hop, before_s, now_s, _)) = worst {
            let rose = self.hop_rose[&hop];
            let first = self.hop_rose.values().all(|t| *t >= rose);
            self.bottleneck = Some(Bottleneck {
                hop,
                before_s,
                now_s,
                rose_unix_ms: rose,
                first,
            });
        }
    }

    fn errors_visible(&self) -> Option<String> {
        let now = self.recent.back()?;
        let ratio = now.error_rate.filter(|r| *r > 0.0);
        // New connection-level failures within the backlog window.
        let eof = self.series(self.backlog_window(), |f| f.eof_errors);
        let new_eof = match (eof.first(), eof.last()) {
            (Some(a), Some(b)) if b.1 > a.1 => Some(b.1 - a.1),
            _ => None,
        };
        if ratio.is_none() && new_eof.is_none() {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(r) = ratio {
            parts.push(format!("{:.1}% of requests failing", r * 100.0));
        }
        if let Some(n) = new_eof {
            parts.push(format!(
                "{n:.0} EOF/reset errors (no HTTP status) in {}",
                humantime::format_duration(self.backlog_window())
            ));
        }
        Some(parts.join("; "))
    }

    /// Baselines come from healthy samples only: before anything past `rate_rises` is active.
    fn learn_baselines(&mut self) {
        let healthy = self.stages[1..]
            .iter()
            .all(|s| !matches!(s.state, StageState::Active | StageState::Suspected));
        if !healthy {
            return;
        }
        let min_rate = self.cfg.min_rate;
        if let Some(r) = self.residence_over_window() {
            self.residences.push_back(r);
            if self.residences.len() > RESIDENCE_READINGS {
                self.residences.pop_front();
            }
            self.fit_residence();
        }
        // Requests in flight at the server are a count at one scrape (a handful, read every
        // 5 s); the client's own rate × mean latency is its mean over the last seconds, and no
        // lower: arrival-rate VUs, each busy with a request, are never taken for thinking VUs.
        // (Its p95, where it reports no mean, is an upper bound: where latency varies, three
        // times the mean, and a closed loop's thinking VUs looked like a busy pool.)
        let little = self.level(|f| Some(f.client_rate? * f.client_latency()?));
        let busy = match (self.level(Frame::in_flight), little) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let (Some(v), Some(busy)) = (self.level(|f| f.vus), busy) {
            if busy >= 1.0 && v >= 1.0 {
                self.vus_per_busy.push_back(v / busy);
                if self.vus_per_busy.len() > 30 {
                    self.vus_per_busy.pop_front();
                }
            }
        }
        let latency = self
            .level(|f| f.client_mean_window.or(f.client_mean))
            .filter(|_| self.loaded);
        self.line
            .cycle
            .learn(latency, self.level(|f| f.client_think));
        if let Some(p) = self.level(|f| f.p95).filter(|p| *p > 0.0) {
            if self.best_p95.is_none_or(|b| p < b) {
                self.best_p95 = Some(p);
            }
        }
        if let Some(p) = self.level(|f| f.client_p95).filter(|p| *p > 0.0) {
            if self.best_client_p95.is_none_or(|b| p < b) {
                self.best_client_p95 = Some(p);
            }
        }
        for (name, v) in self.hop_levels().into_iter().filter(|(_, v)| *v > 0.0) {
            let best = self.hop_best.entry(name).or_insert(v);
            *best = best.min(v);
        }
        let per_vu = self.per_vu();
        self.learn_cycle_met(per_vu.map(|(e, _)| e));
        if let (Some(tp), Some((e, v))) = (self.level(|f| f.throughput), per_vu) {
            // Only where the VUs being added cannot lift the reading past the margin the
            // bar allows: a bar learned above the line fires decoupled early.
            let bias = self.ramp_bias();
            let unbiased = bias.is_some_and(|b| b <= 1.0 - self.cfg.efficiency_drop);
            if tp >= min_rate && v >= self.cfg.min_vus && unbiased {
                self.line.learn(e, v, bias.unwrap_or(0.0));
            }
            // For the knee alone, readings the added VUs lift by up to half are taken less
            // that share; past it, little of the reading is the VUs' own rate.
            if tp >= min_rate && v >= self.cfg.min_vus && bias.is_some_and(|b| b <= MAX_LIFT) {
                self.line.keep(e, tp, bias.unwrap_or(0.0));
            }
        }
    }

    /// Residence (s) by Little's law over the last `RESIDENCE_SPAN_S` (at least three samples):
    /// the mean requests in flight over the mean completions per second, each rate against
    /// the requests in flight over the seconds it counts (`window_mean`). A count of a handful
    /// in flight read at one moment is as often 0 as 2, so the lowest single reading lies far
    /// under the true time (half of it, at 10 req/s of 100 ms), and a bar set from it is met
    /// by healthy traffic. Means over ten seconds still swing by a fifth at 3 in flight, and
    /// the lowest of a minute of them lies 40% low (see `fit_residence` for what is read from
    /// them). None until the span is covered, or where the completions are under the minimum
    /// rate.
    fn residence_over_window(&self) -> Option<(f64, f64)> {
        let span_s = RESIDENCE_SPAN_S.max(3.0 * self.sample_s());
        let h = &self.history;
        let now = h.last()?.t;
        let from = now - (span_s * 1000.0) as TimeMs;
        if h.first()?.t > from {
            return None;
        }
        // The service's gauge where it reports one (a scrape missing now and then is not the
        // client's figures instead).
        let gauge = self.level(|g| g.pending).is_some();
        let pairs: Vec<(f64, f64)> = h[h.partition_point(|f| f.t < from)..]
            .iter()
            .filter_map(|f| Some((self.in_flight_over_rate(f, gauge)?, f.throughput?)))
            .collect();
        if pairs.len() < 3 {
            return None;
        }
        let n = pairs.len() as f64;
        let in_flight = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let tput = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        (tput >= self.cfg.min_rate && in_flight > 0.0).then_some((tput, in_flight))
    }

    /// The requests in flight over the seconds a frame's throughput rate counts. A count
    /// (a gauge at the service, or VUs) is averaged over them; Little's law on the client's
    /// own figures already is that mean (its rate counts the same window), and averaged again
    /// it would lag a ramp by a second window: the deep system's healthy residence read half
    /// its true 300 ms, and a ramp at a third of its wall looked like requests piling up.
    /// `gauge`: the run reports the service's own count now.
    fn in_flight_over_rate(&self, f: &Frame, gauge: bool) -> Option<f64> {
        match f.in_flight() {
            Some(little) if !gauge && f.pending.is_none() => Some(little),
            _ => self.window_mean(f, Frame::concurrency),
        }
    }

    /// The healthy residence from the healthy spans' (completions, requests in flight): the
    /// lower quartile of their ratios; where the completions spread enough to tell, Little's
    /// law fitted with an intercept. A count that also holds requests other than those the
    /// completions count (a gauge summed over every endpoint holds the scrapes reading it)
    /// is `offset + completions × residence`: its ratio falls as the load grows, and the
    /// offset read as residence doubles with it at a low load. The offset is kept only where
    /// the fit finds one (positive, with a positive residence).
    fn fit_residence(&mut self) {
        let r = &self.residences;
        let ratio = quantile(r.iter().map(|(x, l)| l / x), RESIDENCE_QUANTILE);
        let (lo, hi) = r.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), (x, _)| {
            (lo.min(*x), hi.max(*x))
        });
        let fit = (r.len() >= RESIDENCE_FIT_MIN && hi >= RESIDENCE_FIT_SPREAD * lo)
            .then(|| {
                let pts: Vec<(f64, f64)> = r.iter().copied().collect();
                let w = theil_sen(&pts)?;
                let c = median(r.iter().map(|(x, l)| l - w * x))?;
                (w > 0.0 && c > 0.0).then_some((w, c))
            })
            .flatten();
        (self.healthy_residence, self.in_flight_offset) = match fit {
            Some((w, c)) => (Some(w), c),
            // A bar from the first span or two is a moment's count of a handful.
            None => (ratio.filter(|_| r.len() >= RESIDENCE_MIN), 0.0),
        };
    }

    /// k6 dropped iterations while the load ran: its count rose since it was first reported.
    fn iterations_dropped(&self) -> bool {
        // The newest first: without k6 in view, the history is never searched.
        let Some(now) = self.recent.back().and_then(|f| f.dropped_iterations) else {
            return false;
        };
        let first = self.history.iter().find_map(|f| f.dropped_iterations);
        first.is_some_and(|a| now > a) && self.load_ended.is_none()
    }

    /// The knee: load at the onset of `decoupled`, else of `pending_climbs`. Its unit follows
    /// the load model: VUs when the decoupling was closed-loop and arrivals never outran
    /// completions, else the offered rate. An arrival-rate test adds VUs as latency grows, so
    /// the closed-loop rule may fire first there; arrivals outrunning completions afterwards
    /// still make the knee an arrival rate.
    fn track_knee(&mut self) {
        // k6 drops iterations only where a schedule starts them (arrival-rate executors; an
        // iteration-based one drops those its time limit cuts off, at its end): its VUs are a
        // pool, however many of them idle between iterations at a low rate.
        if !self.open_seen && self.iterations_dropped() {
            self.open_seen = true;
            self.knee = None;
        }
        // VUs once seen thinking stay a closed loop's load when they stop being reported (k6
        // finished while its arrivals still drain): that is no evidence of an open loop.
        if !self.open_seen && !self.vus_seen_thinking() && self.ratio_decoupling().is_some() {
            self.open_streak += 1;
            // Three refreshes in a row: one rate window out of step is not a load model.
            if self.open_streak >= 3 {
                self.open_seen = true;
                self.knee = None;
            }
        } else {
            self.open_streak = 0;
        }
        if self.knee.is_some() {
            return;
        }
        let d = self.stage(StageId::Decoupled);
        let p = self.stage(StageId::PendingClimbs);
        let Some((onset, closed)) = d
            .first_onset
            .map(|o| (o, d.first_evidence.starts_with("throughput per VU")))
            .or_else(|| p.first_onset.map(|o| (o, false)))
        else {
            return;
        };
        let i = self.history.partition_point(|f| f.t < onset);
        let Some(at) = self.history.get(i) else {
            return;
        };
        let (load, unit) = match (at.offered, at.vus) {
            (_, Some(v)) if (closed || self.vus_known_as_load()) && !self.open_seen => {
                (Some(v), "VUs")
            }
            (Some(o), _) => (Some(o), "req/s"),
            (None, Some(v)) => (Some(v), "VUs"),
            (None, None) => (None, "req/s"),
        };
        self.knee = Some(Knee {
            load,
            load_unit: unit.into(),
            unix_ms: onset,
            offered_rps: at.offered,
            vus: at.vus,
            generator_bound: self.generator_limit(),
            model: None,
        });
    }

    /// Why the load generator may be the limit now: k6 dropping iterations (it cannot start
    /// them as planned), its VUs at their maximum, or the client's p95 far above the server's.
    fn generator_limit(&self) -> Option<String> {
        let dropped = self.series(self.backlog_window(), |f| f.dropped_iterations);
        if let (Some(a), Some(b)) = (dropped.first(), dropped.last()) {
            if b.1 > a.1 {
                return Some(format!("k6 dropped {:.0} iterations", b.1 - a.1));
            }
        }
        if let (Some(v), Some(max)) = (self.level(|f| f.vus), self.level(|f| f.vus_max)) {
            if max > 0.0 && v >= 0.98 * max {
                return Some(format!("k6 at its {max:.0} VUs maximum"));
            }
        }
        let client = self.level(|f| f.client_p95)?;
        let server = self.level(|f| if f.p95 != f.client_p95 { f.p95 } else { None })?;
        (server > 0.0 && client > self.cfg.divergence_factor * server && client - server > 0.1)
            .then(|| {
                format!(
                    "client p95 {} vs server {}",
                    fmt_secs(client),
                    fmt_secs(server)
                )
            })
    }

    fn warn_once(&mut self, id: &str, t: TimeMs, text: impl FnOnce() -> String) {
        if !self.warnings.iter().any(|w| w.id == id) {
            self.warnings.push(Warning {
                id: id.into(),
                unix_ms: t,
                text: text(),
            });
        }
    }

    /// The load now: the offered rate where there is one, else the VUs.
    fn load_now(&self) -> Option<f64> {
        self.level(|f| f.offered).or_else(|| self.level(|f| f.vus))
    }

    /// The load ends when, after it was seen, it stays below `min_rate` (a closed loop's VUs
    /// at zero, an arrival rate at zero: k6 finished or stopped) for the hold time. It is an
    /// event of its own, and stages that clear after it say so.
    fn track_load_end(&mut self) {
        let Some(t) = self.recent.back().map(|f| f.t) else {
            return;
        };
        let load = self.load_now();
        if load.is_some_and(|l| l >= self.cfg.min_rate) {
            self.loaded = true;
            self.quiet_load_since = None;
            self.load_ended = None;
            return;
        }
        if !self.loaded || self.load_ended.is_some() {
            return;
        }
        let since = *self.quiet_load_since.get_or_insert(t);
        if t - since >= self.cfg.hold.as_millis() as TimeMs {
            self.load_ended = Some(since);
            let peak = self
                .history
                .iter()
                .filter_map(|f| f.offered.or(f.vus))
                .fold(0.0, f64::max);
            let unit = if self.level(|f| f.offered).is_some() {
                " req/s"
            } else {
                " VUs"
            };
            self.warn_once("load_ended", since, || {
                format!(
                    "load ended: {} now {}{unit} (peak {}{unit})",
                    if unit == " VUs" {
                        "VUs"
                    } else {
                        "offered rate"
                    },
                    fmt_rate(load.unwrap_or(0.0)),
                    fmt_rate(peak)
                )
            });
        }
    }

    /// Why a stage's condition is gone, from the numbers now.
    fn clear_note(&self, id: StageId) -> String {
        if self.load_ended.is_some() {
            return "load ended".into();
        }
        let tput = self.level(|f| f.throughput);
        let rate =
            |v: Option<f64>| v.map_or("no data".into(), |v| format!("{} req/s", fmt_rate(v)));
        match id {
            StageId::RateRises => format!("throughput {} no longer rising", rate(tput)),
            StageId::Decoupled | StageId::Plateau => match self.level(|f| f.offered) {
                // Short of the offered rate, a plateau ends because throughput moved (clients
                // giving up, a service falling over), not because it caught up.
                Some(o)
                    if id == StageId::Plateau
                        && tput.is_some_and(|t| t < self.cfg.decouple_ratio * o) =>
                {
                    format!(
                        "throughput {} no longer flat, short of offered {}",
                        rate(tput),
                        rate(Some(o))
                    )
                }
                // Still short, a decoupling ends because the shortfall stopped leaving work
                // behind: the requests it holds fail or are shed instead of piling up.
                Some(o) if tput.is_some_and(|t| t < self.cfg.decouple_ratio * o) => {
                    let failing = match self.level(|f| f.error_rate) {
                        Some(e) if e > 0.0 => format!(": {:.0}% of requests failing", e * 100.0),
                        _ => String::new(),
                    };
                    format!(
                        "throughput {} still short of offered {}, but no work piles up behind it{failing}",
                        rate(tput),
                        rate(Some(o))
                    )
                }
                Some(o) => format!(
                    "throughput {} keeps up with offered {}",
                    rate(tput),
                    rate(Some(o))
                ),
                None => format!("throughput {} follows the load again", rate(tput)),
            },
            StageId::PendingClimbs => match self.level(Frame::backlog) {
                Some(b) => format!("backlog {b:.0}, no longer growing"),
                None => "work in flight no longer piling up".into(),
            },
            StageId::P95High => match self.level(|f| f.p95) {
                Some(p) => format!(
                    "p95 {} back under {}",
                    fmt_secs(p),
                    fmt_secs(self.cfg.p95_warn)
                ),
                None => "no p95 data".into(),
            },
            StageId::ErrorsVisible => format!(
                "no new client errors for {}",
                humantime::format_duration(self.cfg.clear_hold)
            ),
        }
    }

    fn check_warnings(&mut self, f: &Frame) {
        if let Some(d) = f.dropped_iterations.filter(|d| *d > 0.0) {
            self.warn_once("load_generator_behind", f.t, || {
                format!("k6 dropped {d:.0} iterations: the load generator is falling behind, so the offered load is lower than planned")
            });
        }
        if let (Some(c), Some(s)) = (
            self.level(|x| x.client_p95),
            self.level(|x| if x.p95 != x.client_p95 { x.p95 } else { None }),
        ) {
            if s > 0.0 && c > self.cfg.divergence_factor * s && c - s > 0.1 {
                self.warn_once("latency_divergence", f.t, || {
                    format!("client p95 {} vs server p95 {}: the network or the load generator may be the bottleneck", fmt_secs(c), fmt_secs(s))
                });
            }
        }
        for (name, v) in &f.stability {
            if *v > 0.0 {
                let id = format!("stability:{name}");
                self.warn_once(&id, f.t, || format!("{name} is {v} (should stay 0)"));
            }
        }
    }
}

#[cfg(test)]
mod tests;
