//! 2-D cross-sections of a slice of dimension 3 or more, for pictures of 3-D and 4-D partitions.
//!
//! A section is a plane in the slice's own coordinates t: `t = o + u_1 b_1 + u_2 b_2`, given
//! like a slice (`origin`/`basis` or `through`, with an optional `box` or `polygon` for u), or
//! by fixing all but two coordinates (`t3=0.25`, or `z=0.25` in 3-D). Its domain is the part of
//! that plane inside the slice's box, clipped exactly. Restricting the network to the section
//! gives the cross-section of the d-D partition: each region of the section is the trace of the
//! d-D region with the same pattern (a convex region meets a plane in one convex piece).

use crate::error::{Error, Result};
use crate::exact::number::parse_rational;
use crate::slice::{Domain, Slice};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

type Q = BigRational;

/// The 2-D slice of the network that is the section `spec` of `slice` (`spec`: a list like
/// `t3=0.25` or `x=0,z=1/2`, or the text of a section file; `name` names it in messages).
pub fn section_slice(slice: &Slice, spec: &str, name: &str) -> Result<Slice> {
    let d = slice.dim();
    let Domain::Box(bounds) = &slice.domain else {
        return Err(Error::usage(name, "sections cut a box domain (d ≥ 3)"));
    };
    if d < 3 {
        return Err(Error::usage(
            name,
            format!("a section cuts a slice of 3 or more dimensions; this one is {d}-D"),
        ));
    }
    let trimmed = spec.trim_start();
    let (origin, basis, own) = if trimmed.starts_with('{') {
        let s = Slice::from_json(spec, name, d)?;
        if s.dim() != 2 {
            return Err(Error::field(
                name,
                "basis",
                format!("a section is a plane: 2 directions, not {}", s.dim()),
            ));
        }
        let given = spec.contains("\"box\"") || spec.contains("\"polygon\"");
        let own = if given {
            s.domain.corners_2d()
        } else {
            // No domain given: the whole trace of the plane on the box.
            enclosing_square(&s.origin, &s.basis, bounds)
        };
        (s.origin, s.basis, own)
    } else {
        axis_section(spec, bounds, name)?
    };
    // The slice's box in u: lo_k ≤ o_k + b_1k u_1 + b_2k u_2 ≤ hi_k.
    let mut polygon: Vec<[Q; 2]> = own;
    for (k, (lo, hi)) in bounds.iter().enumerate() {
        let (a, b) = (basis[0][k].clone(), basis[1][k].clone());
        // a u_1 + b u_2 + (o_k − lo) ≥ 0 and −a u_1 − b u_2 + (hi − o_k) ≥ 0.
        polygon = clip(&polygon, &a, &b, &(&origin[k] - lo));
        polygon = clip(&polygon, &-&a, &-&b, &(hi - &origin[k]));
    }
    let polygon = strictly_convex(polygon);
    if polygon.len() < 3 || crate::slice::polygon_area(&polygon).is_zero() {
        return Err(Error::usage(
            name,
            "the section meets the box in less than an area (it misses the box or touches an edge)",
        ));
    }
    // The network input: x = slice.origin + Σ_k t_k slice.basis[k], with t = o + B u.
    let n0 = slice.origin.len();
    let x_origin: Vec<Q> = (0..n0)
        .map(|i| {
            (0..d).fold(slice.origin[i].clone(), |acc, k| {
                acc + &origin[k] * &slice.basis[k][i]
            })
        })
        .collect();
    let x_basis: Vec<Vec<Q>> = basis
        .iter()
        .map(|b| {
            (0..n0)
                .map(|i| (0..d).fold(Q::zero(), |acc, k| acc + &b[k] * &slice.basis[k][i]))
                .collect()
        })
        .collect();
    let domain = match as_box(&polygon) {
        Some(b) => Domain::Box(b),
        None => Domain::Polygon(polygon),
    };
    Ok(Slice {
        origin: x_origin,
        basis: x_basis,
        domain,
    })
}

/// `t3=0.25,t4=0` (or `x=`, `y=`, `z=`, `w=` for t1..t4): the free coordinates span the plane,
/// over the slice's box.
#[allow(clippy::type_complexity)]
fn axis_section(
    spec: &str,
    bounds: &[(Q, Q)],
    name: &str,
) -> Result<(Vec<Q>, Vec<Vec<Q>>, Vec<[Q; 2]>)> {
    let d = bounds.len();
    let mut fixed: Vec<Option<Q>> = vec![None; d];
    for part in spec.split(',') {
        let (key, value) = part.split_once('=').ok_or_else(|| {
            Error::usage(
                name,
                format!("\"{part}\": expected COORDINATE=VALUE, e.g. t3=0.25 or z=0"),
            )
        })?;
        let key = key.trim();
        let k = match key {
            "x" => 0,
            "y" => 1,
            "z" => 2,
            "w" => 3,
            _ => key
                .strip_prefix('t')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n >= 1)
                .map(|n| n - 1)
                .ok_or_else(|| {
                    Error::usage(
                        name,
                        format!("\"{key}\" is not a coordinate (t1..t{d}, or x, y, z, w)"),
                    )
                })?,
        };
        if k >= d {
            return Err(Error::usage(
                name,
                format!("\"{key}\": the slice has {d} coordinates"),
            ));
        }
        let v = parse_rational(value.trim())
            .map_err(|e| Error::usage(name, format!("\"{part}\": {e}")))?;
        let (lo, hi) = &bounds[k];
        if &v < lo || &v > hi {
            return Err(Error::usage(
                name,
                format!("\"{part}\" is outside the box's range for {key}"),
            ));
        }
        fixed[k] = Some(v);
    }
    let free: Vec<usize> = (0..d).filter(|&k| fixed[k].is_none()).collect();
    if free.len() != 2 {
        return Err(Error::usage(
            name,
            format!(
                "fix all coordinates but two (this leaves {} free)",
                free.len()
            ),
        ));
    }
    let origin = (0..d)
        .map(|k| fixed[k].clone().unwrap_or_else(Q::zero))
        .collect();
    let basis = free
        .iter()
        .map(|&f| {
            (0..d)
                .map(|k| if k == f { Q::one() } else { Q::zero() })
                .collect()
        })
        .collect();
    let (u, v) = (&bounds[free[0]], &bounds[free[1]]);
    let own = vec![
        [u.0.clone(), v.0.clone()],
        [u.1.clone(), v.0.clone()],
        [u.1.clone(), v.1.clone()],
        [u.0.clone(), v.1.clone()],
    ];
    Ok((origin, basis, own))
}

/// A square in u that holds every u with `o + B u` in the box: u = G⁻¹Bᵀ(t − o) (G = BBᵀ over
/// the two directions), bounded entrywise by Σ_k |(G⁻¹Bᵀ)_jk| · max |t_k − o_k|.
fn enclosing_square(origin: &[Q], basis: &[Vec<Q>], bounds: &[(Q, Q)]) -> Vec<[Q; 2]> {
    let g = |i: usize, j: usize| -> Q {
        basis[i]
            .iter()
            .zip(&basis[j])
            .fold(Q::zero(), |acc, (a, b)| acc + a * b)
    };
    let (g00, g01, g11) = (g(0, 0), g(0, 1), g(1, 1));
    let det = &g00 * &g11 - &g01 * &g01;
    let reach: Vec<Q> = bounds
        .iter()
        .zip(origin)
        .map(|((lo, hi), o)| (lo - o).abs().max((hi - o).abs()))
        .collect();
    let mut m = Q::one();
    for k in 0..bounds.len() {
        // Row j of G⁻¹Bᵀ at column k.
        let r0 = (&g11 * &basis[0][k] - &g01 * &basis[1][k]) / &det;
        let r1 = (&g00 * &basis[1][k] - &g01 * &basis[0][k]) / &det;
        m += (r0.abs() + r1.abs()) * &reach[k];
    }
    let n = -m.clone();
    vec![
        [n.clone(), n.clone()],
        [m.clone(), n.clone()],
        [m.clone(), m.clone()],
        [n, m],
    ]
}

/// The part of a convex polygon where `a u_1 + b u_2 + c ≥ 0` (Sutherland–Hodgman, exact).
fn clip(polygon: &[[Q; 2]], a: &Q, b: &Q, c: &Q) -> Vec<[Q; 2]> {
    let value = |p: &[Q; 2]| a * &p[0] + b * &p[1] + c;
    let mut out = Vec::new();
    for i in 0..polygon.len() {
        let (p, q) = (&polygon[i], &polygon[(i + 1) % polygon.len()]);
        let (vp, vq) = (value(p), value(q));
        if !vp.is_negative() {
            out.push(p.clone());
        }
        if (vp.is_negative() && vq.is_positive()) || (vp.is_positive() && vq.is_negative()) {
            let t = &vp / (&vp - &vq);
            out.push([&p[0] + &t * (&q[0] - &p[0]), &p[1] + &t * (&q[1] - &p[1])]);
        }
    }
    out
}

/// Drops repeated corners and corners on a straight run; counter-clockwise.
fn strictly_convex(mut p: Vec<[Q; 2]>) -> Vec<[Q; 2]> {
    p.dedup();
    while p.len() > 1 && p.first() == p.last() {
        p.pop();
    }
    let cross = |o: &[Q; 2], a: &[Q; 2], b: &[Q; 2]| {
        (&a[0] - &o[0]) * (&b[1] - &o[1]) - (&a[1] - &o[1]) * (&b[0] - &o[0])
    };
    let mut changed = true;
    while changed && p.len() >= 3 {
        changed = false;
        for i in 0..p.len() {
            let n = p.len();
            if cross(&p[(i + n - 1) % n], &p[i], &p[(i + 1) % n]).is_zero() {
                p.remove(i);
                changed = true;
                break;
            }
        }
    }
    if p.len() >= 3 && crate::slice::polygon_area(&p).is_negative() {
        p.reverse();
    }
    p
}

/// The polygon as a box, when it is an axis-aligned rectangle.
fn as_box(p: &[[Q; 2]]) -> Option<Vec<(Q, Q)>> {
    if p.len() != 4 {
        return None;
    }
    let range = |k: usize| {
        let lo = p.iter().map(|c| &c[k]).min().expect("corners").clone();
        let hi = p.iter().map(|c| &c[k]).max().expect("corners").clone();
        (lo, hi)
    };
    let (x, y) = (range(0), range(1));
    let corners = [
        [x.0.clone(), y.0.clone()],
        [x.1.clone(), y.0.clone()],
        [x.1.clone(), y.1.clone()],
        [x.0.clone(), y.1.clone()],
    ];
    corners.iter().all(|c| p.contains(c)).then_some(vec![x, y])
}
