//! The restricted network: the slice folded exactly into the first layer
//! (docs/guide.md#networks-and-slices), in two forms that describe the same function: f64 layers
//! for the fast filtered path and an exact fraction-free form for every decision the floats
//! cannot prove.

use crate::error::{Error, Result};
use crate::exact::number::ratio_to_f64;
use crate::exact::{ExactLayer, ExactNet};
use crate::net::{Layer, Network};
use crate::slice::Slice;
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::One;

/// One hidden layer in f64, row-major `n_out × n_in`, with the norms the error bounds need.
#[derive(Debug, Clone)]
pub struct FloatLayer {
    pub n_in: usize,
    pub n_out: usize,
    pub w: Vec<f64>,
    pub b: Vec<f64>,
    /// max_i Σ_j |w_ij|, rounded up.
    pub row_l1_max: f64,
    /// max_i |b_i|.
    pub bias_max: f64,
}

impl FloatLayer {
    pub(crate) fn new(n_in: usize, n_out: usize, w: Vec<f64>, b: Vec<f64>) -> FloatLayer {
        let row_l1_max = (0..n_out)
            .map(|i| {
                w[i * n_in..(i + 1) * n_in]
                    .iter()
                    .map(|x| x.abs())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
            * (1.0 + 4.0 * n_in as f64 * f64::EPSILON);
        let bias_max = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        FloatLayer {
            n_in,
            n_out,
            w,
            b,
            row_l1_max,
            bias_max,
        }
    }
}

/// The network restricted to the slice: input t ∈ R^d.
#[derive(Debug, Clone)]
pub struct Restricted {
    pub d: usize,
    pub widths: Vec<usize>,
    /// First neuron index of each hidden layer in the global neuron numbering.
    pub offsets: Vec<usize>,
    pub neurons: usize,
    /// Shared: the planar engine keeps a handle for re-anchoring vertices.
    pub float: std::sync::Arc<Vec<FloatLayer>>,
    /// Shared: the engines keep a handle for exact fallbacks without copying big integers.
    pub exact: std::sync::Arc<ExactNet>,
    /// The affine output layer in f64 (entries rounded from the exact ones).
    pub output_float: FloatLayer,
    /// Every exact non-zero weight and bias is a normal f64 after rounding (none underflowed to
    /// a subnormal or zero). Filters that bound only relative rounding need this.
    pub floats_faithful: bool,
}

impl Restricted {
    pub fn new(net: &Network, slice: &Slice) -> Result<Restricted> {
        let n0 = net.input_dim();
        let d = slice.dim();
        if slice.origin.len() != n0 || slice.basis.iter().any(|b| b.len() != n0) {
            return Err(Error::Unsupported(format!(
                "the slice lives in R^{} but the network's input is R^{n0}",
                slice.origin.len()
            )));
        }
        let layers: Vec<&Layer> = net.layers.iter().collect();
        // Fold: W1·B (n1 × d) and W1·origin + b1, fraction-free.
        let first = layers[0];
        let w1: Vec<BigRational> = first.weight.iter().map(|x| x.exact()).collect();
        let b1: Vec<BigRational> = first.bias.iter().map(|x| x.exact()).collect();
        let l1 = ExactLayer::from_rationals(n0, first.n_out, &w1, &b1);
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
        let mut fw = Vec::with_capacity(first.n_out * d);
        let mut fb = Vec::with_capacity(first.n_out);
        for i in 0..first.n_out {
            let row = &l1.w[i * n0..(i + 1) * n0];
            for v in &basis {
                fw.push(row.iter().zip(v).map(|(a, b)| a * b).sum::<BigInt>());
            }
            let dot: BigInt = row.iter().zip(&origin).map(|(a, b)| a * b).sum();
            fb.push(dot + &l1.b[i] * &slice_den);
        }
        let folded = ExactLayer {
            n_in: d,
            n_out: first.n_out,
            w: fw,
            b: fb,
            den: &l1.den * &slice_den,
        }
        .reduced();

        let mut exact_layers = vec![folded];
        for layer in &layers[1..] {
            let w: Vec<BigRational> = layer.weight.iter().map(|x| x.exact()).collect();
            let b: Vec<BigRational> = layer.bias.iter().map(|x| x.exact()).collect();
            exact_layers.push(ExactLayer::from_rationals(layer.n_in, layer.n_out, &w, &b));
        }
        let output = exact_layers.pop().expect("at least one layer");
        let exact = ExactNet {
            d,
            hidden: exact_layers,
            output,
        };

        let mut float = Vec::new();
        for (k, layer) in exact.hidden.iter().enumerate() {
            let (w, b) = if k == 0 {
                (
                    layer
                        .w
                        .iter()
                        .map(|x| ratio_to_f64(x, &layer.den))
                        .collect(),
                    layer
                        .b
                        .iter()
                        .map(|x| ratio_to_f64(x, &layer.den))
                        .collect(),
                )
            } else {
                let src = layers[k];
                (
                    src.weight.iter().map(|x| x.approx()).collect(),
                    src.bias.iter().map(|x| x.approx()).collect(),
                )
            };
            float.push(FloatLayer::new(layer.n_in, layer.n_out, w, b));
        }
        let out = &exact.output;
        let output_float = FloatLayer::new(
            out.n_in,
            out.n_out,
            out.w.iter().map(|x| ratio_to_f64(x, &out.den)).collect(),
            out.b.iter().map(|x| ratio_to_f64(x, &out.den)).collect(),
        );
        let faithful = |layer: &ExactLayer| {
            layer.w.iter().chain(&layer.b).all(|x| {
                num_traits::Zero::is_zero(x)
                    || ratio_to_f64(x, &layer.den).abs() >= f64::MIN_POSITIVE
            })
        };
        let floats_faithful = exact.hidden.iter().all(faithful) && faithful(&exact.output);
        let widths = exact.widths();
        let mut offsets = Vec::with_capacity(widths.len());
        let mut n = 0;
        for w in &widths {
            offsets.push(n);
            n += w;
        }
        Ok(Restricted {
            d,
            widths,
            offsets,
            neurons: n,
            float: std::sync::Arc::new(float),
            exact: std::sync::Arc::new(exact),
            output_float,
            floats_faithful,
        })
    }
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
                    let mut z = vec![0.0; rows * layer.n_out];
                    for r in 0..rows {
                        z[r * layer.n_out..(r + 1) * layer.n_out].copy_from_slice(&layer.b);
                    }
                    // SAFETY: the slices have exactly rows × n_in and rows × n_out entries.
                    unsafe {
                        matrixmultiply::dgemm(
                            rows,
                            layer.n_in,
                            layer.n_out,
                            1.0,
                            h.as_ptr(),
                            layer.n_in as isize,
                            1,
                            layer.w.as_ptr(),
                            1,
                            layer.n_in as isize,
                            1.0,
                            z.as_mut_ptr(),
                            layer.n_out as isize,
                            1,
                        );
                    }
                    if k + 1 < self.float.len() {
                        z.iter_mut().for_each(|x| *x = x.max(0.0));
                    }
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
        let mut h = t.to_vec();
        for layer in self.float.iter() {
            h = (0..layer.n_out)
                .map(|i| {
                    let z: f64 = layer.w[i * layer.n_in..(i + 1) * layer.n_in]
                        .iter()
                        .zip(&h)
                        .map(|(w, x)| w * x)
                        .sum::<f64>()
                        + layer.b[i];
                    z.max(0.0)
                })
                .collect();
        }
        let out = &self.output_float;
        (0..out.n_out)
            .map(|i| {
                out.w[i * out.n_in..(i + 1) * out.n_in]
                    .iter()
                    .zip(&h)
                    .map(|(w, x)| w * x)
                    .sum::<f64>()
                    + out.b[i]
            })
            .collect()
    }
}
