//! The `relu-regions` binary: parse, call the library, map outcomes to exit codes.

mod cli;

use clap::Parser;
use cli::{Cli, Command};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            e.exit();
        }
    };
    let outcome = match &cli.command {
        None => cli::count::run(&cli::count::CountArgs::default()),
        Some(Command::Count(args)) => cli::count::run(args),
        Some(Command::Verify(args)) => cli::verify::run(args),
        Some(Command::InitStats(args)) => cli::init_stats::run(args),
        Some(Command::Bounds(args)) => cli::bounds::run(args),
        Some(Command::Sample(args)) => cli::sample::run(args),
        Some(Command::Compare(args)) => cli::compare::run(args),
        Some(Command::Experiment(args)) => cli::experiment::run(args),
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("relu-regions: error: {e:#}");
            std::process::exit(2);
        }
    }
}
