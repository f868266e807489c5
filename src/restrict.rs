//! The restricted network: the slice folded exactly into the first layer
//! (docs/guide.md#networks-and-slices), in two forms that describe the same function: f64 layers
//! for the fast filtered path and an exact fraction-free form for every decision the floats
//! cannot prove.

use crate::error::{Error, Result};
use crate::exact::number::ratio_to_f64;
use crate::exact::{ExactLayer, ExactNet};
use crate::matrix::Matrix;
use crate::net::{Layer, Network, Num};
use crate::pattern;
use crate::slice::Slice;
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Zero};

/// One layer in f64, with the norms the error bounds need.
#[derive(Debug, Clone)]
pub struct FloatLayer {
    pub n_in: usize,
    pub n_out: usize,
    pub w: Matrix<f64>,
    /// The weights for inactive inputs, laid out like `w` (see [`ExactLayer`]); `None`: every
    /// input is a ReLU.
    pub w_neg: Option<Vec<f64>>,
    pub b: Vec<f64>,
    /// How the inputs are activated before the product (`None`: ReLU).
    pub input: Option<InputActivation>,
    /// max_i Σ_j |w_ij|, rounded up.
    pub row_l1_max: f64,
    /// max_i |b_i|.
    pub bias_max: f64,
    /// |W| entry by entry (for per-neuron error bounds, `engine::values`), made on first use.
    pub w_abs: std::sync::OnceLock<Matrix<f64>>,
    /// The same rounded up to f32, for dense layers (see [`Self::abs_product`]).
    pub w_abs_f32: std::sync::OnceLock<Vec<f32>>,
    /// The weights and biases are the exact ones (the network gave them as f64 numbers), not
    /// roundings: the double-double tier of re-anchoring (`engine::refine_dd`) needs this.
    pub exact: bool,
    /// 2-norms of the weights (for bounds on the 2-norm of a vertex's error vector,
    /// `engine::values`), made on first use.
    pub norms: std::sync::OnceLock<LayerNorms>,
}

/// A layer's weights measured in 2-norms, every number rounded up.
#[derive(Debug, Clone)]
pub struct LayerNorms {
    /// ≥ ‖W‖₂, the exact weights' spectral norm ([`crate::spectral::spectral_norm_bound`],
    /// plus the f64 rounding of weights given exactly).
    pub spectral: f64,
    /// ≥ ‖W‖_F (which bounds ‖|W|‖₂).
    pub frobenius: f64,
    /// ≥ ‖W_i‖₂ for each row i, and the largest.
    pub rows: Vec<f64>,
    pub row_max: f64,
    /// ≥ ‖b‖₂.
    pub bias: f64,
}

impl LayerNorms {
    fn of(w: &Matrix<f64>, b: &[f64]) -> LayerNorms {
        const U: f64 = f64::EPSILON / 2.0;
        use crate::engine::values::norm2_up;
        let rows: Vec<f64> = (0..w.n_out).map(|i| norm2_up(w.row(i).vals)).collect();
        let row_max = rows.iter().fold(0.0f64, |m, &x| m.max(x));
        // (≥ ‖W‖_F, as each row's bound is ≥ its norm.)
        let frobenius = norm2_up(&rows);
        // The exact weights differ from these by at most u of each (when not given as f64):
        // ‖W − W̃‖₂ ≤ ‖W − W̃‖_F ≤ u·‖W̃‖_F (up to u²).
        let spectral =
            crate::spectral::spectral_norm_bound_given(w, frobenius) + 2.0 * U * frobenius;
        let bias = norm2_up(b);
        LayerNorms {
            spectral,
            frobenius,
            rows,
            row_max,
            bias,
        }
    }
}

/// The activation of a layer's inputs in floats: `h_j = z_j` where `z_j > 0`, `slope_j · z_j`
/// elsewhere (0 for ReLU inputs, 1 for pass-through ones).
#[derive(Debug, Clone)]
pub struct InputActivation {
    pub slope: Vec<f64>,
    /// max(1, max_j |slope_j|): how much the activation can scale an input's error.
    pub gain: f64,
}

impl InputActivation {
    pub(crate) fn new(slope: Vec<f64>) -> InputActivation {
        let gain = slope.iter().fold(1.0f64, |m, s| m.max(s.abs()));
        InputActivation { slope, gain }
    }

    /// `h = act(z)` entry by entry; returns max |h|.
    #[inline]
    pub fn apply(&self, z: &[f64], h: &mut [f64]) -> f64 {
        let mut m = 0.0f64;
        for ((x, y), s) in z.iter().zip(h.iter_mut()).zip(&self.slope) {
            *y = if *x > 0.0 { *x } else { s * x };
            m = m.max(y.abs());
        }
        m
    }
}

impl FloatLayer {
    /// A dense layer whose inputs are ReLUs.
    pub fn new(n_in: usize, n_out: usize, w: Vec<f64>, b: Vec<f64>) -> FloatLayer {
        FloatLayer::from_matrix(Matrix::dense(n_out, n_in, w), None, b, None)
    }

    pub(crate) fn from_matrix(
        w: Matrix<f64>,
        w_neg: Option<Vec<f64>>,
        b: Vec<f64>,
        input: Option<InputActivation>,
    ) -> FloatLayer {
        let row_l1_max = w.row_l1_max() * (1.0 + 4.0 * w.n_in as f64 * f64::EPSILON);
        let bias_max = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        FloatLayer {
            n_in: w.n_in,
            n_out: w.n_out,
            w,
            w_neg,
            b,
            input,
            row_l1_max,
            bias_max,
            w_abs: Default::default(),
            w_abs_f32: Default::default(),
            exact: false,
            norms: Default::default(),
        }
    }

    /// The weights' 2-norms (made once, like [`Self::w_abs`]).
    pub fn norms(&self) -> &LayerNorms {
        self.norms.get_or_init(|| LayerNorms::of(&self.w, &self.b))
    }

    /// |W| (made once; a layer whose `w` is replaced after construction must not have used it).
    pub fn w_abs(&self) -> &Matrix<f64> {
        self.w_abs.get_or_init(|| self.w.map(|x| x.abs()))
    }

    /// The inputs' activation: `h = act(z)`, returns max |h| (ReLU unless `input` says).
    #[inline]
    pub fn activate(&self, z: &[f64], h: &mut [f64]) -> f64 {
        match &self.input {
            None => crate::engine::values::relu_into(z, h),
            Some(a) => a.apply(z, h),
        }
    }

    /// How much the activation can scale an input's error (1 for ReLU).
    pub fn input_gain(&self) -> f64 {
        self.input.as_ref().map_or(1.0, |a| a.gain)
    }

    /// `out (rows × n_out) = h (rows × n_in) · Wᵀ + b`: a packed matrix product when dense,
    /// row by row over the stored entries when sparse.
    pub fn product(&self, rows: usize, h: &[f64], out: &mut [f64]) {
        product_with(&self.w, &self.b, rows, h, out)
    }

    /// `out ≈ e · |W|ᵀ` (no bias; `e ≥ 0`): the propagated part of per-neuron error bounds,
    /// within the f64 product's rounding, which the caller adds (`next_layer_values`). Dense
    /// layers of 128 inputs or more in f32, about twice as fast: e and |W| are rounded up, and
    /// the product's rounding (every term is ≥ 0, so at most γ_m of the sum in f32) and underflow
    /// are added back, so that there `out ≥ e · |W|ᵀ`, looser by about 10⁻⁵ of itself.
    pub fn abs_product(&self, rows: usize, e: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        let (n_in, n_out) = (self.n_in, self.n_out);
        // (Narrow layers in f64: there the conversions cost more than the product saves.)
        // (And in f64 where γ_m in f32 would not be small: millions of inputs.)
        if !self.w.is_dense() || !(128..=1 << 16).contains(&n_in) || n_out == 0 || rows == 0 {
            return product_with(self.w_abs(), &[], rows, e, out);
        }
        let w = self
            .w_abs_f32
            .get_or_init(|| self.w.vals.iter().map(|x| up_f32(x.abs())).collect());
        thread_local! {
            static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = Default::default();
        }
        SCRATCH.with_borrow_mut(|(e32, o32)| {
            e32.clear();
            e32.extend(e[..rows * n_in].iter().map(|&x| up_f32(x)));
            o32.resize(rows * n_out, 0.0);
            // SAFETY: e32 is rows × n_in, w n_out × n_in (read as its transpose), o32
            // rows × n_out, all row-major with the strides given.
            unsafe {
                matrixmultiply::sgemm(
                    rows,
                    n_in,
                    n_out,
                    1.0,
                    e32.as_ptr(),
                    n_in as isize,
                    1,
                    w.as_ptr(),
                    1,
                    n_in as isize,
                    0.0,
                    o32.as_mut_ptr(),
                    n_out as isize,
                    1,
                );
            }
            let nu = (n_in + 2) as f64 * f32::EPSILON as f64 / 2.0;
            let scale = (1.0 + 2.0 * nu / (1.0 - nu)) * (1.0 + 4.0 * f64::EPSILON);
            // Subnormal f32 products and sums: at most 2^-150 off each.
            let underflow = 2.0 * (n_in + 2) as f64 * 2f64.powi(-149);
            for (o, &x) in out.iter_mut().zip(o32.iter()) {
                let b = x as f64 * scale + underflow;
                // (inf · 0 in the product gives NaN: no bound then.)
                *o = if b.is_nan() { f64::INFINITY } else { b };
            }
        });
    }
}

/// The smallest f32 at or above `x` (`x ≥ 0`; infinity above f32's range, NaN stays NaN).
/// Without a branch, so that loops over rows vectorise: a non-negative f32's successor is the
/// next bit pattern (f32::MAX's is infinity).
#[inline(always)]
fn up_f32(x: f64) -> f32 {
    let y = x as f32;
    f32::from_bits(y.to_bits() + ((y as f64) < x) as u32)
}

/// Products of f64 matrices sum their dot products in runs of this many terms, each run added
/// to the total in turn: the rounding bound of a dot product of m terms then counts
/// [`dot_rounding_terms`]`(m)` roundings instead of m (7× fewer for 512 terms), whatever order
/// the matrix product uses within a run.
pub const DOT_CHUNK: usize = 64;

/// The roundings a dot product of `m` terms computed by [`FloatLayer::product`] (or
/// [`chunked_dgemm`]) passes each term through, at most: its run's additions, then one per run.
pub fn dot_rounding_terms(m: usize) -> usize {
    if m <= DOT_CHUNK {
        m
    } else {
        DOT_CHUNK + m.div_ceil(DOT_CHUNK)
    }
}

/// `C (m × n) += A (m × k) · B (k × n)` with strides as in `matrixmultiply::dgemm`, the k terms
/// in runs of [`DOT_CHUNK`] (one product per run, each added into C).
///
/// # Safety
/// As `matrixmultiply::dgemm` with β = 1: the pointers and strides must describe matrices of
/// the given sizes.
#[allow(clippy::too_many_arguments)]
pub unsafe fn chunked_dgemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f64,
    rsa: isize,
    csa: isize,
    b: *const f64,
    rsb: isize,
    csb: isize,
    c: *mut f64,
    rsc: isize,
    csc: isize,
) {
    let mut k0 = 0;
    while k0 < k {
        let kc = DOT_CHUNK.min(k - k0);
        // SAFETY: columns k0..k0 + kc of A and rows k0..k0 + kc of B lie within them.
        unsafe {
            matrixmultiply::dgemm(
                m,
                kc,
                n,
                1.0,
                a.offset(k0 as isize * csa),
                rsa,
                csa,
                b.offset(k0 as isize * rsb),
                rsb,
                csb,
                1.0,
                c,
                rsc,
                csc,
            );
        }
        k0 += kc;
    }
}

/// `out (rows × n_out) = h (rows × n_in) · Wᵀ + b` (`b` empty: `out` is added to as it is),
/// dot products in runs of [`DOT_CHUNK`].
fn product_with(w: &Matrix<f64>, b: &[f64], rows: usize, h: &[f64], out: &mut [f64]) {
    let (n_in, n_out) = (w.n_in, w.n_out);
    debug_assert_eq!(h.len(), rows * n_in);
    debug_assert_eq!(out.len(), rows * n_out);
    if !b.is_empty() {
        for r in 0..rows {
            out[r * n_out..(r + 1) * n_out].copy_from_slice(b);
        }
    }
    if n_out == 0 || rows == 0 {
        return;
    }
    if w.is_dense() {
        if n_in == 0 {
            return;
        }
        // SAFETY: h holds rows × n_in and out rows × n_out entries, row-major with the
        // strides given; W is n_out × n_in row-major (read as its transpose).
        unsafe {
            chunked_dgemm(
                rows,
                n_in,
                n_out,
                h.as_ptr(),
                n_in as isize,
                1,
                w.vals.as_ptr(),
                1,
                n_in as isize,
                out.as_mut_ptr(),
                n_out as isize,
                1,
            );
        }
    } else {
        for r in 0..rows {
            let x = &h[r * n_in..(r + 1) * n_in];
            let z = &mut out[r * n_out..(r + 1) * n_out];
            for (i, zi) in z.iter_mut().enumerate() {
                let row = w.row(i);
                for start in (0..row.vals.len()).step_by(DOT_CHUNK) {
                    let end = (start + DOT_CHUNK).min(row.vals.len());
                    let mut s = 0.0;
                    for (k, w) in row.vals[start..end].iter().enumerate() {
                        s += w * x[row.col(start + k)];
                    }
                    *zi += s;
                }
            }
        }
    }
}

/// The network restricted to the slice: input t ∈ R^d.
#[derive(Debug, Clone)]
pub struct Restricted {
    pub d: usize,
    /// Rows of each hidden layer (pass-through rows included).
    pub widths: Vec<usize>,
    /// Rows of each hidden layer that are units: `split[l]..widths[l]` pass values through.
    pub split: Vec<usize>,
    /// First neuron index of each hidden layer in the global neuron numbering.
    pub offsets: Vec<usize>,
    pub neurons: usize,
    /// The global indices of pass-through rows, as a pattern (their bit is always 1).
    pub pass_mask: Vec<u64>,
    /// Shared: the planar engine keeps a handle for re-anchoring vertices.
    pub float: std::sync::Arc<Vec<FloatLayer>>,
    /// Shared: the engines keep a handle for exact fallbacks without copying big integers.
    pub exact: std::sync::Arc<ExactNet>,
    /// The affine output layer in f64 (entries rounded from the exact ones).
    pub output_float: FloatLayer,
    /// Every exact non-zero weight and bias is a normal f64 after rounding (none underflowed to
    /// a subnormal or zero). Filters that bound only relative rounding need this.
    pub floats_faithful: bool,
    /// Max pooling's tournaments (see [`crate::net::MaxTree`]); empty without max pooling.
    pub max_trees: std::sync::Arc<Vec<crate::net::MaxTree>>,
    /// The tournaments' comparison rows, as a pattern.
    pub cmp_mask: Vec<u64>,
    /// For [`Self::reslice`]: the first layer before the slice is folded in, and whether the
    /// later layers' floats are faithful.
    first_unfolded: std::sync::Arc<ExactLayer>,
    later_faithful: bool,
}

impl Restricted {
    pub fn new(net: &Network, slice: &Slice) -> Result<Restricted> {
        Restricted::build(net, slice, None)
    }

    /// `net` restricted to another slice, reusing this restriction's layers after the first
    /// (they do not depend on the slice): `self` must be a restriction of the same `net`. Many
    /// slices of one network (a batch of planes) pay for the first layer's fold only.
    pub fn reslice(&self, net: &Network, slice: &Slice) -> Result<Restricted> {
        Restricted::build(net, slice, Some(self))
    }

    fn build(net: &Network, slice: &Slice, template: Option<&Restricted>) -> Result<Restricted> {
        let n0 = net.input_dim();
        let d = slice.dim();
        if slice.origin.len() != n0 || slice.basis.iter().any(|b| b.len() != n0) {
            return Err(Error::Unsupported(format!(
                "the slice lives in R^{} but the network's input is R^{n0}",
                slice.origin.len()
            )));
        }
        let layers: Vec<&Layer> = net.layers.iter().collect();
        // Fold: W1·B (n1 × d) and W1·origin + b1, fraction-free over the slice's denominator.
        let first = layers[0];
        let slice_den = slice
            .origin
            .iter()
            .chain(slice.basis.iter().flatten())
            .fold(BigInt::one(), |acc, q| acc.lcm(q.denom()));
        let scaled = |q: &BigRational| q.numer() * (&slice_den / q.denom());
        let basis: Vec<Vec<BigInt>> = slice
            .basis
            .iter()
            .map(|v| v.iter().map(scaled).collect())
            .collect();
        let origin: Vec<BigInt> = slice.origin.iter().map(scaled).collect();
        let l1 = match template {
            Some(t) => t.first_unfolded.clone(),
            None => std::sync::Arc::new(ExactLayer::from_nums(&first.weight, None, &first.bias)),
        };
        let (fw, fb) = fold_small(&l1, &basis, &origin, &slice_den).unwrap_or_else(|| {
            let mut fw = Vec::with_capacity(first.n_out * d);
            let mut fb = Vec::with_capacity(first.n_out);
            for i in 0..first.n_out {
                let row = l1.w.row(i);
                for v in &basis {
                    fw.push(row.iter().map(|(j, a)| a * &v[j]).sum::<BigInt>());
                }
                let dot: BigInt = row.iter().map(|(j, a)| a * &origin[j]).sum();
                fb.push(dot + &l1.b[i] * &slice_den);
            }
            (fw, fb)
        });
        let folded = ExactLayer {
            n_in: d,
            n_out: first.n_out,
            w: Matrix::dense(first.n_out, d, fw),
            w_neg: None,
            b: fb,
            den: &l1.den * &slice_den,
        }
        // A power-of-two denominator (float weights, float slices) needs no gcd.
        .reduced_twos();

        // Later layers: the previous layer's slopes become this layer's inactive-side weights.
        let mut exact_layers = vec![std::sync::Arc::new(folded)];
        if let Some(t) = template {
            exact_layers.extend(t.exact.hidden.iter().skip(1).cloned());
            if !t.exact.hidden.is_empty() {
                exact_layers.push(t.exact.output.clone());
            }
        }
        if template.is_none() {
            // Layer by layer on every core (a 512-wide layer's big integers take ~10 ms).
            use rayon::prelude::*;
            let later: Vec<_> = (1..layers.len())
                .into_par_iter()
                .map(|k| {
                    let (layer, w) = (layers[k], &layers[k].weight);
                    let w_neg = layers[k - 1].act.as_ref().map(|act| {
                        (0..w.n_out)
                            .flat_map(|i| {
                                let row = w.row(i);
                                (0..row.vals.len())
                                    .map(|p| row.vals[p].mul(&act.slope[row.col(p)]))
                                    .collect::<Vec<_>>()
                            })
                            .collect::<Vec<Num>>()
                    });
                    std::sync::Arc::new(ExactLayer::from_nums(w, w_neg.as_deref(), &layer.bias))
                })
                .collect();
            exact_layers.extend(later);
        }
        let output = exact_layers.pop().expect("at least one layer");
        let exact = ExactNet {
            d,
            hidden: exact_layers,
            output,
        };

        let round = |layer: &ExactLayer, v: &[BigInt]| -> Vec<f64> {
            v.iter().map(|x| ratio_to_f64(x, &layer.den)).collect()
        };
        let float_layer = |k: usize, layer: &ExactLayer| -> FloatLayer {
            let w = if k == 0 {
                layer.w.with_vals(round(layer, &layer.w.vals))
            } else {
                layers[k].weight.map(Num::approx)
            };
            // Numbers given as f64 are exact in the floats (the bias is rounded from
            // `from_nums`'s integers over a power of two, which is exact for them too).
            let exact = k > 0
                && layers[k].weight.vals.iter().all(Num::is_f64)
                && layers[k].bias.iter().all(Num::is_f64);
            let input = (k > 0)
                .then(|| layers[k - 1].act.as_ref())
                .flatten()
                .map(|act| InputActivation::new(act.slope.iter().map(Num::approx).collect()));
            FloatLayer {
                exact,
                ..FloatLayer::from_matrix(
                    w,
                    layer.w_neg.as_ref().map(|v| round(layer, v)),
                    round(layer, &layer.b),
                    input,
                )
            }
        };
        let reuse = template.filter(|t| !t.exact.hidden.is_empty());
        let float: Vec<FloatLayer> = {
            use rayon::prelude::*;
            exact
                .hidden
                .par_iter()
                .enumerate()
                .map(|(k, l)| match reuse {
                    Some(t) if k > 0 => t.float[k].clone(),
                    _ => float_layer(k, l),
                })
                .collect()
        };
        let output_float = match reuse {
            Some(t) => t.output_float.clone(),
            None => {
                let out = &exact.output;
                let k = exact.hidden.len();
                let mut f = float_layer(k, out);
                // The output layer's weights are rounded from the exact ones (also for layer 0).
                f.w = out.w.with_vals(round(out, &out.w.vals));
                f
            }
        };
        // Whether the layer's exact non-zero numbers are normal f64s after rounding: read from
        // the floats when they are the exact numbers (2.3 M conversions of big integers saved
        // on a 784-512×8 network), else converted.
        let faithful = |layer: &ExactLayer, float: &FloatLayer| {
            if float.exact && layer.w_neg.is_none() {
                let normal = |x: &f64| *x == 0.0 || x.abs() >= f64::MIN_POSITIVE;
                return float.w.vals.iter().all(normal) && float.b.iter().all(normal);
            }
            layer
                .w
                .vals
                .iter()
                .chain(layer.w_neg.iter().flatten())
                .chain(&layer.b)
                .all(|x| x.is_zero() || ratio_to_f64(x, &layer.den).abs() >= f64::MIN_POSITIVE)
        };
        let later_faithful = match reuse {
            Some(t) => t.later_faithful,
            None => {
                exact
                    .hidden
                    .iter()
                    .zip(&float)
                    .skip(1)
                    .all(|(l, f)| faithful(l, f))
                    && (exact.hidden.is_empty() || faithful(&exact.output, &output_float))
            }
        };
        let first_faithful = match (exact.hidden.first(), float.first()) {
            (Some(l), Some(f)) => faithful(l, f),
            _ => faithful(&exact.output, &output_float),
        };
        let floats_faithful = first_faithful && later_faithful;
        let widths = exact.widths();
        let split: Vec<usize> = net.split_widths();
        let mut offsets = Vec::with_capacity(widths.len());
        let mut n = 0;
        for w in &widths {
            offsets.push(n);
            n += w;
        }
        let mut pass_mask = vec![0u64; pattern::words(n)];
        for (l, (&w, &s)) in widths.iter().zip(&split).enumerate() {
            for j in s..w {
                pattern::set(&mut pass_mask, offsets[l] + j, true);
            }
        }
        let mut cmp_mask = vec![0u64; pattern::words(n)];
        for row in net.max_trees.iter().flat_map(|t| t.rows()) {
            pattern::set(&mut cmp_mask, row, true);
        }
        Ok(Restricted {
            d,
            widths,
            split,
            offsets,
            neurons: n,
            pass_mask,
            max_trees: std::sync::Arc::new(net.max_trees.clone()),
            cmp_mask,
            float: std::sync::Arc::new(float),
            exact: std::sync::Arc::new(exact),
            output_float,
            floats_faithful,
            later_faithful,
            first_unfolded: l1,
        })
    }

    /// Units (rows that split the domain) in all hidden layers.
    pub fn units(&self) -> usize {
        self.split.iter().sum()
    }

    /// The region a cell belongs to: with max pooling, cells whose patterns differ only in
    /// tournament bits that do not change any argmax are one region (a set on which every unit
    /// is in one piece). The key is the pattern without the tournament bits, then each window's
    /// argmax. `None` without max pooling (then every cell is a region).
    pub fn region_key(&self, bits: &[u64]) -> Option<Vec<u64>> {
        if self.max_trees.is_empty() {
            return None;
        }
        let mut key: Vec<u64> = bits
            .iter()
            .zip(&self.cmp_mask)
            .map(|(b, m)| b & !m)
            .collect();
        key.extend(self.max_trees.iter().map(|t| u64::from(t.argmax(bits))));
        Some(key)
    }

    /// Groups cells into regions by [`Self::region_key`]: each cell's region, numbered in order
    /// of first appearance, and the number of regions. `None` without max pooling.
    pub fn regions_of<'p>(
        &self,
        patterns: impl Iterator<Item = &'p [u64]>,
    ) -> Option<(Vec<u32>, usize)> {
        if self.max_trees.is_empty() {
            return None;
        }
        let mut ids: std::collections::HashMap<Vec<u64>, u32> = std::collections::HashMap::new();
        let group: Vec<u32> = patterns
            .map(|p| {
                let key = self.region_key(p).expect("max pooling");
                let next = ids.len() as u32;
                *ids.entry(key).or_insert(next)
            })
            .collect();
        Some((group, ids.len()))
    }

    /// Whether some hidden row passes its value through (a residual network's skip).
    pub fn has_pass_rows(&self) -> bool {
        self.pass_mask.iter().any(|&w| w != 0)
    }

    /// A pattern's text: one '0'/'1' per unit, layer by layer (pass-through rows left out).
    pub fn pattern_string(&self, bits: &[u64]) -> String {
        pattern::to_unit_string(bits, &self.widths, &self.split)
    }

    /// The pattern of a text of [`Self::pattern_string`]'s form (`None` if it is not one).
    pub fn pattern_from_str(&self, text: &str) -> Option<Vec<u64>> {
        pattern::from_unit_str(text, &self.widths, &self.split)
    }
}

/// The fold of [`Restricted::build`] in checked i128 (most networks and slices fit: float32
/// weights over a power of two times slice coordinates), `None` on overflow. Many slices of one
/// network (a batch of planes) pay mostly for this fold.
fn fold_small(
    l1: &ExactLayer,
    basis: &[Vec<BigInt>],
    origin: &[BigInt],
    slice_den: &BigInt,
) -> Option<(Vec<BigInt>, Vec<BigInt>)> {
    use num_traits::ToPrimitive;
    let small = |v: &[BigInt]| -> Option<Vec<i128>> { v.iter().map(|x| x.to_i128()).collect() };
    let w = small(&l1.w.vals)?;
    let b = small(&l1.b)?;
    let basis: Vec<Vec<i128>> = basis.iter().map(|v| small(v)).collect::<Option<_>>()?;
    let origin = small(origin)?;
    let den = slice_den.to_i128()?;
    let dot = |i: usize, v: &[i128]| -> Option<i128> {
        let row = l1.w.row(i);
        let range = l1.w.range(i);
        let mut s = 0i128;
        for (k, p) in range.enumerate() {
            s = s.checked_add(w[p].checked_mul(v[row.col(k)])?)?;
        }
        Some(s)
    };
    let mut fw = Vec::with_capacity(l1.n_out * basis.len());
    let mut fb = Vec::with_capacity(l1.n_out);
    for (i, bi) in b.iter().enumerate() {
        for v in &basis {
            fw.push(BigInt::from(dot(i, v)?));
        }
        fb.push(BigInt::from(
            dot(i, &origin)?.checked_add(bi.checked_mul(den)?)?,
        ));
    }
    Some((fw, fb))
}

impl Restricted {
    /// Plain f64 forward pass of the hidden layers at many points (`points` holds d values per
    /// point); returns the last hidden layer's pre-activations. This is the "forward-pass floor"
    /// (benchmarks/README.md#the-forward-pass-floor): the engine's time is compared with one such
    /// pass at all final vertices.
    pub fn forward_batch(&self, points: &[f64]) -> Vec<f64> {
        use rayon::prelude::*;
        const CHUNK: usize = 1024;
        let d = self.d;
        let count = points.len() / d;
        let last = self.widths.last().copied().unwrap_or(0);
        let mut out = vec![0.0; count * last];
        // Huge pages where the machine allows: fewer page faults, a faster floor (never a
        // flattering one).
        crate::memory::advise_huge_pages(&mut out);
        if last == 0 {
            return out;
        }
        out.par_chunks_mut(CHUNK * last)
            .zip(points.par_chunks(CHUNK * d))
            .for_each(|(out, pts)| {
                let rows = pts.len() / d;
                let mut h = pts.to_vec();
                for (k, layer) in self.float.iter().enumerate() {
                    if k > 0 {
                        let z = std::mem::take(&mut h);
                        h = vec![0.0; z.len()];
                        for (zr, hr) in z.chunks(layer.n_in).zip(h.chunks_mut(layer.n_in)) {
                            layer.activate(zr, hr);
                        }
                    }
                    let mut z = vec![0.0; rows * layer.n_out];
                    layer.product(rows, &h, &mut z);
                    h = z;
                }
                out.copy_from_slice(&h);
            });
        out
    }
}

impl Restricted {
    /// The network's outputs at one point, in f64 (for pictures, not for decisions).
    pub fn output_f64(&self, t: &[f64]) -> Vec<f64> {
        let mut z = t.to_vec();
        for (k, layer) in self.float.iter().chain([&self.output_float]).enumerate() {
            let mut h = vec![0.0; z.len()];
            if k == 0 {
                h.copy_from_slice(&z);
            } else {
                layer.activate(&z, &mut h);
            }
            z = vec![0.0; layer.n_out];
            layer.product(1, &h, &mut z);
        }
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_rational::BigRational;
    use rand::{RngExt, SeedableRng};

    /// `floats_faithful` is false as soon as one exact non-zero number of any layer is not a
    /// normal f64 after rounding: a subnormal given as an f64 number (read from the floats) or
    /// as an exact string (converted), in a weight or a bias, in a later layer or the output.
    #[test]
    fn faithful_floats_are_told_from_the_numbers() {
        let faithful = |w2: &str, b2: &str, out: &str| {
            let text = format!(
                r#"{{"layers": [
                    {{"weight": [[1, 0.5], [-0.25, 1]], "bias": [0.1, -0.2]}},
                    {{"weight": [[1, {w2}], [0.75, -1]], "bias": [{b2}, 0.3]}},
                    {{"weight": [[{out}, 1]], "bias": [0]}}]}}"#
            );
            let net = Network::from_json(&text, "test").unwrap();
            let one = BigRational::from_integer(1.into());
            let slice = Slice::identity(vec![(-one.clone(), one.clone()), (-one.clone(), one)]);
            Restricted::new(&net, &slice).unwrap().floats_faithful
        };
        assert!(faithful("2", "0.5", "1"));
        assert!(faithful("0", "0", "1"), "exact zeros are faithful");
        assert!(!faithful("5e-324", "0.5", "1"), "a subnormal f64 weight");
        assert!(!faithful("2", "1e-310", "1"), "a subnormal f64 bias");
        assert!(
            !faithful("\"1e-400\"", "0.5", "1"),
            "an exact weight that underflows"
        );
        assert!(!faithful("2", "0.5", "1e-320"), "a subnormal output weight");
        assert!(
            faithful("\"1/3\"", "0.5", "1"),
            "an exact weight that rounds to a normal"
        );
    }

    /// The f32 bound product is an upper bound on the exact Σ|w|·e, and a tight one: for
    /// errors spread over many magnitudes (down to f32's subnormal range and below, where
    /// rounding up to f32 keeps them non-zero) and weights that are not f32 numbers.
    #[test]
    fn abs_product_bounds_the_exact_sum_from_above() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x05ee_dab5);
        let (rows, n_in, n_out) = (5, 300, 7);
        let w: Vec<f64> = (0..n_in * n_out)
            .map(|_| rng.random_range(-1.0..1.0) / 3.0)
            .collect();
        let layer = FloatLayer::new(n_in, n_out, w.clone(), vec![0.0; n_out]);
        let e: Vec<f64> = (0..rows * n_in)
            .map(|k| {
                let exponent = [-300, -160, -45, -12, 0, 3][k % 6];
                rng.random_range(0.0..1.0) * 2f64.powi(exponent)
            })
            .collect();
        let mut out = vec![0.0; rows * n_out];
        layer.abs_product(rows, &e, &mut out);
        let q = |x: f64| BigRational::from_float(x).expect("finite");
        for r in 0..rows {
            for i in 0..n_out {
                let exact: BigRational = (0..n_in)
                    .map(|k| q(w[i * n_in + k].abs()) * q(e[r * n_in + k]))
                    .sum();
                let got = q(out[r * n_out + i]);
                assert!(got >= exact, "row {r}, neuron {i}: below the exact sum");
                let loose = exact * q(1.0 + 1e-4) + q(1e-38);
                assert!(got <= loose, "row {r}, neuron {i}: too loose");
            }
        }
    }
}
