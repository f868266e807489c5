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
//! γ_(m+4)·Σ|t_k|: in all at most 2·(m + 4)²·u²·(S + |b|) (the code counts m + 16: the vector
//! lanes add eight partial sums at the end). Inputs known within E_k add Σ|w_k|·E_k.
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

/// A dot product as s + c (s summed by `two_sum`, c the small terms), with Σ|w·hi| and the
/// propagated bound Σ|w|·E.
#[derive(Clone, Copy, Default)]
struct Sums {
    s: f64,
    c: f64,
    size: f64,
    carried: f64,
}

/// [`DdMap::sums`] for a dense row-major `w` (n × m) in 8 lanes: per block of 8 inputs, for
/// each column, their hi, lo, |hi| and bounds (8 each; inactive inputs 0). Each lane is the
/// scalar loop over its inputs; the lanes' s are then added by `two_sum`, their errors and c
/// into c.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn dense_sums_avx512(w: &[f64], m: usize, x: &[f64]) -> Vec<[Sums; 2]> {
    use std::arch::x86_64::*;
    let (full, rest) = (m / 8, m % 8);
    assert!(x.len() >= m.div_ceil(8) * 64);
    let tail = (1u8 << rest).wrapping_sub(1);
    let mut out = Vec::with_capacity(w.len() / m.max(1));
    for row in w.chunks_exact(m) {
        let z = _mm512_setzero_pd();
        let (mut s, mut c, mut size, mut carried) = ([z; 2], [z; 2], [z; 2], [z; 2]);
        let mut step = |wv: __m512d, xb: *const f64| {
            let aw = _mm512_abs_pd(wv);
            for col in 0..2 {
                // SAFETY: each block of x holds 64 entries.
                let load = |o: usize| unsafe { _mm512_loadu_pd(xb.add(col * 32 + o)) };
                let (h, l, habs, e) = (load(0), load(8), load(16), load(24));
                // two_prod and two_sum, lane by lane.
                let p = _mm512_mul_pd(wv, h);
                let ep = _mm512_fmsub_pd(wv, h, p);
                let sum = _mm512_add_pd(s[col], p);
                let bb = _mm512_sub_pd(sum, s[col]);
                let es = _mm512_add_pd(
                    _mm512_sub_pd(s[col], _mm512_sub_pd(sum, bb)),
                    _mm512_sub_pd(p, bb),
                );
                s[col] = sum;
                c[col] = _mm512_add_pd(c[col], _mm512_fmadd_pd(wv, l, _mm512_add_pd(ep, es)));
                size[col] = _mm512_fmadd_pd(aw, habs, size[col]);
                carried[col] = _mm512_fmadd_pd(aw, e, carried[col]);
            }
        };
        for b in 0..full {
            // SAFETY: the row has m ≥ (b + 1)·8 entries; x as asserted.
            unsafe {
                step(
                    _mm512_loadu_pd(row.as_ptr().add(b * 8)),
                    x.as_ptr().add(b * 64),
                )
            };
        }
        if rest != 0 {
            // SAFETY: the mask reads only the row's last `rest` entries.
            unsafe {
                step(
                    _mm512_maskz_loadu_pd(tail, row.as_ptr().add(full * 8)),
                    x.as_ptr().add(full * 64),
                )
            };
        }
        let mut sums = [Sums::default(); 2];
        for (col, o) in sums.iter_mut().enumerate() {
            let (mut sl, mut cl) = ([0.0f64; 8], [0.0f64; 8]);
            // SAFETY: 8 f64 each.
            unsafe {
                _mm512_storeu_pd(sl.as_mut_ptr(), s[col]);
                _mm512_storeu_pd(cl.as_mut_ptr(), c[col]);
            }
            let (mut total, mut small) = (sl[0], cl[0]);
            for lane in 1..8 {
                let (t, e) = two_sum(total, sl[lane]);
                total = t;
                small += e + cl[lane];
            }
            *o = Sums {
                s: total,
                c: small,
                size: _mm512_reduce_add_pd(size[col]),
                carried: _mm512_reduce_add_pd(carried[col]),
            };
        }
        out.push(sums);
    }
    out
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
        self.next_with(layer, active, true)
    }

    /// [`Self::next`], in vector lanes where the processor has them when `vector` (tests run
    /// both).
    fn next_with(&self, layer: &FloatLayer, active: impl Fn(usize) -> bool, vector: bool) -> DdMap {
        let m = layer.n_in;
        debug_assert_eq!(self.rows.len(), m);
        let on: Vec<bool> = (0..m).map(&active).collect();
        // (m + 16: the lanes of the vector kernel add 8 partial sums at the end.)
        let g_small = 2.0 * ((m + 16) as f64).powi(2) * U * U * (1.0 + gamma(m + 16));
        let inflate = 1.0 + gamma(m + 16);
        let slack = (m + 16) as f64 * TINY;
        let sums = self.sums(layer, &on, vector);
        let mut rows = Vec::with_capacity(layer.n_out);
        let mut bounds = Vec::with_capacity(layer.n_out);
        for (i, [a, c]) in sums.into_iter().enumerate() {
            let bias = layer.b[i];
            let (sum, eb) = two_sum(c.s, bias);
            rows.push([Dd::from_sum(a.s, a.c), Dd::from_sum(sum, c.c + eb)]);
            let total = [a.size, c.size + bias.abs()];
            let carried = [a.carried, c.carried];
            bounds.push(std::array::from_fn(|col| {
                (carried[col] * inflate + g_small * total[col] * inflate) * (1.0 + 8.0 * U) + slack
            }));
        }
        DdMap { rows, bounds }
    }

    /// Per row of `layer` and column: the dot product with the active inputs' pairs as s + c,
    /// Σ|w·hi| and Σ|w|·bound (see [`DdMap::next`]).
    fn sums(&self, layer: &FloatLayer, on: &[bool], vector: bool) -> Vec<[Sums; 2]> {
        #[cfg(target_arch = "x86_64")]
        if vector
            && layer.w.is_dense()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            let m = layer.n_in;
            let mut x = vec![0.0f64; m.div_ceil(8) * 64];
            for k in (0..m).filter(|&k| on[k]) {
                let (block, l) = (&mut x[(k / 8) * 64..(k / 8 + 1) * 64], k % 8);
                for col in 0..2 {
                    let r = self.rows[k][col];
                    block[col * 32 + l] = r.hi;
                    block[col * 32 + 8 + l] = r.lo;
                    block[col * 32 + 16 + l] = r.hi.abs();
                    block[col * 32 + 24 + l] = self.bounds[k][col];
                }
            }
            // SAFETY: the features were just detected; x is laid out as the kernel reads it.
            return unsafe { dense_sums_avx512(&layer.w.vals, m, &x) };
        }
        (0..layer.n_out)
            .map(|i| {
                let row = layer.w.row(i);
                let mut out = [Sums::default(); 2];
                for (p, &w) in row.vals.iter().enumerate() {
                    let k = row.col(p);
                    if !on[k] {
                        continue;
                    }
                    for (col, o) in out.iter_mut().enumerate() {
                        let r = self.rows[k][col];
                        let (prod, ep) = two_prod(w, r.hi);
                        let (sum, es) = two_sum(o.s, prod);
                        o.s = sum;
                        o.c += (ep + es) + w * r.lo;
                        o.size += w.abs() * r.hi.abs();
                        o.carried += w.abs() * self.bounds[k][col];
                    }
                }
                out
            })
            .collect()
    }

    /// Every row at the root of `line` (a row `[a, c]` of a map of the same face or an
    /// ancestor's, within its bounds): the values `(c_k·a − a_k·c) / a` as floats with a bound
    /// each, and their signs where proven (`None` where not). `None` when `a ≠ 0` is not proven.
    pub fn at_root(&self, line: ([Dd; 2], [f64; 2])) -> Option<Vec<(f64, f64, Option<i8>)>> {
        let ([a, c], [da, dc]) = line;
        let a_abs = a.hi.abs() + a.lo.abs();
        // (The lower part and the bound together, rounded up, before the subtraction: its
        // rounding is then relative to the result.)
        let den = (a.hi.abs() - (a.lo.abs() + da) * (1.0 + 4.0 * U)) * (1.0 - 4.0 * U);
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
            let n_bound = (data + gamma(12) * mass) * (1.0 + 16.0 * U) + 8.0 * TINY;
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
        maps_and_roots_cover_exact_arithmetic(true);
        maps_and_roots_cover_exact_arithmetic(false);
    }

    fn maps_and_roots_cover_exact_arithmetic(vector: bool) {
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
                        b[col] <= 1e-17 * (1.0 + r[col].hi.abs()),
                        "tight: {}",
                        b[col]
                    );
                }
            }
        };
        check(&map, &ex);
        // Then widen layer 0's bounds and put its exact map at either end of them: the bounds
        // carried through |W| are checked too, not only the arithmetic's (which is far smaller).
        for (i, (b, e)) in map.bounds.iter_mut().zip(ex.iter_mut()).enumerate() {
            for col in 0..2 {
                b[col] += 1e-20;
                let side = if (i + col) % 2 == 0 { 1.0 } else { -1.0 };
                e[col] = dd_exact(map.rows[i][col]) + exact(side * b[col]);
            }
        }
        // Widths ending in 9 so that the last map's roots are tested against 9 rows.
        for (n_in, n_out) in [(n0, 33), (33, 50), (50, 9)] {
            let w: Vec<f64> = (0..n_in * n_out).map(|_| next() / 3.0).collect();
            let b: Vec<f64> = (0..n_out).map(|_| next() * 0.1).collect();
            let layer = FloatLayer::new(n_in, n_out, w.clone(), b.clone());
            let active = |k: usize| k % 3 != 1;
            map = map.next_with(&layer, active, vector);
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
