//! Vertices of a partition: float values with proven error bounds, exact definitions, and the
//! filtered sign predicate that every engine decision goes through.
//!
//! A vertex carries the f64 pre-activations `z̃` of the layer being processed and one bound `e`
//! with `|z̃_j − z_j| ≤ e` for every neuron j. The sign of `z_j` is read from the float when
//! `|z̃_j| > e` (Shewchuk's filtered predicate); otherwise the vertex's exact point is rebuilt
//! from the two boundaries that meet there and the exact pre-activations decide.
//!
//! Bounds: a vertex made on a support segment (p, q) where neuron j changes sign is at parameter
//! `s* = z_j(p) / (z_j(p) − z_j(q))`; with `E = max(e_p, e_q)` the float `s̃` satisfies
//! `|s̃ − s*| ≤ E / (|z̃_j(p)| + |z̃_j(q)|) + 3u`, so every interpolated value is off by at most
//! `E + |s̃ − s*|·(max_k|z̃_k(q) − z̃_k(p)| + e_p + e_q) + 4u·max_k(|z̃_k(p)| + |z̃_k(q)|)` (the
//! parameter error multiplies the true spread `|z_k(q) − z_k(p)|`, at most the float one plus
//! `e_p + e_q`). Supports are always segments whose endpoints were computed directly (parent
//! edges, or chords of a boundary across its parent face), so errors never compound along chains
//! of splits.

use super::refine::{self, FloatLine, FloatMap};
use super::refine_dd::{self, DdMap};
use super::values::{
    norm_of_entry_bound, norm_of_sum, row_max, row_sign_masks, row_sign_masks_entry, LayerValues,
};
use crate::exact::maps::{LayerRows, SmallLayer};
use crate::exact::number::ratio_to_f64_fast;
use crate::exact::point::{intersect_lines, root_1d};
use crate::exact::{ExactNet, ExactPoint, LineEq};
use crate::pattern;
use crate::restrict::FloatLayer;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const U: f64 = f64::EPSILON / 2.0;

/// The boundary an edge or vertex lies on.
///
/// `layer == 0`: side `neuron` of the domain. `layer == l + 1`: neuron `neuron` of hidden
/// layer `l`, as an affine function on parent face `face` (a face of the partition at the start
/// of layer `l`), whose pattern fixes the function exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineKey {
    pub layer: u32,
    pub neuron: u32,
    pub face: u32,
}

impl LineKey {
    pub fn side(k: usize) -> LineKey {
        LineKey {
            layer: 0,
            neuron: k as u32,
            face: 0,
        }
    }

    pub fn neuron(layer: usize, neuron: usize, face: usize) -> LineKey {
        LineKey {
            layer: (layer + 1) as u32,
            neuron: neuron as u32,
            face: face as u32,
        }
    }

    /// The hidden layer and neuron, or `None` for a side of the domain.
    pub fn hidden_neuron(&self) -> Option<(usize, usize)> {
        (self.layer > 0).then(|| (self.layer as usize - 1, self.neuron as usize))
    }
}

/// How a vertex is defined exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VertexDef {
    /// Corner `k` of the domain.
    Corner(u32),
    /// The meeting point of two boundaries (d = 2).
    Meet(LineKey, LineKey),
    /// The zero of one boundary function (d = 1).
    Root(LineKey),
}

/// Everything needed to rebuild any vertex exactly: the exact network, the patterns of every
/// parent face of every layer, the domain, and a cache of boundary equations.
pub struct ExactGeometry {
    pub net: Arc<ExactNet>,
    pub offsets: Vec<usize>,
    pub stride: usize,
    /// `archive[l]`: patterns (stride words each) of the faces at the start of hidden layer l.
    pub archive: Vec<Arc<Vec<u64>>>,
    pub corners: Vec<ExactPoint>,
    pub sides: Vec<LineEq>,
    lines: Mutex<HashMap<LineKey, Arc<LineEq>>>,
    /// Exact maps of the faces that needed exact work, and of their ancestors, for the whole run
    /// (see [`Self::face_map`]; dropped when the enumeration ends).
    maps: Mutex<HashMap<(usize, u32), Arc<FaceMap>>>,
    /// Each hidden layer's weights in i128 when they fit.
    /// Each hidden layer in i128 where it fits, made on first use (only exact fallbacks need
    /// them, and converting a deep network's weights costs tens of milliseconds).
    small: Vec<std::sync::OnceLock<SmallLayer>>,
    /// Layer 0's map (the same on every face), made on first use.
    first: std::sync::OnceLock<Arc<LayerRows>>,
    /// `parents[l][f]`: the face of the mesh at layer `l − 1` that face f of the mesh at layer l
    /// came from (`parents[0]` is empty).
    pub parents: Vec<Arc<Vec<u32>>>,
    /// The hidden layers in f64, for re-anchoring vertices (`engine::refine`); `None` when
    /// that tier is off.
    float: Option<Arc<Vec<FloatLayer>>>,
    /// f64 maps of the faces whose vertices were re-anchored, and of their ancestors (keyed as
    /// `maps`, but holding layer l's own map on the face).
    float_maps: Mutex<HashMap<(usize, u32), Arc<FloatMap>>>,
    float_first: std::sync::OnceLock<Arc<FloatMap>>,
    /// The double-double tier (segments only; `None` when off): its maps, keyed as
    /// `float_maps`, and per hidden layer whether its floats are its exact weights.
    dd: Option<DdTier>,
    /// Test switch: check every re-anchored vertex against its exact values (panics on a
    /// mismatch).
    pub check_refinements: bool,
    /// Test switch: skip the f64 tier of re-anchoring (see `EnumerateConfig`).
    pub double_only: bool,
    /// Units of each hidden layer: rows from `units[l]` on pass values through, and their
    /// signs are never needed (a pass-through value is often exactly 0: a ReLU's output
    /// carried past a layer), so re-anchoring does not wait for them.
    pub units: Vec<usize>,
}

/// State of the double-double tier of re-anchoring (`engine::refine_dd`).
struct DdTier {
    first: std::sync::OnceLock<Arc<DdMap>>,
    maps: Mutex<HashMap<(usize, u32), Arc<DdMap>>>,
}

/// The exact affine map `rows / q` of hidden layer `l − 1`'s pre-activations on a face of the
/// mesh at the start of layer `l` (in i128 while it fits). A face's map is its parent face's
/// next-layer map, so the faces of one parent share it and a face deep in the network costs one
/// layer of products once its ancestors' maps are known.
struct FaceMap {
    rows: Arc<LayerRows>,
    q: num_bigint::BigInt,
    /// The rows as equations (for boundaries), made on first use.
    eqs: std::sync::OnceLock<Vec<LineEq>>,
    /// Layer `l`'s map on the face (this face's pattern for layer `l − 1`), made on first use.
    next: std::sync::OnceLock<Arc<LayerRows>>,
}

impl FaceMap {
    fn eqs(&self) -> &[LineEq] {
        self.eqs
            .get_or_init(|| (0..self.rows.len()).map(|i| self.rows.eq(i)).collect())
    }

    /// Layer `l`'s map on face `face` (mesh at layer `l`), this being the face's map.
    fn next(&self, geo: &ExactGeometry, l: usize, face: u32) -> &Arc<LayerRows> {
        if let Some(rows) = self.next.get() {
            return rows;
        }
        // Made outside `get_or_init`: a wide layer's product runs on rayon's pool, whose
        // waiting thread may run another face's job that asks for this same map, and a
        // re-entrant `get_or_init` deadlocks. Two threads may both make it (the same exact
        // rows); the first stored is kept.
        let rows = Arc::new(
            self.rows
                .next(&geo.net.hidden[l], geo.small_layer(l), &|j| {
                    geo.active_before(l, face, j)
                }),
        );
        let _ = self.next.set(rows);
        self.next.get().expect("stored above or by another thread")
    }
}

impl ExactGeometry {
    /// `float`: the hidden layers in f64 for re-anchoring (2-D only; `None` turns it off).
    pub fn new(
        net: Arc<ExactNet>,
        offsets: Vec<usize>,
        stride: usize,
        corners: Vec<ExactPoint>,
        sides: Vec<LineEq>,
        float: Option<Arc<Vec<FloatLayer>>>,
    ) -> Self {
        let small = net
            .hidden
            .iter()
            .map(|_| std::sync::OnceLock::new())
            .collect();
        // Double-double maps are written for segments (rows `[a, c]`).
        let dd = (float.is_some() && net.d == 1).then(|| DdTier {
            first: std::sync::OnceLock::new(),
            maps: Mutex::new(HashMap::new()),
        });
        ExactGeometry {
            offsets,
            stride,
            archive: Vec::new(),
            corners,
            sides,
            lines: Mutex::new(HashMap::new()),
            maps: Mutex::new(HashMap::new()),
            first: std::sync::OnceLock::new(),
            net,
            small,
            parents: Vec::new(),
            float,
            float_maps: Mutex::new(HashMap::new()),
            float_first: std::sync::OnceLock::new(),
            dd,
            check_refinements: false,
            double_only: false,
            units: Vec::new(),
        }
    }

    fn small_layer(&self, l: usize) -> &SmallLayer {
        self.small[l].get_or_init(|| SmallLayer::new(&self.net.hidden[l]))
    }

    fn face_pattern(&self, layer: usize, face: usize) -> &[u64] {
        &self.archive[layer][face * self.stride..(face + 1) * self.stride]
    }

    /// The exact map of layer `l − 1` on face `face` of the mesh at the start of layer `l ≥ 1`
    /// (cached with its ancestors': the exact fallbacks of a face and of its descendants share
    /// them; boundaries and vertex values built from a map cost one layer of products each).
    fn face_map(&self, l: usize, face: u32) -> Arc<FaceMap> {
        if let Some(m) = self.maps.lock().expect("map cache").get(&(l, face)) {
            return m.clone();
        }
        let rows = if l == 1 {
            self.first
                .get_or_init(|| Arc::new(LayerRows::first(&self.net)))
                .clone()
        } else {
            let parent = self.parents[l][face as usize];
            self.face_map(l - 1, parent)
                .next(self, l - 1, parent)
                .clone()
        };
        let m = Arc::new(FaceMap {
            q: rows.q(),
            rows,
            eqs: std::sync::OnceLock::new(),
            next: std::sync::OnceLock::new(),
        });
        self.maps
            .lock()
            .expect("map cache")
            .entry((l, face))
            .or_insert(m)
            .clone()
    }

    /// The map of hidden layer `l − 1` on face `face` of the mesh at layer `l ≥ 1`: layer by
    /// layer from the input, in i128 while the integers fit (not cached: for writing every
    /// boundary of a partition, where caching every face's map would hold too much memory).
    fn face_rows(&self, l: usize, face: u32) -> LayerRows {
        let bits = self.face_pattern(l, face as usize);
        let mut rows = LayerRows::first(&self.net);
        for k in 1..l {
            rows = rows.next(&self.net.hidden[k], self.small_layer(k), &|j| {
                pattern::get(bits, self.offsets[k - 1] + j)
            });
        }
        rows
    }

    /// Forgets the face maps (once the enumeration is done; boundaries stay cached).
    pub fn clear_maps(&self) {
        self.maps.lock().expect("map cache").clear();
        self.float_maps.lock().expect("float map cache").clear();
        if let Some(dd) = &self.dd {
            dd.maps.lock().expect("double-double map cache").clear();
        }
    }

    /// Whether neuron j of hidden layer `l − 1` is active on face `face` (mesh at layer l).
    fn active_before(&self, l: usize, face: u32, j: usize) -> bool {
        pattern::get(self.face_pattern(l, face as usize), self.offsets[l - 1] + j)
    }

    /// The exact equation of a boundary (cached).
    pub fn line(&self, key: LineKey) -> Arc<LineEq> {
        if let Some(eq) = self.lines.lock().expect("line cache").get(&key) {
            return eq.clone();
        }
        let eq = Arc::new(match key.hidden_neuron() {
            None => self.sides[key.neuron as usize].clone(),
            Some((0, i)) => self.net.neuron_line(0, i, &|_, _| true),
            Some((l, i)) => {
                let map = self.face_map(l, key.face);
                self.net.line_on_map(l, i, map.eqs(), &map.q, &|j| {
                    self.active_before(l, key.face, j)
                })
            }
        });
        self.lines
            .lock()
            .expect("line cache")
            .insert(key, eq.clone());
        eq
    }

    /// Computes the equations of many boundaries at once: one exact layer map per parent face.
    pub fn prefetch_lines(&self, keys: impl IntoIterator<Item = LineKey>) {
        let mut groups: HashMap<(usize, u32), Vec<u32>> = HashMap::new();
        {
            let cache = self.lines.lock().expect("line cache");
            for key in keys {
                if let Some((l, i)) = key.hidden_neuron() {
                    if l > 0 && !cache.contains_key(&key) {
                        groups.entry((l, key.face)).or_default().push(i as u32);
                    }
                }
            }
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_unstable();
        let found: Vec<(LineKey, Arc<LineEq>)> = groups
            .par_iter()
            .flat_map_iter(|((l, face), neurons)| {
                let bits = self.face_pattern(*l, *face as usize);
                let offsets = &self.offsets;
                let map = self.face_rows(*l, *face);
                let (rows, q): (Vec<LineEq>, _) =
                    ((0..map.len()).map(|i| map.eq(i)).collect(), map.q());
                let mut out = Vec::with_capacity(neurons.len());
                let mut seen = neurons.clone();
                seen.sort_unstable();
                seen.dedup();
                for &i in &seen {
                    let eq = self.net.line_on_map(*l, i as usize, &rows, &q, &|j| {
                        pattern::get(bits, offsets[l - 1] + j)
                    });
                    out.push((
                        LineKey::neuron(*l, i as usize, *face as usize),
                        Arc::new(eq),
                    ));
                }
                out
            })
            .collect();
        let mut cache = self.lines.lock().expect("line cache");
        cache.extend(found);
    }

    /// The exact point of a vertex.
    pub fn point(&self, def: &VertexDef) -> ExactPoint {
        match def {
            VertexDef::Corner(k) => self.corners[*k as usize].clone(),
            VertexDef::Meet(a, b) => {
                let (la, lb) = (self.line(*a), self.line(*b));
                intersect_lines(&la, &lb).unwrap_or_else(|| {
                    panic!("boundaries {a:?} and {b:?} are parallel but were recorded as meeting")
                })
            }
            VertexDef::Root(a) => root_1d(&self.line(*a))
                .unwrap_or_else(|| panic!("boundary {a:?} is constant but was recorded as a root")),
        }
    }

    /// Proven values of hidden layer `layer` at a vertex of face `face` (a face of the mesh at
    /// the start of that layer whose closure holds the vertex): re-anchored in floats when those
    /// prove every sign, else exact.
    pub fn values(&self, def: &VertexDef, layer: usize, face: u32) -> ProvenValues {
        let float = if self.double_only {
            None
        } else {
            self.float_values(def, layer, face)
        };
        let refined = float.or_else(|| self.dd_values(def, layer, face));
        if let Some(x) = refined {
            if self.check_refinements {
                let exact = self.exact_values(def, layer, face);
                assert_eq!(
                    x.signs, exact.signs,
                    "re-anchored signs at {def:?}, layer {layer}"
                );
                let e = x.err.max(exact.err);
                for (a, b) in x.z.iter().zip(&exact.z) {
                    assert!(
                        (a - b).abs() <= 2.0 * e,
                        "re-anchored value {a} against {b}"
                    );
                }
            }
            return x;
        }
        self.exact_values(def, layer, face)
    }

    /// The float tier of [`Self::values`] (`engine::refine`): `None` when some sign is not
    /// proven (or the tier is off).
    fn float_values(&self, def: &VertexDef, layer: usize, face: u32) -> Option<ProvenValues> {
        self.float.as_ref()?;
        // (In 1-D the point is (t, 0) and every map's second coefficient is 0.)
        let (p, eps) = match def {
            VertexDef::Corner(k) => {
                let p = self.corners[*k as usize].to_f64();
                let y = p.get(1).copied().unwrap_or(0.0);
                // Rounded within an ulp (2u relative) by the exact conversion.
                let eps = |x: f64| 4.0 * U * x.abs() + f64::MIN_POSITIVE;
                (
                    [p[0], y],
                    [eps(p[0]), if p.len() > 1 { eps(y) } else { 0.0 }],
                )
            }
            VertexDef::Meet(a, b) => refine::meet(&self.float_line(*a)?, &self.float_line(*b)?)?,
            VertexDef::Root(a) => {
                let (t, e) = refine::root(&self.float_line(*a)?)?;
                ([t, 0.0], [e, 0.0])
            }
        };
        let dim = if matches!(def, VertexDef::Root(_)) {
            1
        } else {
            self.corners.first().map_or(2, |c| c.num.len())
        };
        let map = self.float_map(layer, face);
        let (mut z, mut e) = (Vec::new(), Vec::new());
        map.eval(p, eps, &mut z, &mut e);
        let mut signs = Vec::with_capacity(z.len());
        let units = self.units.get(layer).copied().unwrap_or(usize::MAX);
        for (k, (&zk, &ek)) in z.iter().zip(&e).enumerate() {
            signs.push(if on_own_line(def, layer, k) {
                0
            } else if k >= units {
                // A pass-through row: its sign is never read.
                0
            } else if zk > ek {
                1
            } else if zk < -ek {
                -1
            } else {
                return None;
            });
        }
        // (Every bound checked, NaN included: `f64::max` would skip a NaN.)
        if e.iter().chain(&z).any(|x| !x.is_finite()) {
            return None;
        }
        let err = e.iter().fold(0.0f64, |m, &x| m.max(x));
        // The coordinates are for pictures, lengths and timing only (no decision reads them;
        // interpolated vertices' are not bounded at all): the meet's floats unless they are
        // loose, then the exact point rounded. (At 1e-12 most of a deep network's re-anchored
        // vertices took the exact point, and the six-layer run went from 13 to 35 ms.)
        // (On a segment the float root is kept up to 1e-3: the exact root needs the exact map of
        // the face, which on a deep network costs more than the whole float tier.)
        let tol = if dim == 1 { 1e-3 } else { 1e-6 };
        let close = |c: usize| eps[c] <= tol * (1.0 + p[c].abs());
        let xy = if (0..dim).all(close) {
            p[..dim].to_vec()
        } else {
            self.point(def).to_f64()
        };
        Some(ProvenValues {
            signs,
            z,
            err,
            xy,
            exact: false,
            double: false,
        })
    }

    /// The double-double tier of [`Self::values`] (`engine::refine_dd`; a root on a segment):
    /// `None` when some sign is not proven, a layer's floats are not its exact weights, or the
    /// tier is off.
    fn dd_values(&self, def: &VertexDef, layer: usize, face: u32) -> Option<ProvenValues> {
        let VertexDef::Root(key) = def else {
            return None;
        };
        let (line_layer, neuron) = key.hidden_neuron()?;
        let line_map = self.dd_map(line_layer, key.face)?;
        let line = (line_map.rows[neuron], line_map.bounds[neuron]);
        let at = self.dd_map(layer, face)?.at_root(line)?;
        let units = self.units.get(layer).copied().unwrap_or(usize::MAX);
        let mut signs = Vec::with_capacity(at.len());
        let (mut z, mut err) = (Vec::with_capacity(at.len()), 0.0f64);
        for (k, &(zk, ek, sign)) in at.iter().enumerate() {
            signs.push(if on_own_line(def, layer, k) || k >= units {
                0
            } else {
                sign?
            });
            if !(zk.is_finite() && ek.is_finite()) {
                return None;
            }
            z.push(zk);
            err = err.max(ek);
        }
        let t = -line.0[1].hi / line.0[0].hi;
        Some(ProvenValues {
            signs,
            z,
            err,
            xy: vec![t],
            exact: false,
            double: true,
        })
    }

    /// Hidden layer `l`'s double-double map on face `face` of the mesh at layer l (cached like
    /// [`Self::float_map`]); `None` when the tier is off or a layer up to l is not exact in f64.
    fn dd_map(&self, l: usize, face: u32) -> Option<Arc<DdMap>> {
        let dd = self.dd.as_ref()?;
        if l == 0 {
            return Some(
                dd.first
                    .get_or_init(|| {
                        let layer = &self.net.hidden[0];
                        let w: Vec<_> = (0..layer.n_out)
                            .map(|i| layer.w.row(i).vals[0].clone())
                            .collect();
                        Arc::new(DdMap::first(&w, &layer.b, &layer.den))
                    })
                    .clone(),
            );
        }
        let float = &self.float_layers()[l];
        if !refine_dd::layer_is_exact(float) {
            return None;
        }
        if let Some(m) = dd
            .maps
            .lock()
            .expect("double-double map cache")
            .get(&(l, face))
        {
            return Some(m.clone());
        }
        let parent = self.parents[l][face as usize];
        let map = Arc::new(
            self.dd_map(l - 1, parent)?
                .next(float, |j| self.active_before(l, face, j)),
        );
        Some(
            dd.maps
                .lock()
                .expect("double-double map cache")
                .entry((l, face))
                .or_insert(map)
                .clone(),
        )
    }

    fn float_layers(&self) -> &[FloatLayer] {
        self.float.as_deref().expect("re-anchoring is on")
    }

    /// Hidden layer `l`'s f64 map on face `face` of the mesh at layer l (cached with its
    /// ancestors'; layer 0's is the same on every face).
    fn float_map(&self, l: usize, face: u32) -> Arc<FloatMap> {
        if l == 0 {
            return self
                .float_first
                .get_or_init(|| Arc::new(FloatMap::first(&self.float_layers()[0])))
                .clone();
        }
        if let Some(m) = self
            .float_maps
            .lock()
            .expect("float map cache")
            .get(&(l, face))
        {
            return m.clone();
        }
        let parent = self.parents[l][face as usize];
        let map = Arc::new(
            self.float_map(l - 1, parent)
                .next(&self.float_layers()[l], |j| self.active_before(l, face, j)),
        );
        self.float_maps
            .lock()
            .expect("float map cache")
            .entry((l, face))
            .or_insert(map)
            .clone()
    }

    /// A boundary as a float line with coefficient bounds (`None` if a side's integers overflow).
    fn float_line(&self, key: LineKey) -> Option<FloatLine> {
        match key.hidden_neuron() {
            None => {
                let side = &self.sides[key.neuron as usize];
                let one = num_bigint::BigInt::from(1);
                let f = |x: &num_bigint::BigInt| ratio_to_f64_fast(x, &one);
                let second = side.a.get(1).map_or(0.0, f);
                let coef = [f(&side.a[0]), second, f(&side.c)];
                coef.iter().all(|x| x.is_finite()).then(|| FloatLine {
                    coef,
                    // Within 1.01 ulp (ratio_to_f64_fast): 4u relative covers it.
                    bound: coef.map(|x| 4.0 * U * x.abs()),
                })
            }
            Some((l, i)) => Some(self.float_map(l, key.face).line(i)),
        }
    }

    /// Exact values (big integers) of hidden layer `layer` at a vertex of face `face`, with
    /// their rounded floats.
    fn exact_values(&self, def: &VertexDef, layer: usize, face: u32) -> ProvenValues {
        let p = self.point(def);
        let (num, den) = if layer == 0 {
            let mut acts = self.net.forward(&p, 0);
            (acts.num.swap_remove(0), acts.den.swap_remove(0))
        } else {
            let map = self.face_map(layer, face);
            let active = |j: usize| self.active_before(layer, face, j);
            if map.rows.is_small() {
                // This layer's map on the face in i128 (while it fits), then each neuron at p.
                let next = map.next(self, layer, face);
                let num = (0..next.len()).map(|i| next.eval(i, &p)).collect();
                (num, next.q() * &p.den)
            } else {
                // Big integers: one layer of products from the previous layer's values at p
                // (a third of the work of this layer's whole map, measured faster here).
                self.net.layer_at(layer, map.eqs(), &map.q, &active, &p)
            }
        };
        let z: Vec<f64> = num.iter().map(|x| ratio_to_f64_fast(x, &den)).collect();
        // Pass-through rows' signs are never read: 0, as the float tier gives them.
        let units = self.units.get(layer).copied().unwrap_or(usize::MAX);
        let signs = num
            .iter()
            .enumerate()
            .map(|(k, x)| if k >= units { 0 } else { sign_of(x) })
            .collect();
        let zmax = z.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        ProvenValues {
            signs,
            // Within 1.01 ulp (ratio_to_f64_fast), down to the subnormal range.
            err: 8.0 * U * zmax + 4.0 * f64::MIN_POSITIVE,
            z,
            xy: p.to_f64(),
            exact: true,
            double: false,
        }
    }
}

fn sign_of(x: &num_bigint::BigInt) -> i8 {
    match x.sign() {
        num_bigint::Sign::Plus => 1,
        num_bigint::Sign::Minus => -1,
        num_bigint::Sign::NoSign => 0,
    }
}

/// One layer's pre-activations at one vertex with every sign proven: exactly, or by floats
/// re-anchored at the vertex (`engine::refine`).
#[derive(Debug, Clone)]
pub struct ProvenValues {
    pub signs: Vec<i8>,
    /// Floats within `err` of the exact values: better floats for the rest of the run.
    pub z: Vec<f64>,
    pub err: f64,
    /// The vertex's coordinates.
    pub xy: Vec<f64>,
    /// Whether big integers were needed (an exact fallback) or floats proved every sign.
    pub exact: bool,
    /// Whether the floats were double-double (`engine::refine_dd`).
    pub double: bool,
}

/// `out = p + s·(q − p)`, returning max_k |q_k − p_k| and Σ_k (q_k − p_k)² (NaN differences
/// are ignored by the maximum, as with `f64::max`; a NaN value never passes a sign test, so no
/// bound relies on it). With AVX where the processor has it (the same operations in the same
/// order, so the same bits).
fn interpolate_row(p: &[f64], q: &[f64], s: f64, out: &mut [f64]) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if super::values::has_avx() {
        // SAFETY: AVX is present.
        return unsafe { interpolate_row_avx(p, q, s, out) };
    }
    interpolate_row_portable(p, q, s, out)
}

/// [`interpolate_row`] with AVX: a multiply then an add (never fused), as in the portable loop;
/// `max_pd(d, m)` is `d > m ? d : m`, so a NaN difference is skipped.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn interpolate_row_avx(p: &[f64], q: &[f64], s: f64, out: &mut [f64]) -> (f64, f64) {
    use std::arch::x86_64::*;
    let n = p.len().min(q.len()).min(out.len());
    let (sv, sign) = (_mm256_set1_pd(s), _mm256_set1_pd(-0.0));
    let (mut lanes, mut squares) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let quads = n / 4;
    for i in 0..quads {
        // SAFETY: 4i + 3 < n, within all three slices.
        unsafe {
            let a = _mm256_loadu_pd(p.as_ptr().add(4 * i));
            let diff = _mm256_sub_pd(_mm256_loadu_pd(q.as_ptr().add(4 * i)), a);
            let o = _mm256_add_pd(a, _mm256_mul_pd(sv, diff));
            _mm256_storeu_pd(out.as_mut_ptr().add(4 * i), o);
            lanes = _mm256_max_pd(_mm256_andnot_pd(sign, diff), lanes);
            squares = _mm256_add_pd(squares, _mm256_mul_pd(diff, diff));
        }
    }
    let (mut folded, mut sq) = ([0.0f64; 4], [0.0f64; 4]);
    // SAFETY: four f64 are written to each four-f64 array.
    unsafe {
        _mm256_storeu_pd(folded.as_mut_ptr(), lanes);
        _mm256_storeu_pd(sq.as_mut_ptr(), squares);
    }
    interpolate_tail(p, q, s, out, 4 * quads..n, folded, sq)
}

/// [`interpolate_row`] without vector instructions (four lanes, which vectorise where they can).
fn interpolate_row_portable(p: &[f64], q: &[f64], s: f64, out: &mut [f64]) -> (f64, f64) {
    let n = p.len().min(q.len()).min(out.len());
    let (mut lanes, mut sq) = ([0.0f64; 4], [0.0f64; 4]);
    let full = n / 4 * 4;
    for i in (0..full).step_by(4) {
        let (a, b) = (&p[i..i + 4], &q[i..i + 4]);
        let mut o = [0.0f64; 4];
        for l in 0..4 {
            let diff = b[l] - a[l];
            o[l] = a[l] + s * diff;
            let ad = diff.abs();
            lanes[l] = if ad > lanes[l] { ad } else { lanes[l] };
            sq[l] += diff * diff;
        }
        out[i..i + 4].copy_from_slice(&o);
    }
    interpolate_tail(p, q, s, out, full..n, lanes, sq)
}

/// The entries past the last full group of four, and the lanes folded (in one order for both
/// loops).
fn interpolate_tail(
    p: &[f64],
    q: &[f64],
    s: f64,
    out: &mut [f64],
    tail: std::ops::Range<usize>,
    lanes: [f64; 4],
    sq: [f64; 4],
) -> (f64, f64) {
    let mut max_diff = lanes.iter().fold(0.0f64, |m, &x| m.max(x));
    let mut sum = (sq[0] + sq[1]) + (sq[2] + sq[3]);
    for k in tail {
        let diff = q[k] - p[k];
        out[k] = p[k] + s * diff;
        max_diff = max_diff.max(diff.abs());
        sum += diff * diff;
    }
    (max_diff, sum)
}

/// [`interpolate_row`] for the given columns only, returning the largest of their differences.
fn interpolate_columns(p: &[f64], q: &[f64], s: f64, out: &mut [f64], columns: &[usize]) -> f64 {
    let mut max_diff = 0.0f64;
    for &k in columns {
        let diff = q[k] - p[k];
        out[k] = p[k] + s * diff;
        max_diff = max_diff.max(diff.abs());
    }
    max_diff
}

/// A bound on the error of the parameter s = z_p / (z_p − z_q) where neuron j vanishes between
/// two vertices whose floats z_p, z_q (within e_p, e_q) have proven opposite signs: the bounds
/// over the spread (s is monotone in each value, so its extremes are at the bounds' ends,
/// and there it moves by at most this much), plus the rounding of s.
fn parameter_error(zp: f64, ep: f64, zq: f64, eq: f64) -> f64 {
    ep.max(eq) / (zp.abs() + zq.abs()) + 3.0 * U
}

/// The bound on the 2-norm of an interpolated row's error vector: the terms of the entry
/// bound in 2-norms. The ends' norms `np`, `nq` (a convex combination), the parameter's error
/// `sigma` times the true spread's norm (at most the float spread's `diff_norm` plus both
/// ends'), and rounding (4u of |p_k| + |q_k| each: at most √n·(M_p + M_q) in 2-norm, with M the
/// rows' maxima), with underflow.
fn interpolated_norm(
    (np, nq): (f64, f64),
    (mp, mq): (f64, f64),
    sigma: f64,
    diff_norm: f64,
    n: usize,
) -> f64 {
    let root_n = (n as f64).sqrt();
    (np.max(nq) + sigma * (diff_norm + np + nq) + 4.0 * U * root_n * (mp + mq)) * (1.0 + 16.0 * U)
        + 8.0 * root_n * f64::MIN_POSITIVE
}

/// Interpolation with one bound per neuron: `p`, `q` are rows of n values then n bounds, `out`
/// gets the new vertex's (the given columns only, when `columns` is set). `sigma` bounds the
/// error of the parameter s. Entry k's bound: the ends' (a convex combination of them), the
/// parameter's error times the true difference (the float one plus both ends' bounds), and
/// rounding. Returns the largest bound written.
fn interpolate_entry(
    p: &[f64],
    q: &[f64],
    n: usize,
    s: f64,
    sigma: f64,
    out: &mut [f64],
    columns: Option<&[usize]>,
) -> f64 {
    let (pz, pe) = p.split_at(n);
    let (qz, qe) = q.split_at(n);
    let (oz, oe) = out.split_at_mut(n);
    let entry = |k: usize| {
        let diff = qz[k] - pz[k];
        let (ep, eq) = (pe[k], qe[k]);
        let e =
            (ep.max(eq) + sigma * (diff.abs() + ep + eq) + 4.0 * U * (pz[k].abs() + qz[k].abs()))
                * (1.0 + 16.0 * U)
                + 8.0 * f64::MIN_POSITIVE;
        (pz[k] + s * diff, e)
    };
    let mut largest = 0.0f64;
    match columns {
        Some(columns) => {
            for &k in columns {
                (oz[k], oe[k]) = entry(k);
                largest = largest.max(oe[k]);
            }
        }
        None => {
            // A plain loop over whole rows (it vectorises); the largest bound after it.
            for k in 0..n {
                (oz[k], oe[k]) = entry(k);
            }
            largest = oe.iter().fold(0.0f64, |m, &e| m.max(e));
        }
    }
    largest
}

/// Shared, read-only state for processing the faces of one layer in parallel.
pub struct LayerCtx<'a> {
    pub layer: usize,
    pub d: usize,
    pub geo: &'a ExactGeometry,
    pub defs: &'a [VertexDef],
    pub xy: &'a [f64],
    pub values: &'a LayerValues,
    /// Each vertex's row in `values` (looked up once per layer: the hot paths read rows of old
    /// vertices, which the store keeps in many blocks).
    rows: Vec<&'a [f64]>,
    /// Proven values computed for old (global) vertices during this layer.
    pub global_exact: Mutex<HashMap<u32, Arc<ProvenValues>>>,
    /// Vertices whose values needed big integers, and vertices re-anchored in floats.
    pub fallbacks: AtomicUsize,
    pub refinements: AtomicUsize,
    /// Of `refinements`, those proven in double-double.
    pub double_refinements: AtomicUsize,
    /// The last hidden layer: new vertices' rows are dropped once their run is done (no next
    /// layer reads them), which keeps peak memory down and lets the allocator reuse pages.
    pub last: bool,
    /// See [`crate::EnumerateConfig::zone_walk_from`].
    pub zone_walk_from: usize,
    /// See [`crate::EnumerateConfig::masks_from`].
    pub masks_from: usize,
    /// Only neurons in `split_from..split_below` split faces: layer 0 is split in two rounds
    /// (see `enumerate_mesh`), and the faces of the second round already have the first round's
    /// bits (their vertices lie on those lines, where floats cannot decide).
    pub split_from: usize,
    pub split_below: usize,
    /// Rows `units..` of the layer pass values through: they never split a face and their bit
    /// is always 1.
    pub units: usize,
    /// A face split into more pieces than this stops the layer (the run's region or memory
    /// limit), setting `overflow`: one face can be cut by thousands of lines.
    pub piece_limit: usize,
    pub overflow: std::sync::atomic::AtomicBool,
    /// Layer 0 split in rounds: `line_supports[i]`, the ends of neuron i's chord across the
    /// domain (or `u32::MAX` twice); see [`Self::edge_support`].
    pub line_supports: Vec<(u32, u32)>,
    /// The mesh's faces (`face_start`, `face_verts`), for `home_face`.
    pub faces: (&'a [u32], &'a [u32]),
    /// New vertices a face made at the previous layer, on average (sizes each run's buffers;
    /// 4 when unknown).
    pub new_vertices_per_face: f64,
    home: std::sync::OnceLock<Vec<u32>>,
}

impl<'a> LayerCtx<'a> {
    pub fn new(
        layer: usize,
        d: usize,
        geo: &'a ExactGeometry,
        defs: &'a [VertexDef],
        xy: &'a [f64],
        values: &'a LayerValues,
    ) -> Self {
        LayerCtx {
            layer,
            d,
            geo,
            defs,
            xy,
            values,
            rows: (0..values.rows.len()).map(|v| values.row(v)).collect(),
            global_exact: Mutex::new(HashMap::new()),
            fallbacks: AtomicUsize::new(0),
            refinements: AtomicUsize::new(0),
            double_refinements: AtomicUsize::new(0),
            last: false,
            zone_walk_from: 512,
            masks_from: 16,
            split_from: 0,
            split_below: usize::MAX,
            units: values.n,
            piece_limit: usize::MAX,
            overflow: std::sync::atomic::AtomicBool::new(false),
            line_supports: Vec::new(),
            faces: (&[], &[]),
            new_vertices_per_face: 4.0,
            home: std::sync::OnceLock::new(),
        }
    }

    /// The first of a layer's two rounds (some of its neurons are left for the second): each
    /// line's chord across its face is recorded (`FaceOut::chords`), and the lines left for later
    /// only get their crossings with the face's edges.
    pub fn first_round(&self) -> bool {
        self.split_below < self.values.n
    }

    /// The segment along which to interpolate new vertices on the edge (a, b) of boundary
    /// `line`: (a, b) itself, except in the second round of layer 0, where an edge on a
    /// first-round line uses that line's chord across the domain. Those ends are the ones a
    /// single round would use: every new vertex stays two interpolations from exact values, and
    /// its error bound that small. (Edges on the domain's sides need nothing: the first round
    /// already made every line's crossings with them.)
    #[inline]
    pub fn edge_support(&self, line: LineKey, a: u32, b: u32) -> (u32, u32) {
        match line.hidden_neuron() {
            Some((0, i))
                if !self.line_supports.is_empty() && self.line_supports[i].0 != u32::MAX =>
            {
                self.line_supports[i]
            }
            _ => (a, b),
        }
    }

    pub fn base(&self) -> u32 {
        self.defs.len() as u32
    }

    /// The first face (in mesh order) with old vertex v as a corner: the face an old vertex's
    /// values are proven on, whichever face asks. (Re-anchored floats depend on the face's map;
    /// they become the vertex's row for the next layer, so they must not depend on which thread
    /// asked first.) Made on first use, once per layer.
    fn home_face(&self, v: u32) -> u32 {
        self.home.get_or_init(|| {
            let (start, verts) = self.faces;
            let mut home = vec![u32::MAX; self.defs.len()];
            for f in 0..start.len().saturating_sub(1) {
                for &w in &verts[start[f] as usize..start[f + 1] as usize] {
                    let h = &mut home[w as usize];
                    if *h == u32::MAX {
                        *h = f as u32;
                    }
                }
            }
            home
        })[v as usize]
    }

    fn global_exact(&self, v: u32, asking: u32) -> Arc<ProvenValues> {
        if let Some(x) = self.global_exact.lock().expect("exact cache").get(&v) {
            return x.clone();
        }
        let face = match self.home_face(v) {
            u32::MAX => asking,
            home => home,
        };
        let x = Arc::new(self.geo.values(&self.defs[v as usize], self.layer, face));
        // Two threads may compute the same vertex; count it once (the report is deterministic).
        match self.global_exact.lock().expect("exact cache").entry(v) {
            std::collections::hash_map::Entry::Occupied(e) => e.get().clone(),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.count(&x);
                e.insert(x).clone()
            }
        }
    }

    /// Counts a vertex whose values were proven outside the filtered test.
    fn count(&self, x: &ProvenValues) {
        let counter = if x.exact {
            &self.fallbacks
        } else {
            &self.refinements
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if x.double {
            self.double_refinements.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether a vertex is by definition on the zero set of neuron j of hidden layer `layer`: its
/// sign there is 0, no exact work needed. The line may be neuron j's on another parent face than
/// the one being split: a vertex made on a face's line lies in that face's closure,
/// where the line is where the network's z_j vanishes, and z_j is continuous, so it is 0 at the
/// vertex whichever face holds it (a crossing of a shared parent edge, made once per run, is on
/// both faces' lines). (In the second round of layer 0, the pieces' vertices lie on the first
/// round's lines.)
fn on_own_line(def: &VertexDef, layer: usize, j: usize) -> bool {
    let is_line = |key: &LineKey| key.hidden_neuron() == Some((layer, j));
    match def {
        VertexDef::Meet(a, b) => is_line(a) || is_line(b),
        VertexDef::Root(a) => is_line(a),
        VertexDef::Corner(_) => false,
    }
}

/// ORs the strictly positive entries of `signs` into `pos` and the strictly negative ones into
/// `neg` (bit j = neuron j).
fn or_sign_masks_of(signs: &[i8], pos: &mut [u64], neg: &mut [u64]) {
    for (j, &s) in signs.iter().enumerate() {
        pos[j / 64] |= ((s > 0) as u64) << (j % 64);
        neg[j / 64] |= ((s < 0) as u64) << (j % 64);
    }
}

/// Vertices made while processing one parent face. Ids below `base` are old (global) vertices;
/// `base + k` is local vertex k.
pub struct LocalVertices {
    pub base: u32,
    /// The parent face being split (exact fallbacks use its pattern).
    pub face: u32,
    pub n: usize,
    /// Entries per row: n values, then with `entry` their n bounds (see [`LayerValues::entry`]).
    pub stride: usize,
    pub entry: bool,
    pub d: usize,
    /// Rows of local vertices `z_first..` (earlier rows were dropped, see [`Self::drop_rows`]).
    pub z: Vec<f64>,
    pub z_first: usize,
    pub err: Vec<f64>,
    /// Bounds on the 2-norms of the local rows' error vectors ([`LayerValues::norm`]).
    pub norm: Vec<f64>,
    pub xy: Vec<f64>,
    pub def: Vec<VertexDef>,
    /// For vertices on a parent edge (p, q): the key (p, q, neuron) shared with the neighbour.
    pub shared_key: Vec<Option<(u32, u32, u32)>>,
    pub exact: Vec<Option<Arc<ProvenValues>>>,
    /// An upper bound on max_k |z̃_k| of each local row.
    pub row_max: Vec<f64>,
    /// Each local vertex's float-proven strictly positive neurons, then its strictly negative
    /// ones (`words` each; exact signs for a vertex made exactly), made with its row when
    /// `want_masks` is set (else zeros: nothing proven): the split of a face cut by many lines
    /// passes over the pieces these prove a line misses ([`Self::proven_masks`]).
    pub masks: Vec<u64>,
    pub want_masks: bool,
    /// Last layer: the only neurons whose values new rows need (the face's splitting neurons,
    /// set per face; no later layer reads the rows). The other entries are NaN, which no sign
    /// test accepts, so a read of one would only cost an exact fallback.
    pub columns: Option<Vec<usize>>,
    /// Crossings of parent edges made so far in this run, by (edge ends, neuron): a face whose
    /// neighbour across an edge came earlier in the run reuses its crossing instead of making a
    /// second copy (which the merge would drop). Not in the last layer, whose rows are dropped
    /// face by face.
    edge_cache: Option<rustc_hash::FxHashMap<(u32, u32, u32), u32>>,
}

impl LocalVertices {
    pub fn new(ctx: &LayerCtx) -> Self {
        // Room for the new vertices a run of faces is likely to make: a run of the 256-wide
        // network makes about three a face, and growing a Vec of 2 KiB rows copies them all; a
        // deep narrow network's about half a vertex a face, where allocating four (and
        // searching the heap for blocks that size) took 9 % of the run.
        let expected = (ctx.new_vertices_per_face * 1.25 + 0.25).clamp(0.25, 4.0);
        let rows = (expected * super::FACES_PER_TASK as f64).ceil() as usize;
        const ROWS: usize = 4 * super::FACES_PER_TASK;
        let rows = rows.min(ROWS);
        LocalVertices {
            base: ctx.base(),
            face: 0,
            n: ctx.values.n,
            stride: ctx.values.stride(),
            entry: ctx.values.entry,
            d: ctx.d,
            z: Vec::with_capacity(rows * ctx.values.stride()),
            z_first: 0,
            err: Vec::with_capacity(rows),
            norm: Vec::with_capacity(rows),
            xy: Vec::with_capacity(rows * ctx.d),
            def: Vec::with_capacity(rows),
            shared_key: Vec::with_capacity(rows),
            exact: Vec::with_capacity(rows),
            row_max: Vec::with_capacity(rows),
            masks: Vec::with_capacity(rows * 2 * pattern::words(ctx.values.n)),
            want_masks: false,
            columns: ctx.last.then(Vec::new),
            edge_cache: (!ctx.last).then(Default::default),
        }
    }

    pub fn len(&self) -> usize {
        self.def.len()
    }

    pub fn is_empty(&self) -> bool {
        self.def.is_empty()
    }

    /// Forgets the rows of the vertices made so far (last layer: once a face is done, no one
    /// reads them again), so one face's rows are reused in cache instead of faulting in new pages.
    pub fn drop_rows(&mut self) {
        self.z.clear();
        self.z_first = self.len();
    }

    fn local(&self, v: u32) -> Option<usize> {
        v.checked_sub(self.base).map(|k| k as usize)
    }

    fn row_max_of(&self, ctx: &LayerCtx, v: u32) -> f64 {
        match self.local(v) {
            Some(k) => self.row_max[k],
            None => ctx.values.row_max[v as usize],
        }
    }

    fn norm_of(&self, ctx: &LayerCtx, v: u32) -> f64 {
        match self.local(v) {
            Some(k) => self.norm[k],
            None => ctx.values.norm[v as usize],
        }
    }

    /// Raw float value and bound of neuron j at v (no exact data consulted).
    pub(crate) fn float(&self, ctx: &LayerCtx, v: u32, j: usize) -> (f64, f64) {
        let row = match self.local(v) {
            Some(k) => {
                let r = (k - self.z_first) * self.stride;
                if !self.entry {
                    return (self.z[r + j], self.err[k]);
                }
                &self.z[r..r + self.stride]
            }
            None if !self.entry => return (ctx.rows[v as usize][j], ctx.values.err[v as usize]),
            None => ctx.rows[v as usize],
        };
        (row[j], row[self.n + j])
    }

    /// The exact sign of neuron j's pre-activation at vertex v: float when proven, else exact.
    /// (Inlined: the float test is a few instructions and runs several times per face; the
    /// exact work is out of line.)
    #[inline(always)]
    pub fn sign(&mut self, ctx: &LayerCtx, v: u32, j: usize) -> i8 {
        match self.local(v) {
            Some(k) => {
                if let Some(x) = &self.exact[k] {
                    return x.signs[j];
                }
                let r = (k - self.z_first) * self.stride;
                let z = self.z[r + j];
                let e = if self.entry {
                    self.z[r + self.n + j]
                } else {
                    self.err[k]
                };
                // Without a branch on the sign (which is as likely one way as the other): the
                // only branch is the rare unproven case.
                let s = (z > e) as i8 - (z < -e) as i8;
                if s != 0 {
                    s
                } else {
                    self.exact_sign_local(ctx, k, j)
                }
            }
            None => {
                let (pos, neg) = ctx.values.masks(v as usize);
                let s = pattern::get(pos, j) as i8 - pattern::get(neg, j) as i8;
                if s != 0 {
                    s
                } else {
                    self.exact_sign_global(ctx, v, j)
                }
            }
        }
    }

    /// [`Self::sign`] where the float of local vertex k cannot decide.
    #[cold]
    #[inline(never)]
    fn exact_sign_local(&mut self, ctx: &LayerCtx, k: usize, j: usize) -> i8 {
        if on_own_line(&self.def[k], ctx.layer, j) {
            return 0;
        }
        let x = Arc::new(ctx.geo.values(&self.def[k], ctx.layer, self.face));
        ctx.count(&x);
        let s = x.signs[j];
        self.exact[k] = Some(x);
        s
    }

    /// [`Self::sign`] where the float of old vertex v cannot decide.
    #[cold]
    #[inline(never)]
    fn exact_sign_global(&self, ctx: &LayerCtx, v: u32, j: usize) -> i8 {
        if on_own_line(&ctx.defs[v as usize], ctx.layer, j) {
            return 0;
        }
        ctx.global_exact(v, self.face).signs[j]
    }

    /// ORs vertex v's strictly positive neurons into `pos` and strictly negative ones into `neg`
    /// (bit j = neuron j): one pass over its row, exact signs only where the float is unsure
    /// and only for neurons from `ctx.split_from` on (the others may be left unset).
    pub fn or_sign_masks(&mut self, ctx: &LayerCtx, v: u32, pos: &mut [u64], neg: &mut [u64]) {
        if !self.or_float_sign_masks(ctx, v, pos, neg) {
            for j in ctx.split_from..ctx.units {
                let (z, e) = self.float(ctx, v, j);
                if !(z > e || z < -e) {
                    let s = self.sign(ctx, v, j);
                    pos[j / 64] |= ((s > 0) as u64) << (j % 64);
                    neg[j / 64] |= ((s < 0) as u64) << (j % 64);
                }
            }
        }
    }

    /// The float-only part of [`Self::or_sign_masks`] (exact signs already known are used):
    /// returns whether every neuron's sign was decided.
    pub fn or_float_sign_masks(
        &self,
        ctx: &LayerCtx,
        v: u32,
        pos: &mut [u64],
        neg: &mut [u64],
    ) -> bool {
        let n = self.n;
        match self.local(v) {
            Some(k) => {
                if let Some(x) = self.exact[k].as_ref() {
                    or_sign_masks_of(&x.signs, pos, neg);
                    return true;
                }
                let r = (k - self.z_first) * self.stride;
                if self.entry {
                    row_sign_masks_entry(&self.z[r..r + n], &self.z[r + n..r + 2 * n], pos, neg)
                } else {
                    row_sign_masks(&self.z[r..r + n], self.err[k], pos, neg)
                }
            }
            None => {
                // Old vertices: masks made with the layer's values.
                let (p, q) = ctx.values.masks(v as usize);
                if let ([a], [b], [p], [q]) = (&mut *pos, &mut *neg, p, q) {
                    // One word (up to 64 neurons): no loop.
                    *a |= p;
                    *b |= q;
                } else {
                    for (a, b) in pos.iter_mut().zip(p) {
                        *a |= b;
                    }
                    for (a, b) in neg.iter_mut().zip(q) {
                        *a |= b;
                    }
                }
                ctx.values.decided[v as usize]
            }
        }
    }

    /// Vertex v's float-proven strictly positive neurons and strictly negative ones (`words`
    /// each), and whether those are all its neurons. No exact work: a neuron in neither set may
    /// have any sign.
    #[inline]
    pub fn proven_masks<'s>(&'s self, ctx: &'s LayerCtx, v: u32) -> (&'s [u64], &'s [u64], bool) {
        let words = pattern::words(self.n);
        match self.local(v) {
            Some(k) => {
                let m = &self.masks[k * 2 * words..(k + 1) * 2 * words];
                (&m[..words], &m[words..], false)
            }
            None => {
                let (p, q) = ctx.values.masks(v as usize);
                (p, q, ctx.values.decided[v as usize])
            }
        }
    }

    /// The vertex where neuron j crosses the parent edge `key = (p, q, j)` (p < q), interpolated
    /// along `support`: the one an earlier face of this run made on the same edge, if any.
    pub fn edge_crossing(
        &mut self,
        ctx: &LayerCtx,
        key: (u32, u32, u32),
        support: (u32, u32),
        def: VertexDef,
    ) -> u32 {
        if let Some(&w) = self.edge_cache.as_ref().and_then(|c| c.get(&key)) {
            // Both faces on this edge are in this run, so no other run makes this crossing:
            // the merge numbers it without looking its key up.
            self.shared_key[(w - self.base) as usize] = None;
            return w;
        }
        let w = self.interpolate(ctx, support.0, support.1, key.2 as usize, def, Some(key));
        if let Some(cache) = self.edge_cache.as_mut() {
            cache.insert(key, w);
        }
        w
    }

    /// Makes the vertex where neuron j vanishes on the support segment (p, q), whose endpoints
    /// have strictly opposite exact signs for j. Its exact definition is `def`.
    pub fn interpolate(
        &mut self,
        ctx: &LayerCtx,
        p: u32,
        q: u32,
        j: usize,
        def: VertexDef,
        shared_key: Option<(u32, u32, u32)>,
    ) -> u32 {
        let (p, q) = if p <= q { (p, q) } else { (q, p) };
        let (zp, ep) = self.float(ctx, p, j);
        let (zq, eq) = self.float(ctx, q, j);
        let id = self.base + self.def.len() as u32;
        let proven = (zp > ep && zq < -eq) || (zp < -ep && zq > eq);
        if !proven {
            self.push_exact(ctx, &def);
        } else {
            let (n, stride) = (self.n, self.stride);
            let (mp, mq) = (self.row_max_of(ctx, p), self.row_max_of(ctx, q));
            let (np, nq) = (self.norm_of(ctx, p), self.norm_of(ctx, q));
            let start = self.z.len();
            let fill = if self.columns.is_some() {
                f64::NAN
            } else {
                0.0
            };
            self.z.resize(start + stride, fill);
            // Rows of local endpoints live below `start`; global ones in the layer values.
            let (old, new) = self.z.split_at_mut(start);
            let z_first = self.z_first;
            let row = |v: u32| -> &[f64] {
                match v.checked_sub(self.base) {
                    Some(k) => {
                        &old[(k as usize - z_first) * stride..(k as usize - z_first + 1) * stride]
                    }
                    None => ctx.rows[v as usize],
                }
            };
            let (rp, rq) = (row(p), row(q));
            let s = zp / (zp - zq);
            let sigma = parameter_error(zp, ep, zq, eq);
            // The spread's 2-norm ‖q − p‖₂, for the error vector's (rows of the last layer,
            // which no later layer reads, have no norm).
            // (With bounds per neuron, which the layers bounded through norms do not use, √n
            // times the largest entry bound.)
            let mut diff_norm = f64::INFINITY;
            let e = if self.entry {
                let e = interpolate_entry(rp, rq, n, s, sigma, new, self.columns.as_deref());
                new[n + j] = 0.0;
                e
            } else {
                let max_diff = match &self.columns {
                    Some(columns) => interpolate_columns(rp, rq, s, new, columns),
                    None => {
                        let (max_diff, sum_sq) = interpolate_row(rp, rq, s, new);
                        diff_norm = norm_of_sum(sum_sq, n);
                        max_diff
                    }
                };
                // The spread along the support (max_diff) is what the parameter error
                // multiplies: short supports have small spreads. Rounding is bounded through
                // the row maxima, and the new row's maximum is ≤ max(M_p, M_q) (a convex
                // combination, up to rounding). The last term covers underflow (products in
                // the subnormal range). σ multiplies the true spread, which exceeds the float
                // one by at most e_p + e_q.
                (ep.max(eq) + sigma * (max_diff + ep + eq) + 4.0 * U * (mp + mq)) * (1.0 + 16.0 * U)
                    + 8.0 * f64::MIN_POSITIVE
            };
            new[j] = 0.0;
            // (A row of the last layer holds only some columns, NaN elsewhere: no bound.)
            let norm = if self.columns.is_some() {
                f64::INFINITY
            } else {
                interpolated_norm((np, nq), (mp, mq), sigma, diff_norm, n)
                    .min(norm_of_entry_bound(e, n))
            };
            self.norm.push(norm);
            self.row_max.push(mp.max(mq) * (1.0 + 4.0 * U));
            self.err.push(e);
            let (at, words) = (self.masks.len(), pattern::words(n));
            self.masks.resize(at + 2 * words, 0);
            if self.want_masks {
                let (pos, neg) = self.masks[at..].split_at_mut(words);
                if self.entry {
                    row_sign_masks_entry(&new[..n], &new[n..], pos, neg);
                } else {
                    row_sign_masks(new, e, pos, neg);
                }
            }
            let (d, base) = (self.d, self.base);
            let coord = |xy: &[f64], v: u32, c: usize| match v.checked_sub(base) {
                Some(k) => xy[k as usize * d + c],
                None => ctx.xy[v as usize * d + c],
            };
            for c in 0..d {
                let (a, b) = (coord(&self.xy, p, c), coord(&self.xy, q, c));
                self.xy.push(a + s * (b - a));
            }
            self.exact.push(None);
        }
        self.def.push(def);
        self.shared_key.push(shared_key);
        id
    }

    /// The row of a new vertex whose support's floats cannot show the sign change: made from
    /// its definition (re-anchored, or exactly).
    #[cold]
    #[inline(never)]
    fn push_exact(&mut self, ctx: &LayerCtx, def: &VertexDef) {
        let x = ctx.geo.values(def, ctx.layer, self.face);
        ctx.count(&x);
        self.z.extend_from_slice(&x.z);
        if self.entry {
            self.z.extend(std::iter::repeat_n(x.err, self.n));
        }
        self.err.push(x.err);
        self.norm.push(norm_of_entry_bound(x.err, self.n));
        self.row_max.push(row_max(&x.z));
        let (at, words) = (self.masks.len(), pattern::words(self.n));
        self.masks.resize(at + 2 * words, 0);
        let (pos, neg) = self.masks[at..].split_at_mut(words);
        or_sign_masks_of(&x.signs, pos, neg);
        self.xy.extend_from_slice(&x.xy);
        self.exact.push(Some(Arc::new(x)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_neuron_interpolation_bounds_cover_exact_arithmetic() {
        use num_rational::BigRational;
        use num_traits::{Signed, Zero};
        use rand::{RngExt, SeedableRng};
        let exact = |x: f64| BigRational::from_float(x).expect("finite");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut tight = 0;
        for case in 0..400 {
            let n = rng.random_range(1..12usize);
            let j = rng.random_range(0..n);
            let mut row = |sign: f64| -> Vec<f64> {
                let mut z: Vec<f64> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
                let e: Vec<f64> = (0..n)
                    .map(|_| 10f64.powf(rng.random_range(-12.0..-1.0)))
                    .collect();
                // Neuron j's sign proven: |z_j| > e_j.
                z[j] = sign * (e[j] * rng.random_range(1.01..1e3));
                z.extend(e);
                z
            };
            let (p, q) = (row(1.0), row(-1.0));
            let (zp, ep, zq, eq) = (p[j], p[n + j], q[j], q[n + j]);
            let s = zp / (zp - zq);
            let sigma = parameter_error(zp, ep, zq, eq);
            let mut out = vec![0.0; 2 * n];
            interpolate_entry(&p, &q, n, s, sigma, &mut out, None);
            for _ in 0..8 {
                // True ends: each value at one end of its bound.
                let end = |r: &[f64], rng: &mut rand_chacha::ChaCha8Rng| -> Vec<BigRational> {
                    (0..n)
                        .map(|k| {
                            let e = exact(r[n + k]);
                            exact(r[k]) + if rng.random_bool(0.5) { e } else { -e }
                        })
                        .collect()
                };
                let (tp, tq) = (end(&p, &mut rng), end(&q, &mut rng));
                let t = &tp[j] / (&tp[j] - &tq[j]);
                for k in (0..n).filter(|&k| k != j) {
                    let truth = &tp[k] + &t * (&tq[k] - &tp[k]);
                    let off = (exact(out[k]) - &truth).abs();
                    let bound = exact(out[n + k]);
                    assert!(off <= bound, "case {case}, neuron {k}");
                    if off * BigRational::from_integer(2.into()) > bound {
                        tight += 1;
                    }
                }
                assert!(!(&tp[j] - &tq[j]).is_zero());
            }
        }
        // The bounds are not loose by orders of magnitude: many cases come within 2×.
        assert!(tight > 100, "only {tight} cases within 2× of their bound");
    }

    /// The 2-norm bound of an interpolated row holds against exact arithmetic: true ends
    /// anywhere within their error vectors' 2-norms (and the crossing neuron's within its entry
    /// bound), with errors spread over every neuron, put on the crossing one (where they move
    /// the root most), or off it and equal at both ends (where the ends' own norms are the
    /// whole error).
    #[test]
    fn interpolated_norm_covers_exact_arithmetic() {
        use num_rational::BigRational;
        use num_traits::Zero;
        use rand::{RngExt, SeedableRng};
        let exact = |x: f64| BigRational::from_float(x).expect("finite");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut tight = 0;
        for case in 0..400 {
            let n = rng.random_range(1..40usize);
            let j = rng.random_range(0..n);
            let scale = 10f64.powf(rng.random_range(-13.0..-2.0));
            let (on_root, off_root) = (case % 3 == 0, case % 3 == 1);
            let shared: Vec<f64> = (0..n)
                .map(|k| {
                    if k == j {
                        0.0
                    } else {
                        rng.random_range(-1.0..1.0) * scale
                    }
                })
                .collect();
            let mut end = |sign: f64| -> (Vec<f64>, Vec<f64>) {
                let delta: Vec<f64> = if off_root {
                    shared.clone()
                } else {
                    (0..n)
                        .map(|k| {
                            let x = rng.random_range(-1.0..1.0) * scale;
                            if on_root && k != j {
                                x * 1e-6
                            } else {
                                x
                            }
                        })
                        .collect()
                };
                let e = delta.iter().fold(0.0f64, |m, d| m.max(d.abs())) * (1.0 + 1e-12);
                let mut z: Vec<f64> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
                z[j] = if off_root {
                    sign * rng.random_range(0.5..3.0)
                } else {
                    sign * e * rng.random_range(1.01..1e3)
                };
                (z, delta)
            };
            let ((p, dp), (q, dq)) = (end(1.0), end(-1.0));
            // The crossing neuron's bounds: the largest entry's (one bound per vertex), or its
            // own where the errors are off it (bounds per neuron).
            let entry = |d: &[f64]| {
                let e = if off_root {
                    d[j].abs()
                } else {
                    d.iter().fold(0.0f64, |m, x| m.max(x.abs()))
                };
                e * (1.0 + 1e-12) + f64::MIN_POSITIVE
            };
            let (ep, eq) = (entry(&dp), entry(&dq));
            let (np, nq) = (
                super::super::values::norm2_up(&dp),
                super::super::values::norm2_up(&dq),
            );
            let s = p[j] / (p[j] - q[j]);
            let sigma = parameter_error(p[j], ep, q[j], eq);
            let mut out = vec![0.0; n];
            let (_, sum_sq) = interpolate_row(&p, &q, s, &mut out);
            out[j] = 0.0;
            let bound = interpolated_norm(
                (np, nq),
                (row_max(&p), row_max(&q)),
                sigma,
                norm_of_sum(sum_sq, n),
                n,
            );
            let tp: Vec<BigRational> = (0..n).map(|k| exact(p[k]) + exact(dp[k])).collect();
            let tq: Vec<BigRational> = (0..n).map(|k| exact(q[k]) + exact(dq[k])).collect();
            assert!(!(&tp[j] - &tq[j]).is_zero());
            let t = &tp[j] / (&tp[j] - &tq[j]);
            let mut off_sq = BigRational::zero();
            for k in 0..n {
                let truth = &tp[k] + &t * (&tq[k] - &tp[k]);
                let off = exact(out[k]) - truth;
                off_sq += &off * &off;
            }
            let b = exact(bound);
            assert!(off_sq <= &b * &b, "case {case}");
            if off_sq * BigRational::from_integer(16.into()) > &b * &b {
                tight += 1;
            }
        }
        assert!(tight > 50, "only {tight} cases within 4× of their bound");
    }

    #[test]
    fn interpolate_columns_matches_the_row_on_its_columns() {
        let n = 37;
        let p: Vec<f64> = (0..n).map(|k| (k as f64 * 0.61).sin() * 5.0).collect();
        let q: Vec<f64> = (0..n).map(|k| (k as f64 * 0.23).cos() - 0.25).collect();
        let (mut row, mut part) = (vec![0.0; n], vec![f64::NAN; n]);
        interpolate_row(&p, &q, 0.375, &mut row);
        let columns = [0usize, 5, 6, 36];
        let max_diff = interpolate_columns(&p, &q, 0.375, &mut part, &columns);
        for k in 0..n {
            if columns.contains(&k) {
                assert_eq!(part[k], row[k]);
            } else {
                assert!(part[k].is_nan());
            }
        }
        let expected = columns
            .iter()
            .map(|&k| (q[k] - p[k]).abs())
            .fold(0.0, f64::max);
        assert_eq!(max_diff, expected);
    }

    #[test]
    fn interpolate_row_matches_the_plain_loop() {
        for n in [1usize, 3, 4, 7, 64, 129] {
            let p: Vec<f64> = (0..n).map(|k| (k as f64 * 0.37).sin() * 3.0).collect();
            let q: Vec<f64> = (0..n)
                .map(|k| (k as f64 * 1.91).cos() * 2.0 - 0.5)
                .collect();
            let s = 0.3125;
            let mut out = vec![0.0; n];
            let got = interpolate_row(&p, &q, s, &mut out);
            let mut portable = vec![0.0; n];
            let got_portable = interpolate_row_portable(&p, &q, s, &mut portable);
            assert_eq!(got.0.to_bits(), got_portable.0.to_bits(), "n {n}");
            assert_eq!(got.1.to_bits(), got_portable.1.to_bits(), "n {n}");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&out), bits(&portable), "n {n}");
            let (mut expected_max, mut expected_sq) = (0.0f64, 0.0f64);
            for k in 0..n {
                let diff = q[k] - p[k];
                assert_eq!(out[k], p[k] + s * diff, "n {n} k {k}");
                expected_max = expected_max.max(diff.abs());
                expected_sq += diff * diff;
            }
            assert_eq!(got.0, expected_max, "n {n}");
            assert!((got.1 - expected_sq).abs() <= 1e-13 * expected_sq, "n {n}");
            assert!(norm_of_sum(got.1, n) >= expected_sq.sqrt(), "n {n}");
        }
        // NaN and infinite entries: the vector and portable loops agree bit for bit.
        let p = [1.0, f64::NAN, -2.0, 0.5, f64::INFINITY, 3.0, -0.0];
        let q = [f64::NAN, 1.0, 2.0, -0.5, 1.0, f64::NEG_INFINITY, 0.0];
        let (mut a, mut b) = ([0.0; 7], [0.0; 7]);
        let (x, y) = (
            interpolate_row(&p, &q, 0.75, &mut a),
            interpolate_row_portable(&p, &q, 0.75, &mut b),
        );
        assert_eq!(x.0.to_bits(), y.0.to_bits());
        assert_eq!(x.1.to_bits(), y.1.to_bits());
        assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
    }
}
