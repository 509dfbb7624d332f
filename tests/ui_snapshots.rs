//! Every view of the dashboard at 80×24 and 160×48, healthy and saturated, in colour and under
//! NO_COLOR, rendered from a real recording of the demo pipeline into ratatui's TestBackend.
//! Colour snapshots carry the cell styles, so a band that loses its colour shows up as a diff.

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use slitop::record::read::Recording;
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
        tl: &tl,
        state: &state,
        info: &info,
        theme: Theme {
            color,
            ascii: false,
        },
        now: tl.last().unwrap(),
    };
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(f.area(), f.buffer_mut(), &s)).unwrap();
    let buf = term.backend().buffer().clone();
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
    assert!(end.contains("knee 41.2 req/s"), "{end}");
    let rising = screen_text(View::Envelope, 80, 24, 55, false);
    assert!(!rising.contains("drain"), "{rising}");
}

#[test]
fn any_size_down_to_one_cell_renders_without_panicking() {
    let (state, tl) = live_at(55);
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
