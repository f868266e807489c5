//! `relu-regions batch` and `relu-regions merge`: many counts in one process, spread over a
//! cluster by the scheduler people already run (Slurm arrays, GNU parallel, Dask, Ray).
//!
//! A jobs file has one JSON object per line: `{"id": "plane-17", "net": "model.onnx",
//! "subspace": "plane-17.json"}` (paths relative to the jobs file; or the slice inline as
//! `"slice": {"through": [...]}`), optionally `"box"`,
//! `"max_regions"`, `"engine"`, `"input_shape"`. A job belongs to shard `fnv1a(id) mod N`, so
//! the shards of one file are disjoint and their union is every job, whatever N. Each finished
//! job appends one JSON line to the output and flushes it: a killed run loses only the jobs in
//! progress, and `--resume` skips the ids already written (a torn last line is cut off first).

use super::inputs::{load_network_with, load_slice};
use super::output::{check_outputs, emit};
use anyhow::{anyhow, Result};
use clap::Args;
use rayon::prelude::*;
use relu_regions::engine::lp::{enumerate_lp_with, LpOptions};
use relu_regions::{enumerate, EngineChoice, EnumerateConfig, Network, NoProgress, Restricted};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The jobs: one JSON object per line ({"id", "net", "subspace" or "box", ...}).
    pub jobs: String,
    /// Folder for the results (created if missing): results.jsonl, or results-I-of-N.jsonl
    /// for a shard.
    #[arg(long, value_name = "DIR")]
    pub out: String,
    /// Run shard I of N (0 ≤ I < N) only, or `slurm` for SLURM_ARRAY_TASK_ID (from
    /// SLURM_ARRAY_TASK_MIN) of SLURM_ARRAY_TASK_COUNT.
    #[arg(long, value_name = "I/N|slurm")]
    pub shard: Option<String>,
    /// Skip the jobs whose results are already in the output file.
    #[arg(long)]
    pub resume: bool,
    /// Stop each job cleanly past this many regions (a job's own "max_regions" wins).
    #[arg(long, value_name = "N")]
    pub max_regions: Option<usize>,
    /// Worker threads (default: all cores; at most 1024). The results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Result files written by `batch` (shards, or runs of the same jobs).
    #[arg(required = true)]
    pub files: Vec<String>,
    /// The jobs file: every job must have exactly one result.
    #[arg(long, value_name = "JOBS")]
    pub expect: Option<String>,
    /// Write the merged results, sorted by id, to this file (default: a summary only).
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// FNV-1a 64 of the id: stable across machines, versions and shard counts.
pub fn shard_of(id: &str, shards: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % shards
}

/// (I, N) from `--shard I/N` or `--shard slurm`.
fn parse_shard(text: &str) -> Result<(u64, u64)> {
    let bad = |why: String| anyhow!(relu_regions::Error::usage("--shard", why));
    if text == "slurm" {
        let var = |name: &str| -> Result<u64> {
            std::env::var(name)
                .map_err(|_| bad(format!("{name} is not set (not inside a Slurm job array?)")))?
                .parse()
                .map_err(|_| bad(format!("{name} is not a number")))
        };
        let id = var("SLURM_ARRAY_TASK_ID")?;
        let count = var("SLURM_ARRAY_TASK_COUNT")?;
        let min = var("SLURM_ARRAY_TASK_MIN").unwrap_or(0);
        let i = id
            .checked_sub(min)
            .ok_or_else(|| bad("SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN".into()))?;
        if count == 0 || i >= count {
            return Err(bad(format!(
                "task {i} of {count}: use a dense array, e.g. --array=0-{}",
                count.max(1) - 1
            )));
        }
        return Ok((i, count));
    }
    let (i, n) = super::inputs::parse_part(text, "--shard")?;
    Ok((i as u64, n as u64))
}

/// One line of the jobs file, checked.
struct Job {
    id: String,
    line: usize,
    spec: std::result::Result<Map<String, Value>, String>,
}

fn read_jobs(path: &str) -> Result<Vec<Job>> {
    let text = super::inputs::read_file(path)?;
    let mut jobs = Vec::new();
    let mut ids = HashSet::new();
    for (k, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("line {}", k + 1);
        let value = relu_regions::json::parse(line, &format!("{path}: {place}"))?;
        let obj = value.as_object().ok_or_else(|| {
            anyhow!(relu_regions::Error::field(
                path,
                &place,
                "expected a JSON object"
            ))
        })?;
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                anyhow!(relu_regions::Error::field(
                    path,
                    format!("{place}.id"),
                    "missing (every job needs a string id)"
                ))
            })?
            .to_string();
        if !ids.insert(id.clone()) {
            return Err(anyhow!(relu_regions::Error::field(
                path,
                format!("{place}.id"),
                format!("\"{id}\" is the id of an earlier job"),
            )));
        }
        let spec = relu_regions::json::check_keys(
            obj,
            &[
                "id",
                "net",
                "subspace",
                "slice",
                "box",
                "max_regions",
                "engine",
                "input_shape",
                "meta",
            ],
            path,
            &place,
        )
        .map(|()| obj.clone())
        .map_err(|e| e.to_string());
        jobs.push(Job {
            id,
            line: k + 1,
            spec,
        });
    }
    Ok(jobs)
}

/// Networks shared by the jobs that name the same file: loaded once, and restricted to each
/// job's slice from the first job's restriction (only the first layer depends on the slice).
type NetCache =
    Mutex<HashMap<(PathBuf, Option<Vec<usize>>), (Arc<Network>, Option<Arc<Restricted>>)>>;

fn run_job(job: &Job, base: &Path, cache: &NetCache, max_regions: Option<usize>) -> Value {
    match count_job(job, base, cache, max_regions) {
        Ok(mut v) => {
            v["id"] = job.id.clone().into();
            v["status"] = "ok".into();
            v
        }
        Err(e) => {
            json!({"id": job.id, "status": "error", "line": job.line, "error": format!("{e:#}")})
        }
    }
}

fn count_job(
    job: &Job,
    base: &Path,
    cache: &NetCache,
    max_regions: Option<usize>,
) -> Result<Value> {
    let spec = job.spec.as_ref().map_err(|e| anyhow!("{e}"))?;
    let path_of = |key: &str| -> Result<Option<PathBuf>> {
        match spec.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(base.join(s))),
            Some(_) => Err(anyhow!("{key}: expected a file name")),
        }
    };
    let net_path = path_of("net")?.ok_or_else(|| anyhow!("net: missing (a network file)"))?;
    let input_shape: Option<Vec<usize>> = match spec.get("input_shape") {
        None => None,
        Some(v) => Some(
            serde_json::from_value(v.clone())
                .map_err(|_| anyhow!("input_shape: expected an array of sizes"))?,
        ),
    };
    let key = (net_path.clone(), input_shape.clone());
    let cached = cache.lock().expect("cache").get(&key).cloned();
    let (net, template) = match cached {
        Some(c) => c,
        None => {
            let options = relu_regions::onnx::ImportOptions { input_shape };
            let (n, _) = load_network_with(Some(&net_path.to_string_lossy()), &options)?;
            let n = Arc::new(n);
            cache
                .lock()
                .expect("cache")
                .insert(key.clone(), (n.clone(), None));
            (n, None)
        }
    };
    let subspace = path_of("subspace")?.map(|p| p.to_string_lossy().into_owned());
    let box_ = match spec.get("box") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(anyhow!("box: expected \"LO:HI,LO:HI\"")),
    };
    let slice = match spec.get("slice") {
        // A slice given inline, as in a slice file.
        Some(inline) => {
            if subspace.is_some() {
                return Err(anyhow!("give \"slice\" or \"subspace\", not both"));
            }
            let mut s =
                relu_regions::Slice::from_json(&inline.to_string(), "slice", net.input_dim())?;
            if let Some(b) = &box_ {
                s.domain =
                    relu_regions::Domain::Box(relu_regions::slice::parse_box_flag(b, s.dim())?);
            }
            s
        }
        None => load_slice(&net, subspace.as_deref(), box_.as_deref())?,
    };
    // A tile: the slab's cells, counting the regions that start in it (see `relu_regions::tile`).
    let tile = match spec.get("tile") {
        None => None,
        Some(v) => {
            let text = v
                .as_str()
                .ok_or_else(|| anyhow!("tile: expected \"I/N\""))?;
            Some(super::inputs::parse_tile(text, "tile", &net)?)
        }
    };
    let full_slice = slice.clone();
    let slice = match tile {
        Some((i, n)) => relu_regions::tile::tile_slice(&full_slice, i, n)?,
        None => slice,
    };
    let restricted = match &template {
        Some(t) => t.reslice(&net, &slice)?,
        None => {
            let r = Restricted::new(&net, &slice)?;
            if let Some(entry) = cache.lock().expect("cache").get_mut(&key) {
                entry.1.get_or_insert_with(|| Arc::new(r.clone()));
            }
            r
        }
    };
    let engine = match spec.get("engine").and_then(Value::as_str) {
        None | Some("auto") => EngineChoice::Auto,
        Some("planar") => EngineChoice::Planar,
        Some("lp") => EngineChoice::Lp,
        Some(other) => return Err(anyhow!("engine: \"{other}\" is not auto, planar or lp")),
    };
    let cfg = EnumerateConfig {
        max_regions: match spec.get("max_regions") {
            None => max_regions,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| anyhow!("max_regions: expected a count"))?
                    as usize,
            ),
        },
        engine,
        ..EnumerateConfig::default()
    };
    let start = std::time::Instant::now();
    let (patterns, per_layer, complete, certified): (Vec<Vec<u64>>, Vec<usize>, bool, bool) =
        if engine.uses_lp(restricted.d) {
            // Patterns only: no facets (they cost the last layer's redundancy LPs).
            let options = LpOptions {
                facets: false,
                ..LpOptions::default()
            };
            let p = enumerate_lp_with(&restricted, &slice.domain, &cfg, &options, &NoProgress)?;
            let pats = p.regions.iter().map(|r| r.pattern.clone()).collect();
            (pats, p.per_layer, p.complete, p.certified)
        } else {
            let p = enumerate(&restricted, &slice.domain, &cfg, &NoProgress)?;
            let pats = p.regions.iter().map(|r| r.pattern.to_vec()).collect();
            (pats, p.per_layer, p.complete, p.certified)
        };
    let seconds = start.elapsed().as_secs_f64();
    let cells = patterns.len();
    let regions = match tile {
        Some((i, n)) => patterns
            .iter()
            .filter(|p| !relu_regions::tile::reaches_left(&restricted, &full_slice, i, n, p))
            .count(),
        None => restricted
            .regions_of(patterns.iter().map(Vec::as_slice))
            .map_or(cells, |g| g.1),
    };
    let mut v = json!({
        "activation_regions": regions,
        "complete": complete,
        "certified": certified,
        "dim": restricted.d,
        "units": restricted.units(),
        "per_layer": per_layer,
        "seconds": seconds,
    });
    if regions != cells {
        v["cells"] = cells.into();
    }
    Ok(v)
}

/// Ids already in a results file; a torn last line (a killed run) is cut off.
fn done_ids(path: &Path) -> Result<HashSet<String>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(HashSet::new());
    };
    let mut ids = HashSet::new();
    let mut good = 0;
    for line in text.split_inclusive('\n') {
        let parsed = line
            .ends_with('\n')
            .then(|| serde_json::from_str::<Value>(line).ok())
            .flatten();
        match parsed.as_ref().and_then(|v| v["id"].as_str()) {
            Some(id) => {
                ids.insert(id.to_string());
                good += line.len();
            }
            None => break,
        }
    }
    if good < text.len() {
        let f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.set_len(good as u64)?;
    }
    Ok(ids)
}

pub fn run(args: &BatchArgs) -> Result<i32> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        pool = pool.num_threads(usize::from(n));
    }
    pool.build()?.install(|| run_in_pool(args))
}

fn run_in_pool(args: &BatchArgs) -> Result<i32> {
    let (shard, shards) = match &args.shard {
        Some(s) => parse_shard(s)?,
        None => (0, 1),
    };
    let jobs = read_jobs(&args.jobs)?;
    let out_dir = Path::new(&args.out);
    std::fs::create_dir_all(out_dir).map_err(|e| {
        anyhow!(relu_regions::Error::usage(
            "--out",
            format!("{}: cannot create: {e}", args.out)
        ))
    })?;
    let name = if shards == 1 {
        "results.jsonl".to_string()
    } else {
        format!("results-{shard}-of-{shards}.jsonl")
    };
    let out_path = out_dir.join(name);
    check_outputs(
        &[&args.jobs],
        &[("--out", Some(&out_path.to_string_lossy()))],
    )?;
    let done = if args.resume {
        done_ids(&out_path)?
    } else {
        HashSet::new()
    };
    let mine: Vec<&Job> = jobs
        .iter()
        .filter(|j| shard_of(&j.id, shards) == shard && !done.contains(&j.id))
        .collect();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(args.resume)
        .write(true)
        .truncate(!args.resume)
        .open(&out_path)
        .map_err(|e| {
            anyhow!(relu_regions::Error::usage(
                "--out",
                format!("{}: {e}", out_path.display())
            ))
        })?;
    let base = Path::new(&args.jobs)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let cache: NetCache = Mutex::new(HashMap::new());
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(mine.len() as u64),
        if args.quiet {
            indicatif::ProgressDrawTarget::hidden()
        } else {
            indicatif::ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "jobs [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let mut failed = 0usize;
    super::progress::catch_ctrl_c();
    // Jobs run in parallel, a few per core, and are written in the jobs file's order.
    let chunk = 4 * rayon::current_num_threads();
    for group in mine.chunks(chunk) {
        if super::progress::interrupted() {
            // The lines written so far are whole: --resume goes on from here.
            break;
        }
        let results: Vec<Value> = group
            .par_iter()
            .map(|job| {
                let r = run_job(job, &base, &cache, args.max_regions);
                bar.inc(1);
                r
            })
            .collect();
        for r in results {
            if r["status"] != "ok" {
                failed += 1;
            }
            writeln!(file, "{r}")
                .and_then(|()| file.flush())
                .map_err(|e| {
                    anyhow!(relu_regions::Error::usage(
                        "--out",
                        format!("{}: cannot write: {e}", out_path.display())
                    ))
                })?;
        }
    }
    bar.finish_and_clear();
    emit(&format!(
        "{} jobs of shard {shard}/{shards} ({} skipped as done): {} ok, {failed} failed → {}\n",
        mine.len() + done.len().min(jobs.len()),
        done.len(),
        mine.len() - failed,
        out_path.display()
    ))?;
    Ok(if failed > 0 { 1 } else { 0 })
}

pub fn run_merge(args: &MergeArgs) -> Result<i32> {
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    let mut doubled = Vec::new();
    for f in &args.files {
        let text = super::inputs::read_file(f)?;
        for (k, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v = relu_regions::json::parse(line, &format!("{f}: line {}", k + 1))?;
            let id = v["id"]
                .as_str()
                .ok_or_else(|| {
                    anyhow!(relu_regions::Error::field(
                        f,
                        format!("line {}", k + 1),
                        "has no id"
                    ))
                })?
                .to_string();
            if by_id.insert(id.clone(), v).is_some() {
                doubled.push(id);
            }
        }
    }
    let missing: Vec<String> = match &args.expect {
        None => Vec::new(),
        Some(jobs) => read_jobs(jobs)?
            .into_iter()
            .map(|j| j.id)
            .filter(|id| !by_id.contains_key(id))
            .collect(),
    };
    let failed = by_id.values().filter(|v| v["status"] != "ok").count();
    let regions: u64 = by_id
        .values()
        .filter_map(|v| v["activation_regions"].as_u64())
        .sum();
    if let Some(out) = &args.out {
        let text: String = by_id.values().map(|v| format!("{v}\n")).collect();
        super::output::write_file("--out", out, text.as_bytes())?;
    }
    let summary = json!({
        "results": by_id.len(),
        "ok": by_id.len() - failed,
        "failed": failed,
        "missing": missing,
        "doubled": doubled,
        "activation_regions_total": regions,
    });
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&summary)?))?;
    } else {
        emit(&format!(
            "{} results ({} ok, {failed} failed), {} regions in all; missing {}, doubled {}\n",
            by_id.len(),
            by_id.len() - failed,
            regions,
            if missing.is_empty() {
                "none".into()
            } else {
                missing.join(", ")
            },
            if doubled.is_empty() {
                "none".into()
            } else {
                doubled.join(", ")
            },
        ))?;
    }
    Ok(if missing.is_empty() && doubled.is_empty() && failed == 0 {
        0
    } else {
        1
    })
}
