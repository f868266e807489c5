//! The restricted network in fraction-free integer form.
//!
//! Layer l computes `z_l = (w_l · h_{l-1} + b_l) / den_l` with integer `w_l`, `b_l` and
//! `den_l > 0`. A forward pass at a rational point keeps one common positive denominator per
//! layer, so signs are the signs of integer numerators and no gcd is ever taken.

use super::point::ExactPoint;
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// One dense layer, `z = (w · h + b) / den`, `w` row-major `n_out × n_in`.
#[derive(Debug, Clone)]
pub struct ExactLayer {
    pub n_in: usize,
    pub n_out: usize,
    pub w: Vec<BigInt>,
    pub b: Vec<BigInt>,
    pub den: BigInt,
}

impl ExactLayer {
    /// From exact rational weights (row-major) and biases: one common denominator, reduced.
    pub fn from_rationals(n_in: usize, n_out: usize, w: &[BigRational], b: &[BigRational]) -> Self {
        let den = w
            .iter()
            .chain(b)
            .fold(BigInt::one(), |acc, q| acc.lcm(q.denom()));
        let scale = |q: &BigRational| q.numer() * (&den / q.denom());
        ExactLayer {
            n_in,
            n_out,
            w: w.iter().map(scale).collect(),
            b: b.iter().map(scale).collect(),
            den,
        }
        .reduced()
    }

    /// Divides out the gcd of every entry and the denominator.
    pub fn reduced(mut self) -> Self {
        let g = self
            .w
            .iter()
            .chain(&self.b)
            .fold(self.den.clone(), |g, x| g.gcd(x));
        if !g.is_one() && !g.is_zero() {
            for x in self.w.iter_mut().chain(self.b.iter_mut()) {
                *x /= &g;
            }
            self.den /= &g;
        }
        self
    }

    pub fn weight(&self, i: usize, j: usize) -> &BigInt {
        &self.w[i * self.n_in + j]
    }
}

/// The exact equation `a · t + c` (integers) of an affine function up to a positive factor;
/// its zero set is a neuron's boundary (a line for d = 2, a point for d = 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LineEq {
    pub a: Vec<BigInt>,
    pub c: BigInt,
}

impl LineEq {
    /// Divides out the common factor (keeps the sign).
    pub fn reduced(mut self) -> LineEq {
        let g = self.a.iter().fold(self.c.abs(), |g, x| g.gcd(x));
        if !g.is_one() && !g.is_zero() {
            for x in &mut self.a {
                *x /= &g;
            }
            self.c /= &g;
        }
        self
    }

    pub fn is_constant(&self) -> bool {
        self.a.iter().all(Zero::is_zero)
    }
}

/// Exact pre-activations of every hidden layer at one point: numerators over positive
/// denominators, so `num[l][j].signum()` is the exact sign of neuron j of layer l.
#[derive(Debug, Clone)]
pub struct ExactActivations {
    pub num: Vec<Vec<BigInt>>,
    pub den: Vec<BigInt>,
}

/// The restricted network (slice folded into layer 1) with input dimension `d`.
#[derive(Debug, Clone)]
pub struct ExactNet {
    pub d: usize,
    /// Hidden layers, each followed by ReLU.
    pub hidden: Vec<ExactLayer>,
    /// The affine output layer.
    pub output: ExactLayer,
}

impl ExactNet {
    pub fn widths(&self) -> Vec<usize> {
        self.hidden.iter().map(|l| l.n_out).collect()
    }

    /// Exact pre-activations of hidden layers `0..=upto` at the point `p`.
    pub fn forward(&self, p: &ExactPoint, upto: usize) -> ExactActivations {
        assert_eq!(p.num.len(), self.d);
        let mut num = Vec::with_capacity(upto + 1);
        let mut den = Vec::with_capacity(upto + 1);
        let mut h: Vec<BigInt> = p.num.clone();
        let mut q = p.den.clone();
        for layer in &self.hidden[..=upto] {
            let mut z = Vec::with_capacity(layer.n_out);
            for i in 0..layer.n_out {
                let mut s = &layer.b[i] * &q;
                let row = &layer.w[i * layer.n_in..(i + 1) * layer.n_in];
                for (w, x) in row.iter().zip(&h) {
                    if !x.is_zero() && !w.is_zero() {
                        s += w * x;
                    }
                }
                z.push(s);
            }
            q = &q * &layer.den;
            h = z
                .iter()
                .map(|x| {
                    if x.is_positive() {
                        x.clone()
                    } else {
                        BigInt::zero()
                    }
                })
                .collect();
            num.push(z);
            den.push(q.clone());
        }
        ExactActivations { num, den }
    }

    /// The exact affine map `t ↦ z_l(t)` of every neuron of hidden layer `l` on the region
    /// where the earlier layers have the activation pattern `active(layer, neuron)`.
    /// Row i is `(a_i, c_i)`: `z_{l,i}(t) = (a_i · t + c_i) / den` with a common `den > 0`.
    pub fn layer_map(
        &self,
        l: usize,
        active: &dyn Fn(usize, usize) -> bool,
    ) -> (Vec<LineEq>, BigInt) {
        let d = self.d;
        // Map of the current layer: rows (a, c) over the common denominator q.
        let first = &self.hidden[0];
        let mut rows: Vec<LineEq> = (0..first.n_out)
            .map(|i| LineEq {
                a: first.w[i * d..(i + 1) * d].to_vec(),
                c: first.b[i].clone(),
            })
            .collect();
        let mut q = first.den.clone();
        for (k, layer) in self.hidden.iter().enumerate().take(l + 1).skip(1) {
            let mut next = Vec::with_capacity(layer.n_out);
            for i in 0..layer.n_out {
                let mut a = vec![BigInt::zero(); d];
                let mut c = &layer.b[i] * &q;
                for (j, row) in rows.iter().enumerate() {
                    let w = layer.weight(i, j);
                    if w.is_zero() || !active(k - 1, j) {
                        continue;
                    }
                    for (ak, rk) in a.iter_mut().zip(&row.a) {
                        *ak += w * rk;
                    }
                    c += w * &row.c;
                }
                next.push(LineEq { a, c });
            }
            rows = next;
            q = &q * &layer.den;
        }
        (rows, q)
    }

    /// The exact equation of neuron `i` of hidden layer `l` on the region with the given earlier
    /// pattern: zero set is its boundary there.
    pub fn neuron_line(&self, l: usize, i: usize, active: &dyn Fn(usize, usize) -> bool) -> LineEq {
        if l == 0 {
            let first = &self.hidden[0];
            return LineEq {
                a: first.w[i * self.d..(i + 1) * self.d].to_vec(),
                c: first.b[i].clone(),
            }
            .reduced();
        }
        let (prev_rows, qprev) = self.layer_map(l - 1, active);
        self.line_on_map(l, i, &prev_rows, &qprev, &|j| active(l - 1, j))
    }

    /// Neuron `i` of hidden layer `l ≥ 1` given the map `rows / q` of layer `l − 1`'s
    /// pre-activations on a region and which of them are active there (reduced).
    pub fn line_on_map(
        &self,
        l: usize,
        i: usize,
        rows: &[LineEq],
        q: &BigInt,
        active: &dyn Fn(usize) -> bool,
    ) -> LineEq {
        let layer = &self.hidden[l];
        let mut a = vec![BigInt::zero(); self.d];
        let mut c = &layer.b[i] * q;
        for (j, row) in rows.iter().enumerate() {
            let w = layer.weight(i, j);
            if w.is_zero() || !active(j) {
                continue;
            }
            for (ak, rk) in a.iter_mut().zip(&row.a) {
                *ak += w * rk;
            }
            c += w * &row.c;
        }
        LineEq { a, c }.reduced()
    }

    /// Pre-activations of hidden layer `l ≥ 1` at `p`, given the map `rows / q` of layer
    /// `l − 1` on a region whose closure holds `p` and which neurons are active there: one
    /// layer of products instead of a forward pass from the input.
    pub fn layer_at(
        &self,
        l: usize,
        rows: &[LineEq],
        q: &BigInt,
        active: &dyn Fn(usize) -> bool,
        p: &ExactPoint,
    ) -> (Vec<BigInt>, BigInt) {
        // Layer l − 1 at p: (a·num + c·den) / (q·den); inactive neurons contribute nothing.
        let h: Vec<BigInt> = rows
            .iter()
            .enumerate()
            .map(|(j, row)| {
                if !active(j) {
                    return BigInt::zero();
                }
                let mut y = &row.c * &p.den;
                for (ak, xk) in row.a.iter().zip(&p.num) {
                    y += ak * xk;
                }
                y
            })
            .collect();
        let q1 = q * &p.den;
        let layer = &self.hidden[l];
        let num = (0..layer.n_out)
            .map(|i| {
                let mut s = &layer.b[i] * &q1;
                for (w, x) in layer.w[i * layer.n_in..(i + 1) * layer.n_in].iter().zip(&h) {
                    if !x.is_zero() && !w.is_zero() {
                        s += w * x;
                    }
                }
                s
            })
            .collect();
        (num, q1 * &layer.den)
    }
}
