//! Weight laws and initialisation schemes, and the sampling of one fresh layer's pre-activations.
//!
//! An i.i.d. scheme draws every weight from a symmetric law with variance `c / fan_in`; the
//! schemes differ only by `c` (He 2, LeCun 1, Glorot `2·n_in/(n_in+n_out)`, the PyTorch default
//! 1/3). Orthogonal weights are `g·Q` with `Q` Haar-distributed on the Stiefel manifold, drawn by
//! QR (Gram–Schmidt) of a Gaussian matrix. Biases are Gaussian with variance `σ_b²`; Gaussian
//! biases keep the FM2 recursion closed for Gaussian weights (see [`crate::init_stats::stats`]).

use std::fmt;
use std::str::FromStr;

use rand::distr::Uniform;
use rand::RngExt;
use rand_distr::StandardNormal;

use super::InitStatsError;

/// The one generator of the module, named after its algorithm: ChaCha with 8 rounds. Every
/// sample gets its own stream (`set_stream(sample_index)`) of one seed, so results do not depend
/// on how samples are spread over threads.
pub type McRng = rand_chacha::ChaCha8Rng;

/// A symmetric law of unit variance; a layer scales it by `sqrt(c / fan_in)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightLaw {
    Normal,
    /// Uniform on `[-√3, √3]`.
    Uniform,
}

impl WeightLaw {
    /// `κ = E[w⁴]/E[w²]² − 3`: 0 for the normal law, −1.2 for the uniform law. It enters the FM2
    /// recursion as `1 + (5 + 2κρ)/n`.
    pub fn excess_kurtosis(self) -> f64 {
        match self {
            WeightLaw::Normal => 0.0,
            WeightLaw::Uniform => -1.2,
        }
    }

    /// Fill `buf` with independent unit-variance draws.
    pub(crate) fn fill(self, rng: &mut McRng, buf: &mut [f64]) {
        match self {
            WeightLaw::Normal => {
                for w in buf.iter_mut() {
                    *w = rng.sample(StandardNormal);
                }
            }
            WeightLaw::Uniform => {
                let s3 = 3f64.sqrt();
                let law = Uniform::new(-s3, s3).expect("finite, ordered bounds");
                for w in buf.iter_mut() {
                    *w = rng.sample(law);
                }
            }
        }
    }
}

impl FromStr for WeightLaw {
    type Err = InitStatsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" | "gaussian" => Ok(WeightLaw::Normal),
            "uniform" => Ok(WeightLaw::Uniform),
            _ => Err(InitStatsError::Init(format!(
                "unknown weight law `{s}` (expected normal or uniform)"
            ))),
        }
    }
}

/// The variance scale `c` of an i.i.d. scheme: `Var(w) = c / fan_in`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// c = 2: keeps `E[M_j]` constant through ReLU layers.
    He,
    /// c = 1.
    LeCun,
    /// c = 2·n_in/(n_in + n_out), layer by layer.
    Glorot,
    /// c = 1/3: `kaiming_uniform(a = √5)`, PyTorch's default for `nn.Linear`.
    PyTorch,
    /// Any positive c.
    C(f64),
}

impl Scale {
    pub fn c(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Scale::He => 2.0,
            Scale::LeCun => 1.0,
            Scale::Glorot => 2.0 * fan_in as f64 / (fan_in + fan_out) as f64,
            Scale::PyTorch => 1.0 / 3.0,
            Scale::C(c) => c,
        }
    }
}

/// How the weights of a layer are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Independent weights, variance `c / fan_in`, from `law`.
    Iid { scale: Scale, law: WeightLaw },
    /// `gain · Q`, Q with orthonormal rows (n_out ≤ n_in) or columns (n_out ≥ n_in), Haar.
    Orthogonal { gain: f64 },
}

impl Init {
    pub const HE_NORMAL: Init = Init::Iid {
        scale: Scale::He,
        law: WeightLaw::Normal,
    };

    /// Replace the law of an i.i.d. scheme (no effect on orthogonal weights).
    pub fn with_law(self, law: WeightLaw) -> Init {
        match self {
            Init::Iid { scale, .. } => Init::Iid { scale, law },
            o => o,
        }
    }

    /// Replace the gain of an orthogonal scheme (no effect on i.i.d. weights).
    pub fn with_gain(self, gain: f64) -> Init {
        match self {
            Init::Orthogonal { .. } => Init::Orthogonal { gain },
            o => o,
        }
    }

    /// The same kind of weights with second moment `v / fan_in` (i.i.d.) or gain `√v`
    /// (orthogonal): the second layer of a residual branch.
    pub(crate) fn rescaled(self, v: f64) -> Init {
        match self {
            Init::Iid { law, .. } => Init::Iid {
                scale: Scale::C(v),
                law,
            },
            Init::Orthogonal { .. } => Init::Orthogonal { gain: v.sqrt() },
        }
    }

    /// The factor `a` of the exact mean law `E[M_out | h_in] = a·M_in + σ_b²/2` of one dense ReLU
    /// layer. For i.i.d. weights `a = c/2`. For orthogonal weights `E||Qh||² =
    /// min(n_in,n_out)/n_in · ||h||²`, so `a = (g²/2)·min(n_in,n_out)/n_out`.
    pub fn mean_factor(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::Iid { scale, .. } => scale.c(fan_in, fan_out) / 2.0,
            Init::Orthogonal { gain } => {
                gain * gain / 2.0 * fan_in.min(fan_out) as f64 / fan_out as f64
            }
        }
    }

    pub(crate) fn validate(self) -> Result<(), InitStatsError> {
        let bad = match self {
            Init::Iid {
                scale: Scale::C(c), ..
            } => !(c.is_finite() && c > 0.0),
            Init::Orthogonal { gain } => !(gain.is_finite() && gain > 0.0),
            _ => false,
        };
        if bad {
            return Err(InitStatsError::Init(format!(
                "the scale must be a finite positive number ({self})"
            )));
        }
        Ok(())
    }

    /// Draw a fresh layer and return its pre-activations `out = W h + b` at `h`.
    ///
    /// With [`Sampler::Weights`], for i.i.d. weights only the columns of `W` that meet a nonzero entry of `h` are drawn:
    /// every sample is a new network evaluated at one input, so a weight that multiplies zero
    /// never matters, and after a ReLU about half of the entries are zero. The law of `out` is
    /// unchanged. Orthogonal weights are drawn whole (their columns are coupled).
    pub(crate) fn preactivations(
        self,
        sampler: Sampler,
        rng: &mut McRng,
        h: &[f64],
        bias_sd: f64,
        out: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let (n_in, n_out) = (h.len(), out.len());
        match (sampler, self) {
            (Sampler::Preactivations, Init::Iid { scale, law }) => {
                assert_eq!(law, WeightLaw::Normal, "checked by Experiment::validate");
                // Given h, the rows w_i·h are i.i.d. N(0, (c/n_in)·||h||²).
                let sd = (scale.c(n_in, n_out) / n_in as f64 * dot(h, h)).sqrt();
                for o in out.iter_mut() {
                    *o = sd * rng.sample::<f64, _>(StandardNormal);
                }
            }
            (Sampler::Preactivations, Init::Orthogonal { gain }) => {
                // Q h is uniform on the sphere of radius ||h|| in R^{n_out} (n_out ≥ n_in), or
                // the first n_out coordinates of a uniform point on that sphere in R^{n_in}.
                let m = n_in.max(n_out);
                scratch.row.resize(m, 0.0);
                WeightLaw::Normal.fill(rng, &mut scratch.row);
                let r = gain * (dot(h, h) / dot(&scratch.row, &scratch.row)).sqrt();
                for (o, &u) in out.iter_mut().zip(&scratch.row) {
                    *o = r * u;
                }
            }
            (Sampler::Weights, _) => self.weight_preactivations(rng, h, out, scratch),
        }
        if bias_sd > 0.0 {
            for o in out.iter_mut() {
                *o += bias_sd * rng.sample::<f64, _>(StandardNormal);
            }
        }
    }

    /// `out = W h` with every needed weight drawn.
    fn weight_preactivations(
        self,
        rng: &mut McRng,
        h: &[f64],
        out: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let (n_in, n_out) = (h.len(), out.len());
        match self {
            Init::Iid { scale, law } => {
                let sd = (scale.c(n_in, n_out) / n_in as f64).sqrt();
                scratch.nonzero.clear();
                scratch
                    .nonzero
                    .extend(h.iter().copied().filter(|&x| x != 0.0));
                let hz = &scratch.nonzero;
                if hz.is_empty() {
                    out.fill(0.0);
                    return;
                }
                // The whole (n_out × nnz) block in one call, row after row: the same draws in
                // the same order as row by row, with a tighter generation loop.
                scratch.row.resize(hz.len() * n_out, 0.0);
                law.fill(rng, &mut scratch.row);
                for (o, row) in out.iter_mut().zip(scratch.row.chunks_exact(hz.len())) {
                    *o = sd * dot(row, hz);
                }
            }
            Init::Orthogonal { gain } => {
                // k orthonormal vectors of length m, k ≤ m.
                let (k, m) = (n_in.min(n_out), n_in.max(n_out));
                haar_orthonormal(rng, k, m, &mut scratch.basis);
                let q = &scratch.basis;
                if n_out >= n_in {
                    // Orthonormal columns: out = g · Σ_k h_k q_k.
                    out.fill(0.0);
                    for (col, &hk) in q.chunks_exact(m).zip(h) {
                        if hk != 0.0 {
                            for (o, &qv) in out.iter_mut().zip(col) {
                                *o += hk * qv;
                            }
                        }
                    }
                    out.iter_mut().for_each(|o| *o *= gain);
                } else {
                    // Orthonormal rows: out_i = g · q_i·h.
                    for (o, row) in out.iter_mut().zip(q.chunks_exact(m)) {
                        *o = gain * dot(row, h);
                    }
                }
            }
        }
    }
}

/// How a layer's pre-activations are drawn. Both give the exact law of the network's
/// activations; they differ in cost and in what they take for granted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampler {
    /// Draw the weights and multiply: `Θ(n_in·n_out)` per layer, for every law and architecture.
    /// It checks the theorems without assuming anything about the law of `W h`.
    #[default]
    Weights,
    /// Draw `W h` directly from its law given `h`: i.i.d. `N(0, (c/n_in)·||h||²)` for Gaussian
    /// weights (rotation invariance), a uniform point on a sphere of radius `g·||h||` for
    /// orthogonal weights. `Θ(n_out)` per layer, exact in law, but it builds in the very
    /// invariance the FM2 closed form rests on. Dense and residual layers with Gaussian or
    /// orthogonal weights only.
    Preactivations,
}

impl FromStr for Sampler {
    type Err = InitStatsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "weights" => Ok(Sampler::Weights),
            "preactivations" | "marginal" => Ok(Sampler::Preactivations),
            _ => Err(InitStatsError::Sampler(format!(
                "unknown sampler `{s}` (expected weights or preactivations)"
            ))),
        }
    }
}

/// Reusable buffers of one worker.
#[derive(Default)]
pub(crate) struct Scratch {
    nonzero: Vec<f64>,
    row: Vec<f64>,
    basis: Vec<f64>,
}

/// Dot product with four accumulators, so the adds do not wait on each other.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `k` orthonormal vectors of length `m` (k ≤ m), uniformly distributed (Haar): Gram–Schmidt of
/// independent Gaussian vectors, which is the Q factor, with positive diagonal R, of the QR
/// decomposition of a Gaussian matrix. Each vector is orthogonalised twice ("twice is enough",
/// Giraud et al. 2005), which keeps `QᵀQ = I` to rounding for any conditioning. Cost `O(k²m)`.
/// Written out rather than pulled from a linear-algebra crate: it is a dozen lines, and the
/// crates that offer QR roughly double this crate's build (no heavy crates for small needs).
pub(crate) fn haar_orthonormal(rng: &mut McRng, k: usize, m: usize, out: &mut Vec<f64>) {
    assert!(k <= m, "at most m orthonormal vectors fit in R^m");
    out.resize(k * m, 0.0);
    let mut i = 0;
    while i < k {
        let (done, rest) = out.split_at_mut(i * m);
        let v = &mut rest[..m];
        WeightLaw::Normal.fill(rng, v);
        let scale = dot(v, v).sqrt();
        for _pass in 0..2 {
            for q in done.chunks_exact(m) {
                let p = dot(q, v);
                v.iter_mut().zip(q).for_each(|(x, &qv)| *x -= p * qv);
            }
        }
        let norm = dot(v, v).sqrt();
        // A Gaussian vector lies in the span of the others with probability zero; a draw whose
        // remainder is tiny is redrawn instead of amplifying rounding noise.
        if norm > 1e-8 * scale {
            v.iter_mut().for_each(|x| *x /= norm);
            i += 1;
        }
    }
}

impl FromStr for Init {
    type Err = InitStatsError;

    /// `he-normal` (or `he`), `he-uniform`, `lecun`, `lecun-uniform`, `glorot`,
    /// `glorot-uniform`, `pytorch` (uniform, c = 1/3), `orthogonal` (gain √2, which keeps the
    /// mean like He), `c=VALUE` (normal law).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use Scale::*;
        use WeightLaw::*;
        let iid = |scale, law| Init::Iid { scale, law };
        let init = match s {
            "he" | "he-normal" | "kaiming" | "kaiming-normal" => iid(He, Normal),
            "he-uniform" | "kaiming-uniform" => iid(He, Uniform),
            "lecun" | "lecun-normal" => iid(LeCun, Normal),
            "lecun-uniform" => iid(LeCun, Uniform),
            "glorot" | "glorot-normal" | "xavier" | "xavier-normal" => iid(Glorot, Normal),
            "glorot-uniform" | "xavier-uniform" => iid(Glorot, Uniform),
            "pytorch" => iid(PyTorch, Uniform),
            "orthogonal" => Init::Orthogonal { gain: 2f64.sqrt() },
            other => match other.strip_prefix("c=") {
                Some(v) => {
                    let c: f64 = parse_number(v).ok_or_else(|| {
                        InitStatsError::Init(format!("`{v}` in `{s}` is not a number"))
                    })?;
                    iid(C(c), Normal)
                }
                None => {
                    return Err(InitStatsError::Init(format!(
                        "unknown initialisation `{s}` (expected he-normal, he-uniform, lecun, \
                         glorot, pytorch, orthogonal or c=VALUE)"
                    )))
                }
            },
        };
        init.validate()?;
        Ok(init)
    }
}

/// A decimal number or a fraction `p/q` (so `c=1/3` works).
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let v = match s.split_once('/') {
        Some((p, q)) => p.trim().parse::<f64>().ok()? / q.trim().parse::<f64>().ok()?,
        None => s.parse::<f64>().ok()?,
    };
    v.is_finite().then_some(v)
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::Iid { scale, law } => {
                let law = match law {
                    WeightLaw::Normal => "normal",
                    WeightLaw::Uniform => "uniform",
                };
                match scale {
                    Scale::He => write!(f, "he-{law}"),
                    Scale::LeCun => write!(f, "lecun-{law}"),
                    Scale::Glorot => write!(f, "glorot-{law}"),
                    Scale::PyTorch => write!(f, "pytorch-{law}"),
                    Scale::C(c) => write!(f, "c={c}-{law}"),
                }
            }
            Init::Orthogonal { gain } => write!(f, "orthogonal(gain={gain})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn haar_vectors_are_orthonormal() {
        let mut rng = McRng::seed_from_u64(3);
        let mut q = Vec::new();
        for (k, m) in [(1, 1), (3, 7), (16, 16), (40, 50)] {
            haar_orthonormal(&mut rng, k, m, &mut q);
            for i in 0..k {
                for j in 0..k {
                    let d = dot(&q[i * m..(i + 1) * m], &q[j * m..(j + 1) * m]);
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((d - want).abs() < 1e-12, "k={k} m={m} <q{i},q{j}> = {d}");
                }
            }
        }
    }

    #[test]
    fn names_parse_to_the_documented_scales() {
        let c = |s: &str| match s.parse::<Init>().unwrap() {
            Init::Iid { scale, law } => (scale.c(4, 12), law),
            Init::Orthogonal { gain } => (gain * gain, WeightLaw::Normal),
        };
        assert_eq!(c("he-normal"), (2.0, WeightLaw::Normal));
        assert_eq!(c("he-uniform"), (2.0, WeightLaw::Uniform));
        assert_eq!(c("lecun"), (1.0, WeightLaw::Normal));
        assert_eq!(c("glorot"), (0.5, WeightLaw::Normal));
        assert_eq!(c("pytorch"), (1.0 / 3.0, WeightLaw::Uniform));
        assert_eq!(c("c=1/3").0, 1.0 / 3.0);
        assert_eq!(c("c=4"), (4.0, WeightLaw::Normal));
        assert!((c("orthogonal").0 - 2.0).abs() < 1e-15);
        assert!("c=-1".parse::<Init>().is_err());
        assert!("c=x".parse::<Init>().is_err());
        assert!("bogus".parse::<Init>().is_err());
    }

    #[test]
    fn dot_matches_the_naive_sum() {
        let a: Vec<f64> = (0..11).map(|i| i as f64 * 0.5).collect();
        let b: Vec<f64> = (0..11).map(|i| 1.0 - i as f64).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-12);
    }
}
