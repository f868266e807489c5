//! relu-regions: thin command line over the library. Parses, calls, prints, maps errors to exit
//! codes (0 success, 1 a check failed, 2 bad input or usage).

mod cli;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "relu-regions",
    version,
    about = "Exact linear regions of ReLU networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Monte Carlo statistics of activation lengths at initialisation (Hanin & Rolnick 2018).
    InitStats(cli::init_stats::InitStatsArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::InitStats(args) => cli::init_stats::run(&args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("relu-regions: error: {e:#}");
            std::process::exit(2);
        }
    }
}
