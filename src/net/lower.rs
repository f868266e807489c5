//! From a graph of operations to the layer sequence the engines count.
//!
//! The engines split the domain layer by layer, each layer an affine map of the previous
//! layer's activated rows. A graph is walked in order keeping every live tensor as exact affine
//! rows over the current layer's outputs: linear operations compose into those rows (a batch
//! norm folds into the convolution before it, a `MatMul` into its `Add`), and each
//! piecewise-linear operation starts a new layer whose rows are its units followed by
//! pass-through rows for every other tensor still needed later (the skip of a residual block).
//!
//! - ReLU, LeakyReLU, PReLU: one row per element with its slope.
//! - Clip(lo, hi) = lo + relu(x − lo) − relu(x − hi): two rows, whose bits give its three pieces.
//! - Max pooling: a tournament per window, `max(a, b) = a + relu(b − a)`, one layer per round
//!   (the first element wins ties, as in `b − a > 0`). The tournament's bits refine the argmax,
//!   so several cells can share one argmax: [`MaxTree`] reads the argmax back from the bits and
//!   the count merges the cells of one region.

use super::graph::{Graph, Op, ValueId};
use super::{Layer, MaxTree, Network, Num, RowActs, TreeNode};
use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// One affine row over the current layer's outputs: `Σ vals[k]·h[cols[k]] + c`, columns
/// increasing.
#[derive(Debug, Clone)]
struct Row {
    cols: Vec<u32>,
    vals: Vec<Num>,
    c: Num,
}

impl Row {
    fn constant(c: Num) -> Row {
        Row {
            cols: Vec::new(),
            vals: Vec::new(),
            c,
        }
    }

    fn unit(col: usize) -> Row {
        Row {
            cols: vec![col as u32],
            vals: vec![Num::F64(1.0)],
            c: Num::F64(0.0),
        }
    }

    fn is_constant(&self) -> bool {
        self.cols.is_empty()
    }

    /// `Σ_j coef_j · rows_j + c` (sparse accumulation into `scratch`, a dense buffer of the
    /// current width kept empty between calls).
    fn combine<'a>(
        terms: impl Iterator<Item = (&'a Num, &'a Row)>,
        c: Num,
        scratch: &mut Scratch,
    ) -> Row {
        let mut c = c;
        for (coef, row) in terms {
            if coef.is_zero() {
                continue;
            }
            for (&col, v) in row.cols.iter().zip(&row.vals) {
                let slot = &mut scratch.acc[col as usize];
                let product = coef.mul(v);
                *slot = Some(match slot.take() {
                    None => {
                        scratch.touched.push(col);
                        product
                    }
                    Some(old) => old.add(&product),
                });
            }
            if !row.c.is_zero() {
                c = c.add(&coef.mul(&row.c));
            }
        }
        scratch.touched.sort_unstable();
        let mut out = Row {
            cols: Vec::with_capacity(scratch.touched.len()),
            vals: Vec::with_capacity(scratch.touched.len()),
            c,
        };
        for &col in &scratch.touched {
            let v = scratch.acc[col as usize].take().expect("touched");
            if !v.is_zero() {
                out.cols.push(col);
                out.vals.push(v);
            }
        }
        scratch.touched.clear();
        out
    }
}

struct Scratch {
    acc: Vec<Option<Num>>,
    touched: Vec<u32>,
}

impl Scratch {
    fn new(width: usize) -> Scratch {
        Scratch {
            acc: vec![None; width],
            touched: Vec::new(),
        }
    }
}

/// One pairing of a tournament round: the unit row `b − a` (none for a lone candidate), the pass
/// row of `a`, and the tree nodes of `a` and `b`.
struct Pairing {
    unit: usize,
    pass: usize,
    left: usize,
    right: Option<usize>,
}

/// A layer being assembled: its units (rows with a slope), then pass-through rows.
struct Stage {
    units: Vec<(Row, Num)>,
    pass: Vec<Row>,
}

struct Lowering<'g> {
    graph: &'g Graph,
    /// Every value's rows over the current layer's outputs (`None` once dead).
    exprs: Vec<Option<Vec<Row>>>,
    /// The node index after which each value is no longer read (`usize::MAX`: the output).
    last_use: Vec<usize>,
    /// Rows of the current layer's output (the input's size before the first layer).
    width: usize,
    layers: Vec<Layer>,
    trees: Vec<MaxTree>,
    file: &'g str,
}

/// Lowers `graph` to a network. `file` names the source in errors.
pub fn lower(graph: &Graph, file: &str) -> Result<Network> {
    let n = graph.nodes.len();
    let mut last_use = vec![0usize; n + 1];
    for (k, node) in graph.nodes.iter().enumerate() {
        for &v in &node.inputs {
            last_use[v] = last_use[v].max(k);
        }
    }
    last_use[graph.output] = usize::MAX;
    let n0 = graph.input_size();
    let mut exprs = vec![None; n + 1];
    exprs[0] = Some((0..n0).map(Row::unit).collect());
    let mut lw = Lowering {
        graph,
        exprs,
        last_use,
        width: n0,
        layers: Vec::new(),
        trees: Vec::new(),
        file,
    };
    for k in 0..n {
        lw.node(k)?;
    }
    let out = lw.exprs[graph.output].take().expect("the output is live");
    let output = lw.layer_of(out.into_iter().map(|r| (r, None)).collect(), 0);
    lw.layers.push(output);
    Ok(Network {
        layers: lw.layers,
        architecture: graph.architecture(),
        max_trees: lw.trees,
    })
}

impl Lowering<'_> {
    fn input(&self, k: usize, i: usize) -> &[Row] {
        let v = self.graph.nodes[k].inputs[i];
        self.exprs[v]
            .as_deref()
            .expect("a value is live until its last use")
    }

    fn node(&mut self, k: usize) -> Result<()> {
        let node = &self.graph.nodes[k];
        let place = || format!("{} ({})", node.name, node.op.label());
        let rows: Vec<Row> = match &node.op {
            Op::Const(values) => values.iter().cloned().map(Row::constant).collect(),
            Op::Reshape => self.input(k, 0).to_vec(),
            Op::Affine { weight, bias, .. } => {
                let x = self.input(k, 0);
                if weight.n_in != x.len() || weight.n_out != bias.len() {
                    return Err(Error::field(
                        self.file,
                        place(),
                        format!(
                            "a {}×{} map cannot take an input of {} values",
                            weight.n_out,
                            weight.n_in,
                            x.len()
                        ),
                    ));
                }
                let mut scratch = Scratch::new(self.width);
                (0..weight.n_out)
                    .map(|i| {
                        let row = weight.row(i);
                        Row::combine(
                            row.iter().map(|(j, w)| (w, &x[j])),
                            bias[i].clone(),
                            &mut scratch,
                        )
                    })
                    .collect()
            }
            Op::Add => {
                let (a, b) = (self.input(k, 0), self.input(k, 1));
                if a.len() != b.len() {
                    return Err(Error::field(
                        self.file,
                        place(),
                        format!("adds tensors of {} and {} values", a.len(), b.len()),
                    ));
                }
                let one = Num::F64(1.0);
                let mut scratch = Scratch::new(self.width);
                a.iter()
                    .zip(b)
                    .map(|(x, y)| {
                        Row::combine(
                            [(&one, x), (&one, y)].into_iter(),
                            Num::F64(0.0),
                            &mut scratch,
                        )
                    })
                    .collect()
            }
            Op::Slope { slope, .. } => {
                let x = self.input(k, 0).to_vec();
                let units = x.into_iter().zip(slope.iter().cloned()).collect();
                let offsets = self.new_stage(
                    k,
                    Stage {
                        units,
                        pass: Vec::new(),
                    },
                );
                offsets.0.into_iter().map(Row::unit).collect()
            }
            Op::Clip { lo, hi } => self.clip(k, lo.clone(), hi.clone())?,
            Op::Max { windows, .. } => self.max(k, windows)?,
        };
        self.exprs[k + 1] = Some(rows);
        // Values read for the last time by node k are dead now.
        for &v in &self.graph.nodes[k].inputs {
            if self.last_use[v] == k {
                self.exprs[v] = None;
            }
        }
        Ok(())
    }

    /// Appends a layer made of `stage`'s rows and pass-through rows for every value still
    /// needed after node k; re-expresses those values over the new layer. Returns the new
    /// layer's rows of the stage's units and of its own pass rows.
    fn new_stage(&mut self, k: usize, stage: Stage) -> (Vec<usize>, Vec<usize>) {
        let live: Vec<ValueId> = (0..self.exprs.len())
            .filter(|&v| self.exprs[v].is_some() && self.last_use[v] > k)
            .collect();
        let n_units = stage.units.len();
        let mut rows: Vec<(Row, Option<Num>)> =
            stage.units.into_iter().map(|(r, s)| (r, Some(s))).collect();
        let own_pass: Vec<usize> = (0..stage.pass.len()).map(|i| n_units + i).collect();
        rows.extend(stage.pass.into_iter().map(|r| (r, None)));
        // Every live value's non-constant rows pass through (constant ones stay constant).
        let mut moved: Vec<(ValueId, Vec<Option<usize>>)> = Vec::with_capacity(live.len());
        for v in live {
            let expr = self.exprs[v].as_ref().expect("live");
            let mut at = Vec::with_capacity(expr.len());
            for r in expr {
                if r.is_constant() {
                    at.push(None);
                } else {
                    at.push(Some(rows.len()));
                    rows.push((r.clone(), None));
                }
            }
            moved.push((v, at));
        }
        let width = rows.len();
        let layer = self.layer_of(rows, n_units);
        self.layers.push(layer);
        for (v, at) in moved {
            let expr = self.exprs[v].as_mut().expect("live");
            for (r, a) in expr.iter_mut().zip(at) {
                if let Some(a) = a {
                    *r = Row::unit(a);
                }
            }
        }
        self.width = width;
        ((0..n_units).collect(), own_pass)
    }

    /// Global index (over all hidden rows, layer by layer) of row `i` of the newest layer.
    fn global(&self, i: usize) -> usize {
        let n = self.layers.len();
        self.layers[..n - 1].iter().map(|l| l.n_out).sum::<usize>() + i
    }

    /// A layer from its rows: units (with a slope) first, then pass-through rows (`None`).
    fn layer_of(&self, rows: Vec<(Row, Option<Num>)>, n_units: usize) -> Layer {
        let n_out = rows.len();
        let n_in = self.width;
        let nnz: usize = rows.iter().map(|(r, _)| r.cols.len()).sum();
        let mut bias = Vec::with_capacity(n_out);
        let mut slopes = Vec::with_capacity(n_out);
        let weight = if n_in > 0 && 2 * nnz >= n_out * n_in {
            let mut vals = vec![Num::F64(0.0); n_out * n_in];
            for (i, (r, _)) in rows.iter().enumerate() {
                for (&c, v) in r.cols.iter().zip(&r.vals) {
                    vals[i * n_in + c as usize] = v.clone();
                }
            }
            Matrix::dense(n_out, n_in, vals)
        } else {
            let mut start = Vec::with_capacity(n_out + 1);
            let (mut cols, mut vals) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
            start.push(0);
            for (r, _) in &rows {
                cols.extend_from_slice(&r.cols);
                vals.extend(r.vals.iter().cloned());
                start.push(cols.len());
            }
            Matrix::sparse(n_out, n_in, start, cols, vals)
        };
        for (r, s) in rows {
            bias.push(r.c);
            slopes.push(s.unwrap_or(Num::F64(1.0)));
        }
        let plain = n_units == n_out && slopes.iter().all(|s| s.is_zero());
        Layer {
            n_in,
            n_out,
            weight,
            bias,
            act: (!plain).then_some(RowActs {
                slope: slopes,
                n_split: n_units,
            }),
        }
    }

    /// Clip(lo, hi) = lo + relu(x − lo) − relu(x − hi), with a missing bound left out.
    fn clip(&mut self, k: usize, lo: Option<Num>, hi: Option<Num>) -> Result<Vec<Row>> {
        let x = self.input(k, 0).to_vec();
        if let (Some(a), Some(b)) = (&lo, &hi) {
            if a.exact() > b.exact() {
                let node = &self.graph.nodes[k];
                return Err(Error::field(
                    self.file,
                    format!("{} (Clip)", node.name),
                    "min is greater than max",
                ));
            }
        }
        let zero = Num::F64(0.0);
        let shifted = |r: &Row, by: &Num| {
            let mut r = r.clone();
            r.c = r.c.add(&by.neg());
            r
        };
        let mut units = Vec::new();
        let mut pass = Vec::new();
        for r in &x {
            if let Some(lo) = &lo {
                units.push((shifted(r, lo), zero.clone()));
            }
            if let Some(hi) = &hi {
                units.push((shifted(r, hi), zero.clone()));
                if lo.is_none() {
                    pass.push(r.clone());
                }
            }
        }
        if lo.is_none() && hi.is_none() {
            return Ok(x);
        }
        let (unit_rows, pass_rows) = self.new_stage(k, Stage { units, pass });
        let per = usize::from(lo.is_some()) + usize::from(hi.is_some());
        let (one, minus) = (Num::F64(1.0), Num::F64(-1.0));
        let out = (0..x.len())
            .map(|e| {
                let u = &unit_rows[e * per..(e + 1) * per];
                let mut row = Row {
                    cols: Vec::new(),
                    vals: Vec::new(),
                    c: lo.clone().unwrap_or(Num::F64(0.0)),
                };
                let mut entries: Vec<(u32, Num)> = Vec::new();
                match (&lo, &hi) {
                    (Some(_), Some(_)) => {
                        entries.push((u[0] as u32, one.clone()));
                        entries.push((u[1] as u32, minus.clone()));
                    }
                    (Some(_), None) => entries.push((u[0] as u32, one.clone())),
                    (None, Some(_)) => {
                        entries.push((pass_rows[e] as u32, one.clone()));
                        entries.push((u[0] as u32, minus.clone()));
                    }
                    (None, None) => unreachable!("handled above"),
                }
                entries.sort_by_key(|(c, _)| *c);
                for (c, v) in entries {
                    row.cols.push(c);
                    row.vals.push(v);
                }
                row
            })
            .collect();
        Ok(out)
    }

    /// Max pooling as a tournament: each round pairs the window's candidates, one layer per
    /// round, `max(a, b) = a + relu(b − a)`.
    fn max(&mut self, k: usize, windows: &[Vec<u32>]) -> Result<Vec<Row>> {
        let x = self.input(k, 0).to_vec();
        // Per window: its candidates (rows) and their tree nodes.
        let mut cands: Vec<Vec<(Row, usize)>> = Vec::with_capacity(windows.len());
        let mut trees: Vec<MaxTree> = Vec::with_capacity(windows.len());
        for w in windows {
            let mut tree = MaxTree { nodes: Vec::new() };
            let mut c = Vec::with_capacity(w.len());
            for (pos, &j) in w.iter().enumerate() {
                let Some(row) = x.get(j as usize) else {
                    let node = &self.graph.nodes[k];
                    return Err(Error::field(
                        self.file,
                        format!("{} (MaxPool)", node.name),
                        format!("a window reads element {j} of an input of {}", x.len()),
                    ));
                };
                tree.nodes.push(TreeNode::Leaf(pos as u32));
                c.push((row.clone(), tree.nodes.len() - 1));
            }
            cands.push(c);
            trees.push(tree);
        }
        let (one, minus) = (Num::F64(1.0), Num::F64(-1.0));
        while cands.iter().any(|c| c.len() > 1) {
            // One round: unit b − a and pass a for each pair; a lone candidate passes.
            let mut units = Vec::new();
            let mut pass = Vec::new();
            let mut plan: Vec<Vec<Pairing>> = Vec::new();
            let mut scratch = Scratch::new(self.width);
            for c in &cands {
                let mut p = Vec::new();
                for pair in c.chunks(2) {
                    match pair {
                        [(a, ta), (b, tb)] => {
                            let diff = Row::combine(
                                [(&one, b), (&minus, a)].into_iter(),
                                Num::F64(0.0),
                                &mut scratch,
                            );
                            units.push((diff, Num::F64(0.0)));
                            pass.push(a.clone());
                            p.push(Pairing {
                                unit: units.len() - 1,
                                pass: pass.len() - 1,
                                left: *ta,
                                right: Some(*tb),
                            });
                        }
                        [(a, ta)] => {
                            pass.push(a.clone());
                            p.push(Pairing {
                                unit: usize::MAX,
                                pass: pass.len() - 1,
                                left: *ta,
                                right: None,
                            });
                        }
                        _ => unreachable!("chunks of two"),
                    }
                }
                plan.push(p);
            }
            let (unit_rows, pass_rows) = self.new_stage(k, Stage { units, pass });
            let mut next = Vec::with_capacity(cands.len());
            for (p, tree) in plan.iter().zip(trees.iter_mut()) {
                let mut c = Vec::with_capacity(p.len());
                for pairing in p {
                    let (u, ta) = (pairing.unit, pairing.left);
                    let a_row = Row::unit(pass_rows[pairing.pass]);
                    match pairing.right {
                        Some(tb) => {
                            let (ua, ub) = (a_row.cols[0], unit_rows[u] as u32);
                            let (lo, hi) = (ua.min(ub), ua.max(ub));
                            let row = Row {
                                cols: vec![lo, hi],
                                vals: vec![one.clone(), one.clone()],
                                c: Num::F64(0.0),
                            };
                            tree.nodes.push(TreeNode::Cmp {
                                row: self.global(unit_rows[u]),
                                left: ta,
                                right: tb,
                            });
                            c.push((row, tree.nodes.len() - 1));
                        }
                        None => c.push((a_row, ta)),
                    }
                }
                next.push(c);
            }
            cands = next;
        }
        self.trees.extend(trees);
        Ok(cands
            .into_iter()
            .map(|mut c| c.pop().expect("one candidate left").0)
            .collect())
    }
}
