//! Engines that enumerate the activation regions of a restricted network on its domain.
//!
//! - [`planar`] (d = 2) and [`segment`] (d = 1): a mesh split layer by layer, every sign decided
//!   by the filtered exact predicate of [`vertex`].

pub mod lp;
pub mod planar;
mod refine;
pub mod segment;
pub mod values;
pub mod vertex;

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
use vertex::{ExactGeometry, LayerCtx, LineKey, LocalVertices, VertexDef};

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
        }
    }
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

/// Faces with their cyclic vertex lists and edge boundaries, in flat arrays.
#[derive(Clone)]
pub struct Mesh {
    pub d: usize,
    pub xy: Vec<f64>,
    pub defs: Vec<VertexDef>,
    pub face_start: Vec<u32>,
    pub face_verts: Vec<u32>,
    pub face_lines: Vec<LineKey>,
    /// Shared with [`ExactGeometry::archive`] while the next layer is split (no copy).
    pub patterns: Arc<Vec<u64>>,
    pub stride: usize,
}

impl Mesh {
    pub fn face_count(&self) -> usize {
        self.face_start.len() - 1
    }

    pub fn face(&self, f: usize) -> (&[u32], &[LineKey]) {
        let (a, b) = (self.face_start[f] as usize, self.face_start[f + 1] as usize);
        (&self.face_verts[a..b], &self.face_lines[a..b])
    }

    pub fn pattern(&self, f: usize) -> &[u64] {
        &self.patterns[f * self.stride..(f + 1) * self.stride]
    }
}

/// Parent faces handled by one parallel task, at most (runs are fixed by the face count, never
/// by the thread count, so the output does not depend on threads). 64 against 32: 7 % faster
/// warm on the 64-wide network and 11 % on the 256-wide one, no slower elsewhere (each run
/// allocates its buffers).
pub(crate) const FACES_PER_TASK: usize = 64;

/// The sub-faces of a run of parent faces and the vertices made for them, in flat arrays.
pub(crate) struct FaceOut {
    /// The vertices made (set when the run is done).
    pub local: Option<LocalVertices>,
    /// Sub-face i lies in parent face `parents[i]`, has vertices `verts[starts[i]..starts[i+1]]`
    /// (edge boundaries in `lines` at the same positions) and this layer's bits
    /// `bits[i * words..(i + 1) * words]`.
    pub parents: Vec<u32>,
    pub starts: Vec<u32>,
    pub verts: Vec<u32>,
    pub lines: Vec<LineKey>,
    pub bits: Vec<u64>,
    pub words: usize,
    /// `[neuron, end, end]`: the chord of each line across its parent face, when the layer's
    /// context asks for them (`LayerCtx::first_round`).
    pub chords: Vec<[u32; 3]>,
}

impl FaceOut {
    pub fn new(words: usize) -> Self {
        // Room for a run whose faces split about in two (grown if needed).
        const FACES: usize = 2 * FACES_PER_TASK;
        let mut starts = Vec::with_capacity(FACES + 1);
        starts.push(0);
        FaceOut {
            local: None,
            parents: Vec::with_capacity(FACES),
            starts,
            verts: Vec::with_capacity(6 * FACES),
            lines: Vec::with_capacity(6 * FACES),
            bits: Vec::with_capacity(words * FACES),
            words,
            chords: Vec::new(),
        }
    }

    pub fn push(
        &mut self,
        parent: u32,
        verts: &[u32],
        lines: impl IntoIterator<Item = LineKey>,
        bits: &[u64],
    ) {
        self.parents.push(parent);
        self.verts.extend_from_slice(verts);
        self.lines.extend(lines);
        // One boundary per vertex (the edge from it to the next): the merge relies on it.
        debug_assert_eq!(self.lines.len(), self.verts.len());
        self.bits.extend_from_slice(bits);
        self.starts.push(self.verts.len() as u32);
    }

    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }
}

/// Splits every face of `mesh` by the layer of `ctx`, in parallel runs of [`FACES_PER_TASK`]
/// faces merged in order; `split` handles one face, with a scratch `S` reused from face to face.
/// `None` once more than `max_regions` regions have been made.
pub(crate) fn split_faces<S: Default>(
    ctx: &LayerCtx,
    mesh: &Mesh,
    max_regions: Option<usize>,
    progress: &dyn ProgressSink,
    split: impl Fn(&LayerCtx, usize, &[u32], &[LineKey], &mut LocalVertices, &mut FaceOut, &mut S)
        + Sync,
) -> Option<Vec<FaceOut>> {
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    let faces = mesh.face_count();
    let running = AtomicUsize::new(faces);
    let stop = AtomicBool::new(false);
    let words = pattern::words(ctx.values.n);
    // The first layer's second round has few pieces, each cut by many lines: smaller runs (at
    // least 64) so both cores share it. Elsewhere smaller runs cost more than they balance. The
    // output does not depend on the run size.
    let per_task = if ctx.split_from > 0 {
        faces.div_ceil(64).clamp(1, FACES_PER_TASK)
    } else {
        FACES_PER_TASK
    };
    let runs: Vec<std::ops::Range<usize>> = (0..faces)
        .step_by(per_task)
        .map(|a| a..(a + per_task).min(faces))
        .collect();
    let outs: Vec<Option<FaceOut>> = runs
        .into_par_iter()
        // The scratch buffers live as long as rayon's piece of work (several runs), not one run:
        // they reach their size once instead of growing again for every run.
        .map_init(S::default, |scratch, range| {
            let mut local = LocalVertices::new(ctx);
            let mut out = FaceOut::new(words);
            for f in range.clone() {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
                if progress.cancelled() {
                    stop.store(true, Ordering::Relaxed);
                    return None;
                }
                let before = out.len();
                let (verts, lines) = mesh.face(f);
                local.face = f as u32;
                split(ctx, f, verts, lines, &mut local, &mut out, scratch);
                if ctx.overflow.load(Ordering::Relaxed) {
                    // One face alone went past the limit (its pieces are dropped).
                    stop.store(true, Ordering::Relaxed);
                    return None;
                }
                if ctx.last {
                    local.drop_rows();
                }
                // The shared count is only kept under a limit (an atomic add per face costs).
                if let Some(limit) = max_regions {
                    let extra = out.len() - before - 1;
                    if running.fetch_add(extra, Ordering::Relaxed) + extra > limit {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            progress.advance(range.len() as u64);
            if ctx.last {
                // Free the row buffer now: the next run reuses its pages.
                local.z = Vec::new();
            }
            out.local = Some(local);
            Some(out)
        })
        .collect();
    if stop.load(Ordering::Relaxed) {
        return None;
    }
    Some(outs.into_iter().map(|o| o.expect("no stop")).collect())
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
        (d == 2 && cfg.reanchor).then(|| net.float.clone()),
    );
    geo.check_refinements = cfg.check_reanchored;
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
    let mut values = Some(LayerValues::from_rows(RowStore::single(n0, z, count), err));
    let mut merged: Option<MergedValues> = None;
    let mut per_layer = Vec::new();
    let mut layer_seconds = Vec::new();
    let mut complete = true;
    let mut stopped_by = None;
    let mut fallbacks = 0usize;
    let mut reanchored = 0usize;
    let layers = net.widths.len();
    let mut parents = Arc::new(Vec::new());
    'layers: for l in 0..layers {
        let layer_start = std::time::Instant::now();
        geo.archive.push(mesh.patterns.clone()); // an Arc: no copy
        geo.parents.push(parents.clone());
        if let Some(previous) = merged.take() {
            values = Some(values::next_layer_values(
                previous.rows,
                &previous.err,
                &net.float[l],
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
            ctx.last = last_split;
            ctx.zone_walk_from = cfg.zone_walk_from;
            ctx.masks_from = cfg.masks_from;
            (ctx.split_from, ctx.split_below) = (split_from, split_below);
            ctx.units = units;
            ctx.line_supports = std::mem::take(&mut line_supports);
            ctx.faces = (&mesh.face_start, &mesh.face_verts);
            // The regions this layer may make: the limit given, and what the memory allows (a
            // vertex per region at most twice over, each with a row of the layer's width).
            let memory_cap = cfg
                .max_memory
                .map(|m| usize::try_from(m / (2 * (8 * n as u64 + 96))).unwrap_or(usize::MAX));
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
            let global_exact = std::mem::take(&mut *ctx.global_exact.lock().expect("exact cache"));
            drop(ctx);
            // Where each face of the next mesh came from (exact fallbacks build maps from
            // parents'; only the last round's matter, as layer 0 needs no parent).
            parents = Arc::new(
                outs.iter()
                    .flat_map(|o| o.parents.iter().copied())
                    .collect(),
            );
            let (next_mesh, next_values) =
                merge(mesh, current, outs, global_exact, net, l, !last_split);
            mesh = next_mesh;
            if last_round {
                merged = next_values;
                break;
            }
            let next_values = next_values.expect("rows kept between rounds");
            line_supports = vec![(u32::MAX, u32::MAX); n];
            for &[j, a, b] in &next_values.chords {
                line_supports[j as usize] = (a, b);
            }
            current = LayerValues::from_rows(next_values.rows, next_values.err);
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
        geometry: geo,
        domain: domain.clone(),
    })
}

/// Joins the faces' outputs into the next mesh: shared edge vertices are merged by key, in face
/// order, so the result does not depend on the thread count. The values rows (the big part) are
/// not copied: each run's block of rows joins the [`RowStore`] (unless `keep_rows` is false:
/// the last layer, whose rows were dropped face by face).
fn merge(
    mesh: Mesh,
    values: LayerValues,
    outs: Vec<FaceOut>,
    global_exact: std::collections::HashMap<u32, Arc<vertex::ProvenValues>>,
    net: &Restricted,
    layer: usize,
    keep_rows: bool,
) -> (Mesh, Option<MergedValues>) {
    use rayon::prelude::*;
    let n = values.n;
    let d = mesh.d;
    let LayerValues {
        mut rows, mut err, ..
    } = values;
    let Mesh {
        xy,
        defs,
        patterns: parent_patterns,
        stride,
        ..
    } = mesh;
    for (v, x) in &global_exact {
        err[*v as usize] = x.err;
    }
    // 1. and 2. The vertex numbering is sequential (it fixes the order), but the faces' patterns,
    //    starts and boundaries need no vertex ids: both at once, on the two halves of the pool.
    let (numbered, faces) = rayon::join(
        || number_new_vertices(&outs, xy, defs, err, d, keep_rows),
        || face_arrays(&outs, &parent_patterns, stride, net.offsets[layer], n),
    );
    drop(parent_patterns);
    let NewVertices {
        xy,
        defs,
        err,
        sources,
        remaps,
        chords,
    } = numbered;
    let FaceArrays {
        face_start,
        mut face_verts,
        face_lines,
        patterns,
    } = faces;
    // 3. The faces' vertex lists in merged ids, each run into its own slice, in parallel.
    {
        let mut jobs = Vec::with_capacity(outs.len());
        let mut left = &mut face_verts[..];
        for (out, remap) in outs.iter().zip(&remaps) {
            let (verts, rest) = std::mem::take(&mut left).split_at_mut(out.verts.len());
            left = rest;
            jobs.push((out, remap, verts));
        }
        jobs.into_par_iter().for_each(|(out, remap, verts)| {
            let base = out.local.as_ref().expect("a finished run").base;
            for (v, &w) in verts.iter_mut().zip(&out.verts) {
                *v = to_global(w, base, remap);
            }
        });
    }
    let mut outs = outs;
    let values = keep_rows.then(|| {
        for (v, x) in &global_exact {
            rows.row_mut(*v as usize).copy_from_slice(&x.z);
        }
        // Each run's rows stay in its block; a new vertex's row is its local row there.
        let segments: Vec<u32> = outs
            .iter_mut()
            .map(|out| {
                let local = out.local.as_mut().expect("a finished run");
                assert_eq!(local.z_first, 0, "a run that kept its rows");
                let mut block = std::mem::take(&mut local.z);
                // A vertex proven after its row was made carries the proven floats (its bound
                // is theirs).
                for (k, x) in local.exact.iter().enumerate() {
                    if let Some(x) = x {
                        block[k * n..(k + 1) * n].copy_from_slice(&x.z);
                    }
                }
                // The block was sized for a large run: give back the rest (shrinking a heap
                // block in place, no copy) for the next layer's runs to use.
                block.shrink_to_fit();
                rows.add_segment(block)
            })
            .collect();
        for &(run, k) in &sources {
            rows.push_vertex(segments[run as usize], k as usize);
        }
        MergedValues { rows, err, chords }
    });
    // The runs' other buffers, freed on both threads.
    outs.into_par_iter().for_each(drop);
    (
        Mesh {
            d,
            xy,
            defs,
            face_start,
            face_verts,
            face_lines,
            patterns: Arc::new(patterns),
            stride,
        },
        values,
    )
}

/// The new vertices of a layer in merged ids, with what the mesh and the next layer keep of
/// them.
struct NewVertices {
    xy: Vec<f64>,
    defs: Vec<VertexDef>,
    /// Bounds of every vertex's row (only grown when the rows are kept).
    err: Vec<f64>,
    /// Where each new vertex's row comes from: (run, local index); empty unless rows are kept.
    sources: Vec<(u32, u32)>,
    /// Per run: the merged id of each of its local vertices.
    remaps: Vec<Vec<u32>>,
    /// The recorded chords, in merged ids.
    chords: Vec<[u32; 3]>,
}

/// Numbers the new vertices in run order: a crossing of a parent edge made by the faces on
/// both sides is one vertex (keyed by edge and neuron).
fn number_new_vertices(
    outs: &[FaceOut],
    mut xy: Vec<f64>,
    mut defs: Vec<VertexDef>,
    mut err: Vec<f64>,
    d: usize,
    keep_rows: bool,
) -> NewVertices {
    use std::collections::hash_map::Entry;
    // Sizes are known up front: reserve once instead of growing (fewer copies and page faults).
    let new_verts: usize = outs
        .iter()
        .map(|o| o.local.as_ref().map_or(0, |l| l.len()))
        .sum();
    xy.reserve(new_verts * d);
    defs.reserve(new_verts);
    // The bounds and row sources only matter if the rows are kept.
    let values_size = if keep_rows { new_verts } else { 0 };
    err.reserve(values_size);
    let mut shared: rustc_hash::FxHashMap<(u32, u32, u32), u32> = Default::default();
    shared.reserve(new_verts);
    let mut sources = Vec::with_capacity(values_size);
    let mut remaps = Vec::with_capacity(outs.len());
    let mut chords = Vec::new();
    for (run, out) in outs.iter().enumerate() {
        let local = out.local.as_ref().expect("a finished run");
        let mut remap = Vec::with_capacity(local.len());
        for k in 0..local.len() {
            let g = defs.len() as u32;
            if let Some(key) = local.shared_key[k] {
                // One probe: the neighbour's id if it came first, else this vertex's.
                match shared.entry(key) {
                    Entry::Occupied(first) => {
                        remap.push(*first.get());
                        continue;
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(g);
                    }
                }
            }
            defs.push(local.def[k]);
            xy.extend_from_slice(&local.xy[k * d..(k + 1) * d]);
            if keep_rows {
                err.push(match &local.exact[k] {
                    Some(x) => x.err,
                    None => local.err[k],
                });
                sources.push((run as u32, k as u32));
            }
            remap.push(g);
        }
        let global = |v: u32| to_global(v, local.base, &remap);
        chords.extend(
            out.chords
                .iter()
                .map(|&[j, a, b]| [j, global(a), global(b)]),
        );
        remaps.push(remap);
    }
    NewVertices {
        xy,
        defs,
        err,
        sources,
        remaps,
        chords,
    }
}

/// The next mesh's face arrays that need no vertex ids, and room for its vertex lists.
struct FaceArrays {
    face_start: Vec<u32>,
    /// Zeros, filled in merged ids once the numbering is done.
    face_verts: Vec<u32>,
    face_lines: Vec<LineKey>,
    patterns: Vec<u64>,
}

/// Each run writes its own slices of the face arrays, in parallel: a face's pattern is its
/// parent's with this layer's bits added.
fn face_arrays(
    outs: &[FaceOut],
    parent_patterns: &[u64],
    stride: usize,
    offset: usize,
    n: usize,
) -> FaceArrays {
    use rayon::prelude::*;
    let faces: usize = outs.iter().map(FaceOut::len).sum();
    let incidences: usize = outs.iter().map(|o| o.verts.len()).sum();
    assert!(
        outs.iter().all(|o| o.lines.len() == o.verts.len()),
        "one boundary per face vertex"
    );
    let mut face_start = vec![0u32; faces + 1];
    let face_verts = vec![0u32; incidences];
    let mut face_lines = vec![LineKey::side(0); incidences];
    let mut patterns = vec![0u64; faces * stride];
    let mut jobs = Vec::with_capacity(outs.len());
    {
        let (mut starts_left, mut lines_left, mut patterns_left) =
            (&mut face_start[1..], &mut face_lines[..], &mut patterns[..]);
        let mut incidence = 0u32;
        for out in outs {
            let (starts, rest) = std::mem::take(&mut starts_left).split_at_mut(out.len());
            starts_left = rest;
            let (lines, rest) = std::mem::take(&mut lines_left).split_at_mut(out.lines.len());
            lines_left = rest;
            let (pats, rest) = std::mem::take(&mut patterns_left).split_at_mut(out.len() * stride);
            patterns_left = rest;
            jobs.push((out, incidence, starts, lines, pats));
            incidence += out.verts.len() as u32;
        }
    }
    jobs.into_par_iter()
        .for_each(|(out, incidence, starts, lines, pats)| {
            lines.copy_from_slice(&out.lines);
            for i in 0..out.len() {
                starts[i] = incidence + out.starts[i + 1];
                let p = out.parents[i] as usize;
                let pattern = &mut pats[i * stride..(i + 1) * stride];
                pattern.copy_from_slice(&parent_patterns[p * stride..(p + 1) * stride]);
                let bits = &out.bits[i * out.words..(i + 1) * out.words];
                pattern::or_shifted(pattern, bits, offset, n);
            }
        });
    FaceArrays {
        face_start,
        face_verts,
        face_lines,
        patterns,
    }
}

/// A run's vertex id in the merged mesh: old vertices keep theirs, local vertex `base + k`
/// becomes `remap[k]`.
fn to_global(v: u32, base: u32, remap: &[u32]) -> u32 {
    if v < base {
        v
    } else {
        remap[(v - base) as usize]
    }
}

/// The values of a layer after its merge: every vertex's row (old vertices' where they were,
/// new ones' in their runs' blocks), read in place by the next layer's matrix product.
pub(crate) struct MergedValues {
    rows: RowStore,
    err: Vec<f64>,
    /// The recorded chords (`FaceOut::chords`), in global vertex ids.
    chords: Vec<[u32; 3]>,
}
