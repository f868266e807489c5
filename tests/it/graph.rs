//! The adjacency graph and linear regions: invariants, known graphs, built merges, exports,
//! pictures.

use crate::closed_forms::tent_grid;
use crate::support::*;
use relu_regions::graph::{adjacent_pairs, RegionGraph};
use relu_regions::picture::{planar_scene, to_png, to_svg, Colouring};
use relu_regions::{Network, Partition, Restricted, Slice};
use std::collections::{HashMap, HashSet};

fn graph_of(net: &Network, slice: &Slice) -> (Partition, RegionGraph) {
    let p = count(net, slice);
    let r = Restricted::new(net, slice).unwrap();
    let pts = p.exact_vertices();
    let g = RegionGraph::build(&p, &r, Some(&pts));
    (p, g)
}

/// Graph invariants: no self loops or repeated pairs; in 2-D every interior mesh edge borders
/// exactly two faces and every domain-boundary edge one.
fn check_invariants(p: &Partition, g: &RegionGraph) {
    let mut seen = HashSet::new();
    for e in g.graph.edge_weights() {
        assert!(e.source < e.target, "pairs are stored once, ordered");
        assert!(seen.insert((e.source, e.target)), "repeated pair");
        assert!(
            !e.neurons.is_empty() || e.same_linear_map,
            "adjacent regions differ in some neuron"
        );
    }
    if p.dim == 2 {
        let mut faces_of: HashMap<(u32, u32), usize> = HashMap::new();
        for r in p.regions.iter() {
            let m = r.verts.len();
            for i in 0..m {
                let (u, v) = (r.verts[i], r.verts[(i + 1) % m]);
                *faces_of.entry((u.min(v), u.max(v))).or_default() += 1;
            }
        }
        let boundary: HashSet<(u32, u32)> = p
            .regions
            .iter()
            .flat_map(|r| {
                let m = r.verts.len();
                (0..m)
                    .filter(move |&i| r.lines[i].layer == 0)
                    .map(move |i| {
                        let (u, v) = (r.verts[i], r.verts[(i + 1) % m]);
                        (u.min(v), u.max(v))
                    })
            })
            .collect();
        for (edge, count) in faces_of {
            let expected = if boundary.contains(&edge) { 1 } else { 2 };
            assert_eq!(count, expected, "mesh edge {edge:?}");
        }
    }
}

#[test]
fn n_lines_in_general_position_have_n_squared_edges() {
    // Lines y = k x + k² − 3 (k = -3..=3): distinct slopes, no three concurrent (crossings at
    // x = -(j + k)... distinct), all crossings inside [-40, 40]².
    for n in 2..=7i64 {
        let rows: Vec<[i64; 3]> = (0..n).map(|k| [k - 3, -1, (k - 3) * (k - 3) - 3]).collect();
        let rows: Vec<&[i64]> = rows.iter().map(|r| &r[..]).collect();
        let net = network(&[layer(&rows, 1)]);
        let (p, g) = graph_of(&net, &square(-40, 40));
        assert_eq!(p.regions.len() as i64, 1 + n + n * (n - 1) / 2);
        assert_eq!(g.graph.edge_count() as i64, n * n, "n = {n}");
        check_invariants(&p, &g);
    }
}

#[test]
fn a_central_arrangement_is_a_cycle() {
    let rows: Vec<[i64; 3]> = (0..5).map(|k| [k - 2, 1, 0]).chain([[1, 0, 0]]).collect();
    let rows: Vec<&[i64]> = rows.iter().map(|r| &r[..]).collect();
    let (p, g) = graph_of(&network(&[layer(&rows, 1)]), &square(-1, 1));
    assert_eq!(p.regions.len(), 12);
    assert_eq!(g.graph.edge_count(), 12);
    assert!(g
        .graph
        .node_indices()
        .all(|v| g.graph.neighbors(v).count() == 2));
    assert_eq!(petgraph::algo::connected_components(&g.graph), 1);
    check_invariants(&p, &g);
}

#[test]
fn the_tent_grid_graph() {
    for depth in 1..=4 {
        let unit = Slice::identity(vec![(qi(0), qi(1)), (qi(0), qi(1))]);
        let (p, g) = graph_of(&tent_grid(depth), &unit);
        let m = 1usize << depth;
        assert_eq!(g.graph.edge_count(), 2 * m * (m - 1), "depth {depth}");
        check_invariants(&p, &g);
        // Every shared piece is a grid edge of length 1/m exactly.
        let sq = format!("1/{}", m * m);
        assert!(g
            .graph
            .edge_weights()
            .all(|e| e.length_squared.as_deref() == Some(sq.as_str())));
    }
}

#[test]
fn reference_adjacent_pairs_of_mlp_2_32x32x32() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/bench/mlp-2-32x32x32-s0.json"
    ))
    .unwrap();
    let net = Network::from_json(&text, "mlp").unwrap();
    let (p, g) = graph_of(&net, &square(-1, 1));
    assert_eq!(g.graph.edge_count(), 7702);
    check_invariants(&p, &g);
    assert_eq!(adjacent_pairs(&p).len(), 7702);
}

#[test]
fn zero_output_weight_neurons_do_not_make_linear_regions() {
    // Layer 1: x, y, x + y − 1/2; the output ignores the third neuron: the line x + y = 1/2
    // separates activation regions but not linear ones.
    let hidden = [layer(&[&[2, 0, 0], &[0, 2, 0], &[2, 2, -1]], 2)];
    let net = network_with_output(&hidden, layer(&[&[1, -1, 0, 0]], 1));
    let (p, g) = graph_of(&net, &square(-1, 1));
    assert_eq!(p.regions.len(), 7);
    assert_eq!(g.linear.count, 4, "the quadrants");
    check_invariants(&p, &g);
}

#[test]
fn an_all_zero_output_layer_is_one_linear_region() {
    let hidden = [
        layer(&[&[2, 0, 0], &[0, 2, 1], &[2, 2, -1]], 2),
        layer(&[&[1, -1, 1, 0], &[2, 1, -1, 1]], 1),
    ];
    let net = network_with_output(&hidden, layer(&[&[0, 0, 0], &[0, 0, 0]], 1));
    let (p, g) = graph_of(&net, &square(-1, 1));
    assert!(p.regions.len() > 4);
    assert_eq!(g.linear.count, 1);
}

#[test]
fn downstream_neurons_inactive_on_both_sides_merge_regions() {
    // Layer 1: x and y. Layer 2: one neuron −relu(x) − relu(y) − 1 < 0 everywhere: inactive, so
    // the output (which only reads layer 2) is 0 on all four quadrants: one linear region.
    let hidden = [
        layer(&[&[1, 0, 0], &[0, 1, 0]], 1),
        layer(&[&[-1, -1, -1]], 1),
    ];
    let net = network_with_output(&hidden, layer(&[&[3, 1]], 1));
    let (p, g) = graph_of(&net, &square(-1, 1));
    assert_eq!(p.regions.len(), 4);
    assert_eq!(g.linear.count, 1);
    // With an active downstream neuron (+1 bias instead of −1 and +relu) the kinks survive.
    let hidden = [layer(&[&[1, 0, 0], &[0, 1, 0]], 1), layer(&[&[1, 1, 1]], 1)];
    let net = network_with_output(&hidden, layer(&[&[3, 1]], 1));
    let (_, g) = graph_of(&net, &square(-1, 1));
    assert_eq!(g.linear.count, 4);
}

#[test]
fn graph_files_round_trip() {
    let net = network(&[layer(&[&[1, 0, 0], &[0, 1, 0], &[1, 1, -1]], 2)]);
    let (p, g) = graph_of(&net, &square(-1, 1));
    let json: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&g.to_json()).unwrap()).unwrap();
    assert_eq!(json["nodes"].as_array().unwrap().len(), p.regions.len());
    assert_eq!(
        json["edges"].as_array().unwrap().len(),
        g.graph.edge_count()
    );
    for (e, w) in json["edges"]
        .as_array()
        .unwrap()
        .iter()
        .zip(g.graph.edge_weights())
    {
        assert_eq!(e["source"].as_u64().unwrap() as usize, w.source);
        assert_eq!(e["length_squared"].as_str(), w.length_squared.as_deref());
    }
    let dot = g.to_dot();
    assert!(dot.starts_with("graph regions {"));
    assert_eq!(dot.matches(" -- ").count(), g.graph.edge_count());
    let graphml = g.to_graphml();
    assert_eq!(graphml.matches("<node ").count(), p.regions.len());
    assert_eq!(graphml.matches("<edge ").count(), g.graph.edge_count());
}

#[test]
fn a_picture_has_one_fill_per_region() {
    let net = network(&[layer(
        &[&[1, 0, 0], &[0, 1, 0], &[1, 1, -1], &[1, -3, 1]],
        2,
    )]);
    let (p, g) = graph_of(&net, &square(-1, 1));
    let scene = planar_scene(&p, 400, Colouring::Regions, None);
    let svg = to_svg(&scene);
    assert!(svg.contains(r#"width="400""#) && svg.contains(r#"height="400""#));
    let fills: HashSet<&str> = svg
        .split("fill=\"")
        .skip(1)
        .map(|s| &s[..7])
        .filter(|s| s.starts_with('#'))
        .collect();
    assert_eq!(fills.len(), p.regions.len(), "one distinct fill per region");
    let png = to_png(&scene);
    assert_eq!(&png[1..4], b"PNG");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), (scene.width, scene.height));
    // Colouring by linear region: as many fills as linear regions.
    let scene = planar_scene(&p, 400, Colouring::LinearRegions, Some(&g.linear.label));
    let svg = to_svg(&scene);
    let fills: HashSet<&str> = svg
        .split("fill=\"")
        .skip(1)
        .map(|s| &s[..7])
        .filter(|s| s.starts_with('#'))
        .collect();
    assert_eq!(fills.len(), g.linear.count);
}

#[test]
fn underflowing_gradients_are_compared_exactly() {
    // Both sides of t = 0 have the output map −2·o·c·t exactly (c ≈ 1.4·2^-474, o = 2^-600):
    // one linear region. Float gradients underflow; a relative-only bound said "different".
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/nets/underflow-linear-regions.json"
    ))
    .unwrap();
    let net = Network::from_json(&text, "underflow").unwrap();
    let (p, g) = graph_of(&net, &interval(qi(-1), qi(1)));
    assert_eq!(p.regions.len(), 2);
    assert_eq!(g.linear.count, 1);
}

#[test]
fn dot_labels_are_plain_text() {
    let net = network(&[layer(&[&[1, 0, 0], &[0, 1, 0]], 1)]);
    let (_, g) = graph_of(&net, &square(-1, 1));
    let dot = g.to_dot();
    assert!(dot.contains(r#"label = "0 L0""#), "{dot}");
    assert!(
        !dot.contains(r#"\""#),
        "labels must not carry escaped quotes: {dot}"
    );
}

/// Linear regions decided from the switching unit's output coefficient (float with a proven
/// bound, exact otherwise) against brute force: every adjacent pair's two exact output maps
/// compared, on random dyadic networks full of zero weights, dead units and coincidences.
#[test]
fn linear_regions_match_exact_output_maps_on_random_degenerate_nets() {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use relu_regions::graph::{adjacent_region_pairs, exact_output_map, Summary};
    use relu_regions::net::{Layer, Num};
    let mut merged = 0;
    for seed in 0..80 {
        let d = if seed % 4 == 3 { 1 } else { 2 };
        let mut net = random_dyadic_net(seed, d, 3, 6);
        if seed % 3 == 1 {
            // Three outputs, half their weights 0, the first the heaviest: the float filter
            // tries it alone first, and the pairs it leaves go to all three.
            let mut rng = ChaCha8Rng::seed_from_u64(500 + seed);
            let last = net.layers.last_mut().unwrap();
            let n_in = last.n_in;
            let weights: Vec<Num> = (0..3 * n_in)
                .map(|k| {
                    let w = if rng.random_bool(0.5) {
                        0
                    } else {
                        rng.random_range(-2..=2)
                    };
                    Num::F64((w * if k < n_in { 3 } else { 1 }) as f64)
                })
                .collect();
            *last = Layer::dense(n_in, 3, weights, vec![Num::F64(0.0); 3]);
        }
        let slice = if d == 2 {
            square(-1, 1)
        } else {
            Slice::identity(vec![(qi(-1), qi(1))])
        };
        let p = count(&net, &slice);
        let r = Restricted::new(&net, &slice).unwrap();
        let summary = Summary::build(&p, &r);
        let pairs: Vec<(u32, u32)> = adjacent_pairs(&p).iter().map(|e| (e.a, e.b)).collect();
        assert_eq!(summary.pairs, pairs, "seed {seed}: pairs");
        assert_eq!(adjacent_region_pairs(&p), pairs, "seed {seed}");
        let maps: Vec<_> = (0..p.regions.len())
            .map(|k| exact_output_map(&r, p.regions.get(k).pattern))
            .collect();
        let same: Vec<bool> = pairs
            .iter()
            .map(|&(a, b)| maps[a as usize] == maps[b as usize])
            .collect();
        assert_eq!(summary.linear.same_map, same, "seed {seed}: same maps");
        // Linear regions: components of the pairs with equal maps.
        let mut label: Vec<usize> = (0..p.regions.len()).collect();
        fn root(label: &mut [usize], x: usize) -> usize {
            let mut x = x;
            while label[x] != x {
                x = label[x];
            }
            x
        }
        for (&(a, b), s) in pairs.iter().zip(&same) {
            if *s {
                let (ra, rb) = (root(&mut label, a as usize), root(&mut label, b as usize));
                label[ra] = rb;
            }
        }
        let components = (0..p.regions.len())
            .filter(|&x| root(&mut label, x) == x)
            .count();
        assert_eq!(
            summary.linear.count, components,
            "seed {seed}: linear regions"
        );
        merged += p.regions.len() - components;
    }
    assert!(
        merged > 0,
        "no network had regions with equal maps: the test saw no merge"
    );
}

fn lp_graph_of(
    net: &Network,
    slice: &Slice,
) -> (relu_regions::engine::lp::LpPartition, RegionGraph) {
    use relu_regions::engine::lp::{enumerate_lp_with, LpOptions};
    let r = Restricted::new(net, slice).unwrap();
    let opts = LpOptions {
        adjacency: true,
        ..LpOptions::default()
    };
    let cfg = relu_regions::EnumerateConfig::default();
    let p = enumerate_lp_with(&r, &slice.domain, &cfg, &opts, &relu_regions::NoProgress).unwrap();
    let g = RegionGraph::from_lp(&p, &r).expect("adjacency was asked for");
    (p, g)
}

#[test]
fn three_dimensional_linear_regions_merge_across_ignored_planes() {
    // Layer 1: x, y, z and x + y + z − 1/2; the output reads x and y only: the planes z = 0 and
    // x + y + z = 1/2 separate activation regions but not linear ones, which are the four
    // quarters of the box cut by x = 0 and y = 0.
    let hidden = [layer(
        &[&[2, 0, 0, 0], &[0, 2, 0, 0], &[0, 0, 2, 0], &[2, 2, 2, -1]],
        2,
    )];
    let net = network_with_output(&hidden, layer(&[&[1, -1, 0, 0, 0]], 1));
    let slice = Slice::identity(Slice::default_box(3));
    let (p, g) = lp_graph_of(&net, &slice);
    // Three coordinate planes make 8 octants; the fourth plane cuts all but x, y, z < 0 (where
    // x + y + z < 1/2): 8 + 7 = 15.
    assert_eq!(p.regions.len(), 15);
    assert_eq!(g.linear.count, 4);
    for e in g.graph.edge_weights() {
        // Across z = 0 or the oblique plane the map is the same; across x = 0 or y = 0 it is not.
        let switches_xy = e.neurons.iter().any(|&(_, j)| j <= 2);
        assert_eq!(e.same_linear_map, !switches_xy, "{e:?}");
        assert_eq!(e.neurons.len(), 1, "one plane per shared facet");
    }
    // The same network, all outputs zero: one linear region.
    let net = network_with_output(&hidden, layer(&[&[0, 0, 0, 0, 0]], 1));
    let (_, g) = lp_graph_of(&net, &slice);
    assert_eq!(g.linear.count, 1);
    // Exports carry the 3-D graph.
    assert!(g.to_dot().contains("graph regions"));
    assert_eq!(
        g.to_json()["edges"].as_array().unwrap().len(),
        g.graph.edge_count()
    );
}

#[test]
fn the_lp_engine_finds_the_planar_graph_in_2d() {
    // The same linear regions and labelled edges as the mesh on the 2-D benchmark-like nets.
    for seed in 0..6 {
        let net = random_dyadic_net(seed, 2, 3, 5);
        let s = square(-1, 1);
        let (p, g) = graph_of(&net, &s);
        let (lp, lg) = lp_graph_of(&net, &s);
        assert_eq!(lp.regions.len(), p.regions.len(), "seed {seed}");
        assert_eq!(
            lg.linear.count, g.linear.count,
            "seed {seed}: linear regions"
        );
        let edges = |g: &RegionGraph| -> HashSet<(String, String, bool)> {
            let pat: Vec<String> = g.graph.node_weights().map(|n| n.pattern.clone()).collect();
            g.graph
                .edge_weights()
                .map(|e| {
                    let (a, b) = (pat[e.source].clone(), pat[e.target].clone());
                    (a.clone().min(b.clone()), a.max(b), e.same_linear_map)
                })
                .collect()
        };
        assert_eq!(edges(&lg), edges(&g), "seed {seed}: edges");
    }
}
