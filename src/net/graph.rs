//! The network as a graph of piecewise-linear operations, as it is read (an ONNX model or a
//! version-2 network file), before [`super::lower`] turns it into the layer sequence the engines
//! count.
//!
//! Every linear operation (dense, convolution, batch norm, average pooling) is an exact
//! [`Op::Affine`] map built here from its parameters, with sparse weights where the operation is
//! local; the piecewise-linear ones are [`Op::Slope`] (ReLU, LeakyReLU, PReLU), [`Op::Clip`] and
//! [`Op::Max`] (max pooling). Tensors are flat, in C order, without the batch dimension.

use super::Num;
use crate::error::{Error, Result};
use crate::exact::number::rational_from_f64;
use crate::matrix::Matrix;
use num_rational::BigRational;
use num_traits::{One, Zero};

/// A value of the graph: 0 is the input, k + 1 the output of node k.
pub type ValueId = usize;

/// A graph of operations in topological order.
#[derive(Debug, Clone)]
pub struct Graph {
    pub input_shape: Vec<usize>,
    pub nodes: Vec<Node>,
    pub output: ValueId,
}

#[derive(Debug, Clone)]
pub struct Node {
    /// The name in the source (an ONNX node name or `layers[3]`), for messages.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    /// The output's shape (C order, no batch dimension).
    pub shape: Vec<usize>,
}

#[derive(Debug, Clone)]
pub enum Op {
    /// `y = W x + b`, exact. `label` names the operation for reports (`Conv 1→16 3×3`).
    Affine {
        weight: Matrix<Num>,
        bias: Vec<Num>,
        label: String,
    },
    /// A constant tensor (no inputs).
    Const(Vec<Num>),
    /// `y = x₁ + x₂`.
    Add,
    /// `y = x` (a new shape: Flatten, Reshape, Identity, Dropout at inference).
    Reshape,
    /// Element by element: `y = x` where `x > 0`, `slope · x` elsewhere (ReLU: slope 0).
    Slope { slope: Vec<Num>, label: String },
    /// Element by element: `y = min(max(x, lo), hi)`; a missing bound is infinite.
    Clip { lo: Option<Num>, hi: Option<Num> },
    /// `y_k = max_{j ∈ windows[k]} x_j`; ties go to the first element of the window.
    Max {
        windows: Vec<Vec<u32>>,
        label: String,
    },
}

impl Op {
    /// A short name for the architecture summary.
    pub fn label(&self) -> String {
        match self {
            Op::Affine { label, .. } | Op::Slope { label, .. } | Op::Max { label, .. } => {
                label.clone()
            }
            Op::Const(_) => "Constant".into(),
            Op::Add => "Add".into(),
            Op::Reshape => "Reshape".into(),
            Op::Clip { lo, hi } => format!(
                "Clip [{}, {}]",
                lo.as_ref()
                    .map_or("-inf".into(), |x| x.approx().to_string()),
                hi.as_ref().map_or("inf".into(), |x| x.approx().to_string())
            ),
        }
    }

    /// Whether the operation makes boundaries (is not affine).
    pub fn is_piecewise(&self) -> bool {
        matches!(self, Op::Slope { .. } | Op::Clip { .. } | Op::Max { .. })
    }
}

impl Graph {
    pub fn new(input_shape: Vec<usize>) -> Graph {
        Graph {
            input_shape,
            nodes: Vec::new(),
            output: 0,
        }
    }

    pub fn shape(&self, v: ValueId) -> &[usize] {
        if v == 0 {
            &self.input_shape
        } else {
            &self.nodes[v - 1].shape
        }
    }

    pub fn size(&self, v: ValueId) -> usize {
        self.shape(v).iter().product()
    }

    pub fn input_size(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Appends a node; returns its output value (which becomes the graph's output).
    pub fn push(
        &mut self,
        name: String,
        op: Op,
        inputs: Vec<ValueId>,
        shape: Vec<usize>,
    ) -> ValueId {
        self.nodes.push(Node {
            name,
            op,
            inputs,
            shape,
        });
        self.output = self.nodes.len();
        self.output
    }

    /// The operations in order, for reports.
    pub fn architecture(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| !matches!(n.op, Op::Const(_) | Op::Reshape))
            .map(|n| n.op.label())
            .collect()
    }
}

/// The exact number of an f64 computed here (scales of batch norm): finite by check.
fn num_of(x: f64, file: &str, place: &str) -> Result<Num> {
    if x.is_finite() {
        Ok(Num::F64(x))
    } else {
        Err(Error::field(
            file,
            place,
            format!("gives the non-finite value {x}"),
        ))
    }
}

/// Spatial geometry shared by convolution and pooling: 1-D inputs are 2-D ones of height 1.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Padding before and after, per spatial axis: [top, left, bottom, right].
    pub pads: [usize; 4],
}

impl Window {
    /// From per-axis lists of 1 or 2 spatial axes (ONNX order; pads `[begins…, ends…]`).
    pub fn new(
        kernel: &[usize],
        stride: &[usize],
        dilation: &[usize],
        pads: &[usize],
        place: (&str, &str),
    ) -> Result<Window> {
        let (file, node) = place;
        let axes = kernel.len();
        if !(1..=2).contains(&axes) {
            return Err(Error::field(
                file,
                node,
                format!("has a {axes}-D kernel; 1-D and 2-D are supported"),
            ));
        }
        let check = |what: &str, v: &[usize], len: usize| -> Result<()> {
            if v.len() != len {
                return Err(Error::field(
                    file,
                    node,
                    format!("{what} has {} entries, expected {len}", v.len()),
                ));
            }
            Ok(())
        };
        check("strides", stride, axes)?;
        check("dilations", dilation, axes)?;
        check("pads", pads, 2 * axes)?;
        if kernel.iter().chain(stride).chain(dilation).any(|&x| x == 0) {
            return Err(Error::field(
                file,
                node,
                "kernel, strides and dilations must be at least 1",
            ));
        }
        Ok(if axes == 1 {
            Window {
                kernel: [1, kernel[0]],
                stride: [1, stride[0]],
                dilation: [1, dilation[0]],
                pads: [0, pads[0], 0, pads[1]],
            }
        } else {
            Window {
                kernel: [kernel[0], kernel[1]],
                stride: [stride[0], stride[1]],
                dilation: [dilation[0], dilation[1]],
                pads: [pads[0], pads[1], pads[2], pads[3]],
            }
        })
    }

    /// The output size along one axis (0: height, 1: width) for an input of size `n`.
    fn out_len(&self, axis: usize, n: usize) -> Option<usize> {
        let padded = n + self.pads[axis] + self.pads[axis + 2];
        let span = self.dilation[axis] * (self.kernel[axis] - 1) + 1;
        (padded >= span).then(|| (padded - span) / self.stride[axis] + 1)
    }

    /// Output (height, width) for an input of (height, width).
    pub fn output(&self, h: usize, w: usize, place: (&str, &str)) -> Result<(usize, usize)> {
        match (self.out_len(0, h), self.out_len(1, w)) {
            (Some(a), Some(b)) if a > 0 && b > 0 => Ok((a, b)),
            _ => Err(Error::field(
                place.0,
                place.1,
                format!("the kernel does not fit the {h}×{w} input (with its padding)"),
            )),
        }
    }

    /// The input positions (row-major over the kernel) of output position (oy, ox), `None`
    /// where the kernel lies on padding.
    fn taps(&self, oy: usize, ox: usize, h: usize, w: usize) -> Vec<Option<usize>> {
        let mut out = Vec::with_capacity(self.kernel[0] * self.kernel[1]);
        for ky in 0..self.kernel[0] {
            for kx in 0..self.kernel[1] {
                let y =
                    (oy * self.stride[0] + ky * self.dilation[0]) as isize - self.pads[0] as isize;
                let x =
                    (ox * self.stride[1] + kx * self.dilation[1]) as isize - self.pads[1] as isize;
                out.push(
                    (y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w)
                        .then(|| y as usize * w + x as usize),
                );
            }
        }
        out
    }
}

/// (channels, height, width) of a 1-D `[C, L]` or 2-D `[C, H, W]` shape.
pub fn spatial(shape: &[usize], place: (&str, &str)) -> Result<(usize, usize, usize)> {
    match shape {
        [c, l] => Ok((*c, 1, *l)),
        [c, h, w] => Ok((*c, *h, *w)),
        _ => Err(Error::field(
            place.0,
            place.1,
            format!("expects an input of shape [C, L] or [C, H, W], found {shape:?}"),
        )),
    }
}

/// The output shape: 1-D inputs stay 1-D.
fn spatial_shape(input: &[usize], c: usize, h: usize, w: usize) -> Vec<usize> {
    if input.len() == 2 {
        vec![c, w]
    } else {
        vec![c, h, w]
    }
}

/// A dense layer: `weight` row-major `n_out × n_in`.
pub fn dense(n_in: usize, n_out: usize, weight: Vec<Num>, bias: Vec<Num>) -> Op {
    Op::Affine {
        weight: Matrix::dense(n_out, n_in, weight),
        bias,
        label: format!("Dense {n_in}→{n_out}"),
    }
}

/// A convolution (1-D or 2-D): `weight` is `[M, C/groups, kh, kw]` flat (kh = 1 for 1-D).
pub fn conv(
    input: &[usize],
    out_channels: usize,
    weight: &[Num],
    bias: Option<Vec<Num>>,
    window: Window,
    groups: usize,
    place: (&str, &str),
) -> Result<(Op, Vec<usize>)> {
    let (c, h, w) = spatial(input, place)?;
    if groups == 0 || !c.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
        return Err(Error::field(
            place.0,
            place.1,
            format!(
                "groups = {groups} must divide the {c} input and {out_channels} output channels"
            ),
        ));
    }
    let per_group = c / groups;
    let taps = window.kernel[0] * window.kernel[1];
    if weight.len() != out_channels * per_group * taps {
        return Err(Error::field(
            place.0,
            place.1,
            format!(
                "the weight has {} entries, expected {out_channels}×{per_group}×{}×{} = {}",
                weight.len(),
                window.kernel[0],
                window.kernel[1],
                out_channels * per_group * taps
            ),
        ));
    }
    let bias = bias.unwrap_or_else(|| vec![Num::F64(0.0); out_channels]);
    if bias.len() != out_channels {
        return Err(Error::field(
            place.0,
            place.1,
            format!(
                "the bias has {} entries, expected {out_channels}",
                bias.len()
            ),
        ));
    }
    let (oh, ow) = window.output(h, w, place)?;
    let n_out = out_channels * oh * ow;
    let mut start = Vec::with_capacity(n_out + 1);
    let (mut cols, mut vals) = (Vec::new(), Vec::new());
    let mut b = Vec::with_capacity(n_out);
    start.push(0);
    for m in 0..out_channels {
        let g = m / (out_channels / groups);
        for oy in 0..oh {
            for ox in 0..ow {
                let positions = window.taps(oy, ox, h, w);
                let mut row: Vec<(u32, Num)> = Vec::new();
                for ci in 0..per_group {
                    let channel = g * per_group + ci;
                    for (t, pos) in positions.iter().enumerate() {
                        let Some(pos) = pos else { continue };
                        let wv = &weight[(m * per_group + ci) * taps + t];
                        if wv.approx() != 0.0 || !wv.is_f64() {
                            row.push(((channel * h * w + pos) as u32, wv.clone()));
                        }
                    }
                }
                row.sort_by_key(|(col, _)| *col);
                for (col, v) in row {
                    cols.push(col);
                    vals.push(v);
                }
                start.push(vals.len());
                b.push(bias[m].clone());
            }
        }
    }
    let label = format!(
        "Conv {c}→{out_channels} {}{}",
        if input.len() == 2 {
            format!("{}", window.kernel[1])
        } else {
            format!("{}×{}", window.kernel[0], window.kernel[1])
        },
        if window.stride != [1, 1] {
            format!(
                " stride {:?}",
                if input.len() == 2 {
                    vec![window.stride[1]]
                } else {
                    window.stride.to_vec()
                }
            )
        } else {
            String::new()
        }
    );
    Ok((
        Op::Affine {
            weight: Matrix::sparse(n_out, c * h * w, start, cols, vals),
            bias: b,
            label,
        },
        spatial_shape(input, out_channels, oh, ow),
    ))
}

/// Batch normalisation at inference, `y = s·(x − mean) + beta` per channel (axis 0 of the
/// shape) with `s = gamma / sqrt(var + eps)` computed in f64 (IEEE: the sum, the square root and
/// the quotient each correctly rounded) — the one step that is not exact, since the square root
/// is irrational; from `s` on everything is exact.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    shape: &[usize],
    gamma: &[Num],
    beta: &[Num],
    mean: &[Num],
    var: &[Num],
    eps: f64,
    place: (&str, &str),
) -> Result<Op> {
    let c = *shape.first().unwrap_or(&1);
    for (what, v) in [("scale", gamma), ("B", beta), ("mean", mean), ("var", var)] {
        if v.len() != c {
            return Err(Error::field(
                place.0,
                place.1,
                format!("{what} has {} entries, the input has {c} channels", v.len()),
            ));
        }
    }
    let per_channel: usize = shape.iter().skip(1).product();
    let n = c * per_channel;
    let mut vals = Vec::with_capacity(n);
    let mut bias = Vec::with_capacity(n);
    for k in 0..c {
        let s = gamma[k].approx() / (var[k].approx() + eps).sqrt();
        let s = num_of(s, place.0, place.1)?;
        let shift = beta[k].exact() - s.exact() * mean[k].exact();
        let shift = Num::from_rational(shift);
        for _ in 0..per_channel {
            vals.push(s.clone());
            bias.push(shift.clone());
        }
    }
    Ok(Op::Affine {
        weight: Matrix::sparse(n, n, (0..=n).collect(), (0..n as u32).collect(), vals),
        bias,
        label: "BatchNorm".into(),
    })
}

/// Average pooling; with `count_include_pad` false the divisor is the number of positions of
/// the window inside the input.
pub fn avg_pool(
    input: &[usize],
    window: Window,
    count_include_pad: bool,
    place: (&str, &str),
) -> Result<(Op, Vec<usize>)> {
    let (c, h, w) = spatial(input, place)?;
    let (oh, ow) = window.output(h, w, place)?;
    let n_out = c * oh * ow;
    let mut start = vec![0];
    let (mut cols, mut vals) = (Vec::new(), Vec::new());
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let taps = window.taps(oy, ox, h, w);
                let inside: Vec<usize> = taps.iter().flatten().copied().collect();
                let divisor = if count_include_pad {
                    taps.len()
                } else {
                    inside.len()
                };
                if divisor == 0 {
                    return Err(Error::field(
                        place.0,
                        place.1,
                        "a pooling window lies entirely on padding",
                    ));
                }
                let weight = Num::from_rational(BigRational::new(
                    One::one(),
                    num_bigint::BigInt::from(divisor),
                ));
                let mut row: Vec<u32> = inside.iter().map(|&p| (ch * h * w + p) as u32).collect();
                row.sort_unstable();
                for col in row {
                    cols.push(col);
                    vals.push(weight.clone());
                }
                start.push(vals.len());
            }
        }
    }
    Ok((
        Op::Affine {
            weight: Matrix::sparse(n_out, c * h * w, start, cols, vals),
            bias: vec![Num::F64(0.0); n_out],
            label: format!("AveragePool {:?}", kernel_label(input, &window)),
        },
        spatial_shape(input, c, oh, ow),
    ))
}

fn kernel_label(input: &[usize], window: &Window) -> Vec<usize> {
    if input.len() == 2 {
        vec![window.kernel[1]]
    } else {
        window.kernel.to_vec()
    }
}

/// Max pooling: each output is the max of its window's positions inside the input (padding is
/// never a candidate), in row-major kernel order (ties: the first wins).
pub fn max_pool(input: &[usize], window: Window, place: (&str, &str)) -> Result<(Op, Vec<usize>)> {
    let (c, h, w) = spatial(input, place)?;
    let (oh, ow) = window.output(h, w, place)?;
    let mut windows = Vec::with_capacity(c * oh * ow);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let inside: Vec<u32> = window
                    .taps(oy, ox, h, w)
                    .into_iter()
                    .flatten()
                    .map(|p| (ch * h * w + p) as u32)
                    .collect();
                if inside.is_empty() {
                    return Err(Error::field(
                        place.0,
                        place.1,
                        "a pooling window lies entirely on padding",
                    ));
                }
                windows.push(inside);
            }
        }
    }
    Ok((
        Op::Max {
            windows,
            label: format!("MaxPool {:?}", kernel_label(input, &window)),
        },
        spatial_shape(input, c, oh, ow),
    ))
}

impl Num {
    /// An exact rational as a `Num`: its f64 when that is the same number.
    pub fn from_rational(q: BigRational) -> Num {
        let x = crate::exact::number::to_f64(&q);
        if x.is_finite() && rational_from_f64(x).as_ref() == Some(&q) {
            Num::F64(x)
        } else {
            Num::Exact(q)
        }
    }

    pub fn is_zero(&self) -> bool {
        match self {
            Num::F64(x) => *x == 0.0,
            Num::Exact(q) => q.is_zero(),
        }
    }

    /// `self · other`, exact (an f64 when the product is one).
    pub fn mul(&self, other: &Num) -> Num {
        if let (Num::F64(a), Num::F64(b)) = (self, other) {
            let p = a * b;
            // Error-free check: the product is exact iff fma(a, b, −p) = 0 (and no underflow).
            if p.is_finite()
                && (p == 0.0 && (*a == 0.0 || *b == 0.0)
                    || p.abs() >= f64::MIN_POSITIVE * 4503599627370496.0
                        && a.mul_add(*b, -p) == 0.0)
            {
                return Num::F64(p);
            }
        }
        Num::from_rational(self.exact() * other.exact())
    }

    /// `self + other`, exact (an f64 when the sum is one).
    pub fn add(&self, other: &Num) -> Num {
        if let (Num::F64(a), Num::F64(b)) = (self, other) {
            let s = a + b;
            // Two-sum: the rounding error of a + b, exactly (no overflow: s finite).
            let bb = s - a;
            let err = (a - (s - bb)) + (b - bb);
            if s.is_finite() && err == 0.0 {
                return Num::F64(s);
            }
        }
        Num::from_rational(self.exact() + other.exact())
    }

    pub fn neg(&self) -> Num {
        match self {
            Num::F64(x) => Num::F64(-x),
            Num::Exact(q) => Num::Exact(-q),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> Num {
        Num::F64(x)
    }

    #[test]
    fn exact_arithmetic_keeps_floats_when_it_can() {
        assert_eq!(f(0.5).mul(&f(3.0)), f(1.5));
        let third = f(0.1).mul(&f(3.0));
        assert!(!third.is_f64());
        assert_eq!(third.exact(), f(0.1).exact() * f(3.0).exact());
        assert_eq!(f(0.1).add(&f(0.2)).exact(), f(0.1).exact() + f(0.2).exact());
        assert!(f(1.0).add(&f(2.0)).is_f64());
        // Products in the subnormal range go exact rather than trusting the fma check.
        assert!(!f(1e-200).mul(&f(1e-200)).is_f64());
    }

    #[test]
    fn convolution_taps_padding_stride_and_groups() {
        // One channel 3×3, kernel 2×2 of ones, stride 1, pad 1 on every side: 4×4 output; the
        // corner output sees one input, the centre ones four.
        let window = Window::new(&[2, 2], &[1, 1], &[1, 1], &[1, 1, 1, 1], ("t", "c")).unwrap();
        let (op, shape) =
            conv(&[1, 3, 3], 1, &vec![f(1.0); 4], None, window, 1, ("t", "c")).unwrap();
        assert_eq!(shape, vec![1, 4, 4]);
        let Op::Affine { weight, .. } = op else {
            panic!()
        };
        assert_eq!(weight.range(0).len(), 1);
        assert_eq!(weight.range(5).len(), 4);
        // Two groups: output channel 1 reads input channel 1 only.
        let window = Window::new(&[1], &[1], &[1], &[0, 0], ("t", "c")).unwrap();
        let (op, _) = conv(&[2, 3], 2, &[f(2.0), f(5.0)], None, window, 2, ("t", "c")).unwrap();
        let Op::Affine { weight, .. } = op else {
            panic!()
        };
        let row: Vec<(usize, f64)> = weight.row(3).iter().map(|(c, v)| (c, v.approx())).collect();
        assert_eq!(row, vec![(3, 5.0)]);
    }

    #[test]
    fn pooling_windows_skip_padding() {
        let window = Window::new(&[2], &[2], &[1], &[1, 1], ("t", "p")).unwrap();
        let (op, shape) = max_pool(&[1, 3], window, ("t", "p")).unwrap();
        assert_eq!(shape, vec![1, 2]);
        let Op::Max { windows, .. } = op else {
            panic!()
        };
        assert_eq!(windows, vec![vec![0], vec![1, 2]]);
        let (op, _) = avg_pool(&[1, 3], window, false, ("t", "p")).unwrap();
        let Op::Affine { weight, .. } = op else {
            panic!()
        };
        assert_eq!(weight.row(0).vals[0].approx(), 1.0);
        assert_eq!(weight.row(1).vals[0].approx(), 0.5);
    }
}
