//! Architectures whose activation lengths are simulated: fully connected ReLU stacks, residual
//! stacks `x_ℓ = x_{ℓ−1} + η_ℓ·F_ℓ(x_{ℓ−1})`, and 1-D / 2-D convolutions with circular padding.
//!
//! Every architecture has layers `j = 0..L` (0 is the input) of `n_j` neurons, and `M_j` is
//! measured after each. Shapes are checked here, once, so the simulation never meets a bad one.

use std::fmt;
use std::str::FromStr;

use super::init::parse_number;
use super::InitStatsError;

/// Which layers make up the network.
#[derive(Clone, Debug, PartialEq)]
pub enum Architecture {
    /// `h_j = ReLU(W_j h_{j−1} + b_j)`, widths `n_0` (input) to `n_L`.
    Dense {
        widths: Vec<usize>,
    },
    Residual(Residual),
    Conv(Conv),
}

/// A residual stack of constant width. Block ℓ computes `F_ℓ(x) = W₂ ReLU(W₁ x + b₁) + b₂`,
/// followed by a ReLU for [`Branch::Relu`]; `W₁` follows the experiment's initialisation and `W₂`
/// has variance `branch_var / n` (gain `√branch_var` for orthogonal weights).
#[derive(Clone, Debug, PartialEq)]
pub struct Residual {
    pub width: usize,
    pub blocks: usize,
    pub branch: Branch,
    pub eta: EtaSchedule,
    pub branch_var: f64,
}

/// How a residual branch ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Branch {
    /// `F = W₂ ReLU(W₁ x)`: zero-mean branch, exact `E[M_ℓ] = (1 + v·(c/2)·η_ℓ²)·E[M_{ℓ−1}]`.
    Linear,
    /// `F = ReLU(W₂ ReLU(W₁ x))`: a nonnegative branch that pushes `M` up by a factor
    /// `1 + Θ(η_ℓ)`, so `M_L` stays bounded iff `Σ η_ℓ < ∞` (Hanin & Rolnick, Theorem 6).
    Relu,
}

impl FromStr for Branch {
    type Err = InitStatsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "linear" => Ok(Branch::Linear),
            "relu" => Ok(Branch::Relu),
            _ => Err(InitStatsError::Eta(format!(
                "unknown branch `{s}` (expected linear or relu)"
            ))),
        }
    }
}

/// The residual scales `η_1..η_L`.
#[derive(Clone, Debug, PartialEq)]
pub enum EtaSchedule {
    /// η_ℓ = value (`1`, `0.5`, …).
    Constant(f64),
    /// η_ℓ = 1/ℓ: Σ η² < ∞ but Σ η = ∞.
    InverseLayer,
    /// η_ℓ = 1/√L: Σ η² = 1 at every depth.
    InverseSqrtDepth,
    /// η_ℓ = r^ℓ: Σ η < ∞ for r < 1.
    Geometric(f64),
    /// η_ℓ given one by one; needs exactly L values.
    List(Vec<f64>),
}

impl EtaSchedule {
    pub fn values(&self, depth: usize) -> Result<Vec<f64>, InitStatsError> {
        let v: Vec<f64> = match self {
            EtaSchedule::Constant(e) => vec![*e; depth],
            EtaSchedule::InverseLayer => (1..=depth).map(|l| 1.0 / l as f64).collect(),
            EtaSchedule::InverseSqrtDepth => vec![1.0 / (depth as f64).sqrt(); depth],
            EtaSchedule::Geometric(r) => (1..=depth).map(|l| r.powi(l as i32)).collect(),
            EtaSchedule::List(v) => {
                if v.len() != depth {
                    return Err(InitStatsError::Eta(format!(
                        "the list has {} values for {depth} residual blocks",
                        v.len()
                    )));
                }
                v.clone()
            }
        };
        if let Some(bad) = v.iter().find(|e| !e.is_finite()) {
            return Err(InitStatsError::Eta(format!("η = {bad} is not finite")));
        }
        Ok(v)
    }
}

impl FromStr for EtaSchedule {
    type Err = InitStatsError;
    /// `1/l`, `1/sqrt(L)` (or `1/sqrtL`), `R^l` (e.g. `0.9^l`), a constant (`1`, `0.25`), or a
    /// list of L values separated by commas.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || {
            InitStatsError::Eta(format!(
                "cannot read `{s}` (expected 1/l, 1/sqrt(L), R^l, a number, or a comma list)"
            ))
        };
        match t {
            "1/l" | "1/ell" => return Ok(EtaSchedule::InverseLayer),
            "1/sqrt(L)" | "1/sqrtL" | "1/sqrt(l)" | "1/sqrtl" => {
                return Ok(EtaSchedule::InverseSqrtDepth)
            }
            _ => {}
        }
        if let Some(r) = t.strip_suffix("^l").or_else(|| t.strip_suffix("^ell")) {
            return parse_number(r).map(EtaSchedule::Geometric).ok_or_else(bad);
        }
        if t.contains(',') {
            let v: Option<Vec<f64>> = t.split(',').map(parse_number).collect();
            return v.map(EtaSchedule::List).ok_or_else(bad);
        }
        parse_number(t).map(EtaSchedule::Constant).ok_or_else(bad)
    }
}

impl fmt::Display for EtaSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtaSchedule::Constant(e) => write!(f, "{e}"),
            EtaSchedule::InverseLayer => write!(f, "1/l"),
            EtaSchedule::InverseSqrtDepth => write!(f, "1/sqrt(L)"),
            EtaSchedule::Geometric(r) => write!(f, "{r}^l"),
            EtaSchedule::List(v) => {
                let s: Vec<String> = v.iter().map(|e| e.to_string()).collect();
                write!(f, "{}", s.join(","))
            }
        }
    }
}

/// The spatial grid of a convolutional stack; stride 1 and circular padding keep it fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvShape {
    D1 { len: usize },
    D2 { height: usize, width: usize },
}

impl ConvShape {
    pub fn positions(self) -> usize {
        match self {
            ConvShape::D1 { len } => len,
            ConvShape::D2 { height, width } => height * width,
        }
    }
}

/// A convolutional stack: channels `c_0..c_L`, one kernel size for every layer (`k` taps in 1-D,
/// `k×k` in 2-D), circular padding, one bias per output channel. `fan_in = taps · c_in`, and the
/// mean law is the dense one: with circular padding every input position is seen by every tap.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    pub shape: ConvShape,
    pub channels: Vec<usize>,
    pub kernel: usize,
}

impl Conv {
    pub fn taps(&self) -> usize {
        match self.shape {
            ConvShape::D1 { .. } => self.kernel,
            ConvShape::D2 { .. } => self.kernel * self.kernel,
        }
    }

    /// For every tap, the input position read by each output position: `table[t*S + p]`.
    /// Offsets are centred (`−⌊k/2⌋..`) and wrap around.
    pub(crate) fn gather_table(&self) -> Vec<usize> {
        let k = self.kernel as isize;
        let wrap = |i: isize, n: usize| i.rem_euclid(n as isize) as usize;
        let mut table = Vec::new();
        match self.shape {
            ConvShape::D1 { len } => {
                for t in 0..k {
                    let d = t - k / 2;
                    table.extend((0..len).map(|p| wrap(p as isize + d, len)));
                }
            }
            ConvShape::D2 { height, width } => {
                for ty in 0..k {
                    for tx in 0..k {
                        let (dy, dx) = (ty - k / 2, tx - k / 2);
                        for y in 0..height {
                            for x in 0..width {
                                let yy = wrap(y as isize + dy, height);
                                let xx = wrap(x as isize + dx, width);
                                table.push(yy * width + xx);
                            }
                        }
                    }
                }
            }
        }
        table
    }
}

impl Architecture {
    /// A fully connected stack; `widths[0]` is the input dimension.
    pub fn dense(widths: Vec<usize>) -> Result<Self, InitStatsError> {
        check_widths(&widths)?;
        Ok(Architecture::Dense { widths })
    }

    /// A residual stack given by `widths = [n, n, …, n]` (input then one entry per block; all
    /// equal, since `x_ℓ = x_{ℓ−1} + …` needs one width).
    pub fn residual(
        widths: &[usize],
        branch: Branch,
        eta: EtaSchedule,
        branch_var: f64,
    ) -> Result<Self, InitStatsError> {
        check_widths(widths)?;
        if widths.iter().any(|&w| w != widths[0]) {
            return Err(InitStatsError::Widths(format!(
                "a residual stack needs one width for the input and every block, got {widths:?}"
            )));
        }
        if !(branch_var.is_finite() && branch_var > 0.0) {
            return Err(InitStatsError::Init(format!(
                "the branch variance must be finite and positive, got {branch_var}"
            )));
        }
        let blocks = widths.len() - 1;
        eta.values(blocks)?;
        Ok(Architecture::Residual(Residual {
            width: widths[0],
            blocks,
            branch,
            eta,
            branch_var,
        }))
    }

    /// A convolutional stack; `channels[0]` is the number of input channels.
    pub fn conv(
        shape: ConvShape,
        channels: Vec<usize>,
        kernel: usize,
    ) -> Result<Self, InitStatsError> {
        check_widths(&channels)?;
        let sides: &[usize] = match &shape {
            ConvShape::D1 { len } => &[*len],
            ConvShape::D2 { height, width } => &[*height, *width],
        };
        if sides.contains(&0) {
            return Err(InitStatsError::Conv(
                "the spatial size must be at least 1".into(),
            ));
        }
        if kernel == 0 || sides.iter().any(|&s| kernel > s) {
            return Err(InitStatsError::Conv(format!(
                "kernel size {kernel} must be between 1 and the spatial size {sides:?}"
            )));
        }
        Ok(Architecture::Conv(Conv {
            shape,
            channels,
            kernel,
        }))
    }

    /// Number of layers after the input, L.
    pub fn depth(&self) -> usize {
        match self {
            Architecture::Dense { widths } => widths.len() - 1,
            Architecture::Residual(r) => r.blocks,
            Architecture::Conv(c) => c.channels.len() - 1,
        }
    }

    /// Neurons per layer, `n_0..n_L` (a convolution's layer has channels × positions neurons).
    pub fn layer_sizes(&self) -> Vec<usize> {
        match self {
            Architecture::Dense { widths } => widths.clone(),
            Architecture::Residual(r) => vec![r.width; r.blocks + 1],
            Architecture::Conv(c) => {
                let s = c.shape.positions();
                c.channels.iter().map(|ch| ch * s).collect()
            }
        }
    }

    /// β = Σ_{j=1..L} 1/n_j, the quantity that controls FM2 in a dense stack.
    pub fn beta(&self) -> f64 {
        self.layer_sizes()[1..]
            .iter()
            .map(|&n| 1.0 / n as f64)
            .sum()
    }

    /// A short name for reports: `dense`, `resnet(branch=linear, eta=1/l, v=1)`, `conv1d(32, k=3)`.
    pub fn describe(&self) -> String {
        match self {
            Architecture::Dense { .. } => "dense".into(),
            Architecture::Residual(r) => {
                let b = match r.branch {
                    Branch::Linear => "linear",
                    Branch::Relu => "relu",
                };
                format!("resnet(branch={b}, eta={}, v={})", r.eta, r.branch_var)
            }
            Architecture::Conv(c) => match c.shape {
                ConvShape::D1 { len } => format!("conv1d(len={len}, k={})", c.kernel),
                ConvShape::D2 { height, width } => {
                    format!("conv2d({height}x{width}, k={}x{})", c.kernel, c.kernel)
                }
            },
        }
    }
}

fn check_widths(widths: &[usize]) -> Result<(), InitStatsError> {
    if widths.len() < 2 {
        return Err(InitStatsError::Widths(format!(
            "need the input dimension and at least one layer, got {} number(s)",
            widths.len()
        )));
    }
    if let Some(i) = widths.iter().position(|&w| w == 0) {
        return Err(InitStatsError::Widths(format!(
            "entry {i} is 0; every width must be at least 1"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_schedules_parse_and_expand() {
        let v = |s: &str, l| s.parse::<EtaSchedule>().unwrap().values(l).unwrap();
        assert_eq!(v("1", 3), vec![1.0; 3]);
        assert_eq!(v("1/l", 3), vec![1.0, 0.5, 1.0 / 3.0]);
        assert_eq!(v("1/sqrt(L)", 4), vec![0.5; 4]);
        assert_eq!(v("0.5^l", 3), vec![0.5, 0.25, 0.125]);
        assert_eq!(v("0.1,0.2", 2), vec![0.1, 0.2]);
        assert!("0.1,0.2".parse::<EtaSchedule>().unwrap().values(3).is_err());
        assert!("fast".parse::<EtaSchedule>().is_err());
    }

    #[test]
    fn circular_gather_wraps_both_axes() {
        let c = Conv {
            shape: ConvShape::D2 {
                height: 2,
                width: 3,
            },
            channels: vec![1, 1],
            kernel: 3,
        };
        let t = c.gather_table();
        assert_eq!(t.len(), 9 * 6);
        // Tap (dy, dx) = (−1, −1) at output (0, 0) reads (1, 2).
        assert_eq!(t[0], 5);
        // The centre tap reads the output's own position.
        assert_eq!(&t[4 * 6..5 * 6], &[0, 1, 2, 3, 4, 5]);
        // Every tap is a permutation: each input position is read once per tap.
        for tap in t.chunks(6) {
            let mut s = tap.to_vec();
            s.sort();
            assert_eq!(s, vec![0, 1, 2, 3, 4, 5]);
        }
    }

    #[test]
    fn shapes_are_checked() {
        assert!(Architecture::dense(vec![3]).is_err());
        assert!(Architecture::dense(vec![3, 0, 2]).is_err());
        assert!(Architecture::residual(
            &[4, 4, 5],
            Branch::Linear,
            EtaSchedule::Constant(1.0),
            1.0
        )
        .is_err());
        assert!(Architecture::conv(ConvShape::D1 { len: 2 }, vec![1, 2], 3).is_err());
        assert_eq!(
            Architecture::dense(vec![2, 4, 5]).unwrap().beta(),
            0.25 + 0.2
        );
    }
}
