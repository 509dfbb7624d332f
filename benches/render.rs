//! Time to render one full dashboard frame at 200×60 from a real recording (past the wall,
//! every chart live), into a buffer: what each redraw costs before the terminal diff.

use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use slitop::record::read::Recording;
use slitop::run::baseline::Baseline;
use slitop::ui::app::App;
use slitop::ui::keys::View;
use slitop::ui::render::{render, RunInfo, Screen};
use slitop::ui::run::timeline_of;
use slitop::ui::theme::Theme;

fn bench(c: &mut Criterion) {
    let text = include_str!("../tests/fixtures/detector/ramp.jsonl");
    let mut rec = Recording::parse(text, "ramp.jsonl").unwrap();
    // Cut at 55 s: saturated, errors visible, k6 still ramping, every chart populated.
    rec.cut_after(55_000);
    let (state, tl) = timeline_of(&rec).unwrap();
    let info = RunInfo {
        name: "capacity-ramp".into(),
        recording: Some("run".into()),
        replay: false,
        sources: vec!["k6".into(), "scrape".into(), "valkey".into()],
    };
    // The same run drawn over a whole other run (`--baseline`): every chart gets its faint twin.
    let steps = include_str!("../tests/fixtures/detector/steps.jsonl");
    let base = Baseline::from_recording(
        "steps".into(),
        &Recording::parse(steps, "steps.jsonl").unwrap(),
    )
    .unwrap();
    let area = Rect::new(0, 0, 200, 60);
    let mut group = c.benchmark_group("render");
    for (view, baseline) in View::ALL.into_iter().map(|v| (v, None)).chain([
        (View::Dashboard, Some(&base)),
        (View::Envelope, Some(&base)),
    ]) {
        let mut app = App::new(60_000, true, true);
        app.view = view;
        let s = Screen {
            app: &app,
            tl: &tl,
            state: &state,
            info: &info,
            theme: Theme {
                color: true,
                ascii: false,
            },
            now: tl.last().unwrap(),
            baseline,
        };
        let suffix = if baseline.is_some() { "_baseline" } else { "" };
        group.bench_function(format!("{}_200x60{suffix}", view.name()), |b| {
            b.iter(|| {
                let mut buf = Buffer::empty(area);
                render(area, &mut buf, &s);
                buf
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
