//! `relu-regions init-stats`: Monte Carlo statistics of `M_j = ||h_j||²/n_j` at initialisation.
//!
//! Parses flags into an [`Experiment`] (or a sweep preset), runs it in a pool of `--threads`
//! threads, prints the table or `--json` on stdout, and writes `--svg`. Bad flags exit with code 2
//! and a message that names the flag.

use std::path::PathBuf;

use super::output::{emit, write_file};
use anyhow::Context;
use relu_regions::init_stats::{
    plot, sweeps, Branch, EtaSchedule, Experiment, ExperimentSpec, Init, InitStatsError, Preset,
    Sampler, WeightLaw,
};

/// Flags of `init-stats`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  relu-regions init-stats --widths 2,16,16,16\n  \
    relu-regions init-stats --widths 16,16,16,16,16,16,16 --resnet --eta 1/l --branch-var 1\n  \
    relu-regions init-stats --conv2d 8x8 --kernel 3 --widths 1,8,8,8\n  \
    relu-regions init-stats --preset fm1 --svg fm1.svg"
)]
pub struct InitStatsArgs {
    /// Layer widths, input dimension first (channels for --conv1d/--conv2d).
    #[arg(long, value_name = "N0,N1,...", value_parser = parse_widths)]
    pub widths: Option<Widths>,
    /// The input x (default all ones), n0 numbers (channel-major for convolutions).
    #[arg(long, value_name = "X1,X2,...", value_parser = parse_numbers, allow_hyphen_values = true)]
    pub input: Option<Numbers>,
    /// he-normal, he-uniform, lecun, glorot, pytorch, orthogonal, or c=VALUE (Var w = c/fan_in).
    #[arg(long, default_value = "he-normal", value_parser = parse_init)]
    pub init: Init,
    /// Weight law of an i.i.d. initialisation: normal or uniform.
    #[arg(long, value_parser = parse_law)]
    pub law: Option<WeightLaw>,
    /// Gain g of --init orthogonal (default √2, which keeps the mean).
    #[arg(long)]
    pub gain: Option<f64>,
    /// Variance σ_b² of the (Gaussian) biases.
    #[arg(long, default_value_t = 0.0)]
    pub bias_var: f64,
    /// Residual stack x_l = x_(l-1) + eta_l F_l(x_(l-1)); all --widths equal.
    #[arg(long)]
    pub resnet: bool,
    /// Residual scales: 1/l, 1/sqrt(L), R^l (e.g. 0.9^l), a constant, or a list of L numbers.
    #[arg(long, default_value = "1", value_parser = parse_eta, requires = "resnet")]
    pub eta: EtaSchedule,
    /// How a residual branch ends: linear (W2 ReLU(W1 x)) or relu (ReLU(W2 ReLU(W1 x))).
    #[arg(long, default_value = "linear", value_parser = parse_branch, requires = "resnet")]
    pub branch: Branch,
    /// v: the branch's second layer has variance v/n (default: the first layer's c).
    #[arg(long, requires = "resnet")]
    pub branch_var: Option<f64>,
    /// 1-D convolutions with circular padding over LEN positions.
    #[arg(long, value_name = "LEN", conflicts_with_all = ["resnet", "conv2d"])]
    pub conv1d: Option<usize>,
    /// 2-D convolutions with circular padding over an HxW grid.
    #[arg(long, value_name = "HxW", value_parser = parse_grid, conflicts_with = "resnet")]
    pub conv2d: Option<(usize, usize)>,
    /// Kernel size of the convolutions (k taps, or k x k).
    #[arg(long, default_value_t = 3)]
    pub kernel: usize,
    /// weights: draw every weight (any law, any architecture); preactivations: draw W h from its
    /// exact law given h (Gaussian or orthogonal dense/residual only; much faster).
    #[arg(long, value_parser = parse_sampler)]
    pub sampler: Option<Sampler>,
    /// Number of sampled networks K (default 2000; each preset has its own).
    #[arg(long, value_name = "K")]
    pub samples: Option<usize>,
    /// Seed of the random streams (one ChaCha8 stream per sample).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write an SVG plot of M_j against depth.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Sample paths drawn in the SVG.
    #[arg(long, default_value_t = 20)]
    pub paths: usize,
    /// Include j = 0 in the empirical variance across layers.
    #[arg(long)]
    pub include_input: bool,
    /// Run a sweep of the paper's tables instead: fm1, fm2, resnet, orthogonal, conv.
    #[arg(long, value_parser = parse_preset, conflicts_with_all = ["widths", "resnet", "conv1d", "conv2d", "input"])]
    pub preset: Option<Preset>,
}

/// Parsed `--widths`.
#[derive(Clone, Debug, PartialEq)]
pub struct Widths(pub Vec<usize>);

/// Parsed list of numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Numbers(pub Vec<f64>);

fn parse_widths(s: &str) -> Result<Widths, String> {
    if s.trim().is_empty() {
        return Err("expected a comma-separated list of positive integers, got nothing".into());
    }
    let mut v = Vec::new();
    for (i, part) in s.split(',').enumerate() {
        let n: usize = part.trim().parse().map_err(|_| {
            format!("entry {i} (`{part}`) is not a positive integer; expected e.g. 2,16,16,16")
        })?;
        if n == 0 {
            return Err(format!("entry {i} is 0; every width must be at least 1"));
        }
        v.push(n);
    }
    if v.len() < 2 {
        return Err("need the input dimension and at least one layer width".into());
    }
    Ok(Widths(v))
}

fn parse_numbers(s: &str) -> Result<Numbers, String> {
    s.split(',')
        .enumerate()
        .map(|(i, p)| match p.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("entry {i} (`{p}`) is not a finite number")),
        })
        .collect::<Result<_, _>>()
        .map(Numbers)
}

fn parse_grid(s: &str) -> Result<(usize, usize), String> {
    let err = || format!("expected HxW with positive integers, e.g. 8x8, got `{s}`");
    let (h, w) = s.split_once(['x', 'X']).ok_or_else(err)?;
    let h: usize = h.trim().parse().map_err(|_| err())?;
    let w: usize = w.trim().parse().map_err(|_| err())?;
    Ok((h, w))
}

fn parse_init(s: &str) -> Result<Init, String> {
    s.parse::<Init>().map_err(|e| e.to_string())
}
fn parse_law(s: &str) -> Result<WeightLaw, String> {
    s.parse::<WeightLaw>().map_err(|e| e.to_string())
}
fn parse_eta(s: &str) -> Result<EtaSchedule, String> {
    s.parse::<EtaSchedule>().map_err(|e| e.to_string())
}
fn parse_branch(s: &str) -> Result<Branch, String> {
    s.parse::<Branch>().map_err(|e| e.to_string())
}
fn parse_sampler(s: &str) -> Result<Sampler, String> {
    s.parse::<Sampler>().map_err(|e| e.to_string())
}
fn parse_preset(s: &str) -> Result<Preset, String> {
    s.parse::<Preset>().map_err(|e| e.to_string())
}

/// The flag a library error is about, for messages.
fn flag_of(e: &InitStatsError) -> &'static str {
    match e {
        InitStatsError::Widths(_) => "--widths",
        InitStatsError::Input(_) => "--input",
        InitStatsError::Init(_) => "--init",
        InitStatsError::Eta(_) => "--eta",
        InitStatsError::Conv(_) => "--conv1d/--conv2d/--kernel",
        InitStatsError::Samples(_) => "--samples",
        InitStatsError::TooLarge(_) => "--samples/--widths",
        InitStatsError::BiasVar(_) => "--bias-var",
        InitStatsError::Preset(..) => "--preset",
        InitStatsError::Sampler(_) => "--sampler",
    }
}

fn usage(e: InitStatsError) -> i32 {
    eprintln!("relu-regions: error: invalid {}: {e}", flag_of(&e));
    2
}

/// Build the experiment the flags describe ([`ExperimentSpec::build`]).
pub fn experiment(args: &InitStatsArgs) -> Result<Experiment, InitStatsError> {
    let Some(Widths(widths)) = &args.widths else {
        return Err(InitStatsError::Widths(
            "required (e.g. --widths 2,16,16,16), unless --preset is given".into(),
        ));
    };
    ExperimentSpec {
        widths: widths.clone(),
        init: args.init,
        law: args.law,
        gain: args.gain,
        bias_var: args.bias_var,
        resnet: args
            .resnet
            .then(|| (args.eta.clone(), args.branch, args.branch_var)),
        conv1d: args.conv1d,
        conv2d: args.conv2d,
        kernel: args.kernel,
        sampler: args.sampler,
        samples: args.samples,
        seed: args.seed,
        input: args.input.as_ref().map(|Numbers(x)| x.clone()),
        include_input: args.include_input,
        trajectories: if args.svg.is_some() { args.paths } else { 0 },
    }
    .build()
}

/// Run `init-stats`; returns the exit code.
pub fn run(args: &InitStatsArgs) -> anyhow::Result<i32> {
    let svg = args.svg.as_ref().map(|p| p.to_string_lossy().into_owned());
    super::output::check_outputs(&[], &[("--svg", svg.as_deref())])?;
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        if n == 0 || n > super::MAX_THREADS {
            eprintln!(
                "relu-regions: error: invalid --threads: need 1 to {} threads, got {n}",
                super::MAX_THREADS
            );
            return Ok(2);
        }
        pool = pool.num_threads(n);
    }
    let pool = pool.build().context("starting the thread pool")?;

    if let Some(preset) = args.preset {
        let sweep =
            match pool.install(|| sweeps::run(preset, args.samples, args.seed, args.sampler)) {
                Ok(s) => s,
                Err(e) => return Ok(usage(e)),
            };
        if let Some(path) = &args.svg {
            write_file("--svg", &path.to_string_lossy(), sweep.svg.as_bytes())?;
        }
        if args.json {
            emit(&format!("{}\n", sweep.to_json()))?;
        } else {
            emit(&sweep.to_markdown())?;
        }
        return Ok(0);
    }

    let exp = match experiment(args) {
        Ok(e) => e,
        Err(e) => return Ok(usage(e)),
    };
    let bar = super::progress::Bar::counting(true, "samples");
    let report = match pool.install(|| exp.run_with(&bar)) {
        Ok(r) => r,
        Err(e) => return Ok(usage(e)),
    };
    if let Some(path) = &args.svg {
        write_file(
            "--svg",
            &path.to_string_lossy(),
            plot::report_chart(&report).as_bytes(),
        )?;
    }
    if args.json {
        emit(&format!("{}\n", report.to_json()))?;
    } else {
        emit(&report.to_table())?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_parser_names_the_problem() {
        assert_eq!(parse_widths("2,16").unwrap(), Widths(vec![2, 16]));
        assert!(parse_widths("").unwrap_err().contains("nothing"));
        assert!(parse_widths("2,0").unwrap_err().contains("entry 1 is 0"));
        assert!(parse_widths("2,x").unwrap_err().contains("`x`"));
        assert!(parse_widths("7").is_err());
        assert_eq!(parse_grid("8x4").unwrap(), (8, 4));
        assert!(parse_grid("8").is_err());
    }
}
