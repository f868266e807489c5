//! The lp engine (polytopes split by certified LPs): identical counts with the planar engine on
//! every d ≤ 2 input, closed forms in 3-D and 4-D, the degenerate 3-D fixtures, and properties
//! of every partition (witness patterns, facets, exact volumes, determinism, both backends).

use crate::closed_forms::tent;
use crate::support::*;
use num_bigint::BigInt;
use num_traits::{Signed, Zero};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use relu_regions::certificate::{lp_partition_file, verify, PartitionFile};
use relu_regions::engine::lp::{
    enumerate_lp, enumerate_lp_with, LpBackend, LpOptions, LpPartition,
};
use relu_regions::engine::{enumerate, EngineChoice};
use relu_regions::exact::ExactPoint;
use relu_regions::slice::{parse_box_flag, Domain};
use relu_regions::{EnumerateConfig, Error, Network, NoProgress, Restricted, Slice};
use std::cmp::Ordering;
use std::collections::HashSet;
use std::path::Path;

fn opts(backend: LpBackend) -> LpOptions {
    LpOptions {
        backend,
        exact_geometry: true,
        adjacency: true,
        facets: true,
    }
}

/// The partition with everything on (facets, vertices, volumes, pairs), after checking that a
/// run without the last layer's irredundant facets finds the same regions in the same order and
/// the same adjacent pairs, and a plain count the same regions and witnesses.
fn run(net: &Network, slice: &Slice, backend: LpBackend) -> LpPartition {
    let r = Restricted::new(net, slice).unwrap();
    let go = |options: &LpOptions| {
        let p = enumerate_lp_with(
            &r,
            &slice.domain,
            &EnumerateConfig::default(),
            options,
            &NoProgress,
        )
        .expect("valid input");
        assert!(p.complete && p.certified);
        p
    };
    let p = go(&opts(backend));
    let lean = go(&LpOptions {
        backend,
        exact_geometry: false,
        adjacency: true,
        facets: false,
    });
    let patterns = |p: &LpPartition| -> Vec<Vec<u64>> {
        p.regions.iter().map(|r| r.pattern.clone()).collect()
    };
    assert_eq!(patterns(&lean), patterns(&p), "regions without facets");
    assert_eq!(lean.adjacent, p.adjacent, "pairs without facets");
    // A plain count (no cell made irredundant, cells stripped to pattern and witness in the
    // last layer): the same regions in the same order. Its witnesses may be other points (an
    // LP over more halfspaces may stop at another optimum), so each is checked: it has its
    // region's pattern (exact forward pass) and lies strictly inside the domain.
    let count = go(&LpOptions {
        backend,
        exact_geometry: false,
        adjacency: false,
        facets: false,
    });
    assert_eq!(patterns(&count), patterns(&p), "regions of a plain count");
    assert!(count.regions.iter().all(|r| r.facets.is_empty()));
    if let Err(e) = count.check(&r.exact, &slice.domain) {
        panic!("a plain count's witnesses: {e}");
    }
    if let Domain::Box(b) = &slice.domain {
        for (k, region) in count.regions.iter().enumerate() {
            let w = rationals(&region.witness);
            assert!(
                w.iter().zip(b).all(|(x, (lo, hi))| lo < x && x < hi),
                "a plain count's witness {k} is not strictly inside the box"
            );
        }
    }
    p
}

fn planar(net: &Network, slice: &Slice) -> usize {
    let r = Restricted::new(net, slice).unwrap();
    let cfg = EnumerateConfig {
        engine: EngineChoice::Planar,
        ..Default::default()
    };
    enumerate(&r, &slice.domain, &cfg, &NoProgress)
        .unwrap()
        .regions
        .len()
}

fn rationals(p: &ExactPoint) -> Vec<Q> {
    p.to_rationals()
}

/// Checks every invariant of an lp partition with code independent of the engine: the witness
/// has the region's pattern (plain rational forward pass) and is strictly inside every facet,
/// patterns are distinct, every vertex is on the closed side of every facet, and (d ≤ 4) the
/// exact volumes are positive and sum to the domain's. Returns the region count.
fn check(name: &str, net: &Network, slice: &Slice, p: &LpPartition) -> usize {
    let exact = Restricted::new(net, slice).unwrap().exact;
    if let Err(e) = p.check(&exact, &slice.domain) {
        panic!("{name}: LpPartition::check: {e}");
    }
    let n = p.neurons();
    let mut seen = HashSet::new();
    for (k, r) in p.regions.iter().enumerate() {
        let w = rationals(&r.witness);
        let expected = pattern_string(&pattern_at(net, &w));
        let got = relu_regions::pattern::to_string(&r.pattern, n);
        assert_eq!(got, expected, "{name}: region {k}: witness pattern");
        assert!(seen.insert(got), "{name}: region {k}: repeated pattern");
        assert!(!r.facets.is_empty(), "{name}: region {k}: no facets");
        for f in &r.facets {
            assert_eq!(
                r.witness.side(f),
                Ordering::Greater,
                "{name}: region {k}: witness not strictly inside facet {f:?}"
            );
        }
        if let Some(vs) = &r.vertices {
            assert!(
                vs.len() > p.dim,
                "{name}: region {k}: {} vertices",
                vs.len()
            );
            for (v, _) in vs {
                for f in &r.facets {
                    assert_ne!(
                        v.side(f),
                        Ordering::Less,
                        "{name}: region {k}: vertex outside"
                    );
                }
            }
            // Every facet holds at least d vertices (irredundant facets are (d−1)-faces).
            for f in &r.facets {
                let on = vs.iter().filter(|v| v.0.side(f) == Ordering::Equal).count();
                assert!(
                    on >= p.dim,
                    "{name}: region {k}: facet {f:?} has {on} vertices"
                );
            }
        }
    }
    check_adjacency(name, net, slice, p);
    if p.dim <= relu_regions::engine::lp::GEOMETRY_MAX_DIM {
        for (k, r) in p.regions.iter().enumerate() {
            assert!(
                r.volume.as_ref().unwrap().is_positive(),
                "{name}: region {k}: volume"
            );
        }
        assert_eq!(
            p.volumes_sum_to(&slice.domain.volume()),
            Some(true),
            "{name}: volumes must sum to the domain's"
        );
    }
    p.regions.len()
}

/// The engine's adjacent pairs against an independent reference: the planar engine's mesh in
/// d ≤ 2 (regions matched by pattern), else a brute force over all pairs of regions with at most
/// 150 regions: a and b are adjacent iff a facet of a and one of b lie on the same hyperplane
/// H with opposite sides and some point of H is strictly inside all their other facets (a
/// certified LP in the coordinates of H). The graph is connected in every case.
fn check_adjacency(name: &str, net: &Network, slice: &Slice, p: &LpPartition) {
    let Some(pairs) = &p.adjacent else { return };
    assert!(
        pairs.windows(2).all(|w| w[0] < w[1]),
        "{name}: pairs unsorted"
    );
    let n = p.regions.len();
    let mut uf = petgraph::unionfind::UnionFind::<usize>::new(n);
    for &(a, b) in pairs {
        assert!(a < b && (b as usize) < n, "{name}: pair ({a}, {b})");
        uf.union(a as usize, b as usize);
    }
    assert!(
        (0..n).all(|r| uf.equiv(0, r)),
        "{name}: the adjacency graph is not connected"
    );
    let reference: Option<HashSet<(u32, u32)>> = if p.dim <= 2 {
        let r = Restricted::new(net, slice).unwrap();
        let cfg = EnumerateConfig {
            engine: EngineChoice::Planar,
            ..Default::default()
        };
        let mesh = enumerate(&r, &slice.domain, &cfg, &NoProgress).unwrap();
        let index: std::collections::HashMap<&[u64], u32> = p
            .regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.pattern.as_slice(), i as u32))
            .collect();
        Some(
            relu_regions::graph::adjacent_region_pairs(&mesh)
                .into_iter()
                .map(|(a, b)| {
                    let (x, y) = (
                        index[mesh.regions.get(a as usize).pattern],
                        index[mesh.regions.get(b as usize).pattern],
                    );
                    (x.min(y), x.max(y))
                })
                .collect(),
        )
    } else if n <= 150 {
        Some(brute_force_adjacency(p, slice))
    } else {
        None
    };
    if let Some(reference) = reference {
        let got: HashSet<(u32, u32)> = pairs.iter().copied().collect();
        let missing: Vec<_> = reference.difference(&got).collect();
        let extra: Vec<_> = got.difference(&reference).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}: adjacency differs from the reference: missing {missing:?}, extra {extra:?}"
        );
    }
}

fn brute_force_adjacency(p: &LpPartition, slice: &Slice) -> HashSet<(u32, u32)> {
    use relu_regions::engine::lp::feasibility::{Con, Decider, Interior};
    use relu_regions::exact::LineEq;
    let d = p.dim;
    let bounds: Vec<(Q, Q)> = match &slice.domain {
        relu_regions::slice::Domain::Box(b) => b.clone(),
        _ => panic!("boxes only"),
    };
    // One decider per eliminated coordinate, on the box without that coordinate.
    let deciders: Vec<Decider> = (0..d)
        .map(|k| {
            let (lo, hi): (Vec<Q>, Vec<Q>) = bounds
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != k)
                .map(|(_, b)| b.clone())
                .unzip();
            Decider::new(&lo, &hi, LpBackend::Dense)
        })
        .collect();
    // g restricted to {h = 0}, eliminating coordinate k (h_k ≠ 0), times |h_k|.
    let restrict = |g: &LineEq, h: &LineEq, k: usize| -> (Vec<BigInt>, BigInt) {
        let s = if h.a[k].is_negative() { -1 } else { 1 };
        let a = (0..d)
            .filter(|&i| i != k)
            .map(|i| (&g.a[i] * &h.a[k] - &g.a[k] * &h.a[i]) * s)
            .collect();
        (a, (&g.c * &h.a[k] - &g.a[k] * &h.c) * s)
    };
    let mut out = HashSet::new();
    for a in 0..p.regions.len() {
        for b in a + 1..p.regions.len() {
            let (ra, rb) = (&p.regions[a], &p.regions[b]);
            let shared = ra.facets.iter().enumerate().find_map(|(i, f)| {
                rb.facets
                    .iter()
                    .position(|g| g.multiple_of(f) == Some(false))
                    .map(|j| (i, j))
            });
            let Some((i, j)) = shared else { continue };
            let h = &ra.facets[i];
            let k = (0..d).find(|&k| !h.a[k].is_zero()).unwrap();
            let mut rows = Vec::new();
            let mut empty = false;
            for g in ra
                .facets
                .iter()
                .enumerate()
                .filter(|&(x, _)| x != i)
                .chain(rb.facets.iter().enumerate().filter(|&(x, _)| x != j))
                .map(|(_, g)| g)
            {
                let (a2, c2) = restrict(g, h, k);
                if a2.iter().all(|x| x.is_zero()) {
                    empty |= !c2.is_positive();
                } else {
                    rows.push(Con::new(LineEq { a: a2, c: c2 }));
                }
            }
            if empty {
                continue;
            }
            let refs: Vec<&Con> = rows.iter().collect();
            if let Interior::NonEmpty(_) = deciders[k].interior(&refs) {
                out.insert((a as u32, b as u32));
            }
        }
    }
    out
}

fn count_lp(name: &str, net: &Network, slice: &Slice) -> usize {
    let p = run(net, slice, LpBackend::Dense);
    check(name, net, slice, &p)
}

fn fixture_dir(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn load_fixture(path: &Path) -> (String, Network, Slice, usize, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected = meta["meta"]["expected_regions"].as_u64().unwrap() as usize;
    let net = Network::from_json(&text, &name).unwrap();
    let b = meta["meta"]["box"].as_str().unwrap();
    let slice = Slice::identity(parse_box_flag(b, net.input_dim()).unwrap());
    (name, net, slice, expected, meta["meta"]["why"].to_string())
}

#[test]
fn same_counts_as_planar_on_every_degenerate_fixture() {
    let files = fixture_dir("fixtures/degenerate");
    assert!(files.len() >= 12);
    for f in &files {
        let (name, net, slice, expected, why) = load_fixture(f);
        let reference = planar(&net, &slice);
        assert_eq!(reference, expected, "{name}: planar");
        for backend in [LpBackend::Dense, LpBackend::GoodLp, LpBackend::Exact] {
            let p = run(&net, &slice, backend);
            assert_eq!(
                check(&name, &net, &slice, &p),
                expected,
                "{name} ({backend:?}): {why}"
            );
        }
    }
}

#[test]
fn degenerate_3d_fixtures_have_their_hand_derived_counts() {
    let files = fixture_dir("fixtures/degenerate-3d");
    assert!(files.len() >= 5, "fixtures missing");
    let mut fallbacks = 0;
    for f in &files {
        let (name, net, slice, expected, why) = load_fixture(f);
        for backend in [LpBackend::Dense, LpBackend::GoodLp, LpBackend::Exact] {
            let p = run(&net, &slice, backend);
            fallbacks += p.exact_fallbacks;
            assert_eq!(
                check(&name, &net, &slice, &p),
                expected,
                "{name} ({backend:?}): {why}"
            );
        }
    }
    // Planes through vertices and along faces defeat the float filters: the exact paths ran.
    assert!(fallbacks > 0);
}

/// Weights from 1e-300 to 1e300 and slivers between planes 1e-300 or one ulp apart, in 3-D and
/// 4-D: the counts of the independent exact oracle (`fixtures/extreme/oracle.py`, rational LPs
/// in Python). The float LPs cannot decide most of these cells; the exact paths do.
#[test]
fn extreme_weight_and_sliver_fixtures_have_the_oracle_counts() {
    let files = fixture_dir("fixtures/extreme");
    assert!(files.len() >= 5, "fixtures missing");
    let mut fallbacks = 0;
    for f in &files {
        let (name, net, slice, expected, why) = load_fixture(f);
        let backends: &[LpBackend] = if name.starts_with("slivers") {
            &[LpBackend::Dense, LpBackend::GoodLp]
        } else {
            &[LpBackend::Dense]
        };
        for &backend in backends {
            let p = run(&net, &slice, backend);
            fallbacks += p.exact_lps;
            assert_eq!(
                check(&name, &net, &slice, &p),
                expected,
                "{name} ({backend:?}): {why}"
            );
        }
    }
    assert!(fallbacks > 0, "the exact simplex never ran");
}

/// Wide first layers, which a plain count splits in two rounds (`run` compares its regions, in
/// order, with a run that makes every cell irredundant in one round): small integer weights
/// give duplicate neurons, planes through corners and several planes through one point, spread
/// over both rounds. In 2-D the planar engine counts too; in 3-D the volumes must add up.
#[test]
fn wide_first_layers_in_two_rounds() {
    for seed in 900..915 {
        let net = random_dyadic_net(seed, 2, 2, 24);
        let name = format!("2-D seed {seed}");
        let slice = square(-1, 1);
        assert_eq!(
            count_lp(&name, &net, &slice),
            planar(&net, &slice),
            "{name}"
        );
    }
    for seed in 960..972 {
        let net = random_dyadic_net(seed, 3, 2, 14);
        let slice = Slice::identity(Slice::default_box(3));
        count_lp(&format!("3-D seed {seed}"), &net, &slice);
    }
}

#[test]
fn same_counts_as_planar_on_random_dyadic_nets() {
    for seed in 0..60 {
        let net = random_dyadic_net(seed, 2, 3, 6);
        let slice = if seed % 2 == 0 {
            square(-1, 1)
        } else {
            Slice::identity(vec![(q(-1, 2), q(3, 4)), (q(-5, 4), qi(1))])
        };
        let name = format!("2-D seed {seed}");
        assert_eq!(
            count_lp(&name, &net, &slice),
            planar(&net, &slice),
            "{name}"
        );
    }
    for seed in 100..140 {
        let net = random_dyadic_net(seed, 1, 3, 5);
        let slice = interval(q(-3, 2), q(5, 4));
        let name = format!("1-D seed {seed}");
        assert_eq!(
            count_lp(&name, &net, &slice),
            planar(&net, &slice),
            "{name}"
        );
    }
}

#[test]
fn same_counts_as_planar_on_a_convex_polygon() {
    // A pentagon, counter-clockwise.
    let corners = [(-1, -1), (1, -1), (3, 1), (0, 2), (-2, 1)];
    let polygon = corners.iter().map(|&(x, y)| [q(x, 2), q(y, 2)]).collect();
    let slice = Slice {
        origin: vec![qi(0), qi(0)],
        basis: vec![vec![qi(1), qi(0)], vec![qi(0), qi(1)]],
        domain: relu_regions::Domain::Polygon(polygon),
    };
    for seed in 600..630 {
        let net = random_dyadic_net(seed, 2, 3, 6);
        let name = format!("pentagon seed {seed}");
        assert_eq!(
            count_lp(&name, &net, &slice),
            planar(&net, &slice),
            "{name}"
        );
    }
}

#[test]
fn six_dimensional_slices_work() {
    // The 6 coordinate hyperplanes and x1 + … + x6 = 0, all through the origin, any 6 normals
    // independent: a central arrangement, 2·Σ_{i<6} C(6, i) = 2·63 = 126 regions.
    let mut rows: Vec<Vec<i64>> = (0..6)
        .map(|k| (0..7).map(|j| i64::from(j == k)).collect())
        .collect();
    rows.push(vec![1, 1, 1, 1, 1, 1, 0]);
    let net = one_layer(&rows);
    let slice = Slice::identity(Slice::default_box(6));
    let p = run(&net, &slice, LpBackend::Dense);
    assert_eq!(check("6-D central", &net, &slice, &p), 126);
}

#[test]
fn same_counts_as_planar_on_the_tent_maps() {
    for depth in 1..=5 {
        let net = tent(depth);
        let slice = interval(q(0, 1), q(1, 1));
        let name = format!("tent {depth}");
        let n = count_lp(&name, &net, &slice);
        assert_eq!(n, planar(&net, &slice), "{name}");
        assert!(n >= 1 << depth, "{name}: {n}");
    }
}

/// Hyperplanes (integer rows a…, c) and their vertices.
type Arrangement = (Vec<Vec<i64>>, Vec<Vec<Q>>);

/// n random affine functions on R^d (small integers) in general position (every d normals
/// independent, no d + 1 hyperplanes through one point) with all their vertices; None if not.
fn general_position(seed: u64, d: usize, n: usize, central: bool) -> Option<Arrangement> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows: Vec<Vec<i64>> = (0..n)
        .map(|_| {
            (0..=d)
                .map(|k| {
                    if central && k == d {
                        0
                    } else {
                        rng.random_range(-9..=9)
                    }
                })
                .collect()
        })
        .collect();
    let mut vertices: Vec<Vec<Q>> = Vec::new();
    let mut idx: Vec<usize> = (0..d).collect();
    loop {
        // Solve the d × d system exactly (Gaussian elimination in rationals).
        let mut m: Vec<Vec<Q>> = idx
            .iter()
            .map(|&i| rows[i].iter().map(|&x| qi(x)).collect())
            .collect();
        for col in 0..d {
            let p = (col..d).find(|&r| !m[r][col].is_zero())?;
            m.swap(col, p);
            for r in 0..d {
                if r != col {
                    let f = &m[r][col] / &m[col][col];
                    let pivot_row = m[col].clone();
                    for (x, pv) in m[r][col..].iter_mut().zip(&pivot_row[col..]) {
                        *x -= pv * &f;
                    }
                }
            }
        }
        let v: Vec<Q> = (0..d).map(|k| -&m[k][d] / &m[k][k]).collect();
        if !central {
            if vertices.contains(&v) {
                return None;
            }
            vertices.push(v);
        }
        // Next d-subset.
        let mut k = d;
        loop {
            if k == 0 {
                return Some((rows, vertices));
            }
            k -= 1;
            if idx[k] < n - d + k {
                idx[k] += 1;
                for r in k + 1..d {
                    idx[r] = idx[r - 1] + 1;
                }
                break;
            }
        }
    }
}

fn binomial(n: usize, k: usize) -> usize {
    if k > n {
        return 0;
    }
    (0..k).fold(1, |acc, i| acc * (n - i) / (i + 1))
}

fn one_layer(rows: &[Vec<i64>]) -> Network {
    let rows: Vec<&[i64]> = rows.iter().map(|r| &r[..]).collect();
    network(&[layer(&rows, 1)])
}

#[test]
fn general_position_with_every_vertex_inside_3d_and_4d() {
    for (d, sizes) in [(3usize, 4..=8usize), (4, 5..=7)] {
        let mut checked = 0;
        for seed in 0..30u64 {
            let n = *sizes.start() + seed as usize % (sizes.end() - sizes.start() + 1);
            let Some((rows, vertices)) = general_position(seed, d, n, false) else {
                continue;
            };
            let lo = vertices.iter().flatten().map(|x| x.floor()).min().unwrap() - qi(1);
            let hi = vertices.iter().flatten().map(|x| x.ceil()).max().unwrap() + qi(1);
            let slice = Slice::identity(vec![(lo, hi); d]);
            let expected: usize = (0..=d).map(|i| binomial(n, i)).sum();
            let name = format!("{d}-D general position, seed {seed}, n = {n}");
            let p = run(&one_layer(&rows), &slice, LpBackend::Dense);
            assert_eq!(
                check(&name, &one_layer(&rows), &slice, &p),
                expected,
                "{name}"
            );
            // Every (d−1)-face meets the box: n hyperplanes, each cut into Σ C(n−1, i) faces.
            let faces: usize = n * (0..d).map(|i| binomial(n - 1, i)).sum::<usize>();
            assert_eq!(p.adjacent.as_ref().unwrap().len(), faces, "{name}: pairs");
            checked += 1;
            if checked == 6 {
                break;
            }
        }
        assert!(checked >= 4, "{d}-D: too few general-position samples");
    }
}

#[test]
fn central_arrangements_3d_and_4d() {
    for (d, sizes) in [(3usize, 3..=7usize), (4, 4..=6)] {
        let mut checked = 0;
        for seed in 200..230u64 {
            let n = *sizes.start() + seed as usize % (sizes.end() - sizes.start() + 1);
            let Some((rows, _)) = general_position(seed, d, n, true) else {
                continue;
            };
            let slice = Slice::identity(Slice::default_box(d));
            let expected = 2 * (0..d).map(|i| binomial(n - 1, i)).sum::<usize>();
            let name = format!("{d}-D central, seed {seed}, n = {n}");
            let p = run(&one_layer(&rows), &slice, LpBackend::Dense);
            assert_eq!(
                check(&name, &one_layer(&rows), &slice, &p),
                expected,
                "{name}"
            );
            // Each hyperplane is cut by the others into a central arrangement in d − 1 dimensions.
            let faces = n * 2 * (0..d - 1).map(|i| binomial(n - 2, i)).sum::<usize>();
            assert_eq!(p.adjacent.as_ref().unwrap().len(), faces, "{name}: pairs");
            checked += 1;
            if checked == 6 {
                break;
            }
        }
        assert!(checked >= 4, "{d}-D: too few central samples");
    }
}

#[test]
fn random_3d_nets_properties_and_grid() {
    for seed in 300..330 {
        let net = random_dyadic_net(seed, 3, 3, 5);
        let slice = Slice::identity(vec![
            (qi(-1), qi(1)),
            (q(-1, 2), q(3, 2)),
            (qi(-1), q(1, 4)),
        ]);
        let name = format!("3-D seed {seed}");
        let p = run(&net, &slice, LpBackend::Dense);
        check(&name, &net, &slice, &p);
        // A grid of generic points sees only patterns the partition has.
        let patterns: HashSet<String> = p
            .regions
            .iter()
            .map(|r| relu_regions::pattern::to_string(&r.pattern, p.neurons()))
            .collect();
        let relu_regions::Domain::Box(b) = &slice.domain else {
            unreachable!()
        };
        let m = 7i64;
        for i in 0..m {
            for j in 0..m {
                for k in 0..m {
                    let t: Vec<Q> = [i, j, k]
                        .iter()
                        .zip(b)
                        .map(|(&s, (lo, hi))| lo + (hi - lo) * q(2 * s + 1, 2 * m))
                        .collect();
                    if let Some(pat) = generic_pattern(&net, &t) {
                        assert!(
                            patterns.contains(&pat),
                            "{name}: grid point {t:?} has {pat}"
                        );
                    }
                }
            }
        }
        // Every backend gives the same regions in the same order; the exact one runs no float
        // LP at all.
        if seed % 3 == 0 {
            let a: Vec<_> = p.regions.iter().map(|r| &r.pattern).collect();
            for backend in [LpBackend::GoodLp, LpBackend::Exact] {
                let g = run(&net, &slice, backend);
                let b: Vec<_> = g.regions.iter().map(|r| &r.pattern).collect();
                assert_eq!(a, b, "{name}: {backend:?} disagrees");
                if backend == LpBackend::Exact {
                    assert_eq!(g.exact_lps, g.lp_solves, "{name}: exact backend");
                }
            }
        }
    }
}

/// Many small 3-D nets with tiny integer weights, zero biases half of the time and duplicated
/// neurons (planes through common points and lines everywhere): every partition must pass
/// the checks, including exact volumes and adjacency against brute force, with the backends agreeing.
#[test]
fn stress_degenerate_3d_nets() {
    // 100 networks by default, 400 with RELU_REGIONS_SLOW.
    let last = if std::env::var("RELU_REGIONS_SLOW").is_ok() {
        1400
    } else {
        1100
    };
    for seed in 1000..last {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let zero_bias = seed % 2 == 0;
        let mut n_in = 3;
        let mut hidden = Vec::new();
        for _ in 0..rng.random_range(1..=3) {
            let n_out = rng.random_range(1..=5);
            let mut rows: Vec<Vec<i64>> = (0..n_out)
                .map(|_| {
                    (0..=n_in)
                        .map(|k| {
                            if zero_bias && k == n_in {
                                0
                            } else {
                                rng.random_range(-2..=2)
                            }
                        })
                        .collect()
                })
                .collect();
            rows.push(rows[0].clone());
            let refs: Vec<&[i64]> = rows.iter().map(|r| &r[..]).collect();
            hidden.push(layer(&refs, 2));
            n_in = rows.len();
        }
        let net = network(&hidden);
        let slice = Slice::identity(Slice::default_box(3));
        let name = format!("stress seed {seed}");
        let p = run(&net, &slice, LpBackend::Dense);
        check(&name, &net, &slice, &p);
        if seed % 5 == 0 {
            let g = run(&net, &slice, LpBackend::GoodLp);
            assert_eq!(p.regions.len(), g.regions.len(), "{name}: good_lp");
        }
        if seed % 7 == 0 {
            let e = run(&net, &slice, LpBackend::Exact);
            let a: Vec<_> = p.regions.iter().map(|r| &r.pattern).collect();
            let b: Vec<_> = e.regions.iter().map(|r| &r.pattern).collect();
            assert_eq!(a, b, "{name}: exact backend");
        }
    }
}

#[test]
fn random_4d_nets_witnesses_facets_and_volumes() {
    for seed in 400..410 {
        let net = random_dyadic_net(seed, 4, 2, 4);
        let slice = Slice::identity(Slice::default_box(4));
        let name = format!("4-D seed {seed}");
        let p = run(&net, &slice, LpBackend::Dense);
        // Exact 4-D vertices and volumes, summing to the box's 16 (inside `check`).
        check(&name, &net, &slice, &p);
        assert!(p.regions.iter().all(|r| r.volume.is_some()));
    }
}

#[test]
fn output_is_the_same_at_any_thread_count() {
    let slice = Slice::identity(Slice::default_box(3));
    let go = |net: &Network, threads: usize| {
        let r = Restricted::new(net, &slice).unwrap();
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                enumerate_lp(&r, &slice.domain, &EnumerateConfig::default(), &NoProgress).unwrap()
            })
    };
    // The first seed whose partition is big enough to be worth comparing.
    let (net, one) = (20..)
        .map(|seed| {
            let net = random_dyadic_net(seed, 3, 3, 6);
            let p = go(&net, 1);
            (net, p)
        })
        .find(|(_, p)| p.regions.len() >= 20)
        .unwrap();
    let four = go(&net, 4);
    assert_eq!(one.regions.len(), four.regions.len());
    for (a, b) in one.regions.iter().zip(&four.regions) {
        assert_eq!(a.pattern, b.pattern);
        assert_eq!(a.facets, b.facets);
        assert_eq!(a.witness, b.witness);
    }
    assert_eq!(one.lp_solves, four.lp_solves);
}

#[test]
fn the_checker_rejects_a_wrong_pattern_and_a_missing_region() {
    let (_, net, slice, _, _) = load_fixture(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/degenerate-3d/four-planes-through-one-point.json"),
    );
    let exact = Restricted::new(&net, &slice).unwrap().exact;
    let good = run(&net, &slice, LpBackend::Dense);
    assert_eq!(good.check(&exact, &slice.domain), Ok(()));
    let mut wrong = good.clone();
    wrong.regions[3].pattern[0] ^= 1;
    assert!(wrong
        .check(&exact, &slice.domain)
        .unwrap_err()
        .contains("region 3"));
    let mut missing = good.clone();
    missing.regions.pop();
    assert!(missing
        .check(&exact, &slice.domain)
        .unwrap_err()
        .contains("volumes"));
}

#[test]
fn max_regions_stops_cleanly_and_bad_dimensions_are_errors() {
    let net = random_dyadic_net(11, 3, 3, 6);
    let slice = Slice::identity(Slice::default_box(3));
    let r = Restricted::new(&net, &slice).unwrap();
    let full = enumerate_lp(&r, &slice.domain, &EnumerateConfig::default(), &NoProgress).unwrap();
    assert!(full.complete && full.regions.len() > 3);
    let cfg = EnumerateConfig {
        max_regions: Some(2),
        ..Default::default()
    };
    let cut = enumerate_lp(&r, &slice.domain, &cfg, &NoProgress).unwrap();
    assert!(!cut.complete);
    assert!(cut.regions.len() <= 2);
    let counts = full.counts();
    assert_eq!(counts.activation_regions, full.regions.len());
    assert_eq!(counts.per_layer.last(), Some(&full.regions.len()));
    assert!(counts.lp_solves > 0);
    // A 9-D slice is beyond the engine: a typed error, not a panic.
    let big = one_layer(&[vec![1; 10]]);
    let slice9 = Slice::identity(Slice::default_box(9));
    let r9 = Restricted::new(&big, &slice9).unwrap();
    let err = enumerate_lp(
        &r9,
        &slice9.domain,
        &EnumerateConfig::default(),
        &NoProgress,
    );
    assert!(
        matches!(err, Err(Error::Unsupported(_))),
        "{:?}",
        err.map(|p| p.regions.len())
    );
}

fn reference_net() -> Network {
    let path = format!(
        "{}/fixtures/bench/mlp-3-16x16x16-s0.json",
        env!("CARGO_MANIFEST_DIR")
    );
    Network::from_json(&std::fs::read_to_string(&path).unwrap(), &path).unwrap()
}

/// The benchmark network: 15 619 regions (a float64 LP tool and affinitree agree), certified
/// here; every witness's pattern is checked by an independent rational forward pass.
#[test]
fn reference_mlp_3_16x16x16_count() {
    let net = reference_net();
    let slice = Slice::identity(Slice::default_box(3));
    let r = Restricted::new(&net, &slice).unwrap();
    let p = enumerate_lp(&r, &slice.domain, &EnumerateConfig::default(), &NoProgress).unwrap();
    assert!(p.complete && p.certified);
    assert_eq!(p.per_layer, vec![592, 3524, 15_619]);
    let n = p.neurons();
    for (k, region) in p.regions.iter().enumerate().step_by(7) {
        let w = rationals(&region.witness);
        assert_eq!(
            relu_regions::pattern::to_string(&region.pattern, n),
            pattern_string(&pattern_at(&net, &w)),
            "region {k}"
        );
    }
}

/// The exact references of the 2-D and 1-D benchmark files (computed by an independent exact
/// program), through the lp engine.
#[test]
fn references_of_the_planar_benchmarks() {
    let dir = format!("{}/fixtures/bench", env!("CARGO_MANIFEST_DIR"));
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
    let digits = Network::from_json(&read("digits-64-64x3.json"), "digits").unwrap();
    let plane =
        Slice::from_json(&read("digits-plane-a.json"), "plane", digits.input_dim()).unwrap();
    let deep = Network::from_json(&read("mlp-1-64x64x64x64-s0.json"), "deep").unwrap();
    let line = Slice::identity(Slice::default_box(1));
    for (name, net, slice, expected) in [
        ("digits plane a", &digits, &plane, 1719),
        ("mlp-1-64x64x64x64", &deep, &line, 242),
    ] {
        let r = Restricted::new(net, slice).unwrap();
        let p = enumerate_lp(&r, &slice.domain, &EnumerateConfig::default(), &NoProgress).unwrap();
        assert_eq!(p.regions.len(), expected, "{name}");
        p.check(&r.exact, &slice.domain).unwrap();
    }
}

/// The same with exact vertices and volumes, every witness checked (slow in the test profile).
#[test]
fn reference_mlp_3_16x16x16_volumes() {
    if std::env::var("RELU_REGIONS_SLOW").is_err() {
        return;
    }
    let net = reference_net();
    let slice = Slice::identity(Slice::default_box(3));
    let p = run(&net, &slice, LpBackend::Dense);
    assert_eq!(p.regions.len(), 15_619);
    // Exact forward pass at every witness, facets, distinct patterns, volumes sum to 8.
    let exact = Restricted::new(&net, &slice).unwrap().exact;
    p.check(&exact, &slice.domain).unwrap();
    assert_eq!(p.volumes_sum_to(&slice.domain.volume()), Some(true));
}

// --- Regions files of the lp engine (facets, exact vertices and volumes, any d ≤ 4) ---------

fn lp_file(net: &Network, slice: &Slice) -> PartitionFile {
    let p = run(net, slice, LpBackend::Dense);
    lp_partition_file(&p, &slice.domain)
}

fn verify_file(net: &Network, slice: &Slice, file: &PartitionFile) -> Result<usize, String> {
    verify(&Restricted::new(net, slice).unwrap(), &slice.domain, file)
}

/// The engine's own files verify: degenerate 3-D fixtures (planes through box edges, through one
/// point, duplicated), 1e-300 slivers in 3-D and 4-D, random 4-D networks, and 2-D fixtures
/// (there the facet path of the checker replaces the polygon path).
#[test]
fn lp_regions_files_verify_in_2d_3d_and_4d() {
    let mut files = fixture_dir("fixtures/degenerate-3d");
    files.extend(
        fixture_dir("fixtures/extreme")
            .into_iter()
            .filter(|f| f.to_string_lossy().contains("slivers")),
    );
    files.extend(fixture_dir("fixtures/degenerate").into_iter().take(6));
    assert!(files.len() >= 13, "fixtures missing");
    for f in &files {
        let (name, net, slice, expected, _) = load_fixture(f);
        let file = lp_file(&net, &slice);
        assert!(file.regions.iter().all(|r| r.facets.len() > file.dim));
        assert_eq!(verify_file(&net, &slice, &file), Ok(expected), "{name}");
    }
    for seed in 400..404 {
        let net = random_dyadic_net(seed, 4, 2, 4);
        let slice = Slice::identity(Slice::default_box(4));
        let file = lp_file(&net, &slice);
        assert_eq!(
            verify_file(&net, &slice, &file),
            Ok(file.regions.len()),
            "4-D seed {seed}"
        );
    }
}

#[test]
fn lp_regions_files_reject_tampering() {
    // The first seed whose network has a few dozen regions (dyadic weights: many degeneracies).
    let slice = Slice::identity(Slice::default_box(3));
    let (net, good) = (7..)
        .map(|seed| {
            let net = random_dyadic_net(seed, 3, 2, 6);
            let file = lp_file(&net, &slice);
            (net, file)
        })
        .find(|(_, f)| f.regions.len() >= 24)
        .unwrap();
    assert_eq!(verify_file(&net, &slice, &good), Ok(good.regions.len()));
    let k = (0..good.regions.len())
        .max_by_key(|&r| good.regions[r].vertices.len())
        .unwrap();
    let tampered = |what: &str, edit: &dyn Fn(&mut PartitionFile)| {
        let mut file = good.clone();
        edit(&mut file);
        let verdict = verify_file(&net, &slice, &file);
        assert!(verdict.is_err(), "{what}: accepted");
        verdict.unwrap_err()
    };
    let e = tampered("a dropped vertex", &|f| {
        f.regions[k].vertices.pop();
    });
    assert!(
        e.contains("incomplete") || e.contains("measure"),
        "dropped vertex: {e}"
    );
    tampered("a moved vertex", &|f| {
        let v = &mut f.regions[k].vertices[0];
        let x = relu_regions::exact::number::parse_rational(&v[0]).unwrap() + q(1, 1 << 20);
        v[0] = relu_regions::exact::number::format_rational(&x);
    });
    tampered("a dropped facet", &|f| {
        f.regions[k].facets.remove(0);
    });
    tampered("a flipped pattern bit", &|f| {
        let p = &mut f.regions[k].pattern;
        let flipped = if p.starts_with('1') { "0" } else { "1" };
        p.replace_range(0..1, flipped);
    });
    tampered("a dropped region", &|f| {
        f.regions.remove(k);
    });
    tampered("a wrong measure", &|f| f.regions[k].measure = "1/3".into());
    // 1 500 positive multiples of one facet: each of its vertices lies on over a million pairs
    // of facets; the checker refuses instead of trying every pair.
    let e = tampered("a vertex on 1 500 facets", &|f| {
        let first = f.regions[k].facets[0].clone();
        for m in 2..1502i64 {
            let scaled = first
                .iter()
                .map(|x| (x.parse::<BigInt>().unwrap() * BigInt::from(m)).to_string())
                .collect();
            f.regions[k].facets.push(scaled);
        }
    });
    assert!(e.contains("too degenerate"), "{e}");
    // A region replaced by the whole box (consistent vertices, facets and measure): the box's
    // corners have other patterns.
    let e = tampered("a region grown to the box", &|f| {
        let r = &mut f.regions[k];
        r.facets = (0..3)
            .flat_map(|i| {
                [1, -1].map(|s| {
                    let mut row = vec!["0".to_string(); 4];
                    row[i] = s.to_string();
                    row[3] = "1".into();
                    row
                })
            })
            .collect();
        r.vertices = (0..8)
            .map(|c| {
                (0..3)
                    .map(|i| ["-1", "1"][c >> i & 1].to_string())
                    .collect()
            })
            .collect();
        r.measure = "8".into();
    });
    assert!(
        e.contains("sum") || e.contains("neuron") || e.contains("witness"),
        "{e}"
    );
}

/// The 3-D mesh files: one polygon per facet of every region with all the facet's vertices,
/// ordered counter-clockwise seen from outside (the Newell normal points away from the region's
/// centre), each region's surface closed (its polygons' area vectors sum to zero).
#[test]
fn mesh_files_hold_every_facet_outward_and_closed() {
    use relu_regions::mesh_file::{mesh_file, MeshFormat};
    for f in fixture_dir("fixtures/degenerate-3d") {
        let (name, net, slice, expected, _) = load_fixture(&f);
        let p = run(&net, &slice, LpBackend::Dense);
        let text = mesh_file(&p, MeshFormat::Ply, 1.0, None);
        let lines: Vec<&str> = text.lines().collect();
        let count = |key: &str| -> usize {
            lines
                .iter()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().last())
                .unwrap()
                .parse()
                .unwrap()
        };
        let (nv, nf) = (count("element vertex"), count("element face"));
        let facets: usize = p.regions.iter().map(|r| r.facets.len()).sum();
        assert_eq!(nf, facets, "{name}: one polygon per facet");
        let start = lines.iter().position(|l| *l == "end_header").unwrap() + 1;
        let xyz: Vec<[f64; 3]> = lines[start..start + nv]
            .iter()
            .map(|l| {
                let v: Vec<f64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
                [v[0], v[1], v[2]]
            })
            .collect();
        let faces: Vec<Vec<usize>> = lines[start + nv..start + nv + nf]
            .iter()
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .map(|x| x.parse().unwrap())
                    .collect()
            })
            .collect();
        // Regions' vertices come in order, so a face's first corner tells its region.
        let mut first_vertex = vec![0usize];
        for r in &p.regions {
            let n = r.vertices.as_ref().unwrap().len();
            first_vertex.push(first_vertex.last().unwrap() + n);
        }
        let mut closure = vec![[0.0f64; 3]; p.regions.len()];
        for face in &faces {
            let r = first_vertex.partition_point(|&s| s <= face[0]) - 1;
            let centre = {
                let (s, e) = (first_vertex[r], first_vertex[r + 1]);
                let mut c = [0.0; 3];
                for v in &xyz[s..e] {
                    for k in 0..3 {
                        c[k] += v[k] / (e - s) as f64;
                    }
                }
                c
            };
            let mut normal = [0.0; 3];
            for i in 0..face.len() {
                let (a, b) = (xyz[face[i]], xyz[face[(i + 1) % face.len()]]);
                normal[0] += (a[1] - b[1]) * (a[2] + b[2]);
                normal[1] += (a[2] - b[2]) * (a[0] + b[0]);
                normal[2] += (a[0] - b[0]) * (a[1] + b[1]);
            }
            let out: f64 = (0..3)
                .map(|k| normal[k] * (xyz[face[0]][k] - centre[k]))
                .sum();
            assert!(out > 0.0, "{name}: region {r}: a polygon faces inwards");
            for k in 0..3 {
                closure[r][k] += normal[k];
            }
        }
        for (r, c) in closure.iter().enumerate() {
            assert!(
                c.iter().all(|x| x.abs() < 1e-9),
                "{name}: region {r}'s surface is not closed: {c:?}"
            );
        }
        let vtk = mesh_file(&p, MeshFormat::Vtk, 0.9, None);
        assert!(vtk.contains(&format!("POLYGONS {nf} ")), "{name}: vtk");
        assert!(
            vtk.contains(&format!("relu-regions: {expected} regions")),
            "{name}"
        );
    }
}

/// A cross-section z = c of a 3-D partition holds exactly the regions whose exact vertices lie on
/// both sides of the plane (when none lies on it), with their patterns; a plane through three
/// corners of the cube cuts it in a triangle of area 1/2 (in the section's own coordinates).
#[test]
fn sections_hold_the_regions_the_plane_cuts() {
    use relu_regions::section::section_slice;
    let box3 = Slice::identity(Slice::default_box(3));
    for seed in 20..26 {
        let net = random_dyadic_net(seed, 3, 2, 5);
        let p = run(&net, &box3, LpBackend::Dense);
        let c = q(1, 7);
        let z = |v: &ExactPoint| v.coord(2);
        let vertices = |r: &relu_regions::engine::lp::LpRegion| -> Vec<Q> {
            r.vertices
                .as_ref()
                .unwrap()
                .iter()
                .map(|(v, _)| z(v))
                .collect()
        };
        assert!(p.regions.iter().all(|r| !vertices(r).contains(&c)));
        let cut: HashSet<String> = (0..p.regions.len())
            .filter(|&r| {
                let zs = vertices(&p.regions[r]);
                zs.iter().any(|x| *x < c) && zs.iter().any(|x| *x > c)
            })
            .map(|r| p.pattern_string(r))
            .collect();
        let section = section_slice(&box3, "z=1/7", "--section").unwrap();
        assert_eq!(section.domain.volume(), qi(4));
        let r2 = Restricted::new(&net, &section).unwrap();
        let cfg = EnumerateConfig {
            engine: EngineChoice::Planar,
            ..Default::default()
        };
        let s = enumerate(&r2, &section.domain, &cfg, &NoProgress).unwrap();
        let got: HashSet<String> = (0..s.regions.len()).map(|r| s.pattern_string(r)).collect();
        assert_eq!(got, cut, "seed {seed}");
    }
    let triangle = section_slice(
        &box3,
        r#"{"through": [[-1, -1, -1], [1, 1, -1], [1, -1, 1]]}"#,
        "section.json",
    )
    .unwrap();
    assert_eq!(triangle.domain.volume(), q(1, 2));
    for bad in ["z=2", "q=0", "z", "x=0,y=0", "z=0,t4=0"] {
        assert!(section_slice(&box3, bad, "--section").is_err(), "{bad}");
    }
    let outside = r#"{"origin": [0, 0, 5], "basis": [[1, 0, 0], [0, 1, 0]]}"#;
    let e = section_slice(&box3, outside, "s.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("misses the box"), "{e}");
}
