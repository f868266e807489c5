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

/// An exact optimum of [`solve_integer`]: every number is an integer over the common positive
/// denominator `den` (the basis determinant), so no rational is ever normalised.
#[derive(Debug, Clone)]
pub(crate) struct IntegerOptimum {
    /// The objective times `den`.
    pub objective: BigInt,
    /// Simplex multipliers times `den` (the dual solution).
    pub multipliers: Vec<BigInt>,
    pub den: BigInt,
}

/// [`solve`] for integer data in exact arithmetic, integer-preserving (Edmonds; Bareiss's
/// elimination applied to the tableau): the tableau is kept as integers over one denominator,
/// the last pivot, and each pivot divides exactly by the previous one. Entries stay minors of
/// the input, so their size is bounded by Hadamard's inequality; the rational tableau needs a
/// gcd per operation instead, which on huge exponents (weights from 1e-300 to 1e300) costs
/// ~100× more. Dantzig's rule by size first (fewer pivots: 5.3 → 4.3 CPU-s on the extreme
/// 3-D fixture), Bland's rule after 4(m + k) pivots, so it cannot cycle.
pub(crate) fn solve_integer(
    columns: &[BigInt],
    rhs: &[BigInt],
    cost: &[BigInt],
) -> Result<IntegerOptimum, Failure> {
    let k = rhs.len();
    let m = cost.len();
    assert_eq!(columns.len(), m * k, "M must have one column per cost");
    let mut t = IntegerTableau {
        k,
        m,
        width: m + k + 1,
        tab: Vec::new(),
        den: BigInt::one(),
    };
    let width = t.width;
    t.tab.resize((k + 1) * width, BigInt::zero());
    for i in 0..k {
        for j in 0..m {
            t.tab[i * width + j] = columns[j * k + i].clone();
        }
        t.tab[i * width + m + i] = BigInt::one();
        t.tab[i * width + m + k] = rhs[i].clone();
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
    let obj = k * width;
    if (0..k).any(|i| basis[i] >= m && rhs[i].is_positive()) {
        for i in 0..k {
            if basis[i] < m {
                continue;
            }
            for j in 0..width {
                let v = &t.tab[obj + j] - &t.tab[i * width + j];
                t.tab[obj + j] = v;
            }
        }
        for i in 0..k {
            if basis[i] >= m {
                t.tab[obj + m + i] = BigInt::zero();
            }
        }
        t.run(&mut basis)?;
        if t.tab[obj + m + k].is_negative() {
            return Err(Failure::Infeasible);
        }
    }
    for i in 0..k {
        if basis[i] >= m {
            let best = (0..m)
                .filter(|&j| !t.tab[i * width + j].is_zero())
                .max_by_key(|&j| (t.tab[i * width + j].bits(), std::cmp::Reverse(j)));
            if let Some(j) = best {
                t.pivot(i, j);
                basis[i] = j;
            }
        }
    }
    // Phase 2 objective row: den × (c_j − c_B B⁻¹ M_j).
    for j in 0..width {
        t.tab[obj + j] = if j < m {
            &cost[j] * &t.den
        } else {
            BigInt::zero()
        };
    }
    for i in 0..k {
        let b = basis[i];
        if b < m && !cost[b].is_zero() {
            for j in 0..width {
                let v = &t.tab[obj + j] - &cost[b] * &t.tab[i * width + j];
                t.tab[obj + j] = v;
            }
        }
    }
    t.run(&mut basis)?;
    Ok(IntegerOptimum {
        objective: -&t.tab[obj + m + k],
        multipliers: (0..k).map(|i| -&t.tab[obj + m + i]).collect(),
        den: t.den,
    })
}

/// The integer tableau of [`solve_integer`]: the rational tableau is `tab / den`, `den > 0`.
struct IntegerTableau {
    k: usize,
    m: usize,
    width: usize,
    tab: Vec<BigInt>,
    den: BigInt,
}

impl IntegerTableau {
    /// Bland's rule until no real column has a negative reduced cost.
    fn run(&mut self, basis: &mut [usize]) -> Result<(), Failure> {
        let (k, m, width) = (self.k, self.m, self.width);
        let obj = k * width;
        let rhs = m + k;
        for iter in 0.. {
            // Dantzig's rule by size (fewer pivots), Bland's after a while (no cycling).
            let negative = (0..m).filter(|&j| self.tab[obj + j].is_negative());
            let entering = if iter < 4 * (m + k) {
                negative.max_by_key(|&j| (self.tab[obj + j].bits(), std::cmp::Reverse(j)))
            } else {
                negative.min()
            };
            let Some(j) = entering else {
                return Ok(());
            };
            // Ratio test without division: rhs_i / a_i < rhs_l / a_l ⟺ rhs_i a_l < rhs_l a_i.
            let mut leave: Option<usize> = None;
            for i in 0..k {
                let a = &self.tab[i * width + j];
                if !a.is_positive() {
                    continue;
                }
                let better = match leave {
                    None => true,
                    Some(l) => {
                        let lhs = &self.tab[i * width + rhs] * &self.tab[l * width + j];
                        let rhs_l = &self.tab[l * width + rhs] * a;
                        lhs < rhs_l || (lhs == rhs_l && basis[i] < basis[l])
                    }
                };
                if better {
                    leave = Some(i);
                }
            }
            let Some(i) = leave else {
                return Err(Failure::Unbounded);
            };
            self.pivot(i, j);
            basis[i] = j;
        }
        unreachable!("the pivot loop returns")
    }

    /// Pivots on (r, c): the other rows become (p·row − f·row_r) / den, exactly; row r stays;
    /// the new denominator is p (made positive by negating the whole tableau if needed).
    fn pivot(&mut self, r: usize, c: usize) {
        let width = self.width;
        let p = self.tab[r * width + c].clone();
        let (pivot_row, rest) = {
            let (before, after) = self.tab.split_at_mut(r * width);
            let (row, after) = after.split_at_mut(width);
            (row.to_vec(), (before, after))
        };
        let (before, after) = rest;
        let den = &self.den;
        let unit = den.is_one();
        let update = |row: &mut [BigInt]| {
            let f = row[c].clone();
            for (x, y) in row.iter_mut().zip(&pivot_row) {
                let mut v = &*x * &p;
                if !f.is_zero() && !y.is_zero() {
                    v -= &f * y;
                }
                *x = if unit { v } else { exact_div(v, den) };
            }
        };
        before.chunks_mut(width).for_each(update);
        after.chunks_mut(width).for_each(update);
        self.den = p;
        if self.den.is_negative() {
            for x in &mut self.tab {
                *x = -std::mem::take(x);
            }
            self.den = -std::mem::take(&mut self.den);
        }
    }
}

/// `v / d` when d divides v (Bareiss's exact division).
fn exact_div(v: BigInt, d: &BigInt) -> BigInt {
    use num_integer::Integer;
    if v.is_zero() {
        return v;
    }
    let (q, rem) = v.div_rem(d);
    debug_assert!(
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

    /// The integer-preserving tableau against the rational one on random small LPs: the same
    /// optimum, and multipliers that solve the dual.
    #[test]
    fn integer_tableau_matches_the_rational_one() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut optimal = 0;
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
            let columns: Vec<BigInt> = (0..m * k).map(|_| big(&mut rng)).collect();
            let rhs: Vec<BigInt> = (0..k).map(|_| big(&mut rng).abs()).collect();
            let cost: Vec<BigInt> = (0..m).map(|_| big(&mut rng)).collect();
            let q = |v: &[BigInt]| -> Vec<BigRational> {
                v.iter()
                    .map(|x| BigRational::from_integer(x.clone()))
                    .collect()
            };
            let rational = solve(&q(&columns), &q(&rhs), &q(&cost));
            let integer = solve_integer(&columns, &rhs, &cost);
            match (rational, integer) {
                (Ok(r), Ok(i)) => {
                    assert!(i.den.is_positive());
                    let over = |x: &BigInt| BigRational::new(x.clone(), i.den.clone());
                    assert_eq!(r.objective, over(&i.objective));
                    // The multipliers solve the dual: π·M_j ≤ c_j for every column, π·rhs
                    // equals the optimum (they may differ from the rational run's at ties).
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
                    assert_eq!(value, r.objective);
                    optimal += 1;
                }
                (Err(a), Err(b)) => assert_eq!(a, b),
                (r, i) => panic!("rational {r:?}, integer {i:?}"),
            }
        }
        assert!(optimal > 50, "too few optimal cases: {optimal}");
    }
}
