//! `relu-regions bounds`: the bounds of docs/guide.md#bounds for a network on a slice, optionally
//! with the count.

use super::inputs::{exact_regions, load_network, load_slice};
use super::output::emit;
use super::progress::Bar;
use anyhow::Result;
use clap::Args;
use relu_regions::bounds::bounds_for_slice;
use relu_regions::Restricted;

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
    /// No progress bar (with --count).
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &BoundsArgs) -> Result<i32> {
    let (net, name) = load_network(args.net.as_deref())?;
    let slice = load_slice(&net, args.subspace.as_deref(), args.box_.as_deref())?;
    let mut bounds = bounds_for_slice(&net.hidden_widths(), &slice);
    let mut count = None;
    if args.count {
        let restricted = Restricted::new(&net, &slice)?;
        let regions = exact_regions(&restricted, &slice, &Bar::new(!args.quiet))?;
        count = Some(regions.patterns.len());
        bounds = bounds.with_count(regions.patterns.len());
    }
    if args.json {
        let mut value = serde_json::to_value(&bounds)?;
        if let Some(c) = count {
            value["activation_regions"] = c.into();
        }
        emit(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
    } else {
        let mut widths = vec![bounds.dim.to_string()];
        widths.extend(bounds.widths.iter().map(|w| w.to_string()));
        let mut text = format!(
            "  {:<20} {name} (restricted: {}, {} hidden neurons)\n",
            "network",
            widths.join("-"),
            bounds.neurons
        );
        if let Some(c) = count {
            text += &format!("  {:<20} {c}   (exact)\n", "activation regions");
        }
        for (k, v) in bounds.table_rows(count) {
            text += &format!("  {k:<20} {v}\n");
        }
        emit(&text)?;
    }
    Ok(0)
}
