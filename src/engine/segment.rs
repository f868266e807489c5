//! The segment engine (d = 1): the domain interval is split layer by layer into sub-intervals.
//! Same machinery as the planar engine, with points for boundaries: every new breakpoint is
//! interpolated on its parent interval and every sign goes through the filtered predicate.

use super::vertex::{LayerCtx, LineKey, LocalVertices, VertexDef};
use super::{split_faces, FaceOut, Mesh, ProgressSink};
use crate::pattern;

fn split_interval(
    ctx: &LayerCtx,
    f: usize,
    (a, b): (u32, u32),
    line: LineKey,
    local: &mut LocalVertices,
    out: &mut FaceOut,
) {
    let n = ctx.values.n;
    let mut bits = vec![0u64; pattern::words(n)];
    let mut splitting = Vec::new();
    for j in ctx.units..n {
        pattern::set(&mut bits, j, true);
    }
    for j in 0..ctx.units {
        let (sa, sb) = (local.sign(ctx, a, j), local.sign(ctx, b, j));
        if sa * sb < 0 {
            splitting.push(j);
        } else if sa > 0 || sb > 0 {
            pattern::set(&mut bits, j, true);
        }
    }
    if let Some(columns) = local.columns.as_mut() {
        // The last layer: new breakpoints are only ever tested against this interval's roots.
        columns.clear();
        columns.extend_from_slice(&splitting);
    }
    // Sub-intervals in order from a to b.
    let mut subs: Vec<(u32, u32, Vec<u64>)> = vec![(a, b, bits)];
    for &j in &splitting {
        let root = LineKey::neuron(ctx.layer, j, f);
        let mut next = Vec::with_capacity(subs.len() + 1);
        for (x, y, mut bits) in subs {
            let (sx, sy) = (local.sign(ctx, x, j), local.sign(ctx, y, j));
            if sx * sy < 0 {
                let w = local.interpolate(ctx, a, b, j, VertexDef::Root(root), None);
                let mut left = bits.clone();
                pattern::set(&mut left, j, sx > 0);
                pattern::set(&mut bits, j, sy > 0);
                next.push((x, w, left));
                next.push((w, y, bits));
            } else {
                if sx > 0 || sy > 0 {
                    pattern::set(&mut bits, j, true);
                }
                next.push((x, y, bits));
            }
        }
        subs = next;
    }
    for (x, y, bits) in subs {
        out.push(f as u32, &[x, y], [line, line], &bits);
    }
}

/// Splits every interval of `mesh` by hidden layer `ctx.layer`; `None` past the region limit.
pub(super) fn split_layer(
    ctx: &LayerCtx,
    mesh: &Mesh,
    max_regions: Option<usize>,
    progress: &dyn ProgressSink,
) -> Option<Vec<FaceOut>> {
    split_faces::<()>(
        ctx,
        mesh,
        max_regions,
        progress,
        |ctx, f, verts, lines, local, out, _| {
            split_interval(ctx, f, (verts[0], verts[1]), lines[0], local, out)
        },
    )
}
