//! `relu-regions bounds`: the bounds of docs/guide.md#bounds for a network on a slice, optionally
//! with the count.

use super::inputs::{load_network, load_slice};
use anyhow::Result;
use clap::Args;
use relu_regions::bounds::bounds_for_slice;
use relu_regions::{count_regions, EnumerateConfig};

#[derive(Debug, Args)]
pub struct BoundsArgs {
    /// Network JSON (version 1). Default: the embedded 2-16-16-16 network.
    pub net: Option<String>,
    /// Slice JSON. Default: the identity slice.
    #[arg(long, value_name = "FILE")]
    pub subspace: Option<String>,
    /// Box for the identity slice (or to replace the slice file's box), e.g. -1:1,-1:1.
    #[arg(long = "box", value_name = "LO:HI,...", allow_hyphen_values = true)]
    pub box_: Option<String>,
    /// Also count the regions exactly and report count ÷ Hanin–Rolnick and the fitted T.
    #[arg(long)]
    pub count: bool,
    /// Print one JSON object (integer bounds as decimal strings).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &BoundsArgs) -> Result<i32> {
    let (net, name) = load_network(args.net.as_deref())?;
    let slice = load_slice(&net, args.subspace.as_deref(), args.box_.as_deref())?;
    let mut bounds = bounds_for_slice(&net.hidden_widths(), &slice);
    let mut count = None;
    if args.count {
        let partition = count_regions(&net, &slice, &EnumerateConfig::default())?;
        count = Some(partition.regions.len());
        bounds = bounds.with_count(partition.regions.len());
    }
    if args.json {
        let mut value = serde_json::to_value(&bounds)?;
        if let Some(c) = count {
            value["activation_regions"] = c.into();
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let mut widths = vec![bounds.dim.to_string()];
        widths.extend(bounds.widths.iter().map(|w| w.to_string()));
        println!(
            "  {:<20} {name} (restricted: {}, {} hidden neurons)",
            "network",
            widths.join("-"),
            bounds.neurons
        );
        if let Some(c) = count {
            println!("  {:<20} {c}   (exact)", "activation regions");
        }
        for (k, v) in bounds.table_rows(count) {
            println!("  {k:<20} {v}");
        }
    }
    Ok(0)
}
