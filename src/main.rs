use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use slitop::cli::{build_config, Cli, Command};
use slitop::headless::{self, HeadlessOptions};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.print_config_template {
        print!("{}", slitop::config::TEMPLATE);
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
            return match slitop::demo::run(args, cli.duration, cli.out.clone(), cli.meta.to_meta())
            {
                Ok(()) => ExitCode::SUCCESS,
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
        Some(Command::Replay { file }) => {
            return match slitop::replay::run(file, cli.out.clone()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("slitop replay: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
        _ => {}
    }
    let cfg = match build_config(&cli.conn) {
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
            // The dashboard needs a terminal; piped output gets the JSON lines instead.
            if !cli.headless && std::io::stdout().is_terminal() {
                return match rt.block_on(slitop::ui::run::run_live(cfg, ui_options(&cli))) {
                    Ok(()) => ExitCode::SUCCESS,
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
            };
            match rt.block_on(headless::run(cfg, opts)) {
                Ok(()) => ExitCode::SUCCESS,
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
    }
}
