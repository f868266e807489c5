//! The parallel driver of a layer's split: runs of faces in parallel, each face by the engine's
//! `split`, stopped by a region or memory limit or Ctrl-C.

use super::mesh::{FaceOut, Mesh, FACES_PER_TASK};
use super::vertex::{LayerCtx, LineKey, LocalVertices};
use super::ProgressSink;
use crate::pattern;
use std::sync::atomic::Ordering;

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
