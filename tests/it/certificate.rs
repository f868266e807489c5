//! `verify` accepts what the engine writes and rejects tampered files; output is identical at
//! any thread count.

use crate::closed_forms::tent_grid;
use crate::support::*;
use relu_regions::certificate::{partition_file, verify, PartitionFile};
use relu_regions::{count_regions, EnumerateConfig, Network, Restricted, Slice};

fn bench_net() -> Network {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/nets/default-2-16-16-16.json"
    ))
    .unwrap();
    Network::from_json(&text, "default").unwrap()
}

fn check(net: &Network, slice: &Slice, file: &PartitionFile) -> Result<usize, String> {
    let r = Restricted::new(net, slice).unwrap();
    verify(&r, &slice.domain, file)
}

#[test]
fn accepts_engine_partitions() {
    let s = square(-1, 1);
    let net = bench_net();
    let file = certificate_of(&net, &s);
    assert_eq!(check(&net, &s, &file), Ok(file.regions.len()));
    let grid = tent_grid(3);
    let unit = Slice::identity(vec![(qi(0), qi(1)), (qi(0), qi(1))]);
    assert_eq!(check(&grid, &unit, &certificate_of(&grid, &unit)), Ok(64));
}

#[test]
fn rejects_a_moved_vertex() {
    let s = square(-1, 1);
    let net = bench_net();
    let mut file = certificate_of(&net, &s);
    // Move an interior vertex of region 10 a little along x.
    let r = &mut file.regions[10];
    let k = r
        .vertices
        .iter()
        .position(|v| v[0] != "-1" && v[0] != "1" && v[1] != "-1" && v[1] != "1")
        .unwrap();
    let x = relu_regions::exact::number::parse_rational(&r.vertices[k][0]).unwrap() + q(1, 1000);
    r.vertices[k][0] = relu_regions::exact::number::format_rational(&x);
    assert!(check(&net, &s, &file).is_err());
}

#[test]
fn rejects_a_flipped_pattern_bit() {
    let s = square(-1, 1);
    let net = bench_net();
    for bit in [0, 17, 40] {
        let mut file = certificate_of(&net, &s);
        let p = &mut file.regions[3].pattern;
        let flipped: String = p
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == bit {
                    if c == '1' {
                        '0'
                    } else {
                        '1'
                    }
                } else {
                    c
                }
            })
            .collect();
        *p = flipped;
        assert!(check(&net, &s, &file).is_err(), "bit {bit}");
    }
}

#[test]
fn rejects_a_dropped_region() {
    let s = square(-1, 1);
    let net = bench_net();
    let mut file = certificate_of(&net, &s);
    file.regions.remove(7);
    let err = check(&net, &s, &file).unwrap_err();
    assert!(err.contains("sum"), "{err}");
}

#[test]
fn rejects_a_region_split_in_two() {
    // Two halves of one region with the same pattern: areas still sum, patterns repeat.
    let net = network(&[layer(&[&[1, 0, 0]], 1)]);
    let s = square(-1, 1);
    let mut file = certificate_of(&net, &s);
    let mut half = file.regions[0].clone();
    file.regions[0].vertices = vec![
        vec!["0".into(), "-1".into()],
        vec!["1".into(), "-1".into()],
        vec!["1".into(), "0".into()],
        vec!["0".into(), "0".into()],
    ];
    file.regions[0].witness = vec!["1/2".into(), "-1/2".into()];
    half.vertices = vec![
        vec!["0".into(), "0".into()],
        vec!["1".into(), "0".into()],
        vec!["1".into(), "1".into()],
        vec!["0".into(), "1".into()],
    ];
    half.witness = vec!["1/2".into(), "1/2".into()];
    file.regions.push(half);
    let err = check(&net, &s, &file).unwrap_err();
    assert!(err.contains("repeats"), "{err}");
}

#[test]
fn identical_output_at_one_and_two_threads() {
    let net = bench_net();
    let s = square(-1, 1);
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let p = count_regions(&net, &s, &EnumerateConfig::default()).unwrap();
            serde_json::to_string(&partition_file(&p)).unwrap()
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn max_regions_stops_cleanly_with_a_lower_bound() {
    let net = bench_net();
    let s = square(-1, 1);
    let full = count(&net, &s).regions.len();
    let cfg = EnumerateConfig {
        max_regions: Some(200),
        ..Default::default()
    };
    let p = count_regions(&net, &s, &cfg).unwrap();
    assert!(!p.complete);
    assert!(p.regions.len() <= full && p.per_layer.len() < 3);
    // What was found is a valid partition of the truncated network's regions.
    assert!(p.regions.len() <= 200 || p.per_layer.is_empty());
}

/// A stop inside the first layer's second round (`EnumerateConfig::first_round_from`) leaves
/// the domain whole, not the first round's pieces (which are no partition of any network).
#[test]
fn a_stop_inside_the_first_layer_leaves_the_domain() {
    let net = bench_net();
    let s = square(-1, 1);
    let full = count(&net, &s);
    let cfg = EnumerateConfig {
        max_regions: Some(full.per_layer[0] - 1),
        first_round_from: 1,
        ..Default::default()
    };
    let p = count_regions(&net, &s, &cfg).unwrap();
    assert!(!p.complete && p.per_layer.is_empty());
    assert_eq!(p.regions.len(), 1);
    assert_eq!(p.regions.iter().next().unwrap().verts.len(), 4);
}
