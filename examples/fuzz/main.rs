//! Fuzzing on the stable toolchain: every parser of outside input, fed structured inputs from a
//! grammar of its format and mutations of the repository's fixtures, each under `catch_unwind`.
//!
//! ```sh
//! cargo run --release --example fuzz -- all --inputs 10000000
//! cargo run --release --example fuzz -- promql --inputs 100000 --seed 7
//! cargo run --release --example fuzz -- promql --seed 7 --replay 4242   # one input, unguarded
//! ```
//!
//! Per target it prints the inputs run, the distinct outcomes (Ok and each error message with its
//! numbers and quoted text taken out: a cheap stand-in for coverage), the panics (each input is
//! written, hex and escaped, to a file in a temp directory), the slowest input and inputs/s. An
//! input still running after 10 s, or one that aborts the process (a stack overflow), is found,
//! written out the same way and counted as a panic, and the run goes on after it: the inputs
//! run in a child process that the harness watches.

mod corpus;
mod driver;
mod mutate;
mod rng;
mod supervise;
mod targets;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match driver::Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fuzz: {e}\n\n{}", driver::USAGE);
            return ExitCode::from(2);
        }
    };
    let all = targets::all();
    let chosen: Vec<&'static targets::Target> = all
        .iter()
        .filter(|t| args.target == "all" || t.name == args.target)
        .collect();
    if chosen.is_empty() {
        let names: Vec<_> = all.iter().map(|t| t.name).collect();
        eprintln!(
            "fuzz: unknown target {:?}; targets: all, {}",
            args.target,
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    if let Some(index) = args.replay {
        driver::replay(chosen[0], &args, index);
        return ExitCode::SUCCESS;
    }
    if args.child {
        driver::child(chosen[0], &args);
        return ExitCode::SUCCESS;
    }
    let reports: Vec<driver::Report> = chosen.iter().map(|t| supervise::run(t, &args)).collect();
    driver::print_table(&reports);
    if reports.iter().any(|r| r.panics > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
