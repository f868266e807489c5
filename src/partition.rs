//! The result of an enumeration: regions as convex polygons (d = 2) or intervals (d = 1) with
//! their activation patterns, over a shared vertex list whose points can be rebuilt exactly.

use crate::engine::vertex::{ExactGeometry, LineKey, VertexDef};
use crate::exact::ExactPoint;
use crate::pattern;
use crate::slice::Domain;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Zero;
use rayon::prelude::*;
use std::collections::HashSet;

/// One activation region, borrowed from [`Regions`].
#[derive(Debug, Clone, Copy)]
pub struct Region<'a> {
    /// Vertex ids, counter-clockwise (d = 2) or left to right (d = 1).
    pub verts: &'a [u32],
    /// Boundary of the edge from `verts[i]` to `verts[i + 1]` (d = 2).
    pub lines: &'a [LineKey],
    /// Activation bits over all hidden neurons.
    pub pattern: &'a [u64],
}

/// Every region in flat arrays (the engine's final mesh, moved here without copying): region r
/// has vertices `verts[start[r]..start[r + 1]]`, the edge boundaries at the same positions and
/// pattern words `patterns[r * stride..(r + 1) * stride]`.
#[derive(Debug, Clone, Default)]
pub struct Regions {
    pub(crate) start: Vec<u32>,
    pub(crate) verts: Vec<u32>,
    pub(crate) lines: Vec<LineKey>,
    pub(crate) patterns: Vec<u64>,
    pub(crate) stride: usize,
}

impl Regions {
    pub fn len(&self) -> usize {
        self.start.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Region r (panics when r ≥ len, like indexing).
    pub fn get(&self, r: usize) -> Region<'_> {
        let (a, b) = (self.start[r] as usize, self.start[r + 1] as usize);
        Region {
            verts: &self.verts[a..b],
            lines: &self.lines[a..b],
            pattern: &self.patterns[r * self.stride..(r + 1) * self.stride],
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = Region<'_>> + '_ {
        (0..self.len()).map(move |r| self.get(r))
    }

    pub fn last(&self) -> Option<Region<'_>> {
        self.len().checked_sub(1).map(|r| self.get(r))
    }
}

/// All regions of a restricted network on a domain.
pub struct Partition {
    pub dim: usize,
    pub widths: Vec<usize>,
    /// Units of each hidden layer (its first rows; the rest pass values through).
    pub split: Vec<usize>,
    /// Float coordinates of every vertex (dim per vertex); exact ones via [`Self::exact_vertices`].
    pub xy: Vec<f64>,
    pub defs: Vec<VertexDef>,
    pub regions: Regions,
    /// Regions after each hidden layer (fewer entries than layers when stopped early).
    pub per_layer: Vec<usize>,
    /// Wall time of each hidden layer (its values, splits and merge), one entry per `per_layer`.
    pub layer_seconds: Vec<f64>,
    pub complete: bool,
    /// What stopped an incomplete run.
    pub stopped_by: Option<crate::engine::StopReason>,
    pub certified: bool,
    /// Vertices whose values the float filter could not use and that were rebuilt in big
    /// integers.
    pub exact_fallbacks: usize,
    /// Vertices the float filter could not use and that were re-anchored in floats instead
    /// (every sign proven there; see `engine::refine`).
    pub reanchored: usize,
    /// Of those, the ones proven in double-double (`engine::refine_dd`).
    pub reanchored_dd: usize,
    pub geometry: ExactGeometry,
    pub domain: Domain,
}

impl Partition {
    pub fn neurons(&self) -> usize {
        self.widths.iter().sum()
    }

    pub fn vertex_count(&self) -> usize {
        self.defs.len()
    }

    /// Mesh edges: each interior edge is shared by two regions, each domain-boundary edge by one.
    pub fn edge_count(&self) -> usize {
        if self.dim == 1 {
            return self.regions.len();
        }
        let (mut incidences, mut boundary) = (0usize, 0usize);
        for r in self.regions.iter() {
            incidences += r.verts.len();
            boundary += r.lines.iter().filter(|l| l.layer == 0).count();
        }
        (incidences + boundary) / 2
    }

    /// Region r's pattern as text, one character per unit.
    /// Every region's pattern, in region order.
    pub fn patterns(&self) -> Vec<&[u64]> {
        self.regions.iter().map(|r| r.pattern).collect()
    }

    pub fn pattern_string(&self, r: usize) -> String {
        pattern::to_unit_string(self.regions.get(r).pattern, &self.widths, &self.split)
    }

    /// Units (rows that split the domain) of all hidden layers.
    pub fn units(&self) -> usize {
        self.split.iter().sum()
    }

    /// The exact point of every vertex (one exact layer map per parent face, in parallel).
    pub fn exact_vertices(&self) -> Vec<ExactPoint> {
        let keys: HashSet<LineKey> = self
            .defs
            .iter()
            .flat_map(|d| match d {
                VertexDef::Meet(a, b) => vec![*a, *b],
                VertexDef::Root(a) => vec![*a],
                VertexDef::Corner(_) => vec![],
            })
            .collect();
        self.geometry.prefetch_lines(keys);
        self.defs
            .par_iter()
            .map(|d| self.geometry.point(d))
            .collect()
    }

    /// Region r's vertices among the exact vertices `points` ([`Self::exact_vertices`]).
    pub fn region_points<'a>(&self, r: usize, points: &'a [ExactPoint]) -> Vec<&'a ExactPoint> {
        let verts = self.regions.get(r).verts;
        verts.iter().map(|&i| &points[i as usize]).collect()
    }

    /// Exact area (d = 2) or length (d = 1) of region r, given the exact vertices.
    pub fn region_measure(&self, r: usize, points: &[ExactPoint]) -> BigRational {
        measure(self.dim, &self.region_points(r, points))
    }

    /// An exact interior point of region r: the average of its vertices.
    pub fn region_witness(&self, r: usize, points: &[ExactPoint]) -> Vec<BigRational> {
        centroid(self.dim, &self.region_points(r, points))
    }
}

/// Exact length (d = 1) or shoelace area (d = 2, counter-clockwise) of a cell.
///
/// Fraction-free: the terms are summed over the product of the vertices' denominators and the
/// result is reduced once (one gcd, where adding reduced rationals took one per term).
pub fn measure(dim: usize, v: &[&ExactPoint]) -> BigRational {
    if dim == 1 {
        return BigRational::new(
            &v[1].num[0] * &v[0].den - &v[0].num[0] * &v[1].den,
            &v[0].den * &v[1].den,
        );
    }
    // 2·area = Σ (x_i y_{i+1} − x_{i+1} y_i) / (d_i d_{i+1}); over Π d_k, term i carries the
    // other vertices' denominators.
    let m = v.len();
    let mut num = BigInt::zero();
    for i in 0..m {
        let (a, b) = (v[i], v[(i + 1) % m]);
        let mut term = &a.num[0] * &b.num[1] - &a.num[1] * &b.num[0];
        for (k, p) in v.iter().enumerate() {
            if k != i && k != (i + 1) % m {
                term *= &p.den;
            }
        }
        num += term;
    }
    let den = v.iter().fold(BigInt::from(2), |acc, p| acc * &p.den);
    BigRational::new(num, den)
}

/// A point strictly inside a convex cell with non-empty interior: for d = 2 the centroid of
/// the first triangle of its vertices with positive area (vertices may be collinear along an
/// edge, so the first three need not do), for d = 1 the midpoint. Three vertices, not all: a
/// small exact number where the average of every vertex had the product of all denominators.
pub fn centroid(dim: usize, v: &[&ExactPoint]) -> Vec<BigRational> {
    let picked: Vec<&ExactPoint> = if dim == 1 {
        vec![v[0], v[1]]
    } else {
        let k = (2..v.len())
            .find(|&k| orientation(v[0], v[1], v[k]) != 0)
            .expect("a cell with positive area has three vertices not on one line");
        vec![v[0], v[1], v[k]]
    };
    let den = picked
        .iter()
        .fold(BigInt::from(picked.len()), |acc, p| acc * &p.den);
    (0..dim)
        .map(|c| {
            let num: BigInt = (0..picked.len())
                .map(|i| {
                    picked
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .fold(picked[i].num[c].clone(), |acc, (_, p)| acc * &p.den)
                })
                .sum();
            BigRational::new(num, den.clone())
        })
        .collect()
}

/// The sign of the orientation of three points in the plane (+1 counter-clockwise).
fn orientation(a: &ExactPoint, b: &ExactPoint, c: &ExactPoint) -> i32 {
    // (b − a) × (c − a) times the positive a.den² b.den c.den.
    let bx = &b.num[0] * &a.den - &a.num[0] * &b.den;
    let by = &b.num[1] * &a.den - &a.num[1] * &b.den;
    let cx = &c.num[0] * &a.den - &a.num[0] * &c.den;
    let cy = &c.num[1] * &a.den - &a.num[1] * &c.den;
    match (bx * cy - by * cx).sign() {
        num_bigint::Sign::Plus => 1,
        num_bigint::Sign::Minus => -1,
        num_bigint::Sign::NoSign => 0,
    }
}
