//! Exact vertices, edges and volumes of bounded polytopes `{t : a_i·t + c_i ≥ 0}` in any
//! dimension, by walking the vertex–edge graph (no float filter, no subset enumeration).
//!
//! - **Edges at a vertex** v with tight set T: every (d−1)-subset S of T with independent
//!   normals fixes a direction r (the generalised cross product, exact cofactors); r or −r is an
//!   edge when it keeps every tight halfspace (a_i·r ≥ 0 on T). The other end is found by ray
//!   shooting: the smallest `slack_j / (−a_j·r)` over the halfspaces r leaves.
//! - **Vertices**: from any point of the polytope, move inside the tight hyperplanes until d
//!   independent ones are tight (a vertex), then breadth-first over edges. The vertex–edge graph
//!   of a polytope is connected (Balinski), so this finds them all; the same walk lets a checker
//!   prove a listed vertex set complete ([`missing_neighbour`]).
//! - **Volume**: the pulling triangulation from each face's first vertex, faces found from the
//!   vertex–facet incidences alone (the facets of a face F are the maximal proper nonempty sets
//!   F ∩ H_j), so redundant halfspaces and non-simple vertices need no special case.
//!
//! Cost grows with the vertex count and with C(|T|, d−1) at degenerate vertices; it is meant for
//! outputs and checks of small-dimensional regions (the lp engine writes vertices for d ≤ 4).

use super::{ExactPoint, LineEq};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::cmp::Ordering;
use std::collections::HashSet;

/// A vertex with the (sorted) indices of the halfspaces tight there.
pub type Vertex = (ExactPoint, Vec<usize>);

/// `(a·p + c) · p.den`: its sign is the side of `p`.
fn slack(f: &LineEq, p: &ExactPoint) -> BigInt {
    let mut s = &f.c * &p.den;
    for (a, x) in f.a.iter().zip(&p.num) {
        s += a * x;
    }
    s
}

fn dot(a: &[BigInt], r: &[BigInt]) -> BigInt {
    a.iter().zip(r).fold(BigInt::zero(), |s, (x, y)| s + x * y)
}

/// The halfspaces tight at `p`, or `None` when `p` violates one.
pub fn tight_set(facets: &[LineEq], p: &ExactPoint) -> Option<Vec<usize>> {
    let mut tight = Vec::new();
    for (j, f) in facets.iter().enumerate() {
        match slack(f, p).sign() {
            num_bigint::Sign::Minus => return None,
            num_bigint::Sign::NoSign => tight.push(j),
            num_bigint::Sign::Plus => {}
        }
    }
    Some(tight)
}

/// Determinant of a square integer matrix (Bareiss, fraction-free; 1 for 0 × 0).
pub fn det(mut m: Vec<Vec<BigInt>>) -> BigInt {
    let n = m.len();
    if n == 0 {
        return BigInt::one();
    }
    let mut negate = false;
    let mut prev = BigInt::one();
    for k in 0..n {
        let Some(p) = (k..n).find(|&r| !m[r][k].is_zero()) else {
            return BigInt::zero();
        };
        if p != k {
            m.swap(p, k);
            negate = !negate;
        }
        for i in k + 1..n {
            for j in k + 1..n {
                // Exact: Bareiss's quotients are minors of the matrix.
                let v = (&m[i][j] * &m[k][k] - &m[i][k] * &m[k][j]) / &prev;
                m[i][j] = v;
            }
        }
        prev = m[k][k].clone();
    }
    if negate {
        -prev
    } else {
        prev
    }
}

/// Rank of a list of integer vectors (Bareiss elimination with row swaps).
pub fn rank(rows: &[&[BigInt]]) -> usize {
    let mut m: Vec<Vec<BigInt>> = rows.iter().map(|r| r.to_vec()).collect();
    let cols = m.first().map_or(0, Vec::len);
    let mut prev = BigInt::one();
    let mut r = 0;
    for c in 0..cols {
        let Some(p) = (r..m.len()).find(|&i| !m[i][c].is_zero()) else {
            continue;
        };
        m.swap(p, r);
        for i in r + 1..m.len() {
            for j in c + 1..cols {
                let v = (&m[i][j] * &m[r][c] - &m[i][c] * &m[r][j]) / &prev;
                m[i][j] = v;
            }
            m[i][c] = BigInt::zero();
        }
        prev = m[r][c].clone();
        r += 1;
        if r == m.len() {
            break;
        }
    }
    r
}

/// The direction orthogonal to d − 1 vectors of length d (cofactors); zero when they are
/// dependent.
fn cross(rows: &[&[BigInt]], d: usize) -> Vec<BigInt> {
    (0..d)
        .map(|k| {
            let minor: Vec<Vec<BigInt>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .enumerate()
                        .filter(|&(i, _)| i != k)
                        .map(|(_, x)| x.clone())
                        .collect()
                })
                .collect();
            let m = det(minor);
            if k % 2 == 0 {
                m
            } else {
                -m
            }
        })
        .collect()
}

/// The smallest step `λ = slack_j / (−a_j·r)` over the halfspaces the ray from `p` along `r`
/// leaves (`slacks[j]` is `slack(facets[j], p)`), as (numerator, denominator) in units of
/// `1/p.den`, with the halfspaces hit first; `None` when the ray is unbounded.
type Step = (BigInt, BigInt);

fn first_hits(facets: &[LineEq], slacks: &[BigInt], r: &[BigInt]) -> Option<(Step, Vec<usize>)> {
    let mut best: Option<Step> = None;
    let mut hits = Vec::new();
    for (j, f) in facets.iter().enumerate() {
        let s = dot(&f.a, r);
        if !s.is_negative() {
            continue;
        }
        let (num, den) = (&slacks[j], -s);
        match &best {
            Some((bn, bd)) => match (num * bd).cmp(&(bn * &den)) {
                Ordering::Less => {
                    best = Some((num.clone(), den));
                    hits.clear();
                    hits.push(j);
                }
                Ordering::Equal => hits.push(j),
                Ordering::Greater => {}
            },
            None => {
                best = Some((num.clone(), den));
                hits.push(j);
            }
        }
    }
    best.map(|b| (b, hits))
}

/// `p + λ r` for a step from [`first_hits`] (not reduced; common powers of two divided out).
fn step(p: &ExactPoint, r: &[BigInt], (num, den): &Step) -> ExactPoint {
    ExactPoint {
        num: p
            .num
            .iter()
            .zip(r)
            .map(|(x, ri)| x * den + num * ri)
            .collect(),
        den: &p.den * den,
    }
    .without_common_twos()
}

/// The point where the d halfspaces `rows` (independent normals) are tight, by Cramer's rule:
/// its size depends on the facets only, not on the path that found it (no gcd needed).
fn meet(facets: &[LineEq], rows: &[usize]) -> ExactPoint {
    let d = rows.len();
    let a: Vec<Vec<BigInt>> = rows.iter().map(|&i| facets[i].a.clone()).collect();
    let den = det(a.clone());
    let num: Vec<BigInt> = (0..d)
        .map(|k| {
            let mut mk = a.clone();
            for (r, &i) in rows.iter().enumerate() {
                mk[r][k] = -&facets[i].c;
            }
            det(mk)
        })
        .collect();
    ExactPoint::from_signed(num, den)
}

/// Calls `f` with every k-subset of `0..n` (lexicographic).
fn for_each_subset(n: usize, k: usize, mut f: impl FnMut(&[usize])) {
    if k > n {
        return;
    }
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        f(&idx);
        let mut i = k;
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            if idx[i] < n - k + i {
                idx[i] += 1;
                for j in i + 1..k {
                    idx[j] = idx[j - 1] + 1;
                }
                break;
            }
        }
    }
}

/// The other end of an edge: its tight set, and d of those halfspaces with independent normals
/// (their meeting point is the end: [`End::point`]).
pub struct End {
    pub tight: Vec<usize>,
    rows: Vec<usize>,
}

impl End {
    /// The end's coordinates (Cramer's rule on the independent rows).
    pub fn point(&self, facets: &[LineEq]) -> ExactPoint {
        meet(facets, &self.rows)
    }
}

/// The other ends of the edges at vertex `v` (tight set `tight`), or `Err` when an edge is
/// unbounded. A vertex is fixed by its tight set (of rank d), so tight sets identify the ends;
/// their coordinates are computed only when asked for ([`End::point`]).
pub fn neighbours(facets: &[LineEq], v: &ExactPoint, tight: &[usize]) -> Result<Vec<End>, String> {
    let d = v.num.len();
    let slacks: Vec<BigInt> = facets.iter().map(|f| slack(f, v)).collect();
    let mut ends: Vec<End> = Vec::new();
    // An edge is identified by the tight halfspaces it stays on.
    let mut edges: Vec<Vec<usize>> = Vec::new();
    let mut failure = None;
    for_each_subset(tight.len(), d - 1, |sub| {
        if failure.is_some() {
            return;
        }
        let rows: Vec<&[BigInt]> = sub.iter().map(|&i| facets[tight[i]].a.as_slice()).collect();
        let r = cross(&rows, d);
        if r.iter().all(Zero::is_zero) {
            return;
        }
        let (mut pos, mut neg) = (false, false);
        let mut stays = Vec::new();
        for &j in tight {
            match dot(&facets[j].a, &r).sign() {
                num_bigint::Sign::Plus => pos = true,
                num_bigint::Sign::Minus => neg = true,
                num_bigint::Sign::NoSign => stays.push(j),
            }
        }
        let r = match (pos, neg) {
            (_, false) => r,
            (false, true) => r.into_iter().map(|x| -x).collect(),
            (true, true) => return,
        };
        // Several subsets span the same edge at a non-simple vertex: follow it once.
        if edges.contains(&stays) {
            return;
        }
        match first_hits(facets, &slacks, &r) {
            Some((_, hits)) => {
                let mut rows: Vec<usize> = sub.iter().map(|&i| tight[i]).collect();
                rows.push(hits[0]);
                let mut end_tight = stays.clone();
                end_tight.extend(hits);
                end_tight.sort_unstable();
                ends.push(End {
                    tight: end_tight,
                    rows,
                });
            }
            None => failure = Some("the polytope is unbounded".to_string()),
        }
        edges.push(stays);
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(ends),
    }
}

/// A vertex reached from a point of the polytope by moving inside the tight hyperplanes.
fn first_vertex(facets: &[LineEq], start: &ExactPoint) -> Result<Vertex, String> {
    let d = start.num.len();
    let unit = |k: usize| -> Vec<BigInt> {
        (0..d)
            .map(|i| {
                if i == k {
                    BigInt::one()
                } else {
                    BigInt::zero()
                }
            })
            .collect()
    };
    let mut p = start.clone();
    for _ in 0..=d {
        let tight = tight_set(facets, &p).ok_or("the start point is outside the polytope")?;
        // An independent subset of the tight normals, completed by unit vectors to d − 1 rows.
        let mut independent: Vec<usize> = Vec::new();
        let mut rows: Vec<Vec<BigInt>> = Vec::new();
        for &j in &tight {
            let mut trial: Vec<&[BigInt]> = rows.iter().map(Vec::as_slice).collect();
            trial.push(&facets[j].a);
            if rank(&trial) == trial.len() {
                rows.push(facets[j].a.clone());
                independent.push(j);
            }
        }
        if rows.len() == d {
            return Ok((meet(facets, &independent), tight));
        }
        for k in 0..d {
            if rows.len() + 1 == d {
                break;
            }
            let e = unit(k);
            let mut trial: Vec<&[BigInt]> = rows.iter().map(Vec::as_slice).collect();
            trial.push(&e);
            if rank(&trial) == trial.len() {
                rows.push(e);
            }
        }
        let refs: Vec<&[BigInt]> = rows.iter().map(Vec::as_slice).collect();
        let r = cross(&refs, d);
        let back: Vec<BigInt> = r.iter().map(|x| -x).collect();
        let slacks: Vec<BigInt> = facets.iter().map(|f| slack(f, &p)).collect();
        p = match first_hits(facets, &slacks, &r) {
            Some((lambda, _)) => step(&p, &r, &lambda),
            None => {
                let (lambda, _) =
                    first_hits(facets, &slacks, &back).ok_or("the polytope is unbounded")?;
                step(&p, &back, &lambda)
            }
        };
    }
    Err("no vertex reached (the polytope is not pointed)".into())
}

/// Lexicographic order of exact points.
pub fn cmp_points(p: &ExactPoint, q: &ExactPoint) -> Ordering {
    for k in 0..p.num.len() {
        let o = (&p.num[k] * &q.den).cmp(&(&q.num[k] * &p.den));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Every vertex of the bounded polytope `{a_i·t + c_i ≥ 0}` that contains `start`, with its tight
/// set, sorted lexicographically.
pub fn vertices(facets: &[LineEq], start: &ExactPoint) -> Result<Vec<Vertex>, String> {
    let first = first_vertex(facets, start)?;
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    seen.insert(first.1.clone());
    let mut queue = vec![first];
    let mut out: Vec<Vertex> = Vec::new();
    while let Some((v, tight)) = queue.pop() {
        for w in neighbours(facets, &v, &tight)? {
            if seen.insert(w.tight.clone()) {
                queue.push((w.point(facets), w.tight));
            }
        }
        out.push((v, tight));
    }
    out.sort_by(|a, b| cmp_points(&a.0, &b.0));
    Ok(out)
}

/// The first listed vertex with an edge whose other end is not listed (`None`: the list is
/// closed under edges, so it holds every vertex of the polytope). Tight sets must be exact
/// ([`tight_set`]).
pub fn missing_neighbour(
    facets: &[LineEq],
    listed: &[Vertex],
) -> Result<Option<(usize, ExactPoint)>, String> {
    let known: HashSet<&[usize]> = listed.iter().map(|v| v.1.as_slice()).collect();
    for (i, (v, tight)) in listed.iter().enumerate() {
        if let Some(w) = neighbours(facets, v, tight)?
            .into_iter()
            .find(|w| !known.contains(w.tight.as_slice()))
        {
            return Ok(Some((i, w.point(facets))));
        }
    }
    Ok(None)
}

/// The exact d-volume of the polytope whose complete vertex list (with tight sets over
/// `facet_count` halfspaces) is `verts`.
pub fn volume(verts: &[Vertex], facet_count: usize) -> BigRational {
    let Some(d) = verts.first().map(|v| v.0.num.len()) else {
        return BigRational::zero();
    };
    let all: Vec<usize> = (0..verts.len()).collect();
    let mut simplices = Vec::new();
    pull(&all, verts, facet_count, &mut Vec::new(), &mut simplices);
    // Σ |det [v_i 1]| / d! over the simplices, over one common denominator Π den_v (the
    // homogeneous rows [num_i, den_i] give det [v_i 1] · Π_{i∈s} den_i): no gcd until the end.
    let all_dens = verts.iter().fold(BigInt::one(), |acc, v| acc * &v.0.den);
    let mut total = BigInt::zero();
    for s in &simplices {
        let rows: Vec<Vec<BigInt>> = s
            .iter()
            .map(|&i| {
                let p = &verts[i].0;
                p.num
                    .iter()
                    .chain(std::iter::once(&p.den))
                    .cloned()
                    .collect()
            })
            .collect();
        let dens = s
            .iter()
            .fold(BigInt::one(), |acc, &i| acc * &verts[i].0.den);
        // The simplex's vertices are distinct, so their denominators divide the product.
        total += det(rows).abs() * (&all_dens / dens);
    }
    let fact: BigInt = (1..=d).fold(BigInt::one(), |acc, k| acc * BigInt::from(k));
    BigRational::new(total, all_dens * fact)
}

/// The pulling triangulation of the face with vertex set `face` (indices into `verts`): cones
/// from its first vertex over its facets not containing that vertex, recursively.
fn pull(
    face: &[usize],
    verts: &[Vertex],
    facet_count: usize,
    prefix: &mut Vec<usize>,
    out: &mut Vec<Vec<usize>>,
) {
    if face.len() == 1 {
        let mut s = prefix.clone();
        s.push(face[0]);
        out.push(s);
        return;
    }
    let apex = face[0];
    prefix.push(apex);
    for sub in facets_of(face, verts, facet_count) {
        if !sub.contains(&apex) {
            pull(&sub, verts, facet_count, prefix, out);
        }
    }
    prefix.pop();
}

/// The facets of a face, as vertex sets: the maximal proper nonempty intersections with the
/// halfspaces' hyperplanes.
fn facets_of(face: &[usize], verts: &[Vertex], facet_count: usize) -> Vec<Vec<usize>> {
    let mut subs: Vec<Vec<usize>> = (0..facet_count)
        .map(|j| {
            face.iter()
                .copied()
                .filter(|&v| verts[v].1.binary_search(&j).is_ok())
                .collect::<Vec<usize>>()
        })
        .filter(|s| !s.is_empty() && s.len() < face.len())
        .collect();
    subs.sort_by_key(|s| std::cmp::Reverse(s.len()));
    subs.dedup();
    let mut maximal: Vec<Vec<usize>> = Vec::new();
    for s in subs {
        // Sorted by size, so a set contained in another comes after it.
        let inside = maximal
            .iter()
            .any(|m| s.iter().all(|v| m.binary_search(v).is_ok()));
        if !inside {
            maximal.push(s);
        }
    }
    maximal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: &[i64], c: i64) -> LineEq {
        LineEq {
            a: a.iter().map(|&x| BigInt::from(x)).collect(),
            c: BigInt::from(c),
        }
    }

    fn pt(num: &[i64], den: i64) -> ExactPoint {
        ExactPoint {
            num: num.iter().map(|&x| BigInt::from(x)).collect(),
            den: BigInt::from(den),
        }
    }

    fn cube(d: usize) -> Vec<LineEq> {
        let mut out = Vec::new();
        for k in 0..d {
            let mut a = vec![0; d];
            a[k] = 1;
            out.push(eq(&a, 0));
            a[k] = -1;
            out.push(eq(&a, 1));
        }
        out
    }

    #[test]
    fn determinants_and_ranks() {
        let m = |r: &[&[i64]]| -> Vec<Vec<BigInt>> {
            r.iter()
                .map(|row| row.iter().map(|&x| BigInt::from(x)).collect())
                .collect()
        };
        assert_eq!(det(m(&[])), BigInt::one());
        assert_eq!(det(m(&[&[7]])), BigInt::from(7));
        assert_eq!(det(m(&[&[0, 1], &[1, 0]])), BigInt::from(-1));
        assert_eq!(
            det(m(&[
                &[2, 0, 1, 3],
                &[1, 1, 0, 2],
                &[0, 4, 1, 1],
                &[3, 1, 2, 0]
            ])),
            BigInt::from(-28)
        );
        let rows = m(&[&[1, 2, 3], &[2, 4, 6], &[0, 1, 1]]);
        let refs: Vec<&[BigInt]> = rows.iter().map(Vec::as_slice).collect();
        assert_eq!(rank(&refs), 2);
    }

    #[test]
    fn cubes_have_2_to_the_d_vertices_and_unit_volume() {
        for d in 1..=4 {
            let f = cube(d);
            let start = pt(&vec![1; d], 3);
            let v = vertices(&f, &start).unwrap();
            assert_eq!(v.len(), 1 << d, "d = {d}");
            assert_eq!(volume(&v, f.len()), BigRational::one(), "d = {d}");
            assert_eq!(missing_neighbour(&f, &v).unwrap(), None);
            // Drop a vertex: the walk finds it missing.
            assert!(missing_neighbour(&f, &v[1..]).unwrap().is_some());
        }
    }

    #[test]
    fn simplex_volumes_are_one_over_d_factorial() {
        for d in 1..=4usize {
            let mut f = Vec::new();
            for k in 0..d {
                let mut a = vec![0; d];
                a[k] = 1;
                f.push(eq(&a, 0));
            }
            f.push(eq(&vec![-1; d], 1));
            let v = vertices(&f, &pt(&vec![1; d], 2 * d as i64)).unwrap();
            assert_eq!(v.len(), d + 1);
            let fact: i64 = (1..=d as i64).product();
            assert_eq!(volume(&v, f.len()), BigRational::new(1.into(), fact.into()));
        }
    }

    #[test]
    fn a_square_pyramid_with_redundant_halfspaces() {
        // Apex (1/2, 1/2, 1) over the unit square: four facets meet at the apex (not simple),
        // plus a redundant halfspace touching the apex only and one touching nothing.
        let mut f = vec![
            eq(&[0, 0, 1], 0),
            eq(&[2, 0, -1], 0),
            eq(&[-2, 0, -1], 2),
            eq(&[0, 2, -1], 0),
            eq(&[0, -2, -1], 2),
        ];
        let v = vertices(&f, &pt(&[1, 1, 1], 4)).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(volume(&v, f.len()), BigRational::new(1.into(), 3.into()));
        f.push(eq(&[0, 0, -1], 1));
        f.push(eq(&[0, 0, -1], 5));
        let v = vertices(&f, &pt(&[1, 1, 1], 4)).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(volume(&v, f.len()), BigRational::new(1.into(), 3.into()));
    }

    #[test]
    fn a_cross_polytope_in_4d_is_highly_degenerate() {
        // |x1| + |x2| + |x3| + |x4| ≤ 1: 16 facets, 8 vertices each on 8 of them; volume 2^4/4!.
        let mut f = Vec::new();
        for s in 0..16u32 {
            let a: Vec<i64> = (0..4)
                .map(|k| if s >> k & 1 == 1 { -1 } else { 1 })
                .collect();
            f.push(eq(&a, 1));
        }
        let v = vertices(&f, &pt(&[0, 0, 0, 0], 1)).unwrap();
        assert_eq!(v.len(), 8);
        assert!(v.iter().all(|(_, t)| t.len() == 8));
        assert_eq!(volume(&v, f.len()), BigRational::new(2.into(), 3.into()));
    }

    #[test]
    fn unbounded_sets_are_reported() {
        let f = vec![eq(&[1, 0], 0), eq(&[0, 1], 0)];
        assert!(vertices(&f, &pt(&[1, 1], 1)).is_err());
    }
}
