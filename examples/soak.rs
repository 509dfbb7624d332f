//! A 24-hour run at 1 s, fed as fast as it goes: a real recording (the demo's ramp into the
//! wall, every source live) looped end to end with its times shifted, a source going down and
//! back every 10 minutes and a note every hour. Each refresh does what the live screen does:
//! apply the sources' events, tick the state, extend the timeline and draw a 160×48 frame.
//! Prints the process's RSS and the frame time (tick + timeline + draw) at 1 h, 6 h and 24 h:
//! both must stay flat, since every history is bounded.
//! Run: cargo run --release --example soak -- [hours=24]

use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use slitop::model::{Health, SourceEvent, TimeMs};
use slitop::promql::EvalOptions;
use slitop::record::read::{Record, Recording};
use slitop::state::RunState;
use slitop::ui::app::App;
use slitop::ui::render::{render, RunInfo, Screen};
use slitop::ui::theme::Theme;
use slitop::ui::timeline::Timeline;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The event moved `by` ms later.
fn shifted(ev: &SourceEvent, by: TimeMs) -> SourceEvent {
    let mut ev = ev.clone();
    match &mut ev {
        SourceEvent::Samples { samples, .. } => samples.iter_mut().for_each(|s| s.t += by),
        SourceEvent::SignalValues { points, .. } => points.iter_mut().for_each(|p| p.t += by),
        SourceEvent::Health { t, .. } => *t += by,
        SourceEvent::QueryError { .. } | SourceEvent::QueryWarnings { .. } => {}
    }
    ev
}

struct Mark {
    hours: u64,
    frames_us: Vec<f64>,
    ticks_us: Vec<f64>,
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let hours: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(24);
    let text = include_str!("../tests/fixtures/detector/ramp.jsonl");
    let rec = Recording::parse(text, "ramp.jsonl").expect("the fixture reads");
    let h = &rec.header;
    let ticks: Vec<TimeMs> = rec
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Tick(t) => Some(*t),
            _ => None,
        })
        .collect();
    let span = ticks.last().unwrap() - ticks.first().unwrap() + h.refresh_ms;
    let opts = EvalOptions {
        lookback_ms: h.lookback_ms,
        ..Default::default()
    };
    let mut state = RunState::from_parts(
        &h.signals,
        h.local_sources,
        opts,
        h.refresh_ms,
        h.detect.clone(),
    )
    .expect("the fixture's signals compile");
    let mut tl = Timeline::default();
    let app = App::new(60_000, true, true);
    let info = RunInfo {
        name: "soak".into(),
        recording: Some("run".into()),
        replay: false,
        sources: vec!["k6".into(), "scrape".into(), "valkey".into()],
    };
    let area = Rect::new(0, 0, 160, 48);
    let end = ticks[0] + (hours * 3_600_000) as TimeMs;
    let mut marks: Vec<Mark> = [1, 6, 24]
        .into_iter()
        .filter(|m| *m <= hours)
        .map(|hours| Mark {
            hours,
            frames_us: Vec::new(),
            ticks_us: Vec::new(),
        })
        .collect();
    let rss_start = rss_kib();
    println!(
        "24 h soak: {} s of recording looped, 1 refresh = 1 s, 160x48 frames",
        span / 1000
    );
    println!("start: RSS {:.1} MiB", rss_start as f64 / 1024.0);
    println!("| run time | RSS MiB | frame median µs | frame p99 µs | of which tick, median µs | refreshes kept | events |");
    println!("|---|---|---|---|---|---|---|");
    let started = Instant::now();
    let mut refreshes: u64 = 0;
    'run: for lap in 0.. {
        let by = lap * span;
        for r in &rec.records {
            match r {
                Record::Event(ev) => {
                    state.apply(shifted(ev, by));
                }
                Record::Tick(t) => {
                    let t = t + by;
                    if t > end {
                        break 'run;
                    }
                    refreshes += 1;
                    // A source flaps every 10 minutes, and a note every hour: what a long
                    // soak's timeline fills with.
                    if refreshes % 600 == 0 {
                        for health in [
                            Health::Down {
                                reason: format!("connection refused (flap {refreshes})"),
                            },
                            Health::Ok,
                        ] {
                            let source = "valkey".to_string();
                            tl.health_change(&source, t, &health);
                            state.apply(SourceEvent::Health { source, t, health });
                        }
                    }
                    if refreshes % 3_600 == 0 {
                        state
                            .annotations
                            .push((t, format!("hour {}", refreshes / 3_600)));
                    }
                    let t0 = Instant::now();
                    state.tick(t);
                    tl.observe(&state, t);
                    let tick_us = t0.elapsed().as_secs_f64() * 1e6;
                    let screen = Screen {
                        app: &app,
                        tl: &tl,
                        state: &state,
                        info: &info,
                        theme: Theme {
                            color: true,
                            ascii: false,
                        },
                        now: t,
                        baseline: None,
                    };
                    let mut buf = Buffer::empty(area);
                    render(area, &mut buf, &screen);
                    std::hint::black_box(&buf);
                    let us = t0.elapsed().as_secs_f64() * 1e6;
                    // The last 10 minutes before each mark are its frame-time sample.
                    for m in marks.iter_mut() {
                        let at = m.hours * 3_600;
                        if refreshes > at.saturating_sub(600) && refreshes <= at {
                            m.frames_us.push(us);
                            m.ticks_us.push(tick_us);
                        }
                        if refreshes == at {
                            let med = percentile(&mut m.frames_us, 0.5);
                            let p99 = percentile(&mut m.frames_us, 0.99);
                            let tick = percentile(&mut m.ticks_us, 0.5);
                            println!(
                                "| {} h | {:.1} | {:.0} | {:.0} | {:.0} | {} | {} |",
                                m.hours,
                                rss_kib() as f64 / 1024.0,
                                med,
                                p99,
                                tick,
                                state.history.ticks().len(),
                                tl.events.len()
                            );
                        }
                    }
                }
                Record::Annotation { t, text } => state.annotations.push((t + by, text.clone())),
                Record::Stage(_) | Record::End(_) => {}
            }
        }
    }
    println!(
        "{refreshes} refreshes in {:.1} s of wall time",
        started.elapsed().as_secs_f64()
    );
}
