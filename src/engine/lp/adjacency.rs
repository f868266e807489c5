//! Adjacent cells of the lp engine, carried from layer to layer.
//!
//! Two cells are adjacent when their closures share a (d−1)-dimensional piece. Each adjacent
//! pair keeps the facet each cell has on the shared hyperplane H and a witness: a point of H
//! strictly inside every other facet of both cells (so in the relative interior of the shared
//! piece). Splitting the cells of layer l by the units of layer l + 1 gives two kinds of pairs:
//!
//! - **Siblings** (children of one cell X): the children are the cells of the arrangement of the
//!   layer's hyperplanes inside X, so two of them are adjacent iff their signs differ on exactly
//!   one hyperplane (a class of units with proportional maps on X): both are the halves of one
//!   convex cell of the other hyperplanes. The witness is where the segment between their
//!   interior points crosses that hyperplane (the segment stays in that convex cell). No LP.
//! - **Children of adjacent cells** X, Y (shared piece S on H): children Xi of X and Yj of Y are
//!   adjacent only if both keep a facet on H and their signs agree on every unit that does not
//!   vanish on H (the maps agree on H, by continuity). When the parents' witness w is inside
//!   the same cell of the layer's arrangement (every such unit non-zero at w, with Xi's sign),
//!   w stays a witness; otherwise one certified LP on H decides (the other facets of both
//!   cells, projected onto H by eliminating one coordinate).
//!
//! Cells of distinct, non-adjacent parents are never adjacent (their closures meet in less).
//!
//! Nothing here needs a cell's halfspaces to be irredundant, only that they define the cell and
//! include its facets: "the facet on H" is then the cell's halfspace on H (a child without a
//! facet there only fails the checks that follow), and a point strictly inside all the other
//! halfspaces of both cells is strictly inside their other facets. So cells are made
//! irredundant only when facets are asked for.

use super::feasibility::{float_value, Con, Decider, Interior, LpBackend, Pt};
use super::Cell;
use crate::exact::{ExactPoint, LineEq};
use crate::pattern;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use rayon::prelude::*;
use std::cmp::Ordering;
use std::sync::Arc;

/// Two adjacent cells of one layer (a < b).
#[derive(Clone)]
pub(super) struct Pair {
    pub a: u32,
    pub b: u32,
    /// The facet of a (resp. b) on the shared hyperplane.
    fa: Arc<Con>,
    fb: Arc<Con>,
    /// A point of the hyperplane strictly inside every other facet of both cells (`None` only
    /// in the last layer, where no later layer asks for it).
    witness: Option<Arc<Witness>>,
}

impl Pair {
    /// The witness of a pair of a layer before the last.
    fn witness(&self) -> &Witness {
        self.witness
            .as_ref()
            .expect("pairs of a layer before the last carry their witness")
    }
}

/// A pair's witness: a point, or where the segment between two points on either side of a
/// hyperplane crosses it. The crossing's exact coordinates (big products of both points') are
/// made only when a sign at it is not shown on floats; most never are.
pub(super) struct Witness {
    ends: Option<(Arc<Pt>, Arc<Pt>, Arc<Con>)>,
    /// The crossing's float values of h at both ends, taken once for all the signs asked.
    float: Option<FloatCrossing>,
    point: std::sync::OnceLock<Pt>,
}

impl Witness {
    fn at(point: Pt) -> Witness {
        Witness {
            ends: None,
            float: None,
            point: point.into(),
        }
    }

    /// Where the segment from `p` to `q` (strictly on either side of `h`) crosses it.
    fn crossing(p: &Arc<Pt>, q: &Arc<Pt>, h: &Arc<Con>) -> Witness {
        Witness {
            ends: Some((p.clone(), q.clone(), h.clone())),
            float: FloatCrossing::new(&h.f, p, q),
            point: std::sync::OnceLock::new(),
        }
    }

    fn point(&self) -> &Pt {
        self.point.get_or_init(|| {
            let (p, q, h) = self
                .ends
                .as_ref()
                .expect("a witness without a point has ends");
            Pt::from_exact(crossing(&p.exact, &q.exact, &h.eq))
        })
    }

    /// The exact sign of `c` at the witness.
    fn sign(&self, c: &Con, stats: &super::feasibility::Stats) -> Ordering {
        if let (None, Some((p, q, _)), Some(x)) = (self.point.get(), &self.ends, &self.float) {
            if let Some(s) = x.sign(c, p, q) {
                return s;
            }
        }
        c.sign_at(self.point(), stats)
    }
}

/// Where the segment from `p` to `q` crosses the plane of a halfspace h, on floats: at the
/// crossing r = p + λ(q − p), λ = h(p) / (h(p) − h(q)), any affine c has c(r) = (h(p)·c(q) −
/// h(q)·c(p)) / (h(p) − h(q)), whose signs are bounded from the four values' float errors, so
/// no exact point is made.
struct FloatCrossing {
    hp: (f64, f64),
    hq: (f64, f64),
    /// h(p) < 0 < h(q): the denominator is negative.
    flip: bool,
}

impl FloatCrossing {
    /// `None` unless h(p) and h(q) (floats `hf`) are shown of opposite signs.
    fn new(hf: &[f64], p: &Pt, q: &Pt) -> Option<FloatCrossing> {
        let ((hp, ehp), (hq, ehq)) = (float_value(hf, p), float_value(hf, q));
        let flip = if hp > ehp && hq < -ehq {
            false
        } else if hp < -ehp && hq > ehq {
            true
        } else {
            return None;
        };
        Some(FloatCrossing {
            hp: (hp, ehp),
            hq: (hq, ehq),
            flip,
        })
    }

    /// The sign of `c` at the crossing, when floats show it.
    fn sign(&self, c: &Con, p: &Pt, q: &Pt) -> Option<Ordering> {
        let ((hp, ehp), (hq, ehq)) = (self.hp, self.hq);
        let (cp, ecp) = float_value(&c.f, p);
        let (cq, ecq) = float_value(&c.f, q);
        let num = hp * cq - hq * cp;
        // Each product's error from its factors' errors, plus the rounding of two products
        // and a difference (3u of the magnitudes, doubled).
        let err = hp.abs() * ecq
            + cq.abs() * ehp
            + ehp * ecq
            + hq.abs() * ecp
            + cp.abs() * ehq
            + ehq * ecp
            + 6.0 * f64::EPSILON * (hp * cq).abs().max((hq * cp).abs())
            + 1e-300;
        let sign = if num > err {
            Ordering::Greater
        } else if num < -err {
            Ordering::Less
        } else {
            return None;
        };
        Some(if self.flip { sign.reverse() } else { sign })
    }
}

/// Certified questions on a hyperplane: "is the open set of H inside these halfspaces
/// non-empty?", asked in d − 1 coordinates (one decider per eliminated coordinate).
pub(super) struct OnHyperplane {
    deciders: Vec<Decider>,
}

impl OnHyperplane {
    pub(super) fn new(lo: &[BigRational], hi: &[BigRational], backend: LpBackend) -> Self {
        let d = lo.len();
        let drop = |v: &[BigRational], p: usize| -> Vec<BigRational> {
            v.iter()
                .enumerate()
                .filter(|&(i, _)| i != p)
                .map(|(_, x)| x.clone())
                .collect()
        };
        // In 1-D the hyperplane is a point: the witness always decides (no unit can vanish at it
        // without vanishing on H), so no decider is needed.
        let deciders = if d < 2 {
            Vec::new()
        } else {
            (0..d)
                .map(|p| Decider::new(&drop(lo, p), &drop(hi, p), backend))
                .collect()
        };
        OnHyperplane { deciders }
    }

    /// LPs solved on hyperplanes, float decisions that fell back to exact integers, exact
    /// simplex runs (the counters of [`super::LpPartition`]).
    pub(super) fn counters(&self) -> [usize; 3] {
        let load =
            |a: &std::sync::atomic::AtomicUsize| a.load(std::sync::atomic::Ordering::Relaxed);
        self.deciders.iter().fold([0; 3], |[l, f, e], d| {
            [
                l + load(&d.stats.lp_solves),
                f + load(&d.stats.fallbacks),
                e + load(&d.stats.exact_lps),
            ]
        })
    }

    /// A point of `{h = 0}` strictly inside every row, or `None` when there is none. The rows'
    /// solutions on H must lie in the domain (they do: the rows include a cell's facets but the
    /// one on H, and the cell is closed and bounded).
    fn interior(&self, hc: &Con, rows: &[&Con]) -> Option<Pt> {
        let h = &hc.eq;
        let d = h.a.len();
        // Eliminate the coordinate with the largest coefficient.
        let p = (0..d).max_by_key(|&i| h.a[i].bits())?;
        if let Some(found) = self.float_guess(hc, p, rows) {
            return Some(found);
        }
        let hp = &h.a[p];
        let sign = if hp.is_negative() {
            BigInt::from(-1)
        } else {
            BigInt::from(1)
        };
        let mut projected = Vec::with_capacity(rows.len());
        for r in rows {
            let (a, c) = (&r.eq.a, &r.eq.c);
            let ap = &a[p];
            let a2: Vec<BigInt> = (0..d)
                .filter(|&i| i != p)
                .map(|i| &sign * (&a[i] * hp - ap * &h.a[i]))
                .collect();
            let c2 = &sign * (c * hp - ap * &h.c);
            if a2.iter().all(Zero::is_zero) {
                // Constant on H (zero there: no point of H is strictly inside).
                if c2.is_positive() {
                    continue;
                }
                return None;
            }
            projected.push(Con::new(LineEq { a: a2, c: c2 }));
        }
        // Not reached: a bounded cell's other facets bound its piece of H (d ≥ 2), and in 1-D
        // the witness always decides. Losing a pair silently would be worse than stopping.
        assert!(
            !projected.is_empty() && !self.deciders.is_empty(),
            "internal error: an unbounded question on a hyperplane"
        );
        let refs: Vec<&Con> = projected.iter().collect();
        match self.deciders[p].interior(&refs) {
            Interior::Empty => None,
            Interior::NonEmpty(q) => Some(Pt::from_exact(lift(&q.exact, h, p))),
        }
    }
}

impl OnHyperplane {
    /// A point of `{h = 0}` strictly inside every row, found on floats and then proven: the
    /// rows projected onto H in floats (coordinate `p` eliminated), their Chebyshev point by
    /// the float simplex, lifted onto H exactly and checked against every row by exact sign
    /// tests. `None` when that fails (the exact projection decides): it saves the projection in
    /// big integers, most of an LP on H in 4-D. The dense backend only.
    fn float_guess(&self, h: &Con, p: usize, rows: &[&Con]) -> Option<Pt> {
        // (Other backends keep their own float LP, or none.)
        let dec = self
            .deciders
            .get(p)
            .filter(|d| d.backend == LpBackend::Dense)?;
        let d = h.f.len() - 1;
        let (hf, hp) = (&h.f, h.f[p]);
        let sign = if hp < 0.0 { -1.0 } else { 1.0 };
        // The margin LP's columns (−a, ‖a‖₁) and costs c over the d − 1 kept coordinates, as in
        // `Decider::interior`, and the cap's column.
        let mut columns = Vec::with_capacity((rows.len() + 1) * d);
        let mut cost = Vec::with_capacity(rows.len() + 1);
        for r in rows {
            let f = &r.f;
            let mut l1 = 0.0;
            for i in (0..d).filter(|&i| i != p) {
                let a = sign * (f[i] * hp - f[p] * hf[i]);
                columns.push(-a);
                l1 += a.abs();
            }
            columns.push(l1);
            cost.push(sign * (f[d] * hp - f[p] * hf[d]));
        }
        columns.extend(std::iter::repeat_n(0.0, d - 1));
        columns.push(1.0);
        cost.push(dec.cap);
        let mut rhs = vec![0.0; d];
        rhs[d - 1] = 1.0;
        dec.stats
            .lp_solves
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let opt = super::simplex::solve_in(&columns, &rhs, &cost, &mut Vec::new()).ok()?;
        // (A NaN objective fails too.)
        if opt.objective.partial_cmp(&1e-12) != Some(Ordering::Greater) {
            return None;
        }
        let q = Pt::from_f64(&opt.multipliers[..d - 1])?;
        let found = Pt::from_exact(lift(&q.exact, &h.eq, p));
        (h.eq.a.len() == d
            && found.exact.side(&h.eq) == Ordering::Equal
            && rows
                .iter()
                .all(|r| r.sign_at(&found, &dec.stats) == Ordering::Greater))
        .then_some(found)
    }
}

/// The point of `{h = 0}` whose coordinates other than `p` are `q`.
fn lift(q: &ExactPoint, h: &LineEq, p: usize) -> ExactPoint {
    let d = h.a.len();
    let hp = &h.a[p];
    let mut tp = -(&h.c * &q.den);
    let mut num = Vec::with_capacity(d);
    let mut k = 0;
    for i in 0..d {
        if i == p {
            num.push(BigInt::zero());
            continue;
        }
        tp -= &h.a[i] * &q.num[k];
        num.push(&q.num[k] * hp);
        k += 1;
    }
    num[p] = tp;
    let den = &q.den * hp;
    ExactPoint::from_signed(num, den)
}

/// Where the segment from `p` to `q` (on opposite sides of `h`) crosses it.
fn crossing(p: &ExactPoint, q: &ExactPoint, h: &LineEq) -> ExactPoint {
    let value = |x: &ExactPoint| {
        h.a.iter()
            .zip(&x.num)
            .fold(&h.c * &x.den, |s, (a, v)| s + a * v)
    };
    let (hp, hq) = (value(p), value(q));
    // p + λ(q − p) with λ = h(p) / (h(p) − h(q)): (hp·q.num − hq·p.num) / (hp·q.den − hq·p.den).
    let num: Vec<BigInt> = p
        .num
        .iter()
        .zip(&q.num)
        .map(|(a, b)| &hp * b - &hq * a)
        .collect();
    let den = &hp * &q.den - &hq * &p.den;
    ExactPoint::from_signed(num, den)
}

/// The facet of `cell` that is the closed halfspace `h` (up to a positive factor), if any.
fn facet_on(cell: &Cell, h: &Arc<Con>) -> Option<Arc<Con>> {
    if let Some(c) = cell.cons.iter().find(|c| Arc::ptr_eq(c, h)) {
        return Some(c.clone());
    }
    // A unit of this layer on the same hyperplane may have replaced it.
    cell.cons
        .iter()
        .find(|c| c.multiple_of(h) == Some(true))
        .cloned()
}

/// Where the segment between the witnesses of two cells on either side of the hyperplane of
/// `ci` crosses it, when that point is strictly inside every other facet of both (then it is a
/// witness of their shared piece, found without an LP).
fn shared_crossing(
    dec: &Decider,
    xi: &Cell,
    yj: &Cell,
    ci: &Arc<Con>,
    cj: &Arc<Con>,
) -> Option<Pt> {
    let r = Pt::from_exact(crossing(&xi.known[0].exact, &yj.known[0].exact, &ci.eq));
    let inside = |cell: &Cell, skip: &Arc<Con>| {
        cell.cons
            .iter()
            .filter(|c| !Arc::ptr_eq(c, skip))
            .all(|c| c.sign_at(&r, &dec.stats) == Ordering::Greater)
    };
    (inside(xi, ci) && inside(yj, cj)).then_some(r)
}

/// Whether the segment between the witnesses of two cells on either side of the hyperplane of
/// `ci` crosses it strictly inside every other facet of both, shown on floats alone (`false`:
/// not shown; see [`FloatCrossing`]).
fn crossing_inside_by_floats(xi: &Cell, yj: &Cell, ci: &Arc<Con>, cj: &Arc<Con>) -> bool {
    let (p, q) = (&xi.known[0], &yj.known[0]);
    // Xi is on the positive side of its facet.
    let Some(x) = FloatCrossing::new(&ci.f, p, q).filter(|x| !x.flip) else {
        return false;
    };
    let other_facets = |cell: &Cell, skip: &Arc<Con>| {
        cell.cons
            .iter()
            .filter(|c| !Arc::ptr_eq(c, skip))
            .all(|c| x.sign(c, p, q) == Some(Ordering::Greater))
    };
    other_facets(xi, ci) && other_facets(yj, cj)
}

/// The layer's units whose bits differ between two cells.
fn differing<'a>(
    a: &'a Cell,
    b: &'a Cell,
    offset: usize,
    units: usize,
) -> impl Iterator<Item = usize> + 'a {
    (0..units).filter(move |&k| {
        pattern::get(&a.pattern, offset + k) != pattern::get(&b.pattern, offset + k)
    })
}

/// One layer's unit on one parent cell: its map as a halfspace, or its one sign on the parent's
/// closure when no map is needed: a constant map's sign (`Equal`: the zero map, which vanishes
/// everywhere), or the strict sign of a unit shown off the parent's closure (its plane misses
/// the parent's box, or a Motzkin bound puts it below zero there).
pub(super) enum Unit {
    Map(Arc<Con>),
    Sign(Ordering),
}

impl Unit {
    fn map(&self) -> Option<&Arc<Con>> {
        match self {
            Unit::Map(c) => Some(c),
            Unit::Sign(_) => None,
        }
    }

    /// Zero on the whole hyperplane of `h` (a multiple of it, or the constant 0).
    fn vanishes_on(&self, h: &Con) -> bool {
        match self {
            Unit::Map(c) => c.multiple_of(h).is_some(),
            Unit::Sign(s) => *s == Ordering::Equal,
        }
    }
}

/// The units of the layer on a parent, as its cells recorded them (or rebuilt from its rows).
fn units_on(kids: &[Cell], units: usize) -> Arc<Vec<Unit>> {
    if let Some(u) = &kids[0].units {
        return u.clone();
    }
    let rows = kids[0]
        .prev
        .as_ref()
        .expect("a split cell knows its layer's rows");
    Arc::new(
        (0..units)
            .map(|k| {
                let eq = rows.halfspace(k);
                if eq.is_constant() {
                    Unit::Sign(eq.c.cmp(&BigInt::zero()))
                } else {
                    Unit::Map(Arc::new(Con::new(eq)))
                }
            })
            .collect(),
    )
}

/// The adjacent pairs among the cells of layer l (`children[x]`: the cells cut from parent x),
/// from the adjacent pairs among the parents. `offset` and `units`: where layer l's units sit
/// in the patterns, and how many there are.
pub(super) fn next_layer(
    dec: &Decider,
    on_h: &OnHyperplane,
    parent_pairs: &[Pair],
    children: &[Vec<Cell>],
    offset: usize,
    units: usize,
    last: bool,
) -> Vec<Pair> {
    let mut start = Vec::with_capacity(children.len() + 1);
    start.push(0u32);
    for kids in children {
        start.push(start.last().unwrap() + kids.len() as u32);
    }
    let cons: Vec<Arc<Vec<Unit>>> = children
        .par_iter()
        .map(|kids| units_on(kids, units))
        .collect();
    let siblings = children.par_iter().enumerate().flat_map_iter(|(x, kids)| {
        let mut out = Vec::new();
        for i in 0..kids.len() {
            for j in i + 1..kids.len() {
                if let Some(pair) = sibling_pair(&kids[i], &kids[j], &cons[x], offset, units, last)
                {
                    out.push(Pair {
                        a: start[x] + i as u32,
                        b: start[x] + j as u32,
                        ..pair
                    });
                }
            }
        }
        out
    });
    let across = parent_pairs.par_iter().flat_map_iter(|pp| {
        let (x, y) = (pp.a as usize, pp.b as usize);
        let on_x: Vec<(usize, Arc<Con>)> = children[x]
            .iter()
            .enumerate()
            .filter_map(|(i, c)| facet_on(c, &pp.fa).map(|f| (i, f)))
            .collect();
        let on_y: Vec<(usize, Arc<Con>)> = children[y]
            .iter()
            .enumerate()
            .filter_map(|(j, c)| facet_on(c, &pp.fb).map(|f| (j, f)))
            .collect();
        // Units vanishing on H keep the side of H (their bits differ across it, legitimately).
        let vanishing: Vec<bool> = cons[x].iter().map(|u| u.vanishes_on(&pp.fa)).collect();
        let mut out = Vec::new();
        for (i, ci) in &on_x {
            let xi = &children[x][*i];
            // Is the parents' witness in the open cell of Xi's signs?
            let inside = (0..units).all(|k| match cons[x][k].map() {
                Some(c) if !vanishing[k] => {
                    let s = pp.witness().sign(c, &dec.stats);
                    s != Ordering::Equal
                        && (s == Ordering::Greater) == pattern::get(&xi.pattern, offset + k)
                }
                _ => true,
            });
            for (j, cj) in &on_y {
                let yj = &children[y][*j];
                if differing(xi, yj, offset, units).any(|k| !vanishing[k]) {
                    continue;
                }
                // Some(witness) when adjacent (the witness None only in the last layer).
                let adjacent = if inside {
                    Some(if last { None } else { pp.witness.clone() })
                } else if crossing_inside_by_floats(xi, yj, ci, cj) {
                    Some(
                        (!last)
                            .then(|| Arc::new(Witness::crossing(&xi.known[0], &yj.known[0], ci))),
                    )
                } else if let Some(r) = shared_crossing(dec, xi, yj, ci, cj) {
                    Some(Some(Arc::new(Witness::at(r))))
                } else {
                    let rows: Vec<&Con> = xi
                        .cons
                        .iter()
                        .filter(|c| !Arc::ptr_eq(c, ci))
                        .chain(yj.cons.iter().filter(|c| !Arc::ptr_eq(c, cj)))
                        .map(|c| c.as_ref())
                        .collect();
                    // No other halfspace of either cell lies on H (a cut plane meets its cell's
                    // interior, so no facet is ever doubled): were one there, the question
                    // below would answer "empty" and lose the pair.
                    debug_assert!(rows.iter().all(|r| r.multiple_of(ci).is_none()));
                    on_h.interior(ci, &rows)
                        .map(|p| Some(Arc::new(Witness::at(p))))
                };
                if let Some(witness) = adjacent {
                    let (a, b) = (start[x] + *i as u32, start[y] + *j as u32);
                    out.push(if a < b {
                        Pair {
                            a,
                            b,
                            fa: ci.clone(),
                            fb: cj.clone(),
                            witness,
                        }
                    } else {
                        Pair {
                            a: b,
                            b: a,
                            fa: cj.clone(),
                            fb: ci.clone(),
                            witness,
                        }
                    });
                }
            }
        }
        out
    });
    let mut pairs: Vec<Pair> = siblings.chain(across).collect();
    pairs.par_sort_unstable_by_key(|p| (p.a, p.b));
    pairs
}

/// Two children of one cell: adjacent iff their bits differ on exactly one class of units with
/// proportional maps (`a`, `b` fields of the result are placeholders).
fn sibling_pair(
    ci: &Cell,
    cj: &Cell,
    cons: &[Unit],
    offset: usize,
    units: usize,
    last: bool,
) -> Option<Pair> {
    let mut diff = differing(ci, cj, offset, units);
    let k0 = diff.next()?;
    let first = cons[k0].map()?;
    if diff.any(|k| cons[k].map().is_none_or(|c| c.multiple_of(first).is_none())) {
        return None;
    }
    let towards_i = if pattern::get(&ci.pattern, offset + k0) {
        first.clone()
    } else {
        first.flip()
    };
    let fa = facet_on(ci, &towards_i)?;
    let fb = facet_on(cj, &towards_i.flip())?;
    // (An exact crossing: only a later layer needs it.)
    let witness = (!last).then(|| Arc::new(Witness::crossing(&ci.known[0], &cj.known[0], first)));
    Some(Pair {
        a: 0,
        b: 0,
        fa,
        fb,
        witness,
    })
}

#[cfg(test)]
mod tests {
    use super::super::feasibility::tests::con;
    use super::*;
    use num_traits::One;

    /// A cell of the square [-2, 2]² with extra halfspaces and one interior point.
    fn cell(extra: Vec<Arc<Con>>, inside: [f64; 2]) -> Cell {
        let mut cons: Vec<Arc<Con>> = [([1, 0], 2), ([-1, 0], 2), ([0, 1], 2), ([0, -1], 2)]
            .iter()
            .map(|&(a, c)| Arc::new(con(&a, c)))
            .collect();
        cons.extend(extra);
        Cell {
            pattern: vec![0],
            cons,
            certs: Vec::new(),
            known: vec![Arc::new(Pt::from_f64(&inside).expect("finite"))],
            prev: None,
            next: None,
            bbox: vec![(-2.0, 2.0); 2],
            units: None,
        }
    }

    /// Cells on either side of x = 0, witnesses (−1, 1) and (1, −1): the segment between them
    /// crosses x = 0 at the origin. It proves adjacency only when the origin is strictly inside
    /// every other facet: not when another facet's line passes through it.
    #[test]
    fn float_crossings_prove_only_strictly_inside() {
        let left = Arc::new(con(&[-1, 0], 0));
        let right = Arc::new(con(&[1, 0], 0));
        let open = |extra: Vec<Arc<Con>>| cell([vec![left.clone()], extra].concat(), [-1.0, 1.0]);
        let yj = cell(vec![right.clone()], [1.0, -1.0]);
        // y + 1 ≥ 0 holds strictly at the origin; y ≥ 0 with equality.
        for (c, proven) in [(1, true), (0, false)] {
            let xi = open(vec![Arc::new(con(&[0, 1], c))]);
            assert_eq!(
                crossing_inside_by_floats(&xi, &yj, &left, &right),
                proven,
                "y + {c} ≥ 0"
            );
        }
        // The same with the facet on the other cell: x − y ≥ 0 in Yj passes through the origin.
        let xi = open(Vec::new());
        let through = cell(vec![right.clone(), Arc::new(con(&[1, -1], 0))], [1.0, -1.0]);
        assert!(!crossing_inside_by_floats(&xi, &through, &left, &right));
        let clear = cell(vec![right.clone(), Arc::new(con(&[1, -1], 1))], [1.0, -1.0]);
        assert!(crossing_inside_by_floats(&xi, &clear, &left, &right));
    }

    /// Integers drawn uniformly from −m..=m, from a seed.
    fn small_ints(seed: u64) -> impl FnMut(i64) -> i64 {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        move |m| rng.random_range(-m..=m)
    }

    /// A sign shown on floats at a segment's crossing is the exact sign there, and a plane
    /// through the crossing (or a crossing too close to call) is never given a sign.
    #[test]
    fn crossing_signs_on_floats_are_exact_signs() {
        let mut next = small_ints(7);
        let (mut shown, mut through) = (0, 0);
        for _ in 0..2000 {
            let h = Arc::new(con(&[next(5), next(5), next(5)], next(5)));
            // Thirds and sevenths: full mantissas, so the floats round.
            let p = Pt::from_f64(&[next(9) as f64 / 7.0, next(9) as f64 / 3.0, 0.5]).unwrap();
            let q = Pt::from_f64(&[next(9) as f64 / 3.0, -0.75, next(9) as f64 / 7.0]).unwrap();
            if p.exact.side(&h.eq) == q.exact.side(&h.eq)
                || p.exact.side(&h.eq) == Ordering::Equal
                || q.exact.side(&h.eq) == Ordering::Equal
            {
                continue;
            }
            let r = crossing(&p.exact, &q.exact, &h.eq);
            let Some(x) = FloatCrossing::new(&h.f, &p, &q) else {
                continue;
            };
            // A random plane, and one through r (its constant chosen so): a·r + c = 0.
            let a: Vec<i64> = (0..3).map(|_| next(4)).collect();
            let c = con(&a, next(6));
            assert!(x.sign(&c, &p, &q).is_none_or(|s| s == r.side(&c.eq)));
            shown += usize::from(x.sign(&c, &p, &q).is_some());
            let ar: BigInt = (0..3).map(|k| BigInt::from(a[k]) * &r.num[k]).sum();
            let eq = LineEq {
                a: a.iter().map(|&v| BigInt::from(v) * &r.den).collect(),
                c: -ar,
            };
            if eq.a.iter().all(|v| v.is_zero()) {
                continue;
            }
            assert_eq!(r.side(&eq), Ordering::Equal);
            assert_eq!(
                x.sign(&Con::new(eq), &p, &q),
                None,
                "a plane through the crossing"
            );
            through += 1;
        }
        assert!(
            shown > 500 && through > 500,
            "{shown} shown, {through} through"
        );
    }

    /// Questions on a hyperplane: the dense backend (a float guess, proven, before the exact
    /// projection) and the exact one agree on every answer, and every point is on H and strictly
    /// inside every row.
    #[test]
    fn questions_on_a_hyperplane_agree_with_the_exact_backend() {
        let (lo, hi) = (vec![-BigRational::one(); 3], vec![BigRational::one(); 3]);
        let dense = OnHyperplane::new(&lo, &hi, LpBackend::Dense);
        let exact = OnHyperplane::new(&lo, &hi, LpBackend::Exact);
        let mut next = small_ints(11);
        let (mut found, mut empty, mut guessed) = (0, 0, 0);
        for _ in 0..300 {
            let h = con(&[next(6), next(6), 1 + next(3).abs()], next(2));
            // The box, and a few random halfspaces (some through a common point).
            let mut rows: Vec<Con> = [([1, 0, 0], 1), ([-1, 0, 0], 1), ([0, 1, 0], 1)]
                .iter()
                .chain(&[([0, -1, 0], 1), ([0, 0, 1], 1), ([0, 0, -1], 1)])
                .map(|(a, c)| con(a, *c))
                .collect();
            for _ in 0..1 + next(2).abs() {
                rows.push(con(&[next(5), next(5), next(5)], next(3)));
            }
            let refs: Vec<&Con> = rows.iter().collect();
            let a = dense.interior(&h, &refs);
            let b = exact.interior(&h, &refs);
            assert_eq!(
                a.is_some(),
                b.is_some(),
                "{:?} {:?}",
                h.eq,
                rows.iter().map(|r| &r.eq).collect::<Vec<_>>()
            );
            if let Some(p) = a {
                assert_eq!(p.exact.side(&h.eq), Ordering::Equal);
                assert!(rows
                    .iter()
                    .all(|r| p.exact.side(&r.eq) == Ordering::Greater));
                found += 1;
                // The float guess alone answers nearly all of them.
                let k = (0..3).max_by_key(|&i| h.eq.a[i].bits()).unwrap();
                guessed += usize::from(dense.float_guess(&h, k, &refs).is_some());
            } else {
                empty += 1;
            }
        }
        assert!(found > 50 && empty > 20, "{found} found, {empty} empty");
        assert!(10 * guessed >= 9 * found, "{guessed} of {found} guessed");
    }
}
