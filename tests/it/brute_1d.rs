//! 1-D against brute force: breakpoints found layer by layer with plain rational arithmetic
//! (exact forward passes at interval ends, roots by linear interpolation), no engine code.

use crate::support::*;
use num_traits::{Signed, Zero};
use relu_regions::Network;

/// Exact pre-activations of hidden layer `upto` at x.
fn preact(net: &Network, x: &Q, upto: usize) -> Vec<Q> {
    let mut h = vec![x.clone()];
    for (l, layer) in net.hidden_layers().iter().enumerate() {
        let z: Vec<Q> = (0..layer.n_out)
            .map(|i| {
                (0..layer.n_in).fold(layer.bias[i].exact(), |acc, j| {
                    acc + layer.weight.vals[i * layer.n_in + j].exact() * &h[j]
                })
            })
            .collect();
        if l == upto {
            return z;
        }
        h = z
            .into_iter()
            .map(|v| if v.is_positive() { v } else { Q::zero() })
            .collect();
    }
    unreachable!()
}

/// Sorted breakpoints and the region count on [lo, hi].
fn brute_force(net: &Network, lo: Q, hi: Q) -> (Vec<Q>, usize) {
    let mut points = vec![lo, hi];
    for l in 0..net.hidden_layers().len() {
        let mut found = Vec::new();
        for w in points.windows(2) {
            let (za, zb) = (preact(net, &w[0], l), preact(net, &w[1], l));
            for (a, b) in za.iter().zip(&zb) {
                if (a.is_positive() && b.is_negative()) || (a.is_negative() && b.is_positive()) {
                    found.push(&w[0] + (&w[1] - &w[0]) * a / (a - b));
                }
            }
        }
        points.extend(found);
        points.sort();
        points.dedup();
    }
    let patterns: Vec<Vec<bool>> = points
        .windows(2)
        .map(|w| pattern_at(net, &[(&w[0] + &w[1]) / qi(2)]))
        .collect();
    let mut regions = 1;
    let mut breaks = vec![points[0].clone()];
    for k in 1..patterns.len() {
        if patterns[k] != patterns[k - 1] {
            regions += 1;
            breaks.push(points[k].clone());
        }
    }
    breaks.push(points.last().unwrap().clone());
    (breaks, regions)
}

#[test]
fn segment_engine_matches_brute_force_breakpoints() {
    for seed in 0..150 {
        let net = random_dyadic_net(seed, 1, 4, 6);
        let (lo, hi) = (q(-3, 2), q(5, 4));
        let (breaks, regions) = brute_force(&net, lo.clone(), hi.clone());
        let slice = interval(lo, hi);
        assert_eq!(count_certified(&net, &slice), regions, "seed {seed}");
        let p = count(&net, &slice);
        let pts = p.exact_vertices();
        let mut ours: Vec<Q> = p
            .regions
            .iter()
            .map(|r| pts[r.verts[0] as usize].coord(0))
            .collect();
        ours.push(pts[p.regions.last().unwrap().verts[1] as usize].coord(0));
        ours.sort();
        assert_eq!(ours, breaks, "seed {seed}");
    }
}
