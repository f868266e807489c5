//! Certified interior-feasibility decisions: is `{t : g_i(t) > 0 for all i}` non-empty?
//!
//! The float LP is the Chebyshev form `max r  s.t.  α_i·t + ‖α_i‖₁·r ≤ β_i` (each halfspace
//! `g_i = a_i·t + c_i ≥ 0` is the row α = −a, β = c, scaled by a power of two), solved through
//! its dual `min βᵀy  s.t.  Σ y_i (α_i, ‖α_i‖₁) = (0, 1), y ≥ 0` by the dense simplex of
//! `simplex.rs` or through good_lp. Every answer carries evidence that is checked before
//! it is believed:
//!
//! - non-empty: the Chebyshev centre, an f64 point taken as the exact binary rational it is,
//!   must satisfy every `g_i > 0` (float filter with a proven bound, exact integers otherwise);
//! - empty: a Motzkin combination `y ≥ 0, y ≠ 0` with `Σ y_i α_i = 0` and `Σ y_i β_i ≤ 0` (no
//!   strict solution can exist). The float duals are first checked with a proven error bound,
//!   which needs a bound on the solutions (below); failing that, the exact kernel of the
//!   support's exact rows is computed and checked (no bound needed).
//!
//! When no certificate holds, a second float LP in zoomed coordinates is tried (`zoom`), then
//! the simplex runs in exact integers and decides.
//!
//! Precondition of [`Decider::interior`] (what makes the float Motzkin check sound): if the
//! system has a strict solution, it has one in the *outer box* (the domain's bounding box
//! widened by its width on each side, |t_k| ≤ `radius[k]`). The engine only asks two kinds of
//! questions, and both satisfy it: "a cell ∩ {±h > 0}" (solutions lie in the cell, inside the
//! domain), and "a cell's facets but one, with that one flipped" (if q solves it and p is inside
//! the cell, the segment from p to q crosses the flipped facet's plane at a point s that is
//! strictly inside the other facets, so s lies in the closed cell, in the domain, and points
//! next to s on q's side solve the system inside the outer box). The LP itself stays bounded
//! through a cap on the radius r. The vertex walk of `primal.rs` proves "a cell ∩ {h > 0} is
//! empty" with `float_motzkin` on a subsystem (d tight rows and h), whose strict solutions
//! may leave the box; the bound still decides, because every strict solution of the whole
//! question lies in the cell, so in the box, and solves the subsystem.

use super::simplex;
use crate::exact::{ExactPoint, LineEq};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, ToPrimitive, Zero};
use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

const U: f64 = f64::EPSILON / 2.0;

/// Which LP solver answers the float LPs (every answer is certified either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LpBackend {
    /// The crate's dense f64 simplex on the Chebyshev dual (about 10× faster on tiny LPs).
    #[default]
    Dense,
    /// good_lp with its pure-Rust microlp solver (no duals: emptiness certificates come from
    /// the rows tight at the float optimum, else from the exact simplex).
    GoodLp,
    /// No float LP at all: every LP is the exact rational simplex (slow; a reference).
    Exact,
}

/// A closed halfspace `a·t + c ≥ 0` (interior `> 0`) in exact and in scaled float form.
#[derive(Debug, Clone)]
pub struct Con {
    /// Integer equation (common powers of two divided out).
    pub eq: LineEq,
    /// `d + 1` floats: `a` then `c`, times one power of two (max entry about 1).
    pub f: Vec<f64>,
    /// The opposite halfspace, made once when first asked for.
    flip: std::sync::OnceLock<std::sync::Arc<Con>>,
}

impl Con {
    /// From an integer equation; common powers of two are divided out (a gcd per line would
    /// cost more than the LPs).
    pub fn new(eq: LineEq) -> Con {
        let eq = eq.without_common_twos();
        let f = scaled_floats(&eq);
        Con {
            eq,
            f,
            flip: std::sync::OnceLock::new(),
        }
    }

    /// The opposite halfspace, shared (made once).
    pub fn flip(&self) -> std::sync::Arc<Con> {
        self.flip
            .get_or_init(|| std::sync::Arc::new(self.flipped()))
            .clone()
    }

    /// The opposite closed halfspace `−a·t − c ≥ 0`.
    pub fn flipped(&self) -> Con {
        Con {
            eq: LineEq {
                a: self.eq.a.iter().map(|x| -x).collect(),
                c: -&self.eq.c,
            },
            f: self.f.iter().map(|x| -x).collect(),
            flip: std::sync::OnceLock::new(),
        }
    }

    fn d(&self) -> usize {
        self.f.len() - 1
    }

    /// [`LineEq::multiple_of`] behind a float filter: both float vectors are the exact ones
    /// scaled by powers of two within a few ulps, so a residual of 1e-6 (of the largest entry,
    /// about 1) rules out proportional equations; the exact test decides the rest.
    pub fn multiple_of(&self, other: &Con) -> Option<bool> {
        let p =
            (0..other.f.len()).max_by(|&i, &j| other.f[i].abs().total_cmp(&other.f[j].abs()))?;
        let lambda = self.f[p] / other.f[p];
        if lambda.is_finite() && lambda != 0.0 {
            let top = self.f.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            if self
                .f
                .iter()
                .zip(&other.f)
                .any(|(x, y)| (x - lambda * y).abs() > 1e-6 * top)
            {
                return None;
            }
        }
        self.eq.multiple_of(&other.eq)
    }

    /// The exact sign of `g` at `p`: float with a proven bound, exact integers otherwise.
    pub fn sign_at(&self, p: &Pt, stats: &Stats) -> Ordering {
        float_sign(&self.f, p).unwrap_or_else(|| {
            stats.fallbacks.fetch_add(1, AtomicOrdering::Relaxed);
            p.exact.side(&self.eq)
        })
    }
}

/// The sign at `p` of the halfspace whose floats are `f` (`a` then `c`, each within 2u of the
/// exact entries times one positive number), when the float filter proves it.
pub(crate) fn float_sign(f: &[f64], p: &Pt) -> Option<Ordering> {
    let (val, err) = float_value(f, p);
    if val > err {
        Some(Ordering::Greater)
    } else if val < -err {
        Some(Ordering::Less)
    } else {
        None
    }
}

/// The value at `p` of the halfspace whose floats are `f` (as in [`float_sign`]) and a bound on
/// its error: the exact value (times the floats' positive factor) is within `err` of `val`.
pub(crate) fn float_value(f: &[f64], p: &Pt) -> (f64, f64) {
    let d = f.len() - 1;
    let mut val = f[d];
    let mut mag = f[d].abs();
    for k in 0..d {
        let t = f[k] * p.f[k];
        val += t;
        mag += t.abs();
    }
    // Entries carry ≤ 2u relative error (conversion), the point ≤ 2.02u when it is not an
    // f64 point (1.01 ulp, `Pt::from_exact`), products and the sum of d + 1 terms add
    // (d + 2)u; doubled for safety.
    // Plus underflowed entries: at most 2^-1074 each, times |p_k| (or 1).
    let pmax = p.f.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    let err = 2.0 * (d as f64 + 6.0) * U * mag + (d as f64 + 2.0) * pmax * 1e-300;
    (val, err)
}

/// The f64 entries of an integer equation, scaled by one power of two so the largest is ≈ 1.
/// Each entry is within 2u relative plus 2^-1074 absolute of its exact scaled value (tiny
/// entries may underflow; the filters carry an absolute term for that).
pub(crate) fn scaled_floats(eq: &LineEq) -> Vec<f64> {
    let bits =
        eq.a.iter()
            .chain(std::iter::once(&eq.c))
            .map(|x| x.bits())
            .max()
            .unwrap_or(0) as i64;
    eq.a.iter()
        .chain(std::iter::once(&eq.c))
        .map(|x| scaled_f64(x, bits))
        .collect()
}

/// [`scaled_floats`] of the equation in coordinates `u_k = t_k · 2^-shifts[k]`: entry k is
/// `a_k · 2^shifts[k]`, the constant unchanged, then the row scaled so its largest entry is ≈ 1
/// (the same error model: 2u relative plus 2^-1074 absolute per entry).
pub(crate) fn scaled_floats_with(eq: &LineEq, shifts: &[i64]) -> Vec<f64> {
    let bits = |x: &BigInt, e: i64| {
        if x.is_zero() {
            i64::MIN
        } else {
            x.bits() as i64 + e
        }
    };
    let top =
        eq.a.iter()
            .zip(shifts)
            .map(|(x, &e)| bits(x, e))
            .chain(std::iter::once(bits(&eq.c, 0)))
            .max()
            .unwrap_or(0)
            .max(0);
    eq.a.iter()
        .zip(shifts)
        .map(|(x, &e)| scaled_f64(x, top - e))
        .chain(std::iter::once(scaled_f64(&eq.c, top)))
        .collect()
}

/// Coordinate scalings for a second float LP when the first could not decide: for each row
/// of the unproven certificate (`support`), its largest normal entry a_k against the next
/// largest term (another normal entry or the constant) gives the width of the slab it cuts
/// along coordinate k, relative to the box; coordinate k is scaled by the widest such slab
/// (a power of two) when that is below 2^-30. `None` when no row says so.
fn zoom(rows: &[&Con], support: &[usize], d: usize) -> Option<Vec<i64>> {
    let mut shifts = vec![0i64; d];
    for &i in support {
        let eq = &rows[i].eq;
        let bits: Vec<i64> = eq.a.iter().map(|x| x.bits() as i64).collect();
        let k = (0..d).max_by_key(|&k| bits[k])?;
        let next = (0..d)
            .filter(|&j| j != k)
            .map(|j| bits[j])
            .chain(std::iter::once(eq.c.bits() as i64))
            .max()
            .unwrap_or(0);
        let width = next - bits[k];
        if width < -30 {
            shifts[k] = if shifts[k] == 0 {
                width
            } else {
                shifts[k].max(width)
            };
        }
    }
    shifts.iter().any(|&e| e != 0).then_some(shifts)
}

/// `x · 2^-scale` in f64: the top 64 bits of x (floor, relative error < 2^-63) rounded once,
/// then an exact power-of-two scaling that may only lose bits to underflow.
pub(crate) fn scaled_f64(x: &BigInt, scale: i64) -> f64 {
    let b = x.bits() as i64;
    if b == 0 {
        return 0.0;
    }
    let drop = (b - 64).max(0);
    let top = (x >> drop as usize).to_f64().unwrap_or(f64::NAN);
    ldexp(top, drop - scale)
}

/// x · 2^e, in steps that stay in range (rounding only on underflow).
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
    }
    x * pow2(e)
}

/// 2^e for −1022 ≤ e ≤ 1023 (exact, no libm).
fn pow2(e: i64) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// A point known to lie in a cell: exact, with its float coordinates.
#[derive(Debug, Clone)]
pub struct Pt {
    pub exact: ExactPoint,
    pub f: Vec<f64>,
}

impl Pt {
    /// The exact binary rational point of f64 coordinates (no gcd: the common denominator is
    /// the largest power of two needed).
    pub fn from_f64(x: &[f64]) -> Option<Pt> {
        if x.iter().any(|v| !v.is_finite()) {
            return None;
        }
        // v = mantissa · 2^exp with an odd mantissa (or zero).
        let parts: Vec<(i64, i64)> = x
            .iter()
            .map(|&v| {
                if v == 0.0 {
                    return (0, 0);
                }
                let bits = v.to_bits();
                let sign = if bits >> 63 == 1 { -1 } else { 1 };
                let exp_bits = ((bits >> 52) & 0x7ff) as i64;
                let frac = (bits & ((1u64 << 52) - 1)) as i64;
                let (mut m, mut e) = if exp_bits == 0 {
                    (frac, -1074)
                } else {
                    (frac | (1 << 52), exp_bits - 1075)
                };
                let tz = m.trailing_zeros() as i64;
                m >>= tz;
                e += tz;
                (sign * m, e)
            })
            .collect();
        let shift = parts.iter().map(|&(_, e)| (-e).max(0)).max().unwrap_or(0);
        let num = parts
            .iter()
            .map(|&(m, e)| BigInt::from(m) << ((e + shift) as usize))
            .collect();
        Some(Pt {
            exact: ExactPoint {
                num,
                den: BigInt::from(1) << (shift as usize),
            },
            f: x.to_vec(),
        })
    }

    /// An exact point with f64 coordinates within 1.01 ulp (no gcd: exact LP centres have
    /// denominators of thousands of bits).
    pub fn from_exact(p: ExactPoint) -> Pt {
        let f = p.to_f64_fast();
        Pt { exact: p, f }
    }
}

/// Counters shared by the threads of one run.
#[derive(Debug, Default)]
pub struct Stats {
    pub lp_solves: AtomicUsize,
    /// Decisions the float filters could not prove, decided with exact integers instead.
    pub fallbacks: AtomicUsize,
    /// Exact simplex runs (a subset of the fallbacks).
    pub exact_lps: AtomicUsize,
}

/// The answer to "is the open set `{g_i > 0}` non-empty?", with its evidence.
#[derive(Debug, Clone)]
pub enum Interior {
    /// A point strictly inside every halfspace, checked exactly.
    NonEmpty(Pt),
    /// Proven empty (Motzkin combination checked, or exact simplex).
    Empty,
}

/// Everything a decision needs besides the halfspaces.
pub struct Decider {
    pub d: usize,
    pub backend: LpBackend,
    /// `|t_k| ≤ radius[k]` on the outer box.
    pub radius: Vec<f64>,
    /// Cap on the Chebyshev radius (keeps the LP bounded whatever the rows).
    pub cap: f64,
    pub stats: Stats,
}

impl Decider {
    /// `lo`, `hi`: the domain's bounding box.
    pub fn new(lo: &[BigRational], hi: &[BigRational], backend: LpBackend) -> Decider {
        let d = lo.len();
        let mut radius = Vec::with_capacity(d);
        let mut cap = 1.0f64;
        for k in 0..d {
            let w = &hi[k] - &lo[k];
            let (olo, ohi) = (&lo[k] - &w, &hi[k] + &w);
            let r = crate::exact::number::to_f64(&olo)
                .abs()
                .max(crate::exact::number::to_f64(&ohi).abs());
            radius.push(r * (1.0 + 8.0 * U));
            cap = cap.max(crate::exact::number::to_f64(&w) * 4.0);
        }
        Decider {
            d,
            backend,
            radius,
            cap,
            stats: Stats::default(),
        }
    }

    /// Decides whether `{g > 0 for every g in rows}` is non-empty (see the module docs for the
    /// precondition on `rows`).
    pub fn interior(&self, rows: &[&Con]) -> Interior {
        self.stats.lp_solves.fetch_add(1, AtomicOrdering::Relaxed);
        let mut suspects = Vec::new();
        let float = match self.backend {
            LpBackend::Dense => self.dense(rows, &mut suspects),
            LpBackend::GoodLp => self.good_lp(rows),
            LpBackend::Exact => None,
        };
        if let Some(answer) = float {
            return answer;
        }
        self.stats.fallbacks.fetch_add(1, AtomicOrdering::Relaxed);
        self.stats.exact_lps.fetch_add(1, AtomicOrdering::Relaxed);
        if suspects.is_empty() {
            return self.exact(rows);
        }
        // Row generation: the exact LP on the rows the float LP found binding, then on those
        // plus every row its answer violates, until the answer holds for all rows. A subset
        // with empty interior proves the whole system's empty; a point strictly inside every
        // row proves it non-empty. Small exact LPs cost far less than one on every row, and
        // each round resumes from the last optimal basis.
        let mut active = suspects;
        let mut sub: Vec<&Con> = active.iter().map(|&i| rows[i]).collect();
        let mut lp = self.margin_lp(&sub);
        loop {
            let Interior::NonEmpty(p) = self.decide(&mut lp, &sub) else {
                return Interior::Empty;
            };
            let violated: Vec<usize> = (0..rows.len())
                .filter(|i| !active.contains(i))
                .filter(|&i| p.exact.side(&rows[i].eq) != Ordering::Greater)
                .collect();
            if violated.is_empty() {
                return Interior::NonEmpty(p);
            }
            let new: Vec<&Con> = violated.iter().map(|&i| rows[i]).collect();
            let (columns, cost) = margin_columns(&new);
            lp.add_columns(&columns, &cost);
            active.extend(violated);
            sub.extend(new);
        }
    }

    /// The dense f64 simplex with certificates; `None` when no certificate could be checked,
    /// with `suspects` the rows the float LP found binding when it stopped at an emptiness
    /// certificate it could not prove.
    fn dense(&self, rows: &[&Con], suspects: &mut Vec<usize>) -> Option<Interior> {
        thread_local! {
            static SCRATCH: std::cell::RefCell<(Vec<f64>, Vec<f64>, Vec<f64>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
        }
        SCRATCH.with(|s| {
            let (columns, cost, tab) = &mut *s.borrow_mut();
            let fs: Vec<&[f64]> = rows.iter().map(|r| r.f.as_slice()).collect();
            let plain = self.dense_in(
                rows,
                &fs,
                &self.radius,
                self.cap,
                None,
                suspects,
                columns,
                cost,
                tab,
            );
            if plain.is_some() {
                return plain;
            }
            // Zoomed: coordinates scaled by powers of two where the undecided rows say the
            // cell is thin (see `zoom`), so that entries 1e-200 apart become comparable.
            let shifts = zoom(rows, suspects, self.d)?;
            let scaled: Vec<Vec<f64>> = rows
                .iter()
                .map(|r| scaled_floats_with(&r.eq, &shifts))
                .collect();
            let fs: Vec<&[f64]> = scaled.iter().map(Vec::as_slice).collect();
            let radius: Vec<f64> = self
                .radius
                .iter()
                .zip(&shifts)
                .map(|(&r, &e)| ldexp(r, -e))
                .collect();
            // The same cap: the Chebyshev radius only needs to be positive (a large cap makes
            // the dual's costs too uneven for the float simplex's tolerance).
            let cap = self.cap;
            self.dense_in(
                rows,
                &fs,
                &radius,
                cap,
                Some(&shifts),
                &mut Vec::new(),
                columns,
                cost,
                tab,
            )
        })
    }

    /// One float LP on the rows' floats `fs` (each row scaled by a positive power of two, its
    /// coordinates by `2^shifts[k]` when given: u_k = t_k · 2^-shifts[k]), in the outer box
    /// `radius` of those coordinates; answers are checked on the exact rows. `support` gets the
    /// rows of an emptiness certificate that could not be proven.
    #[allow(clippy::too_many_arguments)]
    fn dense_in(
        &self,
        rows: &[&Con],
        fs: &[&[f64]],
        radius: &[f64],
        cap: f64,
        shifts: Option<&[i64]>,
        support: &mut Vec<usize>,
        columns: &mut Vec<f64>,
        cost: &mut Vec<f64>,
        tab: &mut Vec<f64>,
    ) -> Option<Interior> {
        let d = self.d;
        let m = rows.len();
        columns.clear();
        cost.clear();
        for f in fs {
            let mut l1 = 0.0;
            for k in 0..d {
                columns.push(-f[k]);
                l1 += f[k].abs();
            }
            columns.push(l1);
            cost.push(f[d]);
        }
        columns.extend(std::iter::repeat_n(0.0, d));
        columns.push(1.0);
        cost.push(cap);
        let mut rhs = [0.0; super::MAX_DIM + 1];
        rhs[d] = 1.0;
        let opt = simplex::solve_in(columns, &rhs[..=d], cost, tab).ok()?;
        if opt.objective > 1e-12 {
            let mut x = opt.multipliers[..d].to_vec();
            if let Some(shifts) = shifts {
                for (v, &e) in x.iter_mut().zip(shifts) {
                    *v = ldexp(*v, e);
                }
            }
            if x.iter().any(|v| !v.is_finite()) {
                return None;
            }
            let p = Pt::from_f64(&x)?;
            return self.check_point(rows, p).map(Interior::NonEmpty);
        }
        // Emptiness: the basic duals.
        let mut y = vec![0.0; m];
        for (row, &b) in opt.basis.iter().enumerate() {
            if b < m {
                y[b] = opt.values[row].max(0.0);
            } else if b == m && opt.values[row] > 0.0 {
                return None; // the cap is binding: not an emptiness certificate
            }
        }
        if float_motzkin(fs, &y, radius) {
            return Some(Interior::Empty);
        }
        support.clear();
        support.extend((0..m).filter(|&i| y[i] > 0.0));

        self.stats.fallbacks.fetch_add(1, AtomicOrdering::Relaxed);
        exact_motzkin(rows, support).then_some(Interior::Empty)
    }

    /// good_lp + microlp on the primal Chebyshev LP.
    fn good_lp(&self, rows: &[&Con]) -> Option<Interior> {
        use good_lp::{variable, Expression, ProblemVariables, Solution, SolverModel};
        let d = self.d;
        let mut vars = ProblemVariables::new();
        let x: Vec<_> = (0..d).map(|_| vars.add(variable())).collect();
        let r = vars.add(variable().max(self.cap));
        let mut model = vars.maximise(r).using(good_lp::microlp);
        for row in rows {
            let mut e = Expression::with_capacity(d + 1);
            let mut l1 = 0.0;
            for k in 0..d {
                e.add_mul(-row.f[k], x[k]);
                l1 += row.f[k].abs();
            }
            e.add_mul(l1, r);
            model.add_constraint(e.leq(row.f[d]));
        }
        let sol = model.solve().ok()?;
        let rv = sol.value(r);
        let xv: Vec<f64> = x.iter().map(|&v| sol.value(v)).collect();
        if rv > 1e-12 {
            let p = Pt::from_f64(&xv)?;
            return self.check_point(rows, p).map(Interior::NonEmpty);
        }
        // No duals: the rows tight at the optimum are the candidate support.
        let mut slack: Vec<(f64, usize)> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let mut s = row.f[d];
                let mut l1 = 0.0;
                for k in 0..d {
                    s += row.f[k] * xv[k];
                    l1 += row.f[k].abs();
                }
                (s - l1 * rv, i)
            })
            .collect();
        slack.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let support: Vec<usize> = slack
            .iter()
            .take(d + 1)
            .filter(|(s, _)| s.abs() < 1e-7)
            .map(|&(_, i)| i)
            .collect();
        let mut support = support;
        support.sort_unstable();
        // Float multipliers on a square support: Σ y_i (α_i, ‖α_i‖₁) = (0, 1).
        if support.len() == d + 1 {
            if let Some(ys) = solve_square(rows, &support, d) {
                let mut y = vec![0.0; rows.len()];
                for (&i, &v) in support.iter().zip(&ys) {
                    y[i] = v.max(0.0);
                }
                let fs: Vec<&[f64]> = rows.iter().map(|r| r.f.as_slice()).collect();
                if float_motzkin(&fs, &y, &self.radius) {
                    return Some(Interior::Empty);
                }
            }
        }
        self.stats.fallbacks.fetch_add(1, AtomicOrdering::Relaxed);
        exact_motzkin(rows, &support).then_some(Interior::Empty)
    }

    /// The point, if it is strictly inside every row (proven).
    fn check_point(&self, rows: &[&Con], p: Pt) -> Option<Pt> {
        rows.iter()
            .all(|row| row.sign_at(&p, &self.stats) == Ordering::Greater)
            .then_some(p)
    }

    /// The exact simplex decides (rare), in integers over one denominator. It solves the
    /// uniform-margin LP `max r  s.t.  g_i(t) ≥ r, r ≤ cap` (through its dual) rather than the
    /// Chebyshev one: without the norms' column its minors are smaller (1.5× faster on
    /// weights 1e-300..1e300); `r > 0` decides the same question.
    fn exact(&self, rows: &[&Con]) -> Interior {
        self.decide(&mut self.margin_lp(rows), rows)
    }

    /// The dual of the uniform-margin LP on `rows`: `min cap·y₀ + Σ c_i y_i  s.t.
    /// Σ y_i (−a_i, 1) + y₀ (0, 1) = (0, 1), y ≥ 0` (the cap's column first, so rows can be
    /// added).
    fn margin_lp(&self, rows: &[&Con]) -> simplex::IntegerSimplex {
        let d = self.d;
        let mut columns = vec![BigInt::zero(); d];
        columns.push(BigInt::one());
        let mut cost = vec![BigInt::from(self.cap.ceil() as i64)];
        let (row_columns, row_cost) = margin_columns(rows);
        columns.extend(row_columns);
        cost.extend(row_cost);
        let mut rhs = vec![BigInt::zero(); d + 1];
        rhs[d] = BigInt::one();
        simplex::IntegerSimplex::new(columns, &rhs, cost)
    }

    /// Solves the margin LP of `rows` (from its last basis) and reads the answer.
    fn decide(&self, lp: &mut simplex::IntegerSimplex, rows: &[&Con]) -> Interior {
        let d = self.d;
        let opt = lp
            .solve()
            .unwrap_or_else(|e| panic!("the exact Chebyshev dual cannot fail ({e:?})"));
        if !opt.objective.is_positive() {
            return Interior::Empty;
        }
        // The Chebyshev centre: the first d multipliers over the common denominator.
        let centre = ExactPoint {
            num: opt.multipliers[..d].to_vec(),
            den: opt.den,
        };
        // Prefer the nearby f64 point when it is inside too: small witnesses stay small.
        if let Some(p) = Pt::from_f64(&centre.to_f64_fast()) {
            if rows
                .iter()
                .all(|row| p.exact.side(&row.eq) == Ordering::Greater)
            {
                return Interior::NonEmpty(p);
            }
        }
        assert!(
            rows.iter()
                .all(|row| centre.side(&row.eq) == Ordering::Greater),
            "the exact Chebyshev centre must be strictly inside"
        );
        Interior::NonEmpty(Pt::from_exact(centre.without_common_twos()))
    }
}

use num_traits::One;

/// The margin LP's columns `(−a_i, 1)` and costs `c_i` of `rows`.
fn margin_columns(rows: &[&Con]) -> (Vec<BigInt>, Vec<BigInt>) {
    let mut columns = Vec::with_capacity(rows.len() * (rows.first().map_or(0, |r| r.d()) + 1));
    let mut cost = Vec::with_capacity(rows.len());
    for row in rows {
        columns.extend(row.eq.a.iter().map(|x| -x));
        columns.push(BigInt::one());
        cost.push(row.eq.c.clone());
    }
    (columns, cost)
}

/// Proves emptiness from float multipliers `y ≥ 0` on float rows posed in the outer box `radius`, with a rigorous error bound: for any
/// strict solution t, `Σ y_i (β_i − α_i·t) > 0`, but it equals `S − V·t ≤ S + Σ|V_k| R_k`.
pub(crate) fn float_motzkin(rows: &[&[f64]], y: &[f64], radius: &[f64]) -> bool {
    let d = radius.len();
    let (mut s, mut s_mag, mut ysum) = (0.0f64, 0.0f64, 0.0f64);
    let mut v = [0.0f64; super::MAX_DIM];
    let mut v_mag = [0.0f64; super::MAX_DIM];
    for (row, &yi) in rows.iter().zip(y) {
        if yi == 0.0 {
            continue;
        }
        ysum += yi;
        // Row "−a·t ≤ c": β = c, α = −a.
        s += yi * row[d];
        s_mag += (yi * row[d]).abs();
        for k in 0..d {
            v[k] -= yi * row[k];
            v_mag[k] += (yi * row[k]).abs();
        }
    }
    if ysum <= 0.0 || !ysum.is_finite() {
        return false;
    }
    let gamma = 2.0 * (rows.len() as f64 + 6.0) * U;
    let mut bound = s + gamma * s_mag;
    for k in 0..d {
        bound += (v[k].abs() + gamma * v_mag[k]) * radius[k];
    }
    // Underflow of tiny scaled entries: at most 2^-1074 each, times y (and R for α).
    let rsum: f64 = radius.iter().sum();
    let bound =
        bound + gamma * bound.abs() + ysum * (d as f64 + 2.0) * 1e-300 * (1.0 + rsum) + 1e-300;
    bound < 0.0
}

/// Solves `Σ_{i∈support} y_i (α_i, ‖α_i‖₁) = (0, …, 0, 1)` in floats (d + 1 unknowns), by
/// Gaussian elimination with partial pivoting; None when (nearly) singular. Only a candidate:
/// the Motzkin check decides.
fn solve_square(rows: &[&Con], support: &[usize], d: usize) -> Option<Vec<f64>> {
    let k = d + 1;
    // Matrix k × (k + 1): column j is row support[j]'s (α, ‖α‖₁), last column the rhs.
    let mut m = vec![0.0f64; k * (k + 1)];
    for (j, &i) in support.iter().enumerate() {
        let mut l1 = 0.0;
        for r in 0..d {
            m[r * (k + 1) + j] = -rows[i].f[r];
            l1 += rows[i].f[r].abs();
        }
        m[d * (k + 1) + j] = l1;
    }
    m[d * (k + 1) + k] = 1.0;
    for col in 0..k {
        let p = (col..k).max_by(|&a, &b| {
            m[a * (k + 1) + col]
                .abs()
                .total_cmp(&m[b * (k + 1) + col].abs())
        })?;
        if m[p * (k + 1) + col].abs() < 1e-12 {
            return None;
        }
        for j in 0..=k {
            m.swap(col * (k + 1) + j, p * (k + 1) + j);
        }
        for r in 0..k {
            if r != col {
                let f = m[r * (k + 1) + col] / m[col * (k + 1) + col];
                for j in col..=k {
                    m[r * (k + 1) + j] -= f * m[col * (k + 1) + j];
                }
            }
        }
    }
    Some(
        (0..k)
            .map(|r| m[r * (k + 1) + k] / m[r * (k + 1) + r])
            .collect(),
    )
}

/// Checks exactly that the rows in `support` carry a Motzkin combination: the kernel of their
/// exact normals (if one-dimensional) has a non-negative generator y with `Σ y_i c_i ≤ 0`.
/// (Rows are `a_i·t + c_i ≥ 0`; `Σ y_i a_i = 0` and `Σ y_i c_i ≤ 0` make `Σ y_i g_i ≤ 0`
/// everywhere, so no point has every `g_i > 0`.)
pub(crate) fn exact_motzkin(rows: &[&Con], support: &[usize]) -> bool {
    if support.is_empty() {
        return false;
    }
    let d = rows[0].eq.a.len();
    let k = support.len();
    // The d × k matrix of normals, reduced by integer-preserving Gauss–Jordan (Bareiss): after
    // it, pivot column c_r is den·e_r, so the kernel of a rank k − 1 matrix is y_free = den,
    // y_{c_r} = −mat[r][free]. No rational is normalised (gcds on huge entries cost ~100×).
    let mut mat: Vec<Vec<BigInt>> = (0..d)
        .map(|r| support.iter().map(|&i| rows[i].eq.a[r].clone()).collect())
        .collect();
    let mut den = BigInt::one();
    let mut pivots: Vec<usize> = Vec::new();
    let mut row = 0;
    for col in 0..k {
        if row == d {
            break;
        }
        let Some(p) = (row..d).find(|&r| !mat[r][col].is_zero()) else {
            continue;
        };
        mat.swap(row, p);
        let pivot_row = mat[row].clone();
        let pv = pivot_row[col].clone();
        for (r, line) in mat.iter_mut().enumerate() {
            if r == row {
                continue;
            }
            let f = line[col].clone();
            for (x, y) in line.iter_mut().zip(&pivot_row) {
                *x = (&*x * &pv - &f * y) / &den;
            }
        }
        den = pv;
        if den.is_negative() {
            for x in mat.iter_mut().flatten() {
                *x = -std::mem::take(x);
            }
            den = -den;
        }
        pivots.push(col);
        row += 1;
    }
    if k - pivots.len() != 1 {
        return false;
    }
    let free = (0..k)
        .find(|c| !pivots.contains(c))
        .expect("one free column");
    let mut y = vec![BigInt::zero(); k];
    y[free] = den;
    for (r, &pc) in pivots.iter().enumerate() {
        y[pc] = -mat[r][free].clone();
    }
    if y.iter().all(|v| !v.is_positive()) {
        for v in &mut y {
            *v = -std::mem::take(v);
        }
    }
    if y.iter().any(|v| v.is_negative()) {
        return false;
    }
    let s: BigInt = support
        .iter()
        .zip(&y)
        .map(|(&i, yi)| yi * &rows[i].eq.c)
        .sum();
    !s.is_positive()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn con(a: &[i64], c: i64) -> Con {
        Con::new(LineEq {
            a: a.iter().map(|&x| BigInt::from(x)).collect(),
            c: BigInt::from(c),
        })
    }

    fn decider(backend: LpBackend) -> Decider {
        let lo = vec![-BigRational::one(); 2];
        let hi = vec![BigRational::one(); 2];
        Decider::new(&lo, &hi, backend)
    }

    #[test]
    fn decides_both_ways_with_both_backends() {
        for backend in [LpBackend::Dense, LpBackend::GoodLp] {
            let dec = decider(backend);
            // x > 0, y > 0, x + y < 1: non-empty.
            let (a, b, c) = (con(&[1, 0], 0), con(&[0, 1], 0), con(&[-1, -1], 1));
            match dec.interior(&[&a, &b, &c]) {
                Interior::NonEmpty(p) => {
                    for g in [&a, &b, &c] {
                        assert_eq!(p.exact.side(&g.eq), Ordering::Greater);
                    }
                }
                Interior::Empty => panic!("{backend:?}: the triangle is not empty"),
            }
            // x > 0 and x < 0: empty; x ≥ 0 and x ≤ 0 touching: empty interior.
            let (p, n) = (con(&[1, 0], 0), con(&[-1, 0], 0));
            assert!(matches!(dec.interior(&[&p, &n]), Interior::Empty));
            // x > 1/2 and x + y < 1/2 inside the box: non-empty; x > 1/2, x + y < -2: empty.
            let (e, f) = (con(&[2, 0], -1), con(&[-2, -2], 1));
            assert!(matches!(dec.interior(&[&e, &f]), Interior::NonEmpty(_)));
            let (g, h) = (con(&[2, 0], -1), con(&[-1, -1], -2));
            let lo = vec![-BigRational::one(); 2];
            let hi = vec![BigRational::one(); 2];
            let boxed = Decider::new(&lo, &hi, backend);
            let box_cons = [
                con(&[1, 0], 1),
                con(&[-1, 0], 1),
                con(&[0, 1], 1),
                con(&[0, -1], 1),
            ];
            let mut all: Vec<&Con> = box_cons.iter().collect();
            all.push(&g);
            all.push(&h);
            assert!(matches!(boxed.interior(&all), Interior::Empty));
        }
    }

    #[test]
    fn the_exact_simplex_agrees_on_touching_and_separated_systems() {
        let dec = decider(LpBackend::Dense);
        let cases: Vec<(Vec<Con>, bool)> = vec![
            (
                vec![con(&[1, 0], 0), con(&[0, 1], 0), con(&[-1, -1], 1)],
                true,
            ),
            (vec![con(&[1, 0], 0), con(&[-1, 0], 0)], false),
            // Three lines through one point, pairwise touching: empty interior.
            (
                vec![con(&[1, 0], 0), con(&[-1, 1], 0), con(&[0, -1], 0)],
                false,
            ),
            (vec![con(&[1, 1], -3), con(&[-1, 0], 1)], true),
        ];
        for (rows, nonempty) in &cases {
            let refs: Vec<&Con> = rows.iter().collect();
            let exact = matches!(dec.exact(&refs), Interior::NonEmpty(_));
            let float = matches!(dec.interior(&refs), Interior::NonEmpty(_));
            assert_eq!((exact, float), (*nonempty, *nonempty), "{rows:?}");
            if let Interior::NonEmpty(p) = dec.exact(&refs) {
                assert!(refs
                    .iter()
                    .all(|r| p.exact.side(&r.eq) == Ordering::Greater));
            }
        }
    }

    /// A sliver 2^-400 wide along x (−2^-400·y < x < 2^-399·y, y > 0, in the box): invisible to
    /// the plain float LP (its rows' y-entries are 2^-400 of their x-entries); the zoomed float
    /// LP finds a point, so the exact simplex never runs.
    #[test]
    fn the_zoomed_float_lp_finds_a_sliver() {
        let two = |e: usize| BigInt::one() << e;
        let row = |a: [BigInt; 2], c: i64| {
            Con::new(LineEq {
                a: a.to_vec(),
                c: BigInt::from(c),
            })
        };
        let rows = [
            row([two(400), BigInt::one()], 0),
            row([-two(400), BigInt::from(2)], 0),
            con(&[1, 0], 1),
            con(&[-1, 0], 1),
            con(&[0, 1], 1),
            con(&[0, -1], 1),
        ];
        let refs: Vec<&Con> = rows.iter().collect();
        let dec = decider(LpBackend::Dense);
        match dec.interior(&refs) {
            Interior::NonEmpty(p) => {
                assert!(refs
                    .iter()
                    .all(|r| p.exact.side(&r.eq) == Ordering::Greater))
            }
            Interior::Empty => panic!("the sliver is not empty"),
        }
        assert_eq!(dec.stats.exact_lps.load(AtomicOrdering::Relaxed), 0);
        // The wider of the two slabs (2/2^400 against 1/2^400) sets the scale.
        assert_eq!(zoom(&refs, &[0, 1], 2), Some(vec![-399, 0]));
    }

    #[test]
    fn dyadic_points_are_exact() {
        let p = Pt::from_f64(&[0.1, -3.0, 0.0, 1e-300]).unwrap();
        let q = p.exact.to_rationals();
        for (x, v) in q.iter().zip(&p.f) {
            assert_eq!(x, &BigRational::from_float(*v).unwrap());
        }
        assert!(Pt::from_f64(&[f64::NAN]).is_none());
    }

    #[test]
    fn exact_motzkin_accepts_only_true_certificates() {
        let (p, n) = (con(&[1, 0], 0), con(&[-1, 0], 0));
        assert!(exact_motzkin(&[&p, &n], &[0, 1]));
        let (p, n) = (con(&[1, 0], 1), con(&[-1, 0], 1)); // -1 < x < 1: not empty
        assert!(!exact_motzkin(&[&p, &n], &[0, 1]));
        // x > 0, y > 0, x + y < c: a triangle when c > 0, empty when c ≤ 0; one row scaled
        // by 2^700 and one by 3^200, so the elimination divides huge minors exactly.
        let big = |a: &[i64], c: i64, f: &BigInt| {
            Con::new(LineEq {
                a: a.iter().map(|&x| BigInt::from(x) * f).collect(),
                c: BigInt::from(c) * f,
            })
        };
        let (two, three) = (BigInt::one() << 700, BigInt::from(3).pow(200u32));
        for (c, empty) in [(1, false), (0, true), (-5, true)] {
            let rows = [
                big(&[1, 0], 0, &two),
                big(&[0, 1], 0, &three),
                big(&[-1, -1], c, &BigInt::one()),
            ];
            let refs: Vec<&Con> = rows.iter().collect();
            assert_eq!(exact_motzkin(&refs, &[0, 1, 2]), empty, "c = {c}");
            // The rows but one have a 2-D kernel-free normal matrix: never a certificate.
            assert!(!exact_motzkin(&refs, &[0, 1]));
        }
    }
}
