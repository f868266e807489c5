//! The planar engine (d = 2): the domain is a mesh of convex polygons, split layer by layer.
//!
//! At the start of hidden layer l every face F of the mesh has a fixed pattern for layers < l,
//! so every neuron of layer l is affine on F and F is cut by the arrangement of n_l lines. Faces
//! are independent (processed in parallel); the only shared points are where a line crosses an
//! edge of F, keyed by (edge endpoints, neuron) and merged afterwards. Inside F, neurons are
//! applied one by one: a neuron whose signs at F's corners do not differ strictly never cuts F;
//! otherwise it cuts the current sub-polygons it crosses, its chord across F being the support
//! for every new vertex on it. Signs come from [`LocalVertices::sign`]: exact for every input.
//!
//! Cost per layer: one dense matrix product for the vertex values (the forward-pass floor), then
//! O(n_l) per new vertex and O(n_l · corners) per face.

use super::vertex::{LayerCtx, LineKey, LocalVertices, VertexDef};
use super::{split_faces, FaceOut, Mesh, ProgressSink};
use crate::pattern;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

#[derive(Clone, Copy)]
struct EdgeInfo {
    line: LineKey,
    /// Endpoints of the segment the edge's values are interpolated on.
    support: (u32, u32),
    /// Index of the parent face's edge this edge lies on, if any.
    parent: Option<u32>,
}

#[derive(Default)]
struct Poly {
    verts: SmallVec<[u32; 8]>,
    edges: SmallVec<[EdgeInfo; 8]>,
    bits: SmallVec<[u64; 4]>,
}

/// Buffers reused from face to face (no allocation per face in the common case).
#[derive(Default)]
pub(super) struct Scratch {
    pos: Vec<u64>,
    neg: Vec<u64>,
    splitting: Vec<usize>,
    polys: Vec<Poly>,
    interior: FxHashMap<(u32, u32), u32>,
    edge_verts: Vec<Vec<u32>>,
    signs: Vec<i8>,
    corner_signs: Vec<i8>,
}

/// Splits parent face `f` by every neuron of the layer; new vertices go to `local`, the
/// sub-polygons to `out` (tagged with `f`).
fn split_face(
    ctx: &LayerCtx,
    f: usize,
    verts: &[u32],
    lines: &[LineKey],
    local: &mut LocalVertices,
    out: &mut FaceOut,
    scratch: &mut Scratch,
) {
    let n = ctx.values.n;
    let k = verts.len();
    let l = ctx.layer;
    let Scratch {
        pos,
        neg,
        splitting,
        polys,
        interior,
        edge_verts,
        signs,
        corner_signs,
    } = scratch;
    // Classify every neuron at once from F's corners: bitmasks of strictly positive and
    // strictly negative corners (exact for the unsure ones).
    let words = pattern::words(n);
    pos.clear();
    pos.resize(words, 0);
    neg.clear();
    neg.resize(words, 0);
    for &v in verts {
        local.or_sign_masks(ctx, v, pos, neg);
    }
    let bits: SmallVec<[u64; 4]> = pos.iter().zip(neg.iter()).map(|(p, q)| p & !q).collect();
    splitting.clear();
    splitting.extend((0..n).filter(|&j| pattern::get(pos, j) && pattern::get(neg, j)));
    polys.clear();
    polys.push(Poly {
        verts: verts.iter().copied().collect(),
        edges: (0..k)
            .map(|i| EdgeInfo {
                line: lines[i],
                support: (verts[i], verts[(i + 1) % k]),
                parent: Some(i as u32),
            })
            .collect(),
        bits,
    });
    // Vertices made on each parent edge during this layer (shared with the neighbour face).
    for e in edge_verts.iter_mut() {
        e.clear();
    }
    if edge_verts.len() < k {
        edge_verts.resize(k, Vec::new());
    }
    for &j in splitting.iter() {
        let line_j = LineKey::neuron(l, j, f);
        // Where line j crosses the parent boundary: the chord's two ends.
        let mut chord = [u32::MAX; 2];
        let mut ends = 0;
        let mut on_parent_edge: [(u32, u32); 2] = [(u32::MAX, u32::MAX); 2];
        corner_signs.clear();
        for &v in verts {
            corner_signs.push(local.sign(ctx, v, j));
        }
        for i in 0..k {
            let (si, sn) = (corner_signs[i], corner_signs[(i + 1) % k]);
            if si == 0 {
                assert!(
                    ends < 2,
                    "line {line_j:?} meets face {f} in more than two points"
                );
                chord[ends] = verts[i];
                ends += 1;
            }
            if si * sn < 0 {
                // An earlier neuron of this layer may already have a vertex at this very point.
                let existing = edge_verts[i]
                    .iter()
                    .copied()
                    .find(|&v| local.sign(ctx, v, j) == 0);
                let w = existing.unwrap_or_else(|| {
                    let (p, q) = (verts[i], verts[(i + 1) % k]);
                    let key = (p.min(q), p.max(q), j as u32);
                    let w = local.interpolate(
                        ctx,
                        p,
                        q,
                        j,
                        VertexDef::Meet(lines[i], line_j),
                        Some(key),
                    );
                    edge_verts[i].push(w);
                    w
                });
                assert!(
                    ends < 2,
                    "line {line_j:?} meets face {f} in more than two points"
                );
                on_parent_edge[ends] = (i as u32, w);
                chord[ends] = w;
                ends += 1;
            }
        }
        assert_eq!(
            ends, 2,
            "line {line_j:?} splits face {f} but crosses it {ends} times"
        );
        let cut = EdgeInfo {
            line: line_j,
            support: (chord[0], chord[1]),
            parent: None,
        };
        interior.clear();
        // Split polygons in place (plus side replaces the polygon, minus side goes to the end):
        // untouched polygons are not moved.
        let before = polys.len();
        for p in 0..before {
            let poly = &mut polys[p];
            signs.clear();
            let (mut pos, mut neg) = (false, false);
            for &v in &poly.verts {
                let s = local.sign(ctx, v, j);
                pos |= s > 0;
                neg |= s < 0;
                signs.push(s);
            }
            if !(pos && neg) {
                if pos {
                    pattern::set(&mut poly.bits, j, true);
                }
                continue;
            }
            let poly = std::mem::take(poly);
            let m = poly.verts.len();
            let mut plus = Poly {
                verts: SmallVec::new(),
                edges: SmallVec::new(),
                bits: poly.bits.clone(),
            };
            pattern::set(&mut plus.bits, j, true);
            let mut minus = Poly {
                verts: SmallVec::new(),
                edges: SmallVec::new(),
                bits: poly.bits,
            };
            for i in 0..m {
                let (a, sa, sb) = (poly.verts[i], signs[i], signs[(i + 1) % m]);
                let e = poly.edges[i];
                if sa >= 0 {
                    plus.verts.push(a);
                    plus.edges.push(if sa == 0 && sb < 0 { cut } else { e });
                }
                if sa <= 0 {
                    minus.verts.push(a);
                    minus.edges.push(if sa == 0 && sb > 0 { cut } else { e });
                }
                if sa * sb < 0 {
                    let w = match e.parent {
                        Some(pi) => {
                            on_parent_edge
                                .iter()
                                .find(|(i, _)| *i == pi)
                                .expect("a boundary crossing on a parent edge the chord misses")
                                .1
                        }
                        None => {
                            let b = poly.verts[(i + 1) % m];
                            let key = (a.min(b), a.max(b));
                            *interior.entry(key).or_insert_with(|| {
                                local.interpolate(
                                    ctx,
                                    e.support.0,
                                    e.support.1,
                                    j,
                                    VertexDef::Meet(e.line, line_j),
                                    None,
                                )
                            })
                        }
                    };
                    plus.verts.push(w);
                    plus.edges.push(if sa > 0 { cut } else { e });
                    minus.verts.push(w);
                    minus.edges.push(if sa < 0 { cut } else { e });
                }
            }
            polys[p] = plus;
            polys.push(minus);
        }
    }
    for p in polys.iter() {
        out.push(f as u32, &p.verts, p.edges.iter().map(|e| e.line), &p.bits);
    }
}

/// Splits every face of `mesh` by hidden layer `ctx.layer`. Returns `None` when the region
/// limit was passed (the caller keeps the previous mesh).
pub(super) fn split_layer(
    ctx: &LayerCtx,
    mesh: &Mesh,
    max_regions: Option<usize>,
    progress: &dyn ProgressSink,
) -> Option<Vec<FaceOut>> {
    split_faces::<Scratch>(ctx, mesh, max_regions, progress, split_face)
}
