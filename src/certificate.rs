//! Partition certificates (docs/guide.md#exactness-and-the-certificate): the regions file the
//! engine writes, and an independent
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

use crate::engine::lp::LpPartition;
use crate::exact::number::{format_rational, parse_rational, to_f64};
use crate::exact::{polytope, ExactNet, ExactPoint, LineEq};
use crate::partition::{centroid, measure, Partition};
use crate::pattern;
use crate::restrict::Restricted;
use crate::slice::Domain;

use num_traits::Signed;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

pub const FORMAT: &str = "relu-regions partition";

/// One region in the regions file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionRecord {
    /// '1' active / '0' inactive per hidden neuron, layer by layer.
    pub pattern: String,
    /// Exact vertices as "p/q" strings: counter-clockwise (d = 2) or left to right (d = 1) in
    /// files of the mesh engines; in lexicographic order in files with `facets` (lp engine).
    pub vertices: Vec<Vec<String>>,
    /// Floats for plotting (`null` where a value is beyond f64); the checker never reads them.
    #[serde(default)]
    pub vertices_f64: Vec<Vec<Option<f64>>>,
    /// Exact d-volume (area for d = 2, length for d = 1); "" in lp files of slices over 4-D,
    /// which carry no vertices and cannot be certified.
    pub measure: String,
    #[serde(default)]
    pub measure_f64: Option<f64>,
    /// An exact point strictly inside the region.
    pub witness: Vec<String>,
    #[serde(default)]
    pub witness_f64: Vec<Option<f64>>,
    /// The region's facets, in files of the lp engine (any d): each `[a_1, …, a_d, c]`, integers
    /// as decimal strings, for the closed halfspace `a·t + c ≥ 0`. Such files list vertices in
    /// lexicographic order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facets: Vec<Vec<String>>,
}

/// The whole regions file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionFile {
    pub format: String,
    pub version: u32,
    pub dim: usize,
    pub widths: Vec<usize>,
    pub complete: bool,
    pub domain_measure: String,
    /// The slice the regions live on, as a slice file (exact strings); `verify` uses it when no
    /// slice is given. Files written before it was recorded have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice: Option<serde_json::Value>,
    pub regions: Vec<RegionRecord>,
}

/// The regions file's format name and the version this build writes and reads.
pub const VERSION: u32 = 1;

/// Builds the regions file of a partition (exact vertices, measures and witnesses).
pub fn partition_file(p: &Partition) -> PartitionFile {
    partition_file_with(p, &p.exact_vertices())
}

/// [`partition_file`] from exact vertices already computed ([`Partition::exact_vertices`]).
/// Record the slice with [`PartitionFile::slice`].
pub fn partition_file_with(p: &Partition, points: &[ExactPoint]) -> PartitionFile {
    // Each vertex's text once (a vertex is in three or four regions; its reduction costs gcds).
    let vertex_text: Vec<(Vec<String>, Vec<Option<f64>>)> = points
        .par_iter()
        .map(|v| {
            let q = v.to_rationals();
            (
                q.iter().map(format_rational).collect(),
                v.to_f64().into_iter().map(finite).collect(),
            )
        })
        .collect();
    let regions = (0..p.regions.len())
        .into_par_iter()
        .map(|r| {
            let verts = p.region_points(r, points);
            let m = measure(p.dim, &verts);
            let w = centroid(p.dim, &verts);
            let ids = p.regions.get(r).verts;
            RegionRecord {
                pattern: p.pattern_string(r),
                vertices: ids
                    .iter()
                    .map(|&i| vertex_text[i as usize].0.clone())
                    .collect(),
                vertices_f64: ids
                    .iter()
                    .map(|&i| vertex_text[i as usize].1.clone())
                    .collect(),
                measure: format_rational(&m),
                measure_f64: finite(to_f64(&m)),
                witness: w.iter().map(format_rational).collect(),
                witness_f64: w.iter().map(|x| finite(to_f64(x))).collect(),
                facets: Vec::new(),
            }
        })
        .collect();
    PartitionFile::new(p.dim, &p.widths, p.complete, &p.domain, regions)
}

/// Builds the regions file of an lp partition: facets and witnesses always; exact vertices and
/// volumes where the regions carry them ([`crate::engine::lp::LpOptions::exact_geometry`], up
/// to 4-D), else `vertices` is empty and `measure` is "" (such a file lists the regions but
/// cannot be certified). Record the slice with [`PartitionFile::slice`].
pub fn lp_partition_file(p: &LpPartition, domain: &Domain) -> PartitionFile {
    let regions = p
        .regions
        .par_iter()
        .enumerate()
        .map(|(r, region)| {
            let rationals: Vec<Vec<num_rational::BigRational>> = region
                .vertices
                .iter()
                .flatten()
                .map(|(v, _)| v.to_rationals())
                .collect();
            let w = region.witness.to_rationals();
            RegionRecord {
                pattern: p.pattern_string(r),
                vertices: rationals
                    .iter()
                    .map(|v| v.iter().map(format_rational).collect())
                    .collect(),
                vertices_f64: rationals
                    .iter()
                    .map(|v| v.iter().map(|x| finite(to_f64(x))).collect())
                    .collect(),
                measure: region
                    .volume
                    .as_ref()
                    .map_or_else(String::new, format_rational),
                measure_f64: region.volume.as_ref().and_then(|v| finite(to_f64(v))),
                witness: w.iter().map(format_rational).collect(),
                witness_f64: w.iter().map(|x| finite(to_f64(x))).collect(),
                facets: region
                    .facets
                    .iter()
                    .map(|f| f.a.iter().chain([&f.c]).map(|x| x.to_string()).collect())
                    .collect(),
            }
        })
        .collect::<Vec<_>>();
    PartitionFile::new(p.dim, &p.widths, p.complete, domain, regions)
}

impl PartitionFile {
    /// A file of this build's format and version, with no slice recorded yet.
    fn new(
        dim: usize,
        widths: &[usize],
        complete: bool,
        domain: &Domain,
        regions: Vec<RegionRecord>,
    ) -> PartitionFile {
        PartitionFile {
            format: FORMAT.into(),
            version: VERSION,
            dim,
            widths: widths.to_vec(),
            complete,
            domain_measure: format_rational(&domain.volume()),
            slice: None,
            regions,
        }
    }

    /// Reads a regions file (`name` is its path, for messages).
    pub fn from_json(text: &str, name: &str) -> crate::error::Result<PartitionFile> {
        serde_json::from_str(text).map_err(|e| crate::Error::Json {
            file: name.to_string(),
            reason: e.to_string(),
        })
    }

    /// The slice the file records (files written before slices were recorded have none).
    pub fn recorded_slice(
        &self,
        input_dim: usize,
        name: &str,
    ) -> crate::error::Result<Option<crate::Slice>> {
        self.slice
            .as_ref()
            .map(|v| crate::Slice::from_json(&v.to_string(), &format!("{name}: slice"), input_dim))
            .transpose()
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Why a certificate was rejected.
pub type Rejection = String;

/// Checks a regions file against the restricted network and its domain. `Ok(regions)` when the
/// file is exactly the activation-region partition.
pub fn verify(
    restricted: &Restricted,
    domain: &Domain,
    file: &PartitionFile,
) -> Result<usize, Rejection> {
    let net: &ExactNet = &restricted.exact;
    let d = net.d;
    let units = restricted.units();
    if file.format != FORMAT {
        return Err(format!(
            "format is \"{}\", expected \"{FORMAT}\" (not a regions file of relu-regions)",
            file.format
        ));
    }
    if file.version != VERSION {
        return Err(format!(
            "version {} is not one this build reads (it reads version {VERSION})",
            file.version
        ));
    }
    if !file.complete {
        return Err(
            "the file records an incomplete run (stopped by a limit): its regions are \
                    not the activation regions of the whole network"
                .into(),
        );
    }
    let domain_measure =
        parse_rational(&file.domain_measure).map_err(|e| format!("domain_measure: {e}"))?;
    if domain_measure != domain.volume() {
        return Err(format!(
            "domain_measure is {} but the domain's measure is {}",
            file.domain_measure,
            format_rational(&domain.volume())
        ));
    }
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
        let bits = restricted
            .pattern_from_str(&rec.pattern)
            .ok_or_else(|| format!("regions[{r}].pattern: expected {units} characters 0/1"))?;
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
        let facets = rec
            .facets
            .iter()
            .enumerate()
            .map(|(i, f)| parse_facet(f, d).map_err(|e| format!("regions[{r}].facets[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        cells.push((bits, verts, witness, facets));
    }
    // Files of the lp engine describe every region by its facets; others by a polygon (d ≤ 2).
    let polytopes = cells.iter().any(|c| !c.3.is_empty());
    if let Some(r) = file
        .regions
        .iter()
        .position(|r| r.vertices.is_empty() || r.measure.is_empty())
    {
        return Err(format!(
            "regions[{r}] has no exact vertices and measure (the lp engine writes them up to \
             4-D): without them the partition cannot be certified"
        ));
    }
    if polytopes || d > 2 {
        if let Some(r) = cells.iter().position(|c| c.3.len() <= d) {
            return Err(format!(
                "regions[{r}]: a {d}-D region needs at least {} facets",
                d + 1
            ));
        }
    }
    // (0) shape, inside the domain; (b) measures.
    let domain_corners: Vec<ExactPoint> = match domain {
        Domain::Polygon(p) => p.iter().map(|c| ExactPoint::from_rationals(c)).collect(),
        Domain::Box(_) => Vec::new(),
    };
    let measures = cells
        .par_iter()
        .enumerate()
        .map(|(r, (_, verts, witness, facets))| {
            let w = ExactPoint::from_rationals(witness);
            let (num, den) = if polytopes {
                check_polytope(verts, &w, facets, domain, &domain_corners)
                    .map_err(|e| format!("regions[{r}]: {e}"))?
            } else {
                check_cell(d, verts, &w, domain, &domain_corners)
                    .map_err(|e| format!("regions[{r}]: {e}"))?;
                measure_fraction(d, verts)
            };
            let recorded = parse_rational(&file.regions[r].measure)
                .map_err(|e| format!("regions[{r}].measure: {e}"))?;
            if &num * recorded.denom() != recorded.numer() * &den {
                return Err(format!(
                    "regions[{r}].measure is {} but its vertices enclose {}",
                    file.regions[r].measure,
                    ratio_f64(&num, &den)
                ));
            }
            Ok((num, den))
        })
        .collect::<Result<Vec<_>, String>>()?;
    // Σ measures = the domain's, as one fraction summed pairwise (no gcd: denominators multiply).
    let (num, den) = crate::exact::number::sum_fractions(measures);
    let vol = domain.volume();
    if &num * vol.denom() != vol.numer() * &den {
        return Err(format!(
            "the region measures sum to {} but the domain's is {}",
            ratio_f64(&num, &den),
            format_rational(&vol)
        ));
    }
    // (a) sign compatibility at every distinct vertex.
    let mut at_vertex: HashMap<&ExactPoint, Vec<usize>> = HashMap::new();
    for (r, (_, verts, _, _)) in cells.iter().enumerate() {
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
                    let unit = j < restricted.split[l];
                    if unit && ((active && x.is_negative()) || (!active && x.is_positive())) {
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
        .try_for_each(|(r, (bits, _, witness, _))| {
            if net.hidden.is_empty() {
                return Ok(());
            }
            let p = ExactPoint::from_rationals(witness);
            let acts = net.forward(&p, last);
            let mut i = 0;
            for (l, z) in acts.num.iter().enumerate() {
                for (j, x) in z.iter().enumerate() {
                    let unit = j < restricted.split[l];
                    if unit && x.is_positive() != pattern::get(bits, i) {
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

/// Orientation of (a, b, c) in homogeneous integer coordinates: the sign of
/// det [[ax, ay, ad], [bx, by, bd], [cx, cy, cd]] (denominators are positive).
fn orient(a: &ExactPoint, b: &ExactPoint, c: &ExactPoint) -> std::cmp::Ordering {
    let (ax, ay, ad) = (&a.num[0], &a.num[1], &a.den);
    let (bx, by, bd) = (&b.num[0], &b.num[1], &b.den);
    let (cx, cy, cd) = (&c.num[0], &c.num[1], &c.den);
    let det = ax * (by * cd - cy * bd) - ay * (bx * cd - cx * bd) + ad * (bx * cy - cx * by);
    det.sign_cmp()
}

trait SignCmp {
    fn sign_cmp(&self) -> std::cmp::Ordering;
}

impl SignCmp for num_bigint::BigInt {
    fn sign_cmp(&self) -> std::cmp::Ordering {
        match self.sign() {
            num_bigint::Sign::Minus => std::cmp::Ordering::Less,
            num_bigint::Sign::NoSign => std::cmp::Ordering::Equal,
            num_bigint::Sign::Plus => std::cmp::Ordering::Greater,
        }
    }
}

/// Compares coordinate k of two exact points.
fn cmp_coord(a: &ExactPoint, b: &ExactPoint, k: usize) -> std::cmp::Ordering {
    (&a.num[k] * &b.den).cmp(&(&b.num[k] * &a.den))
}

/// The measure of a cell as an unreduced fraction (numerator, positive denominator).
fn measure_fraction(d: usize, verts: &[ExactPoint]) -> (num_bigint::BigInt, num_bigint::BigInt) {
    use num_bigint::BigInt;
    if d == 1 {
        let (a, b) = (&verts[0], &verts[1]);
        return (&b.num[0] * &a.den - &a.num[0] * &b.den, &a.den * &b.den);
    }
    // 2·area = Σ (x_i y_{i+1} − x_{i+1} y_i) / (d_i d_{i+1}), over the common denominator Π d_i.
    let m = verts.len();
    let mut num = BigInt::from(0);
    for i in 0..m {
        let (a, b) = (&verts[i], &verts[(i + 1) % m]);
        let mut term = &a.num[0] * &b.num[1] - &b.num[0] * &a.num[1];
        for (k, v) in verts.iter().enumerate() {
            if k != i && k != (i + 1) % m {
                term *= &v.den;
            }
        }
        num += term;
    }
    let den = verts.iter().fold(BigInt::from(2), |acc, v| acc * &v.den);
    (num, den)
}

fn ratio_f64(n: &num_bigint::BigInt, d: &num_bigint::BigInt) -> f64 {
    crate::exact::number::ratio_to_f64(n, d)
}

/// Whether `p` lies in the closed domain.
fn inside_domain(p: &ExactPoint, domain: &Domain, domain_corners: &[ExactPoint]) -> bool {
    match domain {
        Domain::Box(b) => b.iter().enumerate().all(|(k, (lo, hi))| {
            let x = &p.num[k];
            (lo.numer() * &p.den) <= (x * lo.denom()) && (x * hi.denom()) <= (hi.numer() * &p.den)
        }),
        Domain::Polygon(_) => (0..domain_corners.len()).all(|i| {
            orient(
                &domain_corners[i],
                &domain_corners[(i + 1) % domain_corners.len()],
                p,
            ) != std::cmp::Ordering::Less
        }),
    }
}

/// At most this many candidate edge directions per vertex in `check_polytope`.
const MAX_EDGE_CANDIDATES: u128 = 1_000_000;

fn binomial(n: usize, k: usize) -> u128 {
    (0..k.min(n)).fold(1u128, |acc, i| {
        acc.saturating_mul((n - i) as u128) / (i + 1) as u128
    })
}

/// A facet `[a_1, …, a_d, c]` of integer strings.
fn parse_facet(f: &[String], d: usize) -> Result<LineEq, String> {
    if f.len() != d + 1 {
        return Err(format!("expected {} integers (a_1..a_{d}, c)", d + 1));
    }
    let ints = f
        .iter()
        .map(|x| {
            x.parse::<num_bigint::BigInt>()
                .map_err(|_| format!("\"{x}\" is not an integer"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LineEq {
        a: ints[..d].to_vec(),
        c: ints[d].clone(),
    })
}

/// A region given by facets and vertices (any d): the witness is strictly inside every facet;
/// every listed vertex is in the domain, on the closed side of every facet and a vertex (its
/// tight facets have rank d); the list is complete (every edge from a listed vertex ends at a
/// listed vertex, and the vertex–edge graph of a polytope is connected). Returns the exact
/// volume of the polytope, from those vertices, as a fraction.
fn check_polytope(
    verts: &[ExactPoint],
    witness: &ExactPoint,
    facets: &[LineEq],
    domain: &Domain,
    domain_corners: &[ExactPoint],
) -> Result<(num_bigint::BigInt, num_bigint::BigInt), String> {
    let d = witness.num.len();
    if let Some(i) = facets
        .iter()
        .position(|f| witness.side(f) != std::cmp::Ordering::Greater)
    {
        return Err(format!("the witness is not strictly inside facets[{i}]"));
    }
    let mut listed: Vec<polytope::Vertex> = Vec::with_capacity(verts.len());
    let mut seen = HashSet::new();
    for (i, v) in verts.iter().enumerate() {
        if !inside_domain(v, domain, domain_corners) {
            return Err(format!("vertex {:?} lies outside the domain", v.to_f64()));
        }
        let tight = polytope::tight_set(facets, v)
            .ok_or_else(|| format!("vertices[{i}] is outside one of the region's facets"))?;
        let normals: Vec<&[num_bigint::BigInt]> =
            tight.iter().map(|&j| facets[j].a.as_slice()).collect();
        if polytope::rank(&normals) != d {
            return Err(format!("vertices[{i}] is not a vertex of the region"));
        }
        if !seen.insert(tight.clone()) {
            return Err(format!("vertices[{i}] repeats a vertex"));
        }
        // The edge walk tries every (d−1)-subset of the facets through a vertex: refuse the
        // files where that is beyond reach rather than run for hours.
        if binomial(tight.len(), d - 1) > MAX_EDGE_CANDIDATES {
            return Err(format!(
                "vertices[{i}] lies on {} facets: too degenerate to check its edges",
                tight.len()
            ));
        }
        listed.push((v.clone(), tight));
    }
    if listed.is_empty() {
        return Err("no vertices".into());
    }
    match polytope::missing_neighbour(facets, &listed)? {
        None => {}
        Some((i, w)) => {
            return Err(format!(
            "the vertex list is incomplete: an edge from vertices[{i}] ends at {:?}, not listed",
            w.to_f64()
        ))
        }
    }
    let v = polytope::volume(&listed, facets.len());
    Ok((v.numer().clone(), v.denom().clone()))
}

fn check_cell(
    d: usize,
    verts: &[ExactPoint],
    witness: &ExactPoint,
    domain: &Domain,
    domain_corners: &[ExactPoint],
) -> Result<(), String> {
    use std::cmp::Ordering::{Greater, Less};
    for v in verts {
        if !inside_domain(v, domain, domain_corners) {
            return Err(format!("vertex {:?} lies outside the domain", v.to_f64()));
        }
    }
    if d == 1 {
        if verts.len() != 2 {
            return Err("an interval needs exactly two endpoints".into());
        }
        if cmp_coord(&verts[0], &verts[1], 0) != Less {
            return Err("interval endpoints are not increasing".into());
        }
        if !(cmp_coord(&verts[0], witness, 0) == Less && cmp_coord(witness, &verts[1], 0) == Less) {
            return Err("the witness is not strictly inside".into());
        }
        return Ok(());
    }
    if verts.len() < 3 {
        return Err("a polygon needs at least three vertices".into());
    }
    // Convex, counter-clockwise (collinear runs allowed), witness strictly left of every edge,
    // winding once around the witness (left turns alone would allow a star that winds twice).
    let m = verts.len();
    let mut winding = 0i64;
    for i in 0..m {
        let (a, b, c) = (&verts[i], &verts[(i + 1) % m], &verts[(i + 2) % m]);
        if a == b {
            return Err("the polygon repeats a vertex".into());
        }
        if orient(a, b, c) == Less {
            return Err("the polygon is not convex and counter-clockwise".into());
        }
        let side = orient(a, b, witness);
        if side != Greater {
            return Err("the witness is not strictly inside".into());
        }
        let (ay_le, wy_lt_by) = (
            cmp_coord(a, witness, 1) != Greater,
            cmp_coord(witness, b, 1) == Less,
        );
        let (by_le, wy_lt_ay) = (
            cmp_coord(b, witness, 1) != Greater,
            cmp_coord(witness, a, 1) == Less,
        );
        if ay_le && wy_lt_by && side == Greater {
            winding += 1;
        } else if by_le && wy_lt_ay && side == Less {
            winding -= 1;
        }
    }
    if winding != 1 {
        return Err(format!(
            "the polygon winds {winding} times around its witness (not simple)"
        ));
    }
    let (num, _) = measure_fraction(2, verts);
    if num.sign_cmp() != Greater {
        return Err("the polygon has no area".into());
    }
    Ok(())
}
