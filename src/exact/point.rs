//! Exact points with a common positive denominator, and the exact predicates on them.

use super::net::LineEq;
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::cmp::Ordering;

/// A rational point `num / den` with `den > 0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExactPoint {
    pub num: Vec<BigInt>,
    pub den: BigInt,
}

impl ExactPoint {
    /// From rational coordinates (common denominator = lcm of theirs).
    pub fn from_rationals(coords: &[BigRational]) -> ExactPoint {
        let den = coords
            .iter()
            .fold(BigInt::one(), |acc, q| acc.lcm(q.denom()));
        let num = coords
            .iter()
            .map(|q| q.numer() * (&den / q.denom()))
            .collect();
        ExactPoint { num, den }
    }

    pub fn coord(&self, k: usize) -> BigRational {
        BigRational::new(self.num[k].clone(), self.den.clone())
    }

    pub fn to_rationals(&self) -> Vec<BigRational> {
        (0..self.num.len()).map(|k| self.coord(k)).collect()
    }

    pub fn to_f64(&self) -> Vec<f64> {
        (0..self.num.len())
            .map(|k| super::number::ratio_to_f64(&self.num[k], &self.den))
            .collect()
    }

    /// Each coordinate within 1.01 ulp, without reducing fractions
    /// ([`super::number::ratio_to_f64_fast`]).
    pub fn to_f64_fast(&self) -> Vec<f64> {
        self.num
            .iter()
            .map(|x| super::number::ratio_to_f64_fast(x, &self.den))
            .collect()
    }

    /// `num / den` for a denominator of either sign (not zero): signs moved so that `den > 0`,
    /// common powers of two divided out (no gcd).
    pub fn from_signed(num: Vec<BigInt>, den: BigInt) -> ExactPoint {
        let p = if den.is_negative() {
            ExactPoint {
                num: num.into_iter().map(|x| -x).collect(),
                den: -den,
            }
        } else {
            ExactPoint { num, den }
        };
        p.without_common_twos()
    }

    /// Divides out the common factor, so equal points compare equal.
    pub fn reduced(mut self) -> ExactPoint {
        let g = self.num.iter().fold(self.den.clone(), |g, x| g.gcd(x));
        if !g.is_one() && !g.is_zero() {
            for x in &mut self.num {
                *x /= &g;
            }
            self.den /= &g;
        }
        self
    }

    /// Divides out the common power of two only (no gcd: cheap on huge numbers).
    pub fn without_common_twos(mut self) -> ExactPoint {
        super::number::divide_common_twos(
            self.num.iter_mut().chain(std::iter::once(&mut self.den)),
        );
        self
    }

    /// Which side of `line` the point is on: the sign of `a·p + c`.
    pub fn side(&self, line: &LineEq) -> Ordering {
        let mut s = &line.c * &self.den;
        for (a, x) in line.a.iter().zip(&self.num) {
            s += a * x;
        }
        s.sign_ordering()
    }
}

trait SignOrdering {
    fn sign_ordering(&self) -> Ordering;
}

impl SignOrdering for BigInt {
    fn sign_ordering(&self) -> Ordering {
        if self.is_positive() {
            Ordering::Greater
        } else if self.is_negative() {
            Ordering::Less
        } else {
            Ordering::Equal
        }
    }
}

/// The intersection of two lines in the plane (Cramer's rule); `None` when they are parallel.
pub fn intersect_lines(l1: &LineEq, l2: &LineEq) -> Option<ExactPoint> {
    assert!(
        l1.a.len() == 2 && l2.a.len() == 2,
        "intersect_lines is planar"
    );
    // a1 x + b1 y = -c1, a2 x + b2 y = -c2
    let det = &l1.a[0] * &l2.a[1] - &l1.a[1] * &l2.a[0];
    if det.is_zero() {
        return None;
    }
    let x = -&l1.c * &l2.a[1] + &l2.c * &l1.a[1];
    let y = -&l1.a[0] * &l2.c + &l2.a[0] * &l1.c;
    let (num, den) = if det.is_negative() {
        (vec![-x, -y], -det)
    } else {
        (vec![x, y], det)
    };
    Some(ExactPoint { num, den })
}

/// The zero of a 1-D affine function `a t + c` (a ≠ 0).
pub fn root_1d(line: &LineEq) -> Option<ExactPoint> {
    assert_eq!(line.a.len(), 1);
    if line.a[0].is_zero() {
        return None;
    }
    let (num, den) = if line.a[0].is_negative() {
        (line.c.clone(), -&line.a[0])
    } else {
        (-&line.c, line.a[0].clone())
    };
    Some(
        ExactPoint {
            num: vec![num],
            den,
        }
        .reduced(),
    )
}

/// The line through two distinct exact points (d = 2), as an integer equation.
pub fn line_through(p: &ExactPoint, q: &ExactPoint) -> LineEq {
    // Normal n = (qy - py, px - qx) in common scale; a·t + c = 0 with c = -n·p.
    let (px, py, pd) = (&p.num[0], &p.num[1], &p.den);
    let (qx, qy, qd) = (&q.num[0], &q.num[1], &q.den);
    // Normal n = (ax, ay) ∝ the direction rotated; n·(t − p) = 0, multiplied through by pd.
    let ax = qy * pd - py * qd;
    let ay = px * qd - qx * pd;
    let c = -(&ax * px + &ay * py);
    LineEq {
        a: vec![&ax * pd, &ay * pd],
        c,
    }
    .reduced()
}
