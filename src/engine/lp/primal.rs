//! A float primal simplex that walks a cell's vertices: the quick answer to "does this plane
//! cut the cell?", asked of every unit of a layer on the same cell. One vertex is found per cell
//! and each question starts from the last one's optimum, so it costs a pivot or two instead of a
//! Chebyshev LP from scratch.
//!
//! Nothing here is believed unproven. To show that `h` takes a sign on the cell, it returns a
//! point strictly inside the cell with that sign, built from the cell's witness and the optimal
//! vertex; the caller checks it with the exact sign tests. To show that `h` never takes a sign,
//! it returns the Motzkin combination read off the optimal vertex's tight rows, checked by
//! [`feasibility::float_motzkin`] with a proven error bound. Any doubt (degenerate vertices,
//! ill-conditioned bases, a plane through a vertex) answers `None`, and the caller runs the
//! certified LP.

use super::feasibility;

/// The walk serves slices of up to four dimensions (the engine's LPs answer alone above): its
/// fixed-size vectors stay small to copy (a remembered vertex with its inverse: 192 bytes).
const MAX_DIM: usize = 4;

/// Pivots per question before giving up (Bland's rule from half of it).
const MAX_PIVOTS: usize = 40;

/// Vertices a walk remembers.
const MET_MAX: usize = 32;

type Vector = [f64; MAX_DIM];

/// A vertex met by a walk: the point, the `d` rows tight there, and the inverse of their
/// normals.
type Met = (Vector, [usize; MAX_DIM], [Vector; MAX_DIM]);

/// A vertex of a cell as pass 2 keeps it: the point and the `d` rows tight there (the inverse is
/// recomputed when a walk starts from it: 48 bytes to copy instead of 200).
#[derive(Clone, Copy)]
pub(crate) struct Vertex {
    pub x: Vector,
    tight: [u32; MAX_DIM],
}

/// A cell `{x : a_i·x + c_i ≥ 0}` (rows as scaled floats, `a` then `c`) and a vertex of it: the
/// `d` rows tight there and the inverse of their normals.
pub(crate) struct Walk<'a> {
    d: usize,
    rows: Vec<&'a [f64]>,
    x: Vector,
    tight: [usize; MAX_DIM],
    /// `inv[r][k]` = (A_T⁻¹)[r][k], with row k of A_T the normal of row `tight[k]`.
    inv: [Vector; MAX_DIM],
    /// A pivot met a singular basis: the state is no vertex any more, every question answers
    /// `None`.
    broken: bool,
    /// Vertices met so far (point, tight rows, inverse): a question starts from the one where
    /// its plane is highest, most often its optimum, so it needs no pivot.
    met: Vec<Met>,
    /// Off for a walk that answers one question (see [`Walk::from_vertex`]).
    remembers: bool,
}

/// What the walk found for "is `{h > 0}` non-empty on the cell?".
pub(crate) enum Answer {
    /// A point with `h > 0` strictly inside the cell, if floats are right (the caller proves it).
    Witness(Vector),
    /// `h ≤ 0` on the whole cell, proven.
    Empty,
}

impl<'a> Walk<'a> {
    /// Walks from `inside` (a point strictly inside) to a vertex: d moves, each along a fixed
    /// direction projected onto the planes met so far, to the first plane in the way.
    pub fn new(rows: Vec<&'a [f64]>, inside: &[f64]) -> Option<Walk<'a>> {
        let d = inside.len();
        if d > MAX_DIM {
            return None;
        }
        let mut w = Walk {
            d,
            rows,
            x: [0.0; MAX_DIM],
            tight: [usize::MAX; MAX_DIM],
            inv: [[0.0; MAX_DIM]; MAX_DIM],
            broken: false,
            met: Vec::new(),
            remembers: true,
        };
        w.x[..d].copy_from_slice(inside);
        // Orthonormal basis of the tight normals.
        let mut basis = [[0.0f64; MAX_DIM]; MAX_DIM];
        for step in 0..d {
            // A direction unlikely to be parallel to any plane of a network.
            let mut dir = [0.0f64; MAX_DIM];
            for (k, v) in dir[..d].iter_mut().enumerate() {
                *v = -1.0 / (k as f64 + 1.7);
            }
            for q in &basis[..step] {
                let t = dot(&dir[..d], &q[..d]);
                for k in 0..d {
                    dir[k] -= t * q[k];
                }
            }
            if norm(&dir[..d]) < 1e-9 {
                return None;
            }
            let (j, t) = w.ratio_test(&w.tight[..step], &dir)?;
            for k in 0..d {
                w.x[k] += t * dir[k];
            }
            let mut q = [0.0f64; MAX_DIM];
            q[..d].copy_from_slice(&w.rows[j][..d]);
            for b in &basis[..step] {
                let t = dot(&q[..d], &b[..d]);
                for k in 0..d {
                    q[k] -= t * b[k];
                }
            }
            let n = norm(&q[..d]);
            if n < 1e-9 * norm(&w.rows[j][..d]) {
                return None;
            }
            q[..d].iter_mut().for_each(|v| *v /= n);
            basis[step] = q;
            w.tight[step] = j;
        }
        if !w.refresh() {
            return None;
        }
        w.remember();
        Some(w)
    }

    /// A walk over `rows` for one question, from their vertex `start` (its tight rows index
    /// `rows`). The vertices of a cell strictly inside the halfspaces that cut a sub-cell out
    /// are the sub-cell's (same tight rows, same inverse): pass 2 hands each sub-cell those of
    /// its parent's walk, and the vertices its own questions end at, so it needs no search
    /// for a vertex. (A vertex given wrongly only costs answers: every answer is proven.)
    pub fn from_vertex<'b>(d: usize, rows: Vec<&'b [f64]>, start: &Vertex) -> Option<Walk<'b>> {
        if d > MAX_DIM {
            return None;
        }
        let mut w = Walk {
            d,
            rows,
            x: start.x,
            tight: start.tight.map(|t| t as usize),
            inv: [[0.0; MAX_DIM]; MAX_DIM],
            broken: false,
            met: Vec::new(),
            remembers: false,
        };
        (w.tight[..d].iter().all(|&t| t < w.rows.len()) && w.refresh()).then_some(w)
    }

    /// The vertices met so far.
    pub fn met(&self) -> impl Iterator<Item = Vertex> + '_ {
        self.met.iter().map(|(x, tight, _)| Vertex::new(x, tight))
    }

    /// The current vertex (after [`Walk::side`]: the optimum of its plane).
    pub fn vertex(&self) -> Option<Vertex> {
        (!self.broken).then(|| Vertex::new(&self.x, &self.tight))
    }

    /// Keeps the current vertex among those met (a bounded list).
    fn remember(&mut self) {
        if self.remembers && self.met.len() < MET_MAX {
            self.met.push((self.x, self.tight, self.inv));
        }
    }

    /// Moves to the vertex met so far where `h` is highest, if it beats the current one.
    fn jump_to_best(&mut self, h: &[f64]) {
        let d = self.d;
        let value = |x: &Vector| dot(&h[..d], &x[..d]);
        let mut best = (usize::MAX, value(&self.x));
        for (i, (x, _, _)) in self.met.iter().enumerate() {
            let v = value(x);
            if v > best.1 {
                best = (i, v);
            }
        }
        if let Some((x, tight, inv)) = self.met.get(best.0) {
            (self.x, self.tight, self.inv) = (*x, *tight, *inv);
        }
    }

    /// Recomputes the inverse of the tight normals and the vertex itself from them (no drift).
    fn refresh(&mut self) -> bool {
        let d = self.d;
        let mut a = [[0.0f64; MAX_DIM]; MAX_DIM];
        for k in 0..d {
            a[k][..d].copy_from_slice(&self.rows[self.tight[k]][..d]);
        }
        if !invert(&mut a, &mut self.inv, d) {
            return false;
        }
        // A_T x = −c_T.
        for r in 0..d {
            self.x[r] = -(0..d)
                .map(|k| self.inv[r][k] * self.rows[self.tight[k]][d])
                .sum::<f64>();
        }
        self.x[..d].iter().all(|v| v.is_finite())
    }

    /// Maximises `h` over the cell from the current vertex; on success the vertex is optimal,
    /// and the maximum is returned with multipliers `y ≥ 0`, `−a_h = Σ y_k a_{tight[k]}`.
    fn maximise(&mut self, h: &[f64]) -> Option<(f64, Vector)> {
        let d = self.d;
        let scale = h[..d].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let tol = 1e-12 * scale.max(1e-300);
        self.jump_to_best(h);
        for pivot in 0..MAX_PIVOTS {
            // y = −A_T⁻ᵀ a_h: the multipliers of min (−h).
            let mut y = [0.0f64; MAX_DIM];
            for (k, yk) in y[..d].iter_mut().enumerate() {
                *yk = -(0..d).map(|r| self.inv[r][k] * h[r]).sum::<f64>();
            }
            let negative = (0..d).filter(|&k| y[k] < -tol);
            let leaving = if pivot < MAX_PIVOTS / 2 {
                negative.min_by(|&a, &b| y[a].total_cmp(&y[b]))
            } else {
                negative.min_by_key(|&k| self.tight[k])
            };
            let Some(k) = leaving else {
                y[..d].iter_mut().for_each(|v| *v = v.max(0.0));
                return Some((h[d] + dot(&h[..d], &self.x[..d]), y));
            };
            // Along column k of A_T⁻¹, row tight[k] grows and the other tight rows stay 0.
            let mut dir = [0.0f64; MAX_DIM];
            for r in 0..d {
                dir[r] = self.inv[r][k];
            }
            let (j, t) = self.ratio_test(&self.tight[..d], &dir)?;
            for r in 0..d {
                self.x[r] += t * dir[r];
            }
            self.tight[k] = j;
            if !self.refresh() {
                self.broken = true;
                return None;
            }
            self.remember();
        }
        None
    }

    /// Is `{h > 0}` non-empty on the cell, whose witness `inside` (strictly inside) has
    /// `h ≤ 0`? `radius`: the outer box of the Motzkin check (see [`feasibility`]).
    pub fn side(&mut self, h: &[f64], inside: &[f64], radius: &[f64]) -> Option<Answer> {
        if self.broken {
            return None;
        }
        let d = self.d;
        let (top, y) = self.maximise(h)?;
        if top > 0.0 {
            // From the witness towards the vertex: past the plane, short of the vertex.
            let hw = h[d] + dot(&h[..d], inside);
            if hw >= top {
                return None;
            }
            let lambda = 0.5 * ((-hw / (top - hw)).max(0.0) + 1.0);
            let mut p = [0.0f64; MAX_DIM];
            for k in 0..d {
                p[k] = inside[k] + lambda * (self.x[k] - inside[k]);
            }
            return Some(Answer::Witness(p));
        }
        // Σ y_k g_{tight[k]} + h is the constant max h ≤ 0: where h > 0 and every g > 0 it
        // would be positive.
        let mut fs: [&[f64]; MAX_DIM + 1] = [&[]; MAX_DIM + 1];
        for k in 0..d {
            fs[k] = self.rows[self.tight[k]];
        }
        fs[d] = h;
        let mut ys = [0.0f64; MAX_DIM + 1];
        ys[..d].copy_from_slice(&y[..d]);
        ys[d] = 1.0;
        feasibility::float_motzkin(&fs[..=d], &ys[..=d], radius).then_some(Answer::Empty)
    }

    /// The first row not in `tight` met from the vertex along `dir`, with the step.
    fn ratio_test(&self, tight: &[usize], dir: &Vector) -> Option<(usize, f64)> {
        let d = self.d;
        let dn = norm(&dir[..d]);
        let mut best: Option<(usize, f64)> = None;
        for (j, row) in self.rows.iter().enumerate() {
            let s = dot(&row[..d], &dir[..d]);
            if s >= 0.0 || tight.contains(&j) || s >= -1e-12 * dn * norm(&row[..d]) {
                continue;
            }
            let g = (row[d] + dot(&row[..d], &self.x[..d])).max(0.0);
            let t = g / -s;
            if best.is_none_or(|(_, bt)| t < bt) {
                best = Some((j, t));
            }
        }
        best
    }
}

impl Vertex {
    fn new(x: &Vector, tight: &[usize; MAX_DIM]) -> Vertex {
        Vertex {
            x: *x,
            // Rows past u32::MAX do not occur (a cell has a few dozen): such an index only
            // makes `from_vertex` refuse.
            tight: tight.map(|t| u32::try_from(t).unwrap_or(u32::MAX)),
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `inv` = the inverse of the d × d matrix `a` (destroyed), by Gauss–Jordan with partial
/// pivoting; false when `a` is (nearly) singular.
fn invert(a: &mut [Vector; MAX_DIM], inv: &mut [Vector; MAX_DIM], d: usize) -> bool {
    let scale = a[..d]
        .iter()
        .flat_map(|r| r[..d].iter())
        .fold(0.0f64, |s, v| s.max(v.abs()));
    for (r, row) in inv[..d].iter_mut().enumerate() {
        *row = [0.0; MAX_DIM];
        row[r] = 1.0;
    }
    for col in 0..d {
        let p = (col..d)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .expect("col < d");
        if a[p][col].abs() <= 1e-10 * scale {
            return false;
        }
        a.swap(p, col);
        inv.swap(p, col);
        let piv = a[col][col];
        for k in 0..d {
            a[col][k] /= piv;
            inv[col][k] /= piv;
        }
        for i in 0..d {
            if i == col {
                continue;
            }
            let f = a[i][col];
            if f != 0.0 {
                for k in 0..d {
                    a[i][k] -= f * a[col][k];
                    inv[i][k] -= f * inv[col][k];
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::feasibility::tests::con;
    use super::super::feasibility::Con;
    use super::*;

    /// The cube [-1, 1]³ as rows `±x_k + 1 ≥ 0`.
    fn cube() -> Vec<Con> {
        let mut rows = Vec::new();
        for k in 0..3 {
            for s in [1, -1] {
                let mut a = [0i64; 3];
                a[k] = s;
                rows.push(con(&a, 1));
            }
        }
        rows
    }

    #[test]
    fn the_walk_answers_plane_questions_on_a_cube() {
        let cube = cube();
        let rows: Vec<&[f64]> = cube.iter().map(|c| c.f.as_slice()).collect();
        let inside = [0.1, -0.2, 0.3];
        let mut walk = Walk::new(rows, &inside).expect("a cube has vertices");
        let radius = [3.0; 3];
        let h_at = |h: &Con, p: &[f64]| h.f[3] + (0..3).map(|k| h.f[k] * p[k]).sum::<f64>();
        // h = x + 2y + 3z − c peaks at 6 on the cube: it is positive somewhere iff c < 6.
        for (c, positive) in [(-10, true), (0, true), (5, true), (7, false), (100, false)] {
            let h = con(&[1, 2, 3], -c);
            if h_at(&h, &inside) > 0.0 {
                continue;
            }
            match walk.side(&h.f, &inside, &radius) {
                Some(Answer::Witness(p)) => {
                    assert!(positive, "c = {c}: a witness of an empty side");
                    assert!(
                        h_at(&h, &p[..3]) > 0.0,
                        "c = {c}: witness on the wrong side"
                    );
                    assert!(p[..3].iter().all(|v| v.abs() < 1.0), "c = {c}: outside");
                }
                Some(Answer::Empty) => assert!(!positive, "c = {c}: a cut proven empty"),
                None => panic!("c = {c}: no answer on a plain cube"),
            }
        }
        // Through the corner (1, 1, 1) only: the Motzkin bound cannot be negative, so no proof.
        let touching = con(&[1, 2, 3], -6);
        assert!(walk.side(&touching.f, &inside, &radius).is_none());
    }

    /// A walk resumed on a sub-cell from a vertex of its parent: the cube cut by x + y ≥ 0,
    /// started at the corner (1, 1, 1) (tight rows x ≤ 1, y ≤ 1, z ≤ 1). On the sub-cell
    /// −x − 2y peaks at 1 (at x = 1, y = −1), on the cube at 3: the walk must pivot along the
    /// new plane to answer.
    #[test]
    fn a_walk_from_a_parent_vertex_answers_on_the_sub_cell() {
        let mut rows = cube();
        rows.push(con(&[1, 1, 0], 0));
        let fs: Vec<&[f64]> = rows.iter().map(|c| c.f.as_slice()).collect();
        let (mut x, mut tight) = ([0.0; MAX_DIM], [0; MAX_DIM]);
        x[..3].copy_from_slice(&[1.0, 1.0, 1.0]);
        tight[..3].copy_from_slice(&[1, 3, 5]);
        let corner = Vertex::new(&x, &tight);
        let inside = [0.5, 0.2, 0.0];
        let radius = [3.0; 3];
        for (c, positive) in [(0, true), (2, false), (5, false)] {
            let h = con(&[-1, -2, 0], -c);
            let mut walk = Walk::from_vertex(3, fs.clone(), &corner).expect("a vertex");
            match walk.side(&h.f, &inside, &radius) {
                Some(Answer::Witness(p)) => {
                    assert!(positive, "c = {c}: a witness of an empty side");
                    assert!(-p[0] - 2.0 * p[1] - c as f64 > 0.0, "c = {c}: wrong side");
                    assert!(p[0] + p[1] > 0.0, "c = {c}: outside the sub-cell");
                    let v = walk.vertex().expect("the optimum");
                    assert!((v.x[0] - 1.0).abs() < 1e-12 && (v.x[1] + 1.0).abs() < 1e-12);
                }
                Some(Answer::Empty) => assert!(!positive, "c = {c}: a cut proven empty"),
                None => panic!("c = {c}: no answer on a cut cube"),
            }
        }
        // A tight row that the sub-cell does not have: refused, not trusted.
        assert!(Walk::from_vertex(3, fs[..4].to_vec(), &corner).is_none());
    }

    #[test]
    fn inverses_of_singular_matrices_are_refused() {
        let mut a = [[0.0; MAX_DIM]; MAX_DIM];
        let mut inv = [[0.0; MAX_DIM]; MAX_DIM];
        a[0][..2].copy_from_slice(&[1.0, 2.0]);
        a[1][..2].copy_from_slice(&[2.0, 4.0]);
        assert!(!invert(&mut a.clone(), &mut inv, 2));
        a[1][..2].copy_from_slice(&[3.0, 4.0]);
        assert!(invert(&mut a, &mut inv, 2));
        // [[1, 2], [3, 4]]⁻¹ = [[−2, 1], [1.5, −0.5]].
        for (got, want) in inv[0][..2]
            .iter()
            .chain(&inv[1][..2])
            .zip([-2.0, 1.0, 1.5, -0.5])
        {
            assert!((got - want).abs() < 1e-12);
        }
    }
}
