//! A small dense two-phase tableau simplex, generic over its numbers: f64 for the hot path, exact
//! rationals for the fallback that decides when a float answer fails its exact check.
//!
//! It solves the standard form `min cᵀy  s.t.  M y = rhs, y ≥ 0` (rhs ≥ 0) with one artificial
//! variable per row. The Chebyshev LP of a cell is solved through its dual, which has this form
//! with only d + 1 rows (see `feasibility`), so the tableau is (d + 2) × (m + d + 2): a few
//! hundred numbers. The artificial columns are kept to the end, so the simplex multipliers
//! (the primal solution of the Chebyshev LP) are read from them. Bland's rule in exact
//! arithmetic (no cycling); Dantzig's rule with a tolerance in f64, Bland after many pivots.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// The arithmetic the simplex needs. Comparisons of f64 use a tolerance; rationals are exact.
pub(crate) trait Field: Clone {
    fn zero() -> Self;
    fn one() -> Self;
    fn sub(&self, o: &Self) -> Self;
    fn mul(&self, o: &Self) -> Self;
    fn div(&self, o: &Self) -> Self;
    /// Clearly positive (beyond the tolerance, for floats).
    fn pos(&self) -> bool;
    /// Clearly negative.
    fn neg(&self) -> bool;
    fn lt(&self, o: &Self) -> bool;
    /// |x| as an f64 (to choose among pivots; never to decide a sign).
    fn magnitude(&self) -> f64;
    /// Exact numbers use Bland's rule from the start.
    const EXACT: bool;
}

const TOL: f64 = 1e-11;

impl Field for f64 {
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
    fn sub(&self, o: &Self) -> Self {
        self - o
    }
    fn mul(&self, o: &Self) -> Self {
        self * o
    }
    fn div(&self, o: &Self) -> Self {
        self / o
    }
    fn pos(&self) -> bool {
        *self > TOL
    }
    fn neg(&self) -> bool {
        *self < -TOL
    }
    fn lt(&self, o: &Self) -> bool {
        self < o
    }
    fn magnitude(&self) -> f64 {
        self.abs()
    }
    const EXACT: bool = false;
}

impl Field for BigRational {
    fn zero() -> Self {
        Zero::zero()
    }
    fn one() -> Self {
        One::one()
    }
    fn sub(&self, o: &Self) -> Self {
        self - o
    }
    fn mul(&self, o: &Self) -> Self {
        self * o
    }
    fn div(&self, o: &Self) -> Self {
        self / o
    }
    fn pos(&self) -> bool {
        self.is_positive()
    }
    fn neg(&self) -> bool {
        self.is_negative()
    }
    fn lt(&self, o: &Self) -> bool {
        self < o
    }
    fn magnitude(&self) -> f64 {
        crate::exact::number::to_f64(self).abs()
    }
    const EXACT: bool = true;
}

/// An optimal basic solution.
#[derive(Debug, Clone)]
pub(crate) struct Optimum<T> {
    /// Basic column of each row (`>= m` for an artificial left at zero in a redundant row).
    pub basis: Vec<usize>,
    /// Values of the basic variables, row by row.
    pub values: Vec<T>,
    pub objective: T,
    /// Simplex multipliers, one per row: the optimal solution of the dual LP.
    pub multipliers: Vec<T>,
}

/// Why no optimum was found (impossible for the Chebyshev dual in exact arithmetic; in floats a
/// sign that the problem is too ill-conditioned for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Infeasible,
    Unbounded,
    IterationLimit,
}

/// Solves `min cᵀy, M y = rhs, y ≥ 0`. `columns` holds M column by column (k entries each,
/// k = rhs.len()); rhs ≥ 0. (Rationals: the reference for [`solve_integer`] in tests.)
#[cfg(test)]
pub(crate) fn solve<T: Field>(columns: &[T], rhs: &[T], cost: &[T]) -> Result<Optimum<T>, Failure> {
    solve_in(columns, rhs, cost, &mut Vec::new())
}

/// [`solve`] with a reusable tableau buffer (no allocation per LP on the hot path).
pub(crate) fn solve_in<T: Field>(
    columns: &[T],
    rhs: &[T],
    cost: &[T],
    tab: &mut Vec<T>,
) -> Result<Optimum<T>, Failure> {
    let k = rhs.len();
    let m = cost.len();
    assert_eq!(columns.len(), m * k, "M must have one column per cost");
    let width = m + k + 1; // real columns, artificials, rhs
    tab.clear();
    tab.resize((k + 1) * width, T::zero());
    let tab = &mut tab[..];
    for i in 0..k {
        for j in 0..m {
            tab[i * width + j] = columns[j * k + i].clone();
        }
        tab[i * width + m + i] = T::one();
        tab[i * width + m + k] = rhs[i].clone();
    }
    // Start from unit columns where M has them (the Chebyshev dual's cap column), artificials
    // elsewhere. When every artificial row has rhs 0 the start is already phase-1 optimal.
    let mut basis: Vec<usize> = (m..m + k).collect();
    for j in 0..m {
        let col = &columns[j * k..(j + 1) * k];
        let mut nonzero = (0..k).filter(|&i| col[i].pos() || col[i].neg());
        if let (Some(i), None) = (nonzero.next(), nonzero.next()) {
            let v = &col[i];
            if !v.sub(&T::one()).pos() && !v.sub(&T::one()).neg() && basis[i] >= m {
                // Swap the artificial of row i for column j (its tableau column is e_i).
                basis[i] = j;
            }
        }
    }
    // Bland's rule cannot cycle, so exact runs get a limit they never reach.
    let limit = if T::EXACT {
        usize::MAX
    } else {
        50 * (m + k) + 100
    };
    let needs_phase1 = (0..k).any(|i| basis[i] >= m && rhs[i].pos());
    if needs_phase1 {
        // Phase 1 objective: minimise the sum of the artificials still basic.
        let obj = k * width;
        for i in 0..k {
            if basis[i] < m {
                continue;
            }
            for j in 0..width {
                let v = tab[obj + j].sub(&tab[i * width + j]);
                tab[obj + j] = v;
            }
        }
        for i in 0..k {
            if basis[i] >= m {
                tab[obj + m + i] = T::zero();
            }
        }
        run(tab, &mut basis, k, width, m, limit)?;
        if tab[k * width + m + k].neg() {
            return Err(Failure::Infeasible);
        }
    }
    // Drive artificials out of the basis where a real column can replace them.
    for i in 0..k {
        if basis[i] >= m {
            // The largest entry of the row (a degenerate pivot: the row's value is 0).
            let best = (0..m)
                .filter(|&j| {
                    let v = &tab[i * width + j];
                    v.pos() || v.neg()
                })
                .max_by(|&a, &b| {
                    tab[i * width + a]
                        .magnitude()
                        .total_cmp(&tab[i * width + b].magnitude())
                        .then(b.cmp(&a))
                });
            if let Some(j) = best {
                pivot(tab, k, width, i, j);
                basis[i] = j;
            }
        }
    }
    // Phase 2 objective row: reduced costs c_j − c_B B⁻¹ M_j (artificials cost 0).
    {
        let obj = k * width;
        for j in 0..width {
            tab[obj + j] = if j < m { cost[j].clone() } else { T::zero() };
        }
        for i in 0..k {
            let b = basis[i];
            if b < m {
                let cb = cost[b].clone();
                for j in 0..width {
                    let v = tab[obj + j].sub(&cb.mul(&tab[i * width + j]));
                    tab[obj + j] = v;
                }
            }
        }
    }
    run(tab, &mut basis, k, width, m, limit)?;
    let obj = k * width;
    Ok(Optimum {
        values: (0..k).map(|i| tab[i * width + m + k].clone()).collect(),
        objective: T::zero().sub(&tab[obj + m + k]),
        multipliers: (0..k).map(|i| T::zero().sub(&tab[obj + m + i])).collect(),
        basis,
    })
}

/// Pivots until no real column has a negative reduced cost.
fn run<T: Field>(
    tab: &mut [T],
    basis: &mut [usize],
    k: usize,
    width: usize,
    m: usize,
    limit: usize,
) -> Result<(), Failure> {
    let obj = k * width;
    for iter in 0..limit {
        let bland = T::EXACT || iter > 20 * (m + k);
        // Entering column.
        let mut enter = None;
        for j in 0..m {
            let r = &tab[obj + j];
            if r.neg() {
                match enter {
                    None => enter = Some(j),
                    Some(e) if !bland && r.lt(&tab[obj + e]) => enter = Some(j),
                    _ => {}
                }
                if bland {
                    break;
                }
            }
        }
        let Some(j) = enter else { return Ok(()) };
        // Ratio test (ties: smallest basic index, Bland).
        let mut leave: Option<(usize, T)> = None;
        for i in 0..k {
            let a = &tab[i * width + j];
            if !a.pos() {
                continue;
            }
            let ratio = tab[i * width + m + k].div(a);
            let better = match &leave {
                None => true,
                Some((li, lr)) => {
                    ratio.lt(lr) || (!lr.lt(&ratio) && basis[i] < basis[*li] && bland)
                }
            };
            if better {
                leave = Some((i, ratio));
            }
        }
        let Some((i, _)) = leave else {
            return Err(Failure::Unbounded);
        };
        pivot(tab, k, width, i, j);
        basis[i] = j;
    }
    Err(Failure::IterationLimit)
}

fn pivot<T: Field>(tab: &mut [T], k: usize, width: usize, r: usize, c: usize) {
    let p = tab[r * width + c].clone();
    for j in 0..width {
        let v = tab[r * width + j].div(&p);
        tab[r * width + j] = v;
    }
    let row: Vec<T> = tab[r * width..(r + 1) * width].to_vec();
    for i in 0..=k {
        if i == r {
            continue;
        }
        let f = tab[i * width + c].clone();
        if !(f.pos() || f.neg()) {
            if T::EXACT {
                continue;
            }
            // Floats: clear tiny entries exactly so they never pivot.
            tab[i * width + c] = T::zero();
            continue;
        }
        for j in 0..width {
            let v = tab[i * width + j].sub(&f.mul(&row[j]));
            tab[i * width + j] = v;
        }
    }
}

/// An exact optimum of [`IntegerSimplex::solve`]: every number is an integer over the common
/// positive denominator `den` (the basis determinant), so no rational is ever normalised.
#[derive(Debug, Clone)]
pub(crate) struct IntegerOptimum {
    /// The objective times `den`.
    pub objective: BigInt,
    /// Simplex multipliers times `den` (the dual solution).
    pub multipliers: Vec<BigInt>,
    pub den: BigInt,
}

/// [`solve`] for integer data in exact arithmetic: a revised simplex that keeps only
/// `[B⁻¹ | B⁻¹ rhs]` (k × (k + 1) integers over the basis determinant) and computes the
/// columns it needs from the input. Each pivot is integer-preserving (Edmonds; Bareiss's
/// elimination): it divides exactly by the previous determinant, so entries stay minors of the
/// input and their size is bounded by Hadamard's inequality — a rational tableau needs a gcd
/// per operation, ~100× more on weights from 1e-300 to 1e300. The Chebyshev dual has k = d + 1
/// rows and many columns, so pricing a column (k products, no division) costs far less than
/// updating it in a full tableau (k + 1 products and an exact division per entry): 2.5× faster
/// on the extreme-weight fixtures.
///
/// Columns can be added after a solve ([`IntegerSimplex::add_columns`]); the next solve starts
/// from the last optimal basis, which stays primal feasible (row generation re-solves in a
/// pivot or two instead of from scratch). Dantzig's rule by size first (fewer pivots), Bland's
/// rule after 4(m + k) pivots of a solve, so it cannot cycle.
pub(crate) struct IntegerSimplex {
    k: usize,
    m: usize,
    /// M column by column (k entries each).
    columns: Vec<BigInt>,
    cost: Vec<BigInt>,
    /// `t / den` is `[B⁻¹ | B⁻¹ rhs]`: k rows of k + 1 integers; `den = |det B| > 0`.
    t: Vec<BigInt>,
    den: BigInt,
    /// Basic column of each row (`>= m`: the artificial of row `b − m`).
    basis: Vec<usize>,
    /// Phase 1 is behind (the basis is primal feasible for the real problem).
    feasible: bool,
    /// The number 1 (phase 1's cost of an artificial).
    unit: BigInt,
}

static ZERO: BigInt = BigInt::ZERO;

impl IntegerSimplex {
    /// `min cᵀy, M y = rhs, y ≥ 0` with `columns` holding M column by column (k = rhs.len()
    /// entries each); rhs ≥ 0. Starts from the artificial basis, with unit columns of M in
    /// the rows they cover (B = I).
    pub fn new(columns: Vec<BigInt>, rhs: &[BigInt], cost: Vec<BigInt>) -> IntegerSimplex {
        let k = rhs.len();
        let m = cost.len();
        assert_eq!(columns.len(), m * k, "M must have one column per cost");
        assert!(rhs.iter().all(|x| !x.is_negative()), "rhs must be ≥ 0");
        let mut t = vec![BigInt::zero(); k * (k + 1)];
        for i in 0..k {
            t[i * (k + 1) + i] = BigInt::one();
            t[i * (k + 1) + k] = rhs[i].clone();
        }
        let mut basis: Vec<usize> = (m..m + k).collect();
        for j in 0..m {
            let col = &columns[j * k..(j + 1) * k];
            let mut nonzero = (0..k).filter(|&i| !col[i].is_zero());
            if let (Some(i), None) = (nonzero.next(), nonzero.next()) {
                if col[i].is_one() && basis[i] >= m {
                    basis[i] = j;
                }
            }
        }
        IntegerSimplex {
            k,
            m,
            columns,
            cost,
            t,
            den: BigInt::one(),
            basis,
            feasible: false,
            unit: BigInt::one(),
        }
    }

    /// Appends columns (k entries each) and their costs; the basis is kept.
    pub fn add_columns(&mut self, columns: &[BigInt], cost: &[BigInt]) {
        assert_eq!(columns.len(), cost.len() * self.k);
        let added = cost.len();
        for b in &mut self.basis {
            if *b >= self.m {
                *b += added;
            }
        }
        self.m += added;
        self.columns.extend_from_slice(columns);
        self.cost.extend_from_slice(cost);
    }

    /// Solves from the current basis.
    pub fn solve(&mut self) -> Result<IntegerOptimum, Failure> {
        let (k, m) = (self.k, self.m);
        if !self.feasible {
            // Phase 1: minimise the sum of the artificials.
            if (0..k).any(|i| self.basis[i] >= m && self.value(i).is_positive()) {
                self.run(true)?;
                if (0..k).any(|i| self.basis[i] >= m && self.value(i).is_positive()) {
                    return Err(Failure::Infeasible);
                }
            }
            self.feasible = true;
        }
        // Artificials at zero leave where a real column can replace them (added columns may
        // reach rows that were redundant before).
        self.drive_out_artificials();
        self.run(false)?;
        let objective = (0..k)
            .map(|i| self.cost_of(self.basis[i], false) * self.value(i))
            .fold(BigInt::zero(), |a, b| a + b);
        Ok(IntegerOptimum {
            objective,
            multipliers: self.prices(false),
            den: self.den.clone(),
        })
    }

    /// Column j's cost: phase 1 charges 1 per artificial, phase 2 the real costs.
    fn cost_of(&self, j: usize, phase1: bool) -> &BigInt {
        match (phase1, j >= self.m) {
            (true, true) => &self.unit,
            (false, false) => &self.cost[j],
            _ => &ZERO,
        }
    }

    /// Row i of `B⁻¹ rhs`, times den.
    fn value(&self, i: usize) -> &BigInt {
        &self.t[i * (self.k + 1) + self.k]
    }

    /// Entry i of `B⁻¹ M_j` (j ≥ m: the artificial e_{j−m}), times den.
    fn entry(&self, i: usize, j: usize) -> BigInt {
        let k = self.k;
        let row = &self.t[i * (k + 1)..i * (k + 1) + k];
        if j >= self.m {
            return row[j - self.m].clone();
        }
        let col = &self.columns[j * k..(j + 1) * k];
        let mut v = BigInt::zero();
        for (a, b) in row.iter().zip(col) {
            if !a.is_zero() && !b.is_zero() {
                v += a * b;
            }
        }
        v
    }

    /// The simplex multipliers `c_Bᵀ B⁻¹`, times den.
    fn prices(&self, phase1: bool) -> Vec<BigInt> {
        let k = self.k;
        let mut pi = vec![BigInt::zero(); k];
        for r in 0..k {
            let c = self.cost_of(self.basis[r], phase1);
            if c.is_zero() {
                continue;
            }
            for (i, p) in pi.iter_mut().enumerate() {
                let a = &self.t[r * (k + 1) + i];
                if !a.is_zero() {
                    *p += c * a;
                }
            }
        }
        pi
    }

    /// The reduced cost of real column j, times den: `den·c_j − π·M_j`.
    fn reduced(&self, j: usize, phase1: bool, pi: &[BigInt]) -> BigInt {
        let c = self.cost_of(j, phase1);
        let col = &self.columns[j * self.k..(j + 1) * self.k];
        let mut v = if c.is_zero() {
            BigInt::zero()
        } else {
            c * &self.den
        };
        for (p, a) in pi.iter().zip(col) {
            if !p.is_zero() && !a.is_zero() {
                v -= p * a;
            }
        }
        v
    }

    /// Brings column j into the basis at row r; `u` is `B⁻¹ M_j` times den (`u[r] ≠ 0`). The
    /// other rows become (p·row − u_i·row_r) / den, exactly; the new den is p = u_r (the whole
    /// state negated when p < 0).
    fn pivot(&mut self, r: usize, j: usize, u: &[BigInt]) {
        let w = self.k + 1;
        let p = u[r].clone();
        let pivot_row: Vec<BigInt> = self.t[r * w..(r + 1) * w].to_vec();
        let unit = self.den.is_one();
        for (i, row) in self.t.chunks_mut(w).enumerate() {
            if i == r {
                continue;
            }
            let f = &u[i];
            for (x, y) in row.iter_mut().zip(&pivot_row) {
                let mut v = &*x * &p;
                if !f.is_zero() && !y.is_zero() {
                    v -= f * y;
                }
                *x = if unit { v } else { exact_div(v, &self.den) };
            }
        }
        self.den = p;
        if self.den.is_negative() {
            for x in &mut self.t {
                *x = -std::mem::take(x);
            }
            self.den = -std::mem::take(&mut self.den);
        }
        self.basis[r] = j;
    }

    /// Replaces artificials basic at zero by real columns with a non-zero entry in their row
    /// (degenerate pivots; the largest entry, as a stable pivot). Those left sit in redundant
    /// rows, where every real column is 0, so they stay at zero.
    fn drive_out_artificials(&mut self) {
        let (k, m) = (self.k, self.m);
        for r in 0..k {
            if self.basis[r] < m {
                continue;
            }
            let best = (0..m)
                .filter(|j| !self.basis.contains(j))
                .map(|j| (j, self.entry(r, j)))
                .filter(|(_, v)| !v.is_zero())
                .max_by_key(|(j, v)| (v.bits(), std::cmp::Reverse(*j)));
            if let Some((j, _)) = best {
                let u: Vec<BigInt> = (0..k).map(|i| self.entry(i, j)).collect();
                self.pivot(r, j, &u);
            }
        }
    }

    /// Pivots until no real column has a negative reduced cost (artificials never enter).
    fn run(&mut self, phase1: bool) -> Result<(), Failure> {
        let (k, m) = (self.k, self.m);
        for iter in 0.. {
            let pi = self.prices(phase1);
            let dantzig = iter < 4 * (m + k);
            // Dantzig's rule by size (fewer pivots), Bland's after a while (no cycling).
            let mut entering: Option<(usize, u64)> = None;
            for j in 0..m {
                if self.basis.contains(&j) {
                    continue;
                }
                let rc = self.reduced(j, phase1, &pi);
                if !rc.is_negative() {
                    continue;
                }
                if !dantzig {
                    entering = Some((j, 0));
                    break;
                }
                if entering.is_none_or(|(_, bits)| rc.bits() > bits) {
                    entering = Some((j, rc.bits()));
                }
            }
            let Some((j, _)) = entering else {
                return Ok(());
            };
            let u: Vec<BigInt> = (0..k).map(|i| self.entry(i, j)).collect();
            // Ratio test without division: x_i / u_i < x_l / u_l ⟺ x_i u_l < x_l u_i.
            let mut leave: Option<usize> = None;
            for i in 0..k {
                if !u[i].is_positive() {
                    continue;
                }
                let better = match leave {
                    None => true,
                    Some(l) => {
                        let lhs = self.value(i) * &u[l];
                        let rhs_l = self.value(l) * &u[i];
                        lhs < rhs_l || (lhs == rhs_l && self.basis[i] < self.basis[l])
                    }
                };
                if better {
                    leave = Some(i);
                }
            }
            let Some(r) = leave else {
                return Err(Failure::Unbounded);
            };
            self.pivot(r, j, &u);
        }
        unreachable!("the pivot loop returns")
    }
}

/// `v / d` when d divides v (Bareiss's exact division).
fn exact_div(v: BigInt, d: &BigInt) -> BigInt {
    use num_integer::Integer;
    if v.is_zero() {
        return v;
    }
    let (q, rem) = v.div_rem(d);
    // The remainder comes with the quotient: checking it costs nothing.
    assert!(
        rem.is_zero(),
        "the division of an integer-preserving pivot is exact"
    );
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_lp_in_both_number_types() {
        // min y0 + 2 y1 + 3 y2  s.t. y0 + y1 = 1, y1 + y2 = 1  → y = (0, 1, 0), value 2.
        let cols = vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        let o = solve(&cols, &[1.0, 1.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((o.objective - 2.0).abs() < 1e-12);
        let q = |x: i64| BigRational::from_integer(x.into());
        let cols: Vec<BigRational> = cols.iter().map(|&x| q(x as i64)).collect();
        let o = solve(&cols, &[q(1), q(1)], &[q(1), q(2), q(3)]).unwrap();
        assert_eq!(o.objective, q(2));
        // Multipliers π with π·M_j ≤ c_j, maximising π·rhs = 2.
        assert_eq!(&o.multipliers[0] + &o.multipliers[1], q(2));
    }

    /// The integer-preserving revised simplex against the rational tableau on random small
    /// LPs: the same optimum, multipliers that solve the dual, and the same optimum again when
    /// resumed after added columns.
    #[test]
    fn integer_simplex_matches_the_rational_one() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (mut optimal, mut resumed_cases) = (0, 0);
        for _ in 0..300 {
            let k = rng.random_range(1..5);
            let m = rng.random_range(1..8);
            // Entries with huge and tiny scales, as in the lp engine's exact fallback.
            let big = |rng: &mut rand_chacha::ChaCha8Rng| {
                let v = BigInt::from(rng.random_range(-9i64..10));
                if rng.random_bool(0.3) {
                    v << rng.random_range(0..300usize)
                } else {
                    v
                }
            };
            let mut columns: Vec<BigInt> = (0..m * k).map(|_| big(&mut rng)).collect();
            let mut rhs: Vec<BigInt> = (0..k).map(|_| big(&mut rng).abs()).collect();
            let split = rng.random_range(1..=m);
            if k > 1 && rng.random_bool(0.3) {
                // A row the first columns leave empty: its artificial stays basic until the
                // added columns reach it.
                let i = rng.random_range(0..k);
                rhs[i] = BigInt::zero();
                for j in 0..split {
                    columns[j * k + i] = BigInt::zero();
                }
            }
            let cost: Vec<BigInt> = (0..m).map(|_| big(&mut rng)).collect();
            let q = |v: &[BigInt]| -> Vec<BigRational> {
                v.iter()
                    .map(|x| BigRational::from_integer(x.clone()))
                    .collect()
            };
            let rational = solve(&q(&columns), &q(&rhs), &q(&cost));
            // The optimum equals the rational one, and the multipliers solve the dual:
            // π·M_j ≤ c_j for every column, π·rhs equals the optimum (they may differ from
            // the rational run's at ties).
            let agrees = |i: &IntegerOptimum, optimum: &BigRational| {
                assert!(i.den.is_positive());
                let over = |x: &BigInt| BigRational::new(x.clone(), i.den.clone());
                assert_eq!(*optimum, over(&i.objective));
                let pi: Vec<BigRational> = i.multipliers.iter().map(over).collect();
                for j in 0..m {
                    let dot: BigRational = (0..k)
                        .map(|row| {
                            &pi[row] * BigRational::from_integer(columns[j * k + row].clone())
                        })
                        .sum();
                    assert!(dot <= BigRational::from_integer(cost[j].clone()));
                }
                let value: BigRational = (0..k)
                    .map(|row| &pi[row] * BigRational::from_integer(rhs[row].clone()))
                    .sum();
                assert_eq!(value, *optimum);
            };
            let integer = IntegerSimplex::new(columns.clone(), &rhs, cost.clone()).solve();
            match (&rational, &integer) {
                (Ok(r), Ok(i)) => {
                    agrees(i, &r.objective);
                    optimal += 1;
                }
                (Err(a), Err(b)) => assert_eq!(a, b),
                (r, i) => panic!("rational {r:?}, integer {i:?}"),
            }
            // Resumed: the first columns solved alone, then the rest added (row generation).
            let mut partial =
                IntegerSimplex::new(columns[..split * k].to_vec(), &rhs, cost[..split].to_vec());
            if partial.solve().is_ok() {
                partial.add_columns(&columns[split * k..], &cost[split..]);
                match (partial.solve(), &rational) {
                    (Ok(i), Ok(r)) => {
                        agrees(&i, &r.objective);
                        resumed_cases += 1;
                    }
                    (Err(a), Err(b)) => assert_eq!(a, *b),
                    (i, r) => panic!("resumed {i:?}, rational {r:?}"),
                }
            }
        }
        assert!(optimal > 50, "too few optimal cases: {optimal}");
        assert!(resumed_cases > 30, "too few resumed cases: {resumed_cases}");
    }
}
