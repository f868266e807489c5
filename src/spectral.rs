//! Certified norms of a layer's weights, for error bounds that stay tight through depth.
//!
//! A float error vector δ passes a layer as W·δ. Bounding it entry by entry (|W|·|δ|) grows
//! about √(4n/π) times per layer on a random n-wide layer (25× at 512), while its 2-norm grows
//! at most ‖W‖₂ times (about 2.8 at any width under He initialisation). `engine::values`
//! carries that 2-norm per vertex; this module gives the ‖W‖₂ it needs, as a proven upper bound.
//!
//! The certificate: with G = WᵀW (or WWᵀ, the smaller), ‖W‖₂² = λ_max(G) ≤ μ as soon as
//! μI − G is positive semidefinite, which a Cholesky factorisation R̃ᵀR̃ of it in floats shows
//! up to its own backward error, |ΔA| ≤ γ_{m+1}·|R̃ᵀ|·|R̃| entrywise (Higham, *Accuracy and
//! Stability of Numerical Algorithms*, Thm 10.3; any order of the sums; Rump, "Verification
//! of positive definiteness", BIT 2006, uses the same argument), γ_{m+3} here as row i is
//! scaled by a rounded 1/r_ii. μ is a few per cent above a
//! power-iteration estimate of λ_max (raised and tried again when the factorisation fails).
//! G and the factorisation's updates are f32 matrix products: each rounding is bounded by
//! the standard γ_k of its terms and added back, as is the rounding of W to f32. Never larger
//! than the Frobenius norm, which is also a bound.

use crate::matrix::Matrix;

/// Unit roundoff of f64 and of f32.
const U64: f64 = f64::EPSILON / 2.0;
const U32: f64 = f32::EPSILON as f64 / 2.0;
/// Half the smallest positive subnormal f32: a product or sum in f32 is off by at most
/// u32·|result| plus this (underflow).
const ETA32: f64 = 7.006_492_321_624_085e-46; // 2^-150

/// The f32 products' work is about m²·(k + m/3) multiply-adds for an m×k matrix (m the
/// smaller side): above this, the Frobenius norm is used instead (about 0.1 s of one core; a
/// 1024-wide square layer is 1.4·10⁹).
const MAX_WORK: f64 = 4e9;

/// Columns of a Cholesky panel: the trailing updates are matrix products of this depth.
const PANEL: usize = 64;

/// ‖W‖_F rounded up: a bound on ‖W‖₂ that costs one pass.
pub fn frobenius_bound(w: &Matrix<f64>) -> f64 {
    let (sum, count) = w
        .vals
        .iter()
        .fold((0.0f64, 0usize), |(s, c), x| (s + x * x, c + 1));
    // Each square and each addition is off by at most u of the running sum (all terms ≥ 0);
    // squares below 2^-1022 are off by an absolute 2^-1075 each.
    let bound = up(sum * (1.0 + (count as f64 + 2.0) * 2.0 * U64) + count as f64 * 1e-300).sqrt();
    if bound.is_finite() {
        bound
    } else {
        f64::INFINITY
    }
}

/// An upper bound on the spectral norm ‖W‖₂ (the largest singular value) of `w`, proven in
/// floats: through a Cholesky factorisation in f32 when the matrix is dense and not too large
/// (see the module doc), else the Frobenius norm. Infinite when an entry is not finite.
pub fn spectral_norm_bound(w: &Matrix<f64>) -> f64 {
    spectral_norm_bound_given(w, frobenius_bound(w))
}

/// [`spectral_norm_bound`] given a bound `frob` ≥ ‖W‖_F (returned when smaller, or when the
/// certificate is not tried).
pub(crate) fn spectral_norm_bound_given(w: &Matrix<f64>, frob: f64) -> f64 {
    let (rows, cols) = (w.n_out, w.n_in);
    let (m, k) = (rows.min(cols), rows.max(cols));
    let work = (m * m) as f64 * (k + m / 3) as f64;
    let largest = w.vals.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    // (γ_k of the products needs k·u₃₂ well below 1.)
    let too_long = k as f64 * U32 > 0.01;
    if !frob.is_finite() || largest == 0.0 || !w.is_dense() || m < 2 || work > MAX_WORK || too_long
    {
        return frob;
    }
    // Scaled by a power of two so that the largest entry is in [1, 2] (log2 may round up to
    // the next integer): f32 neither overflows
    // nor loses the entries to underflow, and the scaling itself is exact (or off by 2^-1075
    // an entry where it makes an f64 subnormal, far below the f32 rounding).
    let e = largest.log2().floor() as i32;
    let scale = 2f64.powi(-e);
    let w32: Vec<f32> = w.vals.iter().map(|x| (x * scale) as f32).collect();
    let bound = cholesky_bound(&w32, rows, cols) * 2f64.powi(e);
    // (NaN where an operation failed: the Frobenius norm then.)
    if bound.is_nan() {
        frob
    } else {
        bound.min(frob)
    }
}

/// The certificate of the module doc for a dense row-major `rows × cols` f32 matrix Ŵ, as a
/// bound on the norm of the f64 matrix it was rounded from (to nearest).
fn cholesky_bound(w32: &[f32], rows: usize, cols: usize) -> f64 {
    let (m, k) = (rows.min(cols), rows.max(cols));
    let g = gram(w32, rows, cols);
    let gamma = |terms: usize| {
        let nu = terms as f64 * U32;
        nu / (1.0 - nu)
    };
    let w_frob = f32_frobenius(w32);
    let (mf, kf) = (m as f64, k as f64);
    // ‖G − ŴᵀŴ‖₂ ≤ ‖G − ŴᵀŴ‖_F, with |G − ŴᵀŴ| ≤ γ_k |Ŵ|ᵀ|Ŵ| + 2k·η entrywise and
    // ‖|Ŵ|ᵀ|Ŵ|‖_F ≤ ‖Ŵ‖_F².
    let gram_error = gamma(k) * w_frob * w_frob + 2.0 * kf * mf * ETA32;
    let estimate = largest_eigenvalue_estimate(&g, m);
    if !(estimate.is_finite() && w_frob.is_finite()) {
        return f64::INFINITY;
    }
    let mut mu = (estimate * 1.08) as f32;
    for _ in 0..6 {
        if let Some(slack) = psd_slack(&g, m, mu) {
            // G ⪯ (μ + slack)·I, so ‖Ŵ‖₂² = λ_max(ŴᵀŴ) ≤ μ + slack + ‖G − ŴᵀŴ‖₂.
            let w32_sq = mu as f64 + slack + gram_error;
            // ‖W‖₂ ≤ ‖Ŵ‖₂ + ‖W − Ŵ‖_F, each entry rounded to nearest f32 (u32 relative, or 2η
            // with the scaling's own underflow).
            let rounding = U32 * w_frob * (1.0 + 2.0 * U32) + (kf * mf).sqrt() * 2.0 * ETA32;
            // The few f64 operations here each round by at most u of a positive result.
            return up(w32_sq.sqrt() + rounding);
        }
        // The estimate was low (power iteration approaches λ_max from below): raise μ.
        mu *= 1.25;
    }
    f64::INFINITY
}

/// G = ŴŴᵀ (rows ≤ cols) or ŴᵀŴ in f32, m × m, each entry a dot product of k terms;
/// symmetric: only the blocks on and above the diagonal are products (in a 4 × 4 grid, 10 of
/// 16), each entry below is taken from above it.
fn gram(w32: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let (m, k) = (rows.min(cols), rows.max(cols));
    let mut g = vec![0.0f32; m * m];
    let (rs, cs) = if rows <= cols {
        (cols as isize, 1)
    } else {
        (1, cols as isize)
    };
    let block = m.div_ceil(4).next_multiple_of(16);
    for i0 in (0..m).step_by(block) {
        for j0 in (i0..m).step_by(block) {
            let (bi, bj) = (block.min(m - i0), block.min(m - j0));
            // SAFETY: w32 is rows × cols row-major; A (bi × k) is rows i0.. of Ŵ (or Ŵᵀ) by
            // its strides, B (k × bj) columns j0.. of the transpose; C is the block of g at
            // (i0, j0), row stride m.
            unsafe {
                matrixmultiply::sgemm(
                    bi,
                    k,
                    bj,
                    1.0,
                    w32.as_ptr().offset(i0 as isize * rs),
                    rs,
                    cs,
                    w32.as_ptr().offset(j0 as isize * rs),
                    cs,
                    rs,
                    0.0,
                    g.as_mut_ptr().add(i0 * m + j0),
                    m as isize,
                    1,
                );
            }
        }
    }
    for i in 0..m {
        for j in 0..i {
            g[i * m + j] = g[j * m + i];
        }
    }
    g
}

/// The largest Rayleigh quotient of 16 power iterations on the symmetric positive
/// semidefinite G: at most λ_max (up to rounding), usually within a few per cent of it.
fn largest_eigenvalue_estimate(g: &[f32], m: usize) -> f64 {
    let mut x: Vec<f32> = (0..m)
        .map(|i| 1.0 + ((i * 37) % 11) as f32 * 0.05)
        .collect();
    let mut y = vec![0.0f32; m];
    let mut best = 0.0f64;
    for _ in 0..16 {
        let xx = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>();
        if !(xx > 0.0 && xx.is_finite()) {
            break;
        }
        for (yi, row) in y.iter_mut().zip(g.chunks_exact(m)) {
            *yi = dot32(row, &x);
        }
        let xy = x
            .iter()
            .zip(&y)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum::<f64>();
        best = best.max(xy / xx);
        // Normalised, so that the iterates neither overflow nor underflow.
        let scale = (1.0 / y.iter().fold(0.0f32, |a, v| a.max(v.abs()))).min(f32::MAX);
        for (xi, yi) in x.iter_mut().zip(&y) {
            *xi = yi * scale;
        }
    }
    best
}

/// A dot product in f32 in 16 lanes (it vectorises).
fn dot32(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Factors A = μI − G (G symmetric, m × m) as R̃ᵀR̃ in f32, in panels of [`PANEL`] columns
/// whose trailing updates are matrix products. When every pivot is positive, A + ΔA = R̃ᵀR̃
/// ⪰ 0 with ‖ΔA‖₂ ≤ γ_{m+3}·‖R̃‖_F² (+ underflow), and G ⪯ (μ + slack)·I: returns that slack
/// (ΔA's bound and the rounding of A's diagonal). None when a pivot is not positive.
fn psd_slack(g: &[f32], m: usize, mu: f32) -> Option<f64> {
    // Row-major; only the upper triangle (j ≥ i) is read and written.
    let mut a: Vec<f32> = g.iter().map(|&x| -x).collect();
    let mut diag_rounding = 0.0f64;
    for i in 0..m {
        a[i * m + i] = mu - g[i * m + i];
        diag_rounding = diag_rounding.max(U32 * (a[i * m + i] as f64).abs() + ETA32);
    }
    for p0 in (0..m).step_by(PANEL) {
        let p1 = (p0 + PANEL).min(m);
        // The panel's rows of R: row i = (a_i − Σ_{q<i in panel} r_qi·r_q) / r_ii.
        for i in p0..p1 {
            for q in p0..i {
                let f = a[q * m + i];
                let (upper, lower) = a.split_at_mut(i * m);
                let src = &upper[q * m + i..q * m + m];
                let dst = &mut lower[i..m];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d -= f * s;
                }
            }
            let pivot = a[i * m + i];
            if !(pivot > 0.0 && pivot.is_finite()) {
                return None;
            }
            let r = pivot.sqrt();
            let inv = 1.0 / r;
            a[i * m + i] = r;
            for x in &mut a[i * m + i + 1..(i + 1) * m] {
                *x *= inv;
            }
        }
        // Trailing update of rows and columns p1..m: A₂₂ −= R₁₂ᵀ·R₁₂, in blocks of rows, each
        // from its diagonal on (the part below is never read).
        let rest = m - p1;
        let (top, bottom) = a.split_at_mut(p1 * m);
        let r12 = &top[p0 * m + p1..];
        for i0 in (0..rest).step_by(2 * PANEL) {
            let bi = (2 * PANEL).min(rest - i0);
            // SAFETY: R₁₂ is (p1 − p0) × rest with row stride m inside `top`: A reads its
            // columns i0..i0 + bi transposed, B its columns i0..rest; C is rows i0..i0 + bi,
            // columns i0..rest of A₂₂, which starts at column p1 of `bottom` (row stride m).
            unsafe {
                matrixmultiply::sgemm(
                    bi,
                    p1 - p0,
                    rest - i0,
                    -1.0,
                    r12.as_ptr().add(i0),
                    1,
                    m as isize,
                    r12.as_ptr().add(i0),
                    m as isize,
                    1,
                    1.0,
                    bottom.as_mut_ptr().add(i0 * m + p1 + i0),
                    m as isize,
                    1,
                );
            }
        }
    }
    // ‖R̃‖_F² over the upper triangle (squares of f32 are exact in f64).
    let mut r_sq = 0.0f64;
    for i in 0..m {
        for &x in &a[i * m + i..(i + 1) * m] {
            r_sq += x as f64 * x as f64;
        }
    }
    r_sq *= 1.0 + (m * m + 2) as f64 * 2.0 * U64;
    // (γ_{m+1} with one more rounding per entry for the multiplication by 1/r_ii, and one
    // to spare.)
    let nu = (m + 3) as f64 * U32;
    // (The underflow term is loose where a scaled row entry underflows: there η becomes r_ii·η,
    // r_ii ≤ √μ; after the scaling such terms are below 2^-100 of a bound of order 1, far
    // inside `up`'s margin.)
    let backward = nu / (1.0 - nu) * r_sq + 4.0 * (m + 2) as f64 * m as f64 * ETA32;
    r_sq.is_finite().then_some(backward + diag_rounding)
}

/// ‖A‖_F of f32 entries, rounded up (squares are exact in f64; the sum of n terms ≥ 0 is off
/// by at most n·u of itself).
fn f32_frobenius(a: &[f32]) -> f64 {
    let sum = a.iter().fold(0.0f64, |s, &x| s + x as f64 * x as f64);
    (sum * (1.0 + (a.len() as f64 + 2.0) * 2.0 * U64)).sqrt() * (1.0 + 2.0 * U64)
}

/// A margin for a short chain of f64 roundings on a positive result: far above (1+u)^100.
fn up(x: f64) -> f64 {
    x * (1.0 + 1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// max ‖Wx‖/‖x‖ over power iterations in f64: a lower bound on ‖W‖₂ (up to f64 rounding).
    fn power_lower_bound(w: &Matrix<f64>, iters: usize) -> f64 {
        let (rows, cols) = (w.n_out, w.n_in);
        let mut x: Vec<f64> = (0..cols).map(|i| 1.0 + (i % 7) as f64 * 0.1).collect();
        let mut best = 0.0f64;
        for _ in 0..iters {
            let nx = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            let y: Vec<f64> = (0..rows)
                .map(|i| {
                    w.vals[i * cols..(i + 1) * cols]
                        .iter()
                        .zip(&x)
                        .map(|(a, b)| a * b)
                        .sum()
                })
                .collect();
            let ny = y.iter().map(|v| v * v).sum::<f64>().sqrt();
            best = best.max(ny / nx);
            // x ← Wᵀy, normalised (tiny or huge entries would underflow or overflow).
            x = (0..cols)
                .map(|j| (0..rows).map(|i| w.vals[i * cols + j] * y[i]).sum())
                .collect();
            let nx = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            x.iter_mut().for_each(|v| *v /= nx);
        }
        best
    }

    fn random(
        rng: &mut rand_chacha::ChaCha8Rng,
        rows: usize,
        cols: usize,
        scale: f64,
    ) -> Matrix<f64> {
        let vals = (0..rows * cols)
            .map(|_| rng.random_range(-1.0..1.0) * scale)
            .collect();
        Matrix::dense(rows, cols, vals)
    }

    /// Above the power iteration's lower bound, and within the certificate's slack (μ is 8 %
    /// above an estimate of λ_max: about 4 % on the norm) of it: square, tall, wide, tiny and
    /// huge entries.
    #[test]
    fn bounds_random_matrices_from_above_and_tightly() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for &(rows, cols, scale) in &[
            (64usize, 64usize, 1.0f64),
            (100, 37, 1.0),
            (37, 100, 1e-3),
            (200, 200, 1e-30),
            (50, 80, 1e20),
            (2, 300, 1.0),
            (130, 129, 1.0),
        ] {
            let w = random(&mut rng, rows, cols, scale);
            let lower = power_lower_bound(&w, 300);
            let bound = spectral_norm_bound(&w);
            assert!(
                bound >= lower * (1.0 + 1e-12),
                "{rows}×{cols}: {bound} < {lower}"
            );
            assert!(
                bound <= 1.1 * lower,
                "{rows}×{cols}: {bound} loose against {lower}"
            );
            assert!(bound <= frobenius_bound(&w));
        }
    }

    /// Known norms: diag(3, 1, …, 1) has norm 3; an all-x matrix n·x.
    #[test]
    fn bounds_known_norms() {
        let n = 100;
        let mut d = vec![0.0; n * n];
        for i in 0..n {
            d[i * n + i] = if i == 17 { 3.0 } else { 1.0 };
        }
        let b = spectral_norm_bound(&Matrix::dense(n, n, d));
        assert!((3.0..3.2).contains(&b), "{b}");
        let x = 1.0 + 2f64.powi(-26);
        let ones = Matrix::dense(n, n, vec![x; n * n]);
        let b = spectral_norm_bound(&ones);
        let exact = n as f64 * x;
        assert!(b >= exact && b <= exact * 1.05, "{b} against {exact}");
    }

    /// A norm that the power iteration cannot see: W = I + 2vvᵀ with v = (e₀ − e₁₁)/√2 has
    /// norm 3 along v, but the iteration's start vector is orthogonal to v (its entries 0 and
    /// 11 are equal) and stays so, so the estimate is 1. Every factorisation of μI − WᵀW then
    /// fails, and the bound falls back to the Frobenius norm instead of trusting the estimate.
    #[test]
    fn an_estimate_below_the_norm_is_never_trusted() {
        let n = 40;
        let mut w = vec![0.0; n * n];
        for i in 0..n {
            w[i * n + i] = 1.0;
        }
        w[0] = 2.0;
        w[11 * n + 11] = 2.0;
        w[11] = -1.0;
        w[11 * n] = -1.0;
        let w32: Vec<f32> = w.iter().map(|&x| x as f32).collect();
        assert!((largest_eigenvalue_estimate(&gram(&w32, n, n), n) - 1.0).abs() < 1e-6);
        let w = Matrix::dense(n, n, w);
        let b = spectral_norm_bound(&w);
        assert!(b >= 3.0, "{b}");
        assert_eq!(b, frobenius_bound(&w));
    }

    #[test]
    fn sparse_huge_and_non_finite_fall_back_to_frobenius() {
        let w = Matrix::dense(2, 2, vec![1.0, f64::NAN, 0.0, 1.0]);
        assert_eq!(spectral_norm_bound(&w), f64::INFINITY);
        let w = Matrix::dense(2, 2, vec![1e300, 0.0, 0.0, 1.0]);
        assert_eq!(spectral_norm_bound(&w), frobenius_bound(&w));
        let zero = Matrix::dense(3, 3, vec![0.0; 9]);
        assert!(spectral_norm_bound(&zero) < 1e-140);
        // Dot products so long that γ_k in f32 is not small (k·u₃₂ > 0.01).
        let long = Matrix::dense(2, 200_000, vec![0.5; 400_000]);
        assert_eq!(spectral_norm_bound(&long), frobenius_bound(&long));
    }
}
