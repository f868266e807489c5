//! Properties on small random 2-D networks with small dyadic weights (many exact degeneracies):
//! exact areas sum to the domain's, each witness has its region's pattern, patterns are
//! distinct, a dense grid never sees a pattern the partition lacks, and the certificate holds.

use crate::support::*;
use num_traits::Zero;
use relu_regions::certificate::partition_file;
use relu_regions::exact::number::parse_rational;
use relu_regions::{Network, Slice};
use std::collections::HashSet;

fn check(seed: u64, net: &Network, slice: &Slice) {
    let regions = count_certified(net, slice);
    let file = partition_file(&count(net, slice));
    assert_eq!(file.regions.len(), regions);
    // Exact measures sum to the domain's.
    let total = file.regions.iter().fold(Q::zero(), |acc, r| {
        acc + parse_rational(&r.measure).unwrap()
    });
    assert_eq!(total, slice.domain.volume(), "seed {seed}: areas");
    // Witnesses have their region's pattern; patterns are distinct.
    let mut patterns = HashSet::new();
    for r in &file.regions {
        let w: Vec<Q> = r
            .witness
            .iter()
            .map(|x| parse_rational(x).unwrap())
            .collect();
        assert_eq!(
            pattern_string(&pattern_at(net, &w)),
            r.pattern,
            "seed {seed}: witness"
        );
        assert!(
            patterns.insert(r.pattern.clone()),
            "seed {seed}: repeated pattern"
        );
    }
    // A dense grid of generic points sees only patterns the partition has.
    let relu_regions::Domain::Box(b) = &slice.domain else {
        unreachable!()
    };
    let m = 23i64;
    for i in 0..m {
        for j in 0..m {
            let x = &b[0].0 + (&b[0].1 - &b[0].0) * q(2 * i + 1, 2 * m);
            let y = &b[1].0 + (&b[1].1 - &b[1].0) * q(2 * j + 1, 2 * m);
            if let Some(p) = generic_pattern(net, &[x, y]) {
                assert!(
                    patterns.contains(&p),
                    "seed {seed}: grid point ({i},{j}) has pattern {p} that no region has"
                );
            }
        }
    }
}

#[test]
fn random_dyadic_networks_on_the_square() {
    for seed in 0..120 {
        check(seed, &random_dyadic_net(seed, 2, 3, 6), &square(-1, 1));
    }
}

#[test]
fn random_dyadic_networks_on_a_shifted_box() {
    for seed in 500..560 {
        let slice = Slice::identity(vec![(q(-1, 2), q(3, 4)), (q(-5, 4), qi(1))]);
        check(seed, &random_dyadic_net(seed, 2, 3, 6), &slice);
    }
}

/// Wide first layers, which `count_certified` also splits in two rounds: small integer weights
/// give duplicate neurons, lines through the corners and many lines through one point of the
/// boundary, spread over both rounds.
#[test]
fn random_dyadic_networks_with_a_wide_first_layer() {
    for seed in 900..960 {
        check(seed, &random_dyadic_net(seed, 2, 2, 24), &square(-1, 1));
    }
}
