//! Regions per unit area against the Hanin–Rolnick density (Hanin & Rolnick, "Complexity of
//! Linear Regions in Deep Networks", ICML 2019): for random He-initialised networks of several
//! depths and widths, the exact number of regions in a square window of a plane through three
//! random data points, divided by area · N²/2 (the T = 1 density of docs/guide.md#bounds).
//!
//! Each (depth, width, plane) draws its own network and its own three data points from one
//! ChaCha8 stream (`seed`, stream = configuration × planes + plane), so the table does not depend
//! on the thread count. The plane has its origin at the three points' centroid and an
//! orthonormalised (f64 Gram–Schmidt, then used exactly) basis spanning them; the window is
//! [−h, h]² in those coordinates, so its input-space area is (2h)² up to rounding (measured
//! exactly by [`input_volume`]). Weights are N(0, 2/fan_in) and biases N(0, σ_b²), stored as
//! f64 values (exact binary rationals). No I/O: the data points come in as values.

use crate::bounds::input_volume;
use crate::error::{Error, Result};
use crate::exact::number::{rational_from_f64, to_f64};
use crate::init_stats::plot::{line_chart, Series, PALETTE};
use crate::net::{Layer, Network, Num};
use crate::sampling::random_lines;
use crate::slice::{Domain, Slice};
use crate::{count_regions, EnumerateConfig};
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::Serialize;

/// The generator of the experiment: ChaCha with 8 rounds, one stream per plane.
pub type ExperimentRng = rand_chacha::ChaCha8Rng;

/// Every knob of the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct HrConfig {
    pub depths: Vec<usize>,
    pub widths: Vec<usize>,
    /// Planes (each with a fresh network) per (depth, width).
    pub planes: usize,
    pub seed: u64,
    /// Standard deviation of the biases.
    pub bias_std: f64,
    /// The window is [−h, h]² in orthonormal plane coordinates.
    pub half_width: f64,
    /// Stop a count past this many regions (the row is then marked incomplete).
    pub max_regions: Option<usize>,
    /// Random segments per plane (endpoints uniform in the window) counted exactly by the 1-D
    /// engine, for the 1-D density: boundary crossings per unit length ≈ T·N. 0: none.
    pub lines: usize,
}

impl Default for HrConfig {
    fn default() -> Self {
        HrConfig {
            depths: vec![1, 2, 3, 4],
            widths: vec![16, 32, 64, 128],
            planes: 16,
            seed: 0,
            bias_std: 1e-3,
            half_width: 3.0,
            max_regions: Some(2_000_000),
            lines: 0,
        }
    }
}

/// One row of the table: one architecture.
#[derive(Debug, Clone, Serialize)]
pub struct HrRow {
    pub depth: usize,
    pub width: usize,
    pub neurons: usize,
    pub planes: usize,
    /// Exact counts, one per plane.
    pub counts: Vec<usize>,
    /// Input-space window areas, one per plane.
    pub areas: Vec<f64>,
    /// count ÷ (area · N²/2) per plane, and their mean, sample standard deviation, min and max.
    pub ratios: Vec<f64>,
    pub ratio_mean: f64,
    pub ratio_std: f64,
    pub ratio_min: f64,
    pub ratio_max: f64,
    /// Mean of the fitted T = sqrt(2·count/area)/N.
    pub fitted_t_mean: f64,
    /// Mean distance of the window centre (the data triple's centroid) from the input origin.
    pub centre_norm_mean: f64,
    /// Every count was complete and certified.
    pub exact: bool,
    /// With segments: mean over planes of crossings ÷ (length · N), the 1-D fitted T.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_t_mean: Option<f64>,
}

/// What one plane gives.
struct PlaneResult {
    count: usize,
    area: f64,
    exact: bool,
    centre: f64,
    /// Boundary crossings along the random segments and their total input-space length.
    crossings: usize,
    length: f64,
}

/// The whole experiment.
#[derive(Debug, Clone, Serialize)]
pub struct HrReport {
    pub seed: u64,
    pub generator: String,
    pub input_dim: usize,
    pub data_points: usize,
    pub bias_std: f64,
    pub half_width: f64,
    /// Random segments per plane (0: no 1-D columns).
    pub lines: usize,
    pub rows: Vec<HrRow>,
}

/// A dense ReLU network with He-normal weights N(0, 2/fan_in) and biases N(0, σ_b²); one output.
pub fn he_network<R: Rng + ?Sized>(
    rng: &mut R,
    input_dim: usize,
    widths: &[usize],
    bias_std: f64,
) -> Network {
    let mut layers = Vec::with_capacity(widths.len() + 1);
    let mut n_in = input_dim;
    for &n_out in widths.iter().chain(std::iter::once(&1)) {
        let sd = (2.0 / n_in as f64).sqrt();
        let weight = (0..n_in * n_out)
            .map(|_| Num::F64(sd * rng.sample::<f64, _>(StandardNormal)))
            .collect();
        let bias = (0..n_out)
            .map(|_| Num::F64(bias_std * rng.sample::<f64, _>(StandardNormal)))
            .collect();
        layers.push(Layer::dense(n_in, n_out, weight, bias));
        n_in = n_out;
    }
    Network::from_layers(layers)
}

/// The plane through `a`, `b`, `c` centred at their centroid with an orthonormalised basis,
/// over [−h, h]². `None` when the three points are (numerically) collinear.
pub fn plane_through(a: &[f64], b: &[f64], c: &[f64], h: f64) -> Option<Slice> {
    let n = a.len();
    let origin: Vec<f64> = (0..n).map(|i| (a[i] + b[i] + c[i]) / 3.0).collect();
    let u: Vec<f64> = (0..n).map(|i| b[i] - a[i]).collect();
    let v: Vec<f64> = (0..n).map(|i| c[i] - a[i]).collect();
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    let nu = dot(&u, &u).sqrt();
    if nu < 1e-9 {
        return None;
    }
    let e1: Vec<f64> = u.iter().map(|x| x / nu).collect();
    let p = dot(&v, &e1);
    let w: Vec<f64> = v.iter().zip(&e1).map(|(x, e)| x - p * e).collect();
    let nw = dot(&w, &w).sqrt();
    if nw < 1e-9 * dot(&v, &v).sqrt().max(1.0) {
        return None;
    }
    let e2: Vec<f64> = w.iter().map(|x| x / nw).collect();
    let q = |x: f64| rational_from_f64(x).expect("finite");
    Some(Slice {
        origin: origin.iter().map(|&x| q(x)).collect(),
        basis: vec![
            e1.iter().map(|&x| q(x)).collect(),
            e2.iter().map(|&x| q(x)).collect(),
        ],
        domain: Domain::Box(vec![(q(-h), q(h)), (q(-h), q(h))]),
    })
}

/// Refuses data in which no three points span a plane (all identical or on one line).
fn spanning_triple(data: &[Vec<f64>], h: f64) -> Result<()> {
    let Some(j) = (1..data.len()).find(|&j| data[j] != data[0]) else {
        return Err(Error::usage(
            "--data",
            format!(
                "all {} data points are identical: a plane needs three points not on one line",
                data.len()
            ),
        ));
    };
    if (1..data.len()).any(|k| k != j && plane_through(&data[0], &data[j], &data[k], h).is_some()) {
        return Ok(());
    }
    Err(Error::usage(
        "--data",
        format!(
            "the {} data points lie on one line (points 0 and {j} span it, and every other point is on it): a plane needs three points not on one line",
            data.len()
        ),
    ))
}

fn three_distinct<R: Rng + ?Sized>(rng: &mut R, n: usize) -> [usize; 3] {
    let i = rng.random_range(0..n);
    let mut j = rng.random_range(0..n - 1);
    if j >= i {
        j += 1;
    }
    let (lo, hi) = (i.min(j), i.max(j));
    let mut k = rng.random_range(0..n - 2);
    if k >= lo {
        k += 1;
    }
    if k >= hi {
        k += 1;
    }
    [i, j, k]
}

/// Runs the experiment on `data` (points of equal dimension, at least three).
pub fn hanin_rolnick(data: &[Vec<f64>], cfg: &HrConfig) -> Result<HrReport> {
    hanin_rolnick_with(data, cfg, &crate::NoProgress)
}

/// [`hanin_rolnick`] with progress (`advance` per plane).
pub fn hanin_rolnick_with(
    data: &[Vec<f64>],
    cfg: &HrConfig,
    progress: &dyn crate::ProgressSink,
) -> Result<HrReport> {
    if data.len() < 3 {
        return Err(Error::usage(
            "--data",
            format!("needs at least three data points, got {}", data.len()),
        ));
    }
    let n0 = data[0].len();
    if n0 == 0
        || data
            .iter()
            .any(|p| p.len() != n0 || p.iter().any(|x| !x.is_finite()))
    {
        return Err(Error::usage(
            "--data",
            "the data points must have equal, non-zero dimension and finite values",
        ));
    }
    if cfg.planes == 0 || cfg.depths.is_empty() || cfg.widths.is_empty() {
        return Err(Error::usage(
            "--planes/--depths/--widths",
            "need at least one plane, one depth and one width",
        ));
    }
    if cfg.depths.contains(&0) || cfg.widths.contains(&0) {
        return Err(Error::usage(
            "--depths/--widths",
            "depths and widths must be at least 1",
        ));
    }
    if !(cfg.half_width > 0.0 && cfg.half_width.is_finite()) {
        return Err(Error::usage("--half-width", "must be a positive number"));
    }
    if !(cfg.bias_std >= 0.0 && cfg.bias_std.is_finite()) {
        return Err(Error::usage(
            "--bias-std",
            format!("must be a finite number ≥ 0, got {}", cfg.bias_std),
        ));
    }
    // Sizes: each plane holds a network and its regions; beyond these the run is not a sweep
    // but a hang (and the job list alone would not fit in memory).
    for (flag, values, max) in [
        ("--widths", &cfg.widths, 4096),
        ("--depths", &cfg.depths, 64),
    ] {
        if let Some(v) = values.iter().find(|&&v| v > max) {
            return Err(Error::usage(
                flag,
                format!("{v} is above the maximum of {max}"),
            ));
        }
    }
    if cfg.planes > 100_000 || cfg.lines > 100_000 {
        return Err(Error::usage(
            "--planes/--lines",
            "at most 100000 planes per architecture and 100000 segments per plane",
        ));
    }
    spanning_triple(data, cfg.half_width)?;
    let archs: Vec<(usize, usize)> = cfg
        .depths
        .iter()
        .flat_map(|&d| cfg.widths.iter().map(move |&w| (d, w)))
        .collect();
    let jobs: Vec<(usize, usize)> = (0..archs.len())
        .flat_map(|a| (0..cfg.planes).map(move |p| (a, p)))
        .collect();
    progress.start_layer(0, 1, jobs.len());
    let results: Vec<PlaneResult> = jobs
        .par_iter()
        .map(|&(a, p)| {
            progress.advance(1);
            let (depth, width) = archs[a];
            let mut rng = ExperimentRng::seed_from_u64(cfg.seed);
            rng.set_stream((a * cfg.planes + p) as u64);
            let net = he_network(&mut rng, n0, &vec![width; depth], cfg.bias_std);
            // Random triples until one spans a plane (most do: a spanning triple exists, checked
            // above); a data set where almost none does is refused rather than searched forever.
            let mut tries = 0;
            let slice = loop {
                let [i, j, k] = three_distinct(&mut rng, data.len());
                if let Some(s) = plane_through(&data[i], &data[j], &data[k], cfg.half_width) {
                    break s;
                }
                tries += 1;
                if tries == 10_000 {
                    return Err(Error::usage(
                        "--data",
                        "10000 random triples of data points in a row were collinear or \
                         repeated: remove duplicate points",
                    ));
                }
            };
            let part = count_regions(
                &net,
                &slice,
                &EnumerateConfig {
                    max_regions: cfg.max_regions,
                    ..EnumerateConfig::default()
                },
            )?;
            let centre = slice
                .origin
                .iter()
                .map(|x| to_f64(x).powi(2))
                .sum::<f64>()
                .sqrt();
            let (mut crossings, mut length) = (0, 0.0);
            if cfg.lines > 0 {
                let s = random_lines(&net, &slice, cfg.lines, &mut rng)?;
                crossings = s.total_regions - s.segments;
                length = s.total_length;
            }
            Ok(PlaneResult {
                count: part.regions.len(),
                area: input_volume(&slice),
                exact: part.complete && part.certified,
                centre,
                crossings,
                length,
            })
        })
        .collect::<Result<_>>()?;
    let rows = archs
        .iter()
        .enumerate()
        .map(|(a, &(depth, width))| {
            let mine = &results[a * cfg.planes..(a + 1) * cfg.planes];
            let neurons = depth * width;
            let n2 = (neurons * neurons) as f64 / 2.0;
            let ratios: Vec<f64> = mine
                .iter()
                .map(|r| r.count as f64 / (r.area * n2))
                .collect();
            let k = ratios.len() as f64;
            let mean = ratios.iter().sum::<f64>() / k;
            let var = if ratios.len() > 1 {
                ratios.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (k - 1.0)
            } else {
                0.0
            };
            let fitted = mine
                .iter()
                .map(|r| (2.0 * r.count as f64 / r.area).sqrt() / neurons as f64)
                .sum::<f64>()
                / k;
            HrRow {
                depth,
                width,
                neurons,
                planes: cfg.planes,
                counts: mine.iter().map(|r| r.count).collect(),
                areas: mine.iter().map(|r| r.area).collect(),
                ratio_mean: mean,
                ratio_std: var.sqrt(),
                ratio_min: ratios.iter().copied().fold(f64::INFINITY, f64::min),
                ratio_max: ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                ratios,
                fitted_t_mean: fitted,
                centre_norm_mean: mine.iter().map(|r| r.centre).sum::<f64>() / k,
                exact: mine.iter().all(|r| r.exact),
                line_t_mean: (cfg.lines > 0).then(|| {
                    mine.iter()
                        .map(|r| r.crossings as f64 / (r.length * neurons as f64))
                        .sum::<f64>()
                        / k
                }),
            }
        })
        .collect();
    Ok(HrReport {
        seed: cfg.seed,
        generator: "ChaCha8".into(),
        input_dim: n0,
        data_points: data.len(),
        bias_std: cfg.bias_std,
        half_width: cfg.half_width,
        lines: cfg.lines,
        rows,
    })
}

impl HrReport {
    /// A Markdown table, one row per architecture (R = mean distance of the window centre from
    /// the input origin).
    pub fn table(&self) -> String {
        let lines = self.lines > 0;
        let mut out = String::from(
            "| depth | width | N | planes | mean regions | regions / (area·N²/2): mean ± sd | min | max | fitted T | T·R |",
        );
        out.push_str(if lines { " 1-D T | 1-D T·R |\n" } else { "\n" });
        out.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        out.push_str(if lines { " ---: | ---: |\n" } else { "\n" });
        for r in &self.rows {
            let mean_count = r.counts.iter().sum::<usize>() as f64 / r.counts.len() as f64;
            out.push_str(&format!(
                "| {} | {} | {} | {} | {:.1}{} | {:.4} ± {:.4} | {:.4} | {:.4} | {:.4} | {:.3} |",
                r.depth,
                r.width,
                r.neurons,
                r.planes,
                mean_count,
                if r.exact { "" } else { " (incomplete)" },
                r.ratio_mean,
                r.ratio_std,
                r.ratio_min,
                r.ratio_max,
                r.fitted_t_mean,
                r.fitted_t_mean * r.centre_norm_mean
            ));
            if let Some(t1) = r.line_t_mean.filter(|_| lines) {
                out.push_str(&format!(" {:.4} | {:.3} |", t1, t1 * r.centre_norm_mean));
            }
            out.push('\n');
        }
        out
    }

    /// The ratio against N, one line per depth, with dashed mean ± sd (SVG, log y axis).
    pub fn svg(&self) -> String {
        let mut depths: Vec<usize> = self.rows.iter().map(|r| r.depth).collect();
        depths.sort_unstable();
        depths.dedup();
        let mut series = Vec::new();
        for (i, &d) in depths.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let rows: Vec<&HrRow> = self.rows.iter().filter(|r| r.depth == d).collect();
            let pts = |f: &dyn Fn(&HrRow) -> f64| -> Vec<(f64, f64)> {
                let mut v: Vec<(f64, f64)> =
                    rows.iter().map(|r| (r.neurons as f64, f(r))).collect();
                v.sort_by(|a, b| a.0.total_cmp(&b.0));
                v
            };
            series.push(Series::new(
                format!("depth {d}"),
                pts(&|r| r.ratio_mean),
                colour,
            ));
            for (label, sign) in [("+sd", 1.0), ("-sd", -1.0)] {
                let mut s = Series::new(
                    format!("depth {d} {label}"),
                    pts(&|r| r.ratio_mean + sign * r.ratio_std),
                    colour,
                );
                s.dashed = true;
                s.width = 1.0;
                s.opacity = 0.6;
                s.legend = false;
                series.push(s);
            }
        }
        line_chart(
            "Regions per unit area ÷ N²/2, planes through digits (He init)",
            "hidden neurons N",
            "regions / (area · N²/2)",
            &series,
        )
    }
}
