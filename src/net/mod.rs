//! The network: a sequence of affine layers, each hidden one followed by its rows' activation,
//! as the engines count it. Read from a version-1 file (dense layers, ReLU after all but the
//! last), or built from a graph of operations ([`graph`], from a version-2 file or an ONNX
//! model) by [`lower`]. Values are kept exactly: a JSON number is its f64, a string an exact
//! rational.

pub mod graph;
pub mod lower;
pub mod v2;

use crate::error::{Error, Result};
use crate::exact::number::{parse_rational, rational_from_f64, to_f64};
use crate::matrix::Matrix;
use num_rational::BigRational;
use serde_json::Value;

/// One entry of a weight matrix or bias vector, exactly as given.
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    /// A JSON number: the f64 itself is the exact value.
    F64(f64),
    /// A JSON string holding an exact rational or decimal.
    Exact(BigRational),
}

impl Num {
    pub fn exact(&self) -> BigRational {
        match self {
            Num::F64(x) => rational_from_f64(*x).expect("finite by construction"),
            Num::Exact(q) => q.clone(),
        }
    }

    pub fn approx(&self) -> f64 {
        match self {
            Num::F64(x) => *x,
            Num::Exact(q) => to_f64(q),
        }
    }

    pub fn is_f64(&self) -> bool {
        matches!(self, Num::F64(_))
    }
}

/// An affine layer `z = W h + b`, `W` of shape `n_out × n_in` (dense or sparse), and for a
/// hidden layer how its rows are activated.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub n_in: usize,
    pub n_out: usize,
    pub weight: Matrix<Num>,
    pub bias: Vec<Num>,
    /// The activation of a hidden layer's rows; `None`: ReLU on every row (the output layer's
    /// is never read).
    pub act: Option<RowActs>,
}

/// How the rows of a hidden layer are activated: `h = z` where `z > 0`, `h = slope · z`
/// elsewhere. A slope of 0 is ReLU; LeakyReLU and PReLU rows have theirs; the rows from
/// `n_split` on pass their value through (slope 1) and are no unit of the network: they carry a
/// value past an activation (the skip of a residual block), make no boundary and have no bit of
/// their own in a pattern (it is always 1).
#[derive(Debug, Clone, PartialEq)]
pub struct RowActs {
    pub slope: Vec<Num>,
    pub n_split: usize,
}

impl Layer {
    /// A dense layer from row-major weights.
    pub fn dense(n_in: usize, n_out: usize, weight: Vec<Num>, bias: Vec<Num>) -> Layer {
        Layer {
            n_in,
            n_out,
            weight: Matrix::dense(n_out, n_in, weight),
            bias,
            act: None,
        }
    }

    /// Rows that are units (split the domain): all but the pass-through rows.
    pub fn split_rows(&self) -> usize {
        self.act.as_ref().map_or(self.n_out, |a| a.n_split)
    }

    /// The negative-side slope of row i (0 for ReLU).
    pub fn slope(&self, i: usize) -> Option<&Num> {
        self.act.as_ref().map(|a| &a.slope[i])
    }
}

/// A piecewise-linear network as a sequence of layers: every layer but the last is followed by
/// its rows' activation (ReLU unless `act` says otherwise); the last is affine.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub layers: Vec<Layer>,
    /// The operations of the network as given, for reports (e.g. `Conv 1→16 3×3`, `Relu`).
    pub architecture: Vec<String>,
    /// Max pooling units: the argmax of each window read from its tournament's rows. Their
    /// cells with one argmax make one region (empty without max pooling).
    pub max_trees: Vec<MaxTree>,
}

/// The tournament of one max-pooling window: leaves are the window's elements, each comparison
/// a unit row `b − a` whose bit says the right side won (the left wins ties). The root is last.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxTree {
    pub nodes: Vec<TreeNode>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TreeNode {
    /// The element at this position of the window.
    Leaf(u32),
    /// `row` is a global row index (hidden rows counted layer by layer).
    Cmp {
        row: usize,
        left: usize,
        right: usize,
    },
}

impl MaxTree {
    /// The argmax (position in the window) under a pattern.
    pub fn argmax(&self, bits: &[u64]) -> u32 {
        let mut at = self.nodes.len() - 1;
        loop {
            match &self.nodes[at] {
                TreeNode::Leaf(pos) => return *pos,
                TreeNode::Cmp { row, left, right } => {
                    at = if crate::pattern::get(bits, *row) {
                        *right
                    } else {
                        *left
                    };
                }
            }
        }
    }

    /// The comparison rows.
    pub fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes.iter().filter_map(|n| match n {
            TreeNode::Cmp { row, .. } => Some(*row),
            TreeNode::Leaf(_) => None,
        })
    }
}

impl Network {
    /// A plain ReLU network from its layers (ReLU after all but the last).
    pub fn from_layers(layers: Vec<Layer>) -> Network {
        let mut architecture = Vec::new();
        for (k, l) in layers.iter().enumerate() {
            architecture.push(format!("Dense {}→{}", l.n_in, l.n_out));
            if k + 1 < layers.len() {
                architecture.push("Relu".to_string());
            }
        }
        Network {
            layers,
            architecture,
            max_trees: Vec::new(),
        }
    }

    pub fn input_dim(&self) -> usize {
        self.layers[0].n_in
    }

    /// Rows of the hidden layers (pass-through rows included).
    pub fn hidden_widths(&self) -> Vec<usize> {
        self.hidden_layers().iter().map(|l| l.n_out).collect()
    }

    /// Units of the hidden layers (rows that split the domain).
    pub fn split_widths(&self) -> Vec<usize> {
        self.hidden_layers().iter().map(Layer::split_rows).collect()
    }

    /// A plain ReLU multilayer perceptron (the classic bounds apply to it as stated).
    pub fn is_plain_relu(&self) -> bool {
        self.hidden_layers().iter().all(|l| {
            l.act
                .as_ref()
                .is_none_or(|a| a.n_split == l.n_out && a.slope.iter().all(|s| s.approx() == 0.0))
        })
    }

    pub fn hidden_layers(&self) -> &[Layer] {
        &self.layers[..self.layers.len() - 1]
    }

    pub fn output_layer(&self) -> &Layer {
        self.layers.last().expect("at least one layer")
    }

    /// Parses a network file: version 1 (dense layers, ReLU after all but the last) or version 2
    /// (typed layers, see [`v2`]). `file` names the source in error messages.
    pub fn from_json(text: &str, file: &str) -> Result<Network> {
        let root = crate::json::parse(text, file)?;
        let obj = crate::json::object(&root, file, "(top level)")?;
        match obj.get("version") {
            None => {}
            Some(v) if v.as_u64() == Some(1) => {}
            Some(v) if v.as_u64() == Some(2) => {
                let graph = v2::read(obj, file)?;
                return lower::lower(&graph, file);
            }
            Some(v) => {
                return Err(Error::field(
                    file,
                    "version",
                    format!("unsupported version {v}; this build reads versions 1 and 2"),
                ))
            }
        }
        crate::json::check_keys(obj, &["layers", "meta", "version"], file, "")?;
        let layers = obj
            .get("layers")
            .ok_or_else(|| Error::field(file, "layers", "missing (expected an array of layers)"))?
            .as_array()
            .ok_or_else(|| Error::field(file, "layers", "expected an array of layers"))?;
        if layers.is_empty() {
            return Err(Error::field(
                file,
                "layers",
                "empty: a network needs at least one layer",
            ));
        }
        let mut parsed = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            let place = format!("layers[{i}]");
            let layer = parse_layer(layer, file, &place)?;
            if let Some(prev) = parsed.last() {
                let prev: &Layer = prev;
                if layer.n_in != prev.n_out {
                    return Err(Error::field(
                        file,
                        format!("{place}.weight"),
                        format!(
                            "has {} columns but layers[{}] has {} outputs",
                            layer.n_in,
                            i - 1,
                            prev.n_out
                        ),
                    ));
                }
            }
            parsed.push(layer);
        }
        Ok(Network::from_layers(parsed))
    }
}

fn parse_layer(v: &Value, file: &str, place: &str) -> Result<Layer> {
    let obj = v
        .as_object()
        .ok_or_else(|| Error::field(file, place, "expected an object with weight and bias"))?;
    crate::json::check_keys(obj, &["weight", "bias", "type"], file, place)?;
    if let Some(t) = obj.get("type") {
        match t.as_str() {
            Some("dense") | Some("linear") => {}
            _ => {
                return Err(Error::field(
                    file,
                    format!("{place}.type"),
                    format!(
                        "layer type {t} needs a version-2 file (\"version\": 2, explicit \
                         activations, see docs/formats.md); version 1 has dense layers only{}",
                        t.as_str().map_or("", v2::not_piecewise_linear)
                    ),
                ))
            }
        }
    }
    let weight = obj
        .get("weight")
        .ok_or_else(|| Error::field(file, format!("{place}.weight"), "missing"))?
        .as_array()
        .ok_or_else(|| {
            Error::field(file, format!("{place}.weight"), "expected an array of rows")
        })?;
    if weight.is_empty() {
        return Err(Error::field(file, format!("{place}.weight"), "has no rows"));
    }
    let mut n_in = None;
    let mut entries = Vec::new();
    for (r, row) in weight.iter().enumerate() {
        let field = format!("{place}.weight[{r}]");
        let row = row
            .as_array()
            .ok_or_else(|| Error::field(file, &field, "expected an array of numbers"))?;
        match n_in {
            None if row.is_empty() => return Err(Error::field(file, &field, "is empty")),
            None => n_in = Some(row.len()),
            Some(n) if n != row.len() => {
                return Err(Error::field(
                    file,
                    &field,
                    format!("has {} entries, row 0 has {n}", row.len()),
                ))
            }
            _ => {}
        }
        for (c, x) in row.iter().enumerate() {
            entries.push(parse_num(x, file, || format!("{field}[{c}]"))?);
        }
    }
    let n_out = weight.len();
    let bias = obj
        .get("bias")
        .ok_or_else(|| Error::field(file, format!("{place}.bias"), "missing"))?
        .as_array()
        .ok_or_else(|| Error::field(file, format!("{place}.bias"), "expected an array"))?;
    if bias.len() != n_out {
        return Err(Error::field(
            file,
            format!("{place}.bias"),
            format!("has {} entries but weight has {n_out} rows", bias.len()),
        ));
    }
    let bias = bias
        .iter()
        .enumerate()
        .map(|(i, x)| parse_num(x, file, || format!("{place}.bias[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Layer::dense(
        n_in.expect("rows checked"),
        n_out,
        entries,
        bias,
    ))
}

/// Reads one exact number: a finite JSON number or a string with an exact rational. `field`
/// names its place, made only for an error (a network's millions of numbers would otherwise
/// each format one).
pub(crate) fn parse_num(v: &Value, file: &str, field: impl Fn() -> String) -> Result<Num> {
    match v {
        Value::Number(n) => {
            let x = n.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                Error::field(file, field(), format!("{n} is not a finite number"))
            })?;
            Ok(Num::F64(x))
        }
        Value::String(s) => parse_rational(s)
            .map(Num::Exact)
            .map_err(|reason| Error::field(file, field(), reason)),
        other => Err(Error::field(
            file,
            field(),
            format!("expected a number or an exact rational string, found {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_network() {
        let net = Network::from_json(
            r#"{"layers": [{"weight": [[0.5, -1.0], [2.0, "1/3"]], "bias": [0.0, 0.1]},
                          {"weight": [[1.0, -1.0]], "bias": [0.0]}], "meta": {"x": 1}}"#,
            "n.json",
        )
        .unwrap();
        assert_eq!(net.hidden_widths(), vec![2]);
        assert_eq!(
            net.layers[0].weight.vals[3],
            Num::Exact(BigRational::new(1.into(), 3.into()))
        );
    }

    #[test]
    fn names_the_place_of_a_shape_error() {
        let err = Network::from_json(
            r#"{"layers": [{"weight": [[1, 2]], "bias": [0]}, {"weight": [[1, 2]], "bias": [0]}]}"#,
            "n.json",
        )
        .unwrap_err();
        assert!(err.to_string().contains("layers[1].weight"), "{err}");
    }
}
