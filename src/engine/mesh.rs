//! The mesh of the planar and segment engines: faces with their cyclic vertex lists and edge
//! boundaries in flat arrays, and what one run of faces outputs while a layer splits them.

use super::vertex::{LineKey, LocalVertices, VertexDef};
use std::sync::Arc;

/// Faces with their cyclic vertex lists and edge boundaries, in flat arrays.
#[derive(Clone)]
pub struct Mesh {
    pub d: usize,
    pub xy: Vec<f64>,
    pub defs: Vec<VertexDef>,
    pub face_start: Vec<u32>,
    pub face_verts: Vec<u32>,
    pub face_lines: Vec<LineKey>,
    /// Shared with [`super::vertex::ExactGeometry::archive`] while the next layer is split (no copy).
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
