//! The f64 state of every vertex at the layer being processed: one row of pre-activations per
//! vertex with one error bound, the sign masks read from them, and the layer step
//! `z' = W·relu(z) + b` that turns one layer's rows into the next one's.
//!
//! Rows stay in the block that made them ([`RowStore`]): the corners' block, then one block per
//! run of faces (its new vertices). The layer step overwrites each row in place, so a layer
//! touches fresh memory only for the rows of the vertices it makes (and for blocks it moves: a
//! layer wider than a block's rows, or much narrower). On the virtual machines this
//! project runs on, a first touch costs 0.4 ms per MiB (4 KiB pages) to 2 ms per MiB (huge pages
//! the host has to back): gathering every vertex's new row into one array cost up to a third of
//! a cold run on the 256-wide network.

use crate::pattern;
use crate::restrict::FloatLayer;
use rayon::prelude::*;

const U: f64 = f64::EPSILON / 2.0;

/// A block of rows, `stride` f64 apart (a row has the store's width `n ≤ stride`).
struct Segment {
    data: Vec<f64>,
    stride: usize,
}

/// One f64 row per vertex, each left in the block that made it.
pub struct RowStore {
    /// Entries per row.
    n: usize,
    segments: Vec<Segment>,
    /// Vertex v's row is row `at[v].1` of segment `at[v].0`. Segments never decrease with v
    /// (a run's new vertices are numbered after every earlier run's), so each segment's
    /// vertices are one range of ids, and the product can hand each group of segments its
    /// own slices of the per-vertex arrays.
    at: Vec<(u32, u32)>,
}

impl RowStore {
    /// `count` rows of width `n`, row-major in `data`.
    pub fn single(n: usize, data: Vec<f64>, count: usize) -> Self {
        assert_eq!(data.len(), n * count, "rows of width n");
        RowStore {
            n,
            segments: vec![Segment { data, stride: n }],
            at: (0..count as u32).map(|r| (0, r)).collect(),
        }
    }

    pub fn width(&self) -> usize {
        self.n
    }

    /// Vertices with a row.
    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    #[inline]
    pub fn row(&self, v: usize) -> &[f64] {
        let (s, r) = self.at[v];
        let seg = &self.segments[s as usize];
        let start = r as usize * seg.stride;
        &seg.data[start..start + self.n]
    }

    pub fn row_mut(&mut self, v: usize) -> &mut [f64] {
        let (s, r) = self.at[v];
        let seg = &mut self.segments[s as usize];
        let start = r as usize * seg.stride;
        &mut seg.data[start..start + self.n]
    }

    /// Adopts a block of rows of width `n` (row-major, possibly with rows no vertex uses) and
    /// returns its id for [`Self::push_vertex`].
    pub fn add_segment(&mut self, data: Vec<f64>) -> u32 {
        self.segments.push(Segment {
            data,
            stride: self.n,
        });
        (self.segments.len() - 1) as u32
    }

    /// The next vertex's row is row `row` of segment `segment` (the last vertex's segment or a
    /// later one).
    pub fn push_vertex(&mut self, segment: u32, row: usize) {
        let stride = self.segments[segment as usize].stride;
        assert!(
            (row + 1) * stride <= self.segments[segment as usize].data.len(),
            "a vertex's row lies inside its segment"
        );
        assert!(
            self.at.last().is_none_or(|&(last, _)| last <= segment),
            "vertices are pushed segment by segment"
        );
        self.at.push((segment, row as u32));
    }

    /// The first vertex of each segment, and the vertex count at the end.
    fn segment_starts(&self) -> Vec<usize> {
        let mut starts = vec![0usize; self.segments.len() + 1];
        for &(s, _) in &self.at {
            starts[s as usize + 1] += 1;
        }
        for s in 0..self.segments.len() {
            starts[s + 1] += starts[s];
        }
        starts
    }
}

/// The f64 state of every vertex at the layer being processed.
pub struct LayerValues {
    /// Neurons in the layer.
    pub n: usize,
    /// Each vertex's n pre-activations, then (with `entry`) their n error bounds.
    pub rows: RowStore,
    /// Rows carry one error bound per neuron (deep networks: a single bound per vertex grows
    /// with the largest row norm and the largest value, layer after layer, until deep signs
    /// cannot be told; bounds per neuron stay about 10⁵ times tighter after eight layers).
    pub entry: bool,
    /// Per-vertex error bound (with `entry`, the largest of the row's).
    pub err: Vec<f64>,
    /// Per-vertex bound on the 2-norm of the row's error vector (it grows at most ‖W‖₂ times
    /// a layer, see [`BoundMode::norms`]; √n · `err` always holds).
    pub norm: Vec<f64>,
    /// Per-vertex max_k |z̃_k| (an upper bound).
    pub row_max: Vec<f64>,
    /// Per vertex, `2·words` words: the neurons whose float sign is proven positive, then the
    /// proven negative ones (computed with the row, while it is in cache).
    pub masks: Vec<u64>,
    /// Per vertex: every neuron's sign is proven by the float.
    pub decided: Vec<bool>,
}

impl LayerValues {
    /// Values read from rows as they are (no layer step): their maxima and sign masks.
    pub fn from_rows(rows: RowStore, err: Vec<f64>, norm: Vec<f64>) -> Self {
        assert_eq!(rows.len(), err.len(), "one bound per row");
        assert_eq!(norm.len(), err.len(), "one norm bound per row");
        let n = rows.width();
        let words = pattern::words(n);
        let v_count = err.len();
        let mut maxes = vec![0.0f64; v_count];
        let mut masks = vec![0u64; v_count * 2 * words];
        // No neurons: every (empty) sign set is decided.
        let mut decided = vec![words == 0; v_count];
        const CHUNK: usize = 1024;
        maxes
            .par_chunks_mut(CHUNK)
            .zip(masks.par_chunks_mut(CHUNK * 2 * words.max(1)))
            .zip(decided.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, ((mc, sc), dc))| {
                for r in 0..mc.len() {
                    let v = c * CHUNK + r;
                    let row = rows.row(v);
                    mc[r] = row_max(row);
                    let (pos, neg) = sc[r * 2 * words..(r + 1) * 2 * words].split_at_mut(words);
                    dc[r] = row_sign_masks(row, err[v], pos, neg);
                }
            });
        LayerValues {
            n,
            rows,
            entry: false,
            err,
            norm,
            row_max: maxes,
            masks,
            decided,
        }
    }

    #[inline]
    pub fn row(&self, v: usize) -> &[f64] {
        self.rows.row(v)
    }

    /// Neuron j's float at vertex v.
    #[inline]
    pub fn value(&self, v: usize, j: usize) -> f64 {
        self.rows.row(v)[j]
    }

    /// Entries per row: the values, and with `entry` their bounds.
    pub fn stride(&self) -> usize {
        if self.entry {
            2 * self.n
        } else {
            self.n
        }
    }

    pub(crate) fn masks(&self, v: usize) -> (&[u64], &[u64]) {
        let words = pattern::words(self.n);
        self.masks[v * 2 * words..(v + 1) * 2 * words].split_at(words)
    }
}

/// Whether this processor runs the AVX versions of the row loops (checked once, then cached by
/// the standard library).
#[inline(always)]
pub(crate) fn has_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx");
    #[allow(unreachable_code)]
    false
}

/// max_k |x_k|.
pub fn row_max(row: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx() {
        // SAFETY: AVX is present.
        return unsafe { row_max_avx(row) };
    }
    row_max_portable(row)
}

/// [`row_max`] without vector instructions.
fn row_max_portable(row: &[f64]) -> f64 {
    // Four lanes (the plain fold does not vectorise); NaN entries are skipped, as with f64::max.
    let mut lanes = [0.0f64; 4];
    let quads = row.chunks_exact(4);
    let rest = quads.remainder();
    for q in quads {
        for l in 0..4 {
            let a = q[l].abs();
            lanes[l] = if a > lanes[l] { a } else { lanes[l] };
        }
    }
    rest.iter()
        .chain(&lanes)
        .fold(0.0f64, |m, x| m.max(x.abs()))
}

/// [`row_max`] with AVX: the same lanes (`max_pd(a, m)` is `a > m ? a : m`, so NaN is skipped).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn row_max_avx(row: &[f64]) -> f64 {
    use std::arch::x86_64::*;
    let sign = _mm256_set1_pd(-0.0);
    let mut lanes = _mm256_setzero_pd();
    let quads = row.len() / 4;
    for q in 0..quads {
        // SAFETY: 4q + 3 < row.len().
        let x = unsafe { _mm256_loadu_pd(row.as_ptr().add(4 * q)) };
        lanes = _mm256_max_pd(_mm256_andnot_pd(sign, x), lanes);
    }
    let mut out = [0.0f64; 4];
    // SAFETY: four f64 are written to a four-f64 array.
    unsafe { _mm256_storeu_pd(out.as_mut_ptr(), lanes) };
    // The lanes are non-negative and not NaN; the tail goes through the portable loop.
    out.iter()
        .fold(row_max_portable(&row[4 * quads..]), |m, &x| m.max(x))
}

/// `dst = relu(src)` (NaN to 0, as `f64::max(x, 0.0)`), returning max(dst).
pub(crate) fn relu_into(src: &[f64], dst: &mut [f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx() {
        // SAFETY: AVX is present.
        return unsafe { relu_into_avx(src, dst) };
    }
    relu_into_portable(src, dst)
}

/// [`relu_into`] without vector instructions.
fn relu_into_portable(src: &[f64], dst: &mut [f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let n = src.len().min(dst.len());
    let full = n / 4 * 4;
    for i in (0..full).step_by(4) {
        for l in 0..4 {
            let x = src[i + l];
            let r = if x > 0.0 { x } else { 0.0 };
            dst[i + l] = r;
            lanes[l] = if r > lanes[l] { r } else { lanes[l] };
        }
    }
    let mut max = lanes.iter().fold(0.0f64, |m, &x| m.max(x));
    for i in full..n {
        let x = src[i];
        let r = if x > 0.0 { x } else { 0.0 };
        dst[i] = r;
        max = max.max(r);
    }
    max
}

/// [`relu_into`] with AVX: `max_pd(x, 0)` is `x > 0 ? x : 0` (NaN and −0 to +0), as above.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn relu_into_avx(src: &[f64], dst: &mut [f64]) -> f64 {
    use std::arch::x86_64::*;
    let n = src.len().min(dst.len());
    let zero = _mm256_setzero_pd();
    let mut lanes = zero;
    let quads = n / 4;
    for q in 0..quads {
        // SAFETY: 4q + 3 < n, within both slices.
        unsafe {
            let r = _mm256_max_pd(_mm256_loadu_pd(src.as_ptr().add(4 * q)), zero);
            _mm256_storeu_pd(dst.as_mut_ptr().add(4 * q), r);
            lanes = _mm256_max_pd(r, lanes);
        }
    }
    let mut out = [0.0f64; 4];
    // SAFETY: four f64 are written to a four-f64 array.
    unsafe { _mm256_storeu_pd(out.as_mut_ptr(), lanes) };
    let tail = relu_into_portable(&src[4 * quads..n], &mut dst[4 * quads..n]);
    out.iter().fold(tail, |m, &x| m.max(x))
}

/// ORs the neurons of `row` with float sign proven positive (`z > e`) into `pos` and proven
/// negative (`z < -e`) into `neg`; returns whether all were proven (a NaN is never proven).
/// Four at a time with AVX compares where the processor has them (a third of the instructions
/// of the portable loop, which is the fallback): every vertex of every layer goes through here.
pub(crate) fn row_sign_masks(row: &[f64], e: f64, pos: &mut [u64], neg: &mut [u64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if has_avx() {
        // SAFETY: AVX is present (checked just above).
        return unsafe { row_sign_masks_avx(row, e, pos, neg) };
    }
    row_sign_masks_portable(row, e, pos, neg)
}

/// [`row_sign_masks`] without vector instructions.
fn row_sign_masks_portable(row: &[f64], e: f64, pos: &mut [u64], neg: &mut [u64]) -> bool {
    let mut decided = true;
    for (w, chunk) in row.chunks(64).enumerate() {
        let (mut pw, mut nw) = (0u64, 0u64);
        let quads = chunk.chunks_exact(4);
        let rest = quads.remainder();
        for (q, z) in quads.enumerate() {
            let p4 = (z[0] > e) as u64
                | ((z[1] > e) as u64) << 1
                | ((z[2] > e) as u64) << 2
                | ((z[3] > e) as u64) << 3;
            let n4 = (z[0] < -e) as u64
                | ((z[1] < -e) as u64) << 1
                | ((z[2] < -e) as u64) << 2
                | ((z[3] < -e) as u64) << 3;
            pw |= p4 << (4 * q);
            nw |= n4 << (4 * q);
        }
        let done = chunk.len() - rest.len();
        for (b, &z) in rest.iter().enumerate() {
            pw |= ((z > e) as u64) << (done + b);
            nw |= ((z < -e) as u64) << (done + b);
        }
        decided &= finish_word(pw, nw, chunk.len(), &mut pos[w], &mut neg[w]);
    }
    decided
}

/// [`row_sign_masks`] with one bound per neuron (`e[j]` for `row[j]`).
pub(crate) fn row_sign_masks_entry(
    row: &[f64],
    e: &[f64],
    pos: &mut [u64],
    neg: &mut [u64],
) -> bool {
    debug_assert_eq!(row.len(), e.len());
    let mut decided = true;
    for (w, (chunk, bound)) in row.chunks(64).zip(e.chunks(64)).enumerate() {
        let (mut pw, mut nw) = (0u64, 0u64);
        for (b, (&z, &e)) in chunk.iter().zip(bound).enumerate() {
            pw |= ((z > e) as u64) << b;
            nw |= ((z < -e) as u64) << b;
        }
        decided &= finish_word(pw, nw, chunk.len(), &mut pos[w], &mut neg[w]);
    }
    decided
}

/// ORs one word of masks in; whether all `len` neurons of the word were proven.
#[inline(always)]
fn finish_word(pw: u64, nw: u64, len: usize, pos: &mut u64, neg: &mut u64) -> bool {
    *pos |= pw;
    *neg |= nw;
    let full = if len == 64 {
        u64::MAX
    } else {
        (1u64 << len) - 1
    };
    (pw | nw) == full
}

/// [`row_sign_masks`] with AVX: one compare and one movemask per four neurons and sign. The
/// ordered, quiet compares are false on NaN, as `>` and `<` are.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn row_sign_masks_avx(row: &[f64], e: f64, pos: &mut [u64], neg: &mut [u64]) -> bool {
    use std::arch::x86_64::{
        _mm256_cmp_pd, _mm256_loadu_pd, _mm256_movemask_pd, _mm256_set1_pd, _CMP_GT_OQ, _CMP_LT_OQ,
    };
    let (above, below) = (_mm256_set1_pd(e), _mm256_set1_pd(-e));
    let mut decided = true;
    for (w, chunk) in row.chunks(64).enumerate() {
        let (mut pw, mut nw) = (0u64, 0u64);
        let quads = chunk.len() / 4;
        for q in 0..quads {
            // SAFETY: 4q + 3 < chunk.len(); unaligned loads are allowed.
            let z = unsafe { _mm256_loadu_pd(chunk.as_ptr().add(4 * q)) };
            let p4 = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(z, above)) as u64;
            let n4 = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(z, below)) as u64;
            pw |= p4 << (4 * q);
            nw |= n4 << (4 * q);
        }
        for (b, &z) in chunk.iter().enumerate().skip(4 * quads) {
            pw |= ((z > e) as u64) << b;
            nw |= ((z < -e) as u64) << b;
        }
        decided &= finish_word(pw, nw, chunk.len(), &mut pos[w], &mut neg[w]);
    }
    decided
}

/// The vector whose product with |W| bounds a layer's errors neuron by neuron: for input i,
/// its activation's error (`e_i` through an active ReLU, 0 through one proven inactive, the
/// slope's share for other activations, plus a slope's rounding) and γ·|h_i| for the rounding
/// of the dot products. `old` is the input row (values, then bounds when `entry_in`; else
/// `scalar` bounds every value).
#[allow(clippy::too_many_arguments)]
fn input_bounds(
    layer: &FloatLayer,
    old: &[f64],
    n_in: usize,
    entry_in: bool,
    scalar: f64,
    h: &[f64],
    gamma: f64,
    out: &mut [f64],
) {
    let slope_rounding = if layer.input.is_some() { 2.0 * U } else { 0.0 };
    for i in 0..n_in {
        let z = old[i];
        let e = if entry_in { old[n_in + i] } else { scalar };
        let slope = layer.input.as_ref().map_or(0.0, |a| a.slope[i].abs());
        let gain = if z > e {
            1.0
        } else if z < -e {
            slope
        } else {
            slope.max(1.0)
        };
        out[i] = gain * e + (slope_rounding + gamma) * h[i].abs();
    }
}

/// How a layer step bounds the errors of its new rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundMode {
    /// One bound per neuron in the rows (through |W|, an extra matrix product), not one per
    /// vertex.
    pub per_neuron: bool,
    /// Bound through 2-norms instead of |W|: each vertex's error vector's 2-norm N grows at
    /// most ‖W‖₂ times a layer (about 2.8 on random layers, where |W| grows an entry bound 25
    /// times at 512 wide), and entry k is off by at most ‖W_k‖₂ times the input's (with
    /// `per_neuron`, written for each neuron; the engine uses one bound per vertex here, which
    /// measured faster on 1-D and 2-D). Costs the layer's certified norms once
    /// ([`FloatLayer::norms`]).
    pub norms: bool,
}

/// A vertex's bounds through 2-norms at a layer step ([`BoundMode::norms`]).
struct ThroughNorms<'a> {
    norms: &'a crate::restrict::LayerNorms,
    /// ≥ ‖act(z̃) − act(z)‖₂, the activation's error.
    h_err: f64,
    /// ≥ every entry's error, and ≥ the 2-norm of the new row's error vector.
    entry: f64,
    norm: f64,
}

/// √(Σ x²) rounded up (the sum of squares in eight lanes: each term through at most n/8 + 4
/// roundings; squares below 2^-1022 are off by at most 2^-1075 each).
pub(crate) fn norm2_up(x: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            lanes[l] += c[l] * c[l];
        }
    }
    let mut sum = lanes.iter().sum::<f64>();
    for t in tail {
        sum += t * t;
    }
    norm_of_sum(sum, x.len())
}

/// An upper bound on √(Σ x²) from the float sum of the squares of n floats (each square, and
/// each float when it is a rounded difference, off by u of itself; the sum through at most
/// n + 8 roundings; squares below 2^-1022 off by 2^-1075 each).
pub(crate) fn norm_of_sum(sum_sq: f64, n: usize) -> f64 {
    let n = n as f64;
    (sum_sq * (1.0 + (n + 16.0) * 2.0 * U) + n * 1e-300).sqrt() * (1.0 + 4.0 * U)
}

/// √n·e rounded up: a bound on the 2-norm of n errors each at most e.
pub(crate) fn norm_of_entry_bound(e: f64, n: usize) -> f64 {
    (n as f64).sqrt() * e * (1.0 + 4.0 * U)
}

/// Rows per matrix product: big enough that packing W costs little per row, small enough that
/// a block's buffers stay in cache and both cores get many blocks.
const BLOCK: usize = 256;

/// One layer step of the float state: `z' = W·act(z) + b` for every vertex (`act` is ReLU or the
/// previous layer's slopes), with the bound `e' = R·e_h + γ_{m+3}·(R·max|h| + max|b|)` (R = max
/// row l1 norm, m the longest row; the +3 covers rounding of weights that are not f64 and of
/// the bias; `e_h = g·e + 2u·max|h|` bounds the activation's output, g its gain).
///
/// Each new row overwrites its vertex's old one where it lies. A segment whose rows are too
/// narrow for the new width, or more than twice as wide (a narrowing layer would otherwise keep
/// the wide rows for the rest of the run), gets a new block of just its vertices' rows. Rows no
/// vertex uses (a crossing two runs both made, kept once by the merge) are skipped.
pub fn next_layer_values(
    mut rows: RowStore,
    prev: (&[f64], &[f64]),
    layer: &FloatLayer,
    entry_in: bool,
    bounds: BoundMode,
) -> LayerValues {
    let (prev_err, prev_norm) = prev;
    let entry = bounds.per_neuron;
    let norms = bounds.norms.then(|| layer.norms());
    // Bounds per neuron through |W| (a second product), unless through norms.
    let through_abs = entry && norms.is_none();
    let v_count = rows.len();
    let (n_in, n_out) = (layer.n_in, layer.n_out);
    let width_in = if entry_in { 2 * n_in } else { n_in };
    let width = if entry { 2 * n_out } else { n_out };
    assert_eq!(rows.width(), width_in);
    assert_eq!(prev_err.len(), v_count);
    assert_eq!(prev_norm.len(), v_count);
    let words = pattern::words(n_out);
    let starts = rows.segment_starts();
    let mut err = vec![0.0f64; v_count];
    let mut norm = vec![0.0f64; v_count];
    let mut maxes = vec![0.0f64; v_count];
    let mut masks = vec![0u64; v_count * 2 * words];
    let mut decided = vec![false; v_count];
    // Groups of whole segments with about BLOCK vertices each: segment range, and the slices
    // of the per-vertex arrays for the group's vertex range.
    let mut jobs = Vec::new();
    {
        let mut segments: &mut [Segment] = &mut rows.segments;
        let (mut e, mut nm, mut m, mut k, mut d) = (
            &mut err[..],
            &mut norm[..],
            &mut maxes[..],
            &mut masks[..],
            &mut decided[..],
        );
        let mut first = 0usize;
        while !segments.is_empty() {
            let mut end = first + 1;
            while end < starts.len() - 1 && starts[end] - starts[first] < BLOCK {
                end += 1;
            }
            let count = starts[end] - starts[first];
            let (group, tail) = std::mem::take(&mut segments).split_at_mut(end - first);
            segments = tail;
            let (eg, et) = std::mem::take(&mut e).split_at_mut(count);
            let (ng, nt) = std::mem::take(&mut nm).split_at_mut(count);
            let (mg, mt) = std::mem::take(&mut m).split_at_mut(count);
            let (kg, kt) = std::mem::take(&mut k).split_at_mut(count * 2 * words);
            let (dg, dt) = std::mem::take(&mut d).split_at_mut(count);
            (e, nm, m, k, d) = (et, nt, mt, kt, dt);
            jobs.push((first, group, eg, ng, mg, kg, dg));
            first = end;
        }
    }
    // A dot product has at most `products` products (every column when dense), each passing
    // through at most `terms` roundings (summed in runs: `restrict::DOT_CHUNK`).
    let products = layer.w.row_len_max();
    let terms = crate::restrict::dot_rounding_terms(products);
    let nu = (terms + 3) as f64 * U;
    let gamma = nu / (1.0 - nu);
    let gain = layer.input_gain();
    let slope_rounding = if layer.input.is_some() { 2.0 * U } else { 0.0 };
    // Per-neuron bounds: the propagated errors and the rounding, both through |W|, then the
    // rounding of that product's own sums.
    let entry_scale = (1.0 + 2.0 * gamma) * (1.0 + 16.0 * U);
    let at = &rows.at;
    let starts = &starts;
    let moved: Vec<usize> = jobs
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
            |(h, z, eh, ez): &mut (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>),
             (first, group, eg, ng, mg, kg, dg)| {
                let v0 = starts[first];
                // Segments whose rows do not fit the new width get a new block (filled below,
                // swapped in once the whole group has read its old rows).
                let mut moved: Vec<Option<Vec<f64>>> = group
                    .iter()
                    .enumerate()
                    .map(|(i, seg)| {
                        (seg.stride < width || seg.stride > 2 * width)
                            .then(|| vec![0.0; (starts[first + i + 1] - starts[first + i]) * width])
                    })
                    .collect();
                let (mut hmax, mut hnorm) = ([0.0f64; BLOCK], [0.0f64; BLOCK]);
                for a in (0..eg.len()).step_by(BLOCK) {
                    let rows_here = (eg.len() - a).min(BLOCK);
                    // Sized for a full block once per thread (resizing to each block's rows
                    // would zero-fill them again whenever a short block came before).
                    if h.len() < BLOCK * n_in {
                        h.resize(BLOCK * n_in, 0.0);
                    }
                    if z.len() < BLOCK * n_out {
                        z.resize(BLOCK * n_out, 0.0);
                    }
                    let (h, z) = (&mut h[..rows_here * n_in], &mut z[..rows_here * n_out]);
                    if through_abs {
                        eh.resize(BLOCK * n_in, 0.0);
                        ez.resize(BLOCK * n_out, 0.0);
                    }
                    for r in 0..rows_here {
                        let v = v0 + a + r;
                        let (s, k) = at[v];
                        let seg = &group[s as usize - first];
                        let start = k as usize * seg.stride;
                        let old = &seg.data[start..start + width_in];
                        let hr = &mut h[r * n_in..(r + 1) * n_in];
                        hmax[r] = layer.activate(&old[..n_in], hr);
                        if norms.is_some() {
                            hnorm[r] = norm2_up(hr);
                        }
                        if through_abs {
                            let er = &mut eh[r * n_in..(r + 1) * n_in];
                            input_bounds(layer, old, n_in, entry_in, prev_err[v], hr, gamma, er);
                        }
                    }
                    // z (rows × n_out) = h (rows × n_in) · Wᵀ (n_in × n_out) + b
                    layer.product(rows_here, h, z);
                    if through_abs {
                        layer.abs_product(
                            rows_here,
                            &eh[..rows_here * n_in],
                            &mut ez[..rows_here * n_out],
                        );
                    }
                    for r in 0..rows_here {
                        let (i, v) = (a + r, v0 + a + r);
                        // The activation scales an input's error by at most its gain, and a
                        // slope's product rounds (relative u of |h|).
                        let e = gain * prev_err[v] + slope_rounding * hmax[r];
                        // Relative terms, then an absolute one for underflow: subnormal
                        // products and weights given exactly whose f64 is subnormal or zero
                        // (each off by ≤ 2^-1075·|h|), and a slope's product that underflows
                        // (off by 2^-1075 an input, which the row's weights carry).
                        let tiny = (products + 3) as f64 * f64::MIN_POSITIVE * (1.0 + hmax[r] + e)
                            + (1.0 + layer.row_l1_max) * f64::MIN_POSITIVE;
                        let bound = (layer.row_l1_max * e
                            + gamma * (layer.row_l1_max * hmax[r] + layer.bias_max))
                            * (1.0 + 16.0 * U)
                            + tiny;
                        let row = &z[r * n_out..(r + 1) * n_out];
                        mg[i] = row_max(row);
                        let (pos, neg) = kg[i * 2 * words..(i + 1) * 2 * words].split_at_mut(words);
                        let (s, k) = at[v];
                        let g = s as usize - first;
                        let dst = match &mut moved[g] {
                            // Its rank among the segment's vertices.
                            Some(data) => {
                                let j = v - starts[s as usize];
                                &mut data[j * width..(j + 1) * width]
                            }
                            None => {
                                let seg = &mut group[g];
                                let start = k as usize * seg.stride;
                                &mut seg.data[start..start + width]
                            }
                        };
                        dst[..n_out].copy_from_slice(row);
                        // Through 2-norms: ‖δ_h‖₂ ≤ g·N + 2u·‖h‖₂ (the activation), then
                        // ‖W·δ_h‖₂ ≤ ‖W‖₂·‖δ_h‖₂ and |W_k·δ_h| ≤ ‖W_k‖₂·‖δ_h‖₂; the rounding
                        // |r_k| ≤ γ(|W_k|·|h| + |b_k|) ≤ γ(‖W_k‖₂·‖h‖₂ + |b_k|), whose 2-norm
                        // is at most γ(‖W‖_F·‖h‖₂ + ‖b‖₂).
                        let through = norms.map(|norms| {
                            let h_err = gain * prev_norm[v] + slope_rounding * hnorm[r];
                            ThroughNorms {
                                norms,
                                h_err,
                                entry: (norms.row_max * h_err
                                    + gamma * (norms.row_max * hnorm[r] + layer.bias_max))
                                    * (1.0 + 16.0 * U)
                                    + tiny,
                                norm: (norms.spectral * h_err
                                    + gamma * (norms.frobenius * hnorm[r] + norms.bias))
                                    * (1.0 + 16.0 * U)
                                    + (n_out as f64).sqrt() * tiny,
                            }
                        });
                        if entry {
                            let bounds = &mut dst[n_out..];
                            let mut largest = 0.0f64;
                            match &through {
                                // Row k's norm times the input's (no product with |W|).
                                Some(t) => {
                                    for ((b, &w2), &bias) in
                                        bounds.iter_mut().zip(&t.norms.rows).zip(&layer.b)
                                    {
                                        *b = (w2 * t.h_err + gamma * (w2 * hnorm[r] + bias.abs()))
                                            * (1.0 + 16.0 * U)
                                            + tiny;
                                    }
                                }
                                // (The same underflow term as the single bound, for each neuron.)
                                None => {
                                    let props = &ez[r * n_out..(r + 1) * n_out];
                                    for ((b, &p), &bias) in
                                        bounds.iter_mut().zip(props).zip(&layer.b)
                                    {
                                        *b = (p + gamma * bias.abs()) * entry_scale + tiny;
                                    }
                                }
                            }
                            for b in bounds.iter() {
                                largest = largest.max(*b);
                            }
                            // (Never looser than the single bound, which also holds.)
                            eg[i] = largest.min(bound);
                            // (Without norms no later step reads a tight one: √n times the
                            // largest bound, without a pass over the row.)
                            ng[i] = match &through {
                                Some(t) => t.norm.min(norm2_up(bounds)),
                                None => norm_of_entry_bound(eg[i], n_out),
                            };
                            dg[i] = row_sign_masks_entry(row, bounds, pos, neg);
                        } else {
                            let e = through.as_ref().map_or(bound, |t| t.entry.min(bound));
                            let all = norm_of_entry_bound(e, n_out);
                            eg[i] = e;
                            ng[i] = through.as_ref().map_or(all, |t| t.norm.min(all));
                            dg[i] = row_sign_masks(row, e, pos, neg);
                        }
                    }
                }
                let mut renumbered = Vec::new();
                for (g, (seg, data)) in group.iter_mut().zip(moved).enumerate() {
                    if let Some(data) = data {
                        *seg = Segment {
                            data,
                            stride: width,
                        };
                        renumbered.push(first + g);
                    }
                }
                renumbered
            },
        )
        .flatten()
        .collect();
    // Moved segments hold their vertices in order.
    rows.n = width;
    for s in moved {
        for v in starts[s]..starts[s + 1] {
            rows.at[v].1 = (v - starts[s]) as u32;
        }
    }
    LayerValues {
        n: n_out,
        rows,
        entry,
        err,
        norm,
        row_max: maxes,
        masks,
        decided,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A store whose vertices are scattered over segments of unequal sizes (one empty, one
    /// longer than a product block) with rows no vertex uses, in a shuffled order within each.
    fn scattered_store(rng: &mut ChaCha8Rng, n: usize) -> (RowStore, Vec<Vec<f64>>) {
        let sizes = [5usize, BLOCK + 300, 0, 40];
        let mut slots = Vec::new(); // (segment, row) of every used row
        let mut store = RowStore {
            n,
            segments: Vec::new(),
            at: Vec::new(),
        };
        for &size in &sizes {
            let data: Vec<f64> = (0..size * n).map(|_| rng.random_range(-3.0..3.0)).collect();
            let s = store.add_segment(data);
            let mut mine: Vec<(u32, usize)> =
                (0..size).filter(|r| r % 7 != 3).map(|r| (s, r)).collect();
            // Shuffle (Fisher–Yates) so vertex order and row order differ within a segment.
            for i in (1..mine.len()).rev() {
                let j = rng.random_range(0..=i);
                mine.swap(i, j);
            }
            slots.extend(mine);
        }
        for &(s, r) in &slots {
            store.push_vertex(s, r);
        }
        let rows = (0..store.len()).map(|v| store.row(v).to_vec()).collect();
        (store, rows)
    }

    fn random_layer(rng: &mut ChaCha8Rng, n_in: usize, n_out: usize) -> FloatLayer {
        let w = (0..n_in * n_out)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let b = (0..n_out).map(|_| rng.random_range(-1.0..1.0)).collect();
        FloatLayer::new(n_in, n_out, w, b)
    }

    /// The layer step in place (and into wider blocks) gives every vertex the plain product of
    /// its own row, within its bound, with masks and maxima that match the new row; with one
    /// bound per vertex, and with bounds per neuron from the second step on.
    #[test]
    fn layer_step_in_place_matches_the_plain_product_per_vertex() {
        for per_neuron in [false, true] {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let (store, mut expected) = scattered_store(&mut rng, 3);
            let mut err = vec![1e-12; store.len()];
            let mut norm = vec![1e-11; store.len()];
            let mut values = LayerValues::from_rows(store, err.clone(), norm.clone());
            // Widen (3 → 5: new blocks), narrow (5 → 3: in place, stride 5), widen within the
            // stride (3 → 4: in place), narrow by more than half (4 → 1: new blocks).
            for (step, (n_in, n_out)) in [(3usize, 5usize), (5, 3), (3, 4), (4, 1)]
                .into_iter()
                .enumerate()
            {
                let layer = random_layer(&mut rng, n_in, n_out);
                let entry = per_neuron && step > 0;
                let mode = BoundMode {
                    per_neuron: entry,
                    norms: false,
                };
                values = next_layer_values(values.rows, (&err, &norm), &layer, values.entry, mode);
                assert_eq!((values.n, values.entry), (n_out, entry));
                for (v, row) in expected.iter_mut().enumerate() {
                    let plain: Vec<f64> = (0..n_out)
                        .map(|k| {
                            let w = layer.w.row(k).vals;
                            layer.b[k]
                                + w.iter()
                                    .zip(&*row)
                                    .map(|(w, x)| w * x.max(0.0))
                                    .sum::<f64>()
                        })
                        .collect();
                    let got = values.row(v);
                    assert_eq!(got.len(), values.stride());
                    let (got, bounds) = got.split_at(n_out);
                    for k in 0..n_out {
                        let e = if entry { bounds[k] } else { values.err[v] };
                        assert!(
                            (got[k] - plain[k]).abs() <= e,
                            "({n_in}→{n_out}) v {v} k {k}"
                        );
                        let (pos, neg) = values.masks(v);
                        let bit = |m: &[u64]| m[k / 64] >> (k % 64) & 1 == 1;
                        assert_eq!(bit(pos), got[k] > e);
                        assert_eq!(bit(neg), got[k] < -e);
                    }
                    assert_eq!(values.row_max[v], row_max(got));
                    *row = got.to_vec();
                }
                err = values.err.clone();
                norm = values.norm.clone();
            }
        }
    }

    /// A unit vector along W's top right singular vector (power iteration in f64).
    fn top_singular_direction(layer: &FloatLayer) -> Vec<f64> {
        let (n_in, n_out) = (layer.n_in, layer.n_out);
        let mut x: Vec<f64> = (0..n_in).map(|i| 1.0 + (i % 5) as f64 * 0.3).collect();
        for _ in 0..200 {
            let y: Vec<f64> = (0..n_out)
                .map(|k| layer.w.row(k).vals.iter().zip(&x).map(|(a, b)| a * b).sum())
                .collect();
            x = (0..n_in)
                .map(|i| (0..n_out).map(|k| layer.w.row(k).vals[i] * y[k]).sum())
                .collect();
            let n = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            x.iter_mut().for_each(|v| *v /= n);
        }
        x
    }

    /// Every way of bounding (one bound per vertex or per neuron, with or without 2-norms)
    /// holds against exact arithmetic when the inputs are anywhere within their bounds: at
    /// either end of each entry's (where a propagated entry error is largest), and along W's top
    /// singular vector with the whole 2-norm (where the propagated 2-norm is largest); inputs
    /// proven active, proven inactive and undecided, ReLU and leaky inputs. Each new entry is
    /// within its bound and each new row's error vector within its 2-norm bound.
    #[test]
    fn bounds_cover_exact_arithmetic() {
        use num_rational::BigRational;
        use num_traits::Signed;
        let exact = |x: f64| BigRational::from_float(x).expect("finite");
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let modes = [(true, false), (true, true), (false, true), (false, false)];
        let mut norm_tight = 0;
        for case in 0..48 {
            let (per_neuron, norms) = modes[case % 4];
            // Every fourth case past one run of a dot product (`restrict::DOT_CHUNK`).
            let wide = if case % 8 >= 4 { 200 } else { 40 };
            let (n_in, n_out) = (rng.random_range(1..wide), rng.random_range(1..40usize));
            let mut layer = random_layer(&mut rng, n_in, n_out);
            if case % 3 == 1 {
                let slope = (0..n_in).map(|_| rng.random_range(-0.5..1.5)).collect();
                layer.input = Some(crate::restrict::InputActivation::new(slope));
            }
            let top = top_singular_direction(&layer);
            let count = 6;
            let mut data = Vec::new();
            for v in 0..count {
                let z: Vec<f64> = (0..n_in).map(|_| rng.random_range(-2.0..2.0)).collect();
                // Bounds from tiny to larger than some values (undecided signs); the last
                // vertex's along the top singular vector.
                let scale = 10f64.powf(rng.random_range(-14.0..-1.0));
                let e: Vec<f64> = (0..n_in)
                    .map(|i| {
                        if v == count - 1 {
                            top[i].abs() * scale
                        } else {
                            10f64.powf(rng.random_range(-14.0..0.0))
                        }
                    })
                    .collect();
                data.extend_from_slice(&z);
                data.extend_from_slice(&e);
            }
            let store = RowStore::single(2 * n_in, data.clone(), count);
            let bounds_of = |v: usize| &data[v * 2 * n_in + n_in..(v + 1) * 2 * n_in];
            let scalar: Vec<f64> = (0..count)
                .map(|v| bounds_of(v).iter().fold(0.0, |m: f64, &x| m.max(x)))
                .collect();
            // (Each input error vector below has its entries within e, so ‖e‖₂ bounds it.)
            let norm_in: Vec<f64> = (0..count).map(|v| norm2_up(bounds_of(v))).collect();
            let mode = BoundMode { per_neuron, norms };
            let values = next_layer_values(store, (&scalar, &norm_in), &layer, true, mode);
            assert_eq!(values.entry, per_neuron);
            for v in 0..count {
                let (z, e) = data[v * 2 * n_in..(v + 1) * 2 * n_in].split_at(n_in);
                for trial in 0..4 {
                    // True inputs: each at one end of its interval (the top singular vector's
                    // vertex: all along it, or all against it).
                    let flip = rng.random_bool(0.5);
                    let h: Vec<BigRational> = (0..n_in)
                        .map(|i| {
                            let up = if v == count - 1 {
                                (top[i] >= 0.0) != flip
                            } else {
                                rng.random_bool(0.5)
                            };
                            let t = exact(z[i]) + if up { exact(e[i]) } else { -exact(e[i]) };
                            let slope = layer.input.as_ref().map_or(0.0, |a| a.slope[i]);
                            if t > BigRational::from_integer(0.into()) {
                                t
                            } else {
                                t * exact(slope)
                            }
                        })
                        .collect();
                    let row = values.row(v);
                    let mut off_sq = BigRational::from_integer(0.into());
                    for k in 0..n_out {
                        let mut truth = exact(layer.b[k]);
                        for (w, x) in layer.w.row(k).vals.iter().zip(&h) {
                            truth += exact(*w) * x;
                        }
                        let off = (exact(row[k]) - truth).abs();
                        let bound = if per_neuron {
                            row[n_out + k]
                        } else {
                            values.err[v]
                        };
                        assert!(
                            off <= exact(bound),
                            "case {case} v {v} k {k} trial {trial}: {} {bound} off {}",
                            row[k],
                            num_traits::ToPrimitive::to_f64(&off).unwrap()
                        );
                        off_sq += &off * &off;
                    }
                    let norm = exact(values.norm[v]);
                    assert!(off_sq <= &norm * &norm, "case {case} v {v}: 2-norm");
                    if norms
                        && v == count - 1
                        && off_sq * BigRational::from_integer(64.into()) > &norm * &norm
                    {
                        norm_tight += 1;
                    }
                }
            }
        }
        // Along the top singular vector the 2-norm bound is not loose by orders of magnitude.
        assert!(
            norm_tight > 10,
            "only {norm_tight} cases within 8× of the 2-norm bound"
        );
    }

    #[test]
    fn sign_masks_match_the_plain_compares() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for n in [0usize, 1, 3, 4, 5, 9, 63, 64, 65, 67, 130, 256] {
            for e in [0.0, 0.25, 1.0] {
                // Values on both sides of ±e, exactly ±e, zeros, NaNs and infinities.
                let row: Vec<f64> = (0..n)
                    .map(|_| match rng.random_range(0..8) {
                        0 => e,
                        1 => -e,
                        2 => f64::NAN,
                        3 => 0.0,
                        4 => f64::INFINITY,
                        _ => rng.random_range(-2.0..2.0),
                    })
                    .collect();
                let words = pattern::words(n);
                let (mut pos, mut neg) = (vec![0u64; words], vec![0u64; words]);
                let decided = row_sign_masks(&row, e, &mut pos, &mut neg);
                let (mut pos2, mut neg2) = (vec![0u64; words], vec![0u64; words]);
                let decided2 = row_sign_masks_portable(&row, e, &mut pos2, &mut neg2);
                for (j, &z) in row.iter().enumerate() {
                    assert_eq!(pattern::get(&pos, j), z > e, "pos, n {n}, e {e}, z {z}");
                    assert_eq!(pattern::get(&neg, j), z < -e, "neg, n {n}, e {e}, z {z}");
                }
                let all = row.iter().all(|&z| z > e || z < -e);
                assert_eq!(decided, all, "decided, n {n}, e {e}");
                assert_eq!(
                    (pos2, neg2, decided2),
                    (pos, neg, decided),
                    "portable, n {n}"
                );
            }
        }
    }

    #[test]
    fn lane_folds_match_the_plain_folds() {
        for n in [0usize, 1, 3, 4, 5, 9, 64, 67] {
            let mut row: Vec<f64> = (0..n).map(|k| ((k * 7919) % 13) as f64 - 6.5).collect();
            if n > 2 {
                row[n / 2] = f64::NAN;
            }
            if n > 4 {
                row[1] = -0.0;
                row[3] = f64::NEG_INFINITY;
            }
            // The dispatched versions (AVX where present) and the portable ones agree bit for bit.
            let (mut a, mut b) = (vec![1.0; n], vec![2.0; n]);
            assert_eq!(
                relu_into(&row, &mut a).to_bits(),
                relu_into_portable(&row, &mut b).to_bits()
            );
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "relu, n {n}");
            assert_eq!(row_max(&row).to_bits(), row_max_portable(&row).to_bits());
            let plain = row.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            assert_eq!(row_max(&row), plain, "row_max, n {n}");
            let mut dst = vec![1.0; n];
            let max = relu_into(&row, &mut dst);
            let expected: Vec<f64> = row.iter().map(|x| x.max(0.0)).collect();
            assert_eq!(dst, expected, "relu, n {n}");
            assert_eq!(
                max,
                expected.iter().fold(0.0f64, |m, x| m.max(*x)),
                "max, n {n}"
            );
        }
    }
}
