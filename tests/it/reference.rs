//! Reference counts of the benchmark networks (copies in fixtures/bench): exact counts computed by
//! an independent program.

use crate::support::count_certified;
use relu_regions::{Network, Slice};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/bench/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn check(net: &str, slice: Option<&str>, expected: usize) {
    let network = Network::from_json(&fixture(net), net).unwrap();
    let slice = match slice {
        Some(s) => Slice::from_json(&fixture(s), s, network.input_dim()).unwrap(),
        None => Slice::identity(Slice::default_box(network.input_dim())),
    };
    assert_eq!(count_certified(&network, &slice), expected, "{net}");
}

#[test]
fn mlp_2_32x32x32() {
    check("mlp-2-32x32x32-s0.json", None, 3897);
}

#[test]
fn mlp_1_64x64x64x64() {
    check("mlp-1-64x64x64x64-s0.json", None, 242);
}

#[test]
fn digits_plane_a() {
    check("digits-64-64x3.json", Some("digits-plane-a.json"), 1719);
}

/// The larger benchmark networks, both ways of splitting a face, against their reference counts.
/// They are not in the repository: `python3 benchmarks/gen_bench_nets.py` writes them to
/// benchmarks/nets; point `RELU_REGIONS_BENCH_NETS` there (default: ../shared/bench/nets). A few
/// seconds; skipped (with a note) where the directory is missing.
#[test]
fn larger_benchmark_networks() {
    let dir = std::env::var("RELU_REGIONS_BENCH_NETS")
        .unwrap_or_else(|_| format!("{}/../shared/bench/nets", env!("CARGO_MANIFEST_DIR")));
    if !std::path::Path::new(&dir).is_dir() {
        eprintln!("skipped: {dir} not found (set RELU_REGIONS_BENCH_NETS)");
        return;
    }
    for (name, expected) in [
        ("mlp-2-64x64x64-s0.json", 14_353),
        ("mlp-2-128x128x128-s0.json", 56_887),
        ("mlp-2-256x256x256-s0.json", 262_431),
        ("mlp-2-32x32x32x32x32x32-s0.json", 17_800),
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{name}"))
            .unwrap_or_else(|e| panic!("{dir}/{name}: {e} (set RELU_REGIONS_BENCH_NETS)"));
        let network = Network::from_json(&text, name).unwrap();
        let slice = Slice::identity(Slice::default_box(network.input_dim()));
        // Default, with every re-anchored vertex checked exactly; zone walk from the first
        // line, without re-anchoring; the first layer in one round; the walk from 8 pieces
        // (faces switching mid-way) with re-anchored vertices checked. All but the default with
        // one bound per vertex, whose drift on the six-layer network re-anchors about 675.
        let default = relu_regions::EnumerateConfig::default();
        let per_vertex = usize::MAX;
        for (zone_walk_from, first_round_from, reanchor, per_neuron_bounds_from) in [
            (
                default.zone_walk_from,
                default.first_round_from,
                true,
                default.per_neuron_bounds_from,
            ),
            (0, default.first_round_from, false, per_vertex),
            (default.zone_walk_from, usize::MAX, true, per_vertex),
            (8, default.first_round_from, true, per_vertex),
        ] {
            let cfg = relu_regions::EnumerateConfig {
                zone_walk_from,
                first_round_from,
                reanchor,
                check_reanchored: reanchor && first_round_from != usize::MAX,
                per_neuron_bounds_from,
                ..Default::default()
            };
            let p = relu_regions::count_regions(&network, &slice, &cfg).unwrap();
            assert!(p.complete && p.certified);
            assert_eq!(
                p.regions.len(),
                expected,
                "{name}, zone walk from {zone_walk_from}, rounds from {first_round_from}, \
                 re-anchoring {reanchor}"
            );
            if !reanchor {
                assert_eq!(p.reanchored, 0);
            }
            // The deep network's bounds drift far enough that the float tier is used.
            if name.contains("32x32x32x32x32x32")
                && reanchor
                && per_neuron_bounds_from == per_vertex
            {
                assert!(p.reanchored > 0, "{name}: no vertex was re-anchored");
            }
        }
    }
}

/// Generic float32 networks (no exact degeneracies) need almost no big-integer work: the float
/// filter and re-anchoring decide nearly every sign. A path that left rows it later reads
/// unfilled would show here as exact fallbacks (the last layer's partial rows once did so in 1-D:
/// 13 fallbacks for 242 regions).
#[test]
fn generic_networks_need_almost_no_exact_work() {
    for (net, slice) in [
        ("mlp-1-64x64x64x64-s0.json", None),
        ("mlp-2-32x32x32-s0.json", None),
        ("digits-64-64x3.json", Some("digits-plane-a.json")),
    ] {
        let network = Network::from_json(&fixture(net), net).unwrap();
        let slice = match slice {
            Some(s) => Slice::from_json(&fixture(s), s, network.input_dim()).unwrap(),
            None => Slice::identity(Slice::default_box(network.input_dim())),
        };
        let p = relu_regions::count_regions(&network, &slice, &Default::default()).unwrap();
        assert!(
            p.exact_fallbacks * 100 <= p.regions.len(),
            "{net}: {} exact fallbacks for {} regions",
            p.exact_fallbacks,
            p.regions.len()
        );
    }
}
