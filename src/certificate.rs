//! Partition certificates (SPEC §5): the regions file the engine writes, and an independent
//! checker that proves a file is exactly the activation-region partition of a network.
//!
//! A file holds, per region, its pattern, exact vertices and an interior witness. It is accepted
//! iff (0) every region is a convex cell with positive measure inside the domain and the
//! patterns are distinct; (a) at every vertex the exact pre-activations are sign-compatible with
//! the pattern of every region having that vertex (active ⇒ ≥ 0, inactive ⇒ ≤ 0), so by
//! convexity and induction over layers the network equals the pattern's affine map on the whole
//! cell; (b) the exact measures sum to the domain's; (c) each witness lies strictly inside its
//! cell and has exactly the region's pattern (rules out a neuron ≡ 0 on a cell marked active).
//! Then the cells' interiors are disjoint, they tile the domain, and each is one pattern's region.

use crate::exact::number::{format_rational, parse_rational, to_f64};
use crate::exact::{ExactNet, ExactPoint};
use crate::partition::{centroid, measure, Partition};
use crate::pattern;
use crate::slice::Domain;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

pub const FORMAT: &str = "relu-regions partition";

/// One region in the regions file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionRecord {
    /// '1' active / '0' inactive per hidden neuron, layer by layer.
    pub pattern: String,
    /// Exact vertices as "p/q" strings, counter-clockwise (d = 2) or left to right (d = 1).
    pub vertices: Vec<Vec<String>>,
    pub vertices_f64: Vec<Vec<f64>>,
    /// Exact area (d = 2) or length (d = 1).
    pub measure: String,
    pub measure_f64: f64,
    /// An exact point strictly inside the region.
    pub witness: Vec<String>,
    pub witness_f64: Vec<f64>,
}

/// The whole regions file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartitionFile {
    pub format: String,
    pub version: u32,
    pub dim: usize,
    pub widths: Vec<usize>,
    pub complete: bool,
    pub domain_measure: String,
    pub regions: Vec<RegionRecord>,
}

/// Builds the regions file of a partition (exact vertices, measures and witnesses).
pub fn partition_file(p: &Partition) -> PartitionFile {
    let points = p.exact_vertices();
    let regions = (0..p.regions.len())
        .into_par_iter()
        .map(|r| {
            let verts: Vec<&ExactPoint> = p.regions[r]
                .verts
                .iter()
                .map(|&i| &points[i as usize])
                .collect();
            let m = measure(p.dim, &verts);
            let w = centroid(p.dim, &verts);
            RegionRecord {
                pattern: p.pattern_string(r),
                vertices: verts
                    .iter()
                    .map(|v| v.to_rationals().iter().map(format_rational).collect())
                    .collect(),
                vertices_f64: verts.iter().map(|v| v.to_f64()).collect(),
                measure: format_rational(&m),
                measure_f64: to_f64(&m),
                witness: w.iter().map(format_rational).collect(),
                witness_f64: w.iter().map(to_f64).collect(),
            }
        })
        .collect();
    PartitionFile {
        format: FORMAT.into(),
        version: 1,
        dim: p.dim,
        widths: p.widths.clone(),
        complete: p.complete,
        domain_measure: format_rational(&p.domain.volume()),
        regions,
    }
}

/// Why a certificate was rejected.
pub type Rejection = String;

/// Checks a regions file against the restricted network and its domain. `Ok(regions)` when the
/// file is exactly the activation-region partition.
pub fn verify(net: &ExactNet, domain: &Domain, file: &PartitionFile) -> Result<usize, Rejection> {
    let d = net.d;
    let n: usize = net.widths().iter().sum();
    if file.dim != d {
        return Err(format!("the file is {}-D but the slice is {d}-D", file.dim));
    }
    if file.widths != net.widths() {
        return Err(format!(
            "the file's widths {:?} differ from the network's {:?}",
            file.widths,
            net.widths()
        ));
    }
    // Parse every region.
    let mut cells = Vec::with_capacity(file.regions.len());
    let mut seen_patterns = HashSet::new();
    for (r, rec) in file.regions.iter().enumerate() {
        let bits = pattern::from_str(&rec.pattern, n)
            .ok_or_else(|| format!("regions[{r}].pattern: expected {n} characters 0/1"))?;
        if !seen_patterns.insert(bits.clone()) {
            return Err(format!("regions[{r}]: pattern repeats an earlier region's"));
        }
        let verts = rec
            .vertices
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if v.len() != d {
                    return Err(format!(
                        "regions[{r}].vertices[{i}]: expected {d} coordinates"
                    ));
                }
                v.iter()
                    .map(|x| {
                        parse_rational(x).map_err(|e| format!("regions[{r}].vertices[{i}]: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|q| ExactPoint::from_rationals(&q).reduced())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let witness = rec
            .witness
            .iter()
            .map(|x| parse_rational(x).map_err(|e| format!("regions[{r}].witness: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if witness.len() != d {
            return Err(format!("regions[{r}].witness: expected {d} coordinates"));
        }
        cells.push((bits, verts, witness));
    }
    // (0) shape, inside the domain; (b) measures.
    let mut total = BigRational::zero();
    for (r, (_, verts, witness)) in cells.iter().enumerate() {
        check_cell(d, verts, witness, domain).map_err(|e| format!("regions[{r}]: {e}"))?;
        let refs: Vec<&ExactPoint> = verts.iter().collect();
        total += measure(d, &refs);
    }
    if total != domain.volume() {
        return Err(format!(
            "the region measures sum to {} but the domain's is {}",
            format_rational(&total),
            format_rational(&domain.volume())
        ));
    }
    // (a) sign compatibility at every distinct vertex.
    let mut at_vertex: HashMap<&ExactPoint, Vec<usize>> = HashMap::new();
    for (r, (_, verts, _)) in cells.iter().enumerate() {
        for v in verts {
            at_vertex.entry(v).or_default().push(r);
        }
    }
    let mut vertex_list: Vec<(&ExactPoint, Vec<usize>)> = at_vertex.into_iter().collect();
    vertex_list.sort_by_key(|(_, rs)| rs[0]);
    let last = net.hidden.len().saturating_sub(1);
    vertex_list.par_iter().try_for_each(|(v, rs)| {
        if net.hidden.is_empty() {
            return Ok(());
        }
        let acts = net.forward(v, last);
        for &r in rs {
            let bits = &cells[r].0;
            let mut i = 0;
            for (l, z) in acts.num.iter().enumerate() {
                for (j, x) in z.iter().enumerate() {
                    let active = pattern::get(bits, i);
                    if (active && x.is_negative()) || (!active && x.is_positive()) {
                        return Err(format!(
                            "regions[{r}]: at vertex {:?} neuron {j} of layer {} is {} but the pattern says {}",
                            v.to_f64(),
                            l + 1,
                            if x.is_negative() { "negative" } else { "positive" },
                            if active { "active" } else { "inactive" }
                        ));
                    }
                    i += 1;
                }
            }
        }
        Ok(())
    })?;
    // (c) witnesses have exactly their region's pattern.
    cells
        .par_iter()
        .enumerate()
        .try_for_each(|(r, (bits, _, witness))| {
            if net.hidden.is_empty() {
                return Ok(());
            }
            let p = ExactPoint::from_rationals(witness);
            let acts = net.forward(&p, last);
            let mut i = 0;
            for z in &acts.num {
                for x in z {
                    if x.is_positive() != pattern::get(bits, i) {
                        return Err(format!(
                            "regions[{r}]: the witness has a different pattern (neuron {i})"
                        ));
                    }
                    i += 1;
                }
            }
            Ok(())
        })?;
    Ok(cells.len())
}

fn check_cell(
    d: usize,
    verts: &[ExactPoint],
    witness: &[BigRational],
    domain: &Domain,
) -> Result<(), String> {
    let inside_domain = |p: &[BigRational]| -> bool {
        match domain {
            Domain::Box(b) => p.iter().zip(b).all(|(x, (lo, hi))| lo <= x && x <= hi),
            Domain::Polygon(poly) => (0..poly.len()).all(|i| {
                let (a, b) = (&poly[i], &poly[(i + 1) % poly.len()]);
                let cross = (&b[0] - &a[0]) * (&p[1] - &a[1]) - (&b[1] - &a[1]) * (&p[0] - &a[0]);
                !cross.is_negative()
            }),
        }
    };
    for v in verts {
        if !inside_domain(&v.to_rationals()) {
            return Err(format!("vertex {:?} lies outside the domain", v.to_f64()));
        }
    }
    if d == 1 {
        if verts.len() != 2 {
            return Err("an interval needs exactly two endpoints".into());
        }
        let (a, b) = (verts[0].coord(0), verts[1].coord(0));
        if a >= b {
            return Err("interval endpoints are not increasing".into());
        }
        if !(a < witness[0] && witness[0] < b) {
            return Err("the witness is not strictly inside".into());
        }
        return Ok(());
    }
    if verts.len() < 3 {
        return Err("a polygon needs at least three vertices".into());
    }
    // Convex, counter-clockwise, collinear runs allowed, positive area; witness strictly inside.
    let pts: Vec<Vec<BigRational>> = verts.iter().map(|v| v.to_rationals()).collect();
    let m = pts.len();
    for i in 0..m {
        let (a, b, c) = (&pts[i], &pts[(i + 1) % m], &pts[(i + 2) % m]);
        let cross = (&b[0] - &a[0]) * (&c[1] - &b[1]) - (&b[1] - &a[1]) * (&c[0] - &b[0]);
        if cross.is_negative() {
            return Err("the polygon is not convex and counter-clockwise".into());
        }
        if a == b {
            return Err("the polygon repeats a vertex".into());
        }
        let side =
            (&b[0] - &a[0]) * (&witness[1] - &a[1]) - (&b[1] - &a[1]) * (&witness[0] - &a[0]);
        if !side.is_positive() {
            return Err("the witness is not strictly inside".into());
        }
    }
    // Left turns everywhere still allow a star that winds twice: require winding number 1
    // around the witness (exact crossing count of the ray to its right).
    let mut winding = 0i64;
    for i in 0..m {
        let (a, b) = (&pts[i], &pts[(i + 1) % m]);
        let orient =
            (&b[0] - &a[0]) * (&witness[1] - &a[1]) - (&b[1] - &a[1]) * (&witness[0] - &a[0]);
        if a[1] <= witness[1] && witness[1] < b[1] && orient.is_positive() {
            winding += 1;
        } else if b[1] <= witness[1] && witness[1] < a[1] && orient.is_negative() {
            winding -= 1;
        }
    }
    if winding != 1 {
        return Err(format!(
            "the polygon winds {winding} times around its witness (not simple)"
        ));
    }
    let refs: Vec<&ExactPoint> = verts.iter().collect();
    if !measure(2, &refs).is_positive() {
        return Err("the polygon has no area".into());
    }
    Ok(())
}
