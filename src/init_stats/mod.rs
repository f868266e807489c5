//! Monte Carlo checks of the initialisation theorems of Hanin & Rolnick, "How to Start Training:
//! The Effect of Initialization and Architecture" (NeurIPS 2018).
//!
//! The quantity under study is the normalised squared activation length `M_j = ||h_j||² / n_j`
//! of a randomly initialised network at a fixed input. Two failure modes of early training are
//! read off its law:
//! - FM1: the mean `E[M_L]` explodes or vanishes with depth unless the weight variance is
//!   `2 / fan_in` (He);
//! - FM2: the spread `Var(M_L) / E[M_L]²` grows like `e^{5β} − 1`, with `β = Σ_j 1/n_j`, so it is
//!   the sum of reciprocal widths, not the depth, that must stay small.
//!
//! The module samples `K` independent networks ([`mod@simulate`]), summarises the per-layer moments
//! with confidence intervals next to the exact predictions ([`stats`]; definitions in
//! docs/experiments.md), runs the paper's sweeps as presets ([`sweeps`]) and draws `M_j` against
//! depth ([`plot`]).
//!
//! Pipeline: [`init`] (weight laws) + [`arch`] (which layers) → [`mod@simulate`] (moments, in parallel,
//! reproducible) → [`stats`] (predictions, verdicts, report) → [`sweeps`] / [`plot`].
//! The module does no I/O: reports are values (serde structs, strings) written by the binary.
//!
//! ```
//! use relu_regions::init_stats::{Architecture, Experiment, Init};
//! let exp = Experiment::new(Architecture::dense(vec![2, 16, 16, 16]).unwrap(), "he-normal".parse::<Init>().unwrap())
//!     .with_samples(200)
//!     .with_seed(7);
//! let report = exp.run().unwrap();
//! assert_eq!(report.layers.len(), 4);
//! // He keeps the mean: E[M_3] = M_0 = 1 exactly in expectation.
//! assert_eq!(report.layers[3].pred_mean_m, Some(1.0));
//! ```

pub mod arch;
pub mod init;
pub mod plot;
pub mod simulate;
pub mod spec;
pub mod stats;
pub mod sweeps;

pub use arch::{Architecture, Branch, ConvShape, EtaSchedule};
pub use init::{Init, McRng, Sampler, Scale, WeightLaw};
pub use simulate::{simulate, Experiment, Moments};
pub use spec::ExperimentSpec;
pub use stats::{LayerStats, Report, Verdict};
pub use sweeps::{Preset, SweepReport};

/// What can be wrong with an experiment's description. Each variant names the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InitStatsError {
    #[error("widths: {0}")]
    Widths(String),
    #[error("input: {0}")]
    Input(String),
    #[error("init: {0}")]
    Init(String),
    #[error("eta: {0}")]
    Eta(String),
    #[error("conv: {0}")]
    Conv(String),
    #[error("samples: need at least 2 samples for a variance, got {0}")]
    Samples(usize),
    #[error("bias variance: must be finite and >= 0, got {0}")]
    BiasVar(f64),
    #[error("sampler: {0}")]
    Sampler(String),
    #[error("preset: unknown preset `{0}` (known: {1})")]
    Preset(String, String),
    /// The experiment would need more memory than the limit (the estimate, then what to reduce).
    #[error("size: {0}")]
    TooLarge(String),
}
