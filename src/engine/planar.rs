//! The planar engine (d = 2): the domain is a mesh of convex polygons, split layer by layer.
//!
//! At the start of hidden layer l every face F of the mesh has a fixed pattern for layers < l,
//! so every neuron of layer l is affine on F and F is cut by the arrangement of n_l lines. Faces
//! are independent (processed in parallel); the only shared points are where a line crosses an
//! edge of F, keyed by (edge endpoints, neuron) and merged afterwards. Inside F, neurons are
//! applied one by one: a neuron whose signs at F's corners do not differ strictly never cuts F;
//! otherwise it cuts the current sub-polygons it crosses, its chord across F being the support
//! for every new vertex on it. The pieces a line cuts are found by testing every piece while F
//! is in few pieces, then by walking the line through the pieces it touches (`walk_line`).
//! Signs come from [`LocalVertices::sign`]: exact for every input.
//!
//! Cost per layer: one dense matrix product for the vertex values (the forward-pass floor), then
//! O(n_l) per new vertex and O(n_l · corners) per face; a face cut by s lines costs O(s²) pieces
//! visited.

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

/// A piece of the face being split: its vertices, its edges (indices into the face's edge
/// table, `Scratch::edges`: small, since pieces are moved at every split) and its bits.
#[derive(Default)]
struct Poly {
    verts: SmallVec<[u32; 8]>,
    edges: SmallVec<[u32; 8]>,
    bits: SmallVec<[u64; 4]>,
}

/// Buffers reused from face to face (no allocation per face in the common case).
#[derive(Default)]
pub(super) struct Scratch {
    pos: Vec<u64>,
    neg: Vec<u64>,
    splitting: Vec<usize>,
    polys: Vec<Poly>,
    /// The face's edges: its parent edges, then each cutting line's chord.
    edges: Vec<EdgeInfo>,
    interior: FxHashMap<(u32, u32), u32>,
    edge_verts: Vec<Vec<u32>>,
    signs: Vec<i8>,
    corner_signs: Vec<i8>,
    /// Per piece (while the pieces are tested, not walked): `3 · words` bits, see
    /// [`piece_masks`].
    piece_masks: Vec<u64>,
    zone: Zone,
}

/// State of the zone walk: the pieces around each vertex, a visit stamp per piece, the queue,
/// and the neurons whose bits are filled in at the end.
#[derive(Default)]
struct Zone {
    active: bool,
    around: FxHashMap<u32, SmallVec<[u32; 6]>>,
    stamp: Vec<u32>,
    queue: Vec<usize>,
    walked: Vec<usize>,
}

impl Zone {
    fn start(&mut self, polys: &[Poly]) {
        self.active = true;
        self.around.clear();
        for (p, poly) in polys.iter().enumerate() {
            for &v in &poly.verts {
                self.around.entry(v).or_default().push(p as u32);
            }
        }
        self.stamp.clear();
        self.stamp.resize(polys.len(), 0);
        self.walked.clear();
    }

    fn enqueue_around(&mut self, v: u32, mark: u32) {
        if let Some(ps) = self.around.get(&v) {
            for &p in ps {
                if self.stamp[p as usize] != mark {
                    self.stamp[p as usize] = mark;
                    self.queue.push(p as usize);
                }
            }
        }
    }

    /// After piece `p` was split into `plus` (still `p`) and `minus` (`m`): fix the lists.
    fn record_split(&mut self, old: &[u32], plus: &Poly, minus: &Poly, p: usize, m: usize) {
        for &v in old {
            if !plus.verts.contains(&v) {
                if let Some(ps) = self.around.get_mut(&v) {
                    ps.retain(|q| *q as usize != p);
                }
            }
        }
        for (poly, id) in [(plus, p), (minus, m)] {
            for &v in &poly.verts {
                let ps = self.around.entry(v).or_default();
                if !ps.contains(&(id as u32)) {
                    ps.push(id as u32);
                }
            }
        }
    }
}

/// The exact signs of neuron j at a piece's vertices into `signs`; returns whether some are
/// strictly positive and whether some are strictly negative.
fn piece_signs(
    ctx: &LayerCtx,
    local: &mut LocalVertices,
    verts: &[u32],
    j: usize,
    signs: &mut Vec<i8>,
) -> (bool, bool) {
    signs.clear();
    let (mut pos, mut neg) = (false, false);
    for &v in verts {
        let s = local.sign(ctx, v, j);
        pos |= s > 0;
        neg |= s < 0;
        signs.push(s);
    }
    (pos, neg)
}

/// A piece's proven masks into `out` (`3 · words`): the neurons some vertex's float proves
/// strictly positive, those some vertex's float proves strictly negative, and those some
/// vertex's float leaves open. A line outside the third set cuts the piece exactly when it is
/// in the first two, so most pieces are passed over without a sign per vertex.
fn piece_masks(ctx: &LayerCtx, local: &LocalVertices, verts: &[u32], out: &mut [u64]) {
    let words = out.len() / 3;
    if words == 1 {
        // Up to 64 neurons (most layers): in registers.
        let (mut pos, mut neg, mut unsure) = (0u64, 0u64, 0u64);
        for &v in verts {
            let (p, q, decided) = local.proven_masks(ctx, v);
            pos |= p[0];
            neg |= q[0];
            if !decided {
                unsure |= !(p[0] | q[0]);
            }
        }
        out.copy_from_slice(&[pos, neg, unsure]);
        return;
    }
    out.fill(0);
    let (pos, rest) = out.split_at_mut(words);
    let (neg, unsure) = rest.split_at_mut(words);
    for &v in verts {
        let (p, q, decided) = local.proven_masks(ctx, v);
        for w in 0..words {
            pos[w] |= p[w];
            neg[w] |= q[w];
            if !decided {
                unsure[w] |= !(p[w] | q[w]);
            }
        }
    }
}

/// Splits `poly` by line j (`signs` at its vertices, both strict signs present) into its plus and
/// minus sides. Crossings on parent edges are the chord's ends; crossings of inner edges are
/// shared through `interior` with the piece on the other side.
#[allow(clippy::too_many_arguments)]
fn split_poly(
    ctx: &LayerCtx,
    poly: Poly,
    signs: &[i8],
    j: usize,
    (cut, table): (u32, &[EdgeInfo]),
    on_parent_edge: &[(u32, u32); 2],
    interior: &mut FxHashMap<(u32, u32), u32>,
    local: &mut LocalVertices,
) -> (Poly, Poly) {
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
        let info = table[e as usize];
        if sa >= 0 {
            plus.verts.push(a);
            plus.edges.push(if sa == 0 && sb < 0 { cut } else { e });
        }
        if sa <= 0 {
            minus.verts.push(a);
            minus.edges.push(if sa == 0 && sb > 0 { cut } else { e });
        }
        if sa * sb < 0 {
            let w = match info.parent {
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
                            info.support.0,
                            info.support.1,
                            j,
                            VertexDef::Meet(info.line, table[cut as usize].line),
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
    (plus, minus)
}

/// Splits parent face `f` by every neuron of the layer; new vertices go to `local`, the
/// sub-polygons to `out` (tagged with `f`).
///
/// Neurons are applied one at a time. While the face is in few pieces every piece is tested
/// against the neuron's line; from `ctx.zone_walk_from` pieces on, the line is walked from its
/// chord's ends through the pieces it touches (neighbours found through shared vertices), so a
/// face cut by n lines costs O(n²) instead of O(n³); the bits of the walked neurons are filled in
/// once at the end from one vertex of each piece.
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
        edges: table,
        interior,
        edge_verts,
        signs,
        corner_signs,
        piece_masks: masks,
        zone,
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
    let mut bits: SmallVec<[u64; 4]> = pos.iter().zip(neg.iter()).map(|(p, q)| p & !q).collect();
    for j in ctx.units..n {
        pattern::set(&mut bits, j, true);
    }
    splitting.clear();
    // Up to the last unit even in a first round: it finds the chord ends of the lines it
    // leaves for the second (and cuts only by its own, below).
    splitting.extend(pattern::both_set(pos, neg, ctx.split_from..ctx.units));
    if let Some(columns) = local.columns.as_mut() {
        // The last layer: new vertices are only ever tested against this face's lines.
        columns.clear();
        columns.extend_from_slice(splitting);
    }
    // Half the faces of a deep layer are cut by no line: straight to the output.
    if splitting.is_empty() {
        out.push(f as u32, verts, lines.iter().copied(), &bits);
        return;
    }
    polys.clear();
    table.clear();
    for i in 0..k {
        let (a, b) = (verts[i], verts[(i + 1) % k]);
        table.push(EdgeInfo {
            line: lines[i],
            support: ctx.edge_support(lines[i], a, b),
            parent: Some(i as u32),
        });
    }
    polys.push(Poly {
        verts: SmallVec::from_slice(verts),
        edges: (0..k as u32).collect(),
        bits,
    });
    // A face cut by many lines keeps proven masks per piece (and its new vertices get theirs):
    // most of its pieces are then passed over without a sign per vertex. With few lines the
    // masks cost more than they save (`EnumerateConfig::masks_from`).
    let use_masks = splitting.len() >= ctx.masks_from;
    local.want_masks = use_masks;
    if use_masks {
        // The face's masks are exact for every splitting neuron: nothing unsure.
        masks.clear();
        masks.extend_from_slice(pos);
        masks.extend_from_slice(neg);
        masks.resize(3 * words, 0);
    }
    zone.active = false;
    // Vertices made on each parent edge during this layer (shared with the neighbour face).
    for e in edge_verts.iter_mut() {
        e.clear();
    }
    if edge_verts.len() < k {
        edge_verts.resize(k, Vec::new());
    }
    for &j in splitting.iter() {
        if polys.len() > ctx.piece_limit {
            ctx.overflow
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        // Layer 0's lines are the same on every face (and layer 0 may be split in rounds).
        let line_j = LineKey::neuron(l, j, if l == 0 { 0 } else { f });
        if !zone.active && polys.len() >= ctx.zone_walk_from {
            zone.start(polys);
        }
        // Where line j crosses the parent boundary: the chord's two ends.
        let mut chord = [u32::MAX; 2];
        let mut ends = 0;
        let mut on_parent_edge: [(u32, u32); 2] = [(u32::MAX, u32::MAX); 2];
        // Parent edges whose crossing vertex is new (no piece knows it yet).
        let mut new_on_edge: SmallVec<[usize; 2]> = SmallVec::new();
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
                    let support = ctx.edge_support(lines[i], p, q);
                    let w =
                        local.edge_crossing(ctx, key, support, VertexDef::Meet(lines[i], line_j));
                    edge_verts[i].push(w);
                    new_on_edge.push(i);
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
        if ctx.first_round() {
            out.chords.push([j as u32, chord[0], chord[1]]);
            if j >= ctx.split_below {
                continue;
            }
        }
        let cut = table.len() as u32;
        table.push(EdgeInfo {
            line: line_j,
            support: ctx.edge_support(line_j, chord[0], chord[1]),
            parent: None,
        });
        interior.clear();
        if zone.active {
            walk_line(
                ctx,
                j,
                (cut, table),
                &chord,
                &new_on_edge,
                (verts, &edge_verts[..k]),
                &on_parent_edge,
                polys,
                zone,
                interior,
                signs,
                local,
            );
            continue;
        }
        // Split polygons in place (plus side replaces the polygon, minus side goes to the end):
        // untouched polygons are not moved.
        let before = polys.len();
        let (word, bit) = (j / 64, 1u64 << (j % 64));
        for p in 0..before {
            if use_masks {
                let m = &masks[3 * words * p..3 * words * (p + 1)];
                let (sure_pos, sure_neg) = (m[word] & bit != 0, m[words + word] & bit != 0);
                if m[2 * words + word] & bit == 0 && !(sure_pos && sure_neg) {
                    // Every vertex's sign proven, none of them opposite: no cut.
                    if sure_pos {
                        pattern::set(&mut polys[p].bits, j, true);
                    }
                    continue;
                }
            }
            let poly = &mut polys[p];
            let (pos, neg) = if before == 1 {
                // Still the whole face (nothing split yet): its corners' signs are known.
                signs.clear();
                signs.extend_from_slice(corner_signs);
                (signs.iter().any(|&s| s > 0), signs.iter().any(|&s| s < 0))
            } else {
                piece_signs(ctx, local, &poly.verts, j, signs)
            };
            if !(pos && neg) {
                if pos {
                    pattern::set(&mut poly.bits, j, true);
                }
                continue;
            }
            let poly = std::mem::take(poly);
            let (plus, minus) = split_poly(
                ctx,
                poly,
                signs,
                j,
                (cut, table),
                &on_parent_edge,
                interior,
                local,
            );
            polys[p] = plus;
            polys.push(minus);
            if !use_masks {
                continue;
            }
            piece_masks(
                ctx,
                local,
                &polys[p].verts,
                &mut masks[3 * words * p..3 * words * (p + 1)],
            );
            let at = masks.len();
            masks.resize(at + 3 * words, 0);
            piece_masks(ctx, local, &polys[polys.len() - 1].verts, &mut masks[at..]);
        }
    }
    if zone.active {
        fill_walked_bits(ctx, polys, &zone.walked, local, pos, neg);
    }
    if ctx.first_round() {
        insert_edge_vertices(ctx, local, verts, &mut edge_verts[..k], polys, table);
    }
    for p in polys.iter() {
        out.push(
            f as u32,
            &p.verts,
            p.edges.iter().map(|&e| table[e as usize].line),
            &p.bits,
        );
    }
}

/// The first round of a layer in two (`ctx.first_round()`) made the crossings of every line with
/// the parent face's edges, but cut only by its own lines: put the other crossings into the
/// pieces' edges, in order along each parent edge, so that the second round finds them as
/// vertices (and interpolates along their chords, as one round would).
fn insert_edge_vertices(
    ctx: &LayerCtx,
    local: &mut LocalVertices,
    corners: &[u32],
    edge_verts: &mut [Vec<u32>],
    polys: &mut [Poly],
    table: &[EdgeInfo],
) {
    let k = corners.len();
    // The neuron whose line made an edge vertex.
    let neuron = |local: &LocalVertices, v: u32| match local.def[(v - local.base) as usize] {
        VertexDef::Meet(_, line) => line.neuron as usize,
        other => unreachable!("an edge crossing defined as {other:?}"),
    };
    let mut position: FxHashMap<u32, usize> = FxHashMap::default();
    for (i, list) in edge_verts.iter_mut().enumerate() {
        let start = corners[i];
        // u comes before w (from the edge's start) when u is on the start's side of w's line:
        // exact signs, so the order is right even for crossings closer than float error.
        list.sort_by(|&u, &w| {
            if u == w {
                return std::cmp::Ordering::Equal;
            }
            let j = neuron(local, w);
            if local.sign(ctx, u, j) == local.sign(ctx, start, j) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        for (t, &v) in list.iter().enumerate() {
            position.insert(v, t + 1);
        }
    }
    for poly in polys.iter_mut() {
        if poly
            .edges
            .iter()
            .all(|&e| table[e as usize].parent.is_none())
        {
            continue;
        }
        let m = poly.verts.len();
        let mut verts = SmallVec::<[u32; 8]>::new();
        let mut edges = SmallVec::<[u32; 8]>::new();
        for t in 0..m {
            let (a, b, e) = (poly.verts[t], poly.verts[(t + 1) % m], poly.edges[t]);
            verts.push(a);
            edges.push(e);
            let Some(i) = table[e as usize].parent else {
                continue;
            };
            let i = i as usize;
            let list = &edge_verts[i];
            // Positions on parent edge i: its start 0, its crossings 1..=len, its end len + 1.
            let at = |v: u32| {
                if v == corners[i] {
                    0
                } else if v == corners[(i + 1) % k] {
                    list.len() + 1
                } else {
                    position[&v]
                }
            };
            for &v in &list[at(a)..at(b) - 1] {
                verts.push(v);
                edges.push(e);
            }
        }
        poly.verts = verts;
        poly.edges = edges;
    }
}

/// Walks line j through the pieces it touches, splitting those it cuts. The walk starts at the
/// pieces around the chord's ends (for an end just made on a parent edge: the pieces around that
/// edge's vertices) and moves to the pieces sharing a crossed edge or a vertex on the line; every
/// piece the line cuts is reached, since consecutive pieces along the line share such a point.
#[allow(clippy::too_many_arguments)]
fn walk_line(
    ctx: &LayerCtx,
    j: usize,
    cut: (u32, &[EdgeInfo]),
    chord: &[u32; 2],
    new_on_edge: &[usize],
    (corners, edge_verts): (&[u32], &[Vec<u32>]),
    on_parent_edge: &[(u32, u32); 2],
    polys: &mut Vec<Poly>,
    zone: &mut Zone,
    interior: &mut FxHashMap<(u32, u32), u32>,
    signs: &mut Vec<i8>,
    local: &mut LocalVertices,
) {
    zone.walked.push(j);
    let mark = zone.walked.len() as u32;
    let k = corners.len();
    zone.queue.clear();
    for &c in chord {
        zone.enqueue_around(c, mark);
    }
    for &i in new_on_edge {
        zone.enqueue_around(corners[i], mark);
        zone.enqueue_around(corners[(i + 1) % k], mark);
        for &v in &edge_verts[i] {
            zone.enqueue_around(v, mark);
        }
    }
    while let Some(p) = zone.queue.pop() {
        let (pos, neg) = piece_signs(ctx, local, &polys[p].verts, j, signs);
        let poly = &polys[p];
        let m = poly.verts.len();
        for (&v, &s) in poly.verts.iter().zip(signs.iter()) {
            if s == 0 {
                zone.enqueue_around(v, mark);
            }
        }
        if !(pos && neg) {
            continue;
        }
        // Pieces across the crossed edges: the ones holding both ends (besides this one).
        for i in 0..m {
            if signs[i] * signs[(i + 1) % m] < 0 {
                let (a, b) = (poly.verts[i], poly.verts[(i + 1) % m]);
                let across: SmallVec<[u32; 2]> = zone
                    .around
                    .get(&a)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&q| {
                        q as usize != p && zone.around.get(&b).is_some_and(|ps| ps.contains(&q))
                    })
                    .collect();
                for q in across {
                    if zone.stamp[q as usize] != mark {
                        zone.stamp[q as usize] = mark;
                        zone.queue.push(q as usize);
                    }
                }
            }
        }
        let poly = std::mem::take(&mut polys[p]);
        let old: SmallVec<[u32; 8]> = poly.verts.clone();
        let (plus, minus) = split_poly(ctx, poly, signs, j, cut, on_parent_edge, interior, local);
        let m_id = polys.len();
        zone.record_split(&old, &plus, &minus, p, m_id);
        zone.stamp.push(mark);
        polys[p] = plus;
        polys.push(minus);
    }
}

/// The bits of the walked neurons for every piece: the sign masks of its vertices, floats only,
/// until each walked neuron has a proven side (a piece is never cut, so any strict sign is its
/// side); exact signs only for neurons no vertex's float decides.
fn fill_walked_bits(
    ctx: &LayerCtx,
    polys: &mut [Poly],
    walked: &[usize],
    local: &mut LocalVertices,
    pos: &mut Vec<u64>,
    neg: &mut Vec<u64>,
) {
    let words = pattern::words(ctx.values.n);
    let mut mask: SmallVec<[u64; 4]> = SmallVec::from_elem(0, words);
    for &j in walked {
        pattern::set(&mut mask, j, true);
    }
    for poly in polys.iter_mut() {
        pos.clear();
        pos.resize(words, 0);
        neg.clear();
        neg.resize(words, 0);
        // One full row (the first vertex); the few neurons it leaves open (its own lines, mostly)
        // are read one by one from the other vertices.
        local.or_float_sign_masks(ctx, poly.verts[0], pos, neg);
        for w in 0..words {
            debug_assert_eq!(pos[w] & neg[w] & mask[w], 0, "a walked line cuts a piece");
            poly.bits[w] = (poly.bits[w] & !mask[w]) | (pos[w] & mask[w]);
        }
        for w in 0..words {
            let mut open = mask[w] & !(pos[w] | neg[w]);
            while open != 0 {
                let j = w * 64 + open.trailing_zeros() as usize;
                open &= open - 1;
                let float_side = poly.verts[1..].iter().find_map(|&v| {
                    let (z, e) = local.float(ctx, v, j);
                    (z > e || z < -e).then_some(z > 0.0)
                });
                let positive = float_side.unwrap_or_else(|| {
                    poly.verts
                        .iter()
                        .map(|&v| local.sign(ctx, v, j))
                        .find(|&s| s != 0)
                        .expect("a piece with an interior has a vertex off every line")
                        > 0
                });
                pattern::set(&mut poly.bits, j, positive);
            }
        }
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
