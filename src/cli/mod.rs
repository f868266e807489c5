//! The command line: argument structs (clap) and one `run` per subcommand. The library does the
//! work; this side reads files, prints, and maps outcomes to exit codes (0 ok, 1 a check
//! failed, 2 bad input or usage).

pub mod batch;
pub mod bounds;
pub mod compare;
pub mod count;
pub mod experiment;
pub mod init_stats;
pub mod inputs;
pub mod output;
pub mod progress;
pub mod sample;
pub mod verify;

use clap::{Parser, Subcommand};
use std::sync::OnceLock;
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// The most worker threads any command starts (`--threads`): more is a typo, not a machine.
pub const MAX_THREADS: usize = 1024;

/// Marks the start of the command (call first thing in `main`).
pub fn mark_start() {
    STARTED.get_or_init(Instant::now);
}

/// Seconds since the command started (the whole run's wall time in reports).
pub fn seconds_since_start() -> f64 {
    STARTED.get_or_init(Instant::now).elapsed().as_secs_f64()
}

#[derive(Debug, Parser)]
#[command(
    name = "relu-regions",
    version,
    about = "Exact, certified linear regions of ReLU networks on low-dimensional slices",
    long_about = "Exact, certified linear regions of ReLU networks on low-dimensional slices.\n\n\
                  With no subcommand, counts the regions of the embedded default network \
                  (2-16-16-16) on [-1,1]^2."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count the activation regions a slice meets, exactly.
    Count(count::CountArgs),
    /// Re-check a regions file (written by `count --regions`) by the exact certificate.
    Verify(verify::VerifyArgs),
    /// Monte Carlo statistics of activation lengths at initialisation (Hanin & Rolnick 2018).
    InitStats(init_stats::InitStatsArgs),
    /// Theoretical bounds on the region count and the Hanin–Rolnick density.
    Bounds(bounds::BoundsArgs),
    /// Sampled estimates: grid, random points (with Chao1), random lines.
    Sample(sample::SampleArgs),
    /// Check an outside tool's estimate against the exact partition.
    Compare(compare::CompareArgs),
    /// Reproducible experiments (e.g. regions per unit area vs the Hanin–Rolnick density).
    Experiment(experiment::ExperimentArgs),
    /// Count many jobs (one JSON line each) in one process, optionally one shard of them
    /// (--shard I/N or slurm), resumable; one JSON result line per job.
    Batch(batch::BatchArgs),
    /// Join batch results (shards): checks that no job is missing or doubled.
    Merge(batch::MergeArgs),
}
