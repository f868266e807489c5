//! Monte Carlo module: worked values (docs/experiments.md), reproducibility across thread counts,
//! CLI contract.
//!
//! Statistical checks go through [`check`]: the Monte Carlo mean must lie within 5 of its own
//! standard errors of the exact value, and the band must be narrow enough to tell the exact value
//! from a plausible wrong one (each check names its decoy). Seeds are fixed, so a pass is a pass
//! forever; the 5-sigma band only makes the choice of seed harmless.

use std::process::Command;

use relu_regions::init_stats::{
    simulate, sweeps, Architecture, Branch, ConvShape, EtaSchedule, Experiment, Init, Preset,
    Sampler,
};

/// Which Monte Carlo mean to test.
#[derive(Clone, Copy, Debug)]
enum Q {
    /// E[M_j]
    Mean(usize),
    /// E[M_j²]
    Second(usize),
    /// E[Var_emp]
    VarEmp,
}

/// Simulate `exp` and assert that the sample mean of `q` is within 5 standard errors of `want`,
/// while `decoy` (a value a wrong formula would give) is more than 5 standard errors away.
fn check(label: &str, exp: &Experiment, q: Q, want: f64, decoy: f64) {
    let mo = simulate(exp).expect("valid experiment");
    let w = match q {
        Q::Mean(j) => mo.m[j],
        Q::Second(j) => mo.m2[j],
        Q::VarEmp => mo.var_emp,
    };
    let (mean, se) = (w.mean, w.se());
    assert!(
        (mean - want).abs() <= 5.0 * se,
        "{label}: {q:?} = {mean} ± {se} (se) is not within 5 se of {want}"
    );
    assert!(
        (mean - decoy).abs() > 5.0 * se,
        "{label}: {q:?} = {mean} ± {se} cannot tell {want} from the decoy {decoy}; add samples"
    );
}

fn dense(widths: &[usize], init: &str) -> Experiment {
    Experiment::new(
        Architecture::dense(widths.to_vec()).unwrap(),
        init.parse::<Init>().unwrap(),
    )
}

#[test]
fn spec_worked_values_he_gaussian_2_16_16_16() {
    let exp = dense(&[2, 16, 16, 16], "he-normal")
        .with_samples(20_000)
        .with_seed(1);
    // E[M_3] = M_0 = 1; decoy: LeCun's halving per layer is far, so use a 10% error.
    check("He E[M_3]", &exp, Q::Mean(3), 1.0, 1.1);
    // E[M_3²] = (1 + 5/16)³ = 2.26099; decoy: the orthogonal-like (1 + 3/16)³.
    check(
        "He E[M_3²]",
        &exp,
        Q::Second(3),
        2.26099,
        (1.0f64 + 3.0 / 16.0).powi(3),
    );
    // E[Var_emp] = 0.21077; decoy: 0.25.
    check("He E[Var_emp]", &exp, Q::VarEmp, 0.21077, 0.25);
    // With j = 0 included: (1/16)·Σ_{j=0..3} (2j − 3)·E[M_j²] = 0.26207; decoy: the value without.
    let r = 21.0 / 16.0;
    let want = (-3.0 - r + r * r + 3.0 * r * r * r) / 16.0;
    let exp = exp.with_include_input(true);
    check("He E[Var_emp] with j = 0", &exp, Q::VarEmp, want, 0.21077);
}

#[test]
fn preactivation_sampler_matches_the_same_worked_values_tightly() {
    // The exact-law shortcut is cheap enough for 10⁵ samples even in a debug build; the band is
    // then ~4 times narrower than the weight sampler's above.
    let exp = dense(&[2, 16, 16, 16], "he-normal")
        .with_samples(100_000)
        .with_seed(12)
        .with_sampler(Sampler::Preactivations);
    check("He E[M_3], pre-activations", &exp, Q::Mean(3), 1.0, 1.03);
    check(
        "He E[M_3²], pre-activations",
        &exp,
        Q::Second(3),
        2.26099,
        2.4,
    );
    check(
        "He E[Var_emp], pre-activations",
        &exp,
        Q::VarEmp,
        0.21077,
        0.225,
    );
    // Orthogonal: a uniform point on the sphere, same exact (1 + 3/(n + 2))^L.
    let exp = dense(&[16; 4], "orthogonal")
        .with_samples(100_000)
        .with_seed(13)
        .with_sampler(Sampler::Preactivations);
    check(
        "orthogonal E[M_3²], pre-activations",
        &exp,
        Q::Second(3),
        (1.0f64 + 3.0 / 18.0).powi(3),
        1.5,
    );
    // Where the shortcut is not exact, it is refused.
    let uniform = dense(&[2, 4], "he-uniform").with_sampler(Sampler::Preactivations);
    assert!(uniform.run().is_err());
    let conv = Experiment::new(
        Architecture::conv(ConvShape::D1 { len: 4 }, vec![1, 2], 3).unwrap(),
        Init::HE_NORMAL,
    )
    .with_sampler(Sampler::Preactivations);
    assert!(conv.run().is_err());
}

#[test]
fn c_equal_one_halves_the_mean_every_layer() {
    let exp = dense(&[4, 8, 8, 8, 8], "c=1")
        .with_samples(8000)
        .with_seed(2);
    check(
        "c=1 E[M_4]",
        &exp,
        Q::Mean(4),
        0.5f64.powi(4),
        0.5f64.powi(3),
    );
    check("c=1 E[M_1]", &exp, Q::Mean(1), 0.5, 0.55);
}

#[test]
fn gaussian_biases_follow_the_closed_forms() {
    // c = 2, σ_b² = 0.5, M_0 = 1: E[M_2] = 1 + 0.25·2 = 1.5;
    // E[M_1²] = (1 + 5/10)/4 · (2 + 0.5)² = 2.34375.
    let exp = dense(&[3, 10, 10], "he-normal")
        .with_bias_var(0.5)
        .with_samples(20_000)
        .with_seed(3);
    check("bias E[M_2]", &exp, Q::Mean(2), 1.5, 1.0);
    check(
        "bias E[M_1²]",
        &exp,
        Q::Second(1),
        2.34375,
        2.5 * 2.5 / 4.0 * 1.5 * 1.1,
    );
}

#[test]
fn uniform_weights_first_layer_second_moment_uses_the_kurtosis() {
    // x = (1, 1): ρ = 1/2, κ = −1.2: E[M_1²] = 1 + (5 − 1.2)/16 = 1.2375; decoy 1 + 5/16.
    let exp = dense(&[2, 16], "he-uniform")
        .with_samples(40_000)
        .with_seed(4);
    check("uniform E[M_1²]", &exp, Q::Second(1), 1.2375, 1.3125);
}

#[test]
fn residual_linear_branch_closed_form() {
    // n = 16, v = 1, η = 1/ℓ, L = 6: E[M_6]/M_0 = Π (1 + 1/ℓ²) = 3.1547; decoy: η = 1/√L
    // would give (1 + 1/6)^6 = 2.52, and an η (not η²) law would blow up far more.
    let arch =
        Architecture::residual(&[16; 7], Branch::Linear, EtaSchedule::InverseLayer, 1.0).unwrap();
    let exp = Experiment::new(arch, Init::HE_NORMAL)
        .with_samples(8000)
        .with_seed(5);
    check("resnet E[M_6]", &exp, Q::Mean(6), 3.1547, 2.52);
}

#[test]
fn relu_branch_grows_with_sum_of_eta() {
    // No closed form: check the qualitative law. Σ η = ∞ (η = 1) grows much faster than
    // Σ η < ∞ (η = 0.5^ℓ), which stays bounded.
    let run = |eta| {
        let arch = Architecture::residual(&[16; 21], Branch::Relu, eta, 1.0).unwrap();
        let r = Experiment::new(arch, Init::HE_NORMAL)
            .with_samples(200)
            .with_seed(6)
            .run()
            .unwrap();
        assert_eq!(
            r.layers[20].pred_mean_m, None,
            "no closed form for a ReLU branch"
        );
        r.layers[20].mean_m / r.m0
    };
    let constant = run(EtaSchedule::Constant(1.0));
    let geometric = run(EtaSchedule::Geometric(0.5));
    assert!(constant > 1e3, "η = 1: E[M_20]/M_0 = {constant}");
    assert!(geometric < 3.0, "η = 0.5^ℓ: E[M_20]/M_0 = {geometric}");
}

#[test]
fn orthogonal_relative_variance_three_over_n() {
    // Square orthogonal layer, zero biases: z = gQh is uniform on the sphere of radius g||h||
    // with independent fair signs, so E[M_j² | h] = E[M_j | h]²·(1 + 3/(n + 2)) exactly; the
    // usual "≈ 3/n" is its large-n form. So the exact product (1 + 3/18)^L is tested with
    // a 5-sigma band, and the Gaussian value (1 + 5/16)^L is the decoy it must exclude.
    let exp = dense(&[16; 5], "orthogonal")
        .with_samples(8000)
        .with_seed(7);
    check("orthogonal E[M_4]", &exp, Q::Mean(4), 1.0, 1.1);
    check(
        "orthogonal E[M_4²]",
        &exp,
        Q::Second(4),
        (1.0f64 + 3.0 / 18.0).powi(4),
        (1.0f64 + 5.0 / 16.0).powi(4),
    );
    // The relative variance per layer is close to 3/n: within 12% at n = 16 (3/18 vs 3/16).
    let r = exp.run().unwrap();
    let l = &r.layers[1];
    let rel = l.var_m / (l.mean_m * l.mean_m);
    assert!(
        (rel - 3.0 / 16.0).abs() < 0.12 * 3.0 / 16.0 + 5.0 * 0.01,
        "rel var {rel}"
    );
}

#[test]
fn rectangular_orthogonal_layers() {
    // Gain √2. Narrowing 16 → 8 (orthonormal rows): E[M_1] = (g²/2)·M_0 = 1 and, with m = 16,
    // E[M_1²] = (n + 5)·m/(n·(m + 2)) = 13·16/(8·18). Widening 4 → 16 (orthonormal columns):
    // ||Qh|| = ||h|| spread over 16 units, E[M_1] = (g²/2)·(4/16) = 1/4, and
    // E[M_1²] = (1/4)²·21/18.
    let narrow = dense(&[16, 8], "orthogonal")
        .with_samples(20_000)
        .with_seed(14);
    check("orthogonal 16→8 E[M_1]", &narrow, Q::Mean(1), 1.0, 1.05);
    check(
        "orthogonal 16→8 E[M_1²]",
        &narrow,
        Q::Second(1),
        13.0 * 16.0 / 144.0,
        1.0 + 5.0 / 8.0,
    );
    let wide = dense(&[4, 16], "orthogonal")
        .with_samples(20_000)
        .with_seed(15);
    check("orthogonal 4→16 E[M_1]", &wide, Q::Mean(1), 0.25, 0.26);
    check(
        "orthogonal 4→16 E[M_1²]",
        &wide,
        Q::Second(1),
        0.0625 * 21.0 / 18.0,
        0.0625 * 1.2,
    );
}

#[test]
fn glorot_and_pytorch_follow_the_mean_law_layer_by_layer() {
    // Glorot: c_j = 2·n_in/(n_in + n_out) = 1/2, 9/8, 7/6 for widths 3, 9, 7, 5.
    let want = 0.25 * (9.0 / 16.0) * (7.0 / 12.0);
    let exp = dense(&[3, 9, 7, 5], "glorot")
        .with_samples(20_000)
        .with_seed(16);
    check("glorot E[M_3]", &exp, Q::Mean(3), want, want * 1.1);
    // PyTorch default: uniform, c = 1/3, so E[M_2] = (1/6)² M_0.
    let exp = dense(&[4, 8, 8], "pytorch")
        .with_samples(20_000)
        .with_seed(17);
    check("pytorch E[M_2]", &exp, Q::Mean(2), 1.0 / 36.0, 1.0 / 32.0);
}

#[test]
fn convolutions_follow_the_dense_mean_law() {
    let one_d = Architecture::conv(ConvShape::D1 { len: 12 }, vec![2, 4, 4, 4], 3).unwrap();
    let exp = Experiment::new(one_d, "c=1".parse().unwrap())
        .with_samples(4000)
        .with_seed(8);
    check("conv1d c=1 E[M_3]", &exp, Q::Mean(3), 0.125, 0.25);
    let two_d = Architecture::conv(
        ConvShape::D2 {
            height: 4,
            width: 5,
        },
        vec![1, 3, 3],
        3,
    )
    .unwrap();
    let exp = Experiment::new(two_d, Init::HE_NORMAL)
        .with_samples(4000)
        .with_seed(9);
    check("conv2d He E[M_2]", &exp, Q::Mean(2), 1.0, 1.2);
}

fn json_at_threads(exp: &Experiment, threads: usize) -> String {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| exp.run().unwrap().to_json())
}

#[test]
fn identical_output_at_one_and_two_threads() {
    let cases = [
        dense(&[3, 9, 7, 5], "glorot").with_bias_var(0.1),
        dense(&[5, 6, 4], "orthogonal"),
        Experiment::new(
            Architecture::residual(&[8; 5], Branch::Relu, EtaSchedule::InverseSqrtDepth, 2.0)
                .unwrap(),
            "he-uniform".parse().unwrap(),
        ),
        Experiment::new(
            Architecture::conv(ConvShape::D1 { len: 6 }, vec![1, 2, 2], 3).unwrap(),
            Init::HE_NORMAL,
        ),
        dense(&[4, 7, 7], "orthogonal").with_sampler(Sampler::Preactivations),
    ];
    for exp in cases {
        // 100 samples = 4 chunks of unequal work; trajectories checked too.
        let exp = exp.with_samples(100).with_seed(11).with_trajectories(5);
        let one = json_at_threads(&exp, 1);
        let two = json_at_threads(&exp, 2);
        assert_eq!(one, two, "{}", exp.arch.describe());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let t1 = exp.run().unwrap().trajectories;
        let t2 = pool.install(|| exp.run().unwrap().trajectories);
        assert_eq!(t1, t2);
    }
}

#[test]
fn seeds_change_the_numbers_and_repeat_them() {
    let a = dense(&[2, 8, 8], "he-normal").with_samples(50);
    let b = a.clone().with_seed(1);
    assert_eq!(a.run().unwrap().to_json(), a.run().unwrap().to_json());
    assert_ne!(
        a.run().unwrap().layers[2].mean_m,
        b.run().unwrap().layers[2].mean_m
    );
}

#[test]
fn preset_runs_and_draws() {
    let s = sweeps::run(Preset::Resnet, Some(20), 0, None).unwrap();
    assert_eq!(s.rows.len(), 16);
    assert!(s.rows.iter().all(|r| r.len() == s.columns.len()));
    assert!(s.svg.starts_with("<svg") && s.svg.contains("<path"));
    assert!(s.to_markdown().contains("| linear | 1/l | 10 |"));
}

// ---- command line ----

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_relu-regions"))
        .args(args)
        .output()
        .expect("run relu-regions");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_bad_widths_exit_2_naming_the_flag() {
    for bad in ["", "2,0,3", "2,x", "7", "2,-3"] {
        let (code, _, err) = cli(&["init-stats", "--widths", bad, "--samples", "10"]);
        assert_eq!(code, 2, "--widths {bad:?}: {err}");
        assert!(err.contains("--widths"), "--widths {bad:?}: {err}");
    }
    let (code, _, err) = cli(&["init-stats", "--samples", "10"]);
    assert_eq!(code, 2);
    assert!(err.contains("--widths"), "{err}");
    let (code, _, err) = cli(&["init-stats", "--widths", "2,4", "--input", "1,2,3"]);
    assert_eq!(code, 2);
    assert!(err.contains("--input"), "{err}");
    let (code, _, err) = cli(&["init-stats", "--widths", "4,4,5", "--resnet"]);
    assert_eq!(code, 2);
    assert!(err.contains("--widths"), "{err}");
    let (code, _, err) = cli(&["init-stats", "--widths", "2,4", "--init", "c=abc"]);
    assert_eq!(code, 2);
    assert!(err.contains("--init"), "{err}");
    let (code, _, err) = cli(&["init-stats", "--widths", "2,4", "--samples", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("--samples"), "{err}");
    let (code, _, err) = cli(&[
        "init-stats",
        "--widths",
        "2,4",
        "--conv1d",
        "8",
        "--sampler",
        "preactivations",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--sampler"), "{err}");
}

#[test]
fn cli_json_has_the_documented_keys_and_nulls() {
    let (code, out, err) = cli(&[
        "init-stats",
        "--widths",
        "2,8,8",
        "--init",
        "he-uniform",
        "--samples",
        "64",
        "--seed",
        "3",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in [
        "beta",
        "samples",
        "seed",
        "var_emp_mean",
        "pred_var_emp",
        "layers",
        "fm1",
        "fm2",
    ] {
        assert!(v.get(key).is_some(), "missing top-level key {key}");
    }
    assert_eq!(v["samples"], 64);
    assert_eq!(v["seed"], 3);
    assert_eq!(v["beta"], 0.25);
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    for key in [
        "layer",
        "width",
        "mean_m",
        "mean_m2",
        "var_m",
        "ci95_mean_m",
        "ci95_mean_m2",
        "pred_mean_m",
        "pred_mean_m2",
    ] {
        assert!(layers[2].get(key).is_some(), "missing layer key {key}");
    }
    // Uniform weights: E[M_2²] depends on the random ρ_1, no closed form; the mean law is exact.
    assert!(layers[2]["pred_mean_m2"].is_null());
    assert!(v["pred_var_emp"].is_null());
    assert_eq!(layers[2]["pred_mean_m"], 1.0);
    assert_eq!(layers[2]["ci95_mean_m"].as_array().unwrap().len(), 2);
}

#[test]
fn cli_threads_do_not_change_the_output() {
    let base = [
        "init-stats",
        "--widths",
        "3,6,6,6",
        "--samples",
        "80",
        "--json",
    ];
    let (c1, one, _) = cli(&[&base[..], &["--threads", "1"]].concat());
    let (c2, two, _) = cli(&[&base[..], &["--threads", "2"]].concat());
    assert_eq!((c1, c2), (0, 0));
    assert_eq!(one, two);
}

#[test]
fn cli_table_and_svg() {
    let dir = std::env::temp_dir().join(format!("relu-regions-mc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("m.svg");
    let (code, out, err) = cli(&[
        "init-stats",
        "--widths",
        "2,16,16,16",
        "--samples",
        "100",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("FM1:") && out.contains("FM2:") && out.contains("2.261"),
        "{out}"
    );
    let doc = std::fs::read_to_string(&svg).unwrap();
    assert!(doc.starts_with("<svg") && doc.matches("<path").count() >= 20);
    std::fs::remove_dir_all(&dir).unwrap();
}
