use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    slitop::cli::main(slitop::cli::Cli::parse())
}
