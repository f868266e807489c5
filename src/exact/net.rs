//! The restricted network in fraction-free integer form.
//!
//! Layer l computes `z_l = (w_l · h_{l-1} + b_l) / den_l` with integer `w_l`, `b_l` and
//! `den_l > 0`. A forward pass at a rational point keeps one common positive denominator per
//! layer, so signs are the signs of integer numerators and no gcd is ever taken.

use super::point::ExactPoint;
use crate::matrix::Matrix;
use crate::net::Num;
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// One layer, `z = (w · h + b) / den` on a cell where every input is active. An input that is
/// inactive there contributes with `w_neg` instead (its weight times the input's negative-side
/// slope: none for ReLU inputs, which then contribute nothing). Pass-through inputs have
/// `w_neg = w`, so they contribute the same on either side.
#[derive(Debug, Clone)]
pub struct ExactLayer {
    pub n_in: usize,
    pub n_out: usize,
    pub w: Matrix<BigInt>,
    /// Laid out like `w`; `None`: every input is a ReLU.
    pub w_neg: Option<Vec<BigInt>>,
    pub b: Vec<BigInt>,
    pub den: BigInt,
}

impl ExactLayer {
    /// From exact rational weights (and inactive-side weights, laid out alike) and biases: one
    /// common denominator, reduced.
    pub fn from_rationals(
        w: &Matrix<BigRational>,
        w_neg: Option<&[BigRational]>,
        b: &[BigRational],
    ) -> Self {
        let all = w.vals.iter().chain(w_neg.into_iter().flatten()).chain(b);
        let den = all.fold(BigInt::one(), |acc, q| acc.lcm(q.denom()));
        let scale = |q: &BigRational| q.numer() * (&den / q.denom());
        ExactLayer {
            n_in: w.n_in,
            n_out: w.n_out,
            w: w.map(scale),
            w_neg: w_neg.map(|v| v.iter().map(scale).collect()),
            b: b.iter().map(scale).collect(),
            den,
        }
        .reduced()
    }

    /// From the network's numbers. When every one is an f64 (the usual case: float32 and f64
    /// weights) the common denominator is a power of two read off the exponents, so no gcd is
    /// taken (a convolution or a wide dense layer has hundreds of thousands of entries).
    pub fn from_nums(w: &Matrix<Num>, w_neg: Option<&[Num]>, b: &[Num]) -> Self {
        let all = || w.vals.iter().chain(w_neg.into_iter().flatten()).chain(b);
        if !all().all(Num::is_f64) {
            let q = |v: &[Num]| v.iter().map(Num::exact).collect::<Vec<_>>();
            return ExactLayer::from_rationals(&w.map(Num::exact), w_neg.map(q).as_deref(), &q(b));
        }
        // x = m · 2^e with m odd; over the denominator 2^k, k = max(−e), x is m · 2^(e + k).
        let k = all()
            .filter_map(|x| dyadic(x.approx()).map(|(_, e)| (-e).max(0)))
            .max()
            .unwrap_or(0);
        let int = |x: &Num| -> BigInt {
            match dyadic(x.approx()) {
                None => BigInt::zero(),
                Some((m, e)) => BigInt::from(m) << ((e + k) as usize),
            }
        };
        ExactLayer {
            n_in: w.n_in,
            n_out: w.n_out,
            w: w.map(int),
            w_neg: w_neg.map(|v| v.iter().map(int).collect()),
            b: b.iter().map(int).collect(),
            den: BigInt::one() << (k as usize),
        }
    }

    /// A dense layer from row-major rational weights, every input a ReLU.
    pub fn dense(n_in: usize, n_out: usize, w: &[BigRational], b: &[BigRational]) -> Self {
        ExactLayer::from_rationals(&Matrix::dense(n_out, n_in, w.to_vec()), None, b)
    }

    /// Every integer of the layer: weights, inactive-side weights, biases, then the denominator.
    fn integers(&self) -> impl Iterator<Item = &BigInt> {
        self.w
            .vals
            .iter()
            .chain(self.w_neg.iter().flatten())
            .chain(&self.b)
            .chain(std::iter::once(&self.den))
    }

    fn integers_mut(&mut self) -> impl Iterator<Item = &mut BigInt> {
        self.w
            .vals
            .iter_mut()
            .chain(self.w_neg.iter_mut().flatten())
            .chain(self.b.iter_mut())
            .chain(std::iter::once(&mut self.den))
    }

    /// Divides out the common power of two of every entry and the denominator (cheap: trailing
    /// zeros, no gcd); enough for layers from floats, whose denominators are powers of two.
    pub fn reduced_twos(mut self) -> Self {
        super::number::divide_common_twos(self.integers_mut());
        self
    }

    /// Divides out the gcd of every entry and the denominator.
    pub fn reduced(mut self) -> Self {
        let g = self.integers().fold(BigInt::zero(), |g, x| g.gcd(x));
        if !g.is_one() && !g.is_zero() {
            for x in self.integers_mut() {
                *x /= &g;
            }
        }
        self
    }

    /// Row i's (column, weight) on a cell where input j is active iff `active(j)`: `w` for
    /// active inputs, `w_neg` for inactive ones (skipped when zero or absent).
    pub fn row_on<'a>(
        &'a self,
        i: usize,
        active: &'a dyn Fn(usize) -> bool,
    ) -> impl Iterator<Item = (usize, &'a BigInt)> + 'a {
        let row = self.w.row(i);
        let neg = self.w_neg.as_ref().map(|v| self.w.row_of(v, i));
        (0..row.vals.len()).filter_map(move |k| {
            let j = row.col(k);
            let w = if active(j) {
                &row.vals[k]
            } else {
                &neg.as_ref()?.vals[k]
            };
            (!w.is_zero()).then_some((j, w))
        })
    }

    /// Row i of the layer at the input values `x` (numerators over a common positive
    /// denominator `q`; the sign of `x_j` picks its weight): `w·x + b·q`.
    pub fn apply_row(&self, i: usize, x: &[BigInt], q: &BigInt) -> BigInt {
        let mut s = &self.b[i] * q;
        let active = |j: usize| x[j].is_positive();
        let mut scratch = BigInt::zero();
        for (j, w) in self.row_on(i, &active) {
            if !x[j].is_zero() {
                crate::exact::number::add_product(&mut s, w, &x[j], &mut scratch);
            }
        }
        s
    }
}

/// A finite non-zero f64 as `m · 2^e` with `m` odd (`None` for zero).
fn dyadic(x: f64) -> Option<(i64, i64)> {
    if x == 0.0 {
        return None;
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let frac = (bits & ((1u64 << 52) - 1)) as i64;
    let (mut m, mut e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1i64 << 52), exp - 1075)
    };
    let tz = m.trailing_zeros() as i64;
    m >>= tz;
    e += tz;
    Some((if x < 0.0 { -m } else { m }, e))
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

    /// Divides out the common power of two of the coefficients (no gcd: cheap on huge numbers).
    pub fn without_common_twos(mut self) -> LineEq {
        super::number::divide_common_twos(self.a.iter_mut().chain(std::iter::once(&mut self.c)));
        self
    }

    pub fn is_constant(&self) -> bool {
        self.a.iter().all(Zero::is_zero)
    }

    /// `Some(true)` when `self = λ·other` with λ > 0 (the same closed halfspace), `Some(false)`
    /// when λ < 0 (the same hyperplane, opposite side), `None` otherwise (or when either is 0).
    /// Cross-multiplies, no gcd.
    pub fn multiple_of(&self, other: &LineEq) -> Option<bool> {
        let n = self.a.len();
        if other.a.len() != n {
            return None;
        }
        fn entry(e: &LineEq, i: usize) -> &BigInt {
            e.a.get(i).unwrap_or(&e.c)
        }
        let p = (0..=n).find(|&i| !entry(self, i).is_zero())?;
        let (xp, yp) = (entry(self, p), entry(other, p));
        if yp.is_zero() {
            return None;
        }
        if (0..=n).any(|i| entry(self, i) * yp != entry(other, i) * xp) {
            return None;
        }
        Some(xp.is_positive() == yp.is_positive())
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
    /// Hidden layers, each followed by its rows' activation (the next layer's `w_neg`); shared
    /// between restrictions of one network to many slices (all but the first).
    pub hidden: Vec<std::sync::Arc<ExactLayer>>,
    /// The affine output layer.
    pub output: std::sync::Arc<ExactLayer>,
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
        // The input is "active" (positive weights apply) whatever its sign: layer 0 has no w_neg.
        let mut x: Vec<BigInt> = p.num.clone();
        let mut q = p.den.clone();
        for (l, layer) in self.hidden[..=upto].iter().enumerate() {
            let z: Vec<BigInt> = if l == 0 {
                (0..layer.n_out)
                    .map(|i| {
                        let mut s = &layer.b[i] * &q;
                        for (j, w) in layer.w.row(i).iter() {
                            s += w * &x[j];
                        }
                        s
                    })
                    .collect()
            } else {
                (0..layer.n_out)
                    .map(|i| layer.apply_row(i, &x, &q))
                    .collect()
            };
            q = &q * &layer.den;
            num.push(z.clone());
            den.push(q.clone());
            x = z;
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
        let mut rows = self.first_rows();
        let mut q = self.hidden[0].den.clone();
        for (k, layer) in self.hidden.iter().enumerate().take(l + 1).skip(1) {
            let on = |j: usize| active(k - 1, j);
            let next = (0..layer.n_out)
                .map(|i| {
                    let mut a = vec![BigInt::zero(); d];
                    let mut c = &layer.b[i] * &q;
                    for (j, w) in layer.row_on(i, &on) {
                        for (ak, rk) in a.iter_mut().zip(&rows[j].a) {
                            *ak += w * rk;
                        }
                        c += w * &rows[j].c;
                    }
                    LineEq { a, c }
                })
                .collect();
            rows = next;
            q = &q * &layer.den;
        }
        (rows, q)
    }

    /// Layer 0's rows `(a, c)` (the slice is folded in, so its weights are dense over t).
    fn first_rows(&self) -> Vec<LineEq> {
        let first = &self.hidden[0];
        (0..first.n_out)
            .map(|i| LineEq {
                a: first.w.row(i).vals.to_vec(),
                c: first.b[i].clone(),
            })
            .collect()
    }

    /// The exact equation of neuron `i` of hidden layer `l` on the region with the given earlier
    /// pattern: zero set is its boundary there.
    pub fn neuron_line(&self, l: usize, i: usize, active: &dyn Fn(usize, usize) -> bool) -> LineEq {
        if l == 0 {
            return self.first_rows().swap_remove(i).reduced();
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
        for (j, w) in layer.row_on(i, active) {
            for (ak, rk) in a.iter_mut().zip(&rows[j].a) {
                *ak += w * rk;
            }
            c += w * &rows[j].c;
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
        // Layer l − 1 at p: (a·num + c·den) / (q·den); whether each is active there is given
        // (a vertex on its boundary has value 0 either way).
        let x: Vec<BigInt> = rows
            .iter()
            .map(|row| {
                let mut y = &row.c * &p.den;
                for (ak, xk) in row.a.iter().zip(&p.num) {
                    y += ak * xk;
                }
                y
            })
            .collect();
        let q1 = q * &p.den;
        let layer = &self.hidden[l];
        let mut scratch = BigInt::zero();
        let num = (0..layer.n_out)
            .map(|i| {
                let mut s = &layer.b[i] * &q1;
                for (j, w) in layer.row_on(i, active) {
                    if !x[j].is_zero() {
                        crate::exact::number::add_product(&mut s, w, &x[j], &mut scratch);
                    }
                }
                s
            })
            .collect();
        (num, q1 * &layer.den)
    }
}
