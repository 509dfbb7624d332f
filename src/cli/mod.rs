//! The command line: parse the flags (`args`), build the settings, run the chosen command on
//! one async runtime, and turn its result into an exit code (`exit`). The top of the house:
//! it may use every module; nothing imports it.

mod args;
mod exit;
mod runs;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

pub use args::{Cli, Command, ConnArgs, ExportArgs, GateArgs, ImportGrafanaArgs, MetaArgs};
pub use exit::{Failure, EXIT_GATE_FAILED};

use crate::run::stop::StopAt;
use crate::run::RunOptions;
use crate::settings::{build_config, report_settings, Config, GatesConfig, ReportSettings};
use crate::ui::run::UiOptions;

/// Runs the command line and returns the process's exit code.
pub fn main(cli: Cli) -> ExitCode {
    if cli.print_config_template {
        print!("{}", crate::settings::TEMPLATE);
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return exit::exit(Err(Failure::run(
                "slitop: cannot start the async runtime",
                e,
            )))
        }
    };
    exit::exit(rt.block_on(dispatch(&cli)))
}

async fn dispatch(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Some(Command::Completions { shell }) => {
            let mut out = std::io::stdout();
            clap_complete::generate(*shell, &mut Cli::command(), "slitop", &mut out);
            Ok(())
        }
        Some(Command::Man) => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map_err(|e| Failure::run("slitop", e)),
        Some(Command::Demo(args)) => {
            let what = "slitop demo";
            let report = settings_for_report(&Config::default(), None, cli, what)?;
            let base = report.gates.baseline.as_deref();
            let (ui, baseline) = match screen(cli) {
                true => (Some(ui_options(cli, base, what)?), None),
                false => (None, read_baseline(base, what)?),
            };
            // The demo always watches its own k6.
            let opts = run_options(cli, report, None, what)?;
            let outcome = crate::demo::run(args, opts, ui, baseline)
                .await
                .map_err(|e| Failure::run(what, e))?;
            exit::gates(what, &outcome)
        }
        Some(Command::Replay { file }) if !cli.headless => view_replay(cli, file).await,
        Some(Command::Replay { file }) => rebuild(cli, file, false).await,
        Some(Command::Report { recording }) => rebuild(cli, recording, true).await,
        Some(Command::ImportGrafana(args)) => import_grafana(cli, args),
        Some(Command::Compare { runs, noise }) => {
            let noise = match noise {
                Some(n) => *n,
                None => config(cli, "slitop compare")?.report.compare_noise,
            };
            runs::compare_cmd(cli, runs, noise)
        }
        Some(Command::Scale { runs, rate }) => runs::scale_cmd(cli, runs, *rate),
        Some(Command::Check) => {
            let cfg = config(cli, "slitop")?;
            let (items, ok) = crate::check::run_checks(&cfg)
                .await
                .map_err(|e| Failure::usage("slitop", e))?;
            crate::check::print(&items);
            ok.then_some(()).ok_or(Failure::CheckFailed)
        }
        None => watch(cli).await,
    }
}

/// `slitop import-grafana`: the configuration to --out (atomically) or stdout, the skipped
/// panels to stderr. Bad input is a usage error (exit 2).
fn import_grafana(cli: &Cli, args: &ImportGrafanaArgs) -> Result<(), Failure> {
    const WHAT: &str = "slitop import-grafana";
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map_err(|e| Failure::usage(WHAT, anyhow::anyhow!("cannot read {}: {e}", p.display())))
    };
    let mapping = match &args.mapping {
        Some(p) => crate::grafana_import::Mapping::parse(&read(p)?, &p.display().to_string())
            .map_err(|e| Failure::usage(WHAT, anyhow::anyhow!(e)))?,
        None => Default::default(),
    };
    let opts = crate::grafana_import::ImportOptions {
        vars: args.vars.iter().cloned().collect(),
        mapping,
        prometheus: cli.conn.prometheus.clone(),
    };
    let file = args.dashboard.display().to_string();
    let got = crate::grafana_import::import(&read(&args.dashboard)?, &file, &opts)
        .map_err(|e| Failure::usage(WHAT, e))?;
    for s in &got.skipped {
        eprintln!("skipped {:?}: {}", s.panel, s.reason);
    }
    match &cli.out {
        Some(out) => {
            crate::report::write(out, &got.toml).map_err(|e| Failure::run(WHAT, e))?;
            eprintln!(
                "{} signals from {:?} written to {} ({} skipped)",
                got.signals.len(),
                got.title,
                out.display(),
                got.skipped.len()
            );
        }
        None => print!("{}", got.toml),
    }
    Ok(())
}

/// The dashboard needs a terminal; piped output gets the JSON lines instead.
fn screen(cli: &Cli) -> bool {
    !cli.headless && std::io::stdout().is_terminal()
}

/// The screen's options; the baseline (`--baseline` or `[gates] baseline`) is read here, so
/// one that cannot be read fails before anything starts.
fn ui_options(
    cli: &Cli,
    baseline: Option<&Path>,
    what: &'static str,
) -> Result<UiOptions, Failure> {
    let baseline = read_baseline(baseline, what)?;
    Ok(UiOptions {
        ascii: cli.ascii,
        low_bandwidth: cli.low_bandwidth,
        mouse: !cli.no_mouse,
        baseline,
    })
}

/// The baseline drawn under the run or set against it in the headless lines, read before
/// anything starts: one that cannot be read is a usage error naming the file.
fn read_baseline(
    path: Option<&Path>,
    what: &'static str,
) -> Result<Option<crate::run::baseline::Baseline>, Failure> {
    path.map(crate::run::baseline::Baseline::load)
        .transpose()
        .map_err(|e| Failure::usage(what, e))
}

/// What a live run is started with; `cfg`, when given, must be able to carry out a stop.
fn run_options(
    cli: &Cli,
    report: ReportSettings,
    cfg: Option<&Config>,
    what: &'static str,
) -> Result<RunOptions, Failure> {
    let bad = |e: String| Failure::usage(what, anyhow::anyhow!(e));
    let stop_at = StopAt::from_flags(cli.stop_at.as_deref(), cli.stop_after).map_err(bad)?;
    if let (Some(rule), Some(cfg)) = (&stop_at, cfg) {
        rule.check(cfg).map_err(bad)?;
    }
    Ok(RunOptions {
        duration: cli.duration,
        out: cli.out.clone(),
        meta: cli.meta.to_meta(),
        report,
        stop_at,
        record_format: cli.record_format,
    })
}

/// The configuration from the files and the flags.
fn config(cli: &Cli, what: &'static str) -> Result<Config, Failure> {
    build_config(&cli.conn.flags()).map_err(|e| Failure::usage(what, e))
}

/// A run that failed: a signal that does not compile is configuration (the run refused to
/// start before it created anything), anything else a failed run.
fn run_failure(what: &'static str, e: anyhow::Error) -> Failure {
    if e.downcast_ref::<crate::engine::EngineError>().is_some() {
        Failure::usage(what, e)
    } else {
        Failure::run(what, e)
    }
}

/// Gates and exports: `recorded` (a recording's gates) under the configuration under the flags;
/// a baseline that cannot be read fails here, before anything starts.
fn settings_for_report(
    cfg: &Config,
    recorded: Option<&GatesConfig>,
    cli: &Cli,
    what: &'static str,
) -> Result<ReportSettings, Failure> {
    let s = report_settings(cfg, recorded, &cli.gates.to_gates(), &cli.export.flags())
        .map_err(|e| Failure::usage(what, e))?;
    crate::report::check_baseline(&s).map_err(|e| Failure::usage(what, e))?;
    Ok(s)
}

/// `slitop` with sources: the live screen, or headless JSON lines.
async fn watch(cli: &Cli) -> Result<(), Failure> {
    let what = "slitop";
    let cfg = config(cli, what)?;
    let opts = run_options(
        cli,
        settings_for_report(&cfg, None, cli, what)?,
        Some(&cfg),
        what,
    )?;
    let outcome = if screen(cli) {
        let ui = ui_options(cli, opts.report.gates.baseline.as_deref(), what)?;
        crate::ui::run::run_live(cfg, opts, ui).await
    } else {
        let baseline = read_baseline(opts.report.gates.baseline.as_deref(), what)?;
        crate::run::headless::run(cfg, opts, baseline).await
    }
    .map_err(|e| run_failure(what, e))?;
    exit::gates(what, &outcome)
}

/// `slitop replay FILE` on a terminal: the recording in the dashboard with a time cursor.
async fn view_replay(cli: &Cli, file: &Path) -> Result<(), Failure> {
    let what = "slitop replay";
    if !std::io::stdout().is_terminal() {
        let e = anyhow::anyhow!(
            "stdout is not a terminal; use --headless --out DIR for a replay without the dashboard"
        );
        return Err(Failure::usage(what, e));
    }
    let ui = ui_options(cli, cli.gates.baseline.as_deref(), what)?;
    crate::ui::run::run_replay(file, ui)
        .await
        .map_err(|e| Failure::usage(what, e))
}

/// `slitop replay FILE --headless` and `slitop report RECORDING`: the recording through the
/// run lifecycle, then the report with the recording's gates under the config's and the flags'.
async fn rebuild(cli: &Cli, file: &Path, report_only: bool) -> Result<(), Failure> {
    let what = if report_only {
        "slitop report"
    } else {
        "slitop replay"
    };
    let cfg = build_config(&cli.conn.flags()).map_err(|e| Failure::usage(what, e))?;
    let rec = crate::run::replay::read(file).map_err(|e| Failure::usage(what, e))?;
    let opts = settings_for_report(&cfg, Some(&rec.header.gates), cli, what)?;
    let outcome = if report_only {
        crate::run::replay::report(rec, file, cli.out.clone(), &opts).await
    } else {
        let baseline = read_baseline(opts.gates.baseline.as_deref(), what)?;
        crate::run::replay::run(
            rec,
            file,
            (cli.out.clone(), cli.record_format),
            &opts,
            baseline,
        )
        .await
    }
    .map_err(|e| Failure::usage(what, e))?;
    if report_only {
        eprintln!(
            "{what}: report in {}",
            outcome.dir.join("report.md").display()
        );
    }
    exit::gates(what, &outcome)
}
