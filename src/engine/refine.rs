//! Re-anchoring: a float tier between the filtered sign test and big-integer arithmetic.
//!
//! A vertex's float row drifts from its true values as layers pass: each matrix product
//! multiplies its bound by the layer's largest row l1 norm, and each interpolation by how steep
//! its support is. On a deep network a bound reaches 10⁻⁵–10⁻² of the row, and sign tests near a
//! boundary stop deciding. Rebuilding the vertex in big integers then costs tens of µs.
//!
//! Instead the vertex is first re-anchored in floats: its two boundaries are read from f64
//! affine maps of their faces (built layer by layer with entrywise error bounds, like the exact
//! face maps), their meeting point is solved with a proven bound, and the layer's values are
//! evaluated there from the face's map. These bounds are a few ulps times the condition of the
//! meet, not the compounded drift, so the signs are almost always proven; when they are not,
//! the exact path decides.
//!
//! Error model. `u = 2⁻⁵³`. Every f64 weight and bias is the exact one rounded to nearest, off by
//! at most `2u·|w̃|` (normal range) or `2⁻¹⁰⁷⁵` (subnormal); a dot product of m terms is off by
//! at most `γ_m·Σ|terms|` plus `m·2⁻¹⁰⁷⁵` for underflow. Each bound below adds those terms with
//! margin, and is itself computed in floats, so it is inflated by a few more ulps and an
//! absolute `f64::MIN_POSITIVE` per operation (far above every underflow term).

use crate::restrict::FloatLayer;

pub(super) const U: f64 = f64::EPSILON / 2.0;
pub(super) const TINY: f64 = f64::MIN_POSITIVE;

/// The affine map `t ↦ (a_x·t_x + a_y·t_y + c)` of one layer's pre-activations on a face of the
/// plane (rows `[a_x, a_y, c]`), with entrywise bounds on the distance to the exact map.
pub struct FloatMap {
    pub rows: Vec<[f64; 3]>,
    pub bounds: Vec<[f64; 3]>,
}

/// Lanes of the map products' dot products (one AVX-512 register of f64).
const LANES: usize = 8;

/// Roundings each term of a lane dot product of m terms passes through, at most: its product
/// (without FMA), its lane's additions, the three additions folding the lanes, and the bias.
fn lane_rounding_terms(m: usize) -> usize {
    m.div_ceil(LANES) + 5
}

/// The inputs of [`lane_products`]: per block of `LANES` inputs k, for each used column c the
/// values, then their absolute values, then their bounds (`LANES` each); inactive and padding
/// inputs 0.
struct LaneInputs {
    x: Vec<f64>,
}

impl LaneInputs {
    fn new(m: usize, cols: &[usize], row: impl Fn(usize) -> Option<([f64; 3], [f64; 3])>) -> Self {
        let j = 3 * cols.len();
        let mut x = vec![0.0f64; m.div_ceil(LANES) * j * LANES];
        for k in 0..m {
            let Some((r, e)) = row(k) else { continue };
            let block = &mut x[(k / LANES) * j * LANES..(k / LANES + 1) * j * LANES];
            let l = k % LANES;
            for (i, &c) in cols.iter().enumerate() {
                block[i * LANES + l] = r[c];
                block[(cols.len() + i) * LANES + l] = r[c].abs();
                block[(2 * cols.len() + i) * LANES + l] = e[c];
            }
        }
        LaneInputs { x }
    }
}

/// For each row of the dense row-major `w` (n × m) and each of the `J` input vectors in `x`
/// (laid out by [`LaneInputs`]): the first third multiplied by the row, the rest by its absolute
/// values. Output n × J, row-major. Each dot product is summed in `LANES` lanes of about m / 8
/// terms, then the lanes folded ([`lane_rounding_terms`]).
fn lane_products<const J: usize>(w: &[f64], m: usize, x: &[f64]) -> Vec<f64> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
    {
        // SAFETY: the features were just detected.
        return unsafe { lane_products_avx512::<J>(w, m, x) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the features were just detected.
        return unsafe { lane_products_avx2::<J>(w, m, x) };
    }
    lane_products_portable::<J>(w, m, x)
}

/// [`lane_products`] on AVX2 machines (AMD's among them, without AVX-512): each block of
/// `LANES` as two halves of four, fused multiply-adds, the lanes folded as the portable loop
/// folds them (784-512×8 segment on an EPYC: ~15 % of a run in the portable loop).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop)] // (j and h index both rows' accumulators)
unsafe fn lane_products_avx2<const J: usize>(w: &[f64], m: usize, x: &[f64]) -> Vec<f64> {
    use std::arch::x86_64::*;
    let n = w.len() / m;
    let signed = J / 3;
    let (full, rest) = (m / LANES, m % LANES);
    assert!(x.len() >= m.div_ceil(LANES) * J * LANES);
    let mut out = vec![0.0f64; n * J];
    let sign_bit = _mm256_set1_pd(-0.0);
    // Two rows at a time: each input block is loaded once for both.
    for (rows, o) in w.chunks(2 * m).zip(out.chunks_mut(2 * J)) {
        let two = rows.len() == 2 * m;
        let r1 = if two { m } else { 0 };
        // acc[row][j][half of the lanes]
        let mut acc = [[[_mm256_setzero_pd(); 2]; J]; 2];
        let mut step = |w0: [__m256d; 2], w1: [__m256d; 2], xb: *const f64| {
            let abs = |v: __m256d| _mm256_andnot_pd(sign_bit, v);
            let (a0, a1) = ([abs(w0[0]), abs(w0[1])], [abs(w1[0]), abs(w1[1])]);
            for j in 0..J {
                let (u0, u1) = if j < signed { (w0, w1) } else { (a0, a1) };
                for h in 0..2 {
                    // SAFETY: block c of x holds J·LANES entries.
                    let xv = unsafe { _mm256_loadu_pd(xb.add(j * LANES + 4 * h)) };
                    acc[0][j][h] = _mm256_fmadd_pd(u0[h], xv, acc[0][j][h]);
                    acc[1][j][h] = _mm256_fmadd_pd(u1[h], xv, acc[1][j][h]);
                }
            }
        };
        // SAFETY (loads): each row has m ≥ (c + 1)·LANES entries.
        let halves = |q: *const f64| unsafe { [_mm256_loadu_pd(q), _mm256_loadu_pd(q.add(4))] };
        let p = rows.as_ptr();
        for c in 0..full {
            // SAFETY: as above, and x as asserted.
            unsafe {
                step(
                    halves(p.add(c * LANES)),
                    halves(p.add(r1 + c * LANES)),
                    x.as_ptr().add(c * J * LANES),
                )
            };
        }
        if rest != 0 {
            // The last block's entries, zero-padded.
            let (mut t0, mut t1) = ([0.0f64; LANES], [0.0f64; LANES]);
            t0[..rest].copy_from_slice(&rows[full * LANES..full * LANES + rest]);
            t1[..rest].copy_from_slice(&rows[r1 + full * LANES..r1 + full * LANES + rest]);
            // SAFETY: x as asserted.
            unsafe {
                step(
                    halves(t0.as_ptr()),
                    halves(t1.as_ptr()),
                    x.as_ptr().add(full * J * LANES),
                )
            };
        }
        for (k, oj) in o.iter_mut().enumerate() {
            let [lo, hi] = acc[k / J][k % J];
            // (a0 + a4, a1 + a5, a2 + a6, a3 + a7), then the portable loop's order.
            let mut v = [0.0f64; 4];
            // SAFETY: v holds four f64.
            unsafe { _mm256_storeu_pd(v.as_mut_ptr(), _mm256_add_pd(lo, hi)) };
            *oj = (v[0] + v[1]) + (v[2] + v[3]);
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[allow(clippy::needless_range_loop)] // (j indexes both rows' accumulators)
unsafe fn lane_products_avx512<const J: usize>(w: &[f64], m: usize, x: &[f64]) -> Vec<f64> {
    use std::arch::x86_64::*;
    let n = w.len() / m;
    let signed = J / 3;
    let (full, rest) = (m / LANES, m % LANES);
    assert!(x.len() >= m.div_ceil(LANES) * J * LANES);
    let mut out = vec![0.0f64; n * J];
    let tail = (1u8 << rest).wrapping_sub(1);
    // Two rows at a time: each input block is loaded once for both.
    for (rows, o) in w.chunks(2 * m).zip(out.chunks_mut(2 * J)) {
        let two = rows.len() == 2 * m;
        let r1 = if two { m } else { 0 };
        let mut acc = [[_mm512_setzero_pd(); J]; 2];
        let mut step = |w0: __m512d, w1: __m512d, xb: *const f64| {
            let (a0, a1) = (_mm512_abs_pd(w0), _mm512_abs_pd(w1));
            for j in 0..J {
                // SAFETY: block c of x holds J·LANES entries.
                let xv = unsafe { _mm512_loadu_pd(xb.add(j * LANES)) };
                let (u0, u1) = if j < signed { (w0, w1) } else { (a0, a1) };
                acc[0][j] = _mm512_fmadd_pd(u0, xv, acc[0][j]);
                acc[1][j] = _mm512_fmadd_pd(u1, xv, acc[1][j]);
            }
        };
        let p = rows.as_ptr();
        for c in 0..full {
            // SAFETY: each row has m ≥ (c + 1)·LANES entries; x as asserted.
            unsafe {
                step(
                    _mm512_loadu_pd(p.add(c * LANES)),
                    _mm512_loadu_pd(p.add(r1 + c * LANES)),
                    x.as_ptr().add(c * J * LANES),
                )
            };
        }
        if rest != 0 {
            // SAFETY: the mask reads only each row's last `rest` entries.
            unsafe {
                step(
                    _mm512_maskz_loadu_pd(tail, p.add(full * LANES)),
                    _mm512_maskz_loadu_pd(tail, p.add(r1 + full * LANES)),
                    x.as_ptr().add(full * J * LANES),
                )
            };
        }
        for (k, oj) in o.iter_mut().enumerate() {
            *oj = _mm512_reduce_add_pd(acc[k / J][k % J]);
        }
    }
    out
}

/// [`lane_products`] without AVX-512: the same lanes, a plain product and sum (two roundings,
/// which [`lane_rounding_terms`] covers).
fn lane_products_portable<const J: usize>(w: &[f64], m: usize, x: &[f64]) -> Vec<f64> {
    let n = w.len() / m;
    let signed = J / 3;
    let mut out = vec![0.0f64; n * J];
    for (row, o) in w.chunks_exact(m).zip(out.chunks_exact_mut(J)) {
        let mut acc = [[0.0f64; LANES]; J];
        for (wc, xc) in row.chunks(LANES).zip(x.chunks_exact(J * LANES)) {
            let mut wv = [0.0f64; LANES];
            wv[..wc.len()].copy_from_slice(wc);
            let aw = wv.map(f64::abs);
            for (j, a) in acc.iter_mut().enumerate() {
                let ws = if j < signed { &wv } else { &aw };
                let xs = &xc[j * LANES..(j + 1) * LANES];
                for l in 0..LANES {
                    a[l] += ws[l] * xs[l];
                }
            }
        }
        for (oj, a) in o.iter_mut().zip(&acc) {
            *oj = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
        }
    }
    out
}

/// A line `a_x·x + a_y·y + c = 0` in floats, with a bound on each coefficient's error.
#[derive(Clone, Copy, Debug)]
pub struct FloatLine {
    pub coef: [f64; 3],
    pub bound: [f64; 3],
}

impl FloatMap {
    /// Hidden layer 0 (the slice already folded in: two inputs, or one on a segment, where
    /// every row's second coefficient is 0).
    pub fn first(layer: &FloatLayer) -> FloatMap {
        debug_assert!(layer.n_in == 1 || layer.n_in == 2);
        let rows: Vec<[f64; 3]> = (0..layer.n_out)
            .map(|i| {
                let mut w = [0.0; 2];
                for (k, x) in layer.w.row(i).iter() {
                    w[k] = *x;
                }
                [w[0], w[1], layer.b[i]]
            })
            .collect();
        // On a segment the second coefficient is exactly 0, with no error (so the maps after
        // this one leave that column out: see `lane_job`).
        let bounds = rows
            .iter()
            .map(|r| {
                let mut b = r.map(|x| 2.0 * U * x.abs() + TINY);
                if layer.n_in == 1 {
                    b[1] = 0.0;
                }
                b
            })
            .collect();
        FloatMap { rows, bounds }
    }

    /// The next layer's map on a face: `W·diag(active)·self + b`, where `self` is the previous
    /// layer's map on the face's parent and `active(k)` says whether neuron k of the previous
    /// layer is on across the face.
    pub fn next(&self, layer: &FloatLayer, active: impl Fn(usize) -> bool) -> FloatMap {
        let m = layer.n_in;
        debug_assert_eq!(self.rows.len(), m);
        let on: Vec<bool> = (0..m).map(&active).collect();
        // Inputs that contribute: active ones, and inactive ones with an inactive-side weight.
        let contributes = |k: usize| on[k] || layer.w_neg.is_some();
        // g covers the weights' and bias's 2u and the dot product's γ_{m+1}; `inflate` the
        // rounding of the bound's own sums.
        let g = 2.0 * (m as f64 + 8.0) * U;
        let inflate = 1.0 + 4.0 * (m as f64 + 8.0) * U;
        let slack = (m as f64 + 3.0) * TINY;
        // The underflow term's mass is the same for every row i (summed in the same order).
        let mut mass = [0.0f64; 3];
        for k in (0..m).filter(|&k| contributes(k)) {
            let (r, e) = (&self.rows[k], &self.bounds[k]);
            for c in 0..3 {
                mass[c] += r[c].abs() + e[c];
            }
        }
        let mut rows = Vec::with_capacity(layer.n_out);
        let mut bounds = Vec::with_capacity(layer.n_out);
        if layer.w.is_dense() && layer.w_neg.is_none() && m >= LANES {
            // Dense layers in one pass over W (no packing: a map has only a few columns):
            // value = W·R and [size | carried] = |W|·[|R| | E], inactive inputs' rows zeroed.
            // On a segment every row's second coefficient is 0 and is left out.
            let flat = self.is_flat();
            let cols: &[usize] = if flat { &[0, 2] } else { &[0, 1, 2] };
            let inputs =
                LaneInputs::new(m, cols, |k| on[k].then(|| (self.rows[k], self.bounds[k])));
            let out = if flat {
                lane_products::<6>(&layer.w.vals, m, &inputs.x)
            } else {
                lane_products::<9>(&layer.w.vals, m, &inputs.x)
            };
            let g = 2.0 * (lane_rounding_terms(m) as f64 + 8.0) * U;
            let nc = cols.len();
            for (i, o) in out.chunks_exact(3 * nc).enumerate() {
                let bias = layer.b[i];
                let (mut v, mut size, mut carried) = ([0.0f64; 3], [0.0f64; 3], [0.0f64; 3]);
                for (j, &c) in cols.iter().enumerate() {
                    v[c] = o[j];
                    size[c] = o[nc + j];
                    carried[c] = o[2 * nc + j];
                }
                v[2] += bias;
                size[2] += bias.abs();
                rows.push(v);
                bounds.push(std::array::from_fn(|c| {
                    if flat && c == 1 {
                        0.0
                    } else {
                        ((1.0 + 2.0 * U) * carried[c] + g * size[c]) * inflate
                            + slack * (1.0 + mass[c])
                    }
                }));
            }
            return FloatMap { rows, bounds };
        }
        let flat = self.is_flat();
        for i in 0..layer.n_out {
            let row = layer.w.row(i);
            let neg = layer.w_neg.as_ref().map(|v| layer.w.row_of(v, i).vals);
            let (mut value, mut size, mut carried) = ([0.0f64; 3], [0.0f64; 3], [0.0f64; 3]);
            for (p, &w) in row.vals.iter().enumerate() {
                let k = row.col(p);
                let wk = match (on[k], neg) {
                    (true, _) => w,
                    (false, Some(neg)) => neg[p],
                    (false, None) => continue,
                };
                let aw = wk.abs();
                let (r, e) = (&self.rows[k], &self.bounds[k]);
                for c in 0..3 {
                    value[c] += wk * r[c];
                    size[c] += aw * r[c].abs();
                    carried[c] += aw * e[c];
                }
            }
            let bias = layer.b[i];
            value[2] += bias;
            size[2] += bias.abs();
            rows.push(value);
            bounds.push(std::array::from_fn(|c| {
                if flat && c == 1 {
                    0.0
                } else {
                    ((1.0 + 2.0 * U) * carried[c] + g * size[c]) * inflate + slack * (1.0 + mass[c])
                }
            }));
        }
        FloatMap { rows, bounds }
    }

    /// Whether every row's second coefficient is exactly 0, with no error (a segment's maps):
    /// the next map's is then exactly 0 too.
    fn is_flat(&self) -> bool {
        self.rows
            .iter()
            .zip(&self.bounds)
            .all(|(r, b)| r[1] == 0.0 && b[1] == 0.0)
    }

    /// Row i as a line (its zero set).
    pub fn line(&self, i: usize) -> FloatLine {
        FloatLine {
            coef: self.rows[i],
            bound: self.bounds[i],
        }
    }

    /// Every row at the point `p` (each coordinate off by at most `eps`): the values into `z`
    /// and a bound on each one's error into `e`.
    pub fn eval(&self, p: [f64; 2], eps: [f64; 2], z: &mut Vec<f64>, e: &mut Vec<f64>) {
        z.clear();
        e.clear();
        for (r, b) in self.rows.iter().zip(&self.bounds) {
            let (tx, ty) = (r[0] * p[0], r[1] * p[1]);
            z.push(tx + ty + r[2]);
            // |a·x − ã·x̃| ≤ (|ã| + δa)·ε + δa·|x̃|, and γ₃ for the sum.
            let data = (r[0].abs() + b[0]) * eps[0]
                + (r[1].abs() + b[1]) * eps[1]
                + b[0] * p[0].abs()
                + b[1] * p[1].abs()
                + b[2];
            let rounding = 3.5 * U * (tx.abs() + ty.abs() + r[2].abs());
            e.push((data + rounding) * (1.0 + 8.0 * U) + 8.0 * TINY);
        }
    }
}

/// `p·q − r·s` from coefficients with error bounds: the float value and a bound on its error.
#[allow(clippy::too_many_arguments)]
fn cross(p: f64, dp: f64, q: f64, dq: f64, r: f64, dr: f64, s: f64, ds: f64) -> (f64, f64) {
    let (pq, rs) = (p * q, r * s);
    let data = p.abs() * dq + q.abs() * dp + dp * dq + r.abs() * ds + s.abs() * dr + dr * ds;
    let rounding = 2.5 * U * (pq.abs() + rs.abs());
    (pq - rs, (data + rounding) * (1.0 + 16.0 * U) + 4.0 * TINY)
}

/// Where two lines meet, with a bound on each coordinate's error; `None` when the floats cannot
/// prove that they cross (nearly parallel) or something overflowed.
pub fn meet(a: &FloatLine, b: &FloatLine) -> Option<([f64; 2], [f64; 2])> {
    let ([a1, a2, a3], [da1, da2, da3]) = (a.coef, a.bound);
    let ([b1, b2, b3], [db1, db2, db3]) = (b.coef, b.bound);
    // x = (a2·b3 − a3·b2) / D, y = (a3·b1 − a1·b3) / D, D = a1·b2 − a2·b1.
    let (det, d_det) = cross(a1, da1, b2, db2, a2, da2, b1, db1);
    let (nx, d_nx) = cross(a2, da2, b3, db3, a3, da3, b2, db2);
    let (ny, d_ny) = cross(a3, da3, b1, db1, a1, da1, b3, db3);
    // |N/D − Ñ/D̃| ≤ (δN + |Ñ/D̃|·δD) / (|D̃| − δD), plus the division's rounding.
    let den = (det.abs() - d_det) * (1.0 - 4.0 * U);
    // (NaN fails too.)
    if den.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let coord = |n: f64, dn: f64| {
        let x = n / det;
        let eps = ((dn + x.abs() * d_det * (1.0 + 4.0 * U)) / den + 2.0 * U * x.abs())
            * (1.0 + 8.0 * U)
            + 4.0 * TINY;
        (x, eps)
    };
    let ((x, ex), (y, ey)) = (coord(nx, d_nx), coord(ny, d_ny));
    [x, y, ex, ey]
        .iter()
        .all(|v| v.is_finite())
        .then_some(([x, y], [ex, ey]))
}

/// The root of the line `a·t + c = 0` of a segment (its coefficients `[a, 0, c]`), with a bound
/// on its error; `None` when the floats cannot prove `a ≠ 0` or something overflowed.
pub fn root(line: &FloatLine) -> Option<(f64, f64)> {
    let ([a, _, c], [da, _, dc]) = (line.coef, line.bound);
    // t = −c / a: |N/D − Ñ/D̃| ≤ (δN + |Ñ/D̃|·δD) / (|D̃| − δD), plus the division's rounding.
    let den = (a.abs() - da) * (1.0 - 4.0 * U);
    if den.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let t = -c / a;
    let eps = ((dc + t.abs() * da * (1.0 + 4.0 * U)) / den + 2.0 * U * t.abs()) * (1.0 + 8.0 * U)
        + 4.0 * TINY;
    (t.is_finite() && eps.is_finite()).then_some((t, eps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_rational::BigRational;
    use num_traits::{Signed, ToPrimitive, Zero};

    fn exact(x: f64) -> BigRational {
        BigRational::from_float(x).expect("finite")
    }

    /// Uniform numbers in [-1, 1) from a seed.
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        move || rng.random_range(-1.0..1.0)
    }

    /// The exact root of a line lies within the bound, for coefficients anywhere within their
    /// bounds (the ends and the middle of each interval).
    #[test]
    fn root_bounds_cover_the_exact_root() {
        let mut next = uniform(0x51_7cc1_b727_220a);
        let mut checked = 0;
        for case in 0..3000 {
            let scale = 10f64.powi(case % 7 - 3);
            let (a, c) = (next() * scale, next());
            let (da, dc) = (a.abs() * 1e-9 * next().abs(), 1e-12 * next().abs());
            let line = FloatLine {
                coef: [a, 0.0, c],
                bound: [da, 0.0, dc],
            };
            let Some((t, e)) = root(&line) else { continue };
            for fa in [-1.0, 0.0, 1.0] {
                for fc in [-1.0, 0.0, 1.0] {
                    let (ea, ec) = (exact(a) + exact(da * fa), exact(c) + exact(dc * fc));
                    if ea.is_zero() {
                        continue;
                    }
                    let truth = -ec / ea;
                    let off = (truth - exact(t)).abs().to_f64().unwrap();
                    assert!(off <= e, "case {case}: off by {off}, bound {e}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 20_000);
    }

    /// The exact meeting point of two lines lies within the bound, for lines anywhere within
    /// the coefficients' bounds (pushed to the ends and the middle of their intervals).
    #[test]
    fn meet_bounds_cover_the_exact_point() {
        let mut next = uniform(0x9e37_79b9_7f4a_7c15);
        let mut checked = 0;
        for case in 0..3000 {
            let scale = [1.0, 1e-3, 1e-30, 1e25][case % 4];
            let slop = [0.0, 1e-14, 1e-9][case % 3];
            // Whole lines scaled too (coefficients from 1e-200 to 1e200).
            let size = [1.0, 1e-200, 1e150, 1e200][(case / 4) % 4];
            let mut line = |sx: f64, sy: f64| {
                let coef = [next() * sx * size, next() * sy * size, next() * size];
                FloatLine {
                    coef,
                    bound: coef.map(|c| c.abs() * slop),
                }
            };
            let (a, b) = (line(1.0, scale), line(scale, 1.0));
            let Some((p, eps)) = meet(&a, &b) else {
                continue;
            };
            // True coefficients: each moved by -1, -1/2, 0, 1/2 or 1 times its bound.
            let mut pick = |l: &FloatLine| -> [BigRational; 3] {
                std::array::from_fn(|c| {
                    let t = ((next() + 1.0) * 2.5).floor().min(4.0) / 2.0 - 1.0;
                    exact(l.coef[c]) + exact(t) * exact(l.bound[c])
                })
            };
            let ([a1, a2, a3], [b1, b2, b3]) = (pick(&a), pick(&b));
            let det = &a1 * &b2 - &a2 * &b1;
            assert!(
                !det.is_zero(),
                "case {case}: the bound allowed parallel lines"
            );
            let x = (&a2 * &b3 - &a3 * &b2) / &det;
            let y = (&a3 * &b1 - &a1 * &b3) / &det;
            for (c, t, e) in [(x, p[0], eps[0]), (y, p[1], eps[1])] {
                let off = (c - exact(t)).abs();
                assert!(
                    off <= exact(e),
                    "case {case}: off by {}",
                    off.to_f64().unwrap()
                );
            }
            checked += 1;
        }
        // (Products of 1e200-sized coefficients overflow and of 1e-200-sized ones underflow:
        // those meets are not proven. The other half are, but for near-parallel pairs.)
        assert!(checked > 1200, "only {checked} meets were proven");
    }

    /// The portable lane loop (machines without AVX2) sums the same terms as the vector
    /// kernels (AVX-512, AVX2), so they agree to rounding: for both widths of inputs, with a partial last
    /// block and an odd number of rows.
    #[test]
    fn portable_lanes_match_the_vector_kernel() {
        let mut next = uniform(0x0bad_cafe_f00d_1234);
        let (n, m) = (7, 21);
        let w: Vec<f64> = (0..n * m).map(|_| next()).collect();
        for cols in [&[0usize, 2][..], &[0, 1, 2]] {
            let rows: Vec<([f64; 3], [f64; 3])> = (0..m)
                .map(|_| {
                    (
                        [next(), next(), next()],
                        [next().abs(), next().abs(), next().abs()],
                    )
                })
                .collect();
            let inputs = LaneInputs::new(m, cols, |k| (k % 5 != 3).then(|| rows[k]));
            let (fast, plain) = if cols.len() == 2 {
                (
                    lane_products::<6>(&w, m, &inputs.x),
                    lane_products_portable::<6>(&w, m, &inputs.x),
                )
            } else {
                (
                    lane_products::<9>(&w, m, &inputs.x),
                    lane_products_portable::<9>(&w, m, &inputs.x),
                )
            };
            assert_eq!(fast.len(), n * 3 * cols.len());
            for (a, b) in fast.iter().zip(&plain) {
                assert!((a - b).abs() <= 1e-13 * (1.0 + a.abs()), "{a} against {b}");
            }
            // The AVX2 kernel too, where the machine has it (whatever `lane_products` chose).
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the features were just detected.
                let avx2 = unsafe {
                    if cols.len() == 2 {
                        lane_products_avx2::<6>(&w, m, &inputs.x)
                    } else {
                        lane_products_avx2::<9>(&w, m, &inputs.x)
                    }
                };
                assert_eq!(avx2.len(), plain.len());
                for (a, b) in avx2.iter().zip(&plain) {
                    assert!(
                        (a - b).abs() <= 1e-13 * (1.0 + a.abs()),
                        "avx2: {a} against {b}"
                    );
                }
            }
            // And both are the plain sums.
            for i in 0..n {
                for (j, &c) in cols.iter().enumerate() {
                    let want: f64 = (0..m)
                        .filter(|k| k % 5 != 3)
                        .map(|k| w[i * m + k] * rows[k].0[c])
                        .sum();
                    let got = plain[i * 3 * cols.len() + j];
                    assert!((got - want).abs() <= 1e-13 * (1.0 + want.abs()));
                }
            }
        }
    }

    /// A map's bounds cover the exact map of the f64 weights (three layers of random weights,
    /// every other neuron off, starting from a map known only within its bounds), and evaluation
    /// at a point known within a bound covers the exact values.
    #[test]
    fn map_and_eval_bounds_cover_exact_arithmetic() {
        // A plane's maps and a segment's (whose second column is 0 and left out).
        map_and_eval_bounds_cover_exact_arithmetic_from(2);
        map_and_eval_bounds_cover_exact_arithmetic_from(1);
    }

    fn map_and_eval_bounds_cover_exact_arithmetic_from(inputs: usize) {
        let mut next = uniform(0x2545_f491_4f6c_dd1d);
        // (7 → 9 in the plain loop; from 9 inputs on in lanes, with a partial last block.)
        let widths = [inputs, 7, 9, 150, 140, 5];
        let layers: Vec<FloatLayer> = widths
            .windows(2)
            .map(|w| {
                let (n_in, n_out) = (w[0], w[1]);
                FloatLayer::new(
                    n_in,
                    n_out,
                    (0..n_in * n_out).map(|_| next()).collect(),
                    (0..n_out).map(|_| next()).collect(),
                )
            })
            .collect();
        let mut map = FloatMap::first(&layers[0]);
        // Widen layer 0's bounds, and put its exact map at either end of them: the bounds
        // carried from layer to layer are then checked, not only fresh rounding. (A segment's
        // second column stays exactly 0: its maps go through the lanes without it.)
        for b in &mut map.bounds {
            let zero = b[1] == 0.0;
            *b = b.map(|x| x + 1e-9);
            if zero {
                b[1] = 0.0;
            }
        }
        let mut ex: Vec<[BigRational; 3]> = map
            .rows
            .iter()
            .zip(&map.bounds)
            .enumerate()
            .map(|(i, (r, b))| {
                std::array::from_fn(|c| {
                    let side = if (i + c) % 2 == 0 { 1.0 } else { -1.0 };
                    exact(r[c]) + exact(side) * exact(b[c])
                })
            })
            .collect();
        for layer in &layers[1..] {
            let active = |k: usize| k.is_multiple_of(2);
            map = map.next(layer, active);
            ex = (0..layer.n_out)
                .map(|i| {
                    std::array::from_fn(|c| {
                        let mut s = if c == 2 {
                            exact(layer.b[i])
                        } else {
                            BigRational::zero()
                        };
                        for k in (0..layer.n_in).filter(|&k| active(k)) {
                            s += exact(layer.w.row(i).vals[k]) * &ex[k][c];
                        }
                        s
                    })
                })
                .collect();
            for (i, (r, b)) in map.rows.iter().zip(&map.bounds).enumerate() {
                for c in 0..3 {
                    let off = (&ex[i][c] - exact(r[c])).abs();
                    assert!(off <= exact(b[c]), "row {i} column {c}");
                }
            }
        }
        // Evaluation: the exact map anywhere within the bounds (here at the ends that add up),
        // and the true point anywhere within eps of the float one (its corners).
        let (p, eps) = ([0.3125, -0.71], [1e-10, 3e-12]);
        let (mut z, mut e) = (Vec::new(), Vec::new());
        map.eval(p, eps, &mut z, &mut e);
        let worst: Vec<[BigRational; 3]> = map
            .rows
            .iter()
            .zip(&map.bounds)
            .map(|(r, b)| {
                let side = [p[0].signum(), p[1].signum(), 1.0];
                std::array::from_fn(|c| exact(r[c]) + exact(side[c]) * exact(b[c]))
            })
            .collect();
        for (sx, sy) in [
            (-1.0, -1.0),
            (-1.0, 1.0),
            (1.0, -1.0),
            (1.0, 1.0),
            (0.0, 0.0),
        ] {
            let (x, y) = (
                exact(p[0]) + exact(sx) * exact(eps[0]),
                exact(p[1]) + exact(sy) * exact(eps[1]),
            );
            for (i, r) in ex.iter().chain(&worst).enumerate() {
                let value = &r[0] * &x + &r[1] * &y + &r[2];
                let k = i % z.len();
                let off = (value - exact(z[k])).abs();
                assert!(off <= exact(e[k]), "value {i}");
            }
        }
    }
}
