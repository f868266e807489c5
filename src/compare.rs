//! Validation of an outside tool's estimate against the exact partition
//! (docs/guide.md#checking-an-outside-estimate-compare).
//!
//! The estimate file is `{"regions": N}`, optionally with `"patterns": [[0,1,…], …]` (the
//! patterns the tool found, one bit per hidden neuron, layer by layer; a '0'/'1' string works
//! too) and `"points": [[t…], …]` (one t-space point of the slice per pattern, the point where
//! the tool saw it). The comparison reports the relative error of N, the patterns that no region
//! has (a bug in the other tool), the points whose pattern is wrong (checked by the exact forward
//! pass; zero is inactive), the regions the estimate missed with their exact areas,
//! and the smallest region area (regions smaller than h^d can slip through a grid of spacing h).
//!
//! A pattern attached to a point that lies exactly on a boundary and is that point's true
//! pattern is not called impossible: it is the pattern of a lower-dimensional piece, correct but
//! not a region (it is listed in `boundary_patterns`).

use crate::error::{Error, Result};
use crate::exact::number::{format_rational, to_f64};
use crate::exact::ExactPoint;
use crate::net::parse_num;
use crate::partition::Partition;
use crate::pattern;
use crate::restrict::Restricted;
use crate::sampling::{exact_pattern_at, inside_closed};
use crate::slice::Domain;
use num_rational::BigRational;
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// An outside tool's estimate, checked for shape when read.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// The estimated number of regions (may be fractional, e.g. a Chao1 value).
    pub regions: f64,
    /// Patterns as bitsets over all hidden neurons.
    pub patterns: Vec<Vec<u64>>,
    /// t-space points, one per pattern (empty when the file gives none).
    pub points: Vec<Vec<BigRational>>,
}

impl Estimate {
    /// Reads an estimate for a slice over `domain` and a network with `neurons` hidden neurons.
    /// `file` names the source in error messages.
    pub fn from_json(
        text: &str,
        file: &str,
        domain: &Domain,
        net: &Restricted,
    ) -> Result<Estimate> {
        let root = crate::json::parse(text, file)?;
        let obj = crate::json::object(&root, file, "(top level)")?;
        crate::json::check_keys(obj, &["regions", "patterns", "points", "meta"], file, "")?;
        let regions = obj
            .get("regions")
            .ok_or_else(|| Error::field(file, "regions", "missing (expected a number ≥ 0)"))?;
        let regions = regions
            .as_f64()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| {
                Error::field(
                    file,
                    "regions",
                    format!("expected a number ≥ 0, found {regions}"),
                )
            })?;
        let patterns = match obj.get("patterns") {
            None => Vec::new(),
            Some(v) => v
                .as_array()
                .ok_or_else(|| Error::field(file, "patterns", "expected an array of patterns"))?
                .iter()
                .enumerate()
                .map(|(i, p)| parse_pattern(p, file, &format!("patterns[{i}]"), net))
                .collect::<Result<_>>()?,
        };
        let d = domain.dim();
        let points: Vec<Vec<BigRational>> = match obj.get("points") {
            None => Vec::new(),
            Some(v) => v
                .as_array()
                .ok_or_else(|| Error::field(file, "points", "expected an array of points"))?
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let field = format!("points[{i}]");
                    let arr = p.as_array().filter(|a| a.len() == d).ok_or_else(|| {
                        Error::field(
                            file,
                            &field,
                            format!("expected {d} coordinates (the slice is {d}-D)"),
                        )
                    })?;
                    let t = arr
                        .iter()
                        .enumerate()
                        .map(|(k, x)| {
                            parse_num(x, file, || format!("{field}[{k}]")).map(|x| x.exact())
                        })
                        .collect::<Result<Vec<_>>>()?;
                    if !inside_closed(domain, &t) {
                        return Err(Error::field(
                            file,
                            &field,
                            "lies outside the slice's domain",
                        ));
                    }
                    Ok(t)
                })
                .collect::<Result<_>>()?,
        };
        if !points.is_empty() && points.len() != patterns.len() {
            return Err(Error::field(
                file,
                "points",
                format!(
                    "has {} entries but patterns has {}: give one pattern per point",
                    points.len(),
                    patterns.len()
                ),
            ));
        }
        Ok(Estimate {
            regions,
            patterns,
            points,
        })
    }
}

fn parse_pattern(v: &Value, file: &str, field: &str, net: &Restricted) -> Result<Vec<u64>> {
    let n = net.units();
    if let Some(s) = v.as_str() {
        return net.pattern_from_str(s).ok_or_else(|| {
            Error::field(
                file,
                field,
                format!("expected a string of {n} characters '0'/'1' (one per hidden unit)"),
            )
        });
    }
    let arr = v.as_array().ok_or_else(|| {
        Error::field(
            file,
            field,
            "expected an array of 0/1 (or a '0'/'1' string)",
        )
    })?;
    if arr.len() != n {
        return Err(Error::field(
            file,
            field,
            format!(
                "has {} entries, the network has {n} hidden units",
                arr.len()
            ),
        ));
    }
    let mut units = Vec::with_capacity(n);
    for (i, x) in arr.iter().enumerate() {
        units.push(match x {
            Value::Bool(b) => *b,
            Value::Number(k) if k.as_u64() == Some(1) => true,
            Value::Number(k) if k.as_u64() == Some(0) => false,
            other => {
                return Err(Error::field(
                    file,
                    format!("{field}[{i}]"),
                    format!("expected 0 or 1, found {other}"),
                ))
            }
        });
    }
    Ok(pattern::from_unit_str(
        &units
            .iter()
            .map(|&b| if b { '1' } else { '0' })
            .collect::<String>(),
        &net.widths,
        &net.split,
    )
    .expect("one entry per unit"))
}

/// A pattern of the estimate that no region has.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImpossiblePattern {
    /// Index in the estimate's `patterns`.
    pub index: usize,
    pub pattern: String,
}

/// A point whose claimed pattern differs from the exact one.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WrongPoint {
    pub index: usize,
    /// Exact coordinates as text.
    pub point: Vec<String>,
    pub claimed: String,
    pub actual: String,
    /// Some pre-activation is exactly zero there.
    pub on_boundary: bool,
}

/// A region whose pattern the estimate does not have.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MissedRegion {
    /// Index in the partition's canonical region order.
    pub region: usize,
    pub pattern: String,
    /// Area (d = 2), length (d = 1) or volume in t-space, f64 and exact (`null` where the
    /// engine gives no measures: the lp engine for d ≥ 4).
    pub area: Option<f64>,
    pub area_exact: Option<String>,
    /// An exact interior point (vertex average), as text, and rounded.
    pub witness: Vec<String>,
    pub witness_approx: Vec<f64>,
}

/// The outcome of `compare`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub exact_regions: usize,
    pub estimate_regions: f64,
    /// (estimate − exact) ÷ exact.
    pub relative_error: f64,
    pub certified: bool,
    pub complete: bool,
    /// Distinct patterns in the estimate.
    pub estimate_patterns: usize,
    pub impossible_patterns: Vec<ImpossiblePattern>,
    pub wrong_points: Vec<WrongPoint>,
    /// Patterns at boundary points that are the true (lower-dimensional) pattern there.
    pub boundary_patterns: usize,
    /// Only when the estimate lists patterns: regions whose pattern it does not have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_regions: Option<Vec<MissedRegion>>,
    /// Σ area of the missed regions ÷ domain area.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_area_fraction: Option<f64>,
    /// The smallest region (`null` without measures).
    pub smallest_region: Option<usize>,
    /// Measure (area for d = 2, length for d = 1) of the smallest region, t-space.
    pub smallest_region_area: Option<f64>,
    pub smallest_region_area_exact: Option<String>,
    /// smallest_region_area^(1/d): a grid coarser than this can miss that region.
    pub smallest_region_scale: Option<f64>,
    /// No impossible pattern and no wrong point.
    pub passed: bool,
}

/// The exact regions an estimate is checked against, from either engine: patterns, interior
/// points, and exact measures where the engine gives them (the lp engine gives none for d ≥ 4).
#[derive(Debug, Clone)]
pub struct ExactRegions {
    pub dim: usize,
    pub patterns: Vec<Vec<u64>>,
    pub witnesses: Vec<Vec<BigRational>>,
    pub measures: Option<Vec<BigRational>>,
    pub domain: Domain,
    pub certified: bool,
    pub complete: bool,
}

impl ExactRegions {
    /// The exact regions of `net` on `domain` by the engine `count` would choose (the lp
    /// engine for d ≥ 3, with exact volumes up to d = 4), for the commands that check against
    /// them (`compare`, `bounds --count`).
    pub fn compute(
        net: &Restricted,
        domain: &Domain,
        progress: &dyn crate::ProgressSink,
    ) -> crate::error::Result<ExactRegions> {
        use crate::engine::lp::{enumerate_lp_with, LpOptions};
        let cfg = crate::EnumerateConfig::default();
        if crate::EngineChoice::Auto.uses_lp(net.d) {
            let options = LpOptions {
                exact_geometry: net.d <= crate::engine::lp::GEOMETRY_MAX_DIM,
                // Volumes, patterns and witnesses only.
                facets: false,
                ..LpOptions::default()
            };
            let p = enumerate_lp_with(net, domain, &cfg, &options, progress)?;
            Ok(ExactRegions::from_lp(&p, domain))
        } else {
            let p = crate::enumerate(net, domain, &cfg, progress)?;
            Ok(ExactRegions::from_partition(&p))
        }
    }

    /// From a planar or segment partition (exact vertices are computed here).
    pub fn from_partition(p: &Partition) -> ExactRegions {
        let points = p.exact_vertices();
        let n = p.regions.len();
        ExactRegions {
            dim: p.dim,
            patterns: p.regions.iter().map(|r| r.pattern.to_vec()).collect(),
            witnesses: (0..n).map(|r| p.region_witness(r, &points)).collect(),
            measures: Some((0..n).map(|r| p.region_measure(r, &points)).collect()),
            domain: p.domain.clone(),
            certified: p.certified,
            complete: p.complete,
        }
    }

    /// From an lp partition; measures when every region carries its volume.
    pub fn from_lp(p: &crate::engine::lp::LpPartition, domain: &Domain) -> ExactRegions {
        let measures: Option<Vec<BigRational>> =
            p.regions.iter().map(|r| r.volume.clone()).collect();
        ExactRegions {
            dim: p.dim,
            patterns: p.regions.iter().map(|r| r.pattern.clone()).collect(),
            witnesses: p.regions.iter().map(|r| r.witness.to_rationals()).collect(),
            measures,
            domain: domain.clone(),
            certified: p.certified,
            complete: p.complete,
        }
    }
}

/// Compares `estimate` with the exact regions of `net` (the same restricted network).
pub fn compare(exact: &ExactRegions, net: &Restricted, estimate: &Estimate) -> Comparison {
    let exact_regions = exact.patterns.len();
    let by_pattern: HashMap<&[u64], usize> = exact
        .patterns
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_slice(), i))
        .collect();

    let mut wrong_points = Vec::new();
    let mut boundary_ok: HashSet<usize> = HashSet::new();
    for (i, t) in estimate.points.iter().enumerate() {
        let (actual, on_boundary) = exact_pattern_at(net, &ExactPoint::from_rationals(t));
        let claimed = &estimate.patterns[i];
        if &actual != claimed {
            wrong_points.push(WrongPoint {
                index: i,
                point: t.iter().map(format_rational).collect(),
                claimed: net.pattern_string(claimed),
                actual: net.pattern_string(&actual),
                on_boundary,
            });
        } else if on_boundary {
            boundary_ok.insert(i);
        }
    }
    let mut impossible_patterns = Vec::new();
    for (i, p) in estimate.patterns.iter().enumerate() {
        if !by_pattern.contains_key(p.as_slice()) && !boundary_ok.contains(&i) {
            impossible_patterns.push(ImpossiblePattern {
                index: i,
                pattern: net.pattern_string(p),
            });
        }
    }
    let seen: HashSet<&[u64]> = estimate.patterns.iter().map(|p| p.as_slice()).collect();
    let domain_area = exact.domain.volume();
    let (missed_regions, missed_area_fraction) = if estimate.patterns.is_empty() {
        (None, None)
    } else {
        let missed: Vec<MissedRegion> = (0..exact_regions)
            .filter(|&r| !seen.contains(exact.patterns[r].as_slice()))
            .map(|r| {
                let witness = &exact.witnesses[r];
                let area = exact.measures.as_ref().map(|m| &m[r]);
                MissedRegion {
                    region: r,
                    pattern: net.pattern_string(&exact.patterns[r]),
                    area: area.map(to_f64),
                    area_exact: area.map(format_rational),
                    witness: witness.iter().map(format_rational).collect(),
                    witness_approx: witness.iter().map(to_f64).collect(),
                }
            })
            .collect();
        let fraction = exact.measures.as_ref().map(|m| {
            let total: BigRational = missed.iter().map(|x| m[x.region].clone()).sum();
            to_f64(&(total / &domain_area))
        });
        (Some(missed), fraction)
    };
    let smallest = exact.measures.as_ref().and_then(|m| {
        m.iter()
            .enumerate()
            .min_by(|a, b| a.1.cmp(b.1))
            .map(|(i, a)| (i, a.clone()))
    });
    let passed = impossible_patterns.is_empty() && wrong_points.is_empty();
    Comparison {
        exact_regions,
        estimate_regions: estimate.regions,
        relative_error: (estimate.regions - exact_regions as f64) / exact_regions as f64,
        certified: exact.certified,
        complete: exact.complete,
        estimate_patterns: seen.len(),
        impossible_patterns,
        wrong_points,
        boundary_patterns: boundary_ok.len(),
        missed_regions,
        missed_area_fraction,
        smallest_region: smallest.as_ref().map(|s| s.0),
        smallest_region_area: smallest.as_ref().map(|s| to_f64(&s.1)),
        smallest_region_area_exact: smallest.as_ref().map(|s| format_rational(&s.1)),
        smallest_region_scale: smallest
            .as_ref()
            .map(|s| to_f64(&s.1).powf(1.0 / exact.dim as f64)),
        passed,
    }
}

impl Comparison {
    /// A short human-readable report.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<24} {v}\n"));
        row(
            "exact regions",
            format!(
                "{}{}",
                self.exact_regions,
                if self.certified && self.complete {
                    "   (exact, certified)"
                } else {
                    "   (NOT complete or not certified)"
                }
            ),
        );
        row("estimate", format!("{}", self.estimate_regions));
        row(
            "relative error",
            format!("{:+.4}%", 100.0 * self.relative_error),
        );
        row(
            "estimate patterns",
            format!("{} distinct", self.estimate_patterns),
        );
        row(
            "impossible patterns",
            format!(
                "{}   (patterns no region has)",
                self.impossible_patterns.len()
            ),
        );
        for p in self.impossible_patterns.iter().take(10) {
            row("", format!("patterns[{}] = {}", p.index, p.pattern));
        }
        row(
            "wrong points",
            format!(
                "{}   (claimed pattern ≠ exact pattern)",
                self.wrong_points.len()
            ),
        );
        for w in self.wrong_points.iter().take(10) {
            row(
                "",
                format!(
                    "points[{}] = ({}): claimed {}, exact {}{}",
                    w.index,
                    w.point.join(", "),
                    w.claimed,
                    w.actual,
                    if w.on_boundary {
                        " (on a boundary)"
                    } else {
                        ""
                    }
                ),
            );
        }
        if let Some(m) = &self.missed_regions {
            row(
                "missed regions",
                match self.missed_area_fraction {
                    Some(f) => format!("{}   ({:.4}% of the domain)", m.len(), 100.0 * f),
                    None => m.len().to_string(),
                },
            );
            let mut largest: Vec<&MissedRegion> = m.iter().collect();
            largest.sort_by(|a, b| {
                let area = |r: &MissedRegion| r.area.unwrap_or(0.0);
                area(b).total_cmp(&area(a)).then(a.region.cmp(&b.region))
            });
            for r in largest.iter().take(10) {
                row(
                    "",
                    format!(
                        "region {}{} at ({})",
                        r.region,
                        r.area.map(|a| format!(" area {a:.6e}")).unwrap_or_default(),
                        r.witness_approx
                            .iter()
                            .map(|w| format!("{w:.6}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        if let (Some(r), Some(a), Some(h)) = (
            self.smallest_region,
            self.smallest_region_area,
            self.smallest_region_scale,
        ) {
            row(
                "smallest region",
                format!("{r} with measure {a:.6e} (a grid coarser than {h:.3e} can miss it)"),
            );
        }
        row(
            "verdict",
            if self.passed {
                "passed: every pattern and point is possible".to_string()
            } else {
                "FAILED: the estimate holds impossible patterns or wrong points".to_string()
            },
        );
        out
    }
}
