//! ONNX models and version-2 network files: every fixture of `fixtures/onnx` counted by the
//! engines against the count of an independent exact oracle (`fixtures/onnx/oracle.py`, Python
//! with exact rationals, written from the ONNX operator definitions; its counts are in
//! `expected.json`), certified, with the planar and lp engines agreeing; bad models refused with
//! the node named.

use crate::support::run_cli;
use relu_regions::certificate::{partition_file, verify};
use relu_regions::engine::lp::enumerate_lp;
use relu_regions::onnx::{read, ImportOptions};
use relu_regions::{
    enumerate, EngineChoice, EnumerateConfig, Network, NoProgress, Restricted, Slice,
};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/onnx")
}

fn model(name: &str) -> Network {
    let path = dir().join(name);
    let bytes = std::fs::read(&path).unwrap();
    let load = |loc: &str| std::fs::read(dir().join(loc));
    read(&bytes, name, &load, &ImportOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn slice(net: &Network, name: &str) -> Slice {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    Slice::from_json(&text, name, net.input_dim()).unwrap()
}

/// The regions of `net` on `slice`: cells merged by argmax where the network max-pools.
fn regions(net: &Network, slice: &Slice, lp: bool) -> (usize, Restricted) {
    let r = Restricted::new(net, slice).unwrap();
    let cfg = EnumerateConfig {
        engine: if lp {
            EngineChoice::Lp
        } else {
            EngineChoice::Planar
        },
        ..EnumerateConfig::default()
    };
    let patterns: Vec<Vec<u64>> = if lp {
        let p = enumerate_lp(&r, &slice.domain, &cfg, &NoProgress).unwrap();
        assert!(p.certified && p.complete);
        p.regions.into_iter().map(|c| c.pattern).collect()
    } else {
        let p = enumerate(&r, &slice.domain, &cfg, &NoProgress).unwrap();
        assert!(p.certified && p.complete);
        p.regions.iter().map(|c| c.pattern.to_vec()).collect()
    };
    let count = match r.regions_of(patterns.iter().map(Vec::as_slice)) {
        Some((_, n)) => n,
        None => patterns.len(),
    };
    (count, r)
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join("expected.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

#[test]
fn every_fixture_matches_the_oracle_with_both_engines() {
    for case in cases() {
        let (m, s) = (
            case["model"].as_str().unwrap(),
            case["slice"].as_str().unwrap(),
        );
        let expected = case["regions"].as_u64().unwrap() as usize;
        let net = model(m);
        let sl = slice(&net, s);
        let (planar, _) = regions(&net, &sl, false);
        assert_eq!(planar, expected, "{m} on {s}: planar engine");
        // The lp engine on the smaller cases (it is the slow path for d ≤ 2).
        if expected <= 900 {
            let (lp, _) = regions(&net, &sl, true);
            assert_eq!(lp, expected, "{m} on {s}: lp engine");
        }
    }
}

#[test]
fn onnx_partitions_pass_the_certificate() {
    for (m, s) in [
        ("residual-mlp.onnx", "identity-2d.json"),
        ("leaky-mlp.onnx", "identity-2d.json"),
        ("clip-mlp.onnx", "identity-2d.json"),
        ("maxpool-mlp.onnx", "identity-2d.json"),
        ("cnn-1d.onnx", "cnn-1d-plane.json"),
        ("cnn-small.onnx", "cnn-small-segment.json"),
    ] {
        let net = model(m);
        let sl = slice(&net, s);
        let r = Restricted::new(&net, &sl).unwrap();
        let p = enumerate(&r, &sl.domain, &EnumerateConfig::default(), &NoProgress).unwrap();
        let cells = verify(&r, &sl.domain, &partition_file(&p))
            .unwrap_or_else(|e| panic!("{m}: certificate rejected: {e}"));
        assert_eq!(cells, p.regions.len());
        // A tampered pattern is caught.
        let mut file = partition_file(&p);
        let flipped: String = file.regions[0]
            .pattern
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    if c == '0' {
                        '1'
                    } else {
                        '0'
                    }
                } else {
                    c
                }
            })
            .collect();
        file.regions[0].pattern = flipped;
        assert!(
            verify(&r, &sl.domain, &file).is_err(),
            "{m}: a flipped bit passed"
        );
    }
}

/// The legacy (Gemm) and dynamo (MatMul + Add, external data) exports of the same version-1
/// network give its JSON count; a version-2 file of the same layers too.
#[test]
fn exporter_styles_and_version_two_agree_with_the_json_network() {
    let json = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/nets/default-2-16-16-16.json"),
    )
    .unwrap();
    let v1 = Network::from_json(&json, "default").unwrap();
    let identity = Slice::identity(Slice::default_box(2));
    let (want, _) = regions(&v1, &identity, false);
    for m in ["mlp-gemm.onnx", "mlp-matmul.onnx"] {
        assert_eq!(regions(&model(m), &identity, false).0, want, "{m}");
    }
    // Version 2: the same layers with explicit ReLUs; LeakyReLU with slope 0 is ReLU.
    let layers: Vec<Value> = serde_json::from_str::<Value>(&json).unwrap()["layers"]
        .as_array()
        .unwrap()
        .clone();
    for act in [
        r#"{"type": "relu"}"#,
        r#"{"type": "leaky_relu", "negative_slope": 0}"#,
    ] {
        let mut out = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            out.push(
                serde_json::json!({"type": "linear", "weight": l["weight"], "bias": l["bias"]}),
            );
            if i + 1 < layers.len() {
                out.push(serde_json::from_str(act).unwrap());
            }
        }
        let text = serde_json::json!({"version": 2, "layers": out}).to_string();
        let v2 = Network::from_json(&text, "v2.json").unwrap();
        assert_eq!(regions(&v2, &identity, false).0, want, "{act}");
    }
}

/// Hand-lowered truths for version-2 layer kinds on two inputs (x, y) over [-1, 1]².
#[test]
fn version_two_layer_kinds_against_hand_counts() {
    let identity = Slice::identity(Slice::default_box(2));
    let count_shaped = |shape: &str, layers: &str| {
        let text = format!(r#"{{"version": 2, "input_shape": {shape}, "layers": {layers}}}"#);
        let net = Network::from_json(&text, "hand.json").unwrap_or_else(|e| panic!("{e}"));
        regions(&net, &identity, false).0
    };
    let count = |layers: &str| count_shaped("[2]", layers);
    // Clip(-0.5, 0.5) of x and y: three pieces each, 9 regions.
    assert_eq!(count(r#"[{"type": "clip", "min": -0.5, "max": 0.5}]"#), 9);
    // max(x, y) splits the square along the diagonal: 2 regions; a ReLU of x then adds x = 0
    // in both halves: 4.
    assert_eq!(
        count_shaped("[1, 2]", r#"[{"type": "maxpool1d", "kernel_size": 2}]"#),
        2
    );
    assert_eq!(
        count(
            r#"[{"type": "linear", "weight": [[1, 0], [0, 1], [1, 0]], "bias": [0, 0, 0]}, {"type": "relu"}]"#
        ),
        4
    );
    // A residual block whose body is zero adds no boundary: relu(x + 0·…) on x, y → 4.
    assert_eq!(
        count(
            r#"[{"type": "residual", "body": [{"type": "linear", "weight": [[0, 0], [0, 0]], "bias": [0, 0]}, {"type": "relu"}, {"type": "linear", "weight": [[0, 0], [0, 0]], "bias": [0, 0]}]},
                {"type": "relu"}]"#
        ),
        4
    );
    // Average pooling of (x, y) then ReLU: one line x + y = 0, 2 regions.
    assert_eq!(
        count_shaped(
            "[1, 2]",
            r#"[{"type": "avgpool1d", "kernel_size": 2}, {"type": "relu"}]"#
        ),
        2
    );
}

#[test]
fn bad_models_are_refused_naming_the_place() {
    let cases: &[(&str, &[&str])] = &[
        ("bad-truncated.onnx", &["not a valid ONNX file"]),
        ("bad-missing-initializer.onnx", &["gemm1", "W_missing"]),
        (
            "bad-unsupported-op.onnx",
            &["act1", "Sigmoid", "not piecewise linear"],
        ),
        ("bad-shape-mismatch.onnx", &["gemm0", "columns"]),
        (
            "bad-missing-external.onnx",
            &["W0", "bad-missing-external.onnx.data"],
        ),
        ("bad-dynamic-shape.onnx", &["symbolic", "--input-shape"]),
    ];
    for (m, needles) in cases {
        let path = dir().join(m);
        let (code, _, err) = run_cli(&["count", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{m}: {err}");
        assert!(!err.contains("panicked"), "{m}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{m}: stderr does not name {n:?}: {err}");
        }
    }
    // The dynamic model counts once its shape is given.
    let path = dir().join("bad-dynamic-shape.onnx");
    let slice = dir().join("cnn-small-segment.json");
    let (code, out, err) = run_cli(&[
        "count",
        path.to_str().unwrap(),
        "--input-shape",
        "1,6,6",
        "--subspace",
        slice.to_str().unwrap(),
        "--json",
        "-q",
    ]);
    assert!(code == 0 || err.contains("slice"), "{err}");
    if code == 0 {
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(v["activation_regions"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn count_json_reports_the_architecture_and_cells() {
    let path = dir().join("maxpool-mlp.onnx");
    let slice = dir().join("identity-2d.json");
    let (code, out, err) = run_cli(&[
        "count",
        path.to_str().unwrap(),
        "--subspace",
        slice.to_str().unwrap(),
        "--json",
        "-q",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let arch: Vec<&str> = v["architecture"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(arch.iter().any(|a| a.starts_with("MaxPool")), "{arch:?}");
    assert!(v["cells"].as_u64().unwrap() > v["activation_regions"].as_u64().unwrap());
    assert!(
        v.get("bounds").is_none(),
        "classic bounds on a max-pool network: {v}"
    );
}

/// The engine's exact output map at each region's witness, against onnx's own reference
/// evaluator (a second implementation of every operator), when Python with `onnx` is here.
#[test]
fn output_maps_match_the_onnx_reference_evaluator() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import onnx.reference"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: python3 with the onnx package is not available");
        return;
    }
    for (m, s) in [
        ("cnn-small.onnx", "cnn-small-plane.json"),
        ("residual-mlp.onnx", "identity-2d.json"),
        ("leaky-mlp.onnx", "identity-2d.json"),
        ("clip-mlp.onnx", "identity-2d.json"),
        ("cnn-1d.onnx", "cnn-1d-plane.json"),
        ("mlp-matmul.onnx", "identity-2d.json"),
    ] {
        let net = model(m);
        let sl = slice(&net, s);
        let r = Restricted::new(&net, &sl).unwrap();
        let p = enumerate(&r, &sl.domain, &EnumerateConfig::default(), &NoProgress).unwrap();
        let points = p.exact_vertices();
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        for k in (0..p.regions.len()).step_by((p.regions.len() / 40).max(1)) {
            let t = p.region_witness(k, &points);
            let map = relu_regions::graph::exact_output_map(&r, p.regions.get(k).pattern);
            let tp = relu_regions::exact::ExactPoint::from_rationals(&t);
            // The map is over a common denominator; its value's sign and ratio are exact.
            let q = relu_regions::graph::output_denominator(&r);
            let y: Vec<f64> = map
                .iter()
                .map(|eq| {
                    let mut num = &eq.c * &tp.den;
                    for (a, x) in eq.a.iter().zip(&tp.num) {
                        num += a * x;
                    }
                    relu_regions::exact::number::ratio_to_f64(&num, &(&q * &tp.den))
                })
                .collect();
            let x: Vec<f64> = (0..net.input_dim())
                .map(|i| {
                    let mut v = sl.origin[i].clone();
                    for (b, tk) in sl.basis.iter().zip(&t) {
                        v += &b[i] * tk;
                    }
                    relu_regions::exact::number::to_f64(&v)
                })
                .collect();
            inputs.push(x);
            outputs.push(y);
        }
        let data = serde_json::json!({"inputs": inputs, "outputs": outputs}).to_string();
        let file = crate::support::temp_file("onnx", &format!("{m}.points.json"), &data);
        let script = dir().join("check_outputs.py");
        let out = std::process::Command::new("python3")
            .args([
                script.to_str().unwrap(),
                dir().join(m).to_str().unwrap(),
                &file,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{m}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Pass-through rows (the skips of a residual network, often exactly 0) do not hold up
/// re-anchoring; the re-anchored values are checked exactly, and the partition is the one
/// without re-anchoring.
#[test]
fn residual_networks_reanchor_past_their_pass_through_rows() {
    let net = model("residual-mlp.onnx");
    let sl = slice(&net, "identity-2d.json");
    let r = Restricted::new(&net, &sl).unwrap();
    let run = |reanchor: bool, check: bool| {
        let cfg = EnumerateConfig {
            reanchor,
            check_reanchored: check,
            ..EnumerateConfig::default()
        };
        enumerate(&r, &sl.domain, &cfg, &NoProgress).unwrap()
    };
    let checked = run(true, true);
    let exact = run(false, false);
    assert_eq!(checked.regions.len(), 798);
    let pats = |p: &relu_regions::Partition| {
        let mut v: Vec<Vec<u64>> = p.regions.iter().map(|c| c.pattern.to_vec()).collect();
        v.sort();
        v
    };
    assert_eq!(pats(&checked), pats(&exact));
    assert!(
        checked.exact_fallbacks <= exact.exact_fallbacks,
        "{} fallbacks with re-anchoring, {} without",
        checked.exact_fallbacks,
        exact.exact_fallbacks
    );
}
