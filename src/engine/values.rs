//! The f64 state of every vertex at the layer being processed: one row of pre-activations per
//! vertex with one error bound, the sign masks read from them, and the layer step
//! `z' = W·relu(z) + b` that turns one layer's rows into the next one's.
//!
//! Rows stay in the block that made them ([`RowStore`]): the corners' block, then one block per
//! run of faces (its new vertices). The layer step overwrites each row in place, so a layer
//! touches fresh memory only for the rows of the vertices it makes. On the virtual machines this
//! project runs on, a first touch costs 0.4 ms per MiB (4 KiB pages) to 2 ms per MiB (huge pages
//! the host has to back): gathering every vertex's new row into one array was a third of a cold
//! run on the 256-wide network.

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
    /// Vertex v's row is row `at[v].1` of segment `at[v].0`.
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

    /// The next vertex's row is row `row` of segment `segment`.
    pub fn push_vertex(&mut self, segment: u32, row: usize) {
        let stride = self.segments[segment as usize].stride;
        assert!(
            (row + 1) * stride <= self.segments[segment as usize].data.len(),
            "a vertex's row lies inside its segment"
        );
        self.at.push((segment, row as u32));
    }

    /// The vertices of each segment, segment by segment, in vertex order within one: `(order,
    /// starts)` with segment s's vertices at `order[starts[s]..starts[s + 1]]`.
    fn members(&self) -> (Vec<u32>, Vec<usize>) {
        let mut starts = vec![0usize; self.segments.len() + 1];
        for &(s, _) in &self.at {
            starts[s as usize + 1] += 1;
        }
        for s in 0..self.segments.len() {
            starts[s + 1] += starts[s];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; self.at.len()];
        for (v, &(s, _)) in self.at.iter().enumerate() {
            order[next[s as usize]] = v as u32;
            next[s as usize] += 1;
        }
        (order, starts)
    }
}

/// The f64 state of every vertex at the layer being processed.
pub struct LayerValues {
    /// Neurons in the layer.
    pub n: usize,
    /// Each vertex's n pre-activations.
    pub rows: RowStore,
    /// Per-vertex error bound.
    pub err: Vec<f64>,
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
    pub fn from_rows(rows: RowStore, err: Vec<f64>) -> Self {
        assert_eq!(rows.len(), err.len(), "one bound per row");
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
            err,
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

    pub(crate) fn masks(&self, v: usize) -> (&[u64], &[u64]) {
        let words = pattern::words(self.n);
        self.masks[v * 2 * words..(v + 1) * 2 * words].split_at(words)
    }
}

/// max_k |x_k|.
pub fn row_max(row: &[f64]) -> f64 {
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

/// `dst = relu(src)` (NaN to 0, as `f64::max(x, 0.0)`), returning max(dst).
fn relu_into(src: &[f64], dst: &mut [f64]) -> f64 {
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

/// ORs the neurons of `row` with float sign proven positive (`z > e`) into `pos` and proven
/// negative into `neg`; returns whether all were proven. Four at a time (vector compares).
pub(crate) fn row_sign_masks(row: &[f64], e: f64, pos: &mut [u64], neg: &mut [u64]) -> bool {
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
        pos[w] |= pw;
        neg[w] |= nw;
        let full = if chunk.len() == 64 {
            u64::MAX
        } else {
            (1u64 << chunk.len()) - 1
        };
        decided &= (pw | nw) == full;
    }
    decided
}

/// Rows per matrix product: big enough that packing W costs little per row, small enough that
/// a block's buffers stay in cache and both cores get many blocks.
const BLOCK: usize = 1024;

/// What a group of segments computes for each of its vertices, in member order.
struct GroupOut {
    /// Segments given a new, wider block (their rows now in member order).
    widened: Vec<usize>,
    err: Vec<f64>,
    row_max: Vec<f64>,
    masks: Vec<u64>,
    decided: Vec<bool>,
}

/// One layer step of the float state: `z' = W·relu(z) + b` for every vertex, with the bound
/// `e' = R·e + γ_{n+3}·(R·max|h| + max|b|)` (R = max row l1 norm; the +3 covers rounding of
/// weights that are not f64 and of the bias).
///
/// Each new row overwrites its vertex's old one where it lies (a segment whose rows are too
/// narrow for the new width gets a new block of its vertices' rows). Rows no vertex uses (a
/// crossing two runs both made, kept once by the merge) are skipped.
pub fn next_layer_values(mut rows: RowStore, prev_err: &[f64], layer: &FloatLayer) -> LayerValues {
    let v_count = rows.len();
    let (n_in, n_out) = (layer.n_in, layer.n_out);
    assert_eq!(rows.width(), n_in);
    assert_eq!(prev_err.len(), v_count);
    let words = pattern::words(n_out);
    let (order, starts) = rows.members();
    // Groups of whole segments with about BLOCK vertices each, cut from the segment list in
    // order (so the groups' outputs, concatenated, follow `order`).
    let mut jobs = Vec::new();
    {
        let mut rest: &mut [Segment] = &mut rows.segments;
        let mut first = 0usize;
        while !rest.is_empty() {
            let mut end = first;
            while end < starts.len() - 1 && (end == first || starts[end] - starts[first] < BLOCK) {
                end += 1;
            }
            let (group, tail) = std::mem::take(&mut rest).split_at_mut(end - first);
            rest = tail;
            jobs.push((first, group));
            first = end;
        }
    }
    let nu = (n_in + 3) as f64 * U;
    let gamma = nu / (1.0 - nu);
    let at = &rows.at;
    let outs: Vec<GroupOut> = jobs
        .into_par_iter()
        .map(|(first, group)| {
            let members = &order[starts[first]..starts[first + group.len()]];
            let count = members.len();
            let mut out = GroupOut {
                widened: Vec::new(),
                err: vec![0.0; count],
                row_max: vec![0.0; count],
                masks: vec![0u64; count * 2 * words],
                decided: vec![false; count],
            };
            // Segments too narrow for the new rows get a new block (filled below, swapped in
            // once the whole group has read its old rows).
            let mut wider: Vec<Option<Vec<f64>>> = group
                .iter()
                .enumerate()
                .map(|(i, seg)| {
                    (seg.stride < n_out)
                        .then(|| vec![0.0; (starts[first + i + 1] - starts[first + i]) * n_out])
                })
                .collect();
            let block = count.min(BLOCK);
            let mut h = vec![0.0f64; block * n_in];
            let mut z = vec![0.0f64; block * n_out];
            let mut hmax = vec![0.0f64; block];
            for (b, chunk) in members.chunks(BLOCK).enumerate() {
                let rows_here = chunk.len();
                for (r, &v) in chunk.iter().enumerate() {
                    let (s, k) = at[v as usize];
                    let seg = &group[s as usize - first];
                    let start = k as usize * seg.stride;
                    hmax[r] = relu_into(
                        &seg.data[start..start + n_in],
                        &mut h[r * n_in..(r + 1) * n_in],
                    );
                    z[r * n_out..(r + 1) * n_out].copy_from_slice(&layer.b);
                }
                // z (rows × n_out) += h (rows × n_in) · Wᵀ (n_in × n_out)
                // SAFETY: h holds rows_here × n_in and z rows_here × n_out entries, row-major
                // with the strides given; W is n_out × n_in row-major (read as its transpose).
                unsafe {
                    matrixmultiply::dgemm(
                        rows_here,
                        n_in,
                        n_out,
                        1.0,
                        h.as_ptr(),
                        n_in as isize,
                        1,
                        layer.w.as_ptr(),
                        1,
                        n_in as isize,
                        1.0,
                        z.as_mut_ptr(),
                        n_out as isize,
                        1,
                    );
                }
                for (r, &v) in chunk.iter().enumerate() {
                    let i = b * BLOCK + r;
                    let e = prev_err[v as usize];
                    // Relative terms, then an absolute one for underflow: subnormal products and
                    // weights given exactly whose f64 is subnormal or zero (each off by
                    // ≤ 2^-1075·|h|).
                    let err = (layer.row_l1_max * e
                        + gamma * (layer.row_l1_max * hmax[r] + layer.bias_max))
                        * (1.0 + 16.0 * U)
                        + (n_in + 3) as f64 * f64::MIN_POSITIVE * (1.0 + hmax[r] + e);
                    let row = &z[r * n_out..(r + 1) * n_out];
                    out.err[i] = err;
                    out.row_max[i] = row_max(row);
                    let (pos, neg) =
                        out.masks[i * 2 * words..(i + 1) * 2 * words].split_at_mut(words);
                    out.decided[i] = row_sign_masks(row, err, pos, neg);
                    let (s, k) = at[v as usize];
                    let g = s as usize - first;
                    match &mut wider[g] {
                        Some(data) => {
                            // Its index among the segment's vertices.
                            let j = i + starts[first] - starts[s as usize];
                            data[j * n_out..(j + 1) * n_out].copy_from_slice(row);
                        }
                        None => {
                            let seg = &mut group[g];
                            let start = k as usize * seg.stride;
                            seg.data[start..start + n_out].copy_from_slice(row);
                        }
                    }
                }
            }
            for (g, (seg, data)) in group.iter_mut().zip(wider).enumerate() {
                if let Some(data) = data {
                    *seg = Segment {
                        data,
                        stride: n_out,
                    };
                    out.widened.push(first + g);
                }
            }
            out
        })
        .collect();
    // Scatter the groups' results to the vertices (and renumber the rows of widened segments,
    // which now hold their vertices in member order).
    let mut err = vec![0.0f64; v_count];
    let mut maxes = vec![0.0f64; v_count];
    let mut masks = vec![0u64; v_count * 2 * words];
    let mut decided = vec![false; v_count];
    let mut i = 0usize;
    for out in &outs {
        for g in 0..out.err.len() {
            let v = order[i] as usize;
            err[v] = out.err[g];
            maxes[v] = out.row_max[g];
            decided[v] = out.decided[g];
            masks[v * 2 * words..(v + 1) * 2 * words]
                .copy_from_slice(&out.masks[g * 2 * words..(g + 1) * 2 * words]);
            i += 1;
        }
    }
    rows.n = n_out;
    for &s in outs.iter().flat_map(|o| &o.widened) {
        for (j, &v) in order[starts[s]..starts[s + 1]].iter().enumerate() {
            rows.at[v as usize].1 = j as u32;
        }
    }
    LayerValues {
        n: n_out,
        rows,
        err,
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
    /// longer than a product block) with rows no vertex uses, in a shuffled vertex order.
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
            slots.extend((0..size).filter(|r| r % 7 != 3).map(|r| (s, r)));
        }
        // Shuffle (Fisher–Yates) so vertex order and storage order differ.
        for i in (1..slots.len()).rev() {
            let j = rng.random_range(0..=i);
            slots.swap(i, j);
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
    /// its own row, within its bound, with masks and maxima that match the new row.
    #[test]
    fn layer_step_in_place_matches_the_plain_product_per_vertex() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (store, mut expected) = scattered_store(&mut rng, 3);
        let mut err = vec![1e-12; store.len()];
        let mut values = LayerValues::from_rows(store, err.clone());
        // Widen (3 → 5: new blocks), narrow (5 → 2: in place), widen within the stride (2 → 4).
        for (n_in, n_out) in [(3usize, 5usize), (5, 2), (2, 4)] {
            let layer = random_layer(&mut rng, n_in, n_out);
            values = next_layer_values(values.rows, &err, &layer);
            assert_eq!(values.n, n_out);
            for (v, row) in expected.iter_mut().enumerate() {
                let plain: Vec<f64> = (0..n_out)
                    .map(|k| {
                        let w = &layer.w[k * n_in..(k + 1) * n_in];
                        layer.b[k]
                            + w.iter()
                                .zip(&*row)
                                .map(|(w, x)| w * x.max(0.0))
                                .sum::<f64>()
                    })
                    .collect();
                let got = values.row(v);
                let e = values.err[v];
                for k in 0..n_out {
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
        }
    }

    #[test]
    fn lane_folds_match_the_plain_folds() {
        for n in [0usize, 1, 3, 4, 5, 9, 64, 67] {
            let mut row: Vec<f64> = (0..n).map(|k| ((k * 7919) % 13) as f64 - 6.5).collect();
            if n > 2 {
                row[n / 2] = f64::NAN;
            }
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
