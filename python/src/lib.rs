//! The Python module `relu_regions._core`: one call that counts, with the network given as
//! JSON text (version 1 or 2), an ONNX file, or dense layers as numpy arrays. The Python side
//! (`relu_regions/__init__.py`) builds those from torch modules, arrays or paths and wraps the
//! result in a `Partition`. The GIL is released while the engines run.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use relu_regions::certificate::{lp_partition_file, partition_file, PartitionFile};
use relu_regions::compare::{Estimate, ExactRegions};
use relu_regions::engine::lp::{enumerate_lp_with, LpOptions};
use relu_regions::graph::Summary;
use relu_regions::init_stats::{sweeps, ExperimentSpec, Preset};
use relu_regions::mesh_file::{mesh_file, MeshFormat};
use relu_regions::net::Layer;
use relu_regions::net::Num;
use relu_regions::sampling::SampleMethod;
use relu_regions::{
    enumerate, EngineChoice, EnumerateConfig, Network, NoProgress, Restricted, Slice,
};

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// What one count gives back before it becomes Python objects.
#[derive(Default)]
struct Outcome {
    regions: usize,
    cells: usize,
    certified: bool,
    complete: bool,
    per_layer: Vec<usize>,
    seconds: f64,
    dim: usize,
    units: usize,
    /// Cells × words of pattern bits (every hidden row; see `unit_rows`).
    pattern_words: Vec<u64>,
    words: usize,
    /// The global row of each unit, in pattern-text order.
    unit_rows: Vec<u64>,
    vertices: Vec<Vec<f64>>,
    edges: Vec<[i64; 2]>,
    linear_regions: Option<usize>,
    engine: &'static str,
}

fn network(
    net_json: Option<String>,
    onnx_path: Option<String>,
    layers: Option<Vec<(PyReadonlyArray2<f64>, PyReadonlyArray1<f64>)>>,
    input_shape: Option<Vec<usize>>,
) -> PyResult<Network> {
    match (net_json, onnx_path, layers) {
        (Some(text), None, None) => Network::from_json(&text, "network").map_err(value_error),
        (None, Some(path), None) => {
            let bytes = std::fs::read(&path).map_err(|e| value_error(format!("{path}: {e}")))?;
            let dir = std::path::Path::new(&path)
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default();
            let load = |loc: &str| std::fs::read(dir.join(loc));
            let options = relu_regions::onnx::ImportOptions { input_shape };
            relu_regions::onnx::read(&bytes, &path, &load, &options).map_err(value_error)
        }
        (None, None, Some(layers)) => {
            if layers.is_empty() {
                return Err(value_error("layers: need at least one (W, b) pair"));
            }
            let mut out = Vec::with_capacity(layers.len());
            for (k, (w, b)) in layers.iter().enumerate() {
                let (w, b) = (w.as_array(), b.as_array());
                let (n_out, n_in) = w.dim();
                if b.len() != n_out {
                    return Err(value_error(format!(
                        "layers[{k}]: W is {n_out}×{n_in} (out × in) but b has {} entries",
                        b.len()
                    )));
                }
                if let Some(prev) = out.last() {
                    let prev: &Layer = prev;
                    if prev.n_out != n_in {
                        return Err(value_error(format!(
                            "layers[{k}]: W has {n_in} columns but layers[{}] has {} outputs",
                            k - 1,
                            prev.n_out
                        )));
                    }
                }
                let finite = |x: &f64| x.is_finite();
                if !w.iter().all(finite) || !b.iter().all(finite) {
                    return Err(value_error(format!(
                        "layers[{k}]: not every value is finite"
                    )));
                }
                out.push(Layer::dense(
                    n_in,
                    n_out,
                    w.iter().map(|&x| Num::F64(x)).collect(),
                    b.iter().map(|&x| Num::F64(x)).collect(),
                ));
            }
            Ok(Network::from_layers(out))
        }
        _ => Err(value_error(
            "give exactly one of net_json, onnx_path, layers",
        )),
    }
}

/// The network and the slice of one call.
fn load(
    slice_json: &str,
    net_json: Option<String>,
    onnx_path: Option<String>,
    layers: Option<Vec<(PyReadonlyArray2<f64>, PyReadonlyArray1<f64>)>>,
    input_shape: Option<Vec<usize>>,
) -> PyResult<(Network, Slice)> {
    let net = network(net_json, onnx_path, layers, input_shape)?;
    let slice = Slice::from_json(slice_json, "slice", net.input_dim()).map_err(value_error)?;
    Ok((net, slice))
}

/// The global row of each unit (rows that pass values through left out), in order.
fn unit_rows(r: &Restricted) -> Vec<u64> {
    (0..r.widths.len())
        .flat_map(|l| (0..r.split[l]).map(move |j| (r.offsets[l] + j) as u64))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run(
    net: &Network,
    slice: &Slice,
    engine: &str,
    max_regions: Option<usize>,
    threads: Option<usize>,
    linear: bool,
    vertices: bool,
    regions_path: Option<&str>,
    mesh_path: Option<&str>,
) -> Result<Outcome, String> {
    let restricted = Restricted::new(net, slice).map_err(|e| e.to_string())?;
    let engine = match engine {
        "auto" => EngineChoice::Auto,
        "planar" => EngineChoice::Planar,
        "lp" => EngineChoice::Lp,
        other => return Err(format!("engine: \"{other}\" is not auto, planar or lp")),
    };
    let cfg = EnumerateConfig {
        max_regions,
        engine,
        ..EnumerateConfig::default()
    };
    // The global pool unless a thread count is asked for (a pool per call costs thread starts).
    let pool = thread_pool(threads)?;
    // What both engines' outcomes share: the units, and the cells' patterns (grouped into
    // regions where max pooling makes several cells one region).
    let base = |patterns: &[&[u64]]| Outcome {
        regions: restricted
            .regions_of(patterns.iter().copied())
            .map_or(patterns.len(), |g| g.1),
        cells: patterns.len(),
        pattern_words: patterns.iter().flat_map(|p| p.iter().copied()).collect(),
        words: relu_regions::pattern::words(restricted.neurons),
        unit_rows: unit_rows(&restricted),
        units: restricted.units(),
        ..Outcome::default()
    };
    let work = || {
        let start = std::time::Instant::now();
        if engine.uses_lp(restricted.d) {
            let max_geometry = relu_regions::engine::lp::GEOMETRY_MAX_DIM;
            let mesh_format = match mesh_path {
                None => None,
                Some(path) => {
                    if restricted.d != 3 {
                        return Err(format!(
                            "mesh_file: meshes are of 3-D partitions; this slice is {}-D",
                            restricted.d
                        ));
                    }
                    Some(MeshFormat::from_path(path).ok_or_else(|| {
                        format!("mesh_file: {path}: the file name must end in .ply or .vtk")
                    })?)
                }
            };
            let options = LpOptions {
                exact_geometry: (vertices || regions_path.is_some() || mesh_path.is_some())
                    && restricted.d <= max_geometry,
                adjacency: linear,
                facets: regions_path.is_some() || mesh_path.is_some(),
                ..LpOptions::default()
            };
            let p = enumerate_lp_with(&restricted, &slice.domain, &cfg, &options, &NoProgress)
                .map_err(|e| e.to_string())?;
            let seconds = start.elapsed().as_secs_f64();
            if let Some(path) = regions_path {
                let mut file = lp_partition_file(&p, &slice.domain);
                file.slice = Some(slice.to_json());
                let text = serde_json::to_string(&file).map_err(|e| e.to_string())?;
                std::fs::write(path, text).map_err(|e| format!("regions_file: {path}: {e}"))?;
            }
            let patterns: Vec<&[u64]> = p.regions.iter().map(|r| r.pattern.as_slice()).collect();
            let (edges, linear_regions, labels) = match &p.adjacent {
                Some(pairs) => {
                    let g = Summary::from_pairs(&patterns, &restricted, pairs.clone());
                    let edges = g.pairs.iter().map(|&(a, b)| [a as i64, b as i64]).collect();
                    (edges, Some(g.linear.count), Some(g.linear.label))
                }
                None => (Vec::new(), None, None),
            };
            if let (Some(path), Some(format)) = (mesh_path, mesh_format) {
                let text = mesh_file(&p, format, 1.0, labels.as_deref());
                std::fs::write(path, text).map_err(|e| format!("mesh_file: {path}: {e}"))?;
            }
            Ok(Outcome {
                certified: p.certified,
                complete: p.complete,
                per_layer: p.per_layer.clone(),
                seconds,
                dim: p.dim,
                vertices: if vertices {
                    p.regions
                        .iter()
                        .map(|r| {
                            let mut pts: Vec<Vec<f64>> = r
                                .vertices
                                .iter()
                                .flatten()
                                .map(|(v, _)| v.to_f64())
                                .collect();
                            if p.dim == 2 {
                                // Polygons for plotting: counter-clockwise around their centre.
                                let n = pts.len() as f64;
                                let c: Vec<f64> = (0..2)
                                    .map(|k| pts.iter().map(|q| q[k]).sum::<f64>() / n)
                                    .collect();
                                let angle = |q: &Vec<f64>| (q[1] - c[1]).atan2(q[0] - c[0]);
                                pts.sort_by(|a, b| angle(a).total_cmp(&angle(b)));
                            }
                            pts.into_iter().flatten().collect()
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                edges,
                linear_regions,
                engine: "lp",
                ..base(&patterns)
            })
        } else {
            if mesh_path.is_some() {
                return Err(format!(
                    "mesh_file: meshes are of 3-D partitions; this slice is {}-D",
                    restricted.d
                ));
            }
            let p = enumerate(&restricted, &slice.domain, &cfg, &NoProgress)
                .map_err(|e| e.to_string())?;
            let seconds = start.elapsed().as_secs_f64();
            if let Some(path) = regions_path {
                let mut file = partition_file(&p);
                file.slice = Some(slice.to_json());
                let text = serde_json::to_string(&file).map_err(|e| e.to_string())?;
                std::fs::write(path, text).map_err(|e| format!("regions_file: {path}: {e}"))?;
            }
            let patterns: Vec<&[u64]> = p.regions.iter().map(|r| r.pattern).collect();
            let (edges, linear_regions) = if linear && p.complete {
                let g = Summary::build(&p, &restricted);
                let edges = g.pairs.iter().map(|&(a, b)| [a as i64, b as i64]).collect();
                (edges, Some(g.linear.count))
            } else {
                (Vec::new(), None)
            };
            let d = p.dim;
            let verts = if vertices {
                p.regions
                    .iter()
                    .map(|r| {
                        r.verts
                            .iter()
                            .flat_map(|&v| p.xy[v as usize * d..(v as usize + 1) * d].to_vec())
                            .collect()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Ok(Outcome {
                certified: p.certified,
                complete: p.complete,
                per_layer: p.per_layer.clone(),
                seconds,
                dim: d,
                vertices: verts,
                edges,
                linear_regions,
                engine: "planar",
                ..base(&patterns)
            })
        }
    };
    match pool {
        Some(p) => p.install(work),
        None => work(),
    }
}

/// Counts the activation regions of a network on a slice (see `relu_regions.count`).
#[pyfunction]
#[pyo3(signature = (slice_json, net_json=None, onnx_path=None, layers=None, engine="auto", max_regions=None, threads=None, linear=true, vertices=true, input_shape=None, regions_path=None, mesh_path=None))]
#[allow(clippy::too_many_arguments)]
fn count<'py>(
    py: Python<'py>,
    slice_json: String,
    net_json: Option<String>,
    onnx_path: Option<String>,
    layers: Option<Vec<(PyReadonlyArray2<'py, f64>, PyReadonlyArray1<'py, f64>)>>,
    engine: &str,
    max_regions: Option<usize>,
    threads: Option<usize>,
    linear: bool,
    vertices: bool,
    input_shape: Option<Vec<usize>>,
    regions_path: Option<String>,
    mesh_path: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let (net, slice) = load(&slice_json, net_json, onnx_path, layers, input_shape)?;
    let engine = engine.to_string();
    let outcome = py
        .detach(|| {
            run(
                &net,
                &slice,
                &engine,
                max_regions,
                threads,
                linear,
                vertices,
                regions_path.as_deref(),
                mesh_path.as_deref(),
            )
        })
        .map_err(value_error)?;
    let out = PyDict::new(py);
    out.set_item("regions", outcome.regions)?;
    out.set_item("cells", outcome.cells)?;
    out.set_item("certified", outcome.certified)?;
    out.set_item("complete", outcome.complete)?;
    out.set_item("per_layer", outcome.per_layer)?;
    out.set_item("seconds", outcome.seconds)?;
    out.set_item("dim", outcome.dim)?;
    out.set_item("units", outcome.units)?;
    out.set_item("engine", outcome.engine)?;
    out.set_item("architecture", net.architecture.clone())?;
    out.set_item("linear_regions", outcome.linear_regions)?;
    let words = outcome.words;
    let cells = outcome.pattern_words.len() / words;
    out.set_item(
        "pattern_words",
        PyArray1::from_vec(py, outcome.pattern_words)
            .reshape([cells, words])
            .expect("cells × words"),
    )?;
    out.set_item("unit_rows", PyArray1::from_vec(py, outcome.unit_rows))?;
    let d = outcome.dim.max(1);
    let verts: Vec<Bound<'py, PyArray2<f64>>> = outcome
        .vertices
        .into_iter()
        .map(|v| {
            let rows = v.len() / d;
            PyArray1::from_vec(py, v)
                .reshape([rows, d])
                .expect("rows × d values")
        })
        .collect();
    out.set_item("vertices", verts)?;
    let n = outcome.edges.len();
    let flat: Vec<i64> = outcome.edges.into_iter().flatten().collect();
    out.set_item(
        "adjacency",
        PyArray1::from_vec(py, flat).reshape([n, 2]).expect("n × 2"),
    )?;
    Ok(out)
}

fn json_text(v: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(v).map_err(value_error)
}

/// The bounds of the network on the slice, as `relu-regions bounds --json` prints them (with
/// `activation_regions` and the ratios when `count` is true).
#[pyfunction]
#[pyo3(signature = (slice_json, net_json=None, onnx_path=None, layers=None, input_shape=None, count=false))]
fn bounds<'py>(
    py: Python<'py>,
    slice_json: String,
    net_json: Option<String>,
    onnx_path: Option<String>,
    layers: Option<Vec<(PyReadonlyArray2<'py, f64>, PyReadonlyArray1<'py, f64>)>>,
    input_shape: Option<Vec<usize>>,
    count: bool,
) -> PyResult<String> {
    let (net, slice) = load(&slice_json, net_json, onnx_path, layers, input_shape)?;
    let mut bounds = relu_regions::bounds::bounds_for_slice(&net.hidden_widths(), &slice);
    let mut regions = None;
    if count {
        let restricted = Restricted::new(&net, &slice).map_err(value_error)?;
        let exact = py
            .detach(|| ExactRegions::compute(&restricted, &slice.domain, &NoProgress))
            .map_err(value_error)?;
        regions = Some(exact.patterns.len());
        bounds = bounds.with_count(exact.patterns.len());
    }
    let mut value = serde_json::to_value(&bounds).map_err(value_error)?;
    if let Some(c) = regions {
        value["activation_regions"] = c.into();
    }
    json_text(&value)
}

/// A sampled estimate (`method`: grid, points or lines; `n`: M or K), as `relu-regions sample
/// --json` prints it.
#[pyfunction]
#[pyo3(signature = (slice_json, method, n, seed=0, net_json=None, onnx_path=None, layers=None, input_shape=None))]
#[allow(clippy::too_many_arguments)]
fn sample<'py>(
    py: Python<'py>,
    slice_json: String,
    method: &str,
    n: usize,
    seed: u64,
    net_json: Option<String>,
    onnx_path: Option<String>,
    layers: Option<Vec<(PyReadonlyArray2<'py, f64>, PyReadonlyArray1<'py, f64>)>>,
    input_shape: Option<Vec<usize>>,
) -> PyResult<String> {
    let (net, slice) = load(&slice_json, net_json, onnx_path, layers, input_shape)?;
    let method = match method {
        "grid" => SampleMethod::Grid(n),
        "points" => SampleMethod::Points(n),
        "lines" => SampleMethod::Lines(n),
        other => {
            return Err(value_error(format!(
                "method: \"{other}\" is not grid, points or lines"
            )))
        }
    };
    let value = py
        .detach(|| relu_regions::sampling::sample(&net, &slice, method, seed, &NoProgress))
        .map_err(value_error)?;
    json_text(&value)
}

/// Checks an outside estimate (the JSON of `relu-regions compare --estimate`) against the exact
/// regions; the comparison as `compare --json` prints it.
#[pyfunction]
#[pyo3(signature = (slice_json, estimate_json, net_json=None, onnx_path=None, layers=None, input_shape=None))]
fn compare<'py>(
    py: Python<'py>,
    slice_json: String,
    estimate_json: String,
    net_json: Option<String>,
    onnx_path: Option<String>,
    layers: Option<Vec<(PyReadonlyArray2<'py, f64>, PyReadonlyArray1<'py, f64>)>>,
    input_shape: Option<Vec<usize>>,
) -> PyResult<String> {
    let (net, slice) = load(&slice_json, net_json, onnx_path, layers, input_shape)?;
    let restricted = Restricted::new(&net, &slice).map_err(value_error)?;
    let estimate = Estimate::from_json(&estimate_json, "estimate", &slice.domain, &restricted)
        .map_err(value_error)?;
    let result = py
        .detach(|| {
            ExactRegions::compute(&restricted, &slice.domain, &NoProgress)
                .map(|exact| relu_regions::compare::compare(&exact, &restricted, &estimate))
        })
        .map_err(value_error)?;
    json_text(&result)
}

/// Re-checks a regions file by the exact certificate: `(True, regions, "")` when it holds,
/// `(False, None, reason)` when not. The slice is the one the file records unless `slice_json`
/// is given (then the two must agree).
#[pyfunction]
#[pyo3(signature = (regions_json, regions_name, slice_json=None, net_json=None, onnx_path=None, layers=None, input_shape=None))]
#[allow(clippy::too_many_arguments)]
fn verify<'py>(
    py: Python<'py>,
    regions_json: String,
    regions_name: String,
    slice_json: Option<String>,
    net_json: Option<String>,
    onnx_path: Option<String>,
    layers: Option<Vec<(PyReadonlyArray2<'py, f64>, PyReadonlyArray1<'py, f64>)>>,
    input_shape: Option<Vec<usize>>,
) -> PyResult<(bool, Option<usize>, String)> {
    let net = network(net_json, onnx_path, layers, input_shape)?;
    let file = PartitionFile::from_json(&regions_json, &regions_name).map_err(value_error)?;
    let recorded = file
        .recorded_slice(net.input_dim(), &regions_name)
        .map_err(value_error)?;
    let given = slice_json
        .map(|text| Slice::from_json(&text, "slice", net.input_dim()))
        .transpose()
        .map_err(value_error)?;
    let slice = match (recorded, given) {
        (Some(r), Some(g)) if r != g => {
            return Ok((
                false,
                None,
                "the slice given is not the slice the regions file records".into(),
            ))
        }
        (_, Some(s)) | (Some(s), None) => s,
        (None, None) => {
            return Err(value_error(format!(
                "{regions_name}: the file records no slice; give one"
            )))
        }
    };
    let restricted = Restricted::new(&net, &slice).map_err(value_error)?;
    let verdict =
        py.detach(|| relu_regions::certificate::verify(&restricted, &slice.domain, &file));
    Ok(match verdict {
        Ok(n) => (true, Some(n), String::new()),
        Err(reason) => (false, None, reason),
    })
}

fn parsed<T: std::str::FromStr>(field: &str, text: &str) -> PyResult<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|e| value_error(format!("{field}: {e}")))
}

/// The Hanin–Rolnick initialisation experiment (or a preset sweep), as `relu-regions
/// init-stats --json` prints it.
#[pyfunction]
#[pyo3(signature = (widths=None, init="he-normal", law=None, gain=None, bias_var=0.0, resnet=false, eta="1", branch="linear", branch_var=None, conv1d=None, conv2d=None, kernel=3, sampler=None, samples=None, seed=0, input=None, include_input=false, preset=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn init_stats(
    py: Python<'_>,
    widths: Option<Vec<usize>>,
    init: &str,
    law: Option<&str>,
    gain: Option<f64>,
    bias_var: f64,
    resnet: bool,
    eta: &str,
    branch: &str,
    branch_var: Option<f64>,
    conv1d: Option<usize>,
    conv2d: Option<(usize, usize)>,
    kernel: usize,
    sampler: Option<&str>,
    samples: Option<usize>,
    seed: u64,
    input: Option<Vec<f64>>,
    include_input: bool,
    preset: Option<&str>,
    threads: Option<usize>,
) -> PyResult<String> {
    let sampler = sampler.map(|s| parsed("sampler", s)).transpose()?;
    let pool = thread_pool(threads).map_err(value_error)?;
    let install = |f: &(dyn Fn() -> Result<String, String> + Sync)| match &pool {
        Some(p) => p.install(f),
        None => f(),
    };
    if let Some(preset) = preset {
        if widths.is_some() {
            return Err(value_error("preset: give a preset or widths, not both"));
        }
        let preset: Preset = parsed("preset", preset)?;
        return py
            .detach(|| {
                install(&|| {
                    sweeps::run(preset, samples, seed, sampler)
                        .map(|s| s.to_json())
                        .map_err(|e| e.to_string())
                })
            })
            .map_err(value_error);
    }
    let Some(widths) = widths else {
        return Err(value_error(
            "widths: required (e.g. [2, 16, 16, 16]), unless a preset is given",
        ));
    };
    let spec = ExperimentSpec {
        widths,
        init: parsed("init", init)?,
        law: law.map(|s| parsed("law", s)).transpose()?,
        gain,
        bias_var,
        resnet: if resnet {
            Some((parsed("eta", eta)?, parsed("branch", branch)?, branch_var))
        } else {
            None
        },
        conv1d,
        conv2d,
        kernel,
        sampler,
        samples,
        seed,
        input,
        include_input,
        trajectories: 0,
    };
    let exp = spec.build().map_err(value_error)?;
    py.detach(|| install(&|| exp.run().map(|r| r.to_json()).map_err(|e| e.to_string())))
        .map_err(value_error)
}

/// A pool of `threads` threads, or the global pool (None).
fn thread_pool(threads: Option<usize>) -> Result<Option<rayon::ThreadPool>, String> {
    match threads {
        None => Ok(None),
        Some(n) if n == 0 || n > 1024 => Err(format!("threads: need 1 to 1024, got {n}")),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(count, m)?)?;
    m.add_function(wrap_pyfunction!(bounds, m)?)?;
    m.add_function(wrap_pyfunction!(sample, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(init_stats, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
