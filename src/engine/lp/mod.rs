//! The general-dimension engine: every region is a polytope (halfspaces plus a strictly interior
//! witness) split neuron by neuron, with certified LP feasibility decisions
//! (docs/guide.md#engines).
//!
//! Layer by layer, each cell is handled on its own (in parallel, results in cell order): the
//! exact affine map of every neuron of the layer on the cell follows from the parent's map and
//! the cell's pattern (`maps.rs`, the incremental form of
//! [`crate::exact::ExactNet::layer_map`]). For each neuron, the signs at the points already known
//! inside the cell (its witness, centres found by earlier LPs) often show both sides; only when
//! they do not, one LP asks whether the missing side has interior points
//! ([`feasibility::Decider::interior`], certified both ways). Neurons that cut the cell then
//! split it, sub-cell by sub-cell, with the same test. A neuron whose map is constant, or whose
//! other side has empty interior, does not split (docs/guide.md#regions: strict activation,
//! regions with empty interior never count). When facets are asked for, the halfspaces of each
//! new cell are made irredundant after a split: a point that violates one halfspace alone proves
//! it is a facet (carried from the parent or found by a sibling), otherwise one certified LP
//! decides. Otherwise a new cell drops only the halfspaces whose planes miss a proven box around
//! it (no facet can: the others still define the cell).
//!
//! Invariants: a cell's `cons` define it exactly and include all its facets (irredundant, each
//! with a certificate point, when facets are asked for); `known[0]` is its witness and every
//! known point is strictly inside it (proven); cells are in a deterministic order (parent
//! order, then split order), whatever the thread count.
//!
//! Facet convention: each facet `LineEq { a, c }` is the closed halfspace `a·t + c ≥ 0` of the
//! region (its interior has `a·t + c > 0`); integers, defined up to a positive factor.
//!
//! Cost: about one LP per (cell, neuron) that does not cut the cell plus one per halfspace of
//! each new cell; 0.6 µs per certified 3-D LP. benchmarks/README.md has the figures.

// Dense numeric kernels read best with index loops.
#![allow(clippy::needless_range_loop)]

mod adjacency;
pub mod feasibility;
mod primal;
pub(crate) mod simplex;

pub use feasibility::LpBackend;

use crate::engine::{EnumerateConfig, ProgressSink};
use crate::error::{Error, Result};
use crate::exact::maps::{LayerRows, SmallLayer};
use crate::exact::point::line_through;
use crate::exact::{polytope, ExactPoint, LineEq};
use crate::pattern;
use crate::restrict::Restricted;
use crate::slice::Domain;
use feasibility::{Con, Decider, Interior, Pt};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use rayon::prelude::*;
use std::cmp::Ordering;
use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;

/// The largest slice dimension the engine accepts (cost grows quickly with d).
pub const MAX_DIM: usize = 8;

/// The largest dimension in which regions get exact vertices and volumes (the vertex count of a
/// region, and so the cost, grows quickly with d).
pub const GEOMETRY_MAX_DIM: usize = 4;

/// Options of the lp engine only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LpOptions {
    pub backend: LpBackend,
    /// Exact vertices and volume of every region (d ≤ [`GEOMETRY_MAX_DIM`] only; costs more
    /// than the enumeration, so off by default).
    pub exact_geometry: bool,
    /// The adjacent pairs of regions ([`LpPartition::adjacent`]).
    pub adjacency: bool,
    /// Each region's irredundant [`LpRegion::facets`] (always on with `exact_geometry`). Off,
    /// the regions come without facets and the last layer's cells keep the halfspaces their
    /// other facets imply: a count does not need them, and it saves the last layer's
    /// redundancy LPs, most of the LPs of a run. Off, no layer's cells are made irredundant
    /// (halfspaces whose planes miss a cell's box are still dropped); adjacency does not need
    /// it (`adjacency.rs`).
    pub facets: bool,
}

impl Default for LpOptions {
    fn default() -> Self {
        LpOptions {
            backend: LpBackend::Dense,
            exact_geometry: false,
            adjacency: false,
            facets: true,
        }
    }
}

/// One activation region as a polytope.
#[derive(Debug, Clone)]
pub struct LpRegion {
    /// Activation bits over all hidden neurons (see [`crate::pattern`]).
    pub pattern: Vec<u64>,
    /// Irredundant facets, each the closed halfspace `a·t + c ≥ 0` (empty when
    /// [`LpOptions::facets`] and `exact_geometry` were off).
    pub facets: Vec<LineEq>,
    /// A point strictly inside (proven).
    pub witness: ExactPoint,
    /// Exact vertices with the indices of the facets through each (d ≤ [`GEOMETRY_MAX_DIM`],
    /// when [`LpOptions::exact_geometry`] asks for them), sorted lexicographically.
    pub vertices: Option<Vec<polytope::Vertex>>,
    /// Exact d-volume (d ≤ [`GEOMETRY_MAX_DIM`], when asked for).
    pub volume: Option<BigRational>,
}

/// All regions of a restricted network on a domain, from the lp engine.
#[derive(Debug, Clone)]
pub struct LpPartition {
    pub dim: usize,
    pub widths: Vec<usize>,
    /// Units of each hidden layer (its first rows; the rest pass values through).
    pub split: Vec<usize>,
    pub regions: Vec<LpRegion>,
    /// Regions after each hidden layer.
    pub per_layer: Vec<usize>,
    pub complete: bool,
    /// True when every decision was proven (always, in this engine; kept for reports).
    pub certified: bool,
    /// Float LPs solved.
    pub lp_solves: usize,
    /// Decisions the float filters could not prove, decided exactly instead.
    pub exact_fallbacks: usize,
    /// LPs decided by the exact rational simplex (a subset of the fallbacks).
    pub exact_lps: usize,
    /// Pairs of regions (a < b, sorted) whose closures share a (d−1)-dimensional piece, when
    /// [`LpOptions::adjacency`] asked for them and the run is complete.
    pub adjacent: Option<Vec<(u32, u32)>>,
}

/// The numbers a report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LpCounts {
    pub activation_regions: usize,
    pub per_layer: Vec<usize>,
    pub complete: bool,
    pub certified: bool,
    pub lp_solves: usize,
    pub exact_fallbacks: usize,
}

impl LpPartition {
    pub fn counts(&self) -> LpCounts {
        LpCounts {
            activation_regions: self.regions.len(),
            per_layer: self.per_layer.clone(),
            complete: self.complete,
            certified: self.certified,
            lp_solves: self.lp_solves,
            exact_fallbacks: self.exact_fallbacks,
        }
    }

    pub fn neurons(&self) -> usize {
        self.widths.iter().sum()
    }

    /// Whether the exact region volumes sum to `total` (`None` when they were not computed).
    /// The sum stays an unreduced fraction: reducing it would cost far more than the geometry.
    pub fn volumes_sum_to(&self, total: &BigRational) -> Option<bool> {
        let parts: Option<Vec<(BigInt, BigInt)>> = self
            .regions
            .iter()
            .map(|r| {
                r.volume
                    .as_ref()
                    .map(|v| (v.numer().clone(), v.denom().clone()))
            })
            .collect();
        let (num, den) = crate::exact::number::sum_fractions(parts?);
        Some(num * total.denom() == den * total.numer())
    }

    /// The pattern of region r as '0'/'1', neuron order layer by layer.
    pub fn pattern_string(&self, r: usize) -> String {
        pattern::to_unit_string(&self.regions[r].pattern, &self.widths, &self.split)
    }

    /// Checks the partition's invariants with code independent of the enumeration: each
    /// witness is strictly inside its facets (when the regions carry them) and has its region's
    /// pattern (exact forward pass, strict activation), patterns are distinct, and, when volumes
    /// are present and the run is complete, they sum exactly to the domain's volume. The first
    /// failure is named.
    pub fn check(
        &self,
        net: &crate::exact::ExactNet,
        domain: &Domain,
    ) -> std::result::Result<(), String> {
        let n = self.neurons();
        let layers = net.hidden.len();
        let mut seen = std::collections::HashSet::new();
        for (k, r) in self.regions.iter().enumerate() {
            if let Some(f) = r
                .facets
                .iter()
                .find(|f| r.witness.side(f) != Ordering::Greater)
            {
                return Err(format!(
                    "region {k}: the witness is not strictly inside {f:?}"
                ));
            }
            if layers > 0 && self.complete {
                let acts = net.forward(&r.witness, layers - 1);
                let mut bits = vec![0u64; pattern::words(n)];
                let mut i = 0;
                for (l, z) in acts.num.iter().enumerate() {
                    for (j, x) in z.iter().enumerate() {
                        // Pass-through rows (from split[l] on) are always 1.
                        pattern::set(&mut bits, i, x.is_positive() || j >= self.split[l]);
                        i += 1;
                    }
                }
                if bits != r.pattern {
                    return Err(format!(
                        "region {k}: pattern {} but the witness has {}",
                        pattern::to_string(&r.pattern, n),
                        pattern::to_string(&bits, n)
                    ));
                }
            }
            if !seen.insert(&r.pattern) {
                return Err(format!("region {k}: pattern repeated"));
            }
        }
        if self.complete && self.volumes_sum_to(&domain.volume()) == Some(false) {
            return Err(format!(
                "the volumes do not sum to the domain's {}",
                crate::exact::number::format_rational(&domain.volume())
            ));
        }
        Ok(())
    }
}

/// A cell during the enumeration.
#[derive(Clone)]
struct Cell {
    pattern: Vec<u64>,
    /// Its halfspaces: irredundant when facets are asked for; otherwise (a count, with or
    /// without adjacency) every halfspace whose plane meets the cell's box, which includes all
    /// its facets (the last layer's cells keep their parent's and their cuts, unfiltered).
    cons: Vec<Arc<Con>>,
    /// `certs[j]`: a point strictly inside every halfspace but `cons[j]`, strictly outside
    /// that one (proof that `cons[j]` is a facet). Reused to avoid LPs after a split. Empty
    /// when the halfspaces were not made irredundant.
    certs: Vec<Arc<Pt>>,
    /// Points strictly inside; `known[0]` is the witness.
    known: Vec<Arc<Pt>>,
    /// The exact rows of the layer that made this cell, on its parent (None before layer 0).
    prev: Option<Arc<LayerRows>>,
    /// The next layer's rows on the parent's cells, shared by them (None when the cell is split
    /// again at its own layer, or after the last layer).
    next: Option<Arc<SharedRows>>,
    /// A box that contains the cell (proven; see [`enclosing_box`]).
    bbox: Vec<(f64, f64)>,
    /// The maps of the layer's units on the parent, shared by the parent's cells, kept only
    /// while adjacency is found (`adjacency.rs`).
    units: Option<Arc<Vec<adjacency::Unit>>>,
}

impl Cell {
    /// The region of a final cell: its pattern and witness, and its facets (exact vertices and
    /// volume with `geometry`) when asked for.
    fn into_region(mut self, keep_facets: bool, geometry: bool) -> LpRegion {
        let facets: Vec<LineEq> = if keep_facets {
            self.cons.iter().map(|c| c.eq.clone()).collect()
        } else {
            Vec::new()
        };
        // Moved out when no other cell holds the point (the usual case).
        let witness = Arc::try_unwrap(self.known.swap_remove(0))
            .map_or_else(|shared| shared.exact.clone(), |p| p.exact);
        let (vertices, volume) = if geometry {
            // Cells lie in the bounded domain and contain their witness.
            let v = polytope::vertices(&facets, &witness).expect("an lp cell is bounded");
            let vol = polytope::volume(&v, facets.len());
            (Some(v), Some(vol))
        } else {
            (None, None)
        };
        LpRegion {
            pattern: self.pattern,
            facets,
            witness,
            vertices,
            volume,
        }
    }
}

/// Shared, read-only state of one run.
struct Ctx<'a> {
    net: &'a Restricted,
    dec: &'a Decider,
    small: Vec<SmallLayer>,
    first: Arc<LayerRows>,
    /// Keep each layer's unit maps for the adjacency step.
    adjacency: bool,
    /// Drop redundant halfspaces from the last layer's cells too.
    last_facets: bool,
    /// Make every cell irredundant (facets asked for). Otherwise a cell keeps the halfspaces its
    /// facets imply, less those whose planes miss its box: the redundancy LPs (most of a count's
    /// LPs on 3-D networks) cost more than the longer LPs of the next layer. Adjacency works on
    /// either (3-32×3 default count: 5.6 k LPs without this, 327 k with it).
    irredundant_cells: bool,
}

/// At most this many points outside some facet are kept while one cell is split.
const POOL_MAX: usize = 12;

/// A plain count splits the domain by the first layer in two rounds from this many units.
const LP_ROUNDS_FROM: usize = 8;

/// At most this many known points are kept per cell.
const KNOWN_MAX: usize = 6;

/// Enumerates the activation regions with the default [`LpOptions`].
pub fn enumerate_lp(
    net: &Restricted,
    domain: &Domain,
    cfg: &EnumerateConfig,
    progress: &dyn ProgressSink,
) -> Result<LpPartition> {
    enumerate_lp_with(net, domain, cfg, &LpOptions::default(), progress)
}

/// Enumerates the activation regions of `net` on `domain` (any d from 1 to [`MAX_DIM`]).
pub fn enumerate_lp_with(
    net: &Restricted,
    domain: &Domain,
    cfg: &EnumerateConfig,
    opts: &LpOptions,
    progress: &dyn ProgressSink,
) -> Result<LpPartition> {
    let d = net.d;
    if d == 0 || d > MAX_DIM {
        return Err(Error::Unsupported(format!(
            "the lp engine handles slices of dimension 1 to {MAX_DIM}; this one is {d}-D"
        )));
    }
    if domain.dim() != d {
        return Err(Error::Unsupported(format!(
            "the domain is {}-D but the slice is {d}-D",
            domain.dim()
        )));
    }
    let (start_cons, lo, hi) = domain_halfspaces(domain);
    let decider = Decider::new(&lo, &hi, opts.backend);
    let on_hyperplane = opts
        .adjacency
        .then(|| adjacency::OnHyperplane::new(&lo, &hi, opts.backend));
    let mut pairs: Vec<adjacency::Pair> = Vec::new();
    let stride = pattern::words(net.neurons);
    // The first witness: the domain's centre (strictly inside a box or convex polygon).
    let centre = domain_centre(domain);
    let (cons, certs) = irredundant(
        &decider,
        start_cons.into_iter().map(Arc::new).collect(),
        Vec::new(),
        &mut Vec::new(),
        None,
    );
    let bbox = outer_box(&lo, &hi);
    let mut cells = vec![Cell {
        pattern: vec![0; stride],
        cons,
        certs,
        known: vec![Arc::new(centre)],
        prev: None,
        next: None,
        bbox,
        units: None,
    }];
    let keep_facets = opts.facets || opts.exact_geometry;
    let ctx = (!net.widths.is_empty()).then(|| Ctx {
        net,
        dec: &decider,
        small: net
            .exact
            .hidden
            .iter()
            .map(|l| SmallLayer::new(l))
            .collect(),
        first: Arc::new(LayerRows::first(&net.exact)),
        adjacency: opts.adjacency,
        last_facets: keep_facets,
        irredundant_cells: keep_facets,
    });
    let layers = net.widths.len();
    let geometry = opts.exact_geometry && d <= GEOMETRY_MAX_DIM;
    // The last layer's cells are read after the loop for their facets (and vertices) or pairs.
    let keep_cells = keep_facets || opts.adjacency;
    let mut per_layer = Vec::with_capacity(layers);
    let mut complete = true;
    // Made in the last layer's workers when nothing but patterns and witnesses is read.
    let mut regions: Option<Vec<LpRegion>> = None;
    // A cell keeps its facets (a few hundred bytes to a few KiB): with `max_memory`, about
    // 4 KiB per cell is allowed, and a layer past that stops the run (complete: false).
    let cell_cap = cfg
        .max_memory
        .map(|m| usize::try_from(m / 4096).unwrap_or(usize::MAX));
    let cap = match (cfg.max_regions, cell_cap) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    for l in 0..layers {
        // A plain count (no adjacency: its unit list covers a whole layer at once) splits the
        // domain by a quarter of the first layer's units alone, then each piece by the rest in
        // parallel (the same regions in the same order: a cell's descendants stay together);
        // each piece first tests the rest against its own box.
        let mut second_round = None;
        if let Some(ctx) = &ctx {
            let units = net.split[0];
            if l == 0
                && cells.len() == 1
                && !ctx.irredundant_cells
                && !ctx.adjacency
                && units >= LP_ROUNDS_FROM
            {
                let k = units / 4;
                cells = split_cell_by(ctx, &cells[0], 0, &ctx.first, 0..k, false);
                second_round = Some(k..units);
            }
        }
        progress.start_layer(l, layers, cells.len());
        let running = std::sync::atomic::AtomicUsize::new(cells.len());
        let over = || cap.is_some_and(|c| running.load(AtomicOrdering::Relaxed) > c);
        let split = |cell: &Cell| -> Vec<Cell> {
            if progress.cancelled() || over() {
                // The layer is dropped below: skip the work.
                return Vec::new();
            }
            let ctx = ctx.as_ref().expect("a layer exists");
            let out = match &second_round {
                Some(rest) => split_cell_by(ctx, cell, 0, &ctx.first, rest.clone(), true),
                None => split_cell(ctx, cell, l),
            };
            running.fetch_add(out.len().saturating_sub(1), AtomicOrdering::Relaxed);
            progress.advance(1);
            out
        };
        if l + 1 == layers && !keep_cells {
            // Only patterns and witnesses are read from here on: each new cell becomes its
            // region at once, in the worker that made it (3-64×3: peak 3.0 → 1.3 GiB; 3-16×3:
            // no pass over the last layer's cells after it).
            let done: Vec<LpRegion> = cells
                .par_iter()
                .flat_map_iter(|cell| {
                    let out = split(cell);
                    out.into_iter().map(|c| c.into_region(false, false))
                })
                .collect();
            if cap.is_some_and(|m| done.len() > m) || over() || progress.cancelled() {
                complete = false;
                break;
            }
            per_layer.push(done.len());
            regions = Some(done);
            // The parents are freed on both threads, as below.
            std::mem::take(&mut cells).into_par_iter().for_each(drop);
            break;
        }
        let next: Vec<Vec<Cell>> = cells.par_iter().map(split).collect();
        let count: usize = next.iter().map(Vec::len).sum();
        if cap.is_some_and(|m| count > m) || over() || progress.cancelled() {
            complete = false;
            break;
        }
        if let Some(on_h) = &on_hyperplane {
            let next_pairs = adjacency::next_layer(
                &decider,
                on_h,
                &pairs,
                &next,
                net.offsets[l],
                net.split[l],
                l + 1 == layers,
            );
            // The parents' pairs hold the last references to many of their halfspaces: freed
            // on both threads.
            std::mem::replace(&mut pairs, next_pairs)
                .into_par_iter()
                .for_each(drop);
        }
        // The parent cells are freed on both threads (freeing them in one was ~4 % of a 3-D
        // count's time).
        let parents = std::mem::replace(&mut cells, next.into_iter().flatten().collect());
        parents.into_par_iter().for_each(drop);
        cells.par_iter_mut().for_each(|c| c.units = None);
        per_layer.push(cells.len());
    }
    progress.finish();
    let regions: Vec<LpRegion> = regions.unwrap_or_else(|| {
        cells
            .into_par_iter()
            .map(|cell| cell.into_region(keep_facets, geometry))
            .collect()
    });
    let on_h = on_hyperplane.as_ref().map_or([0; 3], |o| o.counters());
    let adjacent = (opts.adjacency && complete).then(|| pairs.iter().map(|p| (p.a, p.b)).collect());
    // The pairs hold the last references to most of the last layer's halfspaces: freed on both
    // threads, as the parents' pairs after each layer.
    pairs.into_par_iter().for_each(drop);
    Ok(LpPartition {
        dim: d,
        widths: net.widths.clone(),
        split: net.split.clone(),
        regions,
        per_layer,
        complete,
        certified: true,
        lp_solves: decider.stats.lp_solves.load(AtomicOrdering::Relaxed) + on_h[0],
        adjacent,
        exact_fallbacks: decider.stats.fallbacks.load(AtomicOrdering::Relaxed) + on_h[1],
        exact_lps: decider.stats.exact_lps.load(AtomicOrdering::Relaxed) + on_h[2],
    })
}

/// The domain as inward halfspaces, and its bounding box.
fn domain_halfspaces(domain: &Domain) -> (Vec<Con>, Vec<BigRational>, Vec<BigRational>) {
    match domain {
        Domain::Box(b) => {
            let d = b.len();
            let mut cons = Vec::with_capacity(2 * d);
            for (k, (lo, hi)) in b.iter().enumerate() {
                for (sign, bound) in [(1i32, lo), (-1i32, hi)] {
                    let mut a = vec![BigInt::zero(); d];
                    a[k] = BigInt::from(sign) * bound.denom();
                    let c = -BigInt::from(sign) * bound.numer();
                    cons.push(Con::new(LineEq { a, c }));
                }
            }
            let lo = b.iter().map(|x| x.0.clone()).collect();
            let hi = b.iter().map(|x| x.1.clone()).collect();
            (cons, lo, hi)
        }
        Domain::Polygon(p) => {
            let pts: Vec<ExactPoint> = p.iter().map(|c| ExactPoint::from_rationals(c)).collect();
            let n = pts.len();
            // Counter-clockwise: the interior is to the left of each side.
            let cons = (0..n)
                .map(|k| {
                    let side = line_through(&pts[k], &pts[(k + 1) % n]);
                    let inside = &pts[(k + 2) % n];
                    let con = Con::new(side);
                    if inside.side(&con.eq) == Ordering::Less {
                        con.flipped()
                    } else {
                        con
                    }
                })
                .collect();
            let lo = (0..2)
                .map(|k| p.iter().map(|c| c[k].clone()).min().expect("corners"))
                .collect();
            let hi = (0..2)
                .map(|k| p.iter().map(|c| c[k].clone()).max().expect("corners"))
                .collect();
            (cons, lo, hi)
        }
    }
}

fn domain_centre(domain: &Domain) -> Pt {
    let coords: Vec<BigRational> = match domain {
        Domain::Box(b) => b
            .iter()
            .map(|(lo, hi)| (lo + hi) / BigRational::from_integer(2.into()))
            .collect(),
        Domain::Polygon(p) => {
            let n = BigRational::from_integer(p.len().into());
            (0..2)
                .map(|k| p.iter().fold(BigRational::zero(), |a, c| a + &c[k]) / &n)
                .collect()
        }
    };
    Pt::from_exact(ExactPoint::from_rationals(&coords).reduced())
}

/// How one neuron behaves on a cell.
enum Neuron {
    /// Active (true) or inactive on the whole interior.
    Fixed(bool),
    /// Cuts the interior: the halfspace `h ≥ 0` is its active side, and its flip.
    Cuts(Arc<Con>, Arc<Con>),
}

/// A cell being split during one layer.
struct Sub {
    cons: Vec<Arc<Con>>,
    /// Facet certificates carried from the parent (None for halfspaces added in this layer);
    /// kept in step with `cons` only when cells are made irredundant (unread otherwise).
    certs: Vec<Option<Arc<Pt>>>,
    known: Vec<Arc<Pt>>,
    bits: Vec<u64>,
    changed: bool,
    /// A box that contains the sub-cell: the cell's, tightened by each halfspace a split adds.
    bbox: Vec<(f64, f64)>,
    /// Vertices of the sub-cell (float, tight rows index `cons`), where its walks start.
    verts: Vec<primal::Vertex>,
}

/// The next layer's rows on the cells of one parent: the previous layer's units that do not
/// cut the parent are on or off in all of them, so their terms are summed once (on first use)
/// and each cell adds only the terms of the units that cut the parent (3-64×3: a third of the
/// products).
struct SharedRows {
    /// Per unit of the parent's layer: `Some(on)` when it has one sign on the whole parent.
    state: Vec<Option<bool>>,
    /// The sums of the units with a state (`None`: they left i128).
    sums: std::sync::OnceLock<Option<LayerRows>>,
}

/// Splits one cell by every neuron of layer `l`.
fn split_cell(ctx: &Ctx, cell: &Cell, l: usize) -> Vec<Cell> {
    let net = ctx.net;
    let rows = match &cell.prev {
        None => ctx.first.clone(),
        Some(prev) => {
            let (layer, small) = (&net.exact.hidden[l], &ctx.small[l]);
            let bit = |j: usize| pattern::get(&cell.pattern, net.offsets[l - 1] + j);
            let shared = cell.next.as_ref().and_then(|next| {
                let sums = next
                    .sums
                    .get_or_init(|| prev.partial(layer, small, &next.state));
                let open: Vec<(usize, bool)> = (next.state.iter().enumerate())
                    .filter(|(_, s)| s.is_none())
                    .map(|(j, _)| (j, bit(j)))
                    .collect();
                prev.complete(sums.as_ref()?, layer, small, &open)
            });
            Arc::new(shared.unwrap_or_else(|| prev.next(layer, small, &bit)))
        }
    };
    split_cell_by(ctx, cell, l, &rows, 0..net.widths[l], true)
}

/// Splits one cell by the units `only` of layer `l` (whose rows on the cell are `rows`); the
/// others keep the bits the cell has. `final_round`: no other units of the layer come after.
fn split_cell_by(
    ctx: &Ctx,
    cell: &Cell,
    l: usize,
    rows: &Arc<LayerRows>,
    only: std::ops::Range<usize>,
    final_round: bool,
) -> Vec<Cell> {
    let (net, dec) = (ctx.net, ctx.dec);
    let offsets = &net.offsets;
    let n = net.widths[l];
    // Pass 1: which neurons cut the cell (known points first, then a walk over the cell's
    // vertices, an LP only when neither tells).
    let mut known = cell.known.clone();
    let mut walk = Walk::NotYet;
    let mut units = Vec::new();
    let mut neurons = Vec::with_capacity(n);
    let mut row_f = vec![0.0; net.d + 1];
    for i in 0..rows.len() {
        if i >= net.split[l] {
            // A pass-through row: no boundary, bit 1.
            neurons.push(Neuron::Fixed(true));
            continue;
        }
        if !only.contains(&i) {
            // Another round's unit: its bit is the cell's.
            neurons.push(Neuron::Fixed(pattern::get(&cell.pattern, offsets[l] + i)));
            continue;
        }
        // Most planes miss the cell's box: tested on the row's floats before its exact
        // halfspace is made.
        let box_tested = rows.float_row(i, &mut row_f);
        if box_tested {
            let fixed = if row_f[..net.d].iter().all(|&x| x == 0.0) {
                // A constant: adjacency asks whether it is zero (a non-zero one is shown by
                // `side_from_floats` below, zero by the exact path).
                (!ctx.adjacency).then_some(row_f[net.d] > 0.0)
            } else {
                sign_on_box(&row_f, &cell.bbox).map(|side| side == Ordering::Greater)
            };
            // Most of the others miss the cell too: shown from the row's floats alone when
            // they can, before the exact halfspace is made.
            let fixed =
                fixed.or_else(|| side_from_floats(&mut row_f, &known, &mut walk, cell, dec));
            if let Some(on) = fixed {
                if ctx.adjacency {
                    // Either proof puts the plane strictly off the closed cell (off its box, or
                    // a Motzkin bound below zero on it), so the unit vanishes on no facet's
                    // hyperplane: adjacency needs its sign, not its map.
                    units.push(adjacency::Unit::Sign(if on {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }));
                }
                neurons.push(Neuron::Fixed(on));
                continue;
            }
        }
        let eq = rows.halfspace(i);
        if eq.is_constant() {
            if ctx.adjacency {
                units.push(adjacency::Unit::Sign(eq.c.cmp(&BigInt::zero())));
            }
            neurons.push(Neuron::Fixed(eq.c.is_positive()));
            continue;
        }
        let h = Arc::new(Con::new(eq));
        if ctx.adjacency {
            units.push(adjacency::Unit::Map(h.clone()));
        }
        // Far from the cell, the neuron's plane misses its box: one sign, no LP.
        if let Some(side) = (!box_tested)
            .then(|| sign_on_box(&h.f, &cell.bbox))
            .flatten()
        {
            neurons.push(Neuron::Fixed(side == Ordering::Greater));
            continue;
        }
        let (mut pos, mut neg) = (false, false);
        for p in &known {
            match h.sign_at(p, &dec.stats) {
                Ordering::Greater => pos = true,
                Ordering::Less => neg = true,
                Ordering::Equal => {}
            }
        }
        for side in [true, false] {
            if (side && pos) || (!side && neg) {
                continue;
            }
            if let Some(p) = decide_side(dec, &cell.cons, &h, side, &mut walk, &cell.known[0].f) {
                if known.len() < KNOWN_MAX + 2 {
                    known.push(Arc::new(p));
                }
                if side {
                    pos = true;
                } else {
                    neg = true;
                }
            }
        }
        neurons.push(match (pos, neg) {
            (true, true) => {
                let hf = h.flip();
                Neuron::Cuts(h, hf)
            }
            (true, false) => Neuron::Fixed(true),
            (false, true) => Neuron::Fixed(false),
            (false, false) => panic!("a non-constant neuron has interior on neither side"),
        });
    }
    // Pass 2: split by the cutting neurons.
    let verts = match &walk {
        Walk::At(w) => w.met().collect(),
        _ => Vec::new(),
    };
    let mut first = Sub {
        cons: cell.cons.clone(),
        certs: cell.certs.iter().cloned().map(Some).collect(),
        known,
        bits: vec![0; pattern::words(n)],
        changed: false,
        bbox: cell.bbox.clone(),
        verts,
    };
    for (i, nr) in neurons.iter().enumerate() {
        if let Neuron::Fixed(true) = nr {
            pattern::set(&mut first.bits, i, true);
        }
    }
    let mut subs = vec![first];
    // Points outside some halfspace that may prove facets of the sub-cells without an LP.
    let mut pool: Vec<Arc<Pt>> = Vec::new();
    for (i, nr) in neurons.iter().enumerate() {
        let Neuron::Cuts(h, hf) = nr else { continue };
        let mut next = Vec::with_capacity(subs.len() + 1);
        for mut s in subs {
            // Which side of h each known point is on; a point for a side that has none (an LP).
            let signs: smallvec::SmallVec<[Ordering; 8]> =
                s.known.iter().map(|p| h.sign_at(p, &dec.stats)).collect();
            let mut found: [Option<Arc<Pt>>; 2] = [None, None];
            let mut has = [
                signs.contains(&Ordering::Greater),
                signs.contains(&Ordering::Less),
            ];
            for (k, side) in [(0, true), (1, false)] {
                if !has[k] {
                    // A plane that misses the sub-cell's box leaves one side empty: no LP.
                    // (A vertex walk per sub-cell costs more than the LPs it saves.)
                    let empty = match sign_on_box(&h.f, &s.bbox) {
                        Some(Ordering::Greater) => !side,
                        Some(Ordering::Less) => side,
                        _ => false,
                    };
                    if empty {
                        continue;
                    }
                    // A walk from one of the sub-cell's vertices proves most empty sides and
                    // finds most points without an LP.
                    let by_walk = sub_side(dec, &mut s.verts, &s.cons, h, side, &s.known[0].f);
                    let answer = match by_walk {
                        Some(answer) => answer,
                        None => find_side(dec, &s.cons, if side { h } else { hf }),
                    };
                    if let Some(p) = answer {
                        found[k] = Some(Arc::new(p));
                        has[k] = true;
                    }
                }
            }
            // The points on one side: the known ones there, or the one found.
            let side_points = |want: Ordering, extra: &Option<Arc<Pt>>| -> Vec<Arc<Pt>> {
                s.known
                    .iter()
                    .zip(&signs)
                    .filter(|&(_, &g)| g == want)
                    .map(|(p, _)| p.clone())
                    .chain(extra.iter().cloned())
                    .collect()
            };
            match (has[0], has[1]) {
                (true, true) => {
                    let pos_pts = side_points(Ordering::Greater, &found[0]);
                    let neg_pts = side_points(Ordering::Less, &found[1]);
                    pool.extend(pos_pts.iter().take(1).cloned());
                    pool.extend(neg_pts.iter().take(1).cloned());
                    if pool.len() > POOL_MAX {
                        pool.drain(..pool.len() - POOL_MAX);
                    }
                    let (pos_verts, neg_verts) = split_vertices(std::mem::take(&mut s.verts), h);
                    let mut a = Sub {
                        cons: s.cons.clone(),
                        certs: s.certs.clone(),
                        known: pos_pts,
                        bits: s.bits.clone(),
                        changed: true,
                        bbox: enclosing_box(&s.bbox, std::slice::from_ref(h)),
                        verts: pos_verts,
                    };
                    s.verts = neg_verts;
                    a.cons.push(h.clone());
                    if ctx.irredundant_cells {
                        a.certs.push(None);
                        s.certs.push(None);
                    }
                    pattern::set(&mut a.bits, i, true);
                    s.cons.push(hf.clone());
                    s.known = neg_pts;
                    s.changed = true;
                    s.bbox = enclosing_box(&s.bbox, std::slice::from_ref(hf));
                    next.push(a);
                    next.push(s);
                }
                (true, false) => {
                    pattern::set(&mut s.bits, i, true);
                    next.push(s);
                }
                (false, true) => next.push(s),
                (false, false) => panic!("a cell lost its interior"),
            }
        }
        subs = next;
    }
    let offset = offsets[l];
    let units = ctx.adjacency.then(|| Arc::new(units));
    let next = (final_round && l + 1 < net.widths.len()).then(|| {
        Arc::new(SharedRows {
            state: neurons
                .iter()
                .map(|nr| match nr {
                    Neuron::Fixed(on) => Some(*on),
                    Neuron::Cuts(..) => None,
                })
                .collect(),
            sums: std::sync::OnceLock::new(),
        })
    });
    let mut out = Vec::with_capacity(subs.len());
    let last = final_round && l + 1 == net.widths.len();
    for mut s in subs {
        let mut bbox = None;
        let certs = if s.changed && last && !ctx.last_facets {
            // Nothing splits these cells again and no one asked for their facets.
            Vec::new()
        } else if s.changed {
            // Halfspaces whose planes miss a box around the new cell are implied: dropped
            // without an LP.
            let b = enclosing_box(&s.bbox, &s.cons);
            let meets_box = |c: &Con| sign_on_box(&c.f, &b) != Some(Ordering::Greater);
            let certs = if ctx.irredundant_cells {
                (s.cons, s.certs) = s
                    .cons
                    .into_iter()
                    .zip(s.certs)
                    .filter(|(c, _)| meets_box(c))
                    .unzip();
                let inside = s.known.first().cloned();
                let (cons, certs) = irredundant(dec, s.cons, s.certs, &mut pool, inside.as_deref());
                s.cons = cons;
                certs
            } else {
                // (No certificates: nothing reads them in a count.)
                s.cons.retain(|c| meets_box(c));
                Vec::new()
            };
            bbox = Some(enclosing_box(&b, &s.cons));
            certs
        } else if !ctx.irredundant_cells {
            Vec::new()
        } else {
            s.certs
                .into_iter()
                .map(|c| c.expect("an unchanged cell keeps its certificates"))
                .collect()
        };
        {
            // A last-layer cell without facets is read only for its pattern, witness and (for
            // adjacency) halfspaces: its other points, box and rows are freed now, not when
            // the whole layer is done (3-32×3 default count: peak 487 → 394 MB).
            let stripped = last && !ctx.last_facets;
            s.known.truncate(if stripped { 1 } else { KNOWN_MAX });
            let mut pattern = cell.pattern.clone();
            for j in 0..n {
                if pattern::get(&s.bits, j) {
                    pattern::set(&mut pattern, offset + j, true);
                }
            }
            let bbox = if stripped {
                Vec::new()
            } else {
                bbox.unwrap_or_else(|| cell.bbox.clone())
            };
            out.push(Cell {
                pattern,
                cons: s.cons,
                certs,
                known: s.known,
                prev: (!stripped).then(|| rows.clone()),
                next: next.clone(),
                bbox,
                units: units.clone(),
            });
        }
    }
    out
}

/// On the segment from `inside` to `far` (f64 coordinates), a point past the plane of `cons[j]`
/// and before the plane of any other halfspace `far` violates, as an exact binary point; `None`
/// when the planes come in the other order. A guess: the caller proves it with sign tests.
fn shoot_past(cons: &[Arc<Con>], j: usize, inside: &Pt, far: &Pt) -> Option<Pt> {
    let d = inside.f.len();
    let eval = |c: &Con, x: &[f64]| c.f[d] + (0..d).map(|k| c.f[k] * x[k]).sum::<f64>();
    let (wj, qj) = (eval(&cons[j], &inside.f), eval(&cons[j], &far.f));
    if !(wj > 0.0 && qj < 0.0) {
        return None;
    }
    let past = wj / (wj - qj);
    let mut before = 1.0f64;
    for (k, c) in cons.iter().enumerate() {
        if k == j {
            continue;
        }
        let (w, q) = (eval(c, &inside.f), eval(c, &far.f));
        if q < 0.0 && w > 0.0 {
            before = before.min(w / (w - q));
        }
    }
    if past >= before {
        return None;
    }
    let lambda = 0.5 * (past + before);
    let x: Vec<f64> = (0..d)
        .map(|k| inside.f[k] + lambda * (far.f[k] - inside.f[k]))
        .collect();
    Pt::from_f64(&x)
}

/// The domain's bounding box as f64 intervals, rounded outwards.
fn outer_box(lo: &[BigRational], hi: &[BigRational]) -> Vec<(f64, f64)> {
    lo.iter()
        .zip(hi)
        .map(|(l, h)| {
            let (l, h) = (
                crate::exact::number::to_f64(l),
                crate::exact::number::to_f64(h),
            );
            // to_f64 is within half an ulp: one step outwards covers it.
            (l - l.abs() * 1e-15 - 1e-300, h + h.abs() * 1e-15 + 1e-300)
        })
        .collect()
}

/// Relative slack that covers the rounding of a few f64 operations on entries known to 2u
/// (with room to spare: boxes only need to contain the cell, not to be tight).
const BOX_SLACK: f64 = 1e-12;

/// A box containing `{a·t + c ≥ 0 for every con} ∩ parent`: two rounds of bound tightening
/// (t_k ≥ (−c − Σ_{j≠k} max a_j t_j) / a_k for a_k > 0, and ≤ for a_k < 0), each bound moved
/// outwards by a slack far above the rounding errors of the f64 entries and operations.
fn enclosing_box(parent: &[(f64, f64)], cons: &[Arc<Con>]) -> Vec<(f64, f64)> {
    let mut b = parent.to_vec();
    let d = b.len();
    for _ in 0..2 {
        for con in cons {
            let f = &con.f;
            let c = f[d];
            // Σ_j max(a_j lo_j, a_j hi_j) and the magnitude for the slack.
            let mut total = 0.0;
            let mut mag = c.abs();
            for j in 0..d {
                total += (f[j] * b[j].0).max(f[j] * b[j].1);
                mag += f[j].abs() * b[j].0.abs().max(b[j].1.abs());
            }
            if !total.is_finite() || !mag.is_finite() {
                continue;
            }
            for k in 0..d {
                let a = f[k];
                if a.abs() < 1e-150 {
                    continue;
                }
                let others = total - (a * b[k].0).max(a * b[k].1);
                let slack = (BOX_SLACK * mag + 1e-290) / a.abs();
                let bound = (-c - others) / a;
                if !bound.is_finite() {
                    continue;
                }
                if a > 0.0 {
                    b[k].0 = b[k].0.max(bound - slack.abs() - bound.abs() * BOX_SLACK);
                } else {
                    b[k].1 = b[k].1.min(bound + slack.abs() + bound.abs() * BOX_SLACK);
                }
            }
        }
    }
    b
}

/// The sign of the halfspace `f` (`a` then `c`, its exact entries each within 2u, in any
/// positive scale) on the whole box, when it is proven (`None` when the box may meet its
/// plane).
fn sign_on_box(f: &[f64], b: &[(f64, f64)]) -> Option<Ordering> {
    let d = b.len();
    let (mut lo, mut hi, mut mag) = (f[d], f[d], f[d].abs());
    for k in 0..d {
        let (x, y) = (f[k] * b[k].0, f[k] * b[k].1);
        lo += x.min(y);
        hi += x.max(y);
        mag += f[k].abs() * b[k].0.abs().max(b[k].1.abs());
    }
    let err = BOX_SLACK * mag + 1e-290;
    if lo > err {
        Some(Ordering::Greater)
    } else if hi < -err {
        Some(Ordering::Less)
    } else {
        None
    }
}

/// The vertex walk of one cell during pass 1: started when first needed, then reused.
#[allow(clippy::large_enum_variant)] // one on the stack per cell being split: no box needed
enum Walk<'a> {
    NotYet,
    At(primal::Walk<'a>),
    Failed,
}

/// The walk over the vertices of `cons`, started on first use (`inside`: strictly inside);
/// `None` when it could not start.
fn started<'w, 'a>(
    walk: &'w mut Walk<'a>,
    cons: &'a [Arc<Con>],
    inside: &'a [f64],
) -> Option<&'w mut primal::Walk<'a>> {
    if let Walk::NotYet = walk {
        let rows = cons.iter().map(|c| c.f.as_slice()).collect();
        *walk = match primal::Walk::new(rows, inside) {
            Some(w) => Walk::At(w),
            None => Walk::Failed,
        };
    }
    match walk {
        Walk::At(w) => Some(w),
        _ => None,
    }
}

/// A halfspace's floats (`a` then `c`), negated when `negate`, in a fixed-size array.
fn oriented(f: &[f64], negate: bool) -> [f64; MAX_DIM + 1] {
    let mut out = [0.0f64; MAX_DIM + 1];
    for (o, &x) in out.iter_mut().zip(f) {
        *o = if negate { -x } else { x };
    }
    out
}

/// A unit's one sign on the whole cell shown from floats alone: the float filter puts every
/// known point on one side, and the walk proves the other side empty (a Motzkin bound on
/// floats: the row is then strictly of that sign on the closed cell, its boundary included, as
/// the bound is below zero on every point that meets the cell's halfspaces). `row` (a multiple of the exact row, each entry within half an ulp; scaled here by a
/// power of two) stands for the exact halfspace, so no exact integers are made for the unit.
/// `None`: not shown here (the exact path decides).
fn side_from_floats<'a>(
    row: &mut [f64],
    known: &[Arc<Pt>],
    walk: &mut Walk<'a>,
    cell: &'a Cell,
    dec: &Decider,
) -> Option<bool> {
    // One power of two (exact) brings the largest entry near 1, as the walk expects.
    let top = row.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if !(top > 0.0 && top.is_finite()) {
        return None;
    }
    let scale = (-top.log2().round()).exp2();
    row.iter_mut().for_each(|x| *x *= scale);
    let mut on = None;
    for p in known {
        let side = feasibility::float_sign(row, p)? == Ordering::Greater;
        if *on.get_or_insert(side) != side {
            return None;
        }
    }
    let on = on?;
    // Is the other side empty? The walk maximises the row with its sign flipped for `on`.
    let other = oriented(row, on);
    let w = started(walk, &cell.cons, &cell.known[0].f)?;
    match w.side(&other[..row.len()], &cell.known[0].f, &dec.radius)? {
        primal::Answer::Empty => Some(on),
        primal::Answer::Witness(_) => None,
    }
}

/// A point strictly inside `cons` on the side `side` of `h` (strictly positive, or strictly
/// negative), if any: the walk over the vertices of `cons` first (started here when not yet;
/// `inside`: strictly inside `cons`), an LP when it cannot tell. The walk's points are proven
/// by sign tests, its emptiness by a Motzkin bound; the flipped halfspace is made only for an
/// LP.
fn decide_side<'a>(
    dec: &Decider,
    cons: &'a [Arc<Con>],
    h: &Arc<Con>,
    side: bool,
    walk: &mut Walk<'a>,
    inside: &'a [f64],
) -> Option<Pt> {
    if let Some(w) = started(walk, cons, inside) {
        let f = oriented(&h.f, !side);
        match w.side(&f[..h.f.len()], inside, &dec.radius) {
            Some(primal::Answer::Empty) => return None,
            Some(primal::Answer::Witness(x)) => {
                let proven = proven_point(dec, cons, h, side, &x[..inside.len()]);
                if proven.is_some() {
                    return proven;
                }
            }
            None => {}
        }
    }
    if side {
        find_side(dec, cons, h)
    } else {
        find_side(dec, cons, &h.flip())
    }
}

/// A walk's point `x` as an exact point, if it is proven strictly inside `cons` and strictly on
/// `side` of `h` (exact sign tests).
fn proven_point(dec: &Decider, cons: &[Arc<Con>], h: &Con, side: bool, x: &[f64]) -> Option<Pt> {
    let want = if side {
        Ordering::Greater
    } else {
        Ordering::Less
    };
    Pt::from_f64(x).filter(|p| {
        h.sign_at(p, &dec.stats) == want
            && cons
                .iter()
                .all(|c| c.sign_at(p, &dec.stats) == Ordering::Greater)
    })
}

/// `decide_side` on a sub-cell `cons` by a walk from its vertex in `verts` where the plane is
/// highest: `Some(None)` proven empty, `Some(Some(p))` a proven point (the walk's optimal
/// vertex, past the plane, joins `verts`), `None` when the walk cannot tell. `inside`: strictly
/// inside `cons`, not on `side` of `h`.
fn sub_side(
    dec: &Decider,
    verts: &mut Vec<primal::Vertex>,
    cons: &[Arc<Con>],
    h: &Con,
    side: bool,
    inside: &[f64],
) -> Option<Option<Pt>> {
    let d = inside.len();
    let f = oriented(&h.f, !side);
    let value = |v: &primal::Vertex| f[d] + (0..d).map(|k| f[k] * v.x[k]).sum::<f64>();
    let rows = cons.iter().map(|c| c.f.as_slice()).collect();
    let mut w = match verts.iter().max_by(|a, b| value(a).total_cmp(&value(b))) {
        Some(start) => primal::Walk::from_vertex(d, rows, start)?,
        None => {
            // A sub-cell with no vertex known: one found from its witness, kept.
            let w = primal::Walk::new(rows, inside)?;
            verts.extend(w.vertex());
            w
        }
    };
    match w.side(&f[..=d], inside, &dec.radius)? {
        primal::Answer::Empty => Some(None),
        primal::Answer::Witness(x) => {
            let p = proven_point(dec, cons, h, side, &x[..d])?;
            if let Some(v) = w.vertex().filter(|v| clearly_positive(&f[..=d], &v.x)) {
                verts.push(v);
            }
            Some(Some(p))
        }
    }
}

/// `f` (a row: `a` then `c`) is positive at `x` beyond the error of a float vertex.
fn clearly_positive(f: &[f64], x: &[f64]) -> bool {
    let d = f.len() - 1;
    let size = 1.0 + x[..d].iter().fold(0.0f64, |s, v| s.max(v.abs()));
    f[d] + (0..d).map(|k| f[k] * x[k]).sum::<f64>() > 1e-9 * size
}

/// A sub-cell's vertices split by `h`'s plane: those clearly inside `h`, those clearly outside
/// (vertices of the two new sub-cells); those near the plane are dropped.
fn split_vertices(
    verts: Vec<primal::Vertex>,
    h: &Con,
) -> (Vec<primal::Vertex>, Vec<primal::Vertex>) {
    let neg = oriented(&h.f, true);
    let d = h.f.len() - 1;
    let (mut pos_v, mut neg_v) = (Vec::with_capacity(verts.len()), Vec::new());
    for v in verts {
        if clearly_positive(&h.f, &v.x[..d]) {
            pos_v.push(v);
        } else if clearly_positive(&neg[..=d], &v.x[..d]) {
            neg_v.push(v);
        }
    }
    (pos_v, neg_v)
}

/// A point strictly inside `cons` and strictly inside `extra`, if any.
fn find_side(dec: &Decider, cons: &[Arc<Con>], extra: &Con) -> Option<Pt> {
    let mut rows: Vec<&Con> = cons.iter().map(|c| c.as_ref()).collect();
    rows.push(extra);
    match dec.interior(&rows) {
        Interior::NonEmpty(p) => Some(p),
        Interior::Empty => None,
    }
}

/// Drops halfspaces implied by the others, one at a time, keeping the order; returns the facets
/// with their certificates. A halfspace is a facet when some point violates it alone: the
/// carried certificate or a point of `pool` is tried first (sign tests), then points just past
/// the halfspace's plane on the way from `inside` (a point strictly inside) to those points, a
/// certified LP otherwise.
fn irredundant(
    dec: &Decider,
    mut cons: Vec<Arc<Con>>,
    carried: Vec<Option<Arc<Pt>>>,
    pool: &mut Vec<Arc<Pt>>,
    inside: Option<&Pt>,
) -> (Vec<Arc<Con>>, Vec<Arc<Pt>>) {
    let mut carried = carried;
    carried.resize(cons.len(), None);
    let mut certs: Vec<Arc<Pt>> = Vec::with_capacity(cons.len());
    let mut j = 0;
    while j < cons.len() {
        let proves = |p: &Pt| {
            cons.iter().enumerate().all(|(k, c)| {
                let s = c.sign_at(p, &dec.stats);
                if k == j {
                    s == Ordering::Less
                } else {
                    s == Ordering::Greater
                }
            })
        };
        let found = carried[j]
            .iter()
            .chain(pool.iter())
            .find(|p| proves(p))
            .cloned()
            .or_else(|| {
                // From a point inside towards one outside cons[j]: just past its plane, before
                // any other (chosen in floats, proven by the sign tests).
                let inside = inside?;
                carried[j]
                    .iter()
                    .chain(pool.iter())
                    .filter_map(|far| shoot_past(&cons, j, inside, far))
                    .find(|p| proves(p))
                    .map(Arc::new)
            });
        if let Some(p) = found {
            certs.push(p);
            j += 1;
            continue;
        }
        let flipped = cons[j].flip();
        let mut rows: Vec<&Con> = cons
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != j)
            .map(|(_, c)| c.as_ref())
            .collect();
        rows.push(flipped.as_ref());
        match dec.interior(&rows) {
            Interior::Empty => {
                cons.remove(j);
                carried.remove(j);
            }
            Interior::NonEmpty(p) => {
                let p = Arc::new(p);
                if pool.len() >= POOL_MAX {
                    pool.remove(0);
                }
                pool.push(p.clone());
                certs.push(p);
                j += 1;
            }
        }
    }
    (cons, certs)
}

#[cfg(test)]
mod tests {
    use super::feasibility::tests::con;
    use super::*;
    use num_traits::One;

    /// The adjacency step records a unit shown off the cell by `side_from_floats` by its sign
    /// alone, which is right only if the sign is strict on the closed cell: a plane along a
    /// facet, or through a corner, must be left to the exact path.
    #[test]
    fn float_sides_are_strict_on_the_closed_cell() {
        let (lo, hi) = (vec![-BigRational::one(); 2], vec![BigRational::one(); 2]);
        let dec = Decider::new(&lo, &hi, LpBackend::Dense);
        // The cell 0 ≤ 4x ≤ 4, −1 ≤ y ≤ 1 (the right half of the square).
        let cell = Cell {
            pattern: vec![0],
            cons: [([4, 0], 0), ([-4, 0], 4), ([0, 1], 1), ([0, -1], 1)]
                .iter()
                .map(|&(a, c)| Arc::new(con(&a, c)))
                .collect(),
            certs: Vec::new(),
            known: vec![Arc::new(Pt::from_f64(&[0.5, 0.25]).expect("finite"))],
            prev: None,
            next: None,
            bbox: vec![(0.0, 1.0), (-1.0, 1.0)],
            units: None,
        };
        let side = |row: [f64; 3]| {
            let mut row = row.to_vec();
            let mut walk = Walk::NotYet;
            side_from_floats(&mut row, &cell.known, &mut walk, &cell, &dec)
        };
        // Strictly off the closed cell, on either side.
        assert_eq!(side([1.0, 0.0, 0.25]), Some(true));
        assert_eq!(side([-1.0, 0.0, -0.25]), Some(false));
        assert_eq!(side([-1.0, -1.0, 2.5]), Some(true));
        // Zero on the facet x = 0, or at the corner (0, −1) only: not strict, not shown.
        assert_eq!(side([1.0, 0.0, 0.0]), None);
        assert_eq!(side([-1.0, 0.0, 0.0]), None);
        assert_eq!(side([1.0, 1.0, 1.0]), None);
        // Through the cell.
        assert_eq!(side([1.0, 0.0, -0.5]), None);
    }
}
