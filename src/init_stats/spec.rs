//! An experiment described by plain options (what `init-stats` flags and the Python package's
//! keyword arguments give), checked and built into an [`Experiment`].

use super::{
    Architecture, Branch, ConvShape, EtaSchedule, Experiment, Init, InitStatsError, Sampler,
    WeightLaw,
};

/// The options of one experiment; [`ExperimentSpec::build`] checks them together.
#[derive(Debug, Clone)]
pub struct ExperimentSpec {
    /// Layer widths, input dimension first (channels for convolutions).
    pub widths: Vec<usize>,
    pub init: Init,
    /// Weight law of an i.i.d. initialisation (not with orthogonal weights).
    pub law: Option<WeightLaw>,
    /// Gain of orthogonal weights (orthogonal only).
    pub gain: Option<f64>,
    pub bias_var: f64,
    /// A residual stack: its scales, how a branch ends, and the branch's second-layer variance
    /// factor (default: the first layer's).
    pub resnet: Option<(EtaSchedule, Branch, Option<f64>)>,
    /// 1-D circular convolutions over this many positions.
    pub conv1d: Option<usize>,
    /// 2-D circular convolutions over an H × W grid.
    pub conv2d: Option<(usize, usize)>,
    pub kernel: usize,
    pub sampler: Option<Sampler>,
    /// K (default: the experiment's).
    pub samples: Option<usize>,
    pub seed: u64,
    /// The input x (default all ones).
    pub input: Option<Vec<f64>>,
    pub include_input: bool,
    /// Sample paths kept for plots.
    pub trajectories: usize,
}

impl ExperimentSpec {
    /// The experiment, or the first option at fault.
    pub fn build(&self) -> Result<Experiment, InitStatsError> {
        let widths = &self.widths;
        let mut init = self.init;
        if let Some(law) = self.law {
            if matches!(init, Init::Orthogonal { .. }) {
                return Err(InitStatsError::Init(
                    "a weight law (--law) applies to i.i.d. initialisations, not to orthogonal weights".into(),
                ));
            }
            init = init.with_law(law);
        }
        if let Some(gain) = self.gain {
            if !matches!(init, Init::Orthogonal { .. }) {
                return Err(InitStatsError::Init(
                    "a gain (--gain) applies to orthogonal weights only".into(),
                ));
            }
            init = init.with_gain(gain);
        }
        let arch = if let Some((eta, branch, branch_var)) = &self.resnet {
            let v = branch_var.unwrap_or_else(|| 2.0 * init.mean_factor(widths[0], widths[0]));
            Architecture::residual(widths, *branch, eta.clone(), v)?
        } else if let Some(len) = self.conv1d {
            Architecture::conv(ConvShape::D1 { len }, widths.clone(), self.kernel)?
        } else if let Some((height, width)) = self.conv2d {
            Architecture::conv(ConvShape::D2 { height, width }, widths.clone(), self.kernel)?
        } else {
            Architecture::dense(widths.clone())?
        };
        let mut exp = Experiment::new(arch, init)
            .with_seed(self.seed)
            .with_bias_var(self.bias_var)
            .with_include_input(self.include_input)
            .with_trajectories(self.trajectories);
        if let Some(k) = self.samples {
            exp = exp.with_samples(k);
        }
        if let Some(sampler) = self.sampler {
            exp = exp.with_sampler(sampler);
        }
        if let Some(x) = &self.input {
            exp = exp.with_input(x.clone());
        }
        exp.validate()?;
        Ok(exp)
    }
}
