//! The region adjacency graph and linear regions (docs/guide.md#regions).
//!
//! Two regions are adjacent when their closures share a (d−1)-dimensional piece inside the
//! domain: in the planar mesh, when they share at least one mesh edge (a point contact shares
//! none); in 1-D, when they share an endpoint. An edge is labelled by the neurons that switch
//! across it (the XOR of the two patterns) and, for d = 2, by the exact squared length of the
//! shared segment.
//!
//! Linear regions: the output map of each region is affine; two adjacent regions have identical
//! maps iff the output's coefficient on the unit that switches between them is zero (see
//! `float_verdicts`). That coefficient is computed in f64 (a masked backward pass from the
//! output, batched as matrix products, only as deep as the switching layer) with a proven error
//! bound; a pair is "different" when it exceeds the bound, and otherwise decided exactly.

use crate::exact::number::format_rational;
use crate::exact::{ExactPoint, LineEq};
use crate::matrix::Matrix;
use crate::partition::Partition;
use crate::pattern;
use crate::restrict::{FloatLayer, Restricted};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Zero;
use petgraph::graph::UnGraph;
use petgraph::unionfind::UnionFind;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One pair of adjacent regions and the mesh edges (vertex pairs) they share.
#[derive(Debug, Clone)]
pub struct Adjacency {
    pub a: u32,
    pub b: u32,
    pub mesh_edges: Vec<(u32, u32)>,
}

/// All adjacent pairs, sorted by (a, b) with a < b.
pub fn adjacent_pairs(p: &Partition) -> Vec<Adjacency> {
    let mut pairs: BTreeMap<(u32, u32), Vec<(u32, u32)>> = BTreeMap::new();
    if p.dim == 1 {
        let mut at: HashMap<u32, Vec<u32>> = HashMap::new();
        for (r, region) in p.regions.iter().enumerate() {
            for &v in region.verts {
                at.entry(v).or_default().push(r as u32);
            }
        }
        for (v, rs) in at {
            if rs.len() == 2 {
                pairs
                    .entry((rs[0].min(rs[1]), rs[0].max(rs[1])))
                    .or_default()
                    .push((v, v));
            }
        }
    } else {
        let mut first: HashMap<(u32, u32), u32> = HashMap::new();
        for (r, region) in p.regions.iter().enumerate() {
            let m = region.verts.len();
            for i in 0..m {
                let (u, v) = (region.verts[i], region.verts[(i + 1) % m]);
                let key = (u.min(v), u.max(v));
                match first.remove(&key) {
                    Some(other) => pairs
                        .entry((other.min(r as u32), other.max(r as u32)))
                        .or_default()
                        .push(key),
                    None => {
                        first.insert(key, r as u32);
                    }
                }
            }
        }
    }
    pairs
        .into_iter()
        .map(|((a, b), mut mesh_edges)| {
            mesh_edges.sort_unstable();
            Adjacency { a, b, mesh_edges }
        })
        .collect()
}

/// The adjacent pairs of [`adjacent_pairs`] without their mesh edges (a < b, sorted): each
/// mesh edge keyed by its ends, sorted in parallel; the two regions of a key are a pair.
pub fn adjacent_region_pairs(p: &Partition) -> Vec<(u32, u32)> {
    if p.dim != 2 {
        return adjacent_pairs(p).iter().map(|e| (e.a, e.b)).collect();
    }
    let mut keys: Vec<(u64, u32)> = (0..p.regions.len())
        .into_par_iter()
        .flat_map_iter(|r| {
            let verts = p.regions.get(r).verts;
            let m = verts.len();
            (0..m).map(move |i| {
                let (u, v) = (verts[i], verts[(i + 1) % m]);
                (((u.min(v) as u64) << 32) | u.max(v) as u64, r as u32)
            })
        })
        .collect();
    keys.par_sort_unstable();
    let mut pairs: Vec<(u32, u32)> = keys
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| (w[0].1.min(w[1].1), w[0].1.max(w[1].1)))
        .collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

/// The two ends of the shared piece: the vertices of odd degree in its collinear edge path.
pub fn piece_ends(adj: &Adjacency) -> (u32, u32) {
    let mut degree: BTreeMap<u32, usize> = BTreeMap::new();
    for &(u, v) in &adj.mesh_edges {
        *degree.entry(u).or_default() += 1;
        *degree.entry(v).or_default() += 1;
    }
    let ends: Vec<u32> = degree
        .into_iter()
        .filter(|(_, d)| d % 2 == 1)
        .map(|(v, _)| v)
        .collect();
    match ends.as_slice() {
        [a, b] => (*a, *b),
        _ => (adj.mesh_edges[0].0, adj.mesh_edges[0].1),
    }
}

/// Global indices of the neurons whose bits differ between two patterns.
pub fn switching_neurons(pa: &[u64], pb: &[u64]) -> Vec<usize> {
    let mut out = Vec::new();
    for (w, (x, y)) in pa.iter().zip(pb).enumerate() {
        let mut diff = x ^ y;
        while diff != 0 {
            let bit = diff.trailing_zeros() as usize;
            out.push(w * 64 + bit);
            diff &= diff - 1;
        }
    }
    out
}

/// The float verdict on each adjacent pair: `Some(false)` when the two output maps provably
/// differ, `None` when floats cannot tell (the caller decides exactly).
///
/// Across an edge where one unit j of hidden layer l switches, the patterns agree elsewhere, so
/// the two maps differ by `c · (1 − s_j) · z_j(t)`: `z_j` is the unit's pre-activation (not
/// constant: it changes sign across the edge), `s_j` its inactive slope and `c = ∂out/∂h_j`, the
/// output's coefficient on the unit's output, which depends only on the layers after l (equal
/// on both sides). So the maps differ iff `c ≠ 0` (and `s_j ≠ 1`). `c` is a column of
/// `W_out D_L W_L ⋯ D_(l+1) W_(l+1)`: free for the last layer, one entry of a product per
/// earlier layer, computed backwards in batches of regions (each region only as deep as its
/// edges need), with a proven bound per depth (γ-factor × max|W_out| × the column-sum norms
/// of the layers crossed × the activations' gains, plus an underflow term).
///
/// With several outputs, one output's coefficient alone first (the one with the largest row of
/// weights): a non-zero coefficient of one output already makes the maps differ, and the
/// backward vectors have one row instead of one per output. The other outputs only for the
/// pairs it leaves undecided.
fn float_verdicts(patterns: &[&[u64]], net: &Restricted, adj: &[(u32, u32)]) -> Vec<Option<bool>> {
    let out = &net.output_float;
    // Each hidden layer's columns, made once for all the passes below.
    let columns: Vec<std::sync::OnceLock<Columns>> = net
        .float
        .iter()
        .map(|_| std::sync::OnceLock::new())
        .collect();
    // Dense layers' made on both cores up front when there are pairs to decide (the passes
    // would make them one at a time, between their parallel parts); sparse ones when needed.
    // Layer 0 is never crossed backwards.
    if !adj.is_empty() {
        columns.par_iter().enumerate().skip(1).for_each(|(l, c)| {
            if net.float[l].w.is_dense() {
                c.get_or_init(|| Columns::of(&net.float[l]));
            }
        });
    }
    let all: Vec<usize> = (0..out.n_out).collect();
    if out.n_out <= 1 {
        return verdicts_on_outputs(patterns, net, adj, &all, None, &columns);
    }
    let row_l1 = |o: usize| out.w.row(o).vals.iter().map(|x| x.abs()).sum::<f64>();
    let first = (0..out.n_out)
        .max_by(|&a, &b| row_l1(a).total_cmp(&row_l1(b)))
        .expect("an output");
    let mut verdicts = verdicts_on_outputs(patterns, net, adj, &[first], None, &columns);
    // The pairs left: the output with the next largest row alone (it decides nearly all of
    // them, at a tenth of the work of every output), then every output.
    let second = (0..out.n_out)
        .filter(|&o| o != first)
        .max_by(|&a, &b| row_l1(a).total_cmp(&row_l1(b)))
        .expect("a second output");
    for outputs in [&[second][..], &all] {
        let pending: Vec<bool> = verdicts.iter().map(Option::is_none).collect();
        if !pending.iter().any(|&p| p) {
            break;
        }
        let rest = verdicts_on_outputs(patterns, net, adj, outputs, Some(&pending), &columns);
        for (v, r) in verdicts.iter_mut().zip(rest) {
            if v.is_none() {
                *v = r;
            }
        }
    }
    verdicts
}

/// [`float_verdicts`] from the outputs `outputs` only, for the pairs `pending` marks (all
/// when `None`).
fn verdicts_on_outputs(
    patterns: &[&[u64]],
    net: &Restricted,
    adj: &[(u32, u32)],
    outputs: &[usize],
    pending: Option<&[bool]>,
    columns_of: &[std::sync::OnceLock<Columns>],
) -> Vec<Option<bool>> {
    let layers = net.float.len();
    let out = &net.output_float;
    let n_out = outputs.len();
    if layers == 0 || !net.floats_faithful {
        return vec![None; adj.len()];
    }
    // The switching unit of each edge (layer, index), when exactly one unit switches.
    let switch: Vec<Option<(usize, usize)>> = adj
        .par_iter()
        .map(|&(a, b)| {
            let (pa, pb) = (patterns[a as usize], patterns[b as usize]);
            let mut single = None;
            for (w, (x, y)) in pa.iter().zip(pb).enumerate() {
                let diff = x ^ y;
                if diff == 0 {
                    continue;
                }
                if single.is_some() || diff.count_ones() != 1 {
                    return None;
                }
                single = Some(w * 64 + diff.trailing_zeros() as usize);
            }
            let g = single?;
            let l = net.offsets.iter().rposition(|&o| o <= g).expect("a layer");
            Some((l, g - net.offsets[l]))
        })
        .collect();
    // The layer consuming hidden layer l's outputs, and the slope of unit j there.
    let consumer = |l: usize| {
        if l + 1 == layers {
            out
        } else {
            &net.float[l + 1]
        }
    };
    let slope = |l: usize, j: usize| consumer(l).input.as_ref().map_or(0.0, |a| a.slope[j]);
    // Bounds: u^(l) = ∂out/∂h_l crosses the masks and weights of layers l + 1 ..= L.
    let nmax = net.widths.iter().copied().max().unwrap_or(1).max(net.d);
    let nu = (nmax + 3) as f64 * f64::EPSILON / 2.0;
    let factor = 2.0 * (layers + 2) as f64 * (nu / (1.0 - nu)) * (1.0 + 1e-10);
    let col_sum_max = |w: &Matrix<f64>| {
        let mut sums = vec![0.0f64; w.n_in];
        for i in 0..w.n_out {
            for (k, x) in w.row(i).iter() {
                sums[k] += x.abs();
            }
        }
        sums.into_iter().fold(0.0f64, f64::max) * (1.0 + 1e-10)
    };
    let out_max = out.w.vals.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mut bound = vec![0.0f64; layers];
    let (mut chain, mut amp) = (out_max * (1.0 + 1e-10), out_max.max(1.0));
    for l in (0..layers).rev() {
        let absolute = ((layers + 2) * (nmax + 2)) as f64 * f64::MIN_POSITIVE * amp * 2.0;
        bound[l] = factor * chain + absolute;
        if l > 0 {
            let gain = consumer(l).input_gain();
            let cs = col_sum_max(&net.float[l].w);
            chain *= gain * cs;
            amp *= gain * cs.max(1.0);
        }
    }
    // Edges by region (the first of the pair), and how deep each region must go (pass-through
    // units never get a float verdict: no depth for them).
    let mut edges_of: Vec<Vec<u32>> = vec![Vec::new(); patterns.len()];
    let mut need = vec![usize::MAX; patterns.len()];
    for (k, (&(a, _), s)) in adj.iter().zip(&switch).enumerate() {
        if pending.is_some_and(|p| !p[k]) {
            continue;
        }
        if let Some((l, j)) = *s {
            if slope(l, j) != 1.0 {
                edges_of[a as usize].push(k as u32);
                need[a as usize] = need[a as usize].min(l);
            }
        }
    }
    let mut verdicts = vec![None; adj.len()];
    let (switch, bound, edges_of, need) = (&switch, &bound, &edges_of, &need);
    // The verdicts on the edges that switch a unit of layer l: `prepare` fills a region's
    // scratch vector, `coef(scratch, j, o)` is then output o's coefficient on unit j.
    type Prepare<'a> = &'a (dyn Fn(usize, &mut Vec<f64>) + Sync);
    type Coef<'a> = &'a (dyn Fn(&[f64], usize, usize) -> f64 + Sync);
    let answer = |l: usize, prepare: Prepare, coef: Coef, verdicts: &mut Vec<Option<bool>>| {
        let found: Vec<u32> = (0..patterns.len())
            .into_par_iter()
            .filter(|&r| need[r] <= l)
            .map_init(Vec::new, |scratch, r| {
                let mut edges: Vec<u32> = edges_of[r]
                    .iter()
                    .copied()
                    .filter(|&k| matches!(switch[k as usize], Some((el, j)) if el == l && slope(l, j) != 1.0))
                    .collect();
                if !edges.is_empty() {
                    prepare(r, scratch);
                    edges.retain(|&k| {
                        let (_, j) = switch[k as usize].expect("a single switch");
                        (0..n_out).any(|o| coef(scratch, j, o).abs() > bound[l])
                    });
                }
                edges
            })
            .flatten_iter()
            .collect();
        for k in found {
            verdicts[k as usize] = Some(false);
        }
    };
    // Last layer: c = W_out[o][j], for the outputs asked.
    let w_out: Vec<f64> = {
        let mut dense = vec![0.0f64; n_out * out.n_in];
        for (row, &o) in outputs.iter().enumerate() {
            for (j, w) in out.w.row(o).iter() {
                dense[row * out.n_in + j] = *w;
            }
        }
        dense
    };
    answer(
        layers - 1,
        &|_, _| {},
        &|_, j, o| w_out[o * out.n_in + j],
        &mut verdicts,
    );
    // Earlier layers: u^(l) = ∂out/∂h_l depends only on the patterns of layers l + 1 ..= L, so
    // it is kept once per distinct such suffix (a group). An edge of layer l − 1 needs one entry
    // of u^(l−1) = (u^(l) ⊙ D_l) · W_l, a dot product with a column of W_l; whole vectors
    // u^(l−1) (a matrix product per group) only for regions with edges deeper still.
    let deepest = need.iter().copied().min().unwrap_or(usize::MAX);
    let (mut u, mut width) = (w_out.clone(), out.n_in);
    let mut group: Vec<u32> = vec![0; patterns.len()];
    let mut l = layers - 1;
    while deepest != usize::MAX && l > deepest {
        let (lo, hi) = (net.offsets[l], net.offsets[l] + net.widths[l]);
        let layer = &net.float[l];
        let mask = |r: usize, k: usize| {
            if pattern::get(patterns[r], lo + k) {
                1.0
            } else {
                slope(l, k)
            }
        };
        let (transposed, columns) = match columns_of[l].get_or_init(|| Columns::of(layer)) {
            Columns::Dense(t) => (Some(t), &[][..]),
            Columns::Sparse(c) => (None, &c[..]),
        };
        let (u_ref, group_ref) = (&u, &group);
        answer(
            l - 1,
            &|r, scratch| {
                // u^(l) ⊙ D_l for region r's group, one row per output.
                let g = group_ref[r] as usize;
                scratch.clear();
                scratch.extend_from_slice(&u_ref[g * n_out * width..(g + 1) * n_out * width]);
                let pat = patterns[r];
                for k in 0..width {
                    if !pattern::get(pat, lo + k) {
                        let s = slope(l, k);
                        for o in 0..n_out {
                            scratch[o * width + k] *= s;
                        }
                    }
                }
            },
            &|masked, j, o| {
                let row = &masked[o * width..(o + 1) * width];
                match transposed {
                    Some(t) => row
                        .iter()
                        .zip(&t[j * width..(j + 1) * width])
                        .map(|(a, b)| a * b)
                        .sum(),
                    None => columns[j].iter().map(|&(k, w)| row[k] * w).sum(),
                }
            },
            &mut verdicts,
        );
        if l - 1 == deepest {
            break;
        }
        // Groups of level l − 1 (regions with edges below it): (group at level l, layer l's bits).
        let mut ids: HashMap<(u32, Vec<u64>), u32> = HashMap::new();
        let mut reps: Vec<(u32, usize)> = Vec::new();
        let mut next_group = vec![u32::MAX; patterns.len()];
        for r in 0..patterns.len() {
            if need[r] != usize::MAX && need[r] + 2 <= l {
                let key = (group[r], pattern::range(patterns[r], lo, hi));
                let n = ids.len() as u32;
                next_group[r] = *ids.entry(key).or_insert_with(|| {
                    reps.push((group[r], r));
                    n
                });
            }
        }
        let n_in = layer.n_in;
        let mut next = vec![0.0f64; reps.len() * n_out * n_in];
        const CHUNK: usize = 128;
        next.par_chunks_mut(CHUNK * n_out * n_in)
            .zip(reps.par_chunks(CHUNK))
            .for_each(|(dst, reps)| {
                let rows = reps.len() * n_out;
                let mut v = vec![0.0f64; rows * width];
                for (i, &(parent, r)) in reps.iter().enumerate() {
                    for o in 0..n_out {
                        let src = &u[(parent as usize * n_out + o) * width..][..width];
                        let row = &mut v[(i * n_out + o) * width..][..width];
                        for k in 0..width {
                            row[k] = src[k] * mask(r, k);
                        }
                    }
                }
                backward(layer, rows, &v, dst);
            });
        u = next;
        width = n_in;
        group = next_group;
        l -= 1;
    }
    verdicts
}

/// The columns of a layer's weights, contiguous: Wᵀ (n_in × n_out) when dense; for sparse
/// layers each column's entries (row, weight).
enum Columns {
    Dense(Vec<f64>),
    Sparse(Vec<Vec<(usize, f64)>>),
}

impl Columns {
    fn of(layer: &FloatLayer) -> Columns {
        let (n_in, n_out) = (layer.n_in, layer.n_out);
        if layer.w.is_dense() {
            // In tiles, so that reads and writes both stay within a few cache lines.
            const TILE: usize = 32;
            let mut t = vec![0.0f64; n_in * n_out];
            for k0 in (0..n_out).step_by(TILE) {
                for j0 in (0..n_in).step_by(TILE) {
                    for k in k0..(k0 + TILE).min(n_out) {
                        let row = &layer.w.vals[k * n_in..(k + 1) * n_in];
                        for j in j0..(j0 + TILE).min(n_in) {
                            t[j * n_out + k] = row[j];
                        }
                    }
                }
            }
            return Columns::Dense(t);
        }
        let mut columns: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n_in];
        for k in 0..n_out {
            for (j, w) in layer.w.row(k).iter() {
                columns[j].push((k, *w));
            }
        }
        Columns::Sparse(columns)
    }
}

/// `v2 (rows × n_in) = v (rows × n_out) · W`.
fn backward(layer: &FloatLayer, rows: usize, v: &[f64], v2: &mut [f64]) {
    let (n_in, width) = (layer.n_in, layer.n_out);
    if layer.w.is_dense() {
        // SAFETY: v is rows × width (= layer.n_out), W is n_out × n_in row-major.
        unsafe {
            matrixmultiply::dgemm(
                rows,
                width,
                n_in,
                1.0,
                v.as_ptr(),
                width as isize,
                1,
                layer.w.vals.as_ptr(),
                n_in as isize,
                1,
                0.0,
                v2.as_mut_ptr(),
                n_in as isize,
                1,
            );
        }
    } else {
        for r in 0..rows {
            let src = &v[r * width..(r + 1) * width];
            let dst = &mut v2[r * n_in..(r + 1) * n_in];
            for (i, &x) in src.iter().enumerate() {
                if x != 0.0 {
                    for (j, w) in layer.w.row(i).iter() {
                        dst[j] += x * w;
                    }
                }
            }
        }
    }
}

/// The exact output map of a region: one `LineEq` per output, over a denominator that is the
/// same for every region (so maps compare by equality of integers).
pub fn exact_output_map(net: &Restricted, bits: &[u64]) -> Vec<LineEq> {
    let ex: &crate::exact::ExactNet = &net.exact;
    let out = &ex.output;
    let active = |k: usize, j: usize| pattern::get(bits, net.offsets[k] + j);
    if ex.hidden.is_empty() {
        return (0..out.n_out)
            .map(|o| LineEq {
                a: out.w.row(o).vals.to_vec(),
                c: out.b[o].clone(),
            })
            .collect();
    }
    let last = ex.hidden.len() - 1;
    let (rows, q) = ex.layer_map(last, &active);
    let on = |j: usize| active(last, j);
    (0..out.n_out)
        .map(|o| {
            let mut a = vec![BigInt::zero(); ex.d];
            let mut c = &out.b[o] * &q;
            for (j, w) in out.row_on(o, &on) {
                for (ak, rk) in a.iter_mut().zip(&rows[j].a) {
                    *ak += w * rk;
                }
                c += w * &rows[j].c;
            }
            LineEq { a, c }
        })
        .collect()
}

/// The common denominator of [`exact_output_map`]'s rows: output o of a region is
/// `(a_o · t + c_o) / output_denominator`.
pub fn output_denominator(net: &Restricted) -> BigInt {
    let ex = &net.exact;
    ex.hidden
        .iter()
        .fold(ex.output.den.clone(), |q, l| q * &l.den)
}

/// Linear regions: a label per activation region and, per adjacent pair, whether the two sides
/// have identical output maps.
#[derive(Debug, Clone)]
pub struct LinearRegions {
    pub label: Vec<usize>,
    pub count: usize,
    pub same_map: Vec<bool>,
    /// Pairs the float filter could not separate, decided exactly.
    pub exact_checks: usize,
}

/// Linear regions of the regions with these patterns, given their adjacent pairs.
pub fn linear_regions(patterns: &[&[u64]], net: &Restricted, adj: &[(u32, u32)]) -> LinearRegions {
    let n = patterns.len();
    let decided = float_verdicts(patterns, net, adj);
    let exact_checks = decided.iter().filter(|d| d.is_none()).count();
    let group = net.regions_of(patterns.iter().copied()).map(|(g, _)| g);
    // Exact maps once per region that needs one, shared by its undecided edges.
    let maps: Vec<std::sync::OnceLock<Vec<LineEq>>> =
        (0..n).map(|_| std::sync::OnceLock::new()).collect();
    let map = |r: u32| maps[r as usize].get_or_init(|| exact_output_map(net, patterns[r as usize]));
    let same_map: Vec<bool> = adj
        .par_iter()
        .zip(&decided)
        .map(|(&(a, b), d)| {
            d.unwrap_or_else(|| {
                // Cells of one max-pooling region (one argmax everywhere) have one map.
                (group
                    .as_ref()
                    .is_some_and(|g| g[a as usize] == g[b as usize]))
                    || map(a) == map(b)
            })
        })
        .collect();
    let mut uf = UnionFind::<usize>::new(n);
    for (&(a, b), same) in adj.iter().zip(&same_map) {
        if *same {
            uf.union(a as usize, b as usize);
        }
    }
    // Labels in order of first appearance.
    let mut ids = vec![usize::MAX; n];
    let mut count = 0;
    let label: Vec<usize> = (0..n)
        .map(|r| {
            let root = uf.find_mut(r);
            if ids[root] == usize::MAX {
                ids[root] = count;
                count += 1;
            }
            ids[root]
        })
        .collect();
    LinearRegions {
        count,
        label,
        same_map,
        exact_checks,
    }
}

/// Adjacent pairs and linear regions, without the exported graph's labels (what `count`
/// reports when no graph file is asked for).
pub struct Summary {
    /// Adjacent regions (a < b), sorted.
    pub pairs: Vec<(u32, u32)>,
    pub linear: LinearRegions,
}

impl Summary {
    pub fn build(p: &Partition, net: &Restricted) -> Summary {
        Summary::from_pairs(&p.patterns(), net, adjacent_region_pairs(p))
    }

    /// From adjacent pairs found otherwise (the lp engine's).
    pub fn from_pairs(patterns: &[&[u64]], net: &Restricted, pairs: Vec<(u32, u32)>) -> Summary {
        let linear = linear_regions(patterns, net, &pairs);
        Summary { pairs, linear }
    }

    /// Adjacent pairs of regions where cells are grouped into regions (max pooling: `group`
    /// maps each cell to its region), else of cells.
    pub fn adjacent_regions(&self, group: Option<&[u32]>) -> usize {
        match group {
            Some(group) => self
                .pairs
                .iter()
                .filter_map(|&(a, b)| {
                    let (ga, gb) = (group[a as usize], group[b as usize]);
                    (ga != gb).then_some((ga.min(gb), ga.max(gb)))
                })
                .collect::<std::collections::HashSet<_>>()
                .len(),
            None => self.pairs.len(),
        }
    }
}

/// A node of the exported graph.
#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    pub region: usize,
    pub pattern: String,
    pub witness: Vec<f64>,
    pub linear_region: usize,
}

/// An edge of the exported graph.
#[derive(Debug, Clone, Serialize)]
pub struct GraphEdge {
    pub source: usize,
    pub target: usize,
    /// (layer, neuron) pairs, both 1-based, of the neurons that switch across the edge.
    pub neurons: Vec<(usize, usize)>,
    /// Length of the shared piece (d = 2), and its exact square.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length_squared: Option<String>,
    pub same_linear_map: bool,
}

/// The adjacency graph with everything the exports need.
pub struct RegionGraph {
    pub graph: UnGraph<GraphNode, GraphEdge>,
    pub linear: LinearRegions,
}

impl RegionGraph {
    /// The graph of a mesh partition (d ≤ 2), with each shared segment's length in 2-D (exact
    /// when `exact_points` are given).
    pub fn build(
        p: &Partition,
        net: &Restricted,
        exact_points: Option<&[ExactPoint]>,
    ) -> RegionGraph {
        let adj = adjacent_pairs(p);
        let pairs: Vec<(u32, u32)> = adj.iter().map(|e| (e.a, e.b)).collect();
        let witnesses = (0..p.regions.len())
            .map(|r| {
                let verts = p.regions.get(r).verts;
                (0..p.dim)
                    .map(|k| {
                        verts
                            .iter()
                            .map(|&v| p.xy[v as usize * p.dim + k])
                            .sum::<f64>()
                            / verts.len() as f64
                    })
                    .collect()
            })
            .collect();
        let lengths = adj
            .iter()
            .map(|e| {
                if p.dim != 2 {
                    return (None, None);
                }
                let (u, v) = piece_ends(e);
                let exact = exact_points.map(|pts| {
                    let (a, b) = (&pts[u as usize], &pts[v as usize]);
                    let sq = (0..2).fold(BigRational::zero(), |acc, k| {
                        let diff = b.coord(k) - a.coord(k);
                        acc + &diff * &diff
                    });
                    format_rational(&sq)
                });
                let (xu, xv) = (
                    &p.xy[u as usize * 2..u as usize * 2 + 2],
                    &p.xy[v as usize * 2..v as usize * 2 + 2],
                );
                (
                    Some(((xu[0] - xv[0]).powi(2) + (xu[1] - xv[1]).powi(2)).sqrt()),
                    exact,
                )
            })
            .collect();
        let strings = (0..p.regions.len()).map(|r| p.pattern_string(r)).collect();
        RegionGraph::assemble(&p.patterns(), strings, witnesses, &pairs, lengths, net)
    }

    /// The graph of an lp partition (any d), from its adjacent pairs (`None` when they were not
    /// computed); nodes sit at the regions' witnesses.
    pub fn from_lp(p: &crate::engine::lp::LpPartition, net: &Restricted) -> Option<RegionGraph> {
        let pairs = p.adjacent.as_ref()?;
        let patterns: Vec<&[u64]> = p.regions.iter().map(|r| r.pattern.as_slice()).collect();
        let strings = (0..p.regions.len()).map(|r| p.pattern_string(r)).collect();
        let witnesses = p.regions.iter().map(|r| r.witness.to_f64_fast()).collect();
        let lengths = vec![(None, None); pairs.len()];
        Some(RegionGraph::assemble(
            &patterns, strings, witnesses, pairs, lengths, net,
        ))
    }

    fn assemble(
        patterns: &[&[u64]],
        pattern_strings: Vec<String>,
        witnesses: Vec<Vec<f64>>,
        pairs: &[(u32, u32)],
        lengths: Vec<(Option<f64>, Option<String>)>,
        net: &Restricted,
    ) -> RegionGraph {
        let linear = linear_regions(patterns, net, pairs);
        let mut graph = UnGraph::with_capacity(patterns.len(), pairs.len());
        for (r, (pattern, witness)) in pattern_strings.into_iter().zip(witnesses).enumerate() {
            graph.add_node(GraphNode {
                region: r,
                pattern,
                witness,
                linear_region: linear.label[r],
            });
        }
        let layer_of = |g: usize| {
            let l = net
                .offsets
                .iter()
                .rposition(|&o| o <= g)
                .expect("neuron in some layer");
            (l + 1, g - net.offsets[l] + 1)
        };
        for ((&(a, b), same), (length, length_squared)) in
            pairs.iter().zip(&linear.same_map).zip(lengths)
        {
            graph.add_edge(
                petgraph::graph::NodeIndex::new(a as usize),
                petgraph::graph::NodeIndex::new(b as usize),
                GraphEdge {
                    source: a as usize,
                    target: b as usize,
                    neurons: switching_neurons(patterns[a as usize], patterns[b as usize])
                        .into_iter()
                        .map(layer_of)
                        .collect(),
                    length,
                    length_squared,
                    same_linear_map: *same,
                },
            );
        }
        RegionGraph { graph, linear }
    }

    /// The pairs and linear regions, the labels dropped.
    pub fn summary(self) -> Summary {
        Summary {
            pairs: self
                .graph
                .edge_weights()
                .map(|e| (e.source as u32, e.target as u32))
                .collect(),
            linear: self.linear,
        }
    }

    /// JSON export: `{"nodes": [...], "edges": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let nodes: Vec<&GraphNode> = self.graph.node_weights().collect();
        let edges: Vec<&GraphEdge> = self.graph.edge_weights().collect();
        serde_json::json!({"nodes": nodes, "edges": edges})
    }

    /// DOT export (petgraph's writer).
    pub fn to_dot(&self) -> String {
        use petgraph::dot::{Config, Dot};
        let g = self.graph.map(
            |_, n| format!("{} L{}", n.region, n.linear_region),
            |_, e| {
                e.neurons
                    .iter()
                    .map(|(l, j)| format!("{l}.{j}"))
                    .collect::<Vec<_>>()
                    .join(",")
            },
        );
        format!("{}", Dot::with_config(&g, &[Config::GraphContentOnly]))
            .lines()
            .fold(String::from("graph regions {\n"), |acc, l| acc + l + "\n")
            + "}\n"
    }

    /// GraphML export (petgraph-graphml), with node and edge attributes.
    pub fn to_graphml(&self) -> String {
        use petgraph_graphml::GraphMl;
        GraphMl::new(&self.graph)
            .pretty_print(true)
            .export_node_weights(Box::new(|n| {
                vec![
                    ("pattern".into(), n.pattern.clone().into()),
                    ("linear_region".into(), n.linear_region.to_string().into()),
                ]
            }))
            .export_edge_weights(Box::new(|e| {
                let neurons = e
                    .neurons
                    .iter()
                    .map(|(l, j)| format!("{l}.{j}"))
                    .collect::<Vec<_>>()
                    .join(",");
                let mut v = vec![("neurons".into(), neurons.into())];
                if let Some(len) = e.length {
                    v.push(("length".into(), len.to_string().into()));
                }
                v
            }))
            .to_string()
    }
}
