//! The region adjacency graph and linear regions (docs/guide.md#regions).
//!
//! Two regions are adjacent when their closures share a (d−1)-dimensional piece inside the
//! domain: in the planar mesh, when they share at least one mesh edge (a point contact shares
//! none); in 1-D, when they share an endpoint. An edge is labelled by the neurons that switch
//! across it (the XOR of the two patterns) and, for d = 2, by the exact squared length of the
//! shared segment.
//!
//! Linear regions: the output map of each region is affine; two adjacent regions have identical
//! maps iff their output gradients are equal (the maps already agree on the shared piece). The
//! gradients are computed for all regions at once in f64 (a masked backward pass, batched as
//! matrix products) with a proven error bound (max|W_out| times the column-sum norms of the layers,
//! plus an underflow term); a pair is "different" when some
//! component differs by more than the two bounds, and otherwise decided exactly.

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

/// Global indices of the neurons whose bits differ between regions a and b.
pub fn switching_neurons(p: &Partition, a: usize, b: usize) -> Vec<usize> {
    let (pa, pb) = (&p.regions.get(a).pattern, p.regions.get(b).pattern);
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

/// Output gradients of every region in f64 (R × n_out × d) and a per-region bound on the
/// absolute error of every component.
pub fn output_gradients(net: &Restricted, patterns: &[&[u64]]) -> (Vec<f64>, Vec<f64>) {
    let d = net.d;
    let out = &net.output_float;
    let n_out = out.n_out;
    let layers = net.float.len();
    let nmax = net.widths.iter().copied().max().unwrap_or(1).max(d);
    let nu = (nmax + 3) as f64 * f64::EPSILON / 2.0;
    let gamma = nu / (1.0 - nu);
    let factor = 2.0 * (layers + 2) as f64 * gamma * (1.0 + 1e-10);
    let col_sum_max = |w: &Matrix<f64>| {
        let mut sums = vec![0.0f64; w.n_in];
        for i in 0..w.n_out {
            for (k, x) in w.row(i).iter() {
                sums[k] += x.abs();
            }
        }
        sums.into_iter().fold(0.0f64, f64::max) * (1.0 + 1e-10)
    };
    // Each layer's activation scales a gradient by at most its gain (1 for ReLU).
    let gains: f64 = net
        .float
        .iter()
        .skip(1)
        .chain([out])
        .map(FloatLayer::input_gain)
        .product();
    // Underflow: each operation may lose up to 2^-1075 absolutely; later products amplify that by
    // at most the column l1 norms of the remaining layers. With weights that underflowed already
    // (not faithful), no float verdict is trusted: the bound is infinite and pairs go exact.
    let absolute = if net.floats_faithful {
        let amp = net
            .float
            .iter()
            .map(|l| col_sum_max(&l.w).max(1.0))
            .product::<f64>()
            * col_sum_max(&out.w).max(1.0)
            * gains;
        ((layers + 2) * (nmax + 2)) as f64 * f64::MIN_POSITIVE * amp * 2.0
    } else {
        f64::INFINITY
    };
    // The relative part: γ-style factor × the product |W_out|·D_L·|W_L|···|W_1|, bounded for every
    // region at once by max|W_out| × Π max column sum of |W_l| × the activations' gains.
    let chain = out.w.vals.iter().fold(0.0f64, |m, x| m.max(x.abs()))
        * net.float.iter().map(|l| col_sum_max(&l.w)).product::<f64>()
        * gains;
    let bound = factor * chain + absolute;
    // The factor a region's pattern puts on input j of `layer` (hidden layer l's row j).
    let slope = |layer: &FloatLayer, pat: &[u64], l: usize, j: usize| -> f64 {
        if pattern::get(pat, net.offsets[l] + j) {
            1.0
        } else {
            layer.input.as_ref().map_or(0.0, |a| a.slope[j])
        }
    };
    const CHUNK: usize = 256;
    let mut grads = vec![0.0; patterns.len() * n_out * d];
    grads
        .par_chunks_mut(CHUNK * n_out * d)
        .zip(patterns.par_chunks(CHUNK))
        .for_each(|(g, pats)| {
            let rows = pats.len() * n_out;
            if layers == 0 {
                for chunk in g.chunks_mut(n_out * d) {
                    chunk.copy_from_slice(&out.w.vals);
                }
                return;
            }
            // v: rows × width of the current layer (the masked backward pass).
            let mut width = out.n_in;
            let mut v = vec![0.0; rows * width];
            for (r, pat) in pats.iter().enumerate() {
                for o in 0..n_out {
                    let dst = &mut v[(r * n_out + o) * width..(r * n_out + o + 1) * width];
                    for (j, w) in out.w.row(o).iter() {
                        dst[j] = w * slope(out, pat, layers - 1, j);
                    }
                }
            }
            for l in (0..layers).rev() {
                let layer = &net.float[l];
                let n_in = layer.n_in;
                let mut v2 = vec![0.0; rows * n_in];
                backward(layer, rows, &v, &mut v2);
                if l > 0 {
                    for (r, pat) in pats.iter().enumerate() {
                        for j in 0..n_in {
                            let s = slope(layer, pat, l - 1, j);
                            if s != 1.0 {
                                for o in 0..n_out {
                                    v2[(r * n_out + o) * n_in + j] *= s;
                                }
                            }
                        }
                    }
                }
                v = v2;
                width = n_in;
            }
            debug_assert_eq!(width, d);
            g.copy_from_slice(&v);
        });
    let bounds = vec![bound; patterns.len()];
    (grads, bounds)
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

pub fn linear_regions(p: &Partition, net: &Restricted, adj: &[Adjacency]) -> LinearRegions {
    let patterns: Vec<&[u64]> = p.regions.iter().map(|r| r.pattern).collect();
    let (grads, bounds) = output_gradients(net, &patterns);
    let k = net.output_float.n_out * net.d;
    let decided: Vec<Option<bool>> = adj
        .par_iter()
        .map(|e| {
            let (a, b) = (e.a as usize, e.b as usize);
            let (ga, gb) = (&grads[a * k..(a + 1) * k], &grads[b * k..(b + 1) * k]);
            let tol = bounds[a] + bounds[b];
            if ga.iter().zip(gb).any(|(x, y)| (x - y).abs() > tol) {
                Some(false)
            } else {
                None
            }
        })
        .collect();
    let exact_checks = decided.iter().filter(|d| d.is_none()).count();
    let group = net.regions_of(patterns.iter().copied()).map(|(g, _)| g);
    let same_map: Vec<bool> = adj
        .par_iter()
        .zip(&decided)
        .map(|(e, d)| {
            d.unwrap_or_else(|| {
                let (a, b) = (patterns[e.a as usize], patterns[e.b as usize]);
                // Cells of one max-pooling region (one argmax everywhere) have one map.
                (group
                    .as_ref()
                    .is_some_and(|g| g[e.a as usize] == g[e.b as usize]))
                    || exact_output_map(net, a) == exact_output_map(net, b)
            })
        })
        .collect();
    let mut uf = UnionFind::<usize>::new(p.regions.len());
    for (e, same) in adj.iter().zip(&same_map) {
        if *same {
            uf.union(e.a as usize, e.b as usize);
        }
    }
    let mut ids: HashMap<usize, usize> = HashMap::new();
    let label: Vec<usize> = (0..p.regions.len())
        .map(|r| {
            let root = uf.find(r);
            let next = ids.len();
            *ids.entry(root).or_insert(next)
        })
        .collect();
    LinearRegions {
        count: ids.len(),
        label,
        same_map,
        exact_checks,
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
    pub fn build(
        p: &Partition,
        net: &Restricted,
        exact_points: Option<&[ExactPoint]>,
    ) -> RegionGraph {
        let adj = adjacent_pairs(p);
        let linear = linear_regions(p, net, &adj);
        let mut graph = UnGraph::with_capacity(p.regions.len(), adj.len());
        for r in 0..p.regions.len() {
            let verts = p.regions.get(r).verts;
            let witness = (0..p.dim)
                .map(|k| {
                    verts
                        .iter()
                        .map(|&v| p.xy[v as usize * p.dim + k])
                        .sum::<f64>()
                        / verts.len() as f64
                })
                .collect();
            graph.add_node(GraphNode {
                region: r,
                pattern: p.pattern_string(r),
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
        for (e, same) in adj.iter().zip(&linear.same_map) {
            let (length, length_squared) = if p.dim == 2 {
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
            } else {
                (None, None)
            };
            graph.add_edge(
                petgraph::graph::NodeIndex::new(e.a as usize),
                petgraph::graph::NodeIndex::new(e.b as usize),
                GraphEdge {
                    source: e.a as usize,
                    target: e.b as usize,
                    neurons: switching_neurons(p, e.a as usize, e.b as usize)
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
