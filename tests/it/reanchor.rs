//! Re-anchoring (the float tier between the filtered sign test and big integers): on deep
//! networks with generic weights the float bounds drift, many vertices are re-anchored, each is
//! checked against its exact values, and the partition is the exact path's, vertex for vertex.
//! (These tests keep one bound per vertex, whose drift is what makes re-anchoring common; the
//! bounds per neuron, which deep networks use by default, must give the same partition.)

use crate::support::*;
use relu_regions::certificate::{partition_file, verify};
use relu_regions::{count_regions, EnumerateConfig, Restricted};

/// One bound per vertex (the drift these tests are about).
fn per_vertex() -> EnumerateConfig {
    EnumerateConfig {
        per_neuron_bounds_from: usize::MAX,
        ..EnumerateConfig::default()
    }
}

/// Counts with re-anchoring (each re-anchored vertex checked against its exact values), without,
/// and with bounds per neuron from the second layer (re-anchored vertices checked too): the same
/// decisions, so the same mesh in the same order. Returns the first.
fn agrees_with_the_exact_path(
    net: &relu_regions::Network,
    slice: &relu_regions::Slice,
    seed: u64,
) -> relu_regions::Partition {
    let checked = EnumerateConfig {
        check_reanchored: true,
        ..per_vertex()
    };
    let exact_only = EnumerateConfig {
        reanchor: false,
        ..per_vertex()
    };
    let per_neuron = EnumerateConfig {
        check_reanchored: true,
        per_neuron_bounds_from: 0,
        ..EnumerateConfig::default()
    };
    // Bounds through the layers' 2-norms alone (what wide dense layers use), and bounds per
    // neuron without them.
    let norms_alone = EnumerateConfig {
        norms_alone_from: 0,
        ..per_neuron.clone()
    };
    let per_neuron_only = EnumerateConfig {
        norm_bounds: false,
        ..per_neuron.clone()
    };
    let on = count_regions(net, slice, &checked).unwrap();
    assert!(on.complete && on.certified);
    for (other, what) in [
        (&exact_only, "exact path"),
        (&per_neuron, "bounds per neuron"),
        (&norms_alone, "bounds through norms alone"),
        (&per_neuron_only, "bounds per neuron without norms"),
    ] {
        let off = count_regions(net, slice, other).unwrap();
        if !other.reanchor {
            assert_eq!(off.reanchored, 0);
        }
        assert_eq!(on.per_layer, off.per_layer, "seed {seed}, {what}");
        assert_eq!(on.defs, off.defs, "seed {seed}, {what}: vertices");
        assert_eq!(on.regions.len(), off.regions.len(), "seed {seed}, {what}");
        for (a, b) in on.regions.iter().zip(off.regions.iter()) {
            assert_eq!(
                (a.verts, a.pattern),
                (b.verts, b.pattern),
                "seed {seed}, {what}"
            );
        }
    }
    on
}

/// The independent checker accepts the partition's regions file.
fn certificate_holds(
    net: &relu_regions::Network,
    slice: &relu_regions::Slice,
    p: &relu_regions::Partition,
    seed: u64,
) {
    let restricted = Restricted::new(net, slice).unwrap();
    let n = verify(&restricted, &slice.domain, &partition_file(p))
        .unwrap_or_else(|e| panic!("seed {seed}: certificate rejected: {e}"));
    assert_eq!(n, p.regions.len());
}

#[test]
fn deep_generic_networks_reanchor_and_agree_with_the_exact_path() {
    let mut reanchored = 0;
    for seed in 0..16 {
        let net = random_float_net(seed, 7, 12);
        let slice = square(-1, 1);
        let on = agrees_with_the_exact_path(&net, &slice, seed);
        if seed < 2 {
            // (The exact checker is slow on deep networks: two suffice.)
            certificate_holds(&net, &slice, &on, seed);
        }
        reanchored += on.reanchored;
    }
    assert!(
        reanchored >= 100,
        "only {reanchored} vertices were re-anchored"
    );
}

/// Re-anchored floats become rows of the next layer, so they must not depend on which face (and
/// thread) asked first: the whole partition (every region's vertices, boundaries and pattern,
/// every vertex's definition and floats) and the counters are the same at 1 and 2 threads, with
/// faces tested piece by piece, walked from 8 pieces on, and the first layer in two rounds.
#[test]
fn reanchored_floats_do_not_depend_on_threads() {
    for seed in [4u64, 9] {
        let net = random_float_net(seed, 7, 12);
        let slice = square(-1, 1);
        for (zone_walk_from, first_round_from) in [(usize::MAX, usize::MAX), (8, 1)] {
            let cfg = EnumerateConfig {
                zone_walk_from,
                first_round_from,
                ..per_vertex()
            };
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| count_regions(&net, &slice, &cfg).unwrap())
            };
            let (one, two) = (run(1), run(2));
            let case =
                format!("seed {seed}, walk from {zone_walk_from}, rounds from {first_round_from}");
            assert!(one.reanchored > 0, "{case}: nothing re-anchored");
            assert_eq!(
                (one.reanchored, one.exact_fallbacks),
                (two.reanchored, two.exact_fallbacks),
                "{case}"
            );
            let bits = |xy: &[f64]| xy.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&one.xy), bits(&two.xy), "{case}: vertex floats");
            assert_eq!(one.defs, two.defs, "{case}: vertex definitions");
            assert_eq!(one.regions.len(), two.regions.len(), "{case}: regions");
            for (a, b) in one.regions.iter().zip(two.regions.iter()) {
                assert_eq!(
                    (a.verts, a.lines, a.pattern),
                    (b.verts, b.lines, b.pattern),
                    "{case}: a region"
                );
            }
        }
    }
}

/// Layers that narrow and widen: value rows are overwritten in place while they fit, and moved
/// to new blocks when a layer is wider than their block's rows (or much narrower); every
/// partition is certified, both with and without re-anchoring.
#[test]
fn networks_that_narrow_and_widen_are_certified() {
    for (seed, widths) in [
        (1u64, vec![20usize, 3, 25, 2, 15, 35]),
        (2, vec![5, 40, 4, 32, 1, 10]),
        (3, vec![30, 30, 6, 6, 40]),
        (4, vec![1, 1, 33, 2]),
    ] {
        let net = random_float_net_with_widths(seed, &widths);
        let regions = count_certified(&net, &square(-2, 2));
        assert!(regions > 1, "seed {seed}: {regions} regions");
    }
}

/// The segment of the tests below: through two points of the plane, a little past both.
fn segment() -> relu_regions::Slice {
    relu_regions::Slice::from_json(
        r#"{"through": [[-1.0, -0.75], [1.0, 0.625]], "box": [[-0.25, 1.25]]}"#,
        "segment",
        2,
    )
    .unwrap()
}

/// The same on segments (d = 1): breakpoints re-anchored from the float map of their interval
/// (a proven root, then the map evaluated there), each checked against its exact values, and
/// the partition the exact path's, breakpoint for breakpoint.
#[test]
fn deep_networks_on_segments_reanchor_and_agree_with_the_exact_path() {
    let mut reanchored = 0;
    for seed in 0..12 {
        let net = random_float_net(seed, 8, 24);
        let slice = segment();
        let on = agrees_with_the_exact_path(&net, &slice, seed);
        certificate_holds(&net, &slice, &on, seed);
        reanchored += on.reanchored;
    }
    assert!(
        reanchored >= 20,
        "only {reanchored} breakpoints were re-anchored"
    );
}

/// The double-double tier (`engine::refine_dd`) on segments: with the f64 tier skipped, every
/// breakpoint the filtered test cannot decide is re-anchored in double-double, checked against
/// its exact values, and the partition is the exact path's, breakpoint for breakpoint (with a
/// bound per vertex, whose drift makes re-anchoring common, and with bounds per neuron).
#[test]
fn double_double_reanchoring_on_segments_agrees_with_the_exact_path() {
    let (mut doubled, mut exact) = (0, 0);
    for seed in 0..8 {
        let net = random_float_net(seed, 8, 24);
        let slice = segment();
        let exact_only = EnumerateConfig {
            reanchor: false,
            ..per_vertex()
        };
        let want = count_regions(&net, &slice, &exact_only).unwrap();
        for per_neuron_bounds_from in [usize::MAX, 0] {
            let cfg = EnumerateConfig {
                check_reanchored: true,
                reanchor_double_only: true,
                per_neuron_bounds_from,
                ..EnumerateConfig::default()
            };
            let got = count_regions(&net, &slice, &cfg).unwrap();
            assert!(got.complete && got.certified);
            assert_eq!(
                got.reanchored, got.reanchored_dd,
                "seed {seed}: f64 tier skipped"
            );
            assert_eq!(got.per_layer, want.per_layer, "seed {seed}");
            assert_eq!(got.defs, want.defs, "seed {seed}: breakpoints");
            for (a, b) in got.regions.iter().zip(want.regions.iter()) {
                assert_eq!((a.verts, a.pattern), (b.verts, b.pattern), "seed {seed}");
            }
            doubled += got.reanchored_dd;
            exact += got.exact_fallbacks;
        }
    }
    // Generic weights: the tier decides (nearly) everything the filter leaves.
    assert!(
        doubled >= 20,
        "only {doubled} breakpoints re-anchored in double-double"
    );
    assert!(
        exact * 10 <= doubled,
        "{exact} exact fallbacks against {doubled}"
    );
}

/// The double-double tier reads a layer's floats as its exact weights, so it must know which
/// layers hold them: numbers given as f64 do, a weight or bias given as an exact string (1/3,
/// or a decimal such as 0.1 that no f64 equals) does not. The first layer (the slice folded
/// in) never does; that tier converts it from its exact rows instead.
#[test]
fn only_layers_given_as_f64_numbers_count_as_exact_floats() {
    let text = |w: &str, b: &str| {
        format!(
            r#"{{"layers": [
                {{"weight": [[1.0, 0.5], [-0.25, 2.0]], "bias": [0.125, -1.0]}},
                {{"weight": [[{w}, 1.5], [0.75, -2.0]], "bias": [{b}, 0.5]}},
                {{"weight": [[1.0, 1.0]], "bias": [0.0]}}]}}"#
        )
    };
    let slice = square(-1, 1);
    for (w, b, exact) in [
        ("0.5", "0.25", true),
        ("\"1/3\"", "0.25", false),
        ("0.5", "\"0.1\"", false),
    ] {
        let net = relu_regions::Network::from_json(&text(w, b), "net").unwrap();
        let r = Restricted::new(&net, &slice).unwrap();
        assert!(!r.float[0].exact, "the folded first layer");
        assert_eq!(r.float[1].exact, exact, "weight {w}, bias {b}");
    }
}

/// Wide deep layers (128 inputs or more) bound through their certified norms by default: on a
/// segment and on a small square (side 1/8) through five 130-wide layers the norms are used (their
/// certificates are made), re-anchored vertices are checked exactly, and the partition is the
/// one without norms and the exact path's, vertex for vertex.
#[test]
fn wide_deep_layers_bound_through_norms_and_agree_with_the_exact_path() {
    use relu_regions::engine::{enumerate, NoProgress};
    let small_square = relu_regions::Slice::identity(vec![(q(0, 1), q(1, 8)), (q(0, 1), q(1, 8))]);
    for (seed, slice) in [(3u64, segment()), (5, small_square)] {
        let net = random_float_net_with_widths(seed, &[130; 5]);
        let run = |cfg: &EnumerateConfig| {
            let r = Restricted::new(&net, &slice).unwrap();
            let p = enumerate(&r, &slice.domain, cfg, &NoProgress).unwrap();
            assert!(p.complete && p.certified);
            (p, r.float[1].norms.get().is_some())
        };
        let (with, certified) = run(&EnumerateConfig {
            check_reanchored: true,
            ..EnumerateConfig::default()
        });
        assert!(certified, "seed {seed}: the norms were not used");
        assert!(with.regions.len() > 500, "seed {seed}: a trivial partition");
        for (cfg, what) in [
            (
                EnumerateConfig {
                    norm_bounds: false,
                    check_reanchored: true,
                    ..EnumerateConfig::default()
                },
                "bounds per neuron",
            ),
            (
                EnumerateConfig {
                    reanchor: false,
                    ..EnumerateConfig::default()
                },
                "exact path",
            ),
        ] {
            let (other, certified) = run(&cfg);
            assert_eq!(certified, cfg.norm_bounds, "seed {seed}, {what}: norms");
            assert_eq!(with.per_layer, other.per_layer, "seed {seed}, {what}");
            assert_eq!(with.defs, other.defs, "seed {seed}, {what}: vertices");
            for (a, b) in with.regions.iter().zip(other.regions.iter()) {
                assert_eq!(
                    (a.verts, a.pattern),
                    (b.verts, b.pattern),
                    "seed {seed}, {what}"
                );
            }
        }
    }
}
