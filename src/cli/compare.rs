//! `relu-regions compare`: check an outside tool's estimate against the exact partition.

use super::inputs::{exact_regions, load_network, load_slice, read_file};
use super::output::emit;
use super::progress::Bar;
use anyhow::Result;
use clap::Args;
use relu_regions::compare::{compare, Estimate};
use relu_regions::Restricted;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Network JSON (version 1).
    pub net: String,
    /// Slice JSON. Default: the identity slice.
    #[arg(long, value_name = "FILE")]
    pub subspace: Option<String>,
    /// Box for the identity slice (or to replace the slice file's box), e.g. -1:1,-1:1.
    #[arg(long = "box", value_name = "LO:HI,...", allow_hyphen_values = true)]
    pub box_: Option<String>,
    /// The estimate: {"regions": N, "patterns": [[0,1,...],...], "points": [[t...],...]}.
    #[arg(long, value_name = "FILE")]
    pub estimate: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Exit code 1 when the estimate holds an impossible pattern or a wrong point.
pub fn run(args: &CompareArgs) -> Result<i32> {
    let (net, _) = load_network(Some(&args.net))?;
    let slice = load_slice(&net, args.subspace.as_deref(), args.box_.as_deref())?;
    let restricted = Restricted::new(&net, &slice)?;
    let estimate = Estimate::from_json(
        &read_file(&args.estimate)?,
        &args.estimate,
        &slice.domain,
        &restricted,
    )?;
    let exact = exact_regions(&restricted, &slice, &Bar::new(!args.quiet))?;
    let result = compare(&exact, &restricted, &estimate);
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&result)?))?;
    } else {
        emit(&result.table())?;
    }
    Ok(if result.passed { 0 } else { 1 })
}
