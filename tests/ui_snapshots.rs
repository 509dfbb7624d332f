//! Every view of the dashboard at 80×24 and 160×48, healthy and saturated, in colour and under
//! NO_COLOR, rendered from a real recording of the demo pipeline into ratatui's TestBackend.
//! Colour snapshots carry the cell styles, so a band that loses its colour shows up as a diff.

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use slitop::record::read::Recording;
use slitop::run::baseline::Baseline;
use slitop::ui::app::App;
use slitop::ui::keys::View;
use slitop::ui::render::{render, RunInfo, Screen};
use slitop::ui::run::timeline_of;
use slitop::ui::theme::Theme;

const RAMP: &str = include_str!("fixtures/detector/ramp.jsonl");

/// The recording cut at `secs` after its first refresh: the screen as it stood live then.
fn live_at(secs: i64) -> (slitop::state::RunState, slitop::ui::timeline::Timeline) {
    let mut rec = Recording::parse(RAMP, "ramp.jsonl").unwrap();
    rec.cut_after(secs * 1000);
    timeline_of(&rec).unwrap()
}

fn screen_text(view: View, w: u16, h: u16, secs: i64, color: bool) -> String {
    let (state, tl) = live_at(secs);
    render_text(&state, &tl, view, w, h, color)
}

fn render_text(
    state: &slitop::state::RunState,
    tl: &slitop::ui::timeline::Timeline,
    view: View,
    w: u16,
    h: u16,
    color: bool,
) -> String {
    let buf = buffer(state, tl, view, w, h, color);
    if color {
        format!("{buf:?}")
    } else {
        let mut out = String::new();
        for y in 0..h {
            for x in 0..w {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        // Without colour no cell may carry one.
        for c in buf.content() {
            assert_eq!(c.fg, ratatui::style::Color::Reset, "colour under NO_COLOR");
        }
        out
    }
}

fn buffer(
    state: &slitop::state::RunState,
    tl: &slitop::ui::timeline::Timeline,
    view: View,
    w: u16,
    h: u16,
    color: bool,
) -> ratatui::buffer::Buffer {
    buffer_with(state, tl, view, (w, h), color, None)
}

fn buffer_with(
    state: &slitop::state::RunState,
    tl: &slitop::ui::timeline::Timeline,
    view: View,
    (w, h): (u16, u16),
    color: bool,
    baseline: Option<&Baseline>,
) -> ratatui::buffer::Buffer {
    let mut app = App::new(60_000, true, true);
    app.view = view;
    let info = RunInfo {
        name: "capacity-ramp".into(),
        recording: Some("run".into()),
        replay: false,
        sources: vec![
            "k6".into(),
            "k6-json".into(),
            "scrape".into(),
            "valkey".into(),
        ],
    };
    let s = Screen {
        app: &app,
        tl,
        state,
        info: &info,
        theme: Theme {
            color,
            ascii: false,
        },
        now: tl.last().unwrap(),
        baseline,
    };
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(f.area(), f.buffer_mut(), &s)).unwrap();
    term.backend().buffer().clone()
}

/// Healthy: 20 s in (well below capacity); saturated: 55 s in (past the wall, errors visible,
/// k6 still ramping).
const STATES: [(&str, i64); 2] = [("healthy", 20), ("saturated", 55)];

#[test]
fn every_view_at_both_sizes_healthy_and_saturated_colour_and_no_color() {
    for view in View::ALL {
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            for (state, secs) in STATES {
                for color in [true, false] {
                    let name = format!(
                        "{}_{w}x{h}_{state}_{}",
                        view.name(),
                        if color { "color" } else { "nocolor" }
                    );
                    insta::assert_snapshot!(name, screen_text(view, w, h, secs, color));
                }
            }
        }
    }
}

/// The ramp recording as a slitop that knows a finished k6 records it: the line where k6's
/// API went away after its run says finished instead of down.
fn finished_at(secs: i64) -> (slitop::state::RunState, slitop::ui::timeline::Timeline) {
    let mut replaced = 0;
    let text: String = RAMP
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["k"] == "health" && v["src"] == "k6" && v["health"]["state"] == "down" {
                v["health"] = serde_json::json!({"state": "finished"});
                replaced += 1;
            }
            v.to_string() + "\n"
        })
        .collect();
    assert_eq!(replaced, 1);
    let mut rec = Recording::parse(&text, "ramp-finished.jsonl").unwrap();
    rec.cut_after(secs * 1000);
    timeline_of(&rec).unwrap()
}

#[test]
fn a_finished_k6_is_shown_finished_in_a_neutral_style_never_down() {
    let (state, tl) = finished_at(75);
    assert_eq!(
        state.health.get("k6"),
        Some(&slitop::model::Health::Finished)
    );
    let screen = render_text(&state, &tl, View::Dashboard, 80, 24, false);
    let header = screen.lines().next().unwrap();
    assert!(header.contains("k6 ■ finished"), "{header}");
    assert!(
        !header.contains("down") && !header.contains('✖'),
        "{header}"
    );
    // Its series ended with it: no k6 state or VU count left over from the last poll.
    assert!(
        !header.contains("VUs") && !header.contains("running"),
        "{header}"
    );
    insta::assert_snapshot!("dashboard_80x24_k6_finished_nocolor", screen);

    // In colour the mark is dim, not the error band.
    let buf = buffer(&state, &tl, View::Dashboard, 80, 24, true);
    let x = header.chars().position(|c| c == '■').unwrap() as u16;
    for dx in 0.."■ finished".chars().count() as u16 {
        let fg = buf[(x + dx, 0)].fg;
        assert_eq!(fg, ratatui::style::Color::DarkGray, "cell {dx} of the mark");
    }
    let events = render_text(&state, &tl, View::Events, 160, 48, false);
    assert!(events.contains("health  k6 finished"), "{events}");
    assert!(!events.contains("k6 down"), "{events}");
}

#[test]
fn the_saturated_dashboard_names_its_stages_and_the_healthy_one_does_not() {
    let sat = screen_text(View::Dashboard, 160, 48, 55, false);
    assert!(sat.contains("● 4 plateau"), "{sat}");
    assert!(sat.contains("● 5 p95"), "{sat}");
    let ok = screen_text(View::Dashboard, 160, 48, 20, false);
    assert!(ok.contains("○ 4 plateau"), "{ok}");
    assert!(!ok.contains("✖"), "{ok}");
}

/// After the run: the ramp ended at about 64 s and the backlog drained. The envelope plots the
/// rising load only and says the drain is not plotted; the same screen while the load still
/// rose (55 s) says nothing of a drain.
#[test]
fn the_envelope_after_the_load_leaves_the_drain_out_and_says_so() {
    let end = screen_text(View::Envelope, 80, 24, 95, false);
    insta::assert_snapshot!("envelope_80x24_after_the_drain_nocolor", end);
    assert!(end.contains("drain not plotted"), "{end}");
    assert!(end.contains("knee 39.5 req/s"), "{end}");
    let rising = screen_text(View::Envelope, 80, 24, 55, false);
    assert!(!rising.contains("drain"), "{rising}");
}

#[test]
fn cleared_stages_keep_their_times_and_all_six_chips_fit_80_columns() {
    let wide = screen_text(View::Dashboard, 160, 48, 55, false);
    let strip = wide.lines().nth(1).unwrap();
    assert!(
        strip.contains("◌ 1 rate 0:04–0:52  ● 2 decoupled 0:33"),
        "{strip}"
    );
    let narrow = screen_text(View::Dashboard, 80, 24, 55, false);
    let strip = narrow.lines().nth(1).unwrap();
    assert!(strip.contains("◌ 1 0:04–0:52"), "{strip}");
    assert!(strip.contains("● 6 0:48"), "{strip}");
}

#[test]
fn any_size_down_to_one_cell_renders_without_panicking() {
    let (state, tl) = live_at(55);
    let base = baseline_of(STEPS, "steps");
    let info = RunInfo::default();
    for view in View::ALL {
        let mut app = App::new(60_000, true, true);
        app.view = view;
        for w in [1u16, 2, 5, 19, 20, 33, 40, 69, 70, 79, 80, 120, 250] {
            for h in [1u16, 2, 4, 5, 6, 9, 12, 16, 24, 70] {
                let s = Screen {
                    app: &app,
                    tl: &tl,
                    state: &state,
                    info: &info,
                    theme: Theme::from_env(w % 2 == 0),
                    now: tl.last().unwrap(),
                    baseline: (h % 2 == 0).then_some(&base),
                };
                let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
                term.draw(|f| render(f.area(), f.buffer_mut(), &s)).unwrap();
            }
        }
    }
}

#[test]
fn ascii_mode_draws_no_braille_or_box_glyphs() {
    let (state, tl) = live_at(55);
    let base = baseline_of(STEPS, "steps");
    let app = App::new(60_000, true, true);
    let info = RunInfo::default();
    let s = Screen {
        app: &app,
        tl: &tl,
        state: &state,
        info: &info,
        theme: Theme {
            color: false,
            ascii: true,
        },
        now: tl.last().unwrap(),
        baseline: Some(&base),
    };
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    term.draw(|f| render(f.area(), f.buffer_mut(), &s)).unwrap();
    for c in term.backend().buffer().content() {
        for ch in c.symbol().chars() {
            let cp = ch as u32;
            assert!(
                !(0x2500..=0x257F).contains(&cp) && !(0x2800..=0x28FF).contains(&cp),
                "{ch:?} in ascii mode"
            );
        }
    }
}

#[test]
fn escape_sequences_from_outside_never_reach_the_screen() {
    let (state, mut tl) = live_at(55);
    let evil = "jobs\x1b[2J\x1b]0;pwned\x07\u{9b}31m";
    if let Some(rows) = tl.queues.last_mut() {
        rows.push(slitop::ui::timeline::QueueRow {
            stream: evil.into(),
            group: evil.into(),
            lag: Some(1.0),
            ..Default::default()
        });
    }
    let t = tl.last().unwrap();
    tl.health_change(
        "scrape",
        t,
        &slitop::model::Health::Down {
            reason: format!("HTTP 500: {evil}"),
        },
    );
    for view in View::ALL {
        let mut app = App::new(60_000, true, true);
        app.view = view;
        let info = RunInfo {
            name: evil.into(),
            sources: vec!["scrape".into()],
            ..RunInfo::default()
        };
        let s = Screen {
            app: &app,
            tl: &tl,
            state: &state,
            info: &info,
            theme: Theme::from_env(false),
            now: t,
            baseline: None,
        };
        let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
        term.draw(|f| render(f.area(), f.buffer_mut(), &s)).unwrap();
        let text: String = term
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert!(
            !text.chars().any(|c| c.is_control()),
            "{view:?}: a control character reached the screen"
        );
        assert!(text.contains("jobs\u{FFFD}[2J"), "{view:?}: {text}");
    }
}

const STEPS: &str = include_str!("fixtures/detector/steps.jsonl");

/// A whole recording as a baseline, replayed as `--baseline` replays it.
fn baseline_of(text: &str, name: &str) -> Baseline {
    let rec = Recording::parse(text, name).unwrap();
    Baseline::from_recording(name.into(), &rec).unwrap()
}

fn text_of(buf: &ratatui::buffer::Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        for x in 0..area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// The run compared with itself: the ghost marks sit at the live onsets, and the throughput at
/// the same load differs by nothing.
#[test]
fn a_run_over_itself_as_baseline_marks_the_same_onsets_and_no_difference() {
    let (state, tl) = live_at(55);
    let base = baseline_of(RAMP, "ramp");
    let buf = buffer_with(&state, &tl, View::Dashboard, (160, 48), false, Some(&base));
    let text = text_of(&buf);
    insta::assert_snapshot!("dashboard_160x48_saturated_baseline_itself_nocolor", text);
    let strip = text.lines().nth(1).unwrap();
    assert!(strip.contains("● 2 dec 0:33 base 0:33"), "{strip}");
    assert!(text.contains("vs base, same load"), "{text}");
    assert!(text.contains("+0.0/s (+0%)"), "{text}");
    assert!(text.contains("┈ base ramp"), "{text}");
}

/// Another run underneath: its series are drawn faint (dim) under the live ones, its stage
/// onsets are ghost marks, and the envelope carries its curve and knee.
#[test]
fn another_run_as_baseline_is_drawn_faint_with_its_onsets_and_knee() {
    let (state, tl) = live_at(55);
    let base = baseline_of(STEPS, "steps");
    assert!(!base.onsets.is_empty());
    let buf = buffer_with(&state, &tl, View::Dashboard, (160, 48), true, Some(&base));
    let dim = buf
        .content()
        .iter()
        .filter(|c| c.modifier.contains(ratatui::style::Modifier::DIM))
        .filter(|c| {
            c.symbol()
                .chars()
                .all(|ch| (0x2800..=0x28FF).contains(&(ch as u32)))
        })
        .count();
    assert!(dim > 20, "only {dim} faint chart cells");
    let env = buffer_with(&state, &tl, View::Envelope, (160, 48), false, Some(&base));
    let env = text_of(&env);
    insta::assert_snapshot!("envelope_160x48_saturated_baseline_steps_nocolor", env);
    let k = base.knee.as_ref().expect("the steps run has a knee");
    let legend = format!("base p95, knee {:.1} req/s", k.load);
    assert!(env.contains(&legend), "{legend} not in\n{env}");
    // Narrow: the ghost marks give way before any chip's time.
    let narrow = text_of(&buffer_with(
        &state,
        &tl,
        View::Dashboard,
        (80, 24),
        false,
        Some(&base),
    ));
    let strip = narrow.lines().nth(1).unwrap();
    assert!(!strip.contains("base"), "{strip}");
    assert!(strip.contains("● 6 0:48"), "{strip}");
}

/// A report.json alone has no series: the onsets and knee still show, no chart gets a faint line.
#[test]
fn a_report_as_baseline_gives_onsets_without_series() {
    let dir = tempfile::tempdir().unwrap();
    let rec_path = dir.path().join("recording.jsonl");
    std::fs::write(&rec_path, STEPS).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slitop"))
        .arg("report")
        .arg(&rec_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_report = Baseline::load(&dir.path().join("report.json")).unwrap();
    let from_dir = Baseline::load(dir.path()).unwrap();
    assert!(from_report.state.is_none());
    assert!(from_dir.state.is_some());
    // Both readings agree on when each stage began (the report rounds nothing away).
    assert_eq!(
        from_report.onsets.keys().collect::<Vec<_>>(),
        from_dir.onsets.keys().collect::<Vec<_>>()
    );
    let (state, tl) = live_at(55);
    let buf = buffer_with(
        &state,
        &tl,
        View::Dashboard,
        (160, 48),
        true,
        Some(&from_report),
    );
    assert!(!buf
        .content()
        .iter()
        .any(|c| c.modifier.contains(ratatui::style::Modifier::DIM)));
    let text = text_of(&buf);
    assert!(text.lines().nth(1).unwrap().contains(" base "), "{text}");
    assert!(!text.contains("vs base"), "{text}");
}

#[test]
fn a_baseline_that_cannot_be_read_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("recording.jsonl");
    std::fs::write(&bad, "not json\n").unwrap();
    let e = format!("{:#}", Baseline::load(&bad).err().unwrap());
    assert!(e.contains("recording.jsonl"), "{e}");
    let e = format!(
        "{:#}",
        Baseline::load(&dir.path().join("gone")).err().unwrap()
    );
    assert!(e.contains("no such file"), "{e}");
}

/// A closed loop's envelope view carries the live concurrency model: early on it says what the
/// fit still needs; by the end it names the limit (the demo's 40 req/s). An open loop has none.
#[test]
fn a_vu_ramp_envelope_shows_the_concurrency_model() {
    let text = include_str!("fixtures/detector/vu-ramp.jsonl");
    let at = |secs: i64| {
        let mut rec = Recording::parse(text, "vu-ramp.jsonl").unwrap();
        rec.cut_after(secs * 1000);
        let (state, tl) = timeline_of(&rec).unwrap();
        render_text(&state, &tl, View::Envelope, 160, 48, false)
    };
    let end = at(600);
    insta::assert_snapshot!("envelope_160x48_vu_ramp_model_nocolor", end);
    assert!(end.contains("model: at most 4"), "{end}");
    // Its load axis is the VUs and its knee is there, not "no knee yet" on an offered rate.
    assert!(end.contains("(vus)") || end.contains("VUs (vus"), "{end}");
    assert!(!end.contains("no knee yet"), "{end}");
    assert!(end.contains(" VUs"), "{end}");
    let early = at(12);
    assert!(!early.contains("model: at most"), "{early}");
    let open = screen_text(View::Envelope, 160, 48, 55, false);
    assert!(!open.contains("model:"), "{open}");
    // A healthy arrival-rate run: its idle VUs outnumber the requests in flight, as a closed
    // loop's do, but they are not its load.
    let healthy = Recording::parse(
        include_str!("fixtures/detector/baseline.jsonl"),
        "baseline.jsonl",
    )
    .unwrap();
    let (state, tl) = timeline_of(&healthy).unwrap();
    assert!(state.detector.concurrency.is_none());
    let text = render_text(&state, &tl, View::Envelope, 160, 48, false);
    assert!(!text.contains("model:"), "{text}");
}
