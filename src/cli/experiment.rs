//! `relu-regions experiment`: reproducible experiments that need exact counts.

use super::inputs::read_file;
use super::output::{emit, write_file};
use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use relu_regions::experiment::{hanin_rolnick_with, HrConfig};

#[derive(Debug, Args)]
pub struct ExperimentArgs {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(Debug, Subcommand)]
pub enum Which {
    /// Regions per unit area in planes through data points, divided by N²/2 (Hanin & Rolnick 2019).
    HaninRolnick(HrArgs),
}

#[derive(Debug, Args)]
pub struct HrArgs {
    /// Data points: {"points": [[...], ...]} or a slice file with "through" (default: the first
    /// 100 images of the 8×8 digits data, fixtures/data/digits-100.json, embedded).
    #[arg(long, value_name = "FILE")]
    pub data: Option<String>,
    /// Depths (hidden layers), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4")]
    pub depths: Vec<usize>,
    /// Widths, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128")]
    pub widths: Vec<usize>,
    /// Planes (each with a fresh network and three fresh data points) per architecture.
    #[arg(long, default_value_t = 16)]
    pub planes: usize,
    /// Seed of the ChaCha8 streams.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Standard deviation of the biases.
    #[arg(long, default_value_t = 1e-3)]
    pub bias_std: f64,
    /// Half side h of the window [-h, h]² (orthonormal plane coordinates, input-space units).
    #[arg(long, default_value_t = 3.0)]
    pub half_width: f64,
    /// Random segments per plane counted exactly (adds the 1-D density columns; 0: none).
    #[arg(long, default_value_t = 0)]
    pub lines: usize,
    /// Write the plot (ratio against N, one line per depth) to this SVG file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<String>,
    /// Print one JSON object instead of the Markdown table.
    #[arg(long)]
    pub json: bool,
}

const DEFAULT_DATA: &str = include_str!("../../fixtures/data/digits-100.json");

pub fn run(args: &ExperimentArgs) -> Result<i32> {
    match &args.which {
        Which::HaninRolnick(a) => run_hr(a),
    }
}

fn run_hr(args: &HrArgs) -> Result<i32> {
    let inputs: Vec<&str> = args.data.iter().map(String::as_str).collect();
    super::output::check_outputs(&inputs, &[("--svg", args.svg.as_deref())])?;
    let (text, name) = match &args.data {
        Some(p) => (read_file(p)?, p.clone()),
        None => (
            DEFAULT_DATA.to_string(),
            "(embedded fixtures/data/digits-100.json)".to_string(),
        ),
    };
    let data = parse_points(&text, &name)?;
    let cfg = HrConfig {
        depths: args.depths.clone(),
        widths: args.widths.clone(),
        planes: args.planes,
        seed: args.seed,
        bias_std: args.bias_std,
        half_width: args.half_width,
        lines: args.lines,
        ..HrConfig::default()
    };
    let bar = super::progress::Bar::counting(true, "planes");
    let report = hanin_rolnick_with(&data, &cfg, &bar)?;
    relu_regions::ProgressSink::finish(&bar);
    if let Some(path) = &args.svg {
        write_file("--svg", path, report.svg().as_bytes())?;
    }
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&format!(
            "{} data points of dimension {}, seed {} (ChaCha8), bias sd {}, window [-{h}, {h}]^2\n{}",
            report.data_points,
            report.input_dim,
            report.seed,
            report.bias_std,
            report.table(),
            h = report.half_width
        ))?;
    }
    Ok(0)
}

fn parse_points(text: &str, file: &str) -> Result<Vec<Vec<f64>>> {
    let bad = |field: &str, reason: &str| {
        anyhow!(relu_regions::Error::Field {
            file: file.to_string(),
            field: field.to_string(),
            reason: reason.to_string(),
        })
    };
    let root = relu_regions::json::parse(text, file)?;
    let obj = relu_regions::json::object(&root, file, "(top level)")?;
    relu_regions::json::check_keys(
        obj,
        &["points", "through", "labels", "box", "meta"],
        file,
        "",
    )?;
    let key = if root.get("points").is_some() {
        "points"
    } else {
        "through"
    };
    let arr = root.get(key).and_then(|v| v.as_array()).ok_or_else(|| {
        bad(
            "points",
            "missing: expected \"points\" (or \"through\"), an array of points",
        )
    })?;
    arr.iter()
        .enumerate()
        .map(|(i, p)| {
            p.as_array()
                .ok_or_else(|| bad(&format!("{key}[{i}]"), "expected an array of numbers"))?
                .iter()
                .enumerate()
                .map(|(k, x)| {
                    x.as_f64()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| bad(&format!("{key}[{i}][{k}]"), "expected a finite number"))
                })
                .collect()
        })
        .collect()
}
