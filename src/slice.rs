//! The slice of input space (docs/guide.md#networks-and-slices, docs/formats.md):
//! `x(t) = origin + Σ_k t_k basis_k` for t in a domain D
//! (a box, or for d = 2 a convex polygon). Everything here is exact rationals.

use crate::error::{Error, Result};
use crate::exact::number::to_f64;
use crate::net::parse_num;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use serde_json::Value;

/// The domain D ⊂ R^d of the slice parameters t.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// A box, one `(lo, hi)` pair per coordinate, lo < hi.
    Box(Vec<(BigRational, BigRational)>),
    /// A strictly convex polygon (d = 2), counter-clockwise, no repeated or collinear corners.
    Polygon(Vec<[BigRational; 2]>),
}

impl Domain {
    pub fn dim(&self) -> usize {
        match self {
            Domain::Box(b) => b.len(),
            Domain::Polygon(_) => 2,
        }
    }

    /// Exact d-volume (length, area, volume) of the domain.
    pub fn volume(&self) -> BigRational {
        match self {
            Domain::Box(b) => b
                .iter()
                .fold(BigRational::one(), |acc, (lo, hi)| acc * (hi - lo)),
            Domain::Polygon(p) => polygon_area(p),
        }
    }

    /// For d = 2: the corners counter-clockwise. A box becomes its four corners.
    pub fn corners_2d(&self) -> Vec<[BigRational; 2]> {
        match self {
            Domain::Box(b) => {
                assert_eq!(b.len(), 2, "corners_2d on a {}-D box", b.len());
                let (x0, x1) = &b[0];
                let (y0, y1) = &b[1];
                vec![
                    [x0.clone(), y0.clone()],
                    [x1.clone(), y0.clone()],
                    [x1.clone(), y1.clone()],
                    [x0.clone(), y1.clone()],
                ]
            }
            Domain::Polygon(p) => p.clone(),
        }
    }
}

/// Exact signed area of a polygon (shoelace); positive when counter-clockwise.
pub fn polygon_area(p: &[[BigRational; 2]]) -> BigRational {
    let mut twice = BigRational::zero();
    for i in 0..p.len() {
        let a = &p[i];
        let b = &p[(i + 1) % p.len()];
        twice += &a[0] * &b[1] - &a[1] * &b[0];
    }
    twice / BigRational::from_integer(2.into())
}

/// An affine slice of the network's input space.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub origin: Vec<BigRational>,
    /// `d` vectors, each of the network's input dimension.
    pub basis: Vec<Vec<BigRational>>,
    pub domain: Domain,
}

impl Slice {
    pub fn dim(&self) -> usize {
        self.basis.len()
    }

    /// The identity slice over a box: t is the input itself.
    pub fn identity(domain_box: Vec<(BigRational, BigRational)>) -> Slice {
        let n = domain_box.len();
        let basis = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        if i == j {
                            BigRational::one()
                        } else {
                            BigRational::zero()
                        }
                    })
                    .collect()
            })
            .collect();
        Slice {
            origin: vec![BigRational::zero(); n],
            basis,
            domain: Domain::Box(domain_box),
        }
    }

    /// The slice as a slice file (exact "p/q" strings), which [`Slice::from_json`] reads back
    /// to an equal slice; the regions file records it so `verify` needs no slice argument.
    pub fn to_json(&self) -> Value {
        use crate::exact::number::format_rational as q;
        let vector = |v: &[BigRational]| Value::from(v.iter().map(q).collect::<Vec<_>>());
        let mut obj = serde_json::Map::new();
        obj.insert("origin".into(), vector(&self.origin));
        obj.insert(
            "basis".into(),
            Value::from(self.basis.iter().map(|b| vector(b)).collect::<Vec<_>>()),
        );
        let (key, corners): (&str, Vec<Value>) = match &self.domain {
            Domain::Box(b) => (
                "box",
                b.iter()
                    .map(|(lo, hi)| Value::from(vec![q(lo), q(hi)]))
                    .collect(),
            ),
            Domain::Polygon(p) => ("polygon", p.iter().map(|c| vector(c)).collect()),
        };
        obj.insert(key.into(), Value::from(corners));
        Value::Object(obj)
    }

    /// The default box [-1, 1]^d.
    pub fn default_box(d: usize) -> Vec<(BigRational, BigRational)> {
        vec![(-BigRational::one(), BigRational::one()); d]
    }

    /// Factor from t-volume to input-space volume: sqrt(det(BᵀB)) (docs/guide.md#bounds).
    pub fn volume_scale(&self) -> f64 {
        let d = self.dim();
        let gram: Vec<Vec<BigRational>> = (0..d)
            .map(|i| {
                (0..d)
                    .map(|j| {
                        self.basis[i]
                            .iter()
                            .zip(&self.basis[j])
                            .fold(BigRational::zero(), |acc, (a, b)| acc + a * b)
                    })
                    .collect()
            })
            .collect();
        to_f64(&determinant(gram)).sqrt()
    }

    /// Parses a slice file for a network with input dimension `n0` (docs/formats.md).
    pub fn from_json(text: &str, file: &str, n0: usize) -> Result<Slice> {
        let root = crate::json::parse(text, file)?;
        let obj = crate::json::object(&root, file, "(top level)")?;
        crate::json::check_keys(
            obj,
            &["origin", "basis", "through", "box", "polygon", "meta"],
            file,
            "",
        )?;
        let (origin, basis) = if let Some(through) = obj.get("through") {
            if obj.contains_key("origin") || obj.contains_key("basis") {
                return Err(Error::field(
                    file,
                    "through",
                    "give either \"through\" or \"origin\"/\"basis\", not both",
                ));
            }
            let points = parse_vectors(through, file, "through", n0)?;
            if points.len() < 2 {
                return Err(Error::field(file, "through", "needs at least two points"));
            }
            let origin = points[0].clone();
            let basis = points[1..]
                .iter()
                .map(|p| p.iter().zip(&origin).map(|(a, b)| a - b).collect())
                .collect();
            (origin, basis)
        } else {
            let origin = obj
                .get("origin")
                .ok_or_else(|| {
                    Error::field(
                        file,
                        "origin",
                        "missing (give \"origin\" and \"basis\", or \"through\")",
                    )
                })
                .and_then(|v| parse_vector(v, file, "origin", n0))?;
            let basis = obj
                .get("basis")
                .ok_or_else(|| Error::field(file, "basis", "missing"))
                .and_then(|v| parse_vectors(v, file, "basis", n0))?;
            if basis.is_empty() {
                return Err(Error::field(file, "basis", "is empty"));
            }
            (origin, basis)
        };
        let d = basis.len();
        if rank(&basis) < d {
            return Err(Error::field(
                file,
                if obj.contains_key("through") {
                    "through"
                } else {
                    "basis"
                },
                format!("the {d} direction vectors are linearly dependent (rank < {d})"),
            ));
        }
        let domain = match (obj.get("box"), obj.get("polygon")) {
            (Some(_), Some(_)) => {
                return Err(Error::field(
                    file,
                    "box",
                    "give either \"box\" or \"polygon\", not both",
                ))
            }
            (Some(b), None) => Domain::Box(parse_box(b, file, "box", d)?),
            (None, Some(p)) => {
                if d != 2 {
                    return Err(Error::field(
                        file,
                        "polygon",
                        format!("a polygon domain needs a 2-D slice, this slice is {d}-D"),
                    ));
                }
                Domain::Polygon(parse_polygon(p, file)?)
            }
            (None, None) => Domain::Box(Slice::default_box(d)),
        };
        Ok(Slice {
            origin,
            basis,
            domain,
        })
    }
}

/// Parses `--box LO:HI,LO:HI` (exact decimals or p/q).
pub fn parse_box_flag(text: &str, d: usize) -> Result<Vec<(BigRational, BigRational)>> {
    let parts: Vec<&str> = text.split(',').collect();
    if parts.len() != d {
        return Err(Error::usage(
            "--box",
            format!(
                "expected {d} ranges LO:HI separated by commas, got {}",
                parts.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(d);
    for (k, part) in parts.iter().enumerate() {
        let (lo, hi) = part
            .split_once(':')
            .ok_or_else(|| Error::usage("--box", format!("range {k} \"{part}\" is not LO:HI")))?;
        let lo = crate::exact::number::parse_rational(lo)
            .map_err(|e| Error::usage("--box", format!("range {k}: {e}")))?;
        let hi = crate::exact::number::parse_rational(hi)
            .map_err(|e| Error::usage("--box", format!("range {k}: {e}")))?;
        if lo >= hi {
            return Err(Error::usage(
                "--box",
                format!("range {k} is empty or inverted (LO must be < HI)"),
            ));
        }
        out.push((lo, hi));
    }
    Ok(out)
}

fn parse_vector(v: &Value, file: &str, field: &str, n: usize) -> Result<Vec<BigRational>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::field(file, field, "expected an array of numbers"))?;
    if arr.len() != n {
        return Err(Error::field(
            file,
            field,
            format!("has {} entries, the network's input has {n}", arr.len()),
        ));
    }
    arr.iter()
        .enumerate()
        .map(|(i, x)| parse_num(x, file, || format!("{field}[{i}]")).map(|x| x.exact()))
        .collect()
}

fn parse_vectors(v: &Value, file: &str, field: &str, n: usize) -> Result<Vec<Vec<BigRational>>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::field(file, field, "expected an array of vectors"))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| parse_vector(x, file, &format!("{field}[{i}]"), n))
        .collect()
}

fn parse_box(
    v: &Value,
    file: &str,
    field: &str,
    d: usize,
) -> Result<Vec<(BigRational, BigRational)>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::field(file, field, "expected [[lo, hi], ...]"))?;
    if arr.len() != d {
        return Err(Error::field(
            file,
            field,
            format!("has {} ranges but the slice is {d}-D", arr.len()),
        ));
    }
    let mut out = Vec::with_capacity(d);
    for (k, r) in arr.iter().enumerate() {
        let f = format!("{field}[{k}]");
        let pair = r
            .as_array()
            .filter(|p| p.len() == 2)
            .ok_or_else(|| Error::field(file, &f, "expected [lo, hi]"))?;
        let lo = parse_num(&pair[0], file, || format!("{f}[0]"))?.exact();
        let hi = parse_num(&pair[1], file, || format!("{f}[1]"))?.exact();
        if lo >= hi {
            return Err(Error::field(
                file,
                &f,
                "is empty or inverted (lo must be < hi)",
            ));
        }
        out.push((lo, hi));
    }
    Ok(out)
}

fn parse_polygon(v: &Value, file: &str) -> Result<Vec<[BigRational; 2]>> {
    let pts = parse_vectors(v, file, "polygon", 2)?;
    if pts.len() < 3 {
        return Err(Error::field(
            file,
            "polygon",
            "needs at least three corners",
        ));
    }
    let mut p: Vec<[BigRational; 2]> = pts
        .into_iter()
        .map(|v| [v[0].clone(), v[1].clone()])
        .collect();
    let area = polygon_area(&p);
    if area.is_zero() {
        return Err(Error::field(file, "polygon", "has zero area"));
    }
    if area.is_negative() {
        p.reverse();
    }
    let n = p.len();
    for i in 0..n {
        let a = &p[(i + n - 1) % n];
        let b = &p[i];
        let c = &p[(i + 1) % n];
        let cross = (&b[0] - &a[0]) * (&c[1] - &b[1]) - (&b[1] - &a[1]) * (&c[0] - &b[0]);
        if !cross.is_positive() {
            return Err(Error::field(
                file,
                format!("polygon[{}]", i),
                "makes the polygon non-convex (or repeats or lines up with its neighbours); \
                 give a strictly convex polygon",
            ));
        }
    }
    // A strictly convex polygon turns once: the turning check above plus a positive area can
    // still pass a star polygon, so check that the corners wind exactly once.
    // Each edge's direction is scaled exactly to a largest component of 1 before it becomes
    // floats, so tiny or huge coordinates (1e-200) cannot underflow or overflow the angles; each
    // turn is known (exactly, above) to lie in (0, π), which `atan2` of a non-negative first
    // argument keeps whatever the rounding.
    let direction = |a: &[BigRational; 2], b: &[BigRational; 2]| {
        let (dx, dy) = (&b[0] - &a[0], &b[1] - &a[1]);
        let m = dx.abs().max(dy.abs());
        (to_f64(&(dx / &m)), to_f64(&(dy / &m)))
    };
    let mut winding = 0.0f64;
    for i in 0..n {
        let u = direction(&p[i], &p[(i + 1) % n]);
        let w = direction(&p[(i + 1) % n], &p[(i + 2) % n]);
        winding += (u.0 * w.1 - u.1 * w.0)
            .max(0.0)
            .atan2(u.0 * w.0 + u.1 * w.1);
    }
    if (winding - std::f64::consts::TAU).abs() > 1e-6 {
        return Err(Error::field(
            file,
            "polygon",
            "is self-intersecting (not convex)",
        ));
    }
    Ok(p)
}

fn rank(vectors: &[Vec<BigRational>]) -> usize {
    let mut m: Vec<Vec<BigRational>> = vectors.to_vec();
    let rows = m.len();
    let cols = m.first().map_or(0, |r| r.len());
    let mut r = 0;
    for c in 0..cols {
        let Some(p) = (r..rows).find(|&i| !m[i][c].is_zero()) else {
            continue;
        };
        m.swap(r, p);
        for i in 0..rows {
            if i != r && !m[i][c].is_zero() {
                let f = &m[i][c] / &m[r][c];
                let pivot_row = m[r].clone();
                for (x, p) in m[i].iter_mut().zip(&pivot_row).skip(c) {
                    *x -= &f * p;
                }
            }
        }
        r += 1;
        if r == rows {
            break;
        }
    }
    r
}

fn determinant(mut m: Vec<Vec<BigRational>>) -> BigRational {
    let n = m.len();
    let mut det = BigRational::one();
    for c in 0..n {
        let Some(p) = (c..n).find(|&i| !m[i][c].is_zero()) else {
            return BigRational::zero();
        };
        if p != c {
            m.swap(p, c);
            det = -det;
        }
        det *= m[c][c].clone();
        for i in c + 1..n {
            let f = &m[i][c] / &m[c][c];
            let pivot_row = m[c].clone();
            for (x, p) in m[i].iter_mut().zip(&pivot_row).skip(c) {
                *x -= &f * p;
            }
        }
    }
    det
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn through_three_points() {
        let s = Slice::from_json(
            r#"{"through": [[0,0,0],[1,0,0],[0,2,0]], "box": [[0,1],[0,1]]}"#,
            "s",
            3,
        )
        .unwrap();
        assert_eq!(s.dim(), 2);
        assert!((s.volume_scale() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_dependent_basis_and_bad_polygons() {
        let e =
            Slice::from_json(r#"{"origin": [0,0], "basis": [[1,1],[2,2]]}"#, "s", 2).unwrap_err();
        assert!(e.to_string().contains("basis"), "{e}");
        let e = Slice::from_json(
            r#"{"origin": [0,0], "basis": [[1,0],[0,1]], "polygon": [[0,0],[2,0],[1,0.5],[2,2],[0,2]]}"#,
            "s",
            2,
        )
        .unwrap_err();
        assert!(e.to_string().contains("non-convex"), "{e}");
        let s = Slice::from_json(
            r#"{"origin": [0,0], "basis": [[1,0],[0,1]], "polygon": [[0,0],[0,2],[2,0]]}"#,
            "s",
            2,
        )
        .unwrap();
        assert_eq!(s.domain.volume(), BigRational::from_integer(2.into()));
    }
}
