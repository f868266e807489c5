//! Theoretical bounds on the number of activation regions (docs/guide.md#bounds), next to which
//! an exact count is read.
//!
//! Every bound is a pure function of the restricted network's shape: the slice dimension `d`, the
//! hidden widths `n_1..n_L` and (for the Hanin–Rolnick density) the slice's volume measured in
//! input space. Integer bounds are exact [`BigUint`]s; in JSON they are written as decimal
//! **strings** (always, even when small), because 2^N overflows every JSON number reader.
//! Real-valued quantities (the Hanin–Rolnick value, the ratio, the fitted T) are JSON numbers.
//!
//! - Zaslavsky (one hidden layer): an arrangement of n hyperplanes in R^d has at most
//!   Σ_{i≤d} C(n, i) regions, with equality in general position.
//! - Serra, Tjandraatmadja & Ramalingam (ICML 2018), Theorem 1: Σ over (j_1..j_L) with
//!   0 ≤ j_l ≤ min(d, n_1−j_1, …, n_{l−1}−j_{l−1}, n_l) of Π_l C(n_l, j_l). Computed by a dynamic
//!   programme over the running minimum m = min(d, n_1−j_1, …) ∈ 0..=d: O(L·d·max n) big-integer
//!   operations instead of (d+1)^L terms.
//! - Montúfar (2017): Π_l Σ_{j≤d_l} C(n_l, j), d_l = min(d, n_1, …, n_l).
//! - Trivial: 2^N. For d = 1 the exact maximum Π_l (n_l + 1).
//! - Hanin & Rolnick (ICML 2019): the expected number of regions meeting a region of volume V is
//!   about V·(T·N)^d/d!; reported with T = 1, with the ratio count ÷ that value and the fitted
//!   T = (count·d!/V)^{1/d}/N.

use crate::exact::number::to_f64;
use crate::slice::Slice;
use num_bigint::BigUint;
use num_traits::{One, Zero};
use serde::{Serialize, Serializer};

/// The bounds for one restricted network shape (and optionally one count).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bounds {
    /// Slice dimension d (the restricted network's input dimension).
    pub dim: usize,
    /// Hidden widths n_1..n_L.
    pub widths: Vec<usize>,
    /// N = n_1 + … + n_L.
    pub neurons: usize,
    /// Serra–Tjandraatmadja–Ramalingam upper bound (decimal string).
    #[serde(serialize_with = "decimal")]
    pub serra_upper: BigUint,
    /// Montúfar's upper bound (decimal string).
    #[serde(serialize_with = "decimal")]
    pub montufar_upper: BigUint,
    /// Zaslavsky's count Σ_{i≤d} C(n_1, i): one hidden layer only (decimal string).
    #[serde(
        serialize_with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub zaslavsky: Option<BigUint>,
    /// 2^N (decimal string).
    #[serde(serialize_with = "decimal")]
    pub trivial: BigUint,
    /// d = 1 only: the exact maximum Π_l (n_l + 1) (decimal string).
    #[serde(
        serialize_with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub one_dim_max: Option<BigUint>,
    /// The slice's volume in input space: t-volume × sqrt(det BᵀB).
    pub input_volume: f64,
    /// vol · N^d / d! (T = 1).
    pub hanin_rolnick: f64,
    /// count ÷ hanin_rolnick; null without a count or when N = 0.
    pub hr_ratio: Option<f64>,
    /// (count · d! / vol)^{1/d} / N; null without a count or when N = 0.
    pub hr_fitted_t: Option<f64>,
}

fn decimal<S: Serializer>(x: &BigUint, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&x.to_string())
}

fn decimal_opt<S: Serializer>(x: &Option<BigUint>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => s.serialize_str(&x.to_string()),
        None => s.serialize_none(),
    }
}

/// C(n, k) exactly (0 when k > n).
pub fn binomial(n: usize, k: usize) -> BigUint {
    if k > n {
        return BigUint::zero();
    }
    let k = k.min(n - k);
    let mut c = BigUint::one();
    for i in 0..k {
        // c = C(n, i) here; C(n, i+1) = C(n, i)·(n−i)/(i+1) is exact at every step.
        c = c * BigUint::from(n - i) / BigUint::from(i + 1);
    }
    c
}

/// Σ_{i=0..=k} C(n, i).
fn binomial_prefix(n: usize, k: usize) -> BigUint {
    (0..=k.min(n)).map(|i| binomial(n, i)).sum()
}

/// Zaslavsky: Σ_{i=0..=d} C(n, i) regions of n hyperplanes in general position in R^d.
pub fn zaslavsky(n: usize, d: usize) -> BigUint {
    binomial_prefix(n, d)
}

/// The Serra–Tjandraatmadja–Ramalingam upper bound for input dimension `d` and hidden `widths`.
pub fn serra_upper(widths: &[usize], d: usize) -> BigUint {
    // ways[m]: the sum of Π C(n_l, j_l) over the prefixes whose running minimum
    // min(d, n_1 − j_1, …, n_l − j_l) equals m.
    let mut ways = vec![BigUint::zero(); d + 1];
    ways[d] = BigUint::one();
    for &n in widths {
        let mut next = vec![BigUint::zero(); d + 1];
        for (m, w) in ways.iter().enumerate() {
            if w.is_zero() {
                continue;
            }
            for j in 0..=m.min(n) {
                let m2 = m.min(n - j);
                next[m2] += w * binomial(n, j);
            }
        }
        ways = next;
    }
    ways.into_iter().sum()
}

/// Montúfar's upper bound: Π_l Σ_{j≤d_l} C(n_l, j), d_l = min(d, n_1, …, n_l).
pub fn montufar_upper(widths: &[usize], d: usize) -> BigUint {
    let mut dl = d;
    let mut product = BigUint::one();
    for &n in widths {
        dl = dl.min(n);
        product *= binomial_prefix(n, dl);
    }
    product
}

/// d!, as f64.
fn factorial_f64(d: usize) -> f64 {
    (1..=d).map(|k| k as f64).product()
}

/// All bounds for a restricted network of slice dimension `d`, hidden `widths`, on a slice whose
/// volume in input space is `input_volume`.
pub fn bounds(widths: &[usize], d: usize, input_volume: f64) -> Bounds {
    let neurons: usize = widths.iter().sum();
    let one_dim_max = (d == 1).then(|| {
        widths
            .iter()
            .fold(BigUint::one(), |acc, &n| acc * BigUint::from(n + 1))
    });
    Bounds {
        dim: d,
        widths: widths.to_vec(),
        neurons,
        serra_upper: serra_upper(widths, d),
        montufar_upper: montufar_upper(widths, d),
        zaslavsky: (widths.len() == 1).then(|| zaslavsky(widths[0], d)),
        trivial: BigUint::one() << neurons,
        one_dim_max,
        input_volume,
        hanin_rolnick: input_volume * (neurons as f64).powi(d as i32) / factorial_f64(d),
        hr_ratio: None,
        hr_fitted_t: None,
    }
}

/// The slice's volume in input space: exact t-volume (as f64) × sqrt(det BᵀB).
pub fn input_volume(slice: &Slice) -> f64 {
    to_f64(&slice.domain.volume()) * slice.volume_scale()
}

/// [`bounds`] for a network with hidden `widths` restricted to `slice`.
pub fn bounds_for_slice(widths: &[usize], slice: &Slice) -> Bounds {
    bounds(widths, slice.dim(), input_volume(slice))
}

impl Bounds {
    /// Adds the ratio count ÷ Hanin–Rolnick value and the fitted T for an exact `count`.
    pub fn with_count(mut self, count: usize) -> Bounds {
        if self.neurons > 0 && self.input_volume > 0.0 && self.dim > 0 {
            let c = count as f64;
            self.hr_ratio = Some(c / self.hanin_rolnick);
            let density = c * factorial_f64(self.dim) / self.input_volume;
            self.hr_fitted_t = Some(density.powf(1.0 / self.dim as f64) / self.neurons as f64);
        }
        self
    }

    /// The smallest of the upper bounds that apply.
    pub fn best_upper(&self) -> BigUint {
        [
            Some(&self.serra_upper),
            Some(&self.montufar_upper),
            self.zaslavsky.as_ref(),
            Some(&self.trivial),
            self.one_dim_max.as_ref(),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("at least one bound")
        .clone()
    }

    /// Table rows (label, value) for the human-readable reports.
    pub fn table_rows(&self, count: Option<usize>) -> Vec<(&'static str, String)> {
        let mut rows = vec![
            ("Serra upper bound", self.serra_upper.to_string()),
            ("Montúfar upper bound", self.montufar_upper.to_string()),
        ];
        if let Some(z) = &self.zaslavsky {
            rows.push((
                "Zaslavsky (1 layer)",
                format!("{z}   (general position, whole of R^{})", self.dim),
            ));
        }
        if let Some(m) = &self.one_dim_max {
            rows.push(("1-D maximum", m.to_string()));
        }
        let trivial = if self.neurons <= 64 {
            self.trivial.to_string()
        } else {
            format!("2^{}", self.neurons)
        };
        rows.push(("trivial 2^N", trivial));
        rows.push((
            "Hanin–Rolnick",
            format!(
                "{:.6}   (vol·N^d/d!, input-space volume {:.6})",
                self.hanin_rolnick, self.input_volume
            ),
        ));
        if let (Some(c), Some(r), Some(t)) = (count, self.hr_ratio, self.hr_fitted_t) {
            rows.push((
                "count / H–R",
                format!("{r:.6}   ({c} regions, fitted T = {t:.6})"),
            ));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomials() {
        assert_eq!(binomial(16, 3), BigUint::from(560u32));
        assert_eq!(binomial(3, 5), BigUint::zero());
        assert_eq!(binomial(60, 30).to_string(), "118264581564861424");
    }

    #[test]
    fn serra_worked_value() {
        assert_eq!(serra_upper(&[3, 3], 2), BigUint::from(40u32));
    }
}
