//! The detector on a simulated queue (fluid model of the demo pipeline); the real-data tests
//! run recorded fixtures of the real pipeline under real k6 (tests/detector_fixtures.rs).

use super::*;

/// A fluid queue with `capacity` req/s, fed `offered(t)` (times `1 ± noise`, the arrivals'
/// own variation); rates are 10-s moving averages as `rate(x[10s])` gives them, p95 is taken
/// over the completions of the last 30 s as `histogram_quantile(rate(..[30s]))` gives it,
/// and every reading carries 1% measurement noise.
fn simulate(
    secs: usize,
    capacity: f64,
    offered: impl Fn(f64) -> f64,
    vus: Option<&dyn Fn(f64) -> f64>,
    noise: f64,
) -> Vec<Frame> {
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut jitter = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % 2001) as f64 / 1000.0 - 1.0
    };
    let (mut backlog, mut done, mut added, mut eof) = (0.0f64, Vec::new(), Vec::new(), 0.0);
    let mut waits: Vec<(f64, f64)> = Vec::new();
    let mut frames = Vec::new();
    for s in 0..secs {
        let t = s as f64;
        let lam = offered(t) * (1.0 + noise * jitter());
        // Jobs served now waited for the backlog ahead of them.
        let wait = backlog / capacity;
        backlog += lam;
        let served = backlog.min(capacity);
        backlog -= served;
        done.push(served);
        added.push(lam);
        waits.push((served, 0.1 + wait));
        if wait > 3.0 {
            eof += lam * 0.5;
        }
        let win = |v: &Vec<f64>| v.iter().rev().take(5).sum::<f64>() / 5.0_f64.min(v.len() as f64);
        let mut meas = move || 1.0 + 0.01 * jitter();
        let tput = win(&done) * meas();
        let recent: Vec<(f64, f64)> = waits.iter().rev().take(30).copied().collect();
        let total: f64 = recent.iter().map(|w| w.0).sum();
        let mut by_wait = recent.clone();
        by_wait.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (mut acc, mut p95) = (0.0, 0.1);
        for (n, w) in by_wait {
            acc += n;
            p95 = w;
            if acc >= 0.05 * total {
                break;
            }
        }
        frames.push(Frame {
            t: s as i64 * 1000,
            offered: Some(win(&added) * meas()),
            vus: vus.map(|v| v(t)),
            throughput: Some(tput),
            pending: Some(lam * (0.1 + wait) * meas()),
            // Lag plus pending: the waiting jobs and those the consumers hold in service.
            queue_lag: Some((backlog + served * 0.1).round()),
            consumers: Some(4.0),
            service_time: Some(0.1 * meas()),
            p95: Some(p95 * meas()),
            eof_errors: Some(eof),
            ..Frame::default()
        });
    }
    frames
}

fn run(frames: Vec<Frame>) -> (Detector, Vec<Transition>) {
    let mut d = Detector::new(DetectConfig::default());
    let mut all = Vec::new();
    for f in frames {
        all.extend(d.step(f));
    }
    (d, all)
}

fn activations(tr: &[Transition], id: StageId) -> usize {
    tr.iter()
        .filter(|t| t.stage == id && t.state == StageState::Active)
        .count()
}

#[test]
fn open_loop_ramp_past_capacity_flags_all_six_in_order() {
    // 5 → 80 req/s over 150 s against 40 req/s: crossing at t = 70 s.
    let frames = simulate(160, 40.0, |t| 5.0 + 0.5 * t, None, 0.0);
    let (d, tr) = run(frames);
    let onsets: Vec<i64> = StageId::ALL
        .iter()
        .map(|&id| {
            d.stage(id)
                .first_onset
                .unwrap_or_else(|| panic!("{id:?} never active: {tr:#?}"))
        })
        .collect();
    assert!(
        onsets.windows(2).all(|w| w[0] <= w[1]),
        "onsets out of order: {onsets:?}"
    );
    let crossing = 70_000;
    for id in [StageId::Decoupled, StageId::PendingClimbs] {
        let c = d.stage(id).first_confirmed.unwrap();
        assert!(
            c >= crossing && c <= crossing + 12_000,
            "{id:?} confirmed at {c}"
        );
    }
    let knee = d.knee.clone().unwrap();
    assert_eq!(knee.load_unit, "req/s");
    assert!((40.0..48.0).contains(&knee.load.unwrap()), "{knee:?}");
    let cap = d.capacity_rps().unwrap();
    assert!((cap - 40.0).abs() < 2.0, "capacity {cap}");
    let s = d.scaling().unwrap();
    assert_eq!(s.workers_needed, (80.0f64 * 0.1 / 0.7).ceil() as u64);
}

#[test]
fn baseline_below_capacity_never_goes_past_rate_rises_even_with_noise() {
    let frames = simulate(180, 40.0, |_| 16.0, None, 0.08);
    let (d, tr) = run(frames);
    for id in &StageId::ALL[1..] {
        assert_eq!(d.stage(*id).activations, 0, "{id:?}: {tr:#?}");
    }
}

#[test]
fn noisy_ramp_does_not_flap() {
    let frames = simulate(160, 40.0, |t| 5.0 + 0.5 * t, None, 0.08);
    let (_, tr) = run(frames);
    for id in StageId::ALL {
        assert!(activations(&tr, id) <= 1, "{id:?} toggled: {tr:#?}");
    }
}

#[test]
fn burst_piles_up_then_clears_and_drain_time_is_measured() {
    // 20 req/s, a 20-s spike to 70, back to 20; capacity 40.
    let offered = |t: f64| {
        if (40.0..60.0).contains(&t) {
            70.0
        } else {
            20.0
        }
    };
    let (d, tr) = run(simulate(150, 40.0, offered, None, 0.0));
    let p = d.stage(StageId::PendingClimbs);
    assert!(p.reached() && p.state == StageState::Cleared, "{tr:#?}");
    // Backlog 600 drains at 40 − 20 = 20/s: 30 s.
    let drain = d.drain_s().unwrap();
    assert!((drain - 30.0).abs() <= 6.0, "drain {drain}");
}

#[test]
fn closed_loop_vu_ramp_decouples_before_the_plateau() {
    // Each VU offers 5 req/s until the wall; VUs 2 → 40 over 120 s; capacity 40 req/s
    // (crossed at 8 VUs).
    let vus = |t: f64| 2.0 + t * 38.0 / 120.0;
    let offered = |t: f64| (vus(t) * 5.0).min(40.0 + vus(t) * 0.05);
    let frames = simulate(140, 40.0, offered, Some(&vus), 0.0);
    // In a closed loop the arrival rate follows completions: offered tracks throughput.
    let frames: Vec<Frame> = frames
        .into_iter()
        .map(|mut f| {
            f.offered = f.throughput;
            f.rate_window_s = Some(5.0);
            f
        })
        .collect();
    let (d, tr) = run(frames);
    // The healthy line (5 req/s per VU, read through 5 s rate windows) meets the capacity
    // at 8 VUs; the VUs at the confirmation are several more.
    let knee = d.knee_model(true).unwrap();
    assert!((knee - 8.0).abs() <= 0.8, "knee {knee} VUs");
    assert!(d.knee.clone().unwrap().load.unwrap() > 8.8, "{:?}", d.knee);
    let dec = d
        .stage(StageId::Decoupled)
        .first_onset
        .unwrap_or_else(|| panic!("{tr:#?}"));
    let pla = d
        .stage(StageId::Plateau)
        .first_onset
        .unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(dec <= pla, "decoupled {dec} after plateau {pla}");
    assert_eq!(d.knee.clone().unwrap().load_unit, "VUs");
}

#[test]
fn healthy_arrival_rate_run_whose_latency_rises_with_utilisation_never_decouples() {
    // Arrivals 8 → 28 req/s against 40 req/s: latency grows as 1/(1 − ρ) (0.1 → 0.33 s)
    // and k6 holds one VU per request in flight, so throughput per VU falls by more than
    // half while every request is still served.
    let frames: Vec<Frame> = (0..180)
        .map(|s| {
            let lam = 8.0 + 20.0 * (s as f64 / 120.0).min(1.0);
            let latency = 0.1 / (1.0 - lam / 40.0);
            Frame {
                t: s * 1000,
                offered: Some(lam),
                vus: Some((lam * latency).ceil() + 1.0),
                throughput: Some(lam),
                pending: Some(lam * latency),
                queue_lag: Some(0.0),
                consumers: Some(4.0),
                service_time: Some(latency),
                p95: Some(latency * 1.5),
                eof_errors: Some(0.0),
                ..Frame::default()
            }
        })
        .collect();
    let (d, tr) = run(frames);
    for id in [StageId::Decoupled, StageId::PendingClimbs, StageId::Plateau] {
        assert!(!d.stage(id).reached(), "{id:?}: {tr:#?}");
    }
}

#[test]
fn arrival_rate_test_with_growing_vus_puts_the_knee_in_req_per_s() {
    // k6's arrival-rate executors hold one VU per request in flight (Little's law), so VUs
    // grow with latency and per-VU throughput falls before arrivals outrun completions.
    let frames: Vec<Frame> = simulate(160, 40.0, |t| 5.0 + 0.5 * t, None, 0.0)
        .into_iter()
        .map(|mut f| {
            f.vus = f.pending.map(|p| p.max(1.0).round());
            f
        })
        .collect();
    let (d, tr) = run(frames);
    let knee = d.knee.clone().unwrap_or_else(|| panic!("{tr:#?}"));
    assert_eq!(knee.load_unit, "req/s", "{knee:?}");
    assert!((35.0..48.0).contains(&knee.load.unwrap()), "{knee:?}");
    assert!(knee.vus.is_some());
    let p = d.stage(StageId::PendingClimbs).first_onset.unwrap();
    let q = d.stage(StageId::Plateau).first_onset.unwrap();
    assert!(p <= q, "pending_climbs {p} after plateau {q}");
}

#[test]
fn a_day_at_one_refresh_a_second_keeps_the_history_bounded() {
    let frames = simulate(86_400, 40.0, |_| 16.0, None, 0.05);
    let (d, tr) = run(frames);
    assert!(d.history.len() <= MAX_FRAMES, "{}", d.history.len());
    assert!(d.recent.len() <= 100, "{}", d.recent.len());
    // Thinned, never reordered; the latest frame is kept.
    assert!(d.history.windows(2).all(|w| w[0].t < w[1].t));
    assert_eq!(d.history.last().map(|f| f.t), Some(86_399_000));
    assert_eq!(activations(&tr, StageId::Plateau), 0);
}

#[test]
fn a_closed_loop_whose_arrivals_run_ahead_while_vus_are_added_keeps_its_knee_in_vus() {
    // VUs that think between requests (twice as many VUs as requests in flight while healthy);
    // past the wall every VU added leaves one more request waiting, so the queue's arrivals
    // run ~10% ahead of completions — the shape an arrival-rate test also shows.
    let vus = |t: f64| 2.0 + t * 38.0 / 120.0;
    let offered = |t: f64| (vus(t) * 5.0).min(40.0 + vus(t) * 0.05);
    let frames: Vec<Frame> = simulate(140, 40.0, offered, Some(&vus), 0.0)
        .into_iter()
        .map(|mut f| {
            let ahead = if f.t > 40_000 { 1.1 } else { 1.0 };
            f.offered = f.throughput.map(|x| x * ahead);
            f
        })
        .collect();
    let (d, tr) = run(frames);
    let knee = d.knee.clone().unwrap_or_else(|| panic!("{tr:#?}"));
    assert_eq!(knee.load_unit, "VUs", "{knee:?}");
    // The wall is crossed at 8 VUs (5 req/s each against 40 req/s).
    assert!((7.0..12.0).contains(&knee.load.unwrap()), "{knee:?}");
}

/// The frames as a Prometheus server scraping every `every` seconds gives them: each reading
/// changes only when a scrape lands and holds until the next (a staircase).
fn scraped_every(frames: Vec<Frame>, every: usize, say_interval: bool) -> Vec<Frame> {
    let mut held = frames[0].clone();
    frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            if i % every == 0 {
                held = f.clone();
            }
            Frame {
                t: f.t,
                sample_s: say_interval.then_some(every as f64),
                ..held.clone()
            }
        })
        .collect()
}

#[test]
fn a_fifteen_second_staircase_is_judged_over_a_few_of_its_samples() {
    // 5 → 80 req/s over 150 s against 40 req/s, seen through 15 s scrapes.
    let frames = || simulate(180, 40.0, |t| 5.0 + 0.5 * t, None, 0.0);
    let (d, tr) = run(scraped_every(frames(), 15, true));
    for id in [StageId::PendingClimbs, StageId::Plateau] {
        assert_eq!(activations(&tr, id), 1, "{id:?}: {tr:#?}");
    }
    // Truth: crossing at 70 s; the data lags by up to a sample, the windows span three.
    let c = d.stage(StageId::Decoupled).first_confirmed.unwrap();
    assert!((70_000..=70_000 + 2 * 15_000 + 10_000).contains(&c), "{c}");
    let cap = d.capacity_rps().unwrap();
    assert!((cap - 40.0).abs() <= 2.0, "capacity {cap}");
    // Judged over 6 s as if each refresh were fresh, the stairs are flat between scrapes:
    // the backlog "stops" climbing on every step and its stage flaps or never holds.
    let (_, tr) = run(scraped_every(frames(), 15, false));
    assert_ne!(activations(&tr, StageId::PendingClimbs), 1, "{tr:#?}");
}

#[test]
fn a_backlog_scraped_every_15_s_climbs_from_its_first_steps_not_once_they_fill_the_window() {
    // Arrivals 44 req/s against 40 from 60 s: the backlog grows 4/s, seen as a step of 60 at
    // each 15 s scrape. Read every second, each step repeats fifteen times; counted once
    // each, two steps are a climb.
    let frames: Vec<Frame> = (0..150)
        .map(|s: i64| {
            let scrape = s - s % 15;
            let backlog = (4 * (scrape - 45).max(0)) as f64;
            Frame {
                t: s * 1000,
                offered: Some(if s < 60 { 20.0 + s as f64 / 3.0 } else { 44.0 }),
                throughput: Some(if s < 60 { 20.0 + s as f64 / 3.0 } else { 40.0 }),
                queue_lag: Some(backlog),
                consumers: Some(4.0),
                p95: Some(0.1),
                sample_s: Some(15.0),
                ..Frame::default()
            }
        })
        .collect();
    let (d, tr) = run(frames);
    let c = d
        .stage(StageId::PendingClimbs)
        .first_confirmed
        .unwrap_or_else(|| panic!("{tr:#?}"));
    // The second step lands at 75 s; the stage holds 2 s before it is confirmed.
    assert!(c <= 78_000, "pending_climbs confirmed at {c} ms: {tr:#?}");
}

#[test]
fn without_a_queue_requests_in_flight_growing_show_the_decoupling() {
    // 5 → 80 req/s over 150 s against 40 req/s (crossed at 70 s), with no queue in view:
    // the requests in flight grow by arrivals minus completions at once, while the rates,
    // read over 20 s windows here, take most of a window to part.
    let frames = simulate(150, 40.0, |t| 5.0 + 0.5 * t, None, 0.0);
    let slow = |i: usize, f: fn(&Frame) -> Option<f64>| {
        let w = &frames[i.saturating_sub(19)..=i];
        Some(w.iter().filter_map(f).sum::<f64>() / w.len() as f64)
    };
    let frames: Vec<Frame> = (0..frames.len())
        .map(|i| Frame {
            queue_lag: None,
            offered: slow(i, |f| f.offered),
            throughput: slow(i, |f| f.throughput),
            rate_window_s: Some(20.0),
            ..frames[i].clone()
        })
        .collect();
    let (d, tr) = run(frames);
    let dec = d.stage(StageId::Decoupled);
    let c = dec.first_confirmed.unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(c <= 70_000 + 10_000, "decoupled confirmed at {c} ms");
    assert!(
        dec.first_evidence.starts_with("requests in flight grow"),
        "{tr:#?}"
    );
}

#[test]
fn steps_past_the_wall_put_the_knee_at_the_capacity_not_at_a_step() {
    // 10 req/s more every 12 s (10 … 70) against 40 req/s: the offered rate jumps past the
    // wall between two refreshes, so the rate at the onset says little about the knee.
    let offered = |t: f64| 10.0 + 10.0 * (t / 12.0).floor();
    let frames: Vec<Frame> = simulate(84, 40.0, offered, None, 0.0)
        .into_iter()
        .map(|f| Frame {
            rate_window_s: Some(5.0),
            ..f
        })
        .collect();
    let (d, tr) = run(frames);
    let cap = d.capacity_rps().unwrap_or_else(|| panic!("{tr:#?}"));
    assert!((cap - 40.0).abs() <= 2.0, "capacity {cap}");
    let at_onset = d.knee.clone().unwrap().load.unwrap();
    let knee = d.knee_model(false).unwrap();
    assert!(
        (knee - 40.0).abs() <= 4.0,
        "knee {knee} (onset reading {at_onset})"
    );
}

/// An open loop fed `offered(t)` per second, completing at most `capacity(t)`, its rates
/// read over `window` seconds each second as `rate(x[10s])` gives them (samples a second
/// apart: the count of the window's last `window − 1` seconds over those seconds), the
/// queue's backlog as is.
fn windowed(
    secs: usize,
    capacity: impl Fn(f64) -> f64,
    window: usize,
    offered: impl Fn(f64) -> f64,
) -> Vec<Frame> {
    let (mut backlog, mut done, mut added) = (0.0f64, Vec::new(), Vec::new());
    (0..secs)
        .map(|s| {
            let (lam, capacity) = (offered(s as f64), capacity(s as f64));
            backlog += lam;
            let served = backlog.min(capacity);
            backlog -= served;
            done.push(served);
            added.push(lam);
            let span = (window - 1).max(1);
            let rate = |v: &Vec<f64>| v.iter().rev().take(span).sum::<f64>() / span as f64;
            Frame {
                t: s as i64 * 1000,
                offered: Some(rate(&added)),
                throughput: Some(rate(&done)),
                queue_lag: Some(backlog.round()),
                pending: Some(served * 0.1 + backlog),
                p95: Some(0.1 + backlog / 40.0),
                rate_window_s: Some(window as f64),
                ..Frame::default()
            }
        })
        .collect()
}

#[test]
fn a_burst_past_the_wall_is_a_plateau_within_seconds_not_a_rate_window_later() {
    // 15 req/s, then 70 from 30 s on, against 40 req/s, through 10 s rate windows: the rate
    // reaches the wall only 10 s after it, and keeps rising all that time.
    let offered = |t: f64| if t < 30.0 { 15.0 } else { 70.0 };
    let (d, tr) = run(windowed(70, |_| 40.0, 10, offered));
    let c = d
        .stage(StageId::Plateau)
        .first_confirmed
        .unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(c <= 30_000 + 8_000, "plateau confirmed at {c} ms: {tr:#?}");
}

#[test]
fn the_capacity_is_what_the_wall_held_not_a_window_still_holding_the_time_before() {
    // The same burst, with clients failing 8 s into it and the workers then skipping half
    // their work (abandoned): a 10 s rate never holds the wall alone before the errors.
    let offered = |t: f64| if t < 30.0 { 15.0 } else { 70.0 };
    let capacity = |t: f64| if t < 38.0 { 40.0 } else { 20.0 };
    let frames: Vec<Frame> = windowed(70, capacity, 10, offered)
        .into_iter()
        .map(|f| Frame {
            error_rate: Some(if f.t >= 38_000 { 0.2 } else { 0.0 }),
            ..f
        })
        .collect();
    let (d, tr) = run(frames);
    let cap = d.capacity_rps().unwrap_or_else(|| panic!("{tr:#?}"));
    assert!((cap - 40.0).abs() <= 2.0, "capacity {cap}: {tr:#?}");
}

#[test]
fn a_load_that_jumps_is_judged_by_how_fast_it_rises_now_not_by_a_long_trend() {
    // The burst again, its completions creeping up 1%/s at the wall (workers warming up):
    // against the load's rise now (its 10 s rate climbing 5 req/s per s) that is flat, while
    // a robust trend over the long window, most of it before the jump, reads the load as
    // barely rising.
    let offered = |t: f64| if t < 30.0 { 15.0 } else { 70.0 };
    let capacity = |t: f64| 40.0 * (1.0 + 0.01 * (t - 30.0).max(0.0));
    let (d, tr) = run(windowed(70, capacity, 10, offered));
    let c = d
        .stage(StageId::Plateau)
        .first_confirmed
        .unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(c <= 30_000 + 9_000, "plateau confirmed at {c} ms: {tr:#?}");
}

/// A closed loop (VUs that think 0.5 s between requests answered in 0.1 s while healthy)
/// against `cap` req/s: throughput is a rate over `window` s, latency grows as the VUs past
/// the wall wait (R = N/X − Z), the service holds X·R requests in flight.
fn closed_loop(secs: i64, vus: impl Fn(f64) -> f64, cap: f64, window: usize) -> Vec<Frame> {
    let mut done: Vec<f64> = Vec::new();
    (0..secs)
        .map(|s| {
            let n = vus(s as f64);
            let x = (n / 0.6).min(cap);
            done.push(x);
            // As Prometheus reads it from samples a second apart (see `windowed`).
            let span = (window - 1).max(1);
            let tput = done.iter().rev().take(span).sum::<f64>() / span as f64;
            let r = (n / x - 0.5).max(0.1);
            Frame {
                t: s * 1000,
                vus: Some(n.round()),
                offered: Some(tput),
                throughput: Some(tput),
                pending: Some(x * r),
                p95: Some(1.5 * r),
                client_p95: Some(1.5 * r),
                rate_window_s: Some(window as f64),
                ..Frame::default()
            }
        })
        .collect()
}

#[test]
fn a_closed_loop_without_a_queue_shows_requests_piling_up_by_its_decoupling_not_after_its_plateau()
{
    // 1 → 60 VUs over 70 s against 32 req/s (the wall at 19.2 VUs, 21.6 s in), no queue in
    // view: past the wall each VU added waits in flight at the service. Their residence
    // (in flight ÷ throughput) doubles only some VUs later, after the throughput has been
    // flat for long enough to be a plateau.
    let vus = |t: f64| 1.0 + t * 59.0 / 70.0;
    let (d, tr) = run(closed_loop(90, vus, 32.0, 10));
    let confirmed = |id| {
        d.stage(id)
            .first_confirmed
            .unwrap_or_else(|| panic!("{id:?}: {tr:#?}"))
    };
    let (dec, pend, plat) = (
        confirmed(StageId::Decoupled),
        confirmed(StageId::PendingClimbs),
        confirmed(StageId::Plateau),
    );
    assert!(dec <= pend && pend <= plat, "{dec} {pend} {plat}: {tr:#?}");
    assert!(pend <= 21_600 + 10_000, "pending_climbs at {pend}: {tr:#?}");
}

#[test]
fn a_closed_loop_read_through_a_rate_window_decouples_within_ten_seconds_of_the_wall() {
    // 1 → 60 VUs over 70 s against 32 req/s: the wall is crossed at 19.2 VUs (t = 21.6 s).
    // Divided by the VUs of now, a 10 s rate makes throughput per VU climb all the way to
    // the wall, so its "best" lies there and the drop shows many VUs later; divided by the
    // VUs the window averaged, it is flat until the wall.
    // (The requests in flight, whose residence doubles about then too, may confirm the stage
    // first: the reading of throughput per VU is judged on its own here.)
    let vus = |t: f64| 1.0 + t * 59.0 / 70.0;
    let frames = closed_loop(90, vus, 32.0, 10);
    let mut d = Detector::new(DetectConfig::default());
    let mut tr = Vec::new();
    let mut per_vu_from = None;
    for f in frames {
        let t = f.t;
        tr.extend(d.step(f));
        if per_vu_from.is_none() {
            per_vu_from = d.closed_decoupled().map(|why| (t, why));
        }
    }
    let (t, why) = per_vu_from.unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(
        (21_600..=31_600).contains(&t),
        "throughput per VU fell at {t} ms"
    );
    assert!(why.starts_with("throughput per VU"), "{why}");
    let c = d.stage(StageId::Decoupled).first_confirmed.unwrap();
    assert!(
        (21_600..=31_600).contains(&c),
        "decoupled confirmed at {c} ms: {tr:#?}"
    );
    assert_eq!(d.knee.clone().unwrap().load_unit, "VUs");
}

/// A frame as k6 alone sees it: no server's requests in flight or p95.
fn client_only(f: Frame) -> Frame {
    Frame {
        pending: None,
        p95: None,
        ..f
    }
}

#[test]
fn with_only_the_client_in_view_a_closed_loops_vus_are_known_to_think() {
    // The same closed loop seen by k6 alone: no server in view, so its requests in flight
    // come from Little's law on the client's rate and latency. Past the wall each VU added
    // starts an iteration that waits, so iterations started run 10% ahead of completions —
    // which, with VUs not known to think, reads as an open loop's arrivals outrunning them.
    let vus = |t: f64| 2.0 + t * 58.0 / 120.0;
    let frames: Vec<Frame> = closed_loop(120, vus, 32.0, 10)
        .into_iter()
        .map(|f| Frame {
            offered: f.throughput.map(|x| if f.t > 40_000 { 1.1 * x } else { x }),
            ..client_only(f)
        })
        .collect();
    let (d, tr) = run(frames);
    let knee = d.knee.clone().unwrap_or_else(|| panic!("{tr:#?}"));
    assert_eq!(knee.load_unit, "VUs", "{knee:?}: {tr:#?}");
}

#[test]
fn a_closed_loop_stays_one_when_its_vus_stop_being_reported() {
    // k6 finished: its VUs are no longer reported while the last answers drain, arrivals
    // still counted ahead of completions. Nothing there says the load was an arrival rate.
    let vus = |t: f64| 2.0 + t * 58.0 / 120.0;
    let frames: Vec<Frame> = closed_loop(90, vus, 32.0, 10)
        .into_iter()
        .map(|f| {
            if f.t < 75_000 {
                return f;
            }
            Frame {
                vus: None,
                offered: f.throughput.map(|x| 1.2 * x),
                ..f
            }
        })
        .collect();
    let (d, tr) = run(frames);
    let knee = d.knee.clone().unwrap_or_else(|| panic!("{tr:#?}"));
    assert_eq!(knee.load_unit, "VUs", "{knee:?}: {tr:#?}");
    assert!(d.load_in_vus());
}

#[test]
fn with_only_the_client_in_view_pending_climbs_from_the_requests_residence_not_the_vus() {
    // k6 alone on a closed loop past its wall (19.2 VUs at t = 21.6 s): its VUs are requests
    // plus 0.5 s of think time, so their residence doubles only once latency has grown by the
    // think time too; the requests in flight (the client's rate × p95) double with latency.
    let vus = |t: f64| 1.0 + t * 59.0 / 70.0;
    let frames: Vec<Frame> = closed_loop(90, vus, 32.0, 10)
        .into_iter()
        .map(client_only)
        .collect();
    let (d, tr) = run(frames);
    let p = d.stage(StageId::PendingClimbs);
    let c = p.first_confirmed.unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(c <= 31_600, "pending_climbs confirmed at {c} ms: {tr:#?}");
    assert!(p.first_evidence.starts_with("client in-flight"), "{tr:#?}");
}

#[test]
fn vus_added_at_a_handful_do_not_set_the_healthy_bar_above_the_line() {
    // 1 → 14 VUs in 8 s, then held, far below the wall (14 / 0.6 = 23 req/s of 32). Each
    // VU added sends its first request at once and is counted a little out of step with the
    // completions: about two completions more per VU added, which at a handful of VUs lifts
    // throughput per VU 10-30%. A bar learned there lies above the line the held VUs keep
    // (1 / 0.6 req/s each), and decoupled fires early once the VUs grow.
    let vus = |t: f64| (1.0 + t * 13.0 / 8.0).min(14.0);
    let mut done: Vec<f64> = Vec::new();
    let frames: Vec<Frame> = closed_loop(16, vus, 32.0, 5)
        .into_iter()
        .map(|f| {
            let s = (f.t / 1000) as f64;
            let added = vus(s).round() - if s > 0.0 { vus(s - 1.0).round() } else { 0.0 };
            done.push(vus(s).round() / 0.6 + 2.0 * added);
            let tput = done.iter().rev().take(5).sum::<f64>() / 5.0;
            Frame {
                throughput: Some(tput),
                offered: Some(tput),
                ..f
            }
        })
        .collect();
    let (d, _) = run(frames);
    let level = d.line.level();
    assert!(level.is_none_or(|l| l < 1.03 / 0.6), "{level:?}");
}

/// A ramp 5 → 80 req/s against 39 req/s whose clients fail 21 s past the wall (and whose
/// workers then skip their work), seen as a Prometheus server scraping every 15 s shows it:
/// the throughput a rate over the last 45 s (three samples), or, with `last`, also over
/// the last interval alone (its `irate`). The client's offered rate comes every second.
fn scraped_15s_ramp(last: bool) -> Vec<Frame> {
    let (mut backlog, mut done, mut scrapes) = (0.0f64, 0.0f64, Vec::<(i64, f64, f64)>::new());
    let mut added = Vec::new();
    (0..100i64)
        .map(|s| {
            let lam = 5.0 + s as f64;
            let cap = if s < 55 { 39.0 } else { 3.0 };
            backlog += lam;
            let served = backlog.min(cap);
            backlog -= served;
            done += served;
            added.push(lam);
            if s % 15 == 5 {
                scrapes.push((s, done, backlog));
            }
            let window: Vec<_> = scrapes.iter().filter(|p| p.0 > s - 45).collect();
            let rate = match (window.first(), window.last()) {
                (Some(a), Some(b)) if b.0 > a.0 => Some((b.1 - a.1) / (b.0 - a.0) as f64),
                _ => None,
            };
            let irate = match scrapes.as_slice() {
                [.., a, b] if b.0 > s - 45 => Some((b.1 - a.1) / (b.0 - a.0) as f64),
                _ => None,
            };
            let queued = scrapes.last().map_or(0.0, |p| p.2);
            Frame {
                t: s * 1000,
                offered: Some(added.iter().rev().take(10).sum::<f64>() / 10.0),
                throughput: rate,
                throughput_last: irate.filter(|_| last),
                pending: Some(2.0 + queued),
                p95: Some(0.1 + queued / 39.0),
                error_rate: Some(if s >= 55 { 0.9 } else { 0.0 }),
                sample_s: Some(15.0),
                rate_window_s: Some(45.0),
                ..Frame::default()
            }
        })
        .collect()
}

/// A ramp past 40 req/s seen by the server every 15 s (its last interval's figure held between
/// scrapes) and by the client every second, the client completing `share` of the service's
/// work; its requests wait as long as it takes (no client fails).
fn scraped_15s_with_client(share: f64) -> Vec<Frame> {
    let fresh = simulate(200, 40.0, |t| 5.0 + 0.3 * t, None, 0.0);
    let client: Vec<Option<f64>> = fresh.iter().map(|f| f.throughput).collect();
    let scraped = scraped_every(fresh, 15, true);
    scraped
        .into_iter()
        .zip(client)
        .map(|(f, c)| Frame {
            throughput_last: f.throughput,
            client_done: c.map(|c| c * share),
            eof_errors: None,
            ..f
        })
        .collect()
}

#[test]
fn behind_15_s_scrapes_the_plateau_is_seen_in_the_clients_completions_when_they_agree() {
    // The plateau comes as soon as work is seen piling up (the stage before it in the
    // sequence, held back here by the backlog's own 15 s scrapes), not three flat server
    // intervals later.
    let (d, tr) = run(scraped_15s_with_client(1.0));
    let p = d.stage(StageId::Plateau);
    let c = p.first_confirmed.unwrap_or_else(|| panic!("{tr:#?}"));
    let piled = d.stage(StageId::PendingClimbs).first_confirmed.unwrap();
    assert!(
        c <= piled + 5_000,
        "plateau {c}, piling up {piled}: {tr:#?}"
    );
    assert!(
        p.first_evidence
            .starts_with("client completions (server samples every 15 s) "),
        "{tr:#?}"
    );
    let cap = d.capacity_rps().unwrap();
    assert!((cap - 40.0).abs() <= 2.0, "capacity {cap}");
    // A client doing half of the service's work is not the same work: the server's own
    // intervals are judged, and its capacity is not the client's share of it.
    let (d, tr) = run(scraped_15s_with_client(0.5));
    let p = d.stage(StageId::Plateau);
    assert!(!p.first_evidence.starts_with("client"), "{tr:#?}");
    if let Some(cap) = d.capacity_rps() {
        assert!((cap - 40.0).abs() <= 4.0, "capacity {cap}");
    }
}

#[test]
fn scraped_every_15_s_the_capacity_is_read_from_the_last_interval_even_without_a_plateau() {
    // The wall at 34 s; the only interval wholly on it ends at 50 s, five seconds before
    // clients fail: no plateau can be seen, but the work that piled up until then is the wall.
    let (d, tr) = run(scraped_15s_ramp(true));
    let (cap, basis) = d.capacity().unwrap_or_else(|| panic!("{tr:#?}"));
    assert!((cap - 39.0).abs() <= 0.05 * 39.0, "capacity {cap}: {tr:#?}");
    assert_eq!(basis, summary::CapacityBasis::PiledUp);
    let c = d.stage(StageId::Decoupled).first_confirmed.unwrap();
    assert!(
        c <= 34_000 + 2 * 15_000 + 10_000,
        "decoupled at {c}: {tr:#?}"
    );
    // A rate over three intervals still holds the climb into the wall: read from it alone
    // the capacity is well short of it, and was not reported at all before.
    let (d, _) = run(scraped_15s_ramp(false));
    let (rated, _) = d.capacity().unwrap();
    assert!(rated < cap - 1.0, "{rated} vs {cap}");
}

#[test]
fn arrival_rate_vus_seen_against_a_gauge_scraped_every_5_s_are_not_taken_for_thinking() {
    // The same arrival-rate run, its requests in flight read from a server gauge scraped
    // every 5 s: a count at one instant, often below the mean (one or two where k6 holds two
    // or three VUs). The client's own rate and p95 say how many are busy on average.
    let truth = simulate(160, 40.0, |t| 5.0 + 0.5 * t, None, 0.0);
    let frames: Vec<Frame> = truth
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let scraped = &truth[i - i % 5];
            Frame {
                vus: f.pending.map(|p| p.max(1.0).ceil() + 1.0),
                pending: scraped.pending.map(|p| (p * 0.6).floor()),
                client_rate: f.throughput,
                client_p95: f.p95,
                ..f.clone()
            }
        })
        .collect();
    let (d, tr) = run(frames);
    let knee = d.knee.clone().unwrap_or_else(|| panic!("{tr:#?}"));
    assert_eq!(knee.load_unit, "req/s", "{knee:?}");
}

#[test]
fn with_only_the_client_in_view_an_arrival_rate_tests_busy_vus_show_the_decoupling() {
    // k6 alone on an arrival-rate ramp, 5 → 80 req/s over 60 s against 40 req/s (crossed at
    // 28 s), its rates over 10 s. Each busy VU is one request under way: they grow by
    // arrivals minus completions at once, where rate × p95 waits on a latency window.
    let frames = windowed(75, |_| 40.0, 10, |t| 5.0 + 1.25 * t);
    let mut late = std::collections::VecDeque::new();
    let frames: Vec<Frame> = frames
        .into_iter()
        .map(|f| {
            let (busy, backlog) = (f.pending.unwrap(), f.queue_lag.unwrap());
            late.push_back(backlog);
            if late.len() > 10 {
                late.pop_front();
            }
            let queued = late.iter().sum::<f64>() / late.len() as f64;
            Frame {
                vus: Some(busy.round().max(1.0)),
                client_rate: f.throughput,
                client_p95: Some(0.1 + queued / 40.0),
                offered_from: Some("k6_offered".into()),
                queue_lag: None,
                ..client_only(f)
            }
        })
        .collect();
    let (d, tr) = run(frames);
    let dec = d.stage(StageId::Decoupled);
    let c = dec.first_confirmed.unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(
        c <= 28_000 + 7_000,
        "decoupled confirmed at {c} ms: {tr:#?}"
    );
    // The busy VUs bring the onset; by the confirmation the shortfall may show too.
    let onset = tr
        .iter()
        .find(|x| x.stage == StageId::Decoupled)
        .unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(onset.evidence.starts_with("busy VUs grow"), "{tr:#?}");
}

#[test]
fn a_step_just_past_the_wall_decouples_once_requests_in_flight_pile_up() {
    // 20, 30, then 41 req/s from 40 s on against 40 req/s: 2.5% over the wall is inside the
    // rates' noise margin, and a queue's backlog growing 1 item/s is under the shortfall it
    // must show; the requests in flight, growing by arrivals minus completions while each
    // waits twice its best time, show it. The stage that piling up proves comes with it.
    let offered = |t: f64| match t {
        t if t < 20.0 => 20.0,
        t if t < 40.0 => 30.0,
        _ => 41.0,
    };
    for queue in [false, true] {
        let frames: Vec<Frame> = windowed(80, |_| 40.0, 10, offered)
            .into_iter()
            .map(|f| Frame {
                queue_lag: f.queue_lag.filter(|_| queue),
                ..f
            })
            .collect();
        let (d, tr) = run(frames);
        let dec = d.stage(StageId::Decoupled).first_confirmed;
        let dec = dec.unwrap_or_else(|| panic!("queue {queue}: {tr:#?}"));
        assert!(
            dec <= 40_000 + 10_000,
            "queue {queue}: decoupled at {dec} ms: {tr:#?}"
        );
        let pend = d.stage(StageId::PendingClimbs).first_confirmed;
        // Without a queue, the piling up is `pending_climbs` itself: it comes, and not first.
        assert!(pend.is_some() || queue, "queue {queue}: {tr:#?}");
        assert!(pend.is_none_or(|p| dec <= p), "queue {queue}: {tr:#?}");
    }
}

#[test]
fn a_burst_that_jumps_the_wall_puts_the_knee_at_most_at_the_completions_seen() {
    // 15 req/s, then 70 from 30 s on against 40 req/s, read every second, and clients fail
    // at once: no plateau and nothing piled up before the first error, so no capacity. The
    // onset's load is the burst's 70; completions never passed 40, so neither did the knee.
    let offered = |t: f64| if t < 30.0 { 15.0 } else { 70.0 };
    let frames: Vec<Frame> = windowed(36, |_| 40.0, 1, offered)
        .into_iter()
        .map(|f| Frame {
            eof_errors: Some(if f.t < 30_000 {
                0.0
            } else {
                10.0 + f.t as f64 / 1000.0
            }),
            ..f
        })
        .collect();
    let (d, tr) = run(frames);
    assert_eq!(d.capacity_rps(), None, "{tr:#?}");
    let onset = d.knee.as_ref().and_then(|k| k.offered_rps);
    assert!(onset.is_some_and(|o| o > 60.0), "{onset:?}: {tr:#?}");
    let knee = d.knee_model(false).unwrap_or_else(|| panic!("{tr:#?}"));
    assert!((knee - 40.0).abs() <= 1.0, "knee {knee}");
}

#[test]
fn a_closed_loop_past_its_wall_decouples_from_the_last_seconds_not_a_window_later() {
    // VUs 2 → 98 over 120 s, each VU 1/(0.1 s + 0.5 s think) req/s while healthy, against
    // 40 req/s (the wall at 24 VUs, 27.5 s in), read through 10 s rate windows. The window's
    // throughput per VU falls 5% only ~6 s past the wall; the last seconds' at once.
    let vus = |t: f64| 2.0 + 0.8 * t;
    let per_vu = 1.0 / 0.6;
    let mut done: Vec<f64> = Vec::new();
    let frames: Vec<Frame> = (0..90)
        .map(|s| {
            let t = s as f64;
            done.push((vus(t) * per_vu).min(40.0));
            let rate = done.iter().rev().take(9).sum::<f64>() / 9.0;
            Frame {
                t: s * 1000,
                vus: Some(vus(t).floor()),
                throughput: Some(rate),
                offered: Some(rate),
                rate_window_s: Some(10.0),
                pending: Some(rate * 0.1),
                p95: Some(0.1),
                ..Frame::default()
            }
        })
        .collect();
    let (d, tr) = run(frames);
    let c = d
        .stage(StageId::Decoupled)
        .first_confirmed
        .unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(
        (27_500..=27_500 + 7_000).contains(&c),
        "decoupled confirmed at {c} ms: {tr:#?}"
    );
    assert_eq!(d.knee.clone().unwrap().load_unit, "VUs");
}

/// Refreshes come a few ms early or late. A condition that holds over the refreshes spanning
/// the hold time is confirmed at the last of them even where that one came 1 ms early: it
/// must not wait for one more refresh, nor lapse if the condition stops there.
#[test]
fn a_refresh_a_millisecond_early_does_not_delay_a_confirmation() {
    let clean = simulate(160, 40.0, |t| 5.0 + 0.5 * t, None, 0.0);
    let (d0, _) = run(clean.clone());
    for phase in 0..3 {
        let early: Vec<Frame> = clean
            .iter()
            .enumerate()
            .map(|(i, f)| Frame {
                t: f.t - i64::from(i % 3 == phase),
                ..f.clone()
            })
            .collect();
        let (d1, _) = run(early);
        for id in StageId::ALL {
            let (a, b) = (d0.stage(id).first_confirmed, d1.stage(id).first_confirmed);
            assert!(
                a.zip(b).is_some_and(|(a, b)| (a - b).abs() <= 1),
                "{id:?}: confirmed at {a:?} on time, {b:?} with refreshes 1 ms early (phase {phase})"
            );
        }
    }
}

/// Clients failing at a load well under the wall, at low latency: the stages before them are
/// out of sequence, and say that no work piled up and that requests were refused before they
/// were slowed.
#[test]
fn errors_at_low_load_say_no_work_piled_up_and_nothing_was_slowed() {
    let frames: Vec<Frame> = simulate(120, 40.0, |_| 16.0, None, 0.0)
        .into_iter()
        .map(|f| Frame {
            eof_errors: Some((f.t as f64 / 1000.0 - 60.0).max(0.0) * 5.0),
            ..f
        })
        .collect();
    let (d, _) = run(frames);
    assert!(d.stage(StageId::ErrorsVisible).first_confirmed.is_some());
    for id in [StageId::Decoupled, StageId::PendingClimbs, StageId::Plateau] {
        let why = d.out_of_sequence(id).unwrap();
        assert!(
            why.starts_with("not seen, while errors_visible was"),
            "{why}"
        );
        assert!(why.contains("no work piled up"), "{why}");
    }
    let p95 = d.out_of_sequence(StageId::P95High).unwrap();
    assert!(
        p95.contains("refused or dropped before they were slowed"),
        "{p95}"
    );
}

/// A load that steps up well under the wall fills the requests in flight at once (Little's
/// law: in flight = arrivals × residence), while completions over a rate window trail the
/// arrivals for the window. More requests in flight, each no longer than before, is no work
/// piling up: the ratio out of step is not a decoupling.
#[test]
fn a_step_under_the_wall_fills_the_requests_in_flight_without_decoupling() {
    let offered = |s: i64| if s < 20 { 40.0 } else { 80.0 };
    let frames: Vec<Frame> = (0..60)
        .map(|s| {
            // The completions of the last 10 s, as `rate(…[10s])` reads them.
            let tput = (s - 9..=s).map(|u| offered(u.max(0))).sum::<f64>() / 10.0;
            Frame {
                t: s * 1000,
                offered: Some(offered(s)),
                throughput: Some(tput),
                rate_window_s: Some(10.0),
                pending: Some(offered(s) * 0.1 + if s % 2 == 0 { 0.2 } else { 0.0 }),
                p95: Some(0.12),
                ..Frame::default()
            }
        })
        .collect();
    let (d, tr) = run(frames);
    assert_eq!(d.stage(StageId::Decoupled).first_confirmed, None, "{tr:#?}");
}

/// With only the client in view, Little's law reads its requests in flight from its rate and
/// mean latency: a closed loop whose latency varies (exponential service, a p95 three times
/// the mean) keeps its VUs known as thinking, and its knee in VUs.
#[test]
fn the_clients_mean_latency_keeps_thinking_vus_a_closed_loop() {
    let frames: Vec<Frame> = (0..40)
        .map(|s| {
            let vus = 1.0 + s as f64 * 0.5;
            // Each VU thinks 100 ms and waits 100 ms on average: 5 req/s.
            let rate = vus * 5.0;
            Frame {
                t: s * 1000,
                vus: Some(vus),
                throughput: Some(rate),
                client_rate: Some(rate),
                client_mean: Some(0.1),
                client_p95: Some(0.3),
                p95: Some(0.3),
                ..Frame::default()
            }
        })
        .collect();
    let (d, _) = run(frames);
    assert!(d.load_in_vus(), "VUs thinking half their time are the load");
}

/// A gauge of a handful of requests in flight, read at one moment each second, is as often
/// half its mean as twice it. The healthy residence is a mean over seconds (Little's law on
/// means): taken from the lowest reading, half the true time, ordinary traffic doubled it and
/// a healthy ramp read as work piling up.
#[test]
fn a_noisy_count_of_requests_in_flight_does_not_lower_the_healthy_residence() {
    const SWING: [f64; 6] = [0.0, 1.0, 2.0, 1.0, 0.5, 1.5];
    let d = healthy_ramp_raises_nothing(|s, lam| (lam * 0.1 * SWING[s % SWING.len()]).round());
    let best = d.healthy_residence.unwrap();
    assert!((0.08..0.12).contains(&best), "healthy residence {best}");
}

/// Arrivals 5 → 72 req/s against a service of 100 req/s (requests take 100 ms throughout),
/// the requests in flight read by `pending(second, arrivals)`: no stage past `rate_rises`
/// that reads them is raised.
fn healthy_ramp_raises_nothing(pending: impl Fn(usize, f64) -> f64) -> Detector {
    let frames: Vec<Frame> = (0..90)
        .map(|s| {
            let lam = 5.0 + 0.75 * s as f64;
            Frame {
                t: s as i64 * 1000,
                offered: Some(lam),
                throughput: Some(lam),
                pending: Some(pending(s, lam)),
                p95: Some(0.12),
                ..Frame::default()
            }
        })
        .collect();
    let (d, tr) = run(frames);
    for id in [StageId::Decoupled, StageId::PendingClimbs] {
        assert!(!d.stage(id).reached(), "{id:?}: {tr:#?}");
    }
    d
}

/// A gauge of requests in flight summed over every endpoint also holds the scrapes reading
/// it: five at any load, on top of arrivals × 100 ms. Read as residence, that offset is 1 s at
/// 5 req/s and doubles as "residence" all along a healthy ramp; fitted as Little's law with an
/// intercept, the residence is the requests' own 100 ms, and the ramp raises nothing.
#[test]
fn requests_in_flight_at_any_load_are_fitted_apart_from_the_residence() {
    let d = healthy_ramp_raises_nothing(|_, lam| 5.0 + lam * 0.1);
    let w = d.healthy_residence.unwrap();
    assert!((0.09..0.11).contains(&w), "healthy residence {w}");
    assert!(
        (d.in_flight_offset - 5.0).abs() < 0.5,
        "offset {}",
        d.in_flight_offset
    );
}

/// An arrival-rate test at a few requests per second: k6 keeps more VUs than requests in
/// flight (they idle between the iterations the schedule starts), which reads as VUs
/// thinking, a closed loop. k6 drops iterations only where a schedule starts them: once it
/// does, the run is an open loop and the knee an arrival rate.
#[test]
fn dropped_iterations_make_an_idle_vu_pool_an_open_loop() {
    let frames: Vec<Frame> = simulate(160, 40.0, |t| 5.0 + 0.5 * t, None, 0.0)
        .into_iter()
        .map(|mut f| {
            let busy = f.pending.unwrap_or(0.0);
            f.vus = Some((3.0 * busy).max(3.0).round());
            // The pool runs short past the wall: iterations dropped from 80 s on.
            f.dropped_iterations = Some(((f.t - 80_000) as f64 / 1000.0).max(0.0) * 2.0);
            f
        })
        .collect();
    let (d, tr) = run(frames);
    let knee = d.knee.clone().unwrap_or_else(|| panic!("{tr:#?}"));
    assert_eq!(knee.load_unit, "req/s", "{knee:?}");
    assert!((35.0..48.0).contains(&knee.load.unwrap()), "{knee:?}");
}

/// A closed loop against a soft wall: VUs think 250 ms and wait 150 ms unloaded, and
/// requests start to queue well short of the 20 req/s the service completes at most
/// (latency 150 ms × (1 + ρ⁴ / 2)). The VUs' healthy rate is 2.5 req/s each, so the knee is
/// at 8 VUs; read from throughput per VU under 90% of the capacity, where requests already
/// wait, it lay at 9.
#[test]
fn a_soft_walls_knee_comes_from_the_vus_cycle_not_from_rates_already_queueing() {
    let (think, unloaded, cap) = (0.25, 0.15, 20.0);
    let queued = |x: f64| unloaded * (1.0 + (x / cap).powi(4) / 2.0);
    // The throughput N VUs keep: X = N / (think + latency(X)) up to the capacity, found by
    // bisection; past it the VUs wait their turn.
    let tput = |n: f64| {
        let (mut lo, mut hi) = (0.0, cap);
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if mid * (think + queued(mid)) < n {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let mut done: Vec<f64> = Vec::new();
    let frames: Vec<Frame> = (0..60)
        .map(|s| {
            let n = 1.0 + s as f64 * 0.5;
            let x = tput(n);
            let latency = (n / x - think).max(queued(x));
            done.push(x);
            let rate = done.iter().rev().take(9).sum::<f64>() / done.len().min(9) as f64;
            Frame {
                t: s * 1000,
                vus: Some(n.round()),
                throughput: Some(rate),
                client_rate: Some(rate),
                client_mean: Some(latency),
                client_think: Some(think),
                pending: Some(x * latency),
                p95: Some(2.0 * latency),
                client_p95: Some(2.0 * latency),
                rate_window_s: Some(10.0),
                ..Frame::default()
            }
        })
        .collect();
    let (d, tr) = run(frames);
    let knee = d.knee_model(true).unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(
        (knee - 8.0).abs() <= 0.4,
        "knee {knee} VUs, 8 true: {tr:#?}"
    );
    let c = d.knee_cycle().unwrap();
    assert_eq!(c.think_s, think);
    assert!((c.unloaded_latency_s - unloaded).abs() < 0.01, "{c:?}");
}

/// A load that starts, with no queue in view: k6 reaches 30 req/s in 4 s against a service
/// that serves 80, each request 300 ms. The requests in flight grow 2/s as it does
/// (arrivals × residence, Little's law), faster than the shortfall that counts as
/// decoupling, while completions keep up with every arrival. That growth was read as the
/// decoupling, and the capacity, read from its onset, came out at half.
#[test]
fn requests_in_flight_filling_as_the_load_starts_are_not_the_decoupling() {
    let (residence, window) = (0.3, 10usize);
    let mut arrived: Vec<f64> = Vec::new();
    let frames: Vec<Frame> = (0..40)
        .map(|s| {
            let lam = (7.5 * s as f64).min(30.0);
            arrived.push(lam);
            let span = window - 1;
            let rate = arrived.iter().rev().take(span).sum::<f64>() / span as f64;
            Frame {
                t: s * 1000,
                offered: Some(rate),
                throughput: Some(rate),
                pending: Some(lam * residence),
                p95: Some(0.3),
                rate_window_s: Some(window as f64),
                ..Frame::default()
            }
        })
        .collect();
    let (d, tr) = run(frames);
    assert_eq!(d.stage(StageId::Decoupled).first_onset, None, "{tr:#?}");
}

/// An arrival-rate test's pool, healthy: k6 keeps 6 VUs for 30 req/s of 111 ms requests, no
/// think time, so each VU asks 9 req/s when busy but is busy a third of the time. Throughput
/// per VU (5) sits far under that cycle's rate from the start, which is no fall: the cycle
/// is a closed loop's bar only once its VUs were seen meeting it (k6's burst on the wide
/// system read "decoupled" at its base load).
#[test]
fn an_arrival_rate_pool_under_its_cycle_rate_is_not_decoupled() {
    let frames: Vec<Frame> = (0..40)
        .map(|s| {
            let x = 30.0 * (s as f64 / 4.0).min(1.0);
            Frame {
                t: s * 1000,
                vus: Some(6.0),
                offered: Some(x),
                throughput: Some(x),
                client_rate: Some(x),
                client_mean: Some(0.111),
                client_think: Some(0.0),
                p95: Some(0.2),
                client_p95: Some(0.2),
                rate_window_s: Some(10.0),
                ..Frame::default()
            }
        })
        .collect();
    let (d, tr) = run(frames);
    assert!(d.knee_cycle().is_some(), "the cycle is known: {tr:#?}");
    assert!(tr.iter().all(|t| t.stage != StageId::Decoupled), "{tr:#?}");
}

/// A decoupling that ends while completions are still short of the offered rate ends because
/// the shortfall no longer leaves work behind (the requests fail instead): its note says so,
/// not that throughput keeps up.
#[test]
fn a_decoupling_that_clears_short_of_the_offered_rate_does_not_say_it_keeps_up() {
    let frames = (0..90)
        .map(|s| {
            let (offered, tput, pending, errors) = match s {
                0..30 => (20.0, 20.0, 2.0, 0.0),
                30..50 => (60.0, 40.0, 2.0 + (s - 30) as f64 * 20.0, 0.0),
                _ => (20.0, 2.0, 400.0, 0.9),
            };
            Frame {
                t: s * 1000,
                offered: Some(offered),
                throughput: Some(tput),
                pending: Some(pending),
                p95: Some(0.1),
                error_rate: Some(errors),
                ..Frame::default()
            }
        })
        .collect();
    let (_, tr) = run(frames);
    let active = tr
        .iter()
        .any(|t| t.stage == StageId::Decoupled && t.state == StageState::Active);
    let cleared = tr
        .iter()
        .find(|t| t.stage == StageId::Decoupled && t.state == StageState::Cleared)
        .unwrap_or_else(|| panic!("{tr:#?}"));
    assert!(active, "{tr:#?}");
    assert_eq!(
        cleared.evidence,
        "throughput 2.0 req/s still short of offered 20.0 req/s, but no work piles up behind it: 90% of requests failing"
    );
}
