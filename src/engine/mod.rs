//! Engines that enumerate the activation regions of a restricted network on its domain.
//!
//! - [`planar`] (d = 2) and [`segment`] (d = 1): a mesh split layer by layer, every sign decided
//!   by the filtered exact predicate of [`vertex`].

pub mod lp;
mod merge;
mod mesh;
pub mod planar;
mod refine;
mod refine_dd;
pub mod segment;
mod split;
pub mod values;
pub mod vertex;

use merge::{merge, MergedValues};
pub use mesh::Mesh;
pub(crate) use mesh::{FaceOut, FACES_PER_TASK};
pub(crate) use split::split_faces;

use crate::error::{Error, Result};
use crate::exact::point::line_through;
use crate::exact::ExactPoint;
use crate::partition::{Partition, Regions};
use crate::pattern;
use crate::restrict::Restricted;
use crate::slice::Domain;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use values::{LayerValues, RowStore};
use vertex::{ExactGeometry, LayerCtx, LineKey, VertexDef};

/// Which engine to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// planar for d ≤ 2, lp otherwise.
    #[default]
    Auto,
    Planar,
    Lp,
}

impl EngineChoice {
    /// Whether a slice of dimension `d` goes to the lp engine (auto: planar for d ≤ 2).
    pub fn uses_lp(self, d: usize) -> bool {
        match self {
            EngineChoice::Lp => true,
            EngineChoice::Planar => false,
            EngineChoice::Auto => d > 2,
        }
    }
}

/// Receives progress; the library never draws anything itself.
pub trait ProgressSink: Sync {
    fn start_layer(&self, _layer: usize, _layers: usize, _faces: usize) {}
    fn advance(&self, _faces: u64) {}
    fn finish(&self) {}
    /// Whether the user asked to stop (Ctrl-C): the run ends soon, with `complete: false`.
    fn cancelled(&self) -> bool {
        false
    }
}

/// No progress reporting.
pub struct NoProgress;
impl ProgressSink for NoProgress {}

/// Every knob of an enumeration, in one place.
#[derive(Debug, Clone)]
pub struct EnumerateConfig {
    /// Stop (with `complete: false`) once more regions than this would be found.
    pub max_regions: Option<usize>,
    /// Stop (with `complete: false`) before a layer's vertices would need more than this many
    /// bytes: each vertex keeps one f64 per row of the layer, so a wide layer (a convolution
    /// over an image has thousands of rows) allows fewer regions.
    pub max_memory: Option<u64>,
    pub engine: EngineChoice,
    /// Once a face of the planar engine is in this many pieces, each further boundary is walked
    /// through the pieces it touches instead of tested against all of them (same result; only
    /// speed differs, so tests also set 0, 8 and `usize::MAX`: walking only, switching mid-face,
    /// testing only).
    pub zone_walk_from: usize,
    /// A face cut by at least this many lines keeps, per piece, the neurons its vertices' floats
    /// prove positive, negative or leave open, and passes over the pieces a line surely misses
    /// without a sign per vertex (same result; tests set 1 and 2: everywhere, and mixed).
    pub masks_from: usize,
    /// A first hidden layer of at least this many neurons is split in two rounds (its first
    /// quarter of lines, then the pieces in parallel), so both cores share it (same result;
    /// tests set 1 and `usize::MAX` to run both paths).
    pub first_round_from: usize,
    /// Re-anchor a 2-D vertex in floats before rebuilding it in big integers when its sign test
    /// cannot decide (`engine::refine`; same result, tests turn it off to run the exact path alone).
    pub reanchor: bool,
    /// Test switch: also compute every re-anchored vertex exactly and panic on a mismatch.
    pub check_reanchored: bool,
    /// Test switch: on a segment, re-anchor in double-double only (`engine::refine_dd`), not
    /// in f64 first, so that small networks exercise that tier.
    pub reanchor_double_only: bool,
    /// Networks whose hidden layers times log2 of the widest hidden layer reach this carry one
    /// float error bound per neuron from the second hidden layer on, instead of one per vertex
    /// (same result). A single bound grows with the largest row norm and value at each layer
    /// until deep signs need re-anchoring or exact work; the product with |W| doubles a layer
    /// step and rows double in size. Measured on [-1, 1]² (He-normal): bounds per neuron win
    /// from 5 layers at width 256 (2.4×) and 128, 6 at 64, 7 at 32 (2-32×10 1.9×, 2-64×8 2.9×),
    /// and lose up to 30 % below (2-256×4: 1.8 against 2.8 s). Tests set 0 and `usize::MAX` to
    /// run both.
    pub per_neuron_bounds_from: usize,
    /// On such deep networks, also bound each vertex's error vector in 2-norm through the
    /// layers' certified spectral norms (see [`values::BoundMode::norms`]); off only to compare.
    pub norm_bounds: bool,
    /// With `norm_bounds`, dense layers of this many inputs or more bound through 2-norms,
    /// one bound per vertex, without the product with |W| that bounds per neuron need (a third
    /// of the values' own product). Measured on a 784-512×8 segment: 161 → 139 ms, re-anchored
    /// vertices 71 → 52. Narrower layers keep bounds per neuron: there the norms saved little
    /// and their passes cost 7–17 % (2-64×8, 2-32×10). Tests set 0.
    pub norms_alone_from: usize,
}

impl Default for EnumerateConfig {
    fn default() -> Self {
        EnumerateConfig {
            max_regions: None,
            max_memory: None,
            engine: EngineChoice::Auto,
            zone_walk_from: 512,
            masks_from: 16,
            first_round_from: 48,
            reanchor: true,
            check_reanchored: false,
            reanchor_double_only: false,
            per_neuron_bounds_from: 35,
            norm_bounds: true,
            norms_alone_from: 128,
        }
    }
}

/// How fast a single error bound per vertex drifts on these hidden layers: their number times
/// log2 of the widest (see [`EnumerateConfig::per_neuron_bounds_from`]).
fn per_neuron_drift(widths: &[usize]) -> usize {
    let widest = widths.iter().copied().max().unwrap_or(1).max(1);
    widths.len() * widest.ilog2() as usize
}

/// Why a run stopped before the last layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// More regions than `max_regions`.
    MaxRegions,
    /// A layer's vertices would need more than `max_memory`.
    Memory,
    /// The user asked to stop (Ctrl-C).
    Interrupted,
}

/// Enumerates the activation regions of `net` on `domain`.
pub fn enumerate(
    net: &Restricted,
    domain: &Domain,
    cfg: &EnumerateConfig,
    progress: &dyn ProgressSink,
) -> Result<Partition> {
    let d = net.d;
    if cfg.engine.uses_lp(d) {
        return Err(Error::Unsupported(format!(
            "enumerate runs the planar engine; for --engine lp use lp::enumerate_lp ({d}-D slice)"
        )));
    }
    if d > 2 || d == 0 {
        return Err(Error::Unsupported(format!(
            "the slice is {d}-D; the planar engine handles d = 1 and 2: use --engine lp (or auto)"
        )));
    }
    enumerate_mesh(net, domain, cfg, progress)
}

fn enumerate_mesh(
    net: &Restricted,
    domain: &Domain,
    cfg: &EnumerateConfig,
    progress: &dyn ProgressSink,
) -> Result<Partition> {
    let d = net.d;
    let stride = pattern::words(net.neurons);
    let (corners, sides): (Vec<ExactPoint>, Vec<_>) = match d {
        1 => {
            let Domain::Box(b) = domain else {
                unreachable!("1-D domains are intervals")
            };
            (
                vec![
                    ExactPoint::from_rationals(std::slice::from_ref(&b[0].0)),
                    ExactPoint::from_rationals(std::slice::from_ref(&b[0].1)),
                ],
                vec![],
            )
        }
        2 => {
            let c: Vec<ExactPoint> = domain
                .corners_2d()
                .iter()
                .map(|p| ExactPoint::from_rationals(p))
                .collect();
            let sides = (0..c.len())
                .map(|k| line_through(&c[k], &c[(k + 1) % c.len()]))
                .collect();
            (c, sides)
        }
        _ => unreachable!("checked by the caller"),
    };
    let corner_count = corners.len();
    let mut geo = ExactGeometry::new(
        net.exact.clone(),
        net.offsets.clone(),
        stride,
        corners,
        sides,
        (d <= 2 && cfg.reanchor).then(|| net.float.clone()),
    );
    geo.check_refinements = cfg.check_reanchored;
    geo.double_only = cfg.reanchor_double_only;
    geo.units = net.split.clone();
    let defs: Vec<VertexDef> = (0..corner_count as u32).map(VertexDef::Corner).collect();
    let mut xy = Vec::new();
    let n0 = net.widths.first().copied().unwrap_or(0);
    let mut z = Vec::new();
    let mut err = Vec::new();
    for def in &defs {
        let point = geo.point(def);
        xy.extend(point.to_f64());
        if !net.widths.is_empty() {
            let x = geo.values(def, 0, 0);
            z.extend_from_slice(&x.z);
            err.push(x.err);
        }
    }
    let (face_verts, face_lines) = if d == 1 {
        (vec![0, 1], vec![LineKey::side(0); 2])
    } else {
        (
            (0..corner_count as u32).collect(),
            (0..corner_count).map(LineKey::side).collect(),
        )
    };
    let mut mesh = Mesh {
        d,
        xy,
        defs,
        face_start: vec![0, face_verts.len() as u32],
        face_verts,
        face_lines,
        patterns: Arc::new(vec![0; stride]),
        stride,
    };
    let count = err.len();
    let norm = err
        .iter()
        .map(|&e| values::norm_of_entry_bound(e, n0))
        .collect();
    let mut values = Some(LayerValues::from_rows(
        RowStore::single(n0, z, count),
        err,
        norm,
    ));
    let mut merged: Option<MergedValues> = None;
    let mut per_layer = Vec::new();
    let mut layer_seconds = Vec::new();
    let mut complete = true;
    let mut stopped_by = None;
    let mut fallbacks = 0usize;
    let mut reanchored = 0usize;
    let mut reanchored_dd = 0usize;
    let layers = net.widths.len();
    let deep = per_neuron_drift(&net.widths) >= cfg.per_neuron_bounds_from;
    // Deep networks bound through norms on wide dense layers, per neuron on the others.
    let through_norms = |layer: &crate::restrict::FloatLayer| {
        deep && cfg.norm_bounds && layer.w.is_dense() && layer.n_in >= cfg.norms_alone_from
    };
    let bound_mode = |layer: &crate::restrict::FloatLayer| values::BoundMode {
        per_neuron: deep && !through_norms(layer),
        norms: through_norms(layer),
    };
    {
        // Those layers' certified norms, on every core before the first layer (a few ms each
        // at 512 wide, which a layer alone would spend on one core).
        use rayon::prelude::*;
        net.float.par_iter().skip(1).for_each(|layer| {
            if through_norms(layer) {
                layer.norms();
            }
        });
    }
    let mut parents = Arc::new(Vec::new());
    let mut new_vertices_per_face = None;
    'layers: for l in 0..layers {
        let layer_start = std::time::Instant::now();
        geo.archive.push(mesh.patterns.clone()); // an Arc: no copy
        geo.parents.push(parents.clone());
        if let Some(previous) = merged.take() {
            values = Some(values::next_layer_values(
                previous.rows,
                (&previous.err, &previous.norm),
                &net.float[l],
                previous.entry,
                bound_mode(&net.float[l]),
            ));
        }
        let mut current = values.take().expect("values of this layer");
        let n = current.n;
        // Layer 0 meets one face, which one core would split alone: its first quarter of lines
        // split the domain first (a sixteenth of the work), then the pieces are split by the
        // other lines in parallel (layer 0's lines are the same on every face).
        let units = net.split[l];
        let first_round = (units / 4).max(1);
        let rounds: &[(usize, usize)] =
            if d == 2 && l == 0 && units >= cfg.first_round_from && first_round < units {
                &[(0, first_round), (first_round, n)]
            } else {
                &[(0, n)]
            };
        // What a stop inside the layer leaves: the mesh of the previous layer.
        let before_layer = (rounds.len() > 1).then(|| mesh.clone());
        // Layer 0 in rounds: the first round's chords across the domain, which the second
        // round interpolates along (as one round would), so errors do not compound.
        let mut line_supports = Vec::new();
        for (round, &(split_from, split_below)) in rounds.iter().enumerate() {
            let last_round = round + 1 == rounds.len();
            // The network's last split: new rows are dropped face by face and not kept by the
            // merge (no later layer reads them).
            let last_split = l + 1 == layers && last_round;
            progress.start_layer(l, layers, mesh.face_count());
            let mut ctx = LayerCtx::new(l, d, &geo, &mesh.defs, &mesh.xy, &current);
            if let Some(per_face) = new_vertices_per_face {
                ctx.new_vertices_per_face = per_face;
            }
            ctx.last = last_split;
            ctx.zone_walk_from = cfg.zone_walk_from;
            ctx.masks_from = cfg.masks_from;
            (ctx.split_from, ctx.split_below) = (split_from, split_below);
            ctx.units = units;
            ctx.line_supports = std::mem::take(&mut line_supports);
            ctx.faces = (&mesh.face_start, &mesh.face_verts);
            // The regions this layer may make: the limit given, and what the memory allows (a
            // vertex per region at most twice over, each with a row of the layer's width).
            let memory_cap = cfg.max_memory.map(|m| {
                usize::try_from(m / (2 * (8 * current.stride() as u64 + 96))).unwrap_or(usize::MAX)
            });
            let cap = match (cfg.max_regions, memory_cap) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            ctx.piece_limit = cap.unwrap_or(usize::MAX);
            let outs = if d == 1 {
                segment::split_layer(&ctx, &mesh, cap, progress)
            } else {
                planar::split_layer(&ctx, &mesh, cap, progress)
            };
            let Some(outs) = outs else {
                complete = false;
                stopped_by = Some(match (cfg.max_regions, memory_cap) {
                    _ if progress.cancelled() => StopReason::Interrupted,
                    (Some(a), Some(b)) if b < a => StopReason::Memory,
                    (None, Some(_)) => StopReason::Memory,
                    _ => StopReason::MaxRegions,
                });
                if let Some(previous) = before_layer {
                    mesh = previous;
                }
                break 'layers;
            };
            fallbacks += ctx.fallbacks.load(Ordering::Relaxed);
            reanchored += ctx.refinements.load(Ordering::Relaxed);
            reanchored_dd += ctx.double_refinements.load(Ordering::Relaxed);
            let global_exact = std::mem::take(&mut *ctx.global_exact.lock().expect("exact cache"));
            drop(ctx);
            // Where each face of the next mesh came from (exact fallbacks build maps from
            // parents'; only the last round's matter, as layer 0 needs no parent).
            parents = Arc::new(
                outs.iter()
                    .flat_map(|o| o.parents.iter().copied())
                    .collect(),
            );
            let (vertices_before, faces_before) = (mesh.defs.len(), mesh.face_count());
            let (next_mesh, next_values) =
                merge(mesh, current, outs, global_exact, net, l, !last_split);
            mesh = next_mesh;
            new_vertices_per_face =
                Some((mesh.defs.len() - vertices_before) as f64 / faces_before.max(1) as f64);
            if last_round {
                merged = next_values;
                break;
            }
            let next_values = next_values.expect("rows kept between rounds");
            line_supports = vec![(u32::MAX, u32::MAX); n];
            for &[j, a, b] in &next_values.chords {
                line_supports[j as usize] = (a, b);
            }
            current = LayerValues::from_rows(next_values.rows, next_values.err, next_values.norm);
        }
        per_layer.push(mesh.face_count());
        layer_seconds.push(layer_start.elapsed().as_secs_f64());
    }
    progress.finish();
    geo.clear_maps();
    let Mesh {
        xy,
        defs,
        face_start,
        face_verts,
        face_lines,
        patterns,
        stride,
        ..
    } = mesh;
    let regions = Regions {
        start: face_start,
        verts: face_verts,
        lines: face_lines,
        // The final patterns are never archived (boundaries refer to faces of earlier layers).
        patterns: Arc::try_unwrap(patterns).unwrap_or_else(|shared| shared.to_vec()),
        stride,
    };
    Ok(Partition {
        dim: d,
        widths: net.widths.clone(),
        split: net.split.clone(),
        xy,
        defs,
        regions,
        per_layer,
        layer_seconds,
        complete,
        stopped_by,
        certified: true,
        exact_fallbacks: fallbacks,
        reanchored,
        reanchored_dd,
        geometry: geo,
        domain: domain.clone(),
    })
}
