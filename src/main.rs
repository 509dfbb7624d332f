use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use slitop::cli::{Cli, Command};
use slitop::headless::{self, HeadlessOptions};
use slitop::settings::{build_config, report_settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.print_config_template {
        print!("{}", slitop::settings::TEMPLATE);
        return ExitCode::SUCCESS;
    }
    match &cli.command {
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "slitop",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Some(Command::Man) => {
            let man = clap_mangen::Man::new(Cli::command());
            if let Err(e) = man.render(&mut std::io::stdout()) {
                eprintln!("slitop: {e}");
                return ExitCode::FAILURE;
            }
            return ExitCode::SUCCESS;
        }
        Some(Command::Demo(args)) => {
            return match slitop::demo::run(
                args,
                cli.duration,
                cli.out.clone(),
                cli.meta.to_meta(),
                &cli.gates.to_gates(),
                &cli.export.flags(),
                (!cli.headless && std::io::stdout().is_terminal()).then(|| ui_options(&cli)),
            ) {
                Ok(outcome) => gate_exit("slitop demo", &outcome),
                Err(e) => {
                    eprintln!("slitop demo: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Replay { file }) if !cli.headless => {
            if !std::io::stdout().is_terminal() {
                eprintln!("slitop replay: stdout is not a terminal; use --headless --out DIR for a replay without the dashboard");
                return ExitCode::from(2);
            }
            let Some(rt) = runtime() else {
                return ExitCode::FAILURE;
            };
            return match rt.block_on(slitop::ui::run::run_replay(file, ui_options(&cli))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("slitop replay: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
        Some(Command::Replay { file }) | Some(Command::Report { recording: file }) => {
            let report_only = matches!(cli.command, Some(Command::Report { .. }));
            let what = if report_only {
                "slitop report"
            } else {
                "slitop replay"
            };
            return rebuild(&cli, file, report_only, what);
        }
        _ => {}
    }
    let cfg = match build_config(&cli.conn.flags()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("slitop: {e}");
            return ExitCode::from(2);
        }
    };
    // PromQL errors are configuration errors: refuse to start, naming the signal.
    if let Err(e) = slitop::runtime::RunState::new(&cfg) {
        eprintln!("slitop: {e}");
        return ExitCode::from(2);
    }
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    match cli.command {
        Some(Command::Check) => rt.block_on(async {
            let (items, ok) = slitop::check::run_checks(&cfg).await;
            slitop::check::print(&items);
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        _ => {
            let report =
                match report_settings(&cfg, None, &cli.gates.to_gates(), &cli.export.flags())
                    .map_err(anyhow::Error::from)
                    .and_then(|r| slitop::report::check_baseline(&r).map(|_| r))
                {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("slitop: {e:#}");
                        return ExitCode::from(2);
                    }
                };
            // The dashboard needs a terminal; piped output gets the JSON lines instead.
            if !cli.headless && std::io::stdout().is_terminal() {
                let mut opts = ui_options(&cli);
                opts.report = report;
                return match rt.block_on(slitop::ui::run::run_live(cfg, opts)) {
                    Ok(outcome) => gate_exit("slitop", &outcome),
                    Err(e) => {
                        eprintln!("slitop: {e:#}");
                        ExitCode::FAILURE
                    }
                };
            }
            let opts = HeadlessOptions {
                duration: cli.duration,
                out: cli.out,
                meta: cli.meta.to_meta(),
                report,
            };
            match rt.block_on(headless::run(cfg, opts)) {
                Ok(outcome) => gate_exit("slitop", &outcome),
                Err(e) => {
                    eprintln!("slitop: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("slitop: cannot start the async runtime: {e}");
            None
        }
    }
}

fn ui_options(cli: &Cli) -> slitop::ui::run::UiOptions {
    slitop::ui::run::UiOptions {
        duration: cli.duration,
        out: cli.out.clone(),
        meta: cli.meta.to_meta(),
        ascii: cli.ascii,
        low_bandwidth: cli.low_bandwidth,
        mouse: !cli.no_mouse,
        report: slitop::settings::ReportSettings::default(),
    }
}

/// 0 when every gate passed, else `EXIT_GATE_FAILED` with each failure on stderr.
fn gate_exit(what: &str, outcome: &slitop::report::Outcome) -> ExitCode {
    let failed = outcome.failed_gates();
    for f in &failed {
        eprintln!("{what}: {f}");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(slitop::report::EXIT_GATE_FAILED)
    }
}

/// `slitop replay FILE --headless` and `slitop report RECORDING`: the recording through the
/// same pipeline, then the report with the recording's gates under the config's and the flags'.
fn rebuild(cli: &Cli, file: &std::path::Path, report_only: bool, what: &str) -> ExitCode {
    let cfg = match build_config(&cli.conn.flags()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{what}: {e}");
            return ExitCode::from(2);
        }
    };
    let rec = match slitop::replay::read(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{what}: {e:#}");
            return ExitCode::from(2);
        }
    };
    let opts = match report_settings(
        &cfg,
        Some(&rec.header.gates),
        &cli.gates.to_gates(),
        &cli.export.flags(),
    )
    .map_err(anyhow::Error::from)
    .and_then(|r| slitop::report::check_baseline(&r).map(|_| r))
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{what}: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{what}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if report_only {
        rt.block_on(slitop::replay::report(&rec, file, cli.out.clone(), &opts))
    } else {
        rt.block_on(slitop::replay::run(&rec, file, cli.out.clone(), &opts))
    };
    match result {
        Ok(outcome) => {
            if report_only {
                eprintln!(
                    "{what}: report in {}",
                    outcome.dir.join("report.md").display()
                );
            }
            gate_exit(what, &outcome)
        }
        Err(e) => {
            eprintln!("{what}: {e:#}");
            ExitCode::from(2)
        }
    }
}
