//! Sampling `M_j = ||h_j||²/n_j` over `K` independently initialised networks at one input.
//!
//! Each sample is a fresh network: its weights are drawn layer by layer while the input moves
//! forward, one matrix–vector product per layer, and never stored. The cost of a dense sample is
//! about `Σ_j n_j·nnz(h_{j−1})` weight draws and multiply-adds, where `nnz` is about half the
//! width after a ReLU (zero activations need no weights, see [`Init`]).
//!
//! Reproducibility: sample `s` uses its own ChaCha stream (`seed`, stream `s`), samples are
//! grouped in fixed chunks of [`CHUNK`], each chunk is reduced sequentially, and the chunk
//! results are merged in chunk order. The numbers are therefore the same, bit for bit, at any
//! thread count. Parallelism comes from the current rayon pool; run inside
//! `ThreadPool::install` to choose it.

use rand::SeedableRng;
use rayon::prelude::*;

use super::arch::{Architecture, Branch, Conv};
use super::init::{dot, Init, McRng, Sampler, Scratch, WeightLaw};
use super::stats::Report;
use super::InitStatsError;

/// Samples per work item. Part of the definition of the output (it fixes the reduction order), so
/// it does not depend on the thread count.
pub const CHUNK: usize = 32;

/// Everything that defines a Monte Carlo run. Defaults: 2000 samples, seed 0, zero biases,
/// input all ones, `Var_emp` over layers 1..L, no kept trajectories.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    pub arch: Architecture,
    pub init: Init,
    /// σ_b²: biases are Gaussian with this variance.
    pub bias_var: f64,
    /// The input `x = h_0`; `None` means all ones.
    pub input: Option<Vec<f64>>,
    /// K, the number of sampled networks.
    pub samples: usize,
    pub seed: u64,
    /// Include `j = 0` in the empirical variance across layers.
    pub include_input: bool,
    /// Keep the `M_j` paths of the first this many samples (for plots).
    pub trajectories: usize,
    /// Draw weights, or pre-activations from their exact law (Gaussian/orthogonal only).
    pub sampler: Sampler,
}

impl Experiment {
    pub fn new(arch: Architecture, init: Init) -> Self {
        Experiment {
            arch,
            init,
            bias_var: 0.0,
            input: None,
            samples: 2000,
            seed: 0,
            include_input: false,
            trajectories: 0,
            sampler: Sampler::Weights,
        }
    }
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }
    /// Refuses an experiment whose buffers would pass `limit` bytes: a weight matrix (or a
    /// convolution's feature maps) per worker thread, and a few numbers per sample and layer.
    /// The estimate is computed with checked arithmetic, so absurd sizes are refused, not
    /// overflowed.
    pub fn check_size(&self, limit: u64) -> Result<(), InitStatsError> {
        let too_large = || {
            InitStatsError::TooLarge(
                "the sizes overflow 64-bit arithmetic; reduce --widths, --samples or the image"
                    .into(),
            )
        };
        let mul = |a: u64, b: u64| a.checked_mul(b).ok_or_else(too_large);
        let per_layer: u64 = match &self.arch {
            Architecture::Dense { widths } => {
                let mut m = 0u64;
                for w in widths.windows(2) {
                    m = m.max(mul(w[0] as u64, w[1] as u64)?);
                }
                m
            }
            Architecture::Residual(r) => mul(r.width as u64, r.width as u64)?,
            Architecture::Conv(c) => {
                let positions: u64 = match c.shape {
                    crate::init_stats::arch::ConvShape::D1 { len } => len as u64,
                    crate::init_stats::arch::ConvShape::D2 { height, width } => {
                        mul(height as u64, width as u64)?
                    }
                };
                let channels = c.channels.iter().copied().max().unwrap_or(1) as u64;
                let weights = mul(mul(channels, channels)?, c.taps() as u64)?;
                mul(positions, channels)?.max(weights)
            }
        };
        let layers = self.arch.depth() as u64 + 1;
        let threads = rayon::current_num_threads() as u64;
        let bytes = mul(mul(per_layer, 8 * 4)?, threads)?
            .checked_add(mul(mul(self.samples as u64, layers)?, 8 * 4)?)
            .ok_or_else(too_large)?;
        if bytes > limit {
            return Err(InitStatsError::TooLarge(format!(
                "this experiment needs about {:.1} GiB ({} samples × {layers} layers, the largest                  layer {per_layer} numbers per thread); the limit is {:.0} GiB: reduce --samples                  or the widths",
                bytes as f64 / (1u64 << 30) as f64,
                self.samples,
                limit as f64 / (1u64 << 30) as f64
            )));
        }
        Ok(())
    }

    pub fn with_samples(mut self, k: usize) -> Self {
        self.samples = k;
        self
    }
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    pub fn with_bias_var(mut self, v: f64) -> Self {
        self.bias_var = v;
        self
    }
    pub fn with_input(mut self, x: Vec<f64>) -> Self {
        self.input = Some(x);
        self
    }
    pub fn with_include_input(mut self, yes: bool) -> Self {
        self.include_input = yes;
        self
    }
    pub fn with_trajectories(mut self, t: usize) -> Self {
        self.trajectories = t;
        self
    }

    /// The input vector, checked: `n_0` finite numbers (channel-major for convolutions).
    pub fn input_vector(&self) -> Result<Vec<f64>, InitStatsError> {
        let n0 = self.arch.layer_sizes()[0];
        let x = match &self.input {
            None => vec![1.0; n0],
            Some(x) => x.clone(),
        };
        if x.len() != n0 {
            return Err(InitStatsError::Input(format!(
                "{} values for an input of dimension {n0}",
                x.len()
            )));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(InitStatsError::Input(format!("entry {i} is not finite")));
        }
        Ok(x)
    }

    pub fn validate(&self) -> Result<(), InitStatsError> {
        self.init.validate()?;
        if self.samples < 2 {
            return Err(InitStatsError::Samples(self.samples));
        }
        self.check_size(64 << 30)?;
        if !(self.bias_var.is_finite() && self.bias_var >= 0.0) {
            return Err(InitStatsError::BiasVar(self.bias_var));
        }
        if matches!(self.arch, Architecture::Conv(_))
            && matches!(self.init, Init::Orthogonal { .. })
        {
            return Err(InitStatsError::Init(
                "orthogonal weights are offered for dense and residual layers only".into(),
            ));
        }
        if self.sampler == Sampler::Preactivations {
            let uniform = matches!(
                self.init,
                Init::Iid {
                    law: WeightLaw::Uniform,
                    ..
                }
            );
            if uniform || matches!(self.arch, Architecture::Conv(_)) {
                return Err(InitStatsError::Sampler(
                    "the pre-activation sampler is exact only for Gaussian or orthogonal weights \
                     in dense and residual layers; use the weight sampler"
                        .into(),
                ));
            }
        }
        self.input_vector()?;
        Ok(())
    }

    /// Simulate and summarise.
    pub fn run(&self) -> Result<Report, InitStatsError> {
        self.run_with(&crate::NoProgress)
    }

    /// [`Self::run`] with progress.
    pub fn run_with(&self, progress: &dyn crate::ProgressSink) -> Result<Report, InitStatsError> {
        let moments = simulate_with(self, progress)?;
        progress.finish();
        Ok(Report::new(self, &moments))
    }
}

/// Running mean and sum of squared deviations (Welford), mergeable (Chan et al.) in a fixed order.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Welford {
    pub n: u64,
    pub mean: f64,
    /// Σ (x − mean)².
    pub sq: f64,
}

impl Welford {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.sq += d * (x - self.mean);
    }
    pub fn merge(&mut self, o: &Welford) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n as f64;
        self.sq += o.sq + d * d * (self.n as f64 * o.n as f64 / n as f64);
        self.n = n;
    }
    /// Unbiased sample variance.
    pub fn var(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            self.sq / (self.n - 1) as f64
        }
    }
    /// Standard error of the mean.
    pub fn se(&self) -> f64 {
        (self.var() / self.n as f64).sqrt()
    }
}

/// Per-layer moments of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    pub samples: usize,
    /// M_0 of the (fixed) input.
    pub m0: f64,
    /// Moments of M_j, j = 0..L.
    pub m: Vec<Welford>,
    /// Moments of M_j², j = 0..L.
    pub m2: Vec<Welford>,
    /// Moments of ln M_j over the samples with M_j > 0. Heavy tails make the sample variance of
    /// M_j converge slowly when β is large; the spread of ln M_j (≈ 5β for wide Gaussian layers)
    /// is estimated well at any β.
    pub log_m: Vec<Welford>,
    /// Number of samples with M_j = 0 (every unit of layer j dead).
    pub zeros: Vec<u64>,
    /// Moments of the per-network variance across layers, Var_emp.
    pub var_emp: Welford,
    /// `M_0..M_L` of the first `Experiment::trajectories` samples, in sample order.
    pub trajectories: Vec<Vec<f64>>,
}

impl Moments {
    fn empty(layers: usize) -> Self {
        Moments {
            samples: 0,
            m0: 0.0,
            m: vec![Welford::default(); layers],
            m2: vec![Welford::default(); layers],
            log_m: vec![Welford::default(); layers],
            zeros: vec![0; layers],
            var_emp: Welford::default(),
            trajectories: Vec::new(),
        }
    }
    fn push(&mut self, path: &[f64], first_layer: usize) {
        self.samples += 1;
        for (j, &v) in path.iter().enumerate() {
            self.m[j].push(v);
            self.m2[j].push(v * v);
            if v > 0.0 {
                self.log_m[j].push(v.ln());
            } else {
                self.zeros[j] += 1;
            }
        }
        self.var_emp.push(variance_across(&path[first_layer..]));
    }
    fn merge(&mut self, o: Moments) {
        self.samples += o.samples;
        for (a, b) in self.m.iter_mut().zip(&o.m) {
            a.merge(b);
        }
        for (a, b) in self.m2.iter_mut().zip(&o.m2) {
            a.merge(b);
        }
        for (a, b) in self.log_m.iter_mut().zip(&o.log_m) {
            a.merge(b);
        }
        for (a, b) in self.zeros.iter_mut().zip(&o.zeros) {
            *a += b;
        }
        self.var_emp.merge(&o.var_emp);
        self.trajectories.extend(o.trajectories);
    }
}

/// `mean_j M_j² − (mean_j M_j)²`, computed in two passes (same value, better rounding).
fn variance_across(m: &[f64]) -> f64 {
    let n = m.len() as f64;
    let mean = m.iter().sum::<f64>() / n;
    m.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
}

/// Run the Monte Carlo experiment in the current rayon pool.
pub fn simulate(exp: &Experiment) -> Result<Moments, InitStatsError> {
    simulate_with(exp, &crate::NoProgress)
}

/// [`simulate`] with progress (`advance` per chunk of samples, counted in samples).
pub fn simulate_with(
    exp: &Experiment,
    progress: &dyn crate::ProgressSink,
) -> Result<Moments, InitStatsError> {
    exp.validate()?;
    let x = exp.input_vector()?;
    let layers = exp.arch.depth() + 1;
    let first = if exp.include_input { 0 } else { 1 };
    let chunks = exp.samples.div_ceil(CHUNK);
    let plan = Plan::new(exp)?;
    progress.start_layer(0, 1, exp.samples);
    let partials: Vec<Moments> = (0..chunks)
        .into_par_iter()
        .map_init(Worker::new, |w, c| {
            progress.advance((((c + 1) * CHUNK).min(exp.samples) - c * CHUNK) as u64);
            let mut acc = Moments::empty(layers);
            let mut path = vec![0.0; layers];
            for s in c * CHUNK..((c + 1) * CHUNK).min(exp.samples) {
                w.sample(&plan, &x, s as u64, &mut path);
                acc.push(&path, first);
                if s < exp.trajectories {
                    acc.trajectories.push(path.clone());
                }
            }
            acc
        })
        .collect();
    let mut total = Moments::empty(layers);
    for p in partials {
        total.merge(p);
    }
    total.m0 = dot(&x, &x) / x.len() as f64;
    Ok(total)
}

/// What every worker shares: the experiment and its precomputed tables.
struct Plan<'a> {
    exp: &'a Experiment,
    sizes: Vec<usize>,
    bias_sd: f64,
    etas: Vec<f64>,
    gather: Vec<usize>,
}

impl<'a> Plan<'a> {
    fn new(exp: &'a Experiment) -> Result<Self, InitStatsError> {
        let etas = match &exp.arch {
            Architecture::Residual(r) => r.eta.values(r.blocks)?,
            _ => Vec::new(),
        };
        let gather = match &exp.arch {
            Architecture::Conv(c) => c.gather_table(),
            _ => Vec::new(),
        };
        Ok(Plan {
            exp,
            sizes: exp.arch.layer_sizes(),
            bias_sd: exp.bias_var.sqrt(),
            etas,
            gather,
        })
    }
}

/// Buffers of one thread.
struct Worker {
    h: Vec<f64>,
    z: Vec<f64>,
    f: Vec<f64>,
    w: Vec<f64>,
    scratch: Scratch,
}

fn relu(v: &mut [f64]) {
    v.iter_mut().for_each(|x| *x = x.max(0.0));
}

fn mean_square(v: &[f64]) -> f64 {
    dot(v, v) / v.len() as f64
}

impl Worker {
    fn new() -> Self {
        Worker {
            h: Vec::new(),
            z: Vec::new(),
            f: Vec::new(),
            w: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// One network, one forward pass: `path[j] = M_j`.
    fn sample(&mut self, plan: &Plan, x: &[f64], index: u64, path: &mut [f64]) {
        let mut rng = McRng::seed_from_u64(plan.exp.seed);
        rng.set_stream(index);
        let init = plan.exp.init;
        self.h.clear();
        self.h.extend_from_slice(x);
        path[0] = mean_square(x);
        match &plan.exp.arch {
            Architecture::Dense { widths } => {
                for (j, &n) in widths.iter().enumerate().skip(1) {
                    self.z.resize(n, 0.0);
                    init.preactivations(
                        plan.exp.sampler,
                        &mut rng,
                        &self.h,
                        plan.bias_sd,
                        &mut self.z,
                        &mut self.scratch,
                    );
                    relu(&mut self.z);
                    path[j] = mean_square(&self.z);
                    std::mem::swap(&mut self.h, &mut self.z);
                }
            }
            Architecture::Residual(r) => {
                let second = init.rescaled(r.branch_var);
                self.z.resize(r.width, 0.0);
                self.f.resize(r.width, 0.0);
                for (l, &eta) in plan.etas.iter().enumerate() {
                    init.preactivations(
                        plan.exp.sampler,
                        &mut rng,
                        &self.h,
                        plan.bias_sd,
                        &mut self.z,
                        &mut self.scratch,
                    );
                    relu(&mut self.z);
                    second.preactivations(
                        plan.exp.sampler,
                        &mut rng,
                        &self.z,
                        plan.bias_sd,
                        &mut self.f,
                        &mut self.scratch,
                    );
                    if r.branch == Branch::Relu {
                        relu(&mut self.f);
                    }
                    for (xi, fi) in self.h.iter_mut().zip(&self.f) {
                        *xi += eta * fi;
                    }
                    path[l + 1] = mean_square(&self.h);
                }
            }
            Architecture::Conv(c) => {
                for (j, m) in path.iter_mut().enumerate().skip(1) {
                    self.conv_layer(c, j, plan, &mut rng);
                    relu(&mut self.z);
                    *m = mean_square(&self.z);
                    std::mem::swap(&mut self.h, &mut self.z);
                }
            }
        }
        debug_assert_eq!(plan.sizes.len(), path.len());
    }

    /// `z = conv(h) + b` for layer `j` of a convolutional stack, weights drawn on the fly.
    fn conv_layer(&mut self, c: &Conv, j: usize, plan: &Plan, rng: &mut McRng) {
        let Init::Iid { scale, law } = plan.exp.init else {
            unreachable!("validate() rejects orthogonal convolutions")
        };
        let (c_in, c_out, taps, s) = (
            c.channels[j - 1],
            c.channels[j],
            c.taps(),
            c.shape.positions(),
        );
        let sd = (scale.c(taps * c_in, taps * c_out) / (taps * c_in) as f64).sqrt();
        self.z.clear();
        self.z.resize(c_out * s, 0.0);
        self.w.resize(c_in * taps, 0.0);
        for out in self.z.chunks_exact_mut(s) {
            law.fill(rng, &mut self.w);
            for (hc, wc) in self.h.chunks_exact(s).zip(self.w.chunks_exact(taps)) {
                for (&w, idx) in wc.iter().zip(plan.gather.chunks_exact(s)) {
                    let w = sd * w;
                    for (o, &i) in out.iter_mut().zip(idx) {
                        *o += w * hc[i];
                    }
                }
            }
            if plan.bias_sd > 0.0 {
                let b =
                    plan.bias_sd * rand::RngExt::sample::<f64, _>(rng, rand_distr::StandardNormal);
                out.iter_mut().for_each(|o| *o += b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_merge_equals_one_pass() {
        let xs: Vec<f64> = (0..37).map(|i| ((i * 7919) % 101) as f64 / 13.0).collect();
        let mut one = Welford::default();
        xs.iter().for_each(|&x| one.push(x));
        let mut a = Welford::default();
        let mut b = Welford::default();
        xs[..10].iter().for_each(|&x| a.push(x));
        xs[10..].iter().for_each(|&x| b.push(x));
        a.merge(&b);
        assert_eq!(a.n, one.n);
        assert!((a.mean - one.mean).abs() < 1e-12);
        assert!((a.var() - one.var()).abs() < 1e-10);
    }

    #[test]
    fn variance_across_layers_is_the_population_variance() {
        assert_eq!(variance_across(&[1.0, 3.0]), 1.0);
        assert_eq!(variance_across(&[2.0, 2.0, 2.0]), 0.0);
    }
}
