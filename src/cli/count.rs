//! `relu-regions count`.

use super::inputs::{load_network_with, load_slice, read_file};
use super::output::{check_outputs, emit, write_file};
use super::progress::{Bar, Spinner};
use anyhow::Result;
use clap::{Args, ValueEnum};
use relu_regions::certificate::{lp_partition_file, partition_file_with};
use relu_regions::engine::lp::{enumerate_lp_with, LpOptions, GEOMETRY_MAX_DIM};
use relu_regions::graph::{RegionGraph, Summary};
use relu_regions::mesh_file::{mesh_file, MeshFormat};
use relu_regions::picture::{self, Colouring};
use relu_regions::report::CountReport;
use relu_regions::{enumerate, EngineChoice, EnumerateConfig, Restricted};
use std::time::Instant;

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum EngineArg {
    #[default]
    Auto,
    Planar,
    Lp,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum ColourBy {
    #[default]
    Regions,
    Linear,
}

#[derive(Debug, Args, Default)]
pub struct CountArgs {
    /// Network: a JSON network file (version 1 or 2) or an ONNX model (.onnx). Default: the
    /// embedded 2-16-16-16 network.
    pub net: Option<String>,
    /// The input shape of an ONNX model with dynamic axes, without the batch dimension
    /// (e.g. 1,28,28).
    #[arg(long, value_name = "C,H,W")]
    pub input_shape: Option<String>,
    /// Slice JSON (origin/basis/box, through, or polygon). Default: the identity slice.
    #[arg(long, value_name = "FILE")]
    pub subspace: Option<String>,
    /// Box for the identity slice (or to replace the slice file's box), e.g. -1:1,-1:1.
    #[arg(long = "box", value_name = "LO:HI,...", allow_hyphen_values = true)]
    pub box_: Option<String>,
    #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
    pub engine: EngineArg,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write every region (pattern, exact vertices, measure, witness; facets from the lp
    /// engine, up to 4-D) to this JSON file, for `verify`.
    #[arg(long, value_name = "FILE")]
    pub regions: Option<String>,
    /// 3-D: write the regions' boundaries as a polygon mesh, .ply (MeshLab, Blender; a colour
    /// per region) or .vtk (ParaView; region and linear region per polygon).
    #[arg(long, value_name = "FILE")]
    pub mesh: Option<String>,
    /// Move each region's vertices towards its centre by this factor in --mesh (default 1:
    /// true size; 0.85 leaves gaps that show every cell).
    #[arg(long, value_name = "S")]
    pub mesh_shrink: Option<f64>,
    /// Count tile I of N (0 ≤ I < N) of the box: the slab I of N equal slabs along the first
    /// coordinate, counting the regions whose leftmost part lies in it, so that the N tiles'
    /// counts add up to the box's exactly (run them as separate jobs).
    #[arg(long, value_name = "I/N")]
    pub tile: Option<String>,
    /// Stop cleanly once more regions than this are found (complete: false).
    #[arg(long, value_name = "N")]
    pub max_regions: Option<usize>,
    /// Stop cleanly (complete: false) before a layer's vertices would need more memory than
    /// this, e.g. 8G or 500M (default: 60 % of the machine's memory).
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// Worker threads (default: all cores; at most 1024). The output does not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Write the region adjacency graph: .json, .dot or .graphml (chosen by the extension).
    #[arg(long, value_name = "FILE")]
    pub graph: Option<String>,
    /// Draw the partition as SVG (d = 2: regions and boundaries; d = 1: the output along the segment).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<String>,
    /// Draw the partition as PNG.
    #[arg(long, value_name = "FILE")]
    pub png: Option<String>,
    /// 3-D and 4-D: draw (--svg/--png) the cross-section of the partition by this plane: fix
    /// all coordinates but two (t3=0.25, or z=0.25; t3=0,t4=1/2 in 4-D), or give a section file
    /// (.json, like a slice file over the slice's own coordinates). Each region of the picture
    /// is coloured as its region of the whole partition.
    #[arg(long, value_name = "PLANE")]
    pub section: Option<String>,
    /// Colour regions one by one, or one colour per linear region.
    #[arg(long, value_enum, default_value_t = ColourBy::Regions, alias = "color-by")]
    pub colour_by: ColourBy,
    /// Picture size in pixels (longest side, 16 to 16384).
    #[arg(long, value_name = "PX", default_value_t = 800, value_parser = clap::value_parser!(u32).range(16..=16384))]
    pub size: u32,
    /// Skip the adjacency graph and linear regions (then `linear_regions` is not reported).
    #[arg(long)]
    pub no_linear: bool,
    /// Also time one f64 forward pass at all final vertices (the forward-pass floor).
    #[arg(long)]
    pub floor: bool,
    /// Run the (planar) enumeration N times in this process and report the median time (the upper
    /// one for even N) as `seconds` (benchmarking warm, as criterion does; the first run's time
    /// is `seconds_first`).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &CountArgs) -> Result<i32> {
    super::progress::catch_ctrl_c();
    if let Some(path) = &args.mesh {
        if MeshFormat::from_path(path).is_none() {
            return Err(relu_regions::Error::usage(
                "--mesh",
                format!("{path}: the file name must end in .ply or .vtk"),
            )
            .into());
        }
    }
    if let Some(s) = args.mesh_shrink.filter(|s| !(*s > 0.0 && *s <= 1.0)) {
        return Err(
            relu_regions::Error::usage("--mesh-shrink", format!("{s} is not in (0, 1]")).into(),
        );
    }
    if let Some(path) = &args.graph {
        if !(path.ends_with(".json") || path.ends_with(".dot") || path.ends_with(".graphml")) {
            return Err(relu_regions::Error::usage(
                "--graph",
                format!("{path}: the file name must end in .json, .dot or .graphml"),
            )
            .into());
        }
    }
    let inputs: Vec<&str> = args
        .net
        .iter()
        .chain(&args.subspace)
        .map(String::as_str)
        .collect();
    check_outputs(
        &inputs,
        &[
            ("--regions", args.regions.as_deref()),
            ("--mesh", args.mesh.as_deref()),
            ("--graph", args.graph.as_deref()),
            ("--svg", args.svg.as_deref()),
            ("--png", args.png.as_deref()),
        ],
    )?;
    let options = relu_regions::onnx::ImportOptions {
        input_shape: args.input_shape.as_deref().map(parse_shape).transpose()?,
    };
    let (net, name) = load_network_with(args.net.as_deref(), &options)?;
    let full_slice = load_slice(&net, args.subspace.as_deref(), args.box_.as_deref())?;
    let tile = match &args.tile {
        None => None,
        Some(t) => {
            let part = super::inputs::parse_tile(t, "--tile", &net)?;
            if args.regions.is_some()
                || args.graph.is_some()
                || args.svg.is_some()
                || args.png.is_some()
                || args.mesh.is_some()
            {
                return Err(relu_regions::Error::usage(
                    "--tile",
                    "counts only: --regions, --graph, --mesh and pictures are for whole domains",
                )
                .into());
            }
            Some(part)
        }
    };
    let slice = match tile {
        Some((i, n)) => relu_regions::tile::tile_slice(&full_slice, i, n)?,
        None => full_slice.clone(),
    };
    let restricted = Restricted::new(&net, &slice)?;
    let cfg = EnumerateConfig {
        max_regions: args.max_regions,
        max_memory: Some(match &args.max_memory {
            Some(text) => parse_size(text)?,
            None => default_memory_limit(),
        }),
        engine: match args.engine {
            EngineArg::Auto => EngineChoice::Auto,
            EngineArg::Planar => EngineChoice::Planar,
            EngineArg::Lp => EngineChoice::Lp,
        },
        ..EnumerateConfig::default()
    };
    let threads = args
        .threads
        .map_or_else(rayon::current_num_threads, usize::from)
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .start_handler(|_| crate::reserve_thread_heap())
        .build()?;
    let bar = Bar::new(!args.quiet);
    if cfg.engine.uses_lp(restricted.d) {
        return run_lp(
            args,
            &net,
            &restricted,
            &slice,
            (&full_slice, tile),
            &cfg,
            &pool,
            &bar,
            threads,
            &name,
        );
    }
    if args.mesh.is_some() {
        return Err(relu_regions::Error::usage(
            "--mesh",
            format!(
                "draws 3-D regions; this slice is {}-D (use --svg or --png)",
                restricted.d
            ),
        )
        .into());
    }
    let mut times = Vec::new();
    let mut partition = None;
    // (`CountArgs::default()`, the bare `relu-regions` run, has repeat 0: one run.)
    for _ in 0..args.repeat.max(1) {
        // The previous run's result is dropped before the clock starts.
        drop(partition.take());
        let start = Instant::now();
        let p = pool.install(|| enumerate(&restricted, &slice.domain, &cfg, &bar))?;
        times.push(start.elapsed().as_secs_f64());
        partition = Some(p);
    }
    let partition = partition.expect("at least one run");
    let seconds_first = times[0];
    times.sort_by(f64::total_cmp);
    let seconds = times[times.len() / 2];
    let mut report = CountReport::new(&partition, "planar", seconds, threads, &name);
    if args.repeat > 1 {
        report.seconds_first = Some(seconds_first);
    }
    let groups = restricted.regions_of(partition.regions.iter().map(|r| r.pattern));
    describe(&mut report, &net, &slice, groups.as_ref().map(|g| g.1));
    if let Some((i, n)) = tile {
        let patterns: Vec<&[u64]> = partition.regions.iter().map(|r| r.pattern).collect();
        count_tile(
            &mut report,
            &restricted,
            &full_slice,
            i,
            n,
            &patterns,
            &pool,
        );
    }
    if args.floor {
        // Median of five passes, inside the same thread pool as the enumeration.
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let out = pool.install(|| restricted.forward_batch(&partition.xy));
                std::hint::black_box(out);
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        report.floor_seconds = Some(times[2]);
        report.floor_ratio = Some(seconds / times[2]);
    }
    if super::progress::interrupted() {
        // Stopped by Ctrl-C: report what was found, write no files.
        return finish_report(&mut report, args.json);
    }
    let mut labels = None;
    // Exact vertices, once, for the graph's exact edge lengths and for the regions file.
    let exact_points = ((args.graph.is_some() && partition.complete) || args.regions.is_some())
        .then(|| pool.install(|| partition.exact_vertices()));
    let wants_graph = !args.no_linear || args.graph.is_some() || args.colour_by == ColourBy::Linear;
    let mut output_seconds = 0.0;
    if wants_graph && !partition.complete {
        // The regions of a stopped run are those of the layers done so far: their output maps
        // are not the network's, so there are no linear regions to report (and no graph file).
        if args.graph.is_some() || args.colour_by == ColourBy::Linear {
            eprintln!(
                "relu-regions: the run stopped before the last layer; no adjacency graph or \
                 linear regions{}",
                if args.graph.is_some() {
                    " (--graph not written)"
                } else {
                    ""
                }
            );
        }
    } else if wants_graph {
        let (summary, written) = graph_step(
            &mut report,
            args,
            groups.as_ref().map(|(g, _)| g.as_slice()),
            Instant::now(),
            || pool.install(|| Summary::build(&partition, &restricted)),
            || {
                let lengths_from = exact_points.as_deref();
                pool.install(|| RegionGraph::build(&partition, &restricted, lengths_from))
            },
        )?;
        output_seconds += written;
        labels = Some(summary.linear.label);
    }
    if args.svg.is_some() || args.png.is_some() {
        let t = Instant::now();
        let spinner = Spinner::new(!args.quiet, "drawing the partition".into());
        let scene = if partition.dim == 1 {
            picture::segment_scene(&partition, &restricted, args.size, args.size / 2)
        } else {
            let colouring = match (args.colour_by, &labels) {
                (ColourBy::Linear, Some(_)) => Colouring::LinearRegions,
                _ => Colouring::Regions,
            };
            picture::planar_scene(&partition, args.size, colouring, labels.as_deref())
        };
        if let Some(path) = &args.svg {
            write_file("--svg", path, picture::to_svg(&scene).as_bytes())?;
        }
        if let Some(path) = &args.png {
            write_file("--png", path, &picture::to_png(&scene))?;
        }
        spinner.finish();
        output_seconds += t.elapsed().as_secs_f64();
    }
    if let Some(path) = &args.regions {
        let t = Instant::now();
        let spinner = Spinner::new(
            !args.quiet,
            format!("writing {} regions to {path}", partition.regions.len()),
        );
        let points = exact_points
            .as_deref()
            .expect("computed above for --regions");
        let mut file = pool.install(|| partition_file_with(&partition, points));
        file.slice = Some(slice.to_json());
        let text = serde_json::to_string(&file)?;
        write_file("--regions", path, text.as_bytes())?;
        spinner.finish();
        output_seconds += t.elapsed().as_secs_f64();
    }
    if args.regions.is_some() || args.graph.is_some() || args.svg.is_some() || args.png.is_some() {
        report.output_seconds = Some(output_seconds);
    }
    finish_report(&mut report, args.json)
}

/// The network's side of a report: its operations, the region count when max pooling merges
/// cells (`regions`), and the bounds, which are stated for plain ReLU networks only.
fn describe(
    report: &mut CountReport,
    net: &relu_regions::Network,
    slice: &relu_regions::Slice,
    regions: Option<usize>,
) {
    report.architecture = net.architecture.clone();
    if let Some(r) = regions {
        report.cells = Some(report.activation_regions);
        report.activation_regions = r;
    }
    report.bounds = net.is_plain_relu().then(|| {
        relu_regions::bounds::bounds_for_slice(&net.split_widths(), slice)
            .with_count(report.activation_regions)
    });
}

/// With `--tile I/N`: of the cells found in the slab, the regions this tile counts (those whose
/// region does not reach left of the slab; decided exactly, in parallel).
fn count_tile(
    report: &mut CountReport,
    restricted: &Restricted,
    full: &relu_regions::Slice,
    i: usize,
    n: usize,
    patterns: &[&[u64]],
    pool: &rayon::ThreadPool,
) {
    use rayon::prelude::*;
    let counted = pool.install(|| {
        patterns
            .par_iter()
            .filter(|p| !relu_regions::tile::reaches_left(restricted, full, i, n, p))
            .count()
    });
    report.tile = Some(format!("{i}/{n}"));
    report.tile_cells = Some(patterns.len());
    report.activation_regions = counted;
    report.bounds = None;
}

/// Sets the whole run's time and the peak memory, then prints the report (JSON or table).
fn finish_report(report: &mut CountReport, json: bool) -> Result<i32> {
    report.peak_memory_bytes = peak_memory_bytes();
    report.total_seconds = crate::cli::seconds_since_start();
    if !report.complete {
        let why = match report.stopped_by {
            Some(relu_regions::StopReason::Memory) => {
                "by --max-memory (the next layer's vertices would not fit; see --max-memory)"
            }
            Some(relu_regions::StopReason::Interrupted) => "by Ctrl-C",
            _ => "by --max-regions",
        };
        eprintln!(
            "relu-regions: stopped {why} after {} regions: the count is a lower bound \
             (complete: false)",
            report.activation_regions
        );
    }
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(report)?))?;
    } else {
        emit(&report.table())?;
    }
    // 128 + SIGINT, as a shell reports a program stopped by Ctrl-C.
    Ok(if super::progress::interrupted() {
        130
    } else {
        0
    })
}

/// `count` with the lp engine: the count, per-layer counts, LP statistics, the regions file, the
/// adjacency graph and linear regions (pictures and the floor belong to the planar engine).
#[allow(clippy::too_many_arguments)]
fn run_lp(
    args: &CountArgs,
    net: &relu_regions::Network,
    restricted: &Restricted,
    slice: &relu_regions::Slice,
    (full_slice, tile): (&relu_regions::Slice, Option<(usize, usize)>),
    cfg: &EnumerateConfig,
    pool: &rayon::ThreadPool,
    bar: &Bar,
    threads: usize,
    name: &str,
) -> Result<i32> {
    if args.mesh.is_some() && restricted.d != 3 {
        return Err(relu_regions::Error::usage(
            "--mesh",
            format!("draws 3-D regions; this slice is {}-D", restricted.d),
        )
        .into());
    }
    let picture = args.svg.is_some() || args.png.is_some();
    if picture && restricted.d < 3 {
        return Err(relu_regions::Error::usage(
            if args.svg.is_some() { "--svg" } else { "--png" },
            "with the lp engine draws sections of 3-D and 4-D partitions; the planar engine \
             draws 1-D and 2-D ones",
        )
        .into());
    }
    if picture != args.section.is_some() {
        return Err(relu_regions::Error::usage(
            "--section",
            if picture {
                "pictures of a 3-D or 4-D partition are cross-sections: give --section, e.g. z=0"
            } else {
                "draws a cross-section: give --svg or --png as well"
            },
        )
        .into());
    }
    let unsupported = [("--floor", args.floor), ("--repeat", args.repeat > 1)];
    if let Some((flag, _)) = unsupported.iter().find(|(_, on)| *on) {
        return Err(relu_regions::Error::usage(
            flag,
            "is available with the planar engine (d ≤ 2) only; the lp engine writes counts, \
             the regions file and the graph",
        )
        .into());
    }
    let start = Instant::now();
    // Adjacent pairs are found during the enumeration (their cost is in `seconds`).
    let wants_graph = !args.no_linear || args.graph.is_some();
    let options = LpOptions {
        exact_geometry: args.regions.is_some() || args.mesh.is_some(),
        adjacency: wants_graph,
        facets: args.regions.is_some() || args.mesh.is_some(),
        ..LpOptions::default()
    };
    let partition =
        pool.install(|| enumerate_lp_with(restricted, &slice.domain, cfg, &options, bar))?;
    let seconds = start.elapsed().as_secs_f64();
    let mut report = CountReport::from_lp(&partition, &slice.domain, seconds, threads, name);
    if !partition.complete {
        // The lp engine's limits: regions, and about 4 KiB of memory per cell.
        let cell_cap = cfg.max_memory.map(|m| (m / 4096) as usize);
        report.stopped_by = Some(if super::progress::interrupted() {
            relu_regions::StopReason::Interrupted
        } else if cfg
            .max_regions
            .is_some_and(|r| cell_cap.is_none_or(|c| r <= c))
        {
            relu_regions::StopReason::MaxRegions
        } else {
            relu_regions::StopReason::Memory
        });
    }
    if let Some(path) = &args.regions {
        let t = Instant::now();
        if restricted.d > GEOMETRY_MAX_DIM {
            eprintln!(
                "relu-regions: exact vertices and volumes are computed up to \
                 {GEOMETRY_MAX_DIM}-D: {path} lists each region's facets and witness, and \
                 verify cannot certify it"
            );
        }
        let mut file = pool.install(|| lp_partition_file(&partition, &slice.domain));
        file.slice = Some(slice.to_json());
        let text = serde_json::to_string(&file)?;
        write_file("--regions", path, text.as_bytes())?;
        report.output_seconds = Some(t.elapsed().as_secs_f64());
    }
    let groups = restricted.regions_of(partition.regions.iter().map(|r| r.pattern.as_slice()));
    let mut linear_labels = None;
    match &partition.adjacent {
        Some(pairs) => {
            let (summary, written) = graph_step(
                &mut report,
                args,
                groups.as_ref().map(|(g, _)| g.as_slice()),
                Instant::now(),
                || {
                    let patterns: Vec<&[u64]> = partition
                        .regions
                        .iter()
                        .map(|r| r.pattern.as_slice())
                        .collect();
                    pool.install(|| Summary::from_pairs(&patterns, restricted, pairs.clone()))
                },
                || {
                    pool.install(|| RegionGraph::from_lp(&partition, restricted))
                        .expect("adjacency was asked for")
                },
            )?;
            *report.output_seconds.get_or_insert(0.0) += written;
            linear_labels = Some(summary.linear.label);
        }
        None if args.graph.is_some() => eprintln!(
            "relu-regions: the run stopped before the last layer; no adjacency graph \
             (--graph not written)"
        ),
        None => {}
    }
    if let Some(spec) = &args.section {
        let t = Instant::now();
        let (text, label) = if spec.ends_with(".json") {
            (read_file(spec)?, spec.as_str())
        } else {
            (spec.clone(), "--section")
        };
        let section = relu_regions::section::section_slice(slice, &text, label)?;
        let scene = pool.install(|| {
            section_scene(
                net,
                &section,
                &partition,
                linear_labels
                    .as_deref()
                    .filter(|_| args.colour_by == ColourBy::Linear),
                args.size,
            )
        })?;
        if let Some(path) = &args.svg {
            write_file("--svg", path, picture::to_svg(&scene).as_bytes())?;
        }
        if let Some(path) = &args.png {
            write_file("--png", path, &picture::to_png(&scene))?;
        }
        *report.output_seconds.get_or_insert(0.0) += t.elapsed().as_secs_f64();
    }
    if let Some(path) = &args.mesh {
        let t = Instant::now();
        let format = MeshFormat::from_path(path).expect("checked above");
        let text = pool.install(|| {
            mesh_file(
                &partition,
                format,
                args.mesh_shrink.unwrap_or(1.0),
                linear_labels.as_deref(),
            )
        });
        write_file("--mesh", path, text.as_bytes())?;
        *report.output_seconds.get_or_insert(0.0) += t.elapsed().as_secs_f64();
    }
    describe(&mut report, net, slice, groups.map(|g| g.1));
    if let Some((i, n)) = tile {
        let patterns: Vec<&[u64]> = partition
            .regions
            .iter()
            .map(|r| r.pattern.as_slice())
            .collect();
        count_tile(&mut report, restricted, full_slice, i, n, &patterns, pool);
    }
    finish_report(&mut report, args.json)
}

/// The picture of a cross-section: the network restricted to the section's plane, enumerated by
/// the planar engine, each region coloured as the region of `whole` with its pattern (or as that
/// region's linear region, when `linear` labels are given).
fn section_scene(
    net: &relu_regions::Network,
    section: &relu_regions::Slice,
    whole: &relu_regions::engine::lp::LpPartition,
    linear: Option<&[usize]>,
    size: u32,
) -> Result<picture::Scene> {
    let restricted = Restricted::new(net, section)?;
    let cfg = EnumerateConfig {
        engine: EngineChoice::Planar,
        ..EnumerateConfig::default()
    };
    let cut = enumerate(
        &restricted,
        &section.domain,
        &cfg,
        &relu_regions::NoProgress,
    )?;
    let index: std::collections::HashMap<&[u64], usize> = whole
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| (r.pattern.as_slice(), i))
        .collect();
    // A pattern of the plane alone (a unit vanishing on the whole plane) gets a colour of its own.
    let labels: Vec<usize> = cut
        .regions
        .iter()
        .enumerate()
        .map(|(r, region)| match index.get(region.pattern) {
            Some(&i) => linear.map_or(i, |l| l[i]),
            None => whole.regions.len() + r,
        })
        .collect();
    Ok(picture::planar_scene(
        &cut,
        size,
        Colouring::LinearRegions,
        Some(&labels),
    ))
}

/// The graph step's figures in the report (`groups`: cells grouped into regions by max pooling).
/// The graph step of either engine, started at `start`: the linear regions' summary (from the
/// full graph, written to the file, when `--graph` asks for it) into the report. Returns the
/// summary and the seconds the writing took (counted as output, not as graph time).
fn graph_step(
    report: &mut CountReport,
    args: &CountArgs,
    groups: Option<&[u32]>,
    start: Instant,
    summary_only: impl FnOnce() -> Summary,
    full_graph: impl FnOnce() -> RegionGraph,
) -> Result<(Summary, f64)> {
    let (summary, written) = match &args.graph {
        None => (summary_only(), 0.0),
        Some(path) => {
            let graph = full_graph();
            let written = write_graph(path, &graph, args.quiet)?;
            (graph.summary(), written)
        }
    };
    report.graph_seconds = Some(start.elapsed().as_secs_f64() - written);
    report.linear_regions = Some(summary.linear.count);
    report.adjacent_pairs = Some(summary.adjacent_regions(groups));
    Ok((summary, written))
}

/// Writes the graph as DOT, GraphML or JSON (by the file's extension); returns the seconds taken.
fn write_graph(path: &str, graph: &RegionGraph, quiet: bool) -> Result<f64> {
    let start = Instant::now();
    let spinner = Spinner::new(!quiet, format!("writing the graph to {path}"));
    let text = if path.ends_with(".dot") {
        graph.to_dot()
    } else if path.ends_with(".graphml") {
        graph.to_graphml()
    } else {
        serde_json::to_string_pretty(&graph.to_json())?
    };
    write_file("--graph", path, text.as_bytes())?;
    spinner.finish();
    Ok(start.elapsed().as_secs_f64())
}

/// Peak resident memory of this process (Linux VmHWM), if available.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `--input-shape 1,28,28`: positive sizes.
fn parse_shape(text: &str) -> Result<Vec<usize>> {
    text.split(',')
        .map(|s| s.trim().parse::<usize>().ok().filter(|&n| n > 0))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            relu_regions::Error::usage(
                "--input-shape",
                format!("\"{text}\" is not a list of positive sizes like 1,28,28"),
            )
            .into()
        })
}

/// `--max-memory 8G`: bytes, with an optional K, M, G or T suffix (powers of 1024).
fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], t[i..].trim_end_matches(['B', 'b', 'i'])),
        None => (t, ""),
    };
    let scale: u64 = match unit.to_ascii_uppercase().as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => 0,
    };
    match num.trim().parse::<f64>() {
        Ok(x) if scale > 0 && x.is_finite() && x > 0.0 && x * (scale as f64) < 1.8e19 => {
            Ok((x * scale as f64) as u64)
        }
        _ => Err(relu_regions::Error::usage(
            "--max-memory",
            format!("\"{text}\" is not a size like 8G, 500M or 1000000"),
        )
        .into()),
    }
}

/// 60 % of the machine's memory (MemTotal), or 8 GiB where that cannot be read.
fn default_memory_limit() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    });
    total.map_or(8 << 30, |t| t / 10 * 6)
}
