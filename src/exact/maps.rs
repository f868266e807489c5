//! Exact affine maps of a layer on a cell, built incrementally from the parent cell's map.
//!
//! On a cell whose pattern of the earlier layers is fixed, neuron i of layer l is the affine
//! function `z_{l,i}(t) = (a_i·t + c_i) / q_l` (integers, `q_l > 0`). Layer l's rows follow from
//! layer l − 1's rows of the parent cell: `row_i = Σ_j w_ij [j active] row_j + (0, b_i q_{l−1})`,
//! `q_l = q_{l−1} den_l` — n_l × n_{l−1} × (d + 1) products per cell instead of recomputing
//! every layer from the input. Integers stay in i128 (checked) while they fit, which is the
//! case for three float32 layers; on overflow the same computation runs in big integers.
//!
//! Used by the lp engine (a cell's map from its parent's) and by the planar engine's exact
//! fallbacks (a face's map, once per face that needs one).

use crate::exact::{ExactLayer, ExactNet, ExactPoint, LineEq};
use num_bigint::BigInt;
use num_traits::{ToPrimitive, Zero};

/// Layers this wide or wider have their big-integer rows computed on every core.
const PARALLEL_BIG_ROWS_FROM: usize = 128;

/// A layer's weights (and inactive-side weights) and biases as i128 when they fit.
#[derive(Debug, Clone)]
pub(crate) struct SmallLayer {
    w: Option<Vec<i128>>,
    w_neg: Option<Option<Vec<i128>>>,
    b: Option<Vec<i128>>,
    den: Option<i128>,
    /// Bits of the largest |weight| (both weight arrays).
    w_bits: u32,
}

/// Bits of the largest magnitude in `v`.
fn max_bits(v: &[i128]) -> u32 {
    v.iter()
        .map(|x| 128 - x.unsigned_abs().leading_zeros())
        .max()
        .unwrap_or(0)
}

/// Whether no sum of `n_in` products of a weight of `w_bits` bits and an entry of `rows` can
/// leave i128 (|Σ w·r| < n_in · 2^(w_bits + r_bits) ≤ 2^126): then the sums need no overflow
/// checks.
fn sums_fit(w_bits: u32, rows: &[i128], n_in: usize) -> bool {
    let n_bits = usize::BITS - n_in.leading_zeros();
    w_bits + max_bits(rows) + n_bits <= 126
}

fn small(v: &[BigInt]) -> Option<Vec<i128>> {
    v.iter().map(|x| x.to_i64().map(i128::from)).collect()
}

impl SmallLayer {
    /// The weights borrowed as machine integers, when every number of the layer fits.
    fn weights(&self) -> Option<SmallWeights<'_>> {
        Some(SmallWeights {
            w: self.w.as_deref()?,
            w_neg: self.w_neg.as_ref()?.as_deref(),
            b: self.b.as_deref()?,
            den: self.den?,
            w_bits: self.w_bits,
        })
    }

    pub(crate) fn new(layer: &ExactLayer) -> SmallLayer {
        let w = small(&layer.w.vals);
        let w_neg = match &layer.w_neg {
            None => Some(None),
            Some(v) => small(v).map(Some),
        };
        let w_bits = w.as_deref().map_or(0, max_bits).max(
            w_neg
                .as_ref()
                .and_then(|n| n.as_deref())
                .map_or(0, max_bits),
        );
        SmallLayer {
            w,
            w_neg,
            b: small(&layer.b),
            den: layer.den.to_i64().map(i128::from),
            w_bits,
        }
    }
}

/// A layer's machine-integer weights, borrowed for one step.
struct SmallWeights<'a> {
    w: &'a [i128],
    w_neg: Option<&'a [i128]>,
    b: &'a [i128],
    den: i128,
    w_bits: u32,
}

impl SmallWeights<'_> {
    /// The weight at `pos` of an input that is on (its weight) or off (its inactive-side
    /// weight, 0 for a ReLU).
    fn weight(&self, pos: usize, on: bool) -> i128 {
        match (on, self.w_neg) {
            (true, _) => self.w[pos],
            (false, Some(neg)) => neg[pos],
            (false, None) => 0,
        }
    }
}

#[derive(Debug, Clone)]
enum Rows {
    Small { rows: Vec<i128>, q: i128 },
    Big { rows: Vec<BigInt>, q: BigInt },
}

/// The rows `(a_i, c_i)` of every neuron of one layer on one cell, over a common `q > 0`.
#[derive(Debug, Clone)]
pub(crate) struct LayerRows {
    d: usize,
    n: usize,
    rows: Rows,
}

impl LayerRows {
    /// Layer 0 (the slice is already folded in).
    pub(crate) fn first(net: &ExactNet) -> LayerRows {
        let l = &net.hidden[0];
        let d = net.d;
        let mut big = Vec::with_capacity(l.n_out * (d + 1));
        for i in 0..l.n_out {
            // Layer 0's weights are dense over t (the slice is folded in).
            big.extend_from_slice(l.w.row(i).vals);
            big.push(l.b[i].clone());
        }
        let rows = match (small(&big), l.den.to_i64()) {
            (Some(rows), Some(q)) => Rows::Small {
                rows,
                q: i128::from(q),
            },
            _ => Rows::Big {
                rows: big,
                q: l.den.clone(),
            },
        };
        LayerRows {
            d,
            n: l.n_out,
            rows,
        }
    }

    /// The rows of the next layer on a cell where neuron j of this layer is `active(j)`.
    pub(crate) fn next(
        &self,
        layer: &ExactLayer,
        small_layer: &SmallLayer,
        active: &dyn Fn(usize) -> bool,
    ) -> LayerRows {
        if let (Rows::Small { rows, q }, Some(small)) = (&self.rows, small_layer.weights()) {
            if let Some(r) = self.next_small(layer, rows, *q, &small, active) {
                return r;
            }
        }
        self.next_big(layer, active)
    }

    /// The next layer's rows with the terms of the inputs whose `state` is `None` left out
    /// (the others on or off as given), in i128: the part that the cells of one parent share,
    /// completed per cell by [`Self::complete`]. `None` when the rows or weights are not in
    /// i128 or a sum leaves it.
    pub(crate) fn partial(
        &self,
        layer: &ExactLayer,
        small_layer: &SmallLayer,
        state: &[Option<bool>],
    ) -> Option<LayerRows> {
        let Rows::Small { rows, q } = &self.rows else {
            return None;
        };
        self.sums_small(layer, rows, *q, &small_layer.weights()?, state)
    }

    /// `partial` plus the terms of the inputs `open` (input, whether it is on): the next
    /// layer's rows on one cell, equal to [`Self::next`] with the same states. `None` when a
    /// sum leaves i128 or the weights are not dense.
    pub(crate) fn complete(
        &self,
        partial: &LayerRows,
        layer: &ExactLayer,
        small_layer: &SmallLayer,
        open: &[(usize, bool)],
    ) -> Option<LayerRows> {
        let (Rows::Small { rows, .. }, Rows::Small { rows: sums, q }) = (&self.rows, &partial.rows)
        else {
            return None;
        };
        if !layer.w.is_dense() {
            return None;
        }
        let small = small_layer.weights()?;
        let width = self.d + 1;
        // Every partial sum is a sum of some of the full sum's terms: the same bound holds.
        let unchecked = sums_fit(small.w_bits, rows, layer.n_in);
        let mut out = sums.clone();
        for i in 0..layer.n_out {
            let dst = &mut out[i * width..(i + 1) * width];
            for &(j, on) in open {
                let wij = small.weight(i * layer.n_in + j, on);
                if wij == 0 {
                    continue;
                }
                let src = &rows[j * width..(j + 1) * width];
                for (x, &r) in dst.iter_mut().zip(src) {
                    *x = if unchecked {
                        x.wrapping_add(wij.wrapping_mul(r))
                    } else {
                        x.checked_add(wij.checked_mul(r)?)?
                    };
                }
            }
        }
        Some(LayerRows {
            d: self.d,
            n: layer.n_out,
            rows: Rows::Small { rows: out, q: *q },
        })
    }

    fn next_small(
        &self,
        layer: &ExactLayer,
        rows: &[i128],
        q: i128,
        small: &SmallWeights,
        active: &dyn Fn(usize) -> bool,
    ) -> Option<LayerRows> {
        let on: Vec<Option<bool>> = (0..layer.n_in).map(|j| Some(active(j))).collect();
        self.sums_small(layer, rows, q, small, &on)
    }

    /// [`Self::next_small`] for the inputs whose state is known (`None`: left out).
    fn sums_small(
        &self,
        layer: &ExactLayer,
        rows: &[i128],
        q: i128,
        small: &SmallWeights,
        on: &[Option<bool>],
    ) -> Option<LayerRows> {
        let n_out = layer.n_out;
        // The 3-64×3 count was 14 % faster without overflow checks where they cannot fail.
        let unchecked = sums_fit(small.w_bits, rows, layer.n_in);
        let out = if unchecked && small.w_bits <= 63 && max_bits(rows) <= 63 {
            // Both factors fit in i64: one widening multiply each (i128 × i128 takes three).
            self.products(layer, rows, q, small, on, |x, w, r| {
                Some(x.wrapping_add((w as i64 as i128) * (r as i64 as i128)))
            })
        } else if unchecked {
            self.products(layer, rows, q, small, on, |x, w, r| {
                Some(x.wrapping_add(w.wrapping_mul(r)))
            })
        } else {
            self.products(layer, rows, q, small, on, |x, w, r| {
                x.checked_add(w.checked_mul(r)?)
            })
        }?;
        Some(LayerRows {
            d: self.d,
            n: n_out,
            rows: Rows::Small {
                rows: out,
                q: q.checked_mul(small.den)?,
            },
        })
    }

    /// `W·diag(on)·rows + b·q` in i128, row by row, leaving out the inputs whose `on` is
    /// `None`; `mac(x, w, r)` is `x + w·r` (checked or not, as the caller proved). `None` on
    /// overflow.
    fn products(
        &self,
        layer: &ExactLayer,
        rows: &[i128],
        q: i128,
        small: &SmallWeights,
        on: &[Option<bool>],
        mac: impl Fn(i128, i128, i128) -> Option<i128>,
    ) -> Option<Vec<i128>> {
        let width = self.d + 1;
        let mut out = vec![0i128; layer.n_out * width];
        for i in 0..layer.n_out {
            let dst = &mut out[i * width..(i + 1) * width];
            let range = layer.w.range(i);
            let row = layer.w.row(i);
            for (k, pos) in range.enumerate() {
                let j = row.col(k);
                let Some(on) = on[j] else { continue };
                let wij = small.weight(pos, on);
                if wij == 0 {
                    continue;
                }
                let src = &rows[j * width..(j + 1) * width];
                for (x, s) in dst.iter_mut().zip(src) {
                    *x = mac(*x, wij, *s)?;
                }
            }
            dst[width - 1] = dst[width - 1].checked_add(small.b[i].checked_mul(q)?)?;
        }
        Some(out)
    }

    fn next_big(&self, layer: &ExactLayer, active: &dyn Fn(usize) -> bool) -> LayerRows {
        let width = self.d + 1;
        // Big rows are read in place; machine-integer ones converted once.
        let converted: (Vec<BigInt>, BigInt);
        let (rows, q): (&[BigInt], &BigInt) = match &self.rows {
            Rows::Small { rows, q } => {
                converted = (
                    rows.iter().map(|&x| BigInt::from(x)).collect(),
                    BigInt::from(*q),
                );
                (&converted.0, &converted.1)
            }
            Rows::Big { rows, q } => (rows, q),
        };
        let n_out = layer.n_out;
        let mut out = vec![BigInt::zero(); n_out * width];
        let on: Vec<bool> = (0..layer.n_in).map(active).collect();
        // Row i of the product. (Word-sized weights multiply a scratch integer in place:
        // `add_product`.)
        let row = |i: usize, dst: &mut [BigInt], scratch: &mut BigInt| {
            for (j, wij) in layer.row_on(i, &|j| on[j]) {
                for (x, src) in dst.iter_mut().zip(&rows[j * width..(j + 1) * width]) {
                    if !src.is_zero() {
                        crate::exact::number::add_product(x, wij, src, scratch);
                    }
                }
            }
            dst[width - 1] += &layer.b[i] * q;
        };
        if n_out >= PARALLEL_BIG_ROWS_FROM {
            // A wide layer's exact map is one vertex's exact fallback, often alone in its
            // layer: the other core takes half of its rows.
            use rayon::prelude::*;
            out.par_chunks_mut(width)
                .enumerate()
                .for_each_init(BigInt::zero, |scratch, (i, dst)| row(i, dst, scratch));
        } else {
            let mut scratch = BigInt::zero();
            for (i, dst) in out.chunks_mut(width).enumerate() {
                row(i, dst, &mut scratch);
            }
        }
        LayerRows {
            d: self.d,
            n: n_out,
            rows: Rows::Big {
                rows: out,
                q: q * &layer.den,
            },
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Whether the rows are still machine integers.
    pub(crate) fn is_small(&self) -> bool {
        matches!(self.rows, Rows::Small { .. })
    }

    /// The common denominator.
    pub(crate) fn q(&self) -> BigInt {
        match &self.rows {
            Rows::Small { q, .. } => BigInt::from(*q),
            Rows::Big { q, .. } => q.clone(),
        }
    }

    /// [`LayerRows::eq`] divided by the powers of two common to its entries (the same
    /// halfspace, no longer over `q`): in i128 that is one shift per entry, where
    /// `LineEq::without_common_twos` shifts big integers.
    pub(crate) fn halfspace(&self, i: usize) -> LineEq {
        let width = self.d + 1;
        let Rows::Small { rows, .. } = &self.rows else {
            return self.eq(i).without_common_twos();
        };
        let row = &rows[i * width..(i + 1) * width];
        let twos = row
            .iter()
            .filter(|&&x| x != 0)
            .map(|x| x.trailing_zeros())
            .min()
            .unwrap_or(0);
        let mut a: Vec<BigInt> = row.iter().map(|&x| BigInt::from(x >> twos)).collect();
        let c = a.pop().expect("d + 1 entries");
        LineEq { a, c }
    }

    /// Neuron i's row `(a, c)` rounded to f64 (a multiple of the exact row by `1/q`, each entry
    /// within half an ulp) into `out`, when the rows are in i128; `false` (and `out` untouched)
    /// for big-integer rows. A zero entry is exactly zero.
    pub(crate) fn float_row(&self, i: usize, out: &mut [f64]) -> bool {
        let width = self.d + 1;
        let Rows::Small { rows, .. } = &self.rows else {
            return false;
        };
        for (o, &x) in out.iter_mut().zip(&rows[i * width..(i + 1) * width]) {
            *o = x as f64;
        }
        true
    }

    /// Neuron i at the point p: the numerator over `q · p.den` (same sign as the value).
    pub(crate) fn eval(&self, i: usize, p: &ExactPoint) -> BigInt {
        let eq = self.eq(i);
        let mut y = &eq.c * &p.den;
        for (a, x) in eq.a.iter().zip(&p.num) {
            if !a.is_zero() {
                y += a * x;
            }
        }
        y
    }

    /// The equation of neuron i: `a·t + c` (same sign as the pre-activation).
    pub(crate) fn eq(&self, i: usize) -> LineEq {
        let width = self.d + 1;
        let big: Vec<BigInt> = match &self.rows {
            Rows::Small { rows, .. } => rows[i * width..(i + 1) * width]
                .iter()
                .map(|&x| BigInt::from(x))
                .collect(),
            Rows::Big { rows, .. } => rows[i * width..(i + 1) * width].to_vec(),
        };
        let mut a = big;
        let c = a.pop().expect("d + 1 entries");
        LineEq { a, c }
    }
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    /// The incremental maps equal ExactNet::layer_map up to the positive common factor.
    #[test]
    fn incremental_maps_match_layer_map() {
        let l0 = ExactLayer::dense(
            2,
            3,
            &[q(1), q(-2), q(3), q(1), q(-1), q(-1)],
            &[q(1), q(0), q(-2)],
        );
        let l1 = ExactLayer::dense(
            3,
            2,
            &[q(2), q(-1), q(1), q(1), q(1), q(-3)],
            &[q(1), q(-1)],
        );
        let out = ExactLayer::dense(2, 1, &[q(1), q(1)], &[q(0)]);
        let net = ExactNet {
            d: 2,
            hidden: vec![l0.into(), l1.into()],
            output: out.into(),
        };
        let active = [true, false, true];
        let first = LayerRows::first(&net);
        let next = first.next(&net.hidden[1], &SmallLayer::new(&net.hidden[1]), &|j| {
            active[j]
        });
        let big = first.next_big(&net.hidden[1], &|j| active[j]);
        let (rows, _) = net.layer_map(1, &|_, j| active[j]);
        for i in 0..2 {
            assert_eq!(next.eq(i).reduced(), rows[i].clone().reduced());
            assert_eq!(big.eq(i).reduced(), rows[i].clone().reduced());
            // The same halfspace with no power of two common to its entries, from either form.
            for h in [next.halfspace(i), big.halfspace(i)] {
                assert_eq!(h.multiple_of(&next.eq(i)), Some(true));
                assert!(h
                    .a
                    .iter()
                    .chain([&h.c])
                    .any(|x| x.trailing_zeros() == Some(0)));
            }
        }
        // Rows made even by an even weight lose their factor 2.
        let twice = LayerRows {
            d: 2,
            n: 1,
            rows: Rows::Small {
                rows: vec![4, -12, 8],
                q: 3,
            },
        };
        let h = twice.halfspace(0);
        assert_eq!(
            (h.a, h.c),
            (vec![BigInt::from(1), BigInt::from(-3)], BigInt::from(2))
        );
    }

    fn q(p: i64) -> num_rational::BigRational {
        num_rational::BigRational::from_integer(p.into())
    }

    /// `count` integers spread over [−half, half] (a fixed pseudo-random sequence).
    fn spread(count: usize, half: i64) -> Vec<num_rational::BigRational> {
        (0..count as i64)
            .map(|k| q((k * 7919) % (2 * half + 3) - half))
            .collect()
    }

    /// A layer wide enough for its big-integer rows to be computed in parallel gives the rows of
    /// the i128 path, row for row.
    #[test]
    fn wide_layers_big_rows_in_parallel_match_i128() {
        let (n_in, n_out, d) = (6usize, PARALLEL_BIG_ROWS_FROM + 37, 1usize);
        let w = spread(n_in * n_out, 300_000);
        let b: Vec<_> = (0..n_out).map(|k| q(k as i64 % 11 - 5)).collect();
        let layer = ExactLayer::dense(n_in, n_out, &w, &b);
        let rows: Vec<i128> = (0..n_in * (d + 1))
            .map(|k| (1i128 << 40) - 7 * k as i128 * if k % 2 == 0 { 1 } else { -1 })
            .collect();
        let map = LayerRows {
            d,
            n: n_in,
            rows: Rows::Small { rows, q: 3 },
        };
        i128_rows_match_big_integers(&map, &layer, &|j| j % 3 != 1, "a wide layer");
    }

    /// The next layer's rows by the i128 path (which must stay in i128) and by big integers
    /// agree, row for row.
    fn i128_rows_match_big_integers(
        map: &LayerRows,
        layer: &ExactLayer,
        active: &dyn Fn(usize) -> bool,
        what: &str,
    ) {
        let fast = map.next(layer, &SmallLayer::new(layer), active);
        assert!(fast.is_small(), "{what}: rows left i128");
        let big = map.next_big(layer, active);
        assert_eq!(fast.q(), big.q(), "{what}");
        for i in 0..layer.n_out {
            assert_eq!(fast.eq(i), big.eq(i), "{what}, row {i}");
        }
    }

    /// Each way of summing in i128 (widening products of i64 factors, i128 products without
    /// checks, checked products) gives the big-integer rows: rows of 40, 80 and 104 bits
    /// through a layer of 20-bit weights.
    #[test]
    fn every_i128_path_matches_big_integers() {
        let (n_in, n_out, d) = (5usize, 4usize, 2usize);
        let w = spread(n_in * n_out, 500_000);
        let b: Vec<_> = (0..n_out).map(|k| q(k as i64 * 3 - 4)).collect();
        let layer = ExactLayer::dense(n_in, n_out, &w, &b);
        for bits in [40u32, 80, 104] {
            let rows: Vec<i128> = (0..n_in * (d + 1))
                .map(|k| {
                    let sign = if k % 3 == 0 { -1 } else { 1 };
                    sign * ((1i128 << bits) - 1 - 977 * k as i128)
                })
                .collect();
            assert_eq!(max_bits(&rows), bits);
            let map = LayerRows {
                d,
                n: n_in,
                rows: Rows::Small { rows, q: 5 },
            };
            let what = format!("{bits}-bit rows");
            i128_rows_match_big_integers(&map, &layer, &|j| j != 2, &what);
        }
    }

    /// Sums shared by the cells of one parent, completed per cell, equal the rows made from
    /// scratch: every split of 6 inputs into fixed (on or off) and open ones, every on/off
    /// choice of the open ones, with plain ReLU and with inactive-side weights (leaky).
    #[test]
    fn shared_sums_completed_per_cell_equal_fresh_rows() {
        let (n_in, n_out, d) = (6usize, 5usize, 3usize);
        let w = spread(n_in * n_out, 1000);
        let w_neg: Vec<_> = (0..n_in * n_out)
            .map(|k| q(((k as i64 * 104_729) % 31) - 15))
            .collect();
        let b: Vec<_> = (0..n_out).map(|k| q(k as i64 * 5 - 7)).collect();
        let prev = LayerRows {
            d,
            n: n_in,
            rows: Rows::Small {
                rows: (0..n_in * (d + 1))
                    .map(|k| ((k as i128 * 65_537) % 1_000_033) - 500_000)
                    .collect(),
                q: 3,
            },
        };
        let mut checked = 0;
        for leaky in [false, true] {
            let matrix = crate::matrix::Matrix::dense(n_out, n_in, w.clone());
            let layer = ExactLayer::from_rationals(&matrix, leaky.then_some(&w_neg[..]), &b);
            let small = SmallLayer::new(&layer);
            // Per input: 0 open, 1 fixed on, 2 fixed off.
            for code in 0..3usize.pow(n_in as u32) {
                let kind: Vec<usize> = (0..n_in).map(|j| code / 3usize.pow(j as u32) % 3).collect();
                let state: Vec<Option<bool>> = kind
                    .iter()
                    .map(|&k| [None, Some(true), Some(false)][k])
                    .collect();
                let sums = prev.partial(&layer, &small, &state).expect("small numbers");
                let open: Vec<usize> = (0..n_in).filter(|&j| kind[j] == 0).collect();
                for bits in 0..1usize << open.len() {
                    let choice: Vec<(usize, bool)> = open
                        .iter()
                        .enumerate()
                        .map(|(t, &j)| (j, bits >> t & 1 == 1))
                        .collect();
                    let active = |j: usize| match state[j] {
                        Some(on) => on,
                        None => choice.iter().any(|&(k, on)| k == j && on),
                    };
                    let done = prev
                        .complete(&sums, &layer, &small, &choice)
                        .expect("small numbers");
                    let fresh = prev.next(&layer, &small, &active);
                    assert_eq!(done.q(), fresh.q());
                    for i in 0..n_out {
                        assert_eq!(done.eq(i), fresh.eq(i), "code {code}, bits {bits}");
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 2 * 4usize.pow(6));
    }

    /// Integers beyond i128 switch to big integers and stay exact.
    #[test]
    fn overflow_falls_back_to_big_integers() {
        let big = |p: i64| num_rational::BigRational::from_integer((p * (1 << 55) + 7).into());
        let layers: Vec<ExactLayer> = (0..3)
            .map(|_| {
                ExactLayer::dense(2, 2, &[big(3), big(-5), big(2), big(1)], &[big(1), big(-1)])
            })
            .collect();
        let net = ExactNet {
            d: 2,
            hidden: layers.into_iter().map(Into::into).collect(),
            output: std::sync::Arc::new(ExactLayer::dense(
                2,
                1,
                &[big(1), big(1)],
                &[num_rational::BigRational::from_integer(0.into())],
            )),
        };
        let all = |_: usize| true;
        let mut rows = LayerRows::first(&net);
        for l in 1..3 {
            rows = rows.next(&net.hidden[l], &SmallLayer::new(&net.hidden[l]), &all);
        }
        assert!(
            matches!(rows.rows, Rows::Big { .. }),
            "expected an overflow"
        );
        let (exact, _) = net.layer_map(2, &|_, _| true);
        for i in 0..2 {
            assert_eq!(rows.eq(i).reduced(), exact[i].clone().reduced());
        }
    }
}
