//! `--headless`: no screen. Each refresh prints one JSON object per signal value and one per
//! stage transition (and, with `--baseline`, one against the baseline at the same load); health
//! changes and query errors are printed as they happen (see `lines`).
//! Ends on SIGINT/SIGTERM/SIGHUP or after `--duration`, then writes the report.

use super::baseline::Baseline;
use super::lines::Lines;
use super::{clock, Run, RunOptions, Step};
use crate::report::Outcome;
use crate::settings::Config;

/// Prints every step of `run` as JSON lines until it ends.
pub async fn print_steps(run: &mut Run, lines: &mut Lines) -> anyhow::Result<()> {
    loop {
        match run.next().await? {
            Step::Notice { notice, .. } => lines.notice(&notice, clock())?,
            Step::Tick { t, transitions } => lines.tick(&run.state, t, &transitions)?,
            Step::Annotation { t, text } => lines.annotation(t, &text)?,
            Step::Reply(_) => {}
            Step::End(super::End::Stopped(note)) => {
                eprintln!("slitop: {note}");
                return lines.flush();
            }
            Step::End(_) => return lines.flush(),
        }
    }
}

/// Runs until interrupted or the duration passes, each refresh also against `baseline` when
/// given; returns the report's outcome (its gates decide the exit code).
pub async fn run(
    cfg: Config,
    opts: RunOptions,
    baseline: Option<Baseline>,
) -> anyhow::Result<Outcome> {
    let mut run = Run::live(cfg, &opts).await?;
    let dir = run.dir().to_path_buf();
    let mut lines = Lines::create(&dir)?.with_baseline(baseline);
    eprintln!(
        "slitop: recording to {}",
        run.recording().unwrap_or_default().display()
    );
    for w in &run.header.security {
        eprintln!("slitop: warning: {w}");
    }
    print_steps(&mut run, &mut lines).await?;
    let outcome = run.finish(&dir, &opts.report).await?;
    eprintln!(
        "slitop: report in {}",
        outcome.dir.join("report.md").display()
    );
    Ok(outcome)
}
