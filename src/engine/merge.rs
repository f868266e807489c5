//! The deterministic merge of a layer's face outputs into the next mesh: shared edge crossings
//! numbered once, in face order; the value rows adopted without copying.

use super::mesh::{FaceOut, Mesh};
use super::values::{norm_of_entry_bound, LayerValues, RowStore};
use super::vertex::{self, LineKey, VertexDef};
use crate::pattern;
use crate::restrict::Restricted;
use std::sync::Arc;

/// Joins the faces' outputs into the next mesh: shared edge vertices are merged by key, in face
/// order, so the result does not depend on the thread count. The values rows (the big part) are
/// not copied: each run's block of rows joins the [`RowStore`] (unless `keep_rows` is false:
/// the last layer, whose rows were dropped face by face).
pub(super) fn merge(
    mesh: Mesh,
    values: LayerValues,
    outs: Vec<FaceOut>,
    global_exact: std::collections::HashMap<u32, Arc<vertex::ProvenValues>>,
    net: &Restricted,
    layer: usize,
    keep_rows: bool,
) -> (Mesh, Option<MergedValues>) {
    use rayon::prelude::*;
    let (n, row_len, entry) = (values.n, values.stride(), values.entry);
    let d = mesh.d;
    let LayerValues {
        mut rows,
        mut err,
        mut norm,
        ..
    } = values;
    // A proven row: its floats, then (with bounds per neuron) its bound for each.
    let write_proven = |dst: &mut [f64], x: &vertex::ProvenValues| {
        dst[..n].copy_from_slice(&x.z);
        if entry {
            dst[n..].fill(x.err);
        }
    };
    let Mesh {
        xy,
        defs,
        patterns: parent_patterns,
        stride,
        ..
    } = mesh;
    for (v, x) in &global_exact {
        err[*v as usize] = x.err;
        norm[*v as usize] = norm_of_entry_bound(x.err, n);
    }
    // 1. and 2. The vertex numbering is sequential (it fixes the order), but the faces' patterns,
    //    starts and boundaries need no vertex ids: both at once, on the two halves of the pool.
    let (numbered, faces) = rayon::join(
        || number_new_vertices(&outs, xy, defs, (err, norm), d, keep_rows),
        || face_arrays(&outs, &parent_patterns, stride, net.offsets[layer], n),
    );
    drop(parent_patterns);
    let NewVertices {
        xy,
        defs,
        err,
        norm,
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
            write_proven(rows.row_mut(*v as usize), x);
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
                        write_proven(&mut block[k * row_len..(k + 1) * row_len], x);
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
        MergedValues {
            rows,
            err,
            norm,
            entry,
            chords,
        }
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
    /// Bounds of every vertex's row, and of its error vector's 2-norm (only grown when the
    /// rows are kept).
    err: Vec<f64>,
    norm: Vec<f64>,
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
    (mut err, mut norm): (Vec<f64>, Vec<f64>),
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
    norm.reserve(values_size);
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
                let (e, nm) = match &local.exact[k] {
                    Some(x) => (x.err, norm_of_entry_bound(x.err, local.n)),
                    None => (local.err[k], local.norm[k]),
                };
                err.push(e);
                norm.push(nm);
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
        norm,
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
    pub(super) rows: RowStore,
    pub(super) err: Vec<f64>,
    pub(super) norm: Vec<f64>,
    /// Rows carry bounds per neuron ([`LayerValues::entry`]).
    pub(super) entry: bool,
    /// The recorded chords (`FaceOut::chords`), in global vertex ids.
    pub(super) chords: Vec<[u32; 3]>,
}
