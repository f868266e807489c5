//! The binary: bad input gives exit code 2 and a message naming the place (docs/guide.md), never a
//! panic; the default run prints a real count.

fn run(args: &[&str]) -> (i32, String, String) {
    crate::support::run_cli(args)
}

fn temp(name: &str, text: &str) -> String {
    crate::support::temp_file("cli", name, text)
}

const NET2: &str = r#"{"layers": [{"weight": [[1, 0], [0, 1]], "bias": [0, 0]}, {"weight": [[1, 1]], "bias": [0]}]}"#;

/// A bad input: exit code 2, no panic, and stderr mentions every `needle`.
fn check_bad(args: &[&str], needles: &[&str]) {
    let (code, _, err) = run(args);
    assert_eq!(code, 2, "args {args:?}: stderr {err}");
    assert!(!err.contains("panicked"), "args {args:?} panicked: {err}");
    for n in needles {
        assert!(
            err.contains(n),
            "args {args:?}: stderr does not name {n:?}: {err}"
        );
    }
}

#[test]
fn bad_network_files() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "truncated.json",
            r#"{"layers": [{"weight": [[1, 0]"#,
            &["truncated.json", "JSON"],
        ),
        (
            "nan.json",
            r#"{"layers": [{"weight": [[NaN]], "bias": [0]}]}"#,
            &["nan.json", "JSON"],
        ),
        (
            "nan-string.json",
            r#"{"layers": [{"weight": [["NaN", 1]], "bias": [0]}]}"#,
            &["nan-string.json", "layers[0].weight[0][0]"],
        ),
        (
            "inf.json",
            r#"{"layers": [{"weight": [[1e999, 1]], "bias": [0]}]}"#,
            &["inf.json"],
        ),
        (
            "shape.json",
            r#"{"layers": [{"weight": [[1, 0], [0, 1]], "bias": [0, 0]}, {"weight": [[1, 1, 1]], "bias": [0]}]}"#,
            &["layers[1].weight"],
        ),
        (
            "bias.json",
            r#"{"layers": [{"weight": [[1, 0], [0, 1]], "bias": [0]}]}"#,
            &["layers[0].bias"],
        ),
        (
            "ragged.json",
            r#"{"layers": [{"weight": [[1, 0], [0]], "bias": [0, 0]}]}"#,
            &["layers[0].weight[1]"],
        ),
        (
            "type.json",
            r#"{"layers": [{"type": "conv2d", "weight": [[1, 0]], "bias": [0]}]}"#,
            &["layers[0].type", "conv2d"],
        ),
        ("empty.json", r#"{"layers": []}"#, &["layers"]),
        ("notobj.json", r#"[1, 2]"#, &["notobj.json"]),
    ];
    for (name, text, needles) in cases {
        let path = temp(name, text);
        check_bad(&["count", &path], needles);
    }
    check_bad(
        &["count", "/nonexistent/net.json"],
        &["/nonexistent/net.json"],
    );
}

#[test]
fn bad_slices_and_flags() {
    let net = temp("net2.json", NET2);
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "len.json",
            r#"{"origin": [0, 0], "basis": [[1, 0, 0], [0, 1]]}"#,
            &["basis[0]"],
        ),
        (
            "rank.json",
            r#"{"origin": [0, 0], "basis": [[1, 2], [2, 4]]}"#,
            &["basis", "dependent"],
        ),
        (
            "emptybox.json",
            r#"{"origin": [0, 0], "basis": [[1, 0], [0, 1]], "box": [[1, 1], [0, 1]]}"#,
            &["box[0]"],
        ),
        (
            "inverted.json",
            r#"{"origin": [0, 0], "basis": [[1, 0], [0, 1]], "box": [[0, 1], [1, -1]]}"#,
            &["box[1]"],
        ),
        (
            "nonconvex.json",
            r#"{"origin": [0, 0], "basis": [[1, 0], [0, 1]], "polygon": [[0, 0], [2, 0], [1, 0.5], [2, 2], [0, 2]]}"#,
            &["polygon"],
        ),
        (
            "through.json",
            r#"{"through": [[0, 0], [1, 1], [2, 2]]}"#,
            &["through", "dependent"],
        ),
    ];
    for (name, text, needles) in cases {
        let path = temp(name, text);
        check_bad(&["count", &net, "--subspace", &path], needles);
    }
    check_bad(&["count", &net, "--box", "1:0,0:1"], &["--box"]);
    check_bad(&["count", &net, "--box", "0:1"], &["--box"]);
    check_bad(&["count", &net, "--box", "a:1,0:1"], &["--box"]);
    check_bad(
        &["count", &net, "--max-regions", "many"],
        &["--max-regions"],
    );
    // d = 3 is beyond the planar engine (until the lp engine lands).
    let net3 = temp(
        "net3.json",
        r#"{"layers": [{"weight": [[1, 0, 0]], "bias": [0]}, {"weight": [[1]], "bias": [0]}]}"#,
    );
    check_bad(&["count", &net3, "--engine", "planar"], &["3-D"]);
    let net5 = temp(
        "net5.json",
        r#"{"layers": [{"weight": [[1, 0, 0, 0, 0]], "bias": [0]}, {"weight": [[1]], "bias": [0]}]}"#,
    );
    check_bad(&["count", &net5], &["--subspace", "5-D"]);
}

#[test]
fn default_run_prints_a_real_count() {
    let (code, out, _) = run(&[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("activation regions") && out.contains("certified"),
        "{out}"
    );
    let (code, json, _) = run(&["count", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for key in [
        "activation_regions",
        "certified",
        "complete",
        "dim",
        "neurons",
        "widths",
        "domain_volume",
        "per_layer",
        "engine",
        "seconds",
        "vertices",
        "edges",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    // One time per completed layer, together no more than the run.
    let layer_seconds: Vec<f64> = v["layer_seconds"]
        .as_array()
        .expect("layer_seconds")
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    assert_eq!(
        layer_seconds.len(),
        v["per_layer"].as_array().unwrap().len()
    );
    assert!(layer_seconds.iter().all(|&t| t > 0.0));
    assert!(layer_seconds.iter().sum::<f64>() <= v["seconds"].as_f64().unwrap());
    assert!(out.contains("time per layer"), "{out}");
    let linear = v["linear_regions"]
        .as_u64()
        .expect("linear regions computed");
    assert!(linear <= v["activation_regions"].as_u64().unwrap());
    assert!(v["adjacent_pairs"].as_u64().unwrap() > 0);
    let (_, json, _) = run(&["count", "--json", "--no-linear"]);
    let skipped: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        skipped.get("linear_regions").is_none(),
        "linear_regions is omitted when not computed, never guessed"
    );
    let first: usize = out
        .lines()
        .find(|l| l.contains("activation regions"))
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(v["activation_regions"].as_u64().unwrap() as usize, first);
}

#[test]
fn max_regions_reports_incomplete() {
    let (code, json, _) = run(&["count", "--json", "--max-regions", "100"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["complete"], serde_json::Value::Bool(false));
}

#[test]
fn verify_round_trip_and_tamper_exit_codes() {
    let net = temp("net-v.json", relu_regions::DEFAULT_NETWORK);
    let regions = temp("regions.json", "");
    let (code, _, err) = run(&["count", &net, "--regions", &regions, "-q"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(&["verify", &net, "--partition", &regions]);
    assert_eq!(code, 0, "{out}");
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&regions).unwrap()).unwrap();
    file["regions"].as_array_mut().unwrap().remove(0);
    std::fs::write(&regions, file.to_string()).unwrap();
    let (code, out, _) = run(&["verify", &net, "--partition", &regions]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REJECTED"));
}

#[test]
fn auto_engine_runs_lp_for_three_dimensional_slices() {
    let net3 = temp(
        "octants.json",
        r#"{"layers": [{"weight": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "bias": [0, 0, 0]}, {"weight": [[1, 1, 1]], "bias": [0]}]}"#,
    );
    let (code, json, err) = run(&["count", &net3, "--json", "-q"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["engine"], "lp");
    assert_eq!(v["activation_regions"], 8);
    assert_eq!(v["certified"], true);
    assert!(v["lp_solves"].as_u64().is_some());
    // The same 2-D count from both engines, through the binary.
    let (_, planar, _) = run(&["count", "--json", "-q", "--no-linear"]);
    let (_, lp, _) = run(&["count", "--json", "-q", "--engine", "lp"]);
    let (p, l): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&planar).unwrap(),
        serde_json::from_str(&lp).unwrap(),
    );
    assert_eq!(p["activation_regions"], l["activation_regions"]);
    assert_eq!(p["per_layer"], l["per_layer"]);
    // The lp engine's regions file verifies through the binary, its graph is written; past 4-D
    // there are no exact vertices to write.
    let regions = std::env::temp_dir().join(format!("rr-octants-{}.json", std::process::id()));
    let regions = regions.to_string_lossy().to_string();
    let (code, _, err) = run(&["count", &net3, "--regions", &regions, "-q"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(&["verify", &net3, "--partition", &regions]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verified: 8 regions"), "{out}");
    // The octants' graph: each octant meets three others across a quarter plane.
    let graph = regions.replace(".json", "-graph.json");
    let (code, json, err) = run(&["count", &net3, "--graph", &graph, "--json", "-q"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["adjacent_pairs"], 12);
    assert_eq!(v["linear_regions"], 8);
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&graph).unwrap()).unwrap();
    assert_eq!(g["edges"].as_array().unwrap().len(), 12);
    // Pictures of 3-D partitions are cross-sections: z = 1/2 cuts the octants in 4 squares.
    let svg = regions.replace(".json", ".svg");
    let (code, _, err) = run(&["count", &net3, "--section", "z=1/2", "--svg", &svg, "-q"]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(text.matches("<polygon").count(), 4, "{text}");
    check_bad(&["count", &net3, "--svg", "/tmp/never.svg"], &["--section"]);
    check_bad(
        &["count", &net3, "--section", "z=0"],
        &["--section", "--svg"],
    );
    check_bad(
        &[
            "count",
            &net3,
            "--section",
            "z=3",
            "--svg",
            "/tmp/never.svg",
        ],
        &["--section", "outside"],
    );
    // The mesh file of the octants: 8 cubes of 6 faces; only .ply/.vtk, only 3-D.
    let mesh = regions.replace(".json", ".vtk");
    let (code, _, err) = run(&["count", &net3, "--mesh", &mesh, "-q"]);
    assert_eq!(code, 0, "{err}");
    let vtk = std::fs::read_to_string(&mesh).unwrap();
    assert!(vtk.contains("POLYGONS 48 240"), "{vtk}");
    assert!(vtk.contains("SCALARS linear_region"));
    check_bad(
        &["count", &net3, "--mesh", "/tmp/never.obj"],
        &["--mesh", ".ply or .vtk"],
    );
    check_bad(&["count", "--mesh", "/tmp/never.ply"], &["--mesh", "2-D"]);
    check_bad(
        &[
            "count",
            &net3,
            "--mesh",
            "/tmp/never.ply",
            "--mesh-shrink",
            "0",
        ],
        &["--mesh-shrink"],
    );
    let net5 = temp(
        "five.json",
        r#"{"layers": [{"weight": [[1, 0, 0, 0, 1]], "bias": [0]}, {"weight": [[1]], "bias": [0]}]}"#,
    );
    let slice5 = temp(
        "five-slice.json",
        r#"{"origin": [0, 0, 0, 0, 0], "basis": [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]}"#,
    );
    // Past 4-D the file lists facets and witnesses only: verify refuses to certify it.
    let five = regions.replace(".json", "-5d.json");
    let args = [
        "count",
        &net5,
        "--subspace",
        &slice5,
        "--regions",
        &five,
        "-q",
    ];
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cannot certify"), "{err}");
    let f: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&five).unwrap()).unwrap();
    assert_eq!(f["regions"].as_array().unwrap().len(), 2);
    assert!(f["regions"][0]["facets"].as_array().unwrap().len() >= 6);
    let (code, out, _) = run(&["verify", &net5, "--partition", &five]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no exact vertices"), "{out}");
}

#[test]
fn box_values_may_start_with_a_minus_sign() {
    let net = temp("net-box.json", NET2);
    let (code, json, err) = run(&["count", &net, "--box", "-1:1,-2:1", "--json", "-q"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["activation_regions"], 4);
    assert_eq!(v["domain_volume_exact"], "6");
}

#[test]
fn repeat_reports_the_median_and_the_first_run_with_the_same_count() {
    let (code, once, _) = run(&["count", "--json", "-q"]);
    assert_eq!(code, 0);
    let (code, thrice, _) = run(&["count", "--json", "-q", "--repeat", "3"]);
    assert_eq!(code, 0);
    let once: serde_json::Value = serde_json::from_str(&once).unwrap();
    let thrice: serde_json::Value = serde_json::from_str(&thrice).unwrap();
    assert_eq!(once["activation_regions"], thrice["activation_regions"]);
    assert!(once.get("seconds_first").is_none());
    assert!(thrice["seconds_first"].as_f64().unwrap() > 0.0);
    let (code, _, err) = run(&["count", "--repeat", "0"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["count", "--engine", "lp", "--repeat", "2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--repeat"), "{err}");
}
