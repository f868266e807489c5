//! Exact vertices and volumes of small polytopes (d ≤ 3) given by irredundant facets.
//!
//! Vertices: every d-subset of facets whose float intersection point is (nearly) feasible, or
//! whose float system is ill-conditioned, is solved exactly by Cramer's rule in integers and kept
//! when every facet is `≥ 0` there (exact). Volume: a cone decomposition from the interior
//! witness w, each facet fanned from one of its vertices: d = 3 sums |det(v0 − w, u − w, v − w)|/6
//! over the edges (u, v) of every facet (an edge is the pair of vertices on two facets), d = 2
//! sums |det(u − w, v − w)|/2 over the edges, d = 1 is the length. These are outputs only: no
//! decision of the enumeration depends on them, and the tests check that volumes sum to the
//! domain's exactly.

use crate::exact::{ExactPoint, LineEq};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use std::cmp::Ordering;

/// Determinant of a small integer matrix (rows), by cofactor expansion (n ≤ 3).
fn det(m: &[Vec<BigInt>]) -> BigInt {
    match m.len() {
        1 => m[0][0].clone(),
        2 => &m[0][0] * &m[1][1] - &m[0][1] * &m[1][0],
        3 => {
            &m[0][0] * (&m[1][1] * &m[2][2] - &m[1][2] * &m[2][1])
                - &m[0][1] * (&m[1][0] * &m[2][2] - &m[1][2] * &m[2][0])
                + &m[0][2] * (&m[1][0] * &m[2][1] - &m[1][1] * &m[2][0])
        }
        n => panic!("det of a {n}×{n} matrix: geometry is for d ≤ 3"),
    }
}

/// The point where the facets in `idx` meet (a·t = −c), if their normals are independent.
fn meet(facets: &[LineEq], idx: &[usize]) -> Option<ExactPoint> {
    let d = idx.len();
    let a: Vec<Vec<BigInt>> = idx.iter().map(|&i| facets[i].a.clone()).collect();
    let dd = det(&a);
    if dd.is_zero() {
        return None;
    }
    let mut num = Vec::with_capacity(d);
    for k in 0..d {
        let mut mk = a.clone();
        for (r, &i) in idx.iter().enumerate() {
            mk[r][k] = -&facets[i].c;
        }
        num.push(det(&mk));
    }
    let (num, den) = if dd.is_negative() {
        (num.into_iter().map(|x| -x).collect(), -dd)
    } else {
        (num, dd)
    };
    Some(ExactPoint { num, den }.reduced())
}

fn floats(eq: &LineEq) -> Vec<f64> {
    super::feasibility::scaled_floats(eq)
}

/// Float solve of the d × d system; None when (nearly) singular.
fn float_meet(rows: &[&Vec<f64>]) -> Option<Vec<f64>> {
    let d = rows.len();
    let mut m: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            let n: f64 = r[..d].iter().map(|x| x * x).sum::<f64>().sqrt();
            r.iter().map(|x| x / n).collect()
        })
        .collect();
    for col in 0..d {
        let p = (col..d).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[p][col].abs() < 1e-6 {
            return None;
        }
        m.swap(col, p);
        for r in 0..d {
            if r != col {
                let f = m[r][col] / m[col][col];
                for k in col..=d {
                    let v = m[col][k];
                    m[r][k] -= f * v;
                }
            }
        }
    }
    Some((0..d).map(|k| -m[k][d] / m[k][k]).collect())
}

/// All vertices of `{a_i·t + c_i ≥ 0}` (bounded, d ≤ 3), sorted, each with the facets through it.
fn vertices_with_facets(facets: &[LineEq]) -> Vec<(ExactPoint, Vec<usize>)> {
    let m = facets.len();
    let d = facets.first().map_or(0, |f| f.a.len());
    let fl: Vec<Vec<f64>> = facets.iter().map(floats).collect();
    let mut out: Vec<(ExactPoint, Vec<usize>)> = Vec::new();
    let mut idx: Vec<usize> = (0..d).collect();
    if d == 0 || m < d {
        return out;
    }
    loop {
        let rows: Vec<&Vec<f64>> = idx.iter().map(|&i| &fl[i]).collect();
        let candidate = match float_meet(&rows) {
            Some(x) => fl.iter().all(|f| {
                let v: f64 = f[d] + (0..d).map(|k| f[k] * x[k]).sum::<f64>();
                v > -1e-7
            }),
            None => true,
        };
        if candidate {
            if let Some(p) = meet(facets, &idx) {
                let mut tight = Vec::new();
                let mut feasible = true;
                for (j, f) in facets.iter().enumerate() {
                    match p.side(f) {
                        Ordering::Less => {
                            feasible = false;
                            break;
                        }
                        Ordering::Equal => tight.push(j),
                        Ordering::Greater => {}
                    }
                }
                if feasible && !out.iter().any(|(q, _)| *q == p) {
                    out.push((p, tight));
                }
            }
        }
        // Next d-subset in lexicographic order.
        let mut k = d;
        loop {
            if k == 0 {
                out.sort_by(|a, b| cmp_points(&a.0, &b.0));
                return out;
            }
            k -= 1;
            if idx[k] < m - d + k {
                idx[k] += 1;
                for r in k + 1..d {
                    idx[r] = idx[r - 1] + 1;
                }
                break;
            }
        }
    }
}

fn cmp_points(p: &ExactPoint, q: &ExactPoint) -> Ordering {
    for k in 0..p.num.len() {
        let o = (&p.num[k] * &q.den).cmp(&(&q.num[k] * &p.den));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// The exact vertices of the polytope `{a_i·t + c_i ≥ 0}` (d ≤ 3), sorted lexicographically.
pub fn vertices(facets: &[LineEq]) -> Vec<ExactPoint> {
    vertices_with_facets(facets)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// `p − w` scaled to integers: returns the vector times `p.den · w.den`.
fn diff(p: &ExactPoint, w: &ExactPoint) -> Vec<BigInt> {
    p.num
        .iter()
        .zip(&w.num)
        .map(|(a, b)| a * &w.den - b * &p.den)
        .collect()
}

/// The exact vertices and d-volume of the polytope with these facets, strictly interior point
/// `w` (d ≤ 3).
pub fn vertices_and_volume(facets: &[LineEq], w: &ExactPoint) -> (Vec<ExactPoint>, BigRational) {
    let vf = vertices_with_facets(facets);
    let vol = volume_of(&vf, facets.len(), w);
    (vf.into_iter().map(|(p, _)| p).collect(), vol)
}

fn volume_of(vf: &[(ExactPoint, Vec<usize>)], facet_count: usize, w: &ExactPoint) -> BigRational {
    let d = w.num.len();
    if d == 1 {
        let (a, b) = (&vf[0].0, &vf[vf.len() - 1].0);
        return (b.coord(0) - a.coord(0)).abs();
    }
    // One common denominator for every cone: the product of all vertex denominators times
    // w.den^d (a gcd per term would cost far more than the whole enumeration).
    let all_dens: BigInt = vf.iter().fold(BigInt::from(1), |acc, (p, _)| acc * &p.den);
    let mut total = BigInt::zero();
    let on = |v: &(ExactPoint, Vec<usize>), j: usize| v.1.binary_search(&j).is_ok();
    for j in 0..facet_count {
        let face: Vec<usize> = (0..vf.len()).filter(|&v| on(&vf[v], j)).collect();
        if face.len() < d {
            continue;
        }
        // Edges of facet j: in 2-D the facet is the edge; in 3-D pairs on a second facet k.
        let mut edges: Vec<(usize, usize)> = Vec::new();
        if d == 2 {
            if face.len() == 2 {
                edges.push((face[0], face[1]));
            }
        } else {
            for k in 0..facet_count {
                if k == j {
                    continue;
                }
                let both: Vec<usize> = face.iter().copied().filter(|&v| on(&vf[v], k)).collect();
                if both.len() == 2 {
                    edges.push((both[0], both[1]));
                }
            }
            edges.sort_unstable();
            edges.dedup();
        }
        let apex = &vf[face[0]].0;
        for (u, v) in edges {
            let (pu, pv) = (&vf[u].0, &vf[v].0);
            // det(rows) / (den_u den_v [den_apex] w.den^d) is the cone's d! · volume.
            let (rows, den) = if d == 2 {
                (vec![diff(pu, w), diff(pv, w)], &pu.den * &pv.den)
            } else {
                (
                    vec![diff(apex, w), diff(pu, w), diff(pv, w)],
                    &apex.den * &pu.den * &pv.den,
                )
            };
            let det = det(&rows).abs();
            if !det.is_zero() {
                // The three (two) vertices are distinct, so `den` divides the product exactly.
                total += det * (&all_dens / den);
            }
        }
    }
    let fact = if d == 2 { 2 } else { 6 };
    let den = all_dens * num_traits::pow(w.den.clone(), d) * BigInt::from(fact);
    BigRational::new(total, den)
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

    #[test]
    fn unit_cube_and_corner_tetrahedron() {
        let cube = vec![
            eq(&[1, 0, 0], 0),
            eq(&[-1, 0, 0], 1),
            eq(&[0, 1, 0], 0),
            eq(&[0, -1, 0], 1),
            eq(&[0, 0, 1], 0),
            eq(&[0, 0, -1], 1),
        ];
        let w = ExactPoint {
            num: vec![1.into(), 1.into(), 1.into()],
            den: 2.into(),
        };
        assert_eq!(vertices(&cube).len(), 8);
        assert_eq!(
            vertices_and_volume(&cube, &w).1,
            BigRational::from_integer(1.into())
        );
        let tet = vec![
            eq(&[1, 0, 0], 0),
            eq(&[0, 1, 0], 0),
            eq(&[0, 0, 1], 0),
            eq(&[-1, -1, -1], 1),
        ];
        let w = ExactPoint {
            num: vec![1.into(), 1.into(), 1.into()],
            den: 8.into(),
        };
        assert_eq!(vertices(&tet).len(), 4);
        assert_eq!(
            vertices_and_volume(&tet, &w).1,
            BigRational::new(1.into(), 6.into())
        );
    }
}
