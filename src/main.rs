//! The `relu-regions` binary: parse, call the library, map outcomes to exit codes.

mod cli;

use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Command};

fn main() {
    cli::mark_start();
    keep_freed_memory();
    // Negative numbers are values, not flags, in every subcommand (`--bias-std -1` reaches the
    // range check instead of being taken for an unknown flag).
    let command = negative_numbers_everywhere(Cli::command());
    let cli = match command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
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
        Some(Command::Batch(args)) => cli::batch::run(args),
        Some(Command::Merge(args)) => cli::batch::run_merge(args),
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("relu-regions: error: {e:#}");
            std::process::exit(2);
        }
    }
}

fn negative_numbers_everywhere(command: clap::Command) -> clap::Command {
    command
        .allow_negative_numbers(true)
        .mut_subcommands(negative_numbers_everywhere)
}

/// The engine frees each layer's buffers shortly before the next layer allocates buffers of about
/// the same size. By default glibc serves blocks above a moving threshold with their own mappings
/// and returns freed memory to the kernel, so every layer faults in fresh pages (about 1 µs each
/// on this kind of machine). Keeping blocks up to 32 MiB in the heap and never trimming it lets
/// later layers reuse those pages: measured 16 % faster on a 32-wide network and 9 % on a 64-wide
/// one (medians of 10 fresh runs each). (Turning fast bins off, `M_MXFAST` 0, made the 3-D
/// default count 13 % faster but the planar default count on 600 k regions 5–10 % slower: kept on.)
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// Run by each worker thread of the enumeration's pool as it starts. glibc gives every thread its
/// own heap and grows it by exactly what each allocation lacks, one `mprotect` call at a time
/// (about 150 in a cold run of the 32-wide network), and each such call stops the other thread's
/// page faults while it changes the address space. Growing the heap once by 24 MiB (under the
/// 32 MiB that `keep_freed_memory` keeps in heaps; address space only, as glibc writes just two
/// chunk headers, and with trimming off it stays) takes that down to about 20 calls: cold runs 9 % faster on
/// mlp-2-32x32x32 and 3 % on mlp-2-64x64x64 (21 alternating fresh processes), warm runs unchanged.
pub(crate) fn reserve_thread_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    drop(std::hint::black_box(Vec::<u8>::with_capacity(24 << 20)));
}
