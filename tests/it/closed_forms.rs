//! Counts with closed forms: hyperplane arrangements, central arrangements, the tent map.

use crate::support::*;
use num_traits::{Signed, Zero};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use relu_regions::Slice;

/// n random lines a·x + b·y + c (small integers) and their exact pairwise crossings, or None
/// when two are parallel or three meet in a point (not general position).
/// Lines (a, b, c) and their pairwise crossings.
type Arrangement = (Vec<[i64; 3]>, Vec<[Q; 2]>);

fn random_lines(seed: u64, n: usize) -> Option<Arrangement> {
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
    let mut crossings = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let [a1, b1, c1] = lines[i];
            let [a2, b2, c2] = lines[j];
            let det = a1 * b2 - a2 * b1;
            if det == 0 {
                return None;
            }
            crossings.push([q(-c1 * b2 + c2 * b1, det), q(-a1 * c2 + a2 * c1, det)]);
        }
    }
    for (k, p) in crossings.iter().enumerate() {
        if crossings[k + 1..].contains(p) {
            return None;
        }
    }
    Some((lines, crossings))
}

fn one_layer(lines: &[[i64; 3]]) -> relu_regions::Network {
    let rows: Vec<&[i64]> = lines.iter().map(|l| &l[..]).collect();
    network(&[layer(&rows, 1)])
}

#[test]
fn general_position_with_every_crossing_inside() {
    let mut checked = 0;
    for seed in 0..40 {
        let n = 3 + (seed as usize % 6);
        let Some((lines, crossings)) = random_lines(seed, n) else {
            continue;
        };
        let lo = crossings.iter().flatten().map(|x| x.floor()).min().unwrap() - qi(1);
        let hi = crossings.iter().flatten().map(|x| x.ceil()).max().unwrap() + qi(1);
        let slice = Slice::identity(vec![(lo.clone(), hi.clone()), (lo, hi)]);
        let expected = 1 + n + n * (n - 1) / 2;
        assert_eq!(
            count_certified(&one_layer(&lines), &slice),
            expected,
            "seed {seed}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "too few general-position samples: {checked}");
}

#[test]
fn general_position_counts_only_the_crossings_inside() {
    // One layer, general position: regions = 1 + #lines meeting int K + #crossings inside K
    // (K = [-1,1]²).
    let mut checked = 0;
    for seed in 100..160 {
        let n = 3 + (seed as usize % 7);
        let Some((lines, crossings)) = random_lines(seed, n) else {
            continue;
        };
        let on_boundary = crossings
            .iter()
            .any(|p| p.iter().any(|x| x.abs() == qi(1)) && p.iter().all(|x| x.abs() <= qi(1)));
        if on_boundary {
            continue;
        }
        let corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)];
        let meets = lines
            .iter()
            .filter(|[a, b, c]| {
                let s: Vec<i64> = corners.iter().map(|(x, y)| a * x + b * y + c).collect();
                s.iter().any(|&v| v > 0) && s.iter().any(|&v| v < 0)
            })
            .count();
        let inside = crossings
            .iter()
            .filter(|p| p.iter().all(|x| x.abs() < qi(1)))
            .count();
        assert_eq!(
            count_certified(&one_layer(&lines), &square(-1, 1)),
            1 + meets + inside,
            "seed {seed}"
        );
        checked += 1;
    }
    assert!(checked >= 30, "too few samples: {checked}");
}

#[test]
fn central_arrangements_have_2n_regions() {
    for n in 1..=12i64 {
        // n distinct directions through (1/3, -1/5): a (x - 1/3) + b (y + 1/5), times 15.
        let lines: Vec<[i64; 3]> = (0..n)
            .map(|k| {
                let (a, b) = if k == n - 1 { (1, 0) } else { (k - 5, 1) };
                [15 * a, 15 * b, -5 * a + 3 * b]
            })
            .collect();
        // Directions must be pairwise distinct (no parallel pair) for the closed form.
        let distinct = (0..lines.len()).all(|i| {
            (i + 1..lines.len()).all(|j| lines[i][0] * lines[j][1] != lines[j][0] * lines[i][1])
        });
        assert!(distinct);
        assert_eq!(
            count_certified(&one_layer(&lines), &square(-1, 1)),
            2 * n as usize,
            "n = {n}"
        );
    }
}

#[test]
fn central_arrangement_in_one_dimension_has_two_regions() {
    for n in 1..=10i64 {
        // n neurons a_k (t - 3/7), a_k ≠ 0 of both signs.
        let rows: Vec<[i64; 2]> = (1..=n)
            .map(|k| {
                let a = if k % 2 == 0 { k } else { -k };
                [7 * a, -3 * a]
            })
            .collect();
        let rows: Vec<&[i64]> = rows.iter().map(|r| &r[..]).collect();
        let net = network(&[layer(&rows, 1)]);
        assert_eq!(
            count_certified(&net, &interval(qi(-1), qi(1))),
            2,
            "n = {n}"
        );
    }
}

/// t(x) = 2 relu(x) - 4 relu(x - 1/2), composed `depth` times.
pub fn tent(depth: usize) -> relu_regions::Network {
    let mut hidden = vec![layer(&[&[2, 0], &[2, -1]], 2)];
    for _ in 1..depth {
        hidden.push(layer(&[&[4, -8, 0], &[4, -8, -1]], 2));
    }
    network(&hidden)
}

/// The tent in x and in y side by side (block-diagonal layers).
pub fn tent_grid(depth: usize) -> relu_regions::Network {
    let mut hidden = vec![layer(
        &[&[2, 0, 0], &[2, 0, -1], &[0, 2, 0], &[0, 2, -1]],
        2,
    )];
    for _ in 1..depth {
        hidden.push(layer(
            &[
                &[4, -8, 0, 0, 0],
                &[4, -8, 0, 0, -1],
                &[0, 0, 4, -8, 0],
                &[0, 0, 4, -8, -1],
            ],
            2,
        ));
    }
    network(&hidden)
}

#[test]
fn tent_map_has_2_to_the_l_regions_with_dyadic_breakpoints() {
    for depth in 1..=9 {
        let net = tent(depth);
        let slice = interval(Q::zero(), qi(1));
        assert_eq!(count_certified(&net, &slice), 1 << depth, "depth {depth}");
        // Breakpoints exactly at k / 2^depth.
        let p = count(&net, &slice);
        let mut xs: Vec<Q> = p.exact_vertices().iter().map(|v| v.coord(0)).collect();
        xs.sort();
        let expected: Vec<Q> = (0..=(1i64 << depth)).map(|k| q(k, 1 << depth)).collect();
        assert_eq!(xs, expected, "depth {depth}");
    }
}

#[test]
fn tent_grid_has_4_to_the_l_regions() {
    for depth in 1..=5 {
        let net = tent_grid(depth);
        let slice = Slice::identity(vec![(Q::zero(), qi(1)), (Q::zero(), qi(1))]);
        assert_eq!(
            count_certified(&net, &slice),
            1 << (2 * depth),
            "depth {depth}"
        );
    }
}

#[test]
fn a_line_is_never_negative_zero() {
    // Sanity of the helpers themselves: the pattern at a point on a boundary is inactive.
    let net = network(&[layer(&[&[1, 0, 0]], 1)]);
    assert_eq!(pattern_at(&net, &[Q::zero(), qi(1)]), vec![false]);
    assert!(!q(0, 1).is_positive());
}

#[test]
fn general_position_in_a_convex_polygon_window() {
    // One layer, general position: regions = 1 + #lines meeting int K + #crossings inside K,
    // K a convex pentagon.
    let k: Vec<[Q; 2]> = vec![
        [q(-1, 1), q(-1, 1)],
        [q(3, 2), q(-1, 2)],
        [q(1, 1), q(5, 4)],
        [q(-1, 3), q(3, 2)],
        [q(-3, 2), q(1, 4)],
    ];
    let inside = |p: &[Q; 2]| {
        (0..k.len()).all(|i| {
            let (a, b) = (&k[i], &k[(i + 1) % k.len()]);
            let cross = (&b[0] - &a[0]) * (&p[1] - &a[1]) - (&b[1] - &a[1]) * (&p[0] - &a[0]);
            cross.is_positive()
        })
    };
    let mut checked = 0;
    for seed in 300..360 {
        let n = 3 + (seed as usize % 6);
        let Some((lines, crossings)) = random_lines(seed, n) else {
            continue;
        };
        let value = |l: &[i64; 3], p: &[Q; 2]| qi(l[0]) * &p[0] + qi(l[1]) * &p[1] + qi(l[2]);
        // Skip degenerate draws: a line through a corner or a crossing on the boundary.
        if lines
            .iter()
            .any(|l| k.iter().any(|c| value(l, c).is_zero()))
        {
            continue;
        }
        let on_boundary = crossings.iter().any(|p| {
            !inside(p)
                && (0..k.len()).any(|i| {
                    let (a, b) = (&k[i], &k[(i + 1) % k.len()]);
                    let cross =
                        (&b[0] - &a[0]) * (&p[1] - &a[1]) - (&b[1] - &a[1]) * (&p[0] - &a[0]);
                    cross.is_zero()
                        && (0..2).all(|c| {
                            p[c] >= a[c].clone().min(b[c].clone())
                                && p[c] <= a[c].clone().max(b[c].clone())
                        })
                })
        });
        if on_boundary {
            continue;
        }
        let meets = lines
            .iter()
            .filter(|l| {
                let s: Vec<Q> = k.iter().map(|c| value(l, c)).collect();
                s.iter().any(|v| v.is_positive()) && s.iter().any(|v| v.is_negative())
            })
            .count();
        let inner = crossings.iter().filter(|p| inside(p)).count();
        let slice = Slice {
            origin: vec![Q::zero(), Q::zero()],
            basis: vec![vec![qi(1), Q::zero()], vec![Q::zero(), qi(1)]],
            domain: relu_regions::Domain::Polygon(k.clone()),
        };
        assert_eq!(
            count_certified(&one_layer(&lines), &slice),
            1 + meets + inner,
            "seed {seed}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "too few samples: {checked}");
}

/// A wide layer of nearly parallel lines that all cross the box and meet far outside it: n + 1
/// regions. (A worst-case memory reservation for the s(s + 3)/2 possible crossings once made
/// 2 000 such lines abort; a face cut by many lines must only pay for the crossings it has.)
#[test]
fn many_nearly_parallel_lines_make_n_plus_one_strips() {
    let n: i64 = 1500;
    let w: Vec<Vec<Q>> = (0..n).map(|i| vec![q(i + 1, 10_000_000), qi(-1)]).collect();
    let b: Vec<Q> = (0..n).map(|i| q(i - n / 2, n / 2 + 1)).collect();
    let net = network(&[(w, b)]);
    let p = count(&net, &square(-1, 1));
    assert_eq!(p.regions.len() as i64, n + 1);
}
