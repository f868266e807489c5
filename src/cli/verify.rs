//! `relu-regions verify`: re-checks a regions file by the exact certificate
//! (docs/guide.md#exactness-and-the-certificate).

use super::inputs::{load_network, load_slice, read_file};
use super::output::emit;
use anyhow::Result;
use clap::Args;
use relu_regions::certificate::{verify, PartitionFile};
use relu_regions::Restricted;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Network JSON.
    pub net: String,
    /// Slice JSON. Default: the slice recorded in the regions file (files written by
    /// `count --regions` record it), else the identity slice over --box.
    #[arg(long, value_name = "FILE")]
    pub subspace: Option<String>,
    #[arg(long = "box", value_name = "LO:HI,...", allow_hyphen_values = true)]
    pub box_: Option<String>,
    /// The regions file to check.
    #[arg(long, value_name = "FILE")]
    pub partition: String,
    /// No progress messages.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &VerifyArgs) -> Result<i32> {
    let (net, _) = load_network(Some(&args.net))?;
    let text = read_file(&args.partition)?;
    let file = PartitionFile::from_json(&text, &args.partition)?;
    let recorded = file.recorded_slice(net.input_dim(), &args.partition)?;
    let slice = match (&recorded, args.subspace.is_some() || args.box_.is_some()) {
        (Some(recorded), false) => recorded.clone(),
        (recorded, _) => {
            let given = load_slice(&net, args.subspace.as_deref(), args.box_.as_deref())?;
            if let Some(recorded) = recorded {
                if *recorded != given {
                    emit(
                        "REJECTED: the slice given (--subspace/--box) is not the slice the regions \
                         file records; leave them out to check the file on its own slice\n",
                    )?;
                    return Ok(1);
                }
            }
            given
        }
    };
    let restricted = Restricted::new(&net, &slice)?;
    let spinner = super::progress::Spinner::new(
        !args.quiet,
        format!("checking {} regions", file.regions.len()),
    );
    let verdict = verify(&restricted, &slice.domain, &file);
    spinner.finish();
    match verdict {
        Ok(regions) => {
            emit(&format!(
                "verified: {regions} regions are exactly the activation regions (certificate holds)\n"
            ))?;
            Ok(0)
        }
        Err(reason) => {
            emit(&format!("REJECTED: {reason}\n"))?;
            Ok(1)
        }
    }
}
