//! A differential fuzz test: random small networks with the degeneracies exact counting is for —
//! duplicate neurons, scaled and opposite copies, several boundaries through one point, zero
//! biases, dead neurons, exact rationals such as 1/3 — counted by every engine and compared with
//! a brute-force exact count written here from the definition (convex cells split by each
//! neuron's boundary, exact rationals throughout, nothing shared with the engines).
//!
//! `RELU_REGIONS_FUZZ_CASES=N` sets the number of cases per dimension (default 300, about a second in
//! a debug build); the seeds are fixed, so a failure names its reproducible case.

use crate::support::{network, q, Q};
use num_traits::{Signed, Zero};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use relu_regions::engine::lp::enumerate_lp;
use relu_regions::{
    enumerate, EngineChoice, EnumerateConfig, Network, NoProgress, Restricted, Slice,
};

fn cases() -> u64 {
    std::env::var("RELU_REGIONS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

type Rows = Vec<Vec<Q>>;

/// A random hidden layer on `n_in` inputs with injected degeneracies.
fn degenerate_layer(rng: &mut ChaCha8Rng, n_in: usize, width: usize) -> (Rows, Vec<Q>) {
    let mut w: Rows = Vec::new();
    let mut b: Vec<Q> = Vec::new();
    let zero_bias = rng.random_range(0..4) == 0;
    while w.len() < width {
        let kind = rng.random_range(0..10);
        let prev = (!w.is_empty()).then(|| rng.random_range(0..w.len()));
        match (kind, prev) {
            // A duplicate, a scaled copy (2 or 1/3) or an opposite copy of an earlier neuron.
            (0, Some(p)) => {
                w.push(w[p].clone());
                b.push(b[p].clone());
            }
            (1, Some(p)) => {
                let s = if rng.random_range(0..2) == 0 {
                    q(2, 1)
                } else {
                    q(1, 3)
                };
                w.push(w[p].iter().map(|x| x * &s).collect());
                b.push(&b[p] * &s);
            }
            (2, Some(p)) => {
                w.push(w[p].iter().map(|x| -x).collect());
                b.push(-&b[p]);
            }
            // A dead neuron (negative constant) or a constant positive one.
            (3, _) => {
                w.push(vec![Q::zero(); n_in]);
                b.push(if rng.random_range(0..2) == 0 {
                    q(-1, 2)
                } else {
                    q(1, 2)
                });
            }
            _ => {
                w.push(
                    (0..n_in)
                        .map(|_| q(rng.random_range(-3..=3), rng.random_range(1..=3)))
                        .collect(),
                );
                b.push(if zero_bias {
                    Q::zero()
                } else {
                    q(rng.random_range(-2..=2), rng.random_range(1..=3))
                });
            }
        }
    }
    (w, b)
}

fn random_net(seed: u64, d: usize) -> (Network, Vec<(Rows, Vec<Q>)>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let depth = rng.random_range(1..=3);
    let mut n_in = d;
    let mut hidden = Vec::new();
    for _ in 0..depth {
        let width = rng.random_range(1..=5);
        hidden.push(degenerate_layer(&mut rng, n_in, width));
        n_in = width;
    }
    (network(&hidden), hidden)
}

/// An affine function of t: coefficients then constant.
type Affine = Vec<Q>;

/// A convex cell by its vertices (d = 1: the interval's two ends).
type Cell = Vec<Vec<Q>>;

fn eval(f: &Affine, t: &[Q]) -> Q {
    let d = t.len();
    let mut s = f[d].clone();
    for k in 0..d {
        s += &f[k] * &t[k];
    }
    s
}

/// Splits a convex cell (d = 1: [a, b]; d = 2: a polygon) where `f` changes sign into its
/// positive and negative parts (either may be None); each part keeps the points where f = 0.
fn clip(cell: &[Vec<Q>], f: &Affine) -> (Option<Cell>, Option<Cell>) {
    let s: Vec<Q> = cell.iter().map(|v| eval(f, v)).collect();
    let pos = s.iter().any(Signed::is_positive);
    let neg = s.iter().any(Signed::is_negative);
    if !(pos && neg) {
        return if pos {
            (Some(cell.to_vec()), None)
        } else {
            (None, Some(cell.to_vec()))
        };
    }
    let crossing = |i: usize, j: usize| -> Vec<Q> {
        let t = &s[i] / (&s[i] - &s[j]);
        cell[i]
            .iter()
            .zip(&cell[j])
            .map(|(a, b)| a + (b - a) * &t)
            .collect()
    };
    let n = cell.len();
    let (mut p, mut m) = (Vec::new(), Vec::new());
    if n == 2 {
        // An interval [a, b]: the root splits it.
        let r = crossing(0, 1);
        let (lo_pos, hi) = (s[0].is_positive(), r);
        if lo_pos {
            return (
                Some(vec![cell[0].clone(), hi.clone()]),
                Some(vec![hi, cell[1].clone()]),
            );
        }
        return (
            Some(vec![hi.clone(), cell[1].clone()]),
            Some(vec![cell[0].clone(), hi]),
        );
    }
    for i in 0..n {
        let j = (i + 1) % n;
        if !s[i].is_negative() {
            p.push(cell[i].clone());
        }
        if !s[i].is_positive() {
            m.push(cell[i].clone());
        }
        if (s[i].is_positive() && s[j].is_negative()) || (s[i].is_negative() && s[j].is_positive())
        {
            let x = crossing(i, j);
            p.push(x.clone());
            m.push(x);
        }
    }
    (Some(p), Some(m))
}

/// The brute-force count: the domain cell split layer by layer, neuron by neuron; each cell
/// carries its layer's inputs as affine functions of t (exact).
fn brute_force(d: usize, hidden: &[(Rows, Vec<Q>)], domain: Vec<Vec<Q>>) -> usize {
    let identity: Vec<Affine> = (0..d)
        .map(|k| {
            (0..=d)
                .map(|c| if c == k { q(1, 1) } else { Q::zero() })
                .collect()
        })
        .collect();
    let mut cells: Vec<(Vec<Vec<Q>>, Vec<Affine>)> = vec![(domain, identity)];
    for (w, b) in hidden {
        let mut next = Vec::new();
        for (cell, h) in cells {
            // z_j = b_j + Σ_k w_jk h_k, affine in t.
            let z: Vec<Affine> = w
                .iter()
                .zip(b)
                .map(|(row, bj)| {
                    (0..=d)
                        .map(|c| {
                            let mut s = if c == d { bj.clone() } else { Q::zero() };
                            for (wk, hk) in row.iter().zip(&h) {
                                s += wk * &hk[c];
                            }
                            s
                        })
                        .collect()
                })
                .collect();
            let mut pieces: Vec<(Vec<Vec<Q>>, Vec<bool>)> = vec![(cell, Vec::new())];
            for f in &z {
                let mut split = Vec::new();
                for (piece, bits) in pieces {
                    let (p, m) = clip(&piece, f);
                    if let Some(p) = p {
                        let mut bits_p = bits.clone();
                        bits_p.push(true);
                        split.push((p, bits_p));
                    }
                    if let Some(m) = m {
                        let mut bits_m = bits;
                        bits_m.push(false);
                        split.push((m, bits_m));
                    }
                }
                pieces = split;
            }
            for (piece, bits) in pieces {
                let h: Vec<Affine> = z
                    .iter()
                    .zip(&bits)
                    .map(|(f, &on)| {
                        if on {
                            f.clone()
                        } else {
                            vec![Q::zero(); d + 1]
                        }
                    })
                    .collect();
                next.push((piece, h));
            }
        }
        cells = next;
    }
    cells.len()
}

fn engines(net: &Network, slice: &Slice) -> (usize, usize) {
    let r = Restricted::new(net, slice).unwrap();
    let planar = enumerate(&r, &slice.domain, &EnumerateConfig::default(), &NoProgress).unwrap();
    assert!(planar.certified && planar.complete);
    // Float bounds per neuron from the second layer: the same partition.
    let per_neuron = EnumerateConfig {
        per_neuron_bounds_from: 0,
        ..EnumerateConfig::default()
    };
    let other = enumerate(&r, &slice.domain, &per_neuron, &NoProgress).unwrap();
    assert!(other.certified && other.complete);
    assert_eq!(other.defs, planar.defs, "bounds per neuron: vertices");
    assert_eq!(other.regions.len(), planar.regions.len());
    // Bounds through the layers' 2-norms alone: the same partition.
    let norms_alone = EnumerateConfig {
        norms_alone_from: 0,
        ..per_neuron
    };
    let other = enumerate(&r, &slice.domain, &norms_alone, &NoProgress).unwrap();
    assert!(other.certified && other.complete);
    assert_eq!(other.defs, planar.defs, "bounds through norms: vertices");
    let cfg = EnumerateConfig {
        engine: EngineChoice::Lp,
        ..EnumerateConfig::default()
    };
    let lp = enumerate_lp(&r, &slice.domain, &cfg, &NoProgress).unwrap();
    (planar.regions.len(), lp.regions.len())
}

#[test]
fn one_and_two_dimensional_networks_against_brute_force() {
    for d in [1usize, 2] {
        for seed in 0..cases() {
            let (net, hidden) = random_net(1000 * d as u64 + seed, d);
            let (lo, hi) = (q(-1, 1), q(1, 1));
            let domain: Vec<Vec<Q>> = if d == 1 {
                vec![vec![lo.clone()], vec![hi.clone()]]
            } else {
                vec![
                    vec![lo.clone(), lo.clone()],
                    vec![hi.clone(), lo.clone()],
                    vec![hi.clone(), hi.clone()],
                    vec![lo.clone(), hi.clone()],
                ]
            };
            let want = brute_force(d, &hidden, domain);
            let slice = Slice::identity(Slice::default_box(d));
            let (planar, lp) = engines(&net, &slice);
            assert_eq!(planar, want, "d = {d}, seed {seed}: planar engine");
            assert_eq!(lp, want, "d = {d}, seed {seed}: lp engine");
        }
    }
}

/// 3-D: neurons that each see one coordinate (duplicated, scaled, opposite, dead, on the box's
/// faces, several through one point) make a grid of boxes: the count is the product over the
/// axes of 1 + the distinct breakpoints strictly inside (-1, 1).
#[test]
fn three_dimensional_axis_networks_against_the_closed_form() {
    for seed in 0..cases() {
        let mut rng = ChaCha8Rng::seed_from_u64(3000 + seed);
        let points = [
            q(-1, 1),
            q(-1, 2),
            q(0, 1),
            q(1, 3),
            q(1, 2),
            q(1, 1),
            q(3, 2),
        ];
        let mut rows = Vec::new();
        let mut bias = Vec::new();
        let mut breaks: Vec<std::collections::BTreeSet<Q>> = vec![Default::default(); 3];
        for _ in 0..rng.random_range(1..=7) {
            let axis = rng.random_range(0..3);
            let at = points[rng.random_range(0..points.len())].clone();
            // scale · (t_axis − at), scale in {±1, ±2, ±1/3}; or a dead neuron.
            if rng.random_range(0..6) == 0 {
                rows.push(vec![Q::zero(); 3]);
                bias.push(q(-1, 1));
                continue;
            }
            let scale = [q(1, 1), q(-1, 1), q(2, 1), q(-1, 3)][rng.random_range(0..4)].clone();
            let mut w = vec![Q::zero(); 3];
            w[axis] = scale.clone();
            rows.push(w);
            bias.push(-(&scale * &at));
            if at > q(-1, 1) && at < q(1, 1) {
                breaks[axis].insert(at);
            }
        }
        let want: usize = breaks.iter().map(|b| 1 + b.len()).product();
        let net = network(&[(rows, bias)]);
        let slice = Slice::identity(Slice::default_box(3));
        let r = Restricted::new(&net, &slice).unwrap();
        let cfg = EnumerateConfig {
            engine: EngineChoice::Lp,
            ..EnumerateConfig::default()
        };
        let lp = enumerate_lp(&r, &slice.domain, &cfg, &NoProgress).unwrap();
        assert_eq!(lp.regions.len(), want, "seed {seed}");
    }
}
