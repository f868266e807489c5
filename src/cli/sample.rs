//! `relu-regions sample`: sampled estimates of the region count
//! (docs/guide.md#sampling-estimators).

use super::inputs::{load_network, load_slice};
use super::output::emit;
use super::progress::Bar;
use anyhow::Result;
use clap::Args;
use relu_regions::sampling::{self, SampleMethod};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("method").required(true).args(["grid", "points", "lines"])))]
pub struct SampleArgs {
    /// Network JSON (version 1). Default: the embedded 2-16-16-16 network.
    pub net: Option<String>,
    /// Slice JSON. Default: the identity slice.
    #[arg(long, value_name = "FILE")]
    pub subspace: Option<String>,
    /// Box for the identity slice (or to replace the slice file's box), e.g. -1:1,-1:1.
    #[arg(long = "box", value_name = "LO:HI,...", allow_hyphen_values = true)]
    pub box_: Option<String>,
    /// Patterns at the centres of an M^d grid of cells.
    #[arg(long, value_name = "M")]
    pub grid: Option<usize>,
    /// Patterns at K uniform random points, with the Chao1 estimate of the total.
    #[arg(long, value_name = "K")]
    pub points: Option<usize>,
    /// Exact counts along K random segments (endpoints uniform in the domain).
    #[arg(long, value_name = "K")]
    pub lines: Option<usize>,
    /// Seed of the ChaCha8 generator (random points and lines).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &SampleArgs) -> Result<i32> {
    let (net, name) = load_network(args.net.as_deref())?;
    let slice = load_slice(&net, args.subspace.as_deref(), args.box_.as_deref())?;
    let (method, unit) = match (args.grid, args.points, args.lines) {
        (Some(m), _, _) => (SampleMethod::Grid(m), "points"),
        (None, Some(k), _) => (SampleMethod::Points(k), "points"),
        (None, None, Some(k)) => (SampleMethod::Lines(k), "segments"),
        (None, None, None) => unreachable!("clap requires one method"),
    };
    let bar = Bar::counting(!args.quiet, unit);
    let mut value = sampling::sample(&net, &slice, method, args.seed, &bar)?;
    relu_regions::ProgressSink::finish(&bar);
    value["network"] = name.into();
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
    } else {
        let obj = value.as_object().expect("an object");
        let mut text = String::new();
        for (k, v) in obj {
            if k == "regions" || k == "lengths" {
                let n = v.as_array().map_or(0, |a| a.len());
                text += &format!("  {k:<24} ({n} values; see --json)\n");
            } else {
                text += &format!("  {k:<24} {v}\n");
            }
        }
        emit(&text)?;
    }
    Ok(0)
}
