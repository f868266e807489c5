//! `relu-regions verify`: re-checks a regions file by the exact certificate
//! (docs/guide.md#exactness-and-the-certificate).

use super::inputs::{load_network, load_slice, read_file};
use anyhow::Result;
use clap::Args;
use relu_regions::certificate::{verify, PartitionFile};
use relu_regions::Restricted;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Network JSON.
    pub net: String,
    /// Slice JSON (default: the identity slice over --box).
    #[arg(long, value_name = "FILE")]
    pub subspace: Option<String>,
    #[arg(long = "box", value_name = "LO:HI,...", allow_hyphen_values = true)]
    pub box_: Option<String>,
    /// The regions file to check.
    #[arg(long, value_name = "FILE")]
    pub partition: String,
}

pub fn run(args: &VerifyArgs) -> Result<i32> {
    let (net, _) = load_network(Some(&args.net))?;
    let slice = load_slice(&net, args.subspace.as_deref(), args.box_.as_deref())?;
    let restricted = Restricted::new(&net, &slice)?;
    let text = read_file(&args.partition)?;
    let file: PartitionFile = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(relu_regions::Error::Json {
            file: args.partition.clone(),
            reason: e.to_string(),
        })
    })?;
    match verify(&restricted.exact, &slice.domain, &file) {
        Ok(regions) => {
            println!("verified: {regions} regions are exactly the activation regions (certificate holds)");
            Ok(0)
        }
        Err(reason) => {
            println!("REJECTED: {reason}");
            Ok(1)
        }
    }
}
