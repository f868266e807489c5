//! Re-anchoring in double-double: the tier between f64 re-anchoring and big integers, on a
//! segment.
//!
//! f64 maps (`engine::refine`) carry their error bounds through |W| layer after layer, so eight
//! layers of 512 units multiply a bound by about 18⁸: a few vertices of a deep segment stay
//! undecided after f64 re-anchoring, and each then cost tens of milliseconds of big-integer
//! face maps. Here the same maps are carried as unevaluated sums hi + lo of two f64 (about 106
//! bits): the compounded bound starts from u² instead of u, and those vertices are decided for
//! about a tenth of the cost. What this tier cannot prove still goes to big integers.
//!
//! It applies when every hidden layer after the first holds its exact weights and biases as
//! f64 (networks read from float numbers) and is plain ReLU; the first layer (the slice folded
//! in) is converted from its exact rational form.
//!
//! Error model (`u = 2⁻⁵³`). `two_prod` and `two_sum` are error-free: `p + e = a·b`,
//! `s + e = a + b` exactly (outside underflow). A dot product Σ w_k·(hi_k + lo_k) is summed as
//! s (by `two_sum`, exact) plus c, the f64 sum of the small terms t_k = e_k (of the product) +
//! e'_k (of the sum) + w_k·lo_k. With |lo_k| ≤ u·|hi_k| (every stored pair is renormalised),
//! Σ|t_k| ≤ (m + 4)·u·(1 + γ_m)·(S + |b|) for S = Σ|w_k·hi_k|, and c is off by at most
//! γ_(m+4)·Σ|t_k|: in all at most 2·(m + 4)²·u²·(S + |b|). Inputs known within E_k add Σ|w_k|·E_k.
//! Underflow adds at most a few 2⁻¹⁰⁷⁴ per term, covered by an absolute `(m + 4)·MIN_POSITIVE`.

use super::refine::{TINY, U};
use crate::exact::number::ratio_to_f64;
use crate::restrict::FloatLayer;
use num_bigint::BigInt;

/// hi + lo, with |lo| ≤ u·|hi| once renormalised.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Dd {
    pub hi: f64,
    pub lo: f64,
}

#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

#[inline(always)]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

impl Dd {
    /// The pair for s + c (renormalised, exactly their sum).
    #[inline(always)]
    fn from_sum(s: f64, c: f64) -> Dd {
        let (hi, lo) = two_sum(s, c);
        Dd { hi, lo }
    }
}

/// γ_n = n·u / (1 − n·u).
fn gamma(n: usize) -> f64 {
    let nu = n as f64 * U;
    nu / (1.0 - nu)
}

/// One layer's pre-activations on a face of a segment, `t ↦ a·t + c` per neuron (rows
/// `[a, c]`), each coefficient within `bounds` of the exact one.
pub struct DdMap {
    pub rows: Vec<[Dd; 2]>,
    pub bounds: Vec<[f64; 2]>,
}

/// n / d (d > 0) as a pair and a bound on its error: hi the rounded quotient, lo the rounded
/// remainder (n − hi·d) / d, which is exact in integers.
fn dd_of_ratio(n: &BigInt, d: &BigInt) -> (Dd, f64) {
    let hi = ratio_to_f64(n, d);
    let Some(q) = num_rational::BigRational::from_float(hi) else {
        return (Dd { hi, lo: 0.0 }, f64::INFINITY);
    };
    // n/d − p/q = (n·q − p·d) / (d·q)
    let rem = n * q.denom() - q.numer() * d;
    let lo = ratio_to_f64(&rem, &(d * q.denom()));
    // (ratio_to_f64 rounds to nearest: within u·|lo|, or half a subnormal step.)
    let pair = Dd::from_sum(hi, lo);
    (pair, 2.0 * U * lo.abs() + TINY)
}

impl DdMap {
    /// Hidden layer 0 of a segment from its exact rows `(w_i·t + b_i) / den`.
    pub fn first(w: &[BigInt], b: &[BigInt], den: &BigInt) -> DdMap {
        let (mut rows, mut bounds) = (Vec::with_capacity(b.len()), Vec::with_capacity(b.len()));
        for (wi, bi) in w.iter().zip(b) {
            let ((a, ea), (c, ec)) = (dd_of_ratio(wi, den), dd_of_ratio(bi, den));
            rows.push([a, c]);
            bounds.push([ea, ec]);
        }
        DdMap { rows, bounds }
    }

    /// The next layer's map on a face, `W·diag(active)·self + b`: `layer` must hold its exact
    /// weights and biases and ReLU inputs (see [`layer_is_exact`]).
    pub fn next(&self, layer: &FloatLayer, active: impl Fn(usize) -> bool) -> DdMap {
        let m = layer.n_in;
        debug_assert_eq!(self.rows.len(), m);
        let on: Vec<bool> = (0..m).map(&active).collect();
        let g_small = 2.0 * ((m + 4) as f64).powi(2) * U * U * (1.0 + gamma(m + 4));
        let inflate = 1.0 + gamma(m + 4);
        let slack = (m + 4) as f64 * TINY;
        let mut rows = Vec::with_capacity(layer.n_out);
        let mut bounds = Vec::with_capacity(layer.n_out);
        for i in 0..layer.n_out {
            let row = layer.w.row(i);
            let mut s = [0.0f64; 2];
            let mut c = [0.0f64; 2];
            let mut size = [0.0f64; 2];
            let mut carried = [0.0f64; 2];
            for (p, &w) in row.vals.iter().enumerate() {
                let k = row.col(p);
                if !on[k] {
                    continue;
                }
                let aw = w.abs();
                for col in 0..2 {
                    let r = self.rows[k][col];
                    let (prod, ep) = two_prod(w, r.hi);
                    let (sum, es) = two_sum(s[col], prod);
                    s[col] = sum;
                    c[col] += (ep + es) + w * r.lo;
                    size[col] += aw * r.hi.abs();
                    carried[col] += aw * self.bounds[k][col];
                }
            }
            let bias = layer.b[i];
            let (sum, eb) = two_sum(s[1], bias);
            s[1] = sum;
            c[1] += eb;
            rows.push([Dd::from_sum(s[0], c[0]), Dd::from_sum(s[1], c[1])]);
            let total = [size[0], size[1] + bias.abs()];
            bounds.push(std::array::from_fn(|col| {
                (carried[col] * inflate + g_small * total[col] * inflate) * (1.0 + 8.0 * U) + slack
            }));
        }
        DdMap { rows, bounds }
    }

    /// Every row at the root of `line` (a row `[a, c]` of a map of the same face or an
    /// ancestor's, within its bounds): the values `(c_k·a − a_k·c) / a` as floats with a bound
    /// each, and their signs where proven (`None` where not). `None` when `a ≠ 0` is not proven.
    pub fn at_root(&self, line: ([Dd; 2], [f64; 2])) -> Option<Vec<(f64, f64, Option<i8>)>> {
        let ([a, c], [da, dc]) = line;
        let a_abs = a.hi.abs() + a.lo.abs();
        let den = (a.hi.abs() - a.lo.abs() - da) * (1.0 - 4.0 * U);
        if den.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let c_abs = c.hi.abs() + c.lo.abs();
        let a_sign = if a.hi > 0.0 { 1 } else { -1 };
        let mut out = Vec::with_capacity(self.rows.len());
        for ([ak, ck], [dak, dck]) in self.rows.iter().zip(&self.bounds) {
            // N = ck·a − ak·c: the hi·hi products exactly, the rest in f64.
            let (p1, e1) = two_prod(ck.hi, a.hi);
            let (p2, e2) = two_prod(ak.hi, c.hi);
            let (s, es) = two_sum(p1, -p2);
            let cross = [
                ck.hi * a.lo,
                ck.lo * a.hi,
                ck.lo * a.lo,
                ak.hi * c.lo,
                ak.lo * c.hi,
            ];
            let rest = (e1 - e2 + es) + (cross[0] + cross[1] + cross[2])
                - (cross[3] + cross[4] + ak.lo * c.lo);
            let mass = e1.abs()
                + e2.abs()
                + es.abs()
                + cross.iter().map(|x| x.abs()).sum::<f64>()
                + (ak.lo * c.lo).abs();
            let (ck_abs, ak_abs) = (ck.hi.abs() + ck.lo.abs(), ak.hi.abs() + ak.lo.abs());
            // Data: (ck + δ)(a + δ') − (ak + δ'')(c + δ''') within these.
            let data = ck_abs * da + dck * a_abs + dck * da + ak_abs * dc + dak * c_abs + dak * dc;
            let n_bound = (data + gamma(12) * mass) * (1.0 + 8.0 * U) + 8.0 * TINY;
            let n = s + rest;
            let sign = if n > n_bound {
                Some(a_sign)
            } else if n < -n_bound {
                Some(-a_sign)
            } else {
                None
            };
            // z = N / a: |N/a − Ñ/ã| ≤ (δN + |Ñ/ã|·δa) / (|ã| − δa), plus the roundings.
            let z = n / a.hi;
            let dn = n_bound + U * n.abs() + (es.abs() + rest.abs()) * U;
            let err = ((dn + z.abs() * (da + a.lo.abs()) * (1.0 + 4.0 * U)) / den
                + 2.0 * U * z.abs())
                * (1.0 + 8.0 * U)
                + 4.0 * TINY;
            out.push((z, err, sign));
        }
        Some(out)
    }
}

/// Whether [`DdMap::next`] applies to a hidden layer after the first: its floats are its
/// exact weights and biases, and its inputs are ReLUs.
pub fn layer_is_exact(float: &FloatLayer) -> bool {
    float.exact && float.w_neg.is_none() && float.input.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_rational::BigRational;
    use num_traits::{Signed, Zero};

    fn exact(x: f64) -> BigRational {
        BigRational::from_float(x).expect("finite")
    }

    fn dd_exact(x: Dd) -> BigRational {
        exact(x.hi) + exact(x.lo)
    }

    /// Uniform numbers in [-1, 1) from a seed.
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        move || rng.random_range(-1.0..1.0)
    }

    /// Exact layer-0 rows (w_i·t + b_i) / den from random integers, the f64 layers after it,
    /// the double-double maps through them, and the same maps in exact rationals: every
    /// coefficient within its bound, the bounds about u² of the rows, and the values and signs
    /// at a root within theirs.
    #[test]
    fn double_double_maps_and_roots_cover_exact_arithmetic() {
        let mut next = uniform(0x9e37_79b9_7f4a_7c15);
        let n0 = 40;
        let den = BigInt::from(3u32).pow(7) * BigInt::from(1u64 << 40);
        let w0: Vec<BigInt> = (0..n0)
            .map(|_| BigInt::from((next() * 1e15) as i64) * 7)
            .collect();
        let b0: Vec<BigInt> = (0..n0)
            .map(|_| BigInt::from((next() * 1e15) as i64))
            .collect();
        let mut map = DdMap::first(&w0, &b0, &den);
        let den_q = BigRational::from_integer(den.clone());
        let mut ex: Vec<[BigRational; 2]> = w0
            .iter()
            .zip(&b0)
            .map(|(w, b)| {
                [
                    BigRational::from_integer(w.clone()) / &den_q,
                    BigRational::from_integer(b.clone()) / &den_q,
                ]
            })
            .collect();
        let check = |map: &DdMap, ex: &[[BigRational; 2]]| {
            for (i, ((r, b), e)) in map.rows.iter().zip(&map.bounds).zip(ex).enumerate() {
                for col in 0..2 {
                    let off = (&e[col] - dd_exact(r[col])).abs();
                    assert!(off <= exact(b[col]), "row {i} column {col}");
                    assert!(r[col].lo.abs() <= U * r[col].hi.abs(), "renormalised");
                    assert!(
                        b[col] <= 1e-24 * (1.0 + r[col].hi.abs()),
                        "tight: {}",
                        b[col]
                    );
                }
            }
        };
        check(&map, &ex);
        // Widths ending in 9 so that the last map's roots are tested against 9 rows.
        for (n_in, n_out) in [(n0, 33), (33, 50), (50, 9)] {
            let w: Vec<f64> = (0..n_in * n_out).map(|_| next() / 3.0).collect();
            let b: Vec<f64> = (0..n_out).map(|_| next() * 0.1).collect();
            let layer = FloatLayer::new(n_in, n_out, w.clone(), b.clone());
            let active = |k: usize| k % 3 != 1;
            map = map.next(&layer, active);
            ex = (0..n_out)
                .map(|i| {
                    let mut s = [BigRational::zero(), exact(b[i])];
                    for k in (0..n_in).filter(|&k| active(k)) {
                        for (col, sc) in s.iter_mut().enumerate() {
                            *sc += exact(w[i * n_in + k]) * &ex[k][col];
                        }
                    }
                    s
                })
                .collect();
            check(&map, &ex);
        }
        // Roots: each row of the last map as the line, every row evaluated there.
        let mut proven = 0;
        for line in 0..map.rows.len() {
            let vals = map
                .at_root((map.rows[line], map.bounds[line]))
                .expect("a generic slope is proven non-zero");
            let t = -(&ex[line][1]) / &ex[line][0];
            for (k, &(z, err, sign)) in vals.iter().enumerate() {
                let truth = &ex[k][0] * &t + &ex[k][1];
                let off = (&truth - exact(z)).abs();
                assert!(
                    off <= exact(err),
                    "root {line}, row {k}: off by more than {err}"
                );
                if k == line {
                    assert_eq!(sign, None, "a line's own value at its root is 0");
                } else if let Some(s) = sign {
                    assert_eq!(s as i32, if truth.is_positive() { 1 } else { -1 });
                    proven += 1;
                }
            }
        }
        assert!(proven >= 9 * 8 - 2, "generic rows are decided ({proven})");
    }
}
