//! Regression tests for wrong answers and lost data a new user hit, one test per bug, named
//! after it.

use crate::support::{run_cli, temp_file};
use serde_json::Value;

fn temp(name: &str, text: &str) -> String {
    temp_file("regressions", name, text)
}

/// Two lines through the origin (x = 0, y = 0): four regions on any domain around the origin.
const AXES: &str = r#"{"layers": [{"weight": [[1, 0], [0, 1]], "bias": [0, 0]}, {"weight": [[1, 1]], "bias": [0]}]}"#;

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn stopped_run_reports_no_linear_regions_and_says_it_stopped() {
    let (code, out, err) = run_cli(&["count", "--json", "-q", "--max-regions", "200"]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    assert_eq!(v["complete"], false);
    // The stopped partition's regions are those of the first layer (layer 2 would make 457 > 200).
    assert_eq!(v["activation_regions"], 123, "{v}");
    assert!(v.get("linear_regions").is_none(), "{v}");
    assert!(v.get("adjacent_pairs").is_none(), "{v}");
    assert!(err.contains("stopped by --max-regions"), "{err}");
    assert!(v["total_seconds"].as_f64().unwrap() >= v["seconds"].as_f64().unwrap());
    let (_, table, _) = run_cli(&["count", "-q", "--max-regions", "200"]);
    assert!(
        table.contains("linear regions       not computed"),
        "{table}"
    );
    assert!(table.contains("time in all"), "{table}");
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_full_disk_is_an_error() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_relu-regions"))
        .args(["count", "--json", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before the report is written
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    if std::path::Path::new("/dev/full").exists() {
        let out = Command::new(env!("CARGO_BIN_EXE_relu-regions"))
            .args(["count", "-q"])
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("standard output") && !err.contains("panicked"),
            "{err}"
        );
    }
}

#[test]
fn an_output_path_equal_to_an_input_is_refused_before_the_work() {
    let net = temp("same.json", AXES);
    for flag in ["--regions", "--graph", "--svg"] {
        let (code, _, err) = run_cli(&["count", &net, flag, &net]);
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(err.contains("overwrite") && err.contains(flag), "{err}");
        assert_eq!(
            std::fs::read_to_string(&net).unwrap(),
            AXES,
            "{flag} overwrote the network"
        );
    }
    let (code, _, err) = run_cli(&["count", &net, "--regions", "/no/such/dir/r.json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("directory does not exist"), "{err}");
}

/// Writes the regions file of `AXES` on [-1, 1]² and returns (network path, regions JSON).
fn regions_file(tag: &str) -> (String, Value) {
    let net = temp(&format!("{tag}-net.json"), AXES);
    let path = temp(&format!("{tag}-regions.json"), "");
    let (code, _, err) = run_cli(&["count", &net, "-q", "--regions", &path]);
    assert_eq!(code, 0, "{err}");
    (net, json_of(&std::fs::read_to_string(&path).unwrap()))
}

#[test]
fn verify_rejects_a_bogus_format_version_or_measure() {
    let (net, good) = regions_file("bogus");
    let check = |name: &str, file: &Value| {
        let path = temp(name, &file.to_string());
        run_cli(&["verify", &net, "--partition", &path])
    };
    let (code, out, err) = check("good.json", &good);
    assert_eq!(code, 0, "{out}{err}");
    let mut tampered = Vec::new();
    let mut f = good.clone();
    f["format"] = "something else".into();
    tampered.push(("format.json", f, "format"));
    let mut f = good.clone();
    f["version"] = 7.into();
    tampered.push(("version.json", f, "version"));
    let mut f = good.clone();
    f["regions"][0]["measure"] = "1/0".into();
    tampered.push(("zero-den.json", f, "zero denominator"));
    let mut f = good.clone();
    f["regions"][0]["measure"] = "2".into();
    tampered.push(("wrong-measure.json", f, "measure"));
    let mut f = good.clone();
    f["domain_measure"] = "5".into();
    tampered.push(("domain.json", f, "domain_measure"));
    for (name, file, needle) in tampered {
        let (code, out, err) = check(name, &file);
        assert_eq!(code, 1, "{name} was accepted: {out}{err}");
        assert!(
            out.contains("REJECTED") && out.contains(needle),
            "{name}: {out}"
        );
    }
    let mut f = good.clone();
    f["regionz"] = Value::Array(vec![]);
    let (code, _, err) = check("unknown-key.json", &f);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("regionz"), "{err}");
}

#[test]
fn verify_reads_the_slice_the_regions_file_records() {
    let net = temp("slice-net.json", AXES);
    let slice = temp(
        "slice.json",
        r#"{"through": [[0, 0], ["1/3", 1], [-1, "1/2"]], "box": [[-1, 1], [-0.5, 2]]}"#,
    );
    let path = temp("slice-regions.json", "");
    let (code, _, err) = run_cli(&[
        "count",
        &net,
        "--subspace",
        &slice,
        "-q",
        "--regions",
        &path,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_cli(&["verify", &net, "--partition", &path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("verified: 4 regions"), "{out}");
    // The same slice given again is fine; another one is a mismatch, not a silent re-check.
    let (code, _, _) = run_cli(&["verify", &net, "--partition", &path, "--subspace", &slice]);
    assert_eq!(code, 0);
    let (code, out, _) = run_cli(&["verify", &net, "--partition", &path, "--box", "-1:1,-1:1"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not the slice the regions file records"),
        "{out}"
    );
}

#[test]
fn a_tiny_convex_polygon_is_accepted() {
    let net = temp("tiny-net.json", AXES);
    let slice = temp(
        "tiny.json",
        r#"{"origin": [0, 0], "basis": [[1, 0], [0, 1]],
            "polygon": [[-1e-200, -1e-200], [1e-200, -1e-200], [1e-200, 1e-200], [-1e-200, 1e-200]]}"#,
    );
    let (code, out, err) = run_cli(&["count", &net, "--subspace", &slice, "--json", "-q"]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    assert_eq!(v["activation_regions"], 4, "{v}");
    assert_eq!(v["certified"], true);
    // A self-intersecting one (a bow tie) is still refused.
    let bow = temp(
        "bow.json",
        r#"{"origin": [0, 0], "basis": [[1, 0], [0, 1]],
            "polygon": [[0, 0], [1e-200, 1e-200], [1e-200, 0], [0, 1e-200]]}"#,
    );
    let (code, _, err) = run_cli(&["count", &net, "--subspace", &bow]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn unknown_and_duplicate_keys_are_errors_that_name_them() {
    let net = temp("keys-net.json", AXES);
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "boxx.json",
            "--subspace",
            r#"{"origin": [0, 0], "basis": [[1, 0], [0, 1]], "boxx": [[0, 1], [0, 1]]}"#,
            &["boxx", "did you mean \"box\""],
        ),
        (
            "dup-slice.json",
            "--subspace",
            r#"{"origin": [0, 0], "basis": [[1, 0], [0, 1]], "box": [[0, 1], [0, 1]], "box": [[-1, 1], [-1, 1]]}"#,
            &["duplicate key \"box\""],
        ),
    ];
    for (name, flag, text, needles) in cases {
        let path = temp(name, text);
        let (code, _, err) = run_cli(&["count", &net, flag, &path]);
        assert_eq!(code, 2, "{name}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{name}: {err}");
        }
    }
    let tanh = temp(
        "tanh.json",
        r#"{"layers": [{"weight": [[1, 0]], "bias": [0], "activation": "tanh"}, {"weight": [[1]], "bias": [0]}]}"#,
    );
    let (code, _, err) = run_cli(&["count", &tanh]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("layers[0].activation") && err.contains("unknown key"),
        "{err}"
    );
    let dup = temp(
        "dup-net.json",
        r#"{"layers": [{"weight": [[1, 0]], "bias": [0], "bias": [1]}, {"weight": [[1]], "bias": [0]}]}"#,
    );
    let (code, _, err) = run_cli(&["count", &dup]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("duplicate key \"bias\""), "{err}");
}

#[test]
fn compare_and_bounds_count_work_on_three_dimensional_slices() {
    let net = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/degenerate-3d/four-planes-through-one-point.json"
    );
    let (code, out, err) = run_cli(&["count", net, "--json", "-q"]);
    assert_eq!(code, 0, "{err}");
    let exact = json_of(&out)["activation_regions"].as_u64().unwrap();
    let (code, out, err) = run_cli(&["bounds", net, "--count", "--json", "-q"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["activation_regions"].as_u64(), Some(exact));
    let estimate = temp(
        "estimate-3d.json",
        &format!(r#"{{"regions": {}}}"#, exact + 1),
    );
    let (code, out, err) = run_cli(&["compare", net, "--estimate", &estimate, "--json", "-q"]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    assert_eq!(v["exact_regions"].as_u64(), Some(exact));
    // The lp engine gives exact volumes in 3-D: the smallest region is known.
    assert!(v["smallest_region_area"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn a_layer_that_would_not_fit_in_memory_stops_cleanly() {
    // The embedded network with room for a few hundred vertices' rows: layer 2 would not fit.
    let (code, out, err) = run_cli(&["count", "--json", "-q", "--max-memory", "60K"]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    assert_eq!(v["complete"], false, "{v}");
    assert_eq!(v["stopped_by"], "memory", "{v}");
    assert!(err.contains("--max-memory"), "{err}");
    let (code, _, err) = run_cli(&["count", "--max-memory", "lots"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-memory"), "{err}");
}

/// Parameters are checked before any work: each case exits with code 2, names its flag, and
/// never panics, aborts or hangs.
#[test]
fn unusable_parameters_are_refused_before_the_work() {
    let identical = temp(
        "identical.json",
        r#"{"points": [[1, 2], [1, 2], [1, 2], [1, 2]]}"#,
    );
    let collinear = temp(
        "collinear.json",
        r#"{"points": [[0, 0], [1, 1], [2, 2], [3, 3]]}"#,
    );
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["experiment", "hanin-rolnick", "--bias-std", "nan"],
            &["--bias-std"],
        ),
        (
            vec!["experiment", "hanin-rolnick", "--bias-std", "-1"],
            &["--bias-std"],
        ),
        (
            vec!["experiment", "hanin-rolnick", "--planes", "10000000000"],
            &["--planes"],
        ),
        (
            vec!["experiment", "hanin-rolnick", "--widths", "100000"],
            &["--widths"],
        ),
        (
            vec!["experiment", "hanin-rolnick", "--data", &identical],
            &["--data", "identical"],
        ),
        (
            vec!["experiment", "hanin-rolnick", "--data", &collinear],
            &["--data", "one line"],
        ),
        (
            vec![
                "init-stats",
                "--widths",
                "2,16",
                "--samples",
                "1000000000000",
            ],
            &["--samples", "GiB"],
        ),
        (
            vec![
                "init-stats",
                "--widths",
                "2,4294967296,4294967296",
                "--samples",
                "10",
            ],
            &["--samples/--widths"],
        ),
        (
            vec!["count", "--png", "x.png", "--size", "4294967295"],
            &["--size"],
        ),
        (
            vec!["count", "--svg", "x.svg", "--size", "100000"],
            &["--size"],
        ),
        (vec!["count", "--threads", "1000000"], &["--threads"]),
        (
            vec!["init-stats", "--widths", "2,16", "--threads", "1000000"],
            &["--threads"],
        ),
    ];
    for (args, needles) in cases {
        let (code, _, err) = run_cli(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        for n in needles {
            assert!(
                err.contains(n),
                "{args:?}: stderr does not name {n:?}: {err}"
            );
        }
    }
}

/// Ctrl-C (SIGINT) stops a long count within a second or two: the report says what was found
/// (`complete: false`, `stopped_by: interrupted`) and the exit code is 130.
#[test]
#[cfg(unix)]
fn ctrl_c_stops_a_long_count_cleanly() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    // A wide random network: hundreds of thousands of regions, seconds of work.
    let net = crate::support::random_float_net_with_widths(5, &[1024, 1024]);
    let mut layers = Vec::new();
    for l in &net.layers {
        let w: Vec<Vec<f64>> = (0..l.n_out)
            .map(|i| l.weight.row(i).vals.iter().map(|x| x.approx()).collect())
            .collect();
        let b: Vec<f64> = l.bias.iter().map(|x| x.approx()).collect();
        layers.push(serde_json::json!({"weight": w, "bias": b}));
    }
    let path = temp(
        "wide.json",
        &serde_json::json!({"layers": layers}).to_string(),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_relu-regions"))
        .args(["count", &path, "--json", "--no-linear"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let waited = sent.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(waited < Duration::from_secs(5), "took {waited:?} to stop");
    let v = json_of(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["complete"], false, "{v}");
    assert_eq!(v["stopped_by"], "interrupted", "{v}");
    assert!(err.contains("Ctrl-C"), "{err}");
}
