//! `batch` and `merge`: shards that add up to the whole, resumable output, error lines.

use crate::support::temp_file;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_relu-regions"))
}

/// 40 jobs: planes through points of the embedded-size network (2 inputs), one failing job.
fn jobs_file(tag: &str) -> String {
    let net = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/nets/default-2-16-16-16.json"
    );
    let mut lines = Vec::new();
    for k in 0..40 {
        let s = 0.02 * k as f64;
        lines.push(format!(
            r#"{{"id": "job-{k:02}", "net": "{net}", "slice": {{"through": [[{s}, 0], [1, {s}], [0, 1]], "box": [[-0.5, 1.5], [-0.5, 1.5]]}}}}"#
        ));
    }
    lines.push(r#"{"id": "broken", "net": "/no/such/net.json", "box": "-1:1,-1:1"}"#.to_string());
    temp_file(
        "batch",
        &format!("{tag}-jobs.jsonl"),
        &(lines.join("\n") + "\n"),
    )
}

/// Results by id, without the run's timings.
fn results(path: &std::path::Path) -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            (v["id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn out_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("relu-regions-batch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn shards_add_up_to_the_unsharded_run() {
    let jobs = jobs_file("shards");
    let whole = out_dir("whole");
    let st = bin()
        .args(["batch", &jobs, "--out", whole.to_str().unwrap(), "-q"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1), "one job fails: exit 1");
    let all = results(&whole.join("results.jsonl"));
    assert_eq!(all.len(), 41);
    assert_eq!(all["broken"]["status"], "error");
    assert!(all["broken"]["error"]
        .as_str()
        .unwrap()
        .contains("/no/such/net.json"));
    assert!(all
        .values()
        .filter(|v| v["status"] == "ok")
        .all(|v| v["certified"] == true));
    for n in [2, 3] {
        let dir = out_dir(&format!("shard{n}"));
        let mut merged = BTreeMap::new();
        let mut files = Vec::new();
        for i in 0..n {
            let shard = format!("{i}/{n}");
            bin()
                .args([
                    "batch",
                    &jobs,
                    "--out",
                    dir.to_str().unwrap(),
                    "--shard",
                    &shard,
                    "-q",
                ])
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            let f = dir.join(format!("results-{i}-of-{n}.jsonl"));
            for (id, v) in results(&f) {
                assert!(merged.insert(id.clone(), v).is_none(), "{id} in two shards");
            }
            files.push(f.to_str().unwrap().to_string());
        }
        assert_eq!(merged, all, "{n} shards");
        // merge checks the shards against the jobs: nothing missing, nothing doubled.
        let mut args = vec![
            "merge".to_string(),
            "--expect".into(),
            jobs.clone(),
            "--json".into(),
        ];
        args.extend(files.iter().cloned());
        let out = bin().args(&args).output().unwrap();
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["results"], 41);
        assert_eq!(summary["missing"].as_array().unwrap().len(), 0);
        assert_eq!(summary["doubled"].as_array().unwrap().len(), 0);
        assert_eq!(
            out.status.code(),
            Some(1),
            "the failed job makes merge exit 1"
        );
        // A shard given twice is caught, and a missing one.
        let twice = bin()
            .args(["merge", "--json", &files[0], &files[0]])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&twice.stdout).unwrap();
        assert!(!v["doubled"].as_array().unwrap().is_empty());
        let partial = bin()
            .args(["merge", "--json", "--expect", &jobs, &files[0]])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&partial.stdout).unwrap();
        assert!(!v["missing"].as_array().unwrap().is_empty());
    }
    // Slurm arrays: task 1 of 2 (array 5-6) is shard 1/2.
    let dir = out_dir("slurm");
    bin()
        .args([
            "batch",
            &jobs,
            "--out",
            dir.to_str().unwrap(),
            "--shard",
            "slurm",
            "-q",
        ])
        .env("SLURM_ARRAY_TASK_ID", "6")
        .env("SLURM_ARRAY_TASK_MIN", "5")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let plain = out_dir("plain");
    bin()
        .args([
            "batch",
            &jobs,
            "--out",
            plain.to_str().unwrap(),
            "--shard",
            "1/2",
            "-q",
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(
        results(&dir.join("results-1-of-2.jsonl")),
        results(&plain.join("results-1-of-2.jsonl"))
    );
}

#[test]
fn a_killed_batch_resumes_to_the_same_results() {
    let jobs = jobs_file("resume");
    let full = out_dir("full");
    bin()
        .args(["batch", &jobs, "--out", full.to_str().unwrap(), "-q"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let want = std::fs::read_to_string(full.join("results.jsonl")).unwrap();
    // A run killed mid-write: 13 lines and half of the 14th.
    let cut = out_dir("cut");
    std::fs::create_dir_all(&cut).unwrap();
    let lines: Vec<&str> = want.lines().collect();
    let torn = format!(
        "{}\n{}",
        lines[..13].join("\n"),
        &lines[13][..lines[13].len() / 2]
    );
    std::fs::write(cut.join("results.jsonl"), torn).unwrap();
    bin()
        .args([
            "batch",
            &jobs,
            "--out",
            cut.to_str().unwrap(),
            "--resume",
            "-q",
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let got = cut.join("results.jsonl");
    assert_eq!(results(&got), results(&full.join("results.jsonl")));
    // In the jobs' order too, and every line whole.
    let ids: Vec<String> = std::fs::read_to_string(&got)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let want_ids: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, want_ids);
}

#[test]
fn bad_jobs_files_and_shards_are_refused() {
    let dup = temp_file(
        "batch",
        "dup.jsonl",
        "{\"id\": \"a\", \"net\": \"x\"}\n{\"id\": \"a\", \"net\": \"y\"}\n",
    );
    let out = out_dir("bad");
    let o = bin()
        .args(["batch", &dup, "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2.id"));
    let jobs = jobs_file("badshard");
    for shard in ["3/3", "x", "1/0"] {
        let o = bin()
            .args([
                "batch",
                &jobs,
                "--out",
                out.to_str().unwrap(),
                "--shard",
                shard,
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{shard}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("--shard"));
    }
    let o = bin()
        .args([
            "batch",
            &jobs,
            "--out",
            out.to_str().unwrap(),
            "--shard",
            "slurm",
        ])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SLURM_ARRAY_TASK_ID"));
}

/// Optional (RELU_REGIONS_DASK=1, needs Python with `dask[distributed]`): the shards run as
/// tasks of a local Dask cluster give the unsharded run's results.
#[test]
fn dask_shards_give_the_unsharded_results() {
    if std::env::var_os("RELU_REGIONS_DASK").is_none() {
        eprintln!("skipped: set RELU_REGIONS_DASK=1 to run the shards on a local Dask cluster");
        return;
    }
    let jobs = jobs_file("dask");
    let whole = out_dir("dask-whole");
    bin()
        .args(["batch", &jobs, "--out", whole.to_str().unwrap(), "-q"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let dir = out_dir("dask");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benchmarks/scale_out_dask.py");
    let out = Command::new("python3")
        .args([
            script,
            env!("CARGO_BIN_EXE_relu-regions"),
            &jobs,
            dir.to_str().unwrap(),
            "3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: BTreeMap<String, Value> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("seconds");
            (r["id"].as_str().unwrap().to_string(), r)
        })
        .collect();
    assert_eq!(got, results(&whole.join("results.jsonl")));
}

/// Tiles of a box add up to the untiled count exactly, on the degenerate 2-D and 3-D fixtures
/// (boundaries along the box's sides, through corners and through the tile boundaries t₁ = 0).
#[test]
fn tiles_add_up_to_the_untiled_count() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut checked = 0;
    for dir in ["degenerate", "degenerate-3d"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            let d = v["layers"][0]["weight"][0].as_array().unwrap().len();
            if d < 2 {
                continue;
            }
            let boxed = v["meta"]["box"].as_str().map(str::to_string);
            let count = |tile: Option<&str>| -> u64 {
                let mut args = vec![
                    "count".to_string(),
                    f.to_str().unwrap().to_string(),
                    "--json".into(),
                    "-q".into(),
                    "--no-linear".into(),
                ];
                if let Some(b) = &boxed {
                    args.push(format!("--box={b}"));
                }
                if let Some(t) = tile {
                    args.push("--tile".into());
                    args.push(t.into());
                }
                let out = bin().args(&args).output().unwrap();
                assert!(
                    out.status.success(),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                v["activation_regions"].as_u64().unwrap()
            };
            let whole = count(None);
            for n in [2usize, 3, 4] {
                let sum: u64 = (0..n).map(|i| count(Some(&format!("{i}/{n}")))).sum();
                assert_eq!(sum, whole, "{} in {n} tiles", f.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} fixtures");
}
