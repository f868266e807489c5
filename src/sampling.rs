//! Sampled estimates of the region count (docs/guide.md#sampling-estimators), the kind other
//! tools produce, computed here so that they can be set beside the exact count.
//!
//! - [`grid`]: activation patterns at the centres of an M^d grid of cells over the domain.
//! - [`random_points`]: K uniform random points, distinct patterns and the Chao1 estimate of the
//!   total (a species-richness estimator: unseen regions inferred from those seen once or twice).
//! - [`random_lines`]: K random segments counted exactly by the 1-D engine; regions per unit
//!   length.
//!
//! Patterns at sample points are taken from an f64 forward pass behind a proven error bound
//! (`|z − ẑ| ≤ R·e + γ_{n+3}(R·max h + max |b|)` per layer, R the largest row l1 norm, the bound
//! the planar engine uses); when a pre-activation is within its bound of zero, the point is
//! re-evaluated with the exact forward pass of [`ExactNet`](crate::exact::ExactNet). A point where
//! some pre-activation is exactly zero lies on a region boundary (a lower-dimensional piece, which
//! never counts): it is **skipped** and counted in `on_boundary`. Every pattern that is
//! kept therefore has all pre-activations non-zero at an interior point of the domain, so it holds
//! on a neighbourhood of that point: it is the pattern of a true region, and the number of
//! distinct patterns is a certified lower bound on the exact count.
//!
//! Cost: one f64 forward pass per point (O(Σ n_{l−1} n_l)), in parallel; exact passes are rare.

use crate::engine::ProgressSink;
use crate::error::{Error, Result};
use crate::exact::number::{rational_from_f64, to_f64};
use crate::exact::ExactPoint;
use crate::net::Network;
use crate::pattern;
use crate::restrict::Restricted;
use crate::slice::{Domain, Slice};
use crate::{enumerate, EnumerateConfig, NoProgress};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use rand::{Rng, RngExt};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The generator every sampler is meant to be driven by: ChaCha with 8 rounds (portable, seeded).
pub type SampleRng = rand_chacha::ChaCha8Rng;

/// Largest number of grid points accepted (M^d).
pub const MAX_GRID_POINTS: u64 = 100_000_000;

/// Largest number of random points or segments accepted.
pub const MAX_SAMPLES: usize = 10_000_000;

const U: f64 = f64::EPSILON / 2.0;

/// Patterns observed at sample points.
#[derive(Debug, Clone, Serialize)]
pub struct PatternSample {
    /// "grid" or "points".
    pub method: String,
    /// Points inside the domain that were evaluated.
    pub points: usize,
    /// Points skipped because a pre-activation is exactly zero there (on a boundary).
    pub on_boundary: usize,
    /// Points the f64 bound could not decide, evaluated by the exact forward pass (the boundary
    /// points among them).
    pub exact_fallbacks: usize,
    /// Distinct patterns among the kept points: a lower bound on the exact count.
    pub distinct_patterns: usize,
    /// Patterns seen exactly once (f1) and exactly twice (f2).
    pub singletons: usize,
    pub doubletons: usize,
    /// Bias-corrected Chao1 estimate of the total (random points only):
    /// S + ((K−1)/K)·f1(f1−1)/(2(f2+1)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chao1: Option<f64>,
    /// Each distinct pattern (bitset over all hidden neurons) with its number of points, sorted.
    #[serde(skip)]
    pub patterns: Vec<(Vec<u64>, usize)>,
}

/// Exact counts along random segments.
#[derive(Debug, Clone, Serialize)]
pub struct LineSample {
    pub segments: usize,
    /// Σ regions over the segments.
    pub total_regions: usize,
    /// Σ segment lengths in input space (f64).
    pub total_length: f64,
    /// Σ segment lengths in the slice's t coordinates (f64).
    pub total_t_length: f64,
    /// total_regions ÷ total_length (input space).
    pub regions_per_length: f64,
    /// Σ (regions − 1) ÷ total_length: boundary crossings per unit input-space length.
    pub transitions_per_length: f64,
    /// total_regions ÷ total_t_length.
    pub regions_per_t_length: f64,
    /// Regions on each segment, in the order drawn.
    pub regions: Vec<usize>,
    /// Each segment's input-space length, in the order drawn.
    pub lengths: Vec<f64>,
}

enum Outcome {
    Pattern(Vec<u64>, bool),
    OnBoundary,
}

/// The pattern at `t` (f64 coordinates within `t_err` of the exact point `exact()`).
fn classify(net: &Restricted, t: &[f64], t_err: f64, exact: &dyn Fn() -> ExactPoint) -> Outcome {
    let mut bits = vec![0u64; pattern::words(net.neurons)];
    if float_pattern(net, t, t_err, &mut bits) {
        return Outcome::Pattern(bits, false);
    }
    match exact_pattern(net, &exact()) {
        Some(bits) => Outcome::Pattern(bits, true),
        None => Outcome::OnBoundary,
    }
}

/// The pattern by an f64 forward pass; false when some sign is not proven by the error bound.
fn float_pattern(net: &Restricted, t: &[f64], t_err: f64, bits: &mut [u64]) -> bool {
    let mut z: Vec<f64> = t.to_vec();
    let mut e = t_err;
    for (k, layer) in net.float.iter().enumerate() {
        // The input: t itself for layer 0, else the previous layer's rows activated.
        let mut h = vec![0.0; z.len()];
        let hmax = if k == 0 {
            h.copy_from_slice(&z);
            h.iter().fold(0.0f64, |m, x| m.max(x.abs()))
        } else {
            let m = layer.activate(&z, &mut h);
            e = layer.input_gain() * e + 2.0 * U * m;
            m
        };
        let nu = (layer.w.row_len_max() + 3) as f64 * U;
        let gamma = nu / (1.0 - nu);
        let err = (layer.row_l1_max * e + gamma * (layer.row_l1_max * hmax + layer.bias_max))
            * (1.0 + 16.0 * U);
        let mut next = vec![0.0; layer.n_out];
        layer.product(1, &h, &mut next);
        for (i, &zi) in next.iter().enumerate() {
            let g = net.offsets[k] + i;
            if pattern::get(&net.pass_mask, g) {
                pattern::set(bits, g, true);
                continue;
            }
            if zi.is_nan() || zi.abs() <= err {
                return false;
            }
            if zi > 0.0 {
                pattern::set(bits, g, true);
            }
        }
        z = next;
        e = err;
    }
    true
}

/// The exact pattern at `p`, or `None` when some unit's pre-activation is exactly zero.
pub fn exact_pattern(net: &Restricted, p: &ExactPoint) -> Option<Vec<u64>> {
    let (bits, on_boundary) = exact_pattern_at(net, p);
    (!on_boundary).then_some(bits)
}

/// The exact pattern at `p` (zero is inactive; pass-through rows are always 1), and whether
/// some unit's pre-activation is exactly zero there.
pub fn exact_pattern_at(net: &Restricted, p: &ExactPoint) -> (Vec<u64>, bool) {
    let mut bits = net.pass_mask.clone();
    let mut on_boundary = false;
    if net.widths.is_empty() {
        return (bits, false);
    }
    let acts = net.exact.forward(p, net.widths.len() - 1);
    for (k, layer) in acts.num.iter().enumerate() {
        for (i, z) in layer.iter().enumerate().take(net.split[k]) {
            on_boundary |= z.is_zero();
            if z.is_positive() {
                pattern::set(&mut bits, net.offsets[k] + i, true);
            }
        }
    }
    (bits, on_boundary)
}

/// Whether `t` lies strictly inside the domain (exactly).
pub fn strictly_inside(domain: &Domain, t: &[BigRational]) -> bool {
    match domain {
        Domain::Box(b) => b.iter().zip(t).all(|((lo, hi), x)| lo < x && x < hi),
        Domain::Polygon(p) => {
            let n = p.len();
            (0..n).all(|i| {
                let (a, b) = (&p[i], &p[(i + 1) % n]);
                let cross = (&b[0] - &a[0]) * (&t[1] - &a[1]) - (&b[1] - &a[1]) * (&t[0] - &a[0]);
                cross.is_positive()
            })
        }
    }
}

/// Whether `t` lies inside the domain or on its boundary (exactly).
pub fn inside_closed(domain: &Domain, t: &[BigRational]) -> bool {
    match domain {
        Domain::Box(b) => b.iter().zip(t).all(|((lo, hi), x)| lo <= x && x <= hi),
        Domain::Polygon(p) => {
            let n = p.len();
            (0..n).all(|i| {
                let (a, b) = (&p[i], &p[(i + 1) % n]);
                let cross = (&b[0] - &a[0]) * (&t[1] - &a[1]) - (&b[1] - &a[1]) * (&t[0] - &a[0]);
                !cross.is_negative()
            })
        }
    }
}

/// The bounding box of the domain.
fn bounding_box(domain: &Domain) -> Vec<(BigRational, BigRational)> {
    match domain {
        Domain::Box(b) => b.clone(),
        Domain::Polygon(p) => (0..2)
            .map(|k| {
                let lo = p.iter().map(|c| &c[k]).min().expect("corners").clone();
                let hi = p.iter().map(|c| &c[k]).max().expect("corners").clone();
                (lo, hi)
            })
            .collect(),
    }
}

/// Running totals of classified points (merged across threads; order-free, so deterministic).
#[derive(Default)]
struct Tally {
    counts: HashMap<Vec<u64>, usize>,
    points: usize,
    on_boundary: usize,
    fallbacks: usize,
}

impl Tally {
    fn add(mut self, o: Outcome) -> Tally {
        self.points += 1;
        match o {
            Outcome::Pattern(bits, exact) => {
                self.fallbacks += usize::from(exact);
                *self.counts.entry(bits).or_insert(0) += 1;
            }
            Outcome::OnBoundary => {
                self.fallbacks += 1;
                self.on_boundary += 1;
            }
        }
        self
    }

    fn merge(mut self, other: Tally) -> Tally {
        let (mut big, small) = if self.counts.len() >= other.counts.len() {
            (std::mem::take(&mut self.counts), other.counts)
        } else {
            (other.counts, std::mem::take(&mut self.counts))
        };
        for (k, v) in small {
            *big.entry(k).or_insert(0) += v;
        }
        Tally {
            counts: big,
            points: self.points + other.points,
            on_boundary: self.on_boundary + other.on_boundary,
            fallbacks: self.fallbacks + other.fallbacks,
        }
    }

    fn finish(self, method: &str, with_chao1: bool) -> PatternSample {
        let counts: BTreeMap<Vec<u64>, usize> = self.counts.into_iter().collect();
        let singletons = counts.values().filter(|&&c| c == 1).count();
        let doubletons = counts.values().filter(|&&c| c == 2).count();
        let distinct = counts.len();
        let kept = (self.points - self.on_boundary) as f64;
        let chao1 = (with_chao1 && kept > 0.0).then(|| {
            let f1 = singletons as f64;
            let f2 = doubletons as f64;
            distinct as f64 + (kept - 1.0) / kept * f1 * (f1 - 1.0) / (2.0 * (f2 + 1.0))
        });
        PatternSample {
            method: method.to_string(),
            points: self.points,
            on_boundary: self.on_boundary,
            exact_fallbacks: self.fallbacks,
            distinct_patterns: distinct,
            singletons,
            doubletons,
            chao1,
            patterns: counts.into_iter().collect(),
        }
    }
}

/// Patterns at the centres of an `m`^d grid of cells over the domain (its bounding box for a
/// polygon; centres outside the polygon are dropped).
pub fn grid(net: &Restricted, domain: &Domain, m: usize) -> Result<PatternSample> {
    grid_with(net, domain, m, &NoProgress)
}

/// [`grid`] with progress (`advance` per 1024 points).
pub fn grid_with(
    net: &Restricted,
    domain: &Domain,
    m: usize,
    progress: &dyn ProgressSink,
) -> Result<PatternSample> {
    let d = domain.dim();
    if m == 0 {
        return Err(Error::usage("--grid", "must be at least 1"));
    }
    let total = (m as u64)
        .checked_pow(d as u32)
        .filter(|&t| t <= MAX_GRID_POINTS)
        .ok_or_else(|| {
            Error::usage(
                "--grid",
                format!("{m}^{d} points is more than the limit of {MAX_GRID_POINTS}"),
            )
        })?;
    // Per axis: the m exact centres and their f64 roundings.
    let bbox = bounding_box(domain);
    let axes: Vec<Vec<(BigRational, f64)>> = bbox
        .iter()
        .map(|(lo, hi)| {
            let step = (hi - lo) / BigInt::from(m);
            (0..m)
                .map(|i| {
                    let c = lo + &step * BigRational::new(BigInt::from(2 * i + 1), 2.into());
                    let f = to_f64(&c);
                    (c, f)
                })
                .collect()
        })
        .collect();
    let is_box = matches!(domain, Domain::Box(_));
    progress.start_layer(0, 1, total as usize);
    let tally = (0..total)
        .into_par_iter()
        .inspect(|i| {
            if i % 1024 == 1023 {
                progress.advance(1024);
            }
        })
        .filter_map(|index| {
            let mut idx = Vec::with_capacity(d);
            let mut rest = index;
            for _ in 0..d {
                idx.push((rest % m as u64) as usize);
                rest /= m as u64;
            }
            let exact_coords = || -> Vec<BigRational> {
                idx.iter()
                    .enumerate()
                    .map(|(k, &i)| axes[k][i].0.clone())
                    .collect()
            };
            if !is_box && !strictly_inside(domain, &exact_coords()) {
                return None;
            }
            let t: Vec<f64> = idx.iter().enumerate().map(|(k, &i)| axes[k][i].1).collect();
            // to_f64 of a rational is within 2 ulps: a generous bound on the rounding.
            let t_err = 4.0 * U * t.iter().fold(0.0f64, |a, x| a.max(x.abs()));
            let exact = || ExactPoint::from_rationals(&exact_coords());
            Some(classify(net, &t, t_err, &exact))
        })
        .fold(Tally::default, Tally::add)
        .reduce(Tally::default, Tally::merge);
    Ok(tally.finish("grid", false))
}

/// One uniform random point strictly inside the domain, as f64 coordinates (exact binary
/// rationals). Polygons by rejection from the bounding box.
fn random_point<R: Rng + ?Sized>(
    rng: &mut R,
    domain: &Domain,
    bbox: &[(f64, f64)],
) -> Result<Vec<f64>> {
    for _ in 0..10_000 {
        let t: Vec<f64> = bbox
            .iter()
            .map(|&(lo, hi)| lo + rng.random::<f64>() * (hi - lo))
            .collect();
        let exact: Vec<BigRational> = t
            .iter()
            .map(|&x| rational_from_f64(x).expect("finite"))
            .collect();
        if strictly_inside(domain, &exact) {
            return Ok(t);
        }
    }
    Err(Error::Unsupported(
        "the domain is too thin to draw random points from (10 000 rejections)".into(),
    ))
}

fn float_bbox(domain: &Domain) -> Vec<(f64, f64)> {
    bounding_box(domain)
        .iter()
        .map(|(lo, hi)| (to_f64(lo), to_f64(hi)))
        .collect()
}

/// Patterns at `k` uniform random points of the domain, with the Chao1 estimate.
pub fn random_points<R: Rng + ?Sized>(
    net: &Restricted,
    domain: &Domain,
    k: usize,
    rng: &mut R,
) -> Result<PatternSample> {
    random_points_with(net, domain, k, rng, &NoProgress)
}

/// [`random_points`] with progress (`advance` per 1024 points).
pub fn random_points_with<R: Rng + ?Sized>(
    net: &Restricted,
    domain: &Domain,
    k: usize,
    rng: &mut R,
    progress: &dyn ProgressSink,
) -> Result<PatternSample> {
    if k == 0 || k > MAX_SAMPLES {
        return Err(Error::usage(
            "--points",
            format!("must be between 1 and {MAX_SAMPLES}"),
        ));
    }
    let bbox = float_bbox(domain);
    let points: Vec<Vec<f64>> = (0..k)
        .map(|_| random_point(rng, domain, &bbox))
        .collect::<Result<_>>()?;
    progress.start_layer(0, 1, k);
    let tally = points
        .par_iter()
        .enumerate()
        .map(|(i, t)| {
            if i % 1024 == 1023 {
                progress.advance(1024);
            }
            let exact = || {
                ExactPoint::from_rationals(
                    &t.iter()
                        .map(|&x| rational_from_f64(x).expect("finite"))
                        .collect::<Vec<_>>(),
                )
            };
            classify(net, t, 0.0, &exact)
        })
        .fold(Tally::default, Tally::add)
        .reduce(Tally::default, Tally::merge);
    Ok(tally.finish("points", true))
}

/// The 1-D slice of the network's input space along the segment from `p` to `q` (t-space points
/// of `slice`), over [0, 1]; and its input-space length.
pub fn segment_slice(slice: &Slice, p: &[BigRational], q: &[BigRational]) -> (Slice, f64) {
    let n0 = slice.origin.len();
    let mut origin = slice.origin.clone();
    let mut dir = vec![BigRational::zero(); n0];
    for (k, b) in slice.basis.iter().enumerate() {
        let dk = &q[k] - &p[k];
        for j in 0..n0 {
            if !b[j].is_zero() {
                origin[j] += &p[k] * &b[j];
                dir[j] += &dk * &b[j];
            }
        }
    }
    let length = dir.iter().map(|x| to_f64(x).powi(2)).sum::<f64>().sqrt();
    let seg = Slice {
        origin,
        basis: vec![dir],
        domain: Domain::Box(vec![(
            BigRational::zero(),
            BigRational::from_integer(1.into()),
        )]),
    };
    (seg, length)
}

/// Exact region counts along `k` random segments whose endpoints are uniform in the domain.
pub fn random_lines<R: Rng + ?Sized>(
    net: &Network,
    slice: &Slice,
    k: usize,
    rng: &mut R,
) -> Result<LineSample> {
    random_lines_with(net, slice, k, rng, &NoProgress)
}

/// [`random_lines`] with progress (`advance` per segment).
pub fn random_lines_with<R: Rng + ?Sized>(
    net: &Network,
    slice: &Slice,
    k: usize,
    rng: &mut R,
    progress: &dyn ProgressSink,
) -> Result<LineSample> {
    if k == 0 || k > MAX_SAMPLES {
        return Err(Error::usage(
            "--lines",
            format!("must be between 1 and {MAX_SAMPLES}"),
        ));
    }
    let bbox = float_bbox(&slice.domain);
    let mut ends = Vec::with_capacity(k);
    while ends.len() < k {
        let p = random_point(rng, &slice.domain, &bbox)?;
        let q = random_point(rng, &slice.domain, &bbox)?;
        if p != q {
            ends.push((p, q));
        }
    }
    let exact = |t: &[f64]| -> Vec<BigRational> {
        t.iter()
            .map(|&x| rational_from_f64(x).expect("finite"))
            .collect()
    };
    progress.start_layer(0, 1, k);
    let results: Vec<(usize, f64, f64)> = ends
        .par_iter()
        .map(|(p, q)| {
            progress.advance(1);
            let (seg, length) = segment_slice(slice, &exact(p), &exact(q));
            let t_length = p
                .iter()
                .zip(q)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            let restricted = Restricted::new(net, &seg)?;
            let part = enumerate(
                &restricted,
                &seg.domain,
                &EnumerateConfig::default(),
                &NoProgress,
            )?;
            Ok((part.regions.len(), length, t_length))
        })
        .collect::<Result<_>>()?;
    let total_regions: usize = results.iter().map(|r| r.0).sum();
    let total_length: f64 = results.iter().map(|r| r.1).sum();
    let total_t_length: f64 = results.iter().map(|r| r.2).sum();
    Ok(LineSample {
        segments: k,
        total_regions,
        total_length,
        total_t_length,
        regions_per_length: total_regions as f64 / total_length,
        transitions_per_length: (total_regions - k) as f64 / total_length,
        regions_per_t_length: total_regions as f64 / total_t_length,
        regions: results.iter().map(|r| r.0).collect(),
        lengths: results.iter().map(|r| r.1).collect(),
    })
}

/// Which estimate [`sample`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleMethod {
    /// Patterns at the centres of an M^d grid of cells.
    Grid(usize),
    /// Patterns at K uniform random points, with the Chao1 estimate.
    Points(usize),
    /// Exact counts along K random segments.
    Lines(usize),
}

/// The estimate `method` gives, as the JSON object `relu-regions sample --json` prints (without
/// its `network` key): the sample's fields, plus `method`, `dim`, and for random methods `seed`
/// and `generator`.
pub fn sample(
    net: &Network,
    slice: &Slice,
    method: SampleMethod,
    seed: u64,
    progress: &dyn ProgressSink,
) -> Result<serde_json::Value> {
    use rand::SeedableRng;
    let mut rng = SampleRng::seed_from_u64(seed);
    let to_value =
        |v: serde_json::Result<serde_json::Value>| v.expect("a sample serialises to JSON");
    let mut value = match method {
        SampleMethod::Lines(k) => {
            let mut v = to_value(serde_json::to_value(random_lines_with(
                net, slice, k, &mut rng, progress,
            )?));
            v["method"] = "lines".into();
            v
        }
        SampleMethod::Grid(m) => {
            let restricted = Restricted::new(net, slice)?;
            to_value(serde_json::to_value(grid_with(
                &restricted,
                &slice.domain,
                m,
                progress,
            )?))
        }
        SampleMethod::Points(k) => {
            let restricted = Restricted::new(net, slice)?;
            to_value(serde_json::to_value(random_points_with(
                &restricted,
                &slice.domain,
                k,
                &mut rng,
                progress,
            )?))
        }
    };
    if !matches!(method, SampleMethod::Grid(_)) {
        value["seed"] = seed.into();
        value["generator"] = "ChaCha8".into();
    }
    value["dim"] = slice.dim().into();
    Ok(value)
}
