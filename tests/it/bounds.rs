//! Bounds (docs/guide.md#bounds): worked values, the Serra recursion against the literal sum,
//! Zaslavsky as an exact count in general position, every bound above the exact count, the
//! Hanin–Rolnick value.

use crate::support::*;
use num_bigint::BigUint;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use relu_regions::bounds::{bounds, bounds_for_slice, serra_upper, zaslavsky, Bounds};
use relu_regions::{Network, Slice};

/// Widths as docs/guide.md#bounds writes them: the input dimension d first, then n_1..n_L.
fn of(shape: &[usize]) -> Bounds {
    bounds(&shape[1..], shape[0], 1.0)
}

/// One worked value: `(shape, which bound, expected)`.
fn check(shape: &[usize], which: &str, expected: u64) {
    let b = of(shape);
    let got = match which {
        "serra" => b.serra_upper.clone(),
        "montufar" => b.montufar_upper.clone(),
        "zaslavsky" => b.zaslavsky.clone().expect("one hidden layer"),
        "trivial" => b.trivial.clone(),
        "one_dim_max" => b.one_dim_max.clone().expect("d = 1"),
        other => panic!("unknown bound {other}"),
    };
    assert_eq!(got, BigUint::from(expected), "{which} of {shape:?}");
}

#[test]
fn worked_values_of_spec_7() {
    let cases: &[(&[usize], &str, u64)] = &[
        (&[2, 16, 16, 16], "serra", 2_571_353),
        (&[3, 4, 4, 4], "serra", 1631),
        (&[3, 4, 4, 4], "montufar", 3375),
        (&[4, 3, 3, 3], "serra", 211),
        (&[2, 3, 3], "serra", 40),
        (&[2, 5], "zaslavsky", 16),
        (&[3, 2], "zaslavsky", 4),
        (&[2, 3, 3], "trivial", 64),
        (&[1, 3, 4], "one_dim_max", 20),
    ];
    for &(shape, which, expected) in cases {
        check(shape, which, expected);
    }
    let big = of(&[2, 200]);
    assert_eq!(big.trivial.to_string().len(), 61, "2^200 has 61 digits");
    assert!(of(&[2, 3, 3]).zaslavsky.is_none());
    assert!(of(&[2, 3]).one_dim_max.is_none());
}

/// The literal Serra sum over (j_1..j_L), for small shapes.
fn serra_literal(widths: &[usize], d: usize) -> u128 {
    fn c(n: usize, k: usize) -> u128 {
        if k > n {
            return 0;
        }
        (0..k).fold(1u128, |acc, i| acc * (n - i) as u128 / (i + 1) as u128)
    }
    fn rec(widths: &[usize], cap: usize) -> u128 {
        let Some((&n, rest)) = widths.split_first() else {
            return 1;
        };
        (0..=cap.min(n))
            .map(|j| c(n, j) * rec(rest, cap.min(n - j)))
            .sum()
    }
    rec(widths, d)
}

#[test]
fn serra_recursion_matches_the_literal_sum() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for case in 0..300 {
        let d = rng.random_range(1..=5usize);
        let depth = rng.random_range(1..=5usize);
        let widths: Vec<usize> = (0..depth).map(|_| rng.random_range(1..=9usize)).collect();
        assert_eq!(
            serra_upper(&widths, d),
            BigUint::from(serra_literal(&widths, d)),
            "case {case}: d = {d}, widths {widths:?}"
        );
    }
}

/// n random lines with small integer coefficients in general position (no two parallel, no
/// three through one point), and the box that holds all their crossings.
fn general_position_lines(seed: u64, n: usize) -> Option<(Vec<[i64; 3]>, Slice)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let lines: Vec<[i64; 3]> = (0..n)
        .map(|_| {
            [
                rng.random_range(-9..=9),
                rng.random_range(-9..=9),
                rng.random_range(-9..=9),
            ]
        })
        .collect();
    let mut crossings: Vec<[Q; 2]> = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let ([a1, b1, c1], [a2, b2, c2]) = (lines[i], lines[j]);
            let det = a1 * b2 - a2 * b1;
            if det == 0 {
                return None;
            }
            let p = [q(-c1 * b2 + c2 * b1, det), q(-a1 * c2 + a2 * c1, det)];
            if crossings.contains(&p) {
                return None;
            }
            crossings.push(p);
        }
    }
    let lo = crossings.iter().flatten().map(|x| x.floor()).min()? - qi(1);
    let hi = crossings.iter().flatten().map(|x| x.ceil()).max()? + qi(1);
    Some((
        lines,
        Slice::identity(vec![(lo.clone(), hi.clone()), (lo, hi)]),
    ))
}

#[test]
fn zaslavsky_is_the_exact_count_in_general_position() {
    let mut checked = 0;
    for seed in 0..60 {
        let n = 2 + seed as usize % 7;
        let Some((lines, slice)) = general_position_lines(seed + 1000, n) else {
            continue;
        };
        let rows: Vec<&[i64]> = lines.iter().map(|l| &l[..]).collect();
        let net = network(&[layer(&rows, 1)]);
        let exact = count_certified(&net, &slice);
        let b = bounds_for_slice(&net.hidden_widths(), &slice);
        assert_eq!(
            b.zaslavsky,
            Some(BigUint::from(exact)),
            "seed {seed}: {n} lines"
        );
        assert_eq!(zaslavsky(n, 2), BigUint::from(exact));
        checked += 1;
    }
    assert!(checked >= 25, "too few general-position samples: {checked}");
    // Three lines through one point are not in general position: one region fewer.
    let net = network(&[layer(&[&[1, 0, 0], &[0, 1, 0], &[1, 1, 0]], 1)]);
    assert_eq!(count_certified(&net, &square(-1, 1)), 6);
    assert_eq!(zaslavsky(3, 2), BigUint::from(7u32));
}

fn random_network(rng: &mut ChaCha8Rng, d: usize, widths: &[usize]) -> Network {
    let mut hidden = Vec::new();
    let mut n_in = d;
    for &n in widths {
        let rows: Vec<Vec<i64>> = (0..n)
            .map(|_| (0..=n_in).map(|_| rng.random_range(-6..=6)).collect())
            .collect();
        let rows: Vec<&[i64]> = rows.iter().map(|r| &r[..]).collect();
        hidden.push(layer(&rows, 4));
        n_in = n;
    }
    network(&hidden)
}

#[test]
fn every_bound_is_at_least_the_exact_count() {
    let mut rng = ChaCha8Rng::seed_from_u64(61);
    let mut tight = 0;
    for case in 0..120 {
        let d = 1 + case % 2;
        let depth = rng.random_range(1..=3usize);
        let widths: Vec<usize> = (0..depth).map(|_| rng.random_range(1..=5usize)).collect();
        let net = random_network(&mut rng, d, &widths);
        let slice = if d == 1 {
            interval(qi(-3), qi(3))
        } else {
            square(-3, 3)
        };
        let exact = BigUint::from(count_certified(&net, &slice));
        let b = bounds_for_slice(&widths, &slice);
        let mut all = vec![
            ("serra", &b.serra_upper),
            ("montufar", &b.montufar_upper),
            ("trivial", &b.trivial),
        ];
        if let Some(z) = &b.zaslavsky {
            all.push(("zaslavsky", z));
        }
        if let Some(m) = &b.one_dim_max {
            all.push(("one_dim_max", m));
        }
        for (name, bound) in all {
            assert!(
                &exact <= bound,
                "case {case}: d = {d}, widths {widths:?}: {name} = {bound} < exact {exact}"
            );
        }
        assert!(b.serra_upper <= b.montufar_upper, "case {case}");
        tight += usize::from(exact == b.best_upper());
    }
    assert!(
        tight > 0,
        "no case reached its bound: the bounds are not tested near equality"
    );
}

#[test]
fn hanin_rolnick_value_ratio_and_fitted_t() {
    // Hanin & Rolnick's setting: depth 3, width 32, d = 2: 96²/2 = 4608 per unit area.
    let b = bounds(&[32, 32, 32], 2, 1.0);
    assert_eq!(b.hanin_rolnick, 4608.0);
    let b = bounds(&[32, 32, 32], 2, 4.0).with_count(4608);
    assert_eq!(b.hr_ratio, Some(0.25));
    assert!((b.hr_fitted_t.unwrap() - 0.5).abs() < 1e-12);
    // d = 1: vol · N; d = 3: vol · N³/6.
    assert_eq!(bounds(&[5, 5], 1, 2.0).hanin_rolnick, 20.0);
    assert_eq!(bounds(&[3], 3, 1.0).hanin_rolnick, 4.5);
    // No neurons: no ratio.
    assert_eq!(bounds(&[], 2, 1.0).with_count(1).hr_ratio, None);
    // The volume is measured in input space: a basis of length 2 and 3 scales the area by 6.
    let text = r#"{"origin": [0, 0, 0], "basis": [[2, 0, 0], [0, 0, 3]], "box": [[0, 1], [0, 1]]}"#;
    let slice = Slice::from_json(text, "s.json", 3).unwrap();
    let b = bounds_for_slice(&[4], &slice);
    assert!((b.input_volume - 6.0).abs() < 1e-12, "{}", b.input_volume);
    assert!((b.hanin_rolnick - 48.0).abs() < 1e-9);
}

fn run(args: &[&str]) -> (i32, String, String) {
    crate::support::run_cli(args)
}

#[test]
fn count_json_and_bounds_command_carry_the_bounds() {
    let (code, out, err) = run(&["count", "--json", "-q", "--no-linear"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let b = &v["bounds"];
    assert_eq!(b["serra_upper"], "2571353");
    assert_eq!(b["montufar_upper"], "2571353");
    assert_eq!(b["trivial"], (1u64 << 48).to_string());
    assert!(
        b.get("zaslavsky").is_none(),
        "three hidden layers: no Zaslavsky"
    );
    assert_eq!(b["hanin_rolnick"], 4608.0);
    let count = v["activation_regions"].as_f64().unwrap();
    assert_eq!(b["hr_ratio"].as_f64().unwrap(), count / 4608.0);
    let t = b["hr_fitted_t"].as_f64().unwrap();
    assert!((t - (count * 2.0 / 4.0).sqrt() / 48.0).abs() < 1e-12);

    let (code, out, _) = run(&["count", "-q", "--no-linear"]);
    assert_eq!(code, 0);
    assert!(out.contains("Serra upper bound    2571353"), "{out}");

    let (code, out, err) = run(&["bounds", "--json", "--count"]);
    assert_eq!(code, 0, "{err}");
    let w: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(w["activation_regions"], v["activation_regions"]);
    assert_eq!(w["hr_ratio"], b["hr_ratio"]);
    let (code, out, _) = run(&["bounds", "--json"]);
    assert_eq!(code, 0);
    let w: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(w["hr_ratio"].is_null());

    let (code, _, err) = run(&["bounds", "--box", "1:0,0:1"]);
    assert_eq!(code, 2);
    assert!(err.contains("--box"), "{err}");
}

#[test]
fn hanin_rolnick_experiment_is_reproducible_at_any_thread_count() {
    use relu_regions::experiment::{hanin_rolnick, plane_through, HrConfig};
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/data/digits-100.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let data: Vec<Vec<f64>> = v["points"].as_array().unwrap()[..20]
        .iter()
        .map(|p| {
            p.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    let cfg = HrConfig {
        depths: vec![1, 2],
        widths: vec![4, 8],
        planes: 3,
        seed: 11,
        half_width: 2.0,
        ..HrConfig::default()
    };
    let run_with = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| hanin_rolnick(&data, &cfg).unwrap())
    };
    let (a, b) = (run_with(1), run_with(2));
    assert_eq!(a.rows.len(), 4);
    for (x, y) in a.rows.iter().zip(&b.rows) {
        assert_eq!(x.counts, y.counts, "depth {} width {}", x.depth, x.width);
        assert!(x.exact);
        for ((c, area), ratio) in x.counts.iter().zip(&x.areas).zip(&x.ratios) {
            assert!((area - 16.0).abs() < 1e-9, "window area {area}");
            let n2 = (x.neurons * x.neurons) as f64 / 2.0;
            assert!((ratio - *c as f64 / (area * n2)).abs() < 1e-12);
        }
    }
    let other = hanin_rolnick(
        &data,
        &HrConfig {
            seed: 12,
            ..cfg.clone()
        },
    )
    .unwrap();
    assert_ne!(
        a.rows.iter().map(|r| r.counts.clone()).collect::<Vec<_>>(),
        other
            .rows
            .iter()
            .map(|r| r.counts.clone())
            .collect::<Vec<_>>()
    );
    assert!(a.svg().starts_with("<svg"));
    assert!(a.rows.iter().all(|r| r.line_t_mean.is_none()));
    // Segments are drawn after the network and the plane: the counts do not change.
    let with_lines = hanin_rolnick(
        &data,
        &HrConfig {
            lines: 2,
            ..cfg.clone()
        },
    )
    .unwrap();
    for (x, y) in a.rows.iter().zip(&with_lines.rows) {
        assert_eq!(x.counts, y.counts);
        assert!(y.line_t_mean.unwrap() >= 0.0);
    }
    assert!(with_lines.table().contains("| 1-D T |"));
    // Collinear data points make no plane.
    assert!(plane_through(&[0.0, 0.0], &[1.0, 1.0], &[2.0, 2.0], 1.0).is_none());
    assert!(hanin_rolnick(&data[..2], &cfg).is_err());
}
