//! ONNX models in: the operators PyTorch's exporters write for piecewise-linear networks, read
//! into a [`Graph`] and lowered to the layers the engines count.
//!
//! Both exporter styles are read: the legacy one (`Gemm` with `transB = 1`) and the dynamo one
//! (`MatMul` with `[in, out]` weights, then `Add`), with tensors in `raw_data`, `float_data`,
//! `double_data` or an external data file (`model.onnx.data`, which torch ≥ 2.9 writes by
//! default). Weights stay exact: a float32 is the binary rational it is. Tensors have their batch
//! dimension dropped (it must be 1 or symbolic). The library does no I/O: external data comes
//! through the caller's `load` function.
//!
//! Operators: Gemm, MatMul, Add, Sub, Mul, Div (by constants), Conv (1-D/2-D: strides, pads,
//! dilations, group), BatchNormalization, Relu, LeakyRelu, PRelu, Clip, MaxPool, AveragePool,
//! GlobalAveragePool, GlobalMaxPool, Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Identity,
//! Dropout, Constant. Anything else is refused, naming the node.

pub mod proto;

use crate::error::{Error, Result};
use crate::net::graph::{self, Graph, Op, ValueId, Window};
use crate::net::{lower, Network, Num};
use prost::Message;
use proto::{AttributeProto, NodeProto, TensorProto};
use std::collections::HashMap;

/// How to read a model.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The input's shape without the batch dimension, for models whose input shape is
    /// symbolic (dynamic axes).
    pub input_shape: Option<Vec<usize>>,
}

/// Reads an ONNX model from its bytes. `file` names it in errors; `load(location)` returns the
/// bytes of an external data file named in the model (relative to the model's folder).
pub fn read(
    bytes: &[u8],
    file: &str,
    load: &dyn Fn(&str) -> std::io::Result<Vec<u8>>,
    options: &ImportOptions,
) -> Result<Network> {
    let graph = read_graph(bytes, file, load, options)?;
    lower::lower(&graph, file)
}

/// Whether `bytes` look like an ONNX model rather than JSON (for readers that take either).
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    !matches!(first, Some(b'{') | Some(b'['))
}

/// A constant tensor: dimensions and exact values.
#[derive(Debug, Clone)]
struct Tensor {
    dims: Vec<usize>,
    vals: Vec<Num>,
}

/// What a tensor name stands for while reading the nodes.
#[derive(Debug, Clone)]
enum Item {
    Value(ValueId),
    Const(Tensor),
}

struct Reader<'a> {
    file: &'a str,
    g: Graph,
    names: HashMap<String, Item>,
    opset: i64,
}

pub fn read_graph(
    bytes: &[u8],
    file: &str,
    load: &dyn Fn(&str) -> std::io::Result<Vec<u8>>,
    options: &ImportOptions,
) -> Result<Graph> {
    let model = proto::ModelProto::decode(bytes).map_err(|e| {
        Error::field(
            file,
            "(model)",
            format!("not a valid ONNX file (protobuf: {e}); truncated or corrupt?"),
        )
    })?;
    let graph = model.graph.ok_or_else(|| {
        Error::field(file, "(model)", "has no graph (an empty or non-ONNX file?)")
    })?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(13, |o| o.version);
    let mut names = HashMap::new();
    for t in &graph.initializer {
        let tensor = tensor_of(t, file, load)?;
        names.insert(t.name.clone(), Item::Const(tensor));
    }
    // The input: the graph input that is not an initializer (old exporters list both).
    let inputs: Vec<&proto::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !names.contains_key(&i.name))
        .collect();
    let input = match inputs[..] {
        [one] => one,
        [] => return Err(Error::field(file, "graph.input", "the model has no input")),
        _ => {
            return Err(Error::field(
                file,
                "graph.input",
                format!(
                    "the model has {} inputs ({}); one input tensor is supported",
                    inputs.len(),
                    inputs
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    };
    let shape = input_shape(input, file, options)?;
    let mut reader = Reader {
        file,
        g: Graph::new(shape),
        names,
        opset,
    };
    reader.names.insert(input.name.clone(), Item::Value(0));
    for node in &graph.node {
        reader.node(node)?;
    }
    let out = graph
        .output
        .first()
        .ok_or_else(|| Error::field(file, "graph.output", "the model has no output"))?;
    match reader.names.get(&out.name) {
        Some(Item::Value(v)) => reader.g.output = *v,
        Some(Item::Const(_)) => {
            return Err(Error::field(
                file,
                "graph.output",
                format!("the output '{}' does not depend on the input", out.name),
            ))
        }
        None => {
            return Err(Error::field(
                file,
                "graph.output",
                format!("the output '{}' is made by no node", out.name),
            ))
        }
    }
    Ok(reader.g)
}

fn input_shape(
    input: &proto::ValueInfoProto,
    file: &str,
    options: &ImportOptions,
) -> Result<Vec<usize>> {
    let place = format!("graph.input '{}'", input.name);
    let dims: Vec<Option<i64>> = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| d.dim_value.filter(|&v| v > 0 && d.dim_param.is_none()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(given) = &options.input_shape {
        return Ok(given.clone());
    }
    if dims.is_empty() {
        return Err(Error::field(
            file,
            place,
            "has no shape; give one with --input-shape (without the batch dimension)",
        ));
    }
    // The first dimension is the batch: 1 or symbolic.
    if let Some(b) = dims[0] {
        if b != 1 {
            return Err(Error::field(
                file,
                place,
                format!("has batch size {b}; export the model with batch size 1"),
            ));
        }
    }
    let rest: Option<Vec<usize>> = dims[1..].iter().map(|d| d.map(|v| v as usize)).collect();
    match rest {
        Some(r) if !r.is_empty() => Ok(r),
        Some(_) => Err(Error::field(
            file,
            place,
            "is a scalar; a vector or image input is needed",
        )),
        None => Err(Error::field(
            file,
            place,
            "has symbolic dimensions besides the batch (dynamic axes); give the shape with \
             --input-shape, e.g. --input-shape 1,28,28, or export with fixed sizes",
        )),
    }
}

/// A tensor's values, exactly: float32 and float64 as the binary rationals they are, integers
/// as integers.
fn tensor_of(
    t: &TensorProto,
    file: &str,
    load: &dyn Fn(&str) -> std::io::Result<Vec<u8>>,
) -> Result<Tensor> {
    let place = format!("initializer '{}'", t.name);
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::field(file, &place, "has a negative dimension"))?;
    let count: usize = dims.iter().product();
    let external;
    let raw: &[u8] = if t.data_location == 1 {
        let get = |k: &str| {
            t.external_data
                .iter()
                .find(|e| e.key == k)
                .map(|e| e.value.clone())
        };
        let location = get("location")
            .ok_or_else(|| Error::field(file, &place, "is external data without a location"))?;
        let data = load(&location).map_err(|e| {
            Error::field(
                file,
                &place,
                format!(
                    "is stored as external data in '{location}', which cannot be read next to \
                     the model ({e})"
                ),
            )
        })?;
        let offset: usize = get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
        let length: usize = get("length")
            .and_then(|o| o.parse().ok())
            .unwrap_or(data.len().saturating_sub(offset));
        external = data
            .get(offset..offset.saturating_add(length))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                Error::field(
                    file,
                    &place,
                    format!(
                        "reads bytes {offset}..{} of '{location}', which has {}",
                        offset + length,
                        data.len()
                    ),
                )
            })?;
        &external
    } else {
        &t.raw_data
    };
    let vals: Vec<Num> = match t.data_type {
        1 => {
            if !raw.is_empty() {
                chunks(raw, 4, count, file, &place)?
                    .map(|b| Num::F64(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64))
                    .collect()
            } else {
                t.float_data.iter().map(|&x| Num::F64(x as f64)).collect()
            }
        }
        11 => {
            if !raw.is_empty() {
                chunks(raw, 8, count, file, &place)?
                    .map(|b| Num::F64(f64::from_le_bytes(b.try_into().expect("8 bytes"))))
                    .collect()
            } else {
                t.double_data.iter().map(|&x| Num::F64(x)).collect()
            }
        }
        7 => {
            if !raw.is_empty() {
                chunks(raw, 8, count, file, &place)?
                    .map(|b| Num::F64(i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64))
                    .collect()
            } else {
                t.int64_data.iter().map(|&x| Num::F64(x as f64)).collect()
            }
        }
        6 => {
            if !raw.is_empty() {
                chunks(raw, 4, count, file, &place)?
                    .map(|b| Num::F64(i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64))
                    .collect()
            } else {
                t.int32_data.iter().map(|&x| Num::F64(x as f64)).collect()
            }
        }
        other => {
            return Err(Error::field(
                file,
                &place,
                format!(
                    "has data type {other}; float32 (1), float64 (11), int32 (6) and int64 (7) \
                     are read (export the model in float32)"
                ),
            ))
        }
    };
    if vals.len() != count {
        return Err(Error::field(
            file,
            &place,
            format!(
                "holds {} values but its shape {dims:?} needs {count}",
                vals.len()
            ),
        ));
    }
    if let Some(bad) = vals.iter().position(|v| !v.approx().is_finite()) {
        return Err(Error::field(
            file,
            &place,
            format!("entry {bad} is not finite"),
        ));
    }
    Ok(Tensor { dims, vals })
}

fn chunks<'b>(
    raw: &'b [u8],
    size: usize,
    count: usize,
    file: &str,
    place: &str,
) -> Result<std::slice::ChunksExact<'b, u8>> {
    if raw.len() != size * count {
        return Err(Error::field(
            file,
            place,
            format!(
                "has {} bytes of data, its shape needs {}",
                raw.len(),
                size * count
            ),
        ));
    }
    Ok(raw.chunks_exact(size))
}

fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_int(node: &NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

fn attr_float(node: &NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

fn attr_ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

fn attr_string(node: &NodeProto, name: &str) -> Option<String> {
    attr(node, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

impl Reader<'_> {
    fn place(&self, node: &NodeProto) -> String {
        let name = if node.name.is_empty() {
            node.output.first().cloned().unwrap_or_default()
        } else {
            node.name.clone()
        };
        format!("node '{name}' ({})", node.op_type)
    }

    fn fail(&self, node: &NodeProto, reason: impl Into<String>) -> Error {
        Error::field(self.file, self.place(node), reason)
    }

    /// Input i of the node (`None` for a missing optional input).
    fn item(&self, node: &NodeProto, i: usize) -> Result<Option<Item>> {
        match node.input.get(i) {
            None => Ok(None),
            Some(name) if name.is_empty() => Ok(None),
            Some(name) => self.names.get(name).cloned().map(Some).ok_or_else(|| {
                self.fail(
                    node,
                    format!(
                        "reads '{name}', which is neither an initializer nor the input nor the \
                         output of an earlier node"
                    ),
                )
            }),
        }
    }

    fn value(&self, node: &NodeProto, i: usize) -> Result<ValueId> {
        match self.item(node, i)? {
            Some(Item::Value(v)) => Ok(v),
            Some(Item::Const(_)) => Err(self.fail(
                node,
                format!(
                    "input {i} is a constant where a tensor computed from the input is expected"
                ),
            )),
            None => Err(self.fail(node, format!("input {i} is missing"))),
        }
    }

    fn constant(&self, node: &NodeProto, i: usize, what: &str) -> Result<Option<Tensor>> {
        match self.item(node, i)? {
            Some(Item::Const(t)) => Ok(Some(t)),
            Some(Item::Value(_)) => Err(self.fail(
                node,
                format!("its {what} (input {i}) is computed from the input; it must be an initializer or a Constant"),
            )),
            None => Ok(None),
        }
    }

    fn required(&self, node: &NodeProto, i: usize, what: &str) -> Result<Tensor> {
        self.constant(node, i, what)?
            .ok_or_else(|| self.fail(node, format!("has no {what} (input {i})")))
    }

    fn output(&mut self, node: &NodeProto, op: Op, inputs: Vec<ValueId>, shape: Vec<usize>) {
        let name = self.place(node);
        let v = self.g.push(name, op, inputs, shape);
        if let Some(out) = node.output.first() {
            self.names.insert(out.clone(), Item::Value(v));
        }
    }

    fn set_const(&mut self, node: &NodeProto, t: Tensor) {
        if let Some(out) = node.output.first() {
            self.names.insert(out.clone(), Item::Const(t));
        }
    }

    fn node(&mut self, node: &NodeProto) -> Result<()> {
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(self.fail(
                node,
                format!(
                    "is in the domain '{}'; only standard ONNX operators are read",
                    node.domain
                ),
            ));
        }
        let op = node.op_type.as_str();
        // Nodes whose inputs are all constants are folded when that is exact.
        let all_const = !node.input.is_empty()
            && (0..node.input.len())
                .all(|i| !matches!(self.item(node, i), Ok(Some(Item::Value(_)))));
        if op == "Constant" {
            let t = attr(node, "value")
                .and_then(|a| a.t.as_ref())
                .ok_or_else(|| self.fail(node, "has no tensor 'value' attribute"))?;
            let t = tensor_of(t, self.file, &|_| Err(std::io::ErrorKind::NotFound.into()))?;
            self.set_const(node, t);
            return Ok(());
        }
        if all_const {
            return self.fold(node);
        }
        match op {
            "Gemm" => self.gemm(node),
            "MatMul" => self.matmul(node),
            "Add" | "Sub" | "Mul" | "Div" => self.arithmetic(node),
            "Conv" => self.conv(node),
            "BatchNormalization" => self.batch_norm(node),
            "Relu" => self.slope(node, |_| Ok(Num::F64(0.0)), "Relu".into()),
            "LeakyRelu" => {
                let a = attr_float(node, "alpha", 0.01) as f64;
                self.slope(node, |_| Ok(Num::F64(a)), format!("LeakyRelu {a}"))
            }
            "PRelu" => self.prelu(node),
            "Clip" => self.clip(node),
            "MaxPool" | "AveragePool" | "GlobalMaxPool" | "GlobalAveragePool" => self.pool(node),
            "Flatten" => {
                let x = self.value(node, 0)?;
                let size = self.g.size(x);
                self.output(node, Op::Reshape, vec![x], vec![size]);
                Ok(())
            }
            "Reshape" | "Squeeze" | "Unsqueeze" => self.reshape(node),
            "Identity" | "Dropout" => {
                let x = self.value(node, 0)?;
                let shape = self.g.shape(x).to_vec();
                self.output(node, Op::Reshape, vec![x], shape);
                Ok(())
            }
            "Transpose" => self.transpose(node),
            other => Err(self.fail(
                node,
                format!(
                    "operator {other} is not supported{}; supported: Gemm, MatMul, Add, Sub, Mul, \
                     Div (by constants), Conv, BatchNormalization, Relu, LeakyRelu, PRelu, Clip, \
                     MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool, Flatten, Reshape, \
                     Squeeze, Unsqueeze, Transpose, Identity, Dropout, Constant",
                    crate::net::v2::not_piecewise_linear(other)
                ),
            )),
        }
    }

    /// Constant folding, only where exact: reshapes, transposes and elementwise arithmetic of
    /// constants.
    fn fold(&mut self, node: &NodeProto) -> Result<()> {
        let t = self.required(node, 0, "input")?;
        let out = match node.op_type.as_str() {
            "Identity" | "Dropout" => t,
            "Reshape" | "Squeeze" | "Unsqueeze" | "Flatten" => Tensor {
                dims: vec![t.vals.len()],
                vals: t.vals,
            },
            "Transpose" => {
                let perm = attr_ints(node, "perm")
                    .unwrap_or_else(|| (0..t.dims.len() as i64).rev().collect());
                transpose(&t, &perm).ok_or_else(|| self.fail(node, "has a bad perm"))?
            }
            "Add" | "Sub" | "Mul" => {
                let u = self.required(node, 1, "second input")?;
                if u.vals.len() != t.vals.len() {
                    return Err(self.fail(node, "folds constants of different sizes"));
                }
                let vals = t
                    .vals
                    .iter()
                    .zip(&u.vals)
                    .map(|(a, b)| match node.op_type.as_str() {
                        "Add" => a.add(b),
                        "Sub" => a.add(&b.neg()),
                        _ => a.mul(b),
                    })
                    .collect();
                Tensor { dims: t.dims, vals }
            }
            other => {
                return Err(self.fail(
                    node,
                    format!("computes a constant with {other}, which this reader does not fold"),
                ))
            }
        };
        self.set_const(node, out);
        Ok(())
    }

    fn gemm(&mut self, node: &NodeProto) -> Result<()> {
        let x = self.value(node, 0)?;
        if attr_int(node, "transA", 0) != 0 {
            return Err(self.fail(
                node,
                "has transA = 1, which a single input vector cannot have",
            ));
        }
        let b = self.required(node, 1, "weight B")?;
        let k = self.g.size(x);
        let (alpha, beta) = (
            Num::F64(attr_float(node, "alpha", 1.0) as f64),
            Num::F64(attr_float(node, "beta", 1.0) as f64),
        );
        let trans_b = attr_int(node, "transB", 0) != 0;
        let (rows, cols) = match b.dims[..] {
            [r, c] => (r, c),
            _ => {
                return Err(self.fail(
                    node,
                    format!("weight B has shape {:?}, expected 2-D", b.dims),
                ))
            }
        };
        let (n_out, n_in) = if trans_b { (rows, cols) } else { (cols, rows) };
        if n_in != k {
            return Err(self.fail(
                node,
                format!(
                    "the input has {k} values but the weight{} has {n_in} columns",
                    if trans_b { " (transB)" } else { "" }
                ),
            ));
        }
        let weight: Vec<Num> = (0..n_out)
            .flat_map(|o| (0..n_in).map(move |i| (o, i)))
            .map(|(o, i)| {
                let w = if trans_b {
                    &b.vals[o * n_in + i]
                } else {
                    &b.vals[i * n_out + o]
                };
                w.mul(&alpha)
            })
            .collect();
        let bias = match self.constant(node, 2, "bias C")? {
            None => vec![Num::F64(0.0); n_out],
            Some(c) => broadcast(&c, &[n_out])
                .ok_or_else(|| {
                    self.fail(
                        node,
                        format!(
                            "bias C of shape {:?} does not broadcast to [{n_out}]",
                            c.dims
                        ),
                    )
                })?
                .iter()
                .map(|v| v.mul(&beta))
                .collect(),
        };
        self.output(
            node,
            graph::dense(n_in, n_out, weight, bias),
            vec![x],
            vec![n_out],
        );
        Ok(())
    }

    fn matmul(&mut self, node: &NodeProto) -> Result<()> {
        let x = self.value(node, 0)?;
        let w = self.required(node, 1, "weight (second input)")?;
        let shape = self.g.shape(x).to_vec();
        let (k, n) = match w.dims[..] {
            [k, n] => (k, n),
            _ => {
                return Err(self.fail(
                    node,
                    format!("the weight has shape {:?}, expected [in, out]", w.dims),
                ))
            }
        };
        if shape.len() != 1 || shape[0] != k {
            return Err(self.fail(
                node,
                format!("multiplies an input of shape {shape:?} by a [{k}, {n}] weight; a vector of {k} is needed"),
            ));
        }
        let weight: Vec<Num> = (0..n)
            .flat_map(|o| (0..k).map(move |i| (o, i)))
            .map(|(o, i)| w.vals[i * n + o].clone())
            .collect();
        self.output(
            node,
            graph::dense(k, n, weight, vec![Num::F64(0.0); n]),
            vec![x],
            vec![n],
        );
        Ok(())
    }

    /// Add of two tensors; Add, Sub, Mul, Div with a constant (broadcast to the tensor).
    fn arithmetic(&mut self, node: &NodeProto) -> Result<()> {
        let op = node.op_type.as_str();
        let (a, b) = (self.item(node, 0)?, self.item(node, 1)?);
        match (a, b) {
            (Some(Item::Value(x)), Some(Item::Value(y))) if op == "Add" || op == "Sub" => {
                let (sx, sy) = (self.g.shape(x).to_vec(), self.g.shape(y).to_vec());
                if sx.iter().product::<usize>() != sy.iter().product::<usize>() {
                    return Err(
                        self.fail(node, format!("adds tensors of shapes {sx:?} and {sy:?}"))
                    );
                }
                let y = if op == "Sub" {
                    let n = self.g.size(y);
                    let neg = Op::Affine {
                        weight: crate::matrix::Matrix::sparse(
                            n,
                            n,
                            (0..=n).collect(),
                            (0..n as u32).collect(),
                            vec![Num::F64(-1.0); n],
                        ),
                        bias: vec![Num::F64(0.0); n],
                        label: "Neg".into(),
                    };
                    self.g
                        .push(format!("{} (negated)", self.place(node)), neg, vec![y], sy)
                } else {
                    y
                };
                self.output(node, Op::Add, vec![x, y], sx);
                Ok(())
            }
            (Some(Item::Value(x)), Some(Item::Const(c)))
            | (Some(Item::Const(c)), Some(Item::Value(x))) => {
                let value_first = matches!(self.item(node, 0)?, Some(Item::Value(_)));
                let shape = self.g.shape(x).to_vec();
                let n = self.g.size(x);
                let c = broadcast(&c, &shape).ok_or_else(|| {
                    self.fail(
                        node,
                        format!(
                            "a constant of shape {:?} does not broadcast to the tensor's {shape:?}",
                            c.dims
                        ),
                    )
                })?;
                // y = s ⊙ x + t, element by element.
                let one = Num::F64(1.0);
                let (scale, shift): (Vec<Num>, Vec<Num>) = match (op, value_first) {
                    ("Add", _) => (vec![one; n], c),
                    ("Sub", true) => (vec![one; n], c.iter().map(Num::neg).collect()),
                    ("Sub", false) => (vec![Num::F64(-1.0); n], c),
                    ("Mul", _) => (c, vec![Num::F64(0.0); n]),
                    ("Div", true) => {
                        if c.iter().any(Num::is_zero) {
                            return Err(self.fail(node, "divides by zero"));
                        }
                        (
                            c.iter()
                                .map(|v| Num::from_rational(num_traits::Inv::inv(v.exact())))
                                .collect(),
                            vec![Num::F64(0.0); n],
                        )
                    }
                    _ => {
                        return Err(self.fail(
                            node,
                            "divides a constant by a tensor, which is not piecewise linear",
                        ))
                    }
                };
                let weight = crate::matrix::Matrix::sparse(
                    n,
                    n,
                    (0..=n).collect(),
                    (0..n as u32).collect(),
                    scale,
                );
                self.output(
                    node,
                    Op::Affine {
                        weight,
                        bias: shift,
                        label: op.to_string(),
                    },
                    vec![x],
                    shape,
                );
                Ok(())
            }
            _ => Err(self.fail(
                node,
                format!("{op} of two computed tensors is not piecewise linear (or not supported)"),
            )),
        }
    }

    fn window(
        &self,
        node: &NodeProto,
        kernel: &[usize],
        axes: usize,
        input: &[usize],
    ) -> Result<Window> {
        let get = |name: &str| -> Result<Vec<usize>> {
            match attr_ints(node, name) {
                None => Ok(Vec::new()),
                Some(v) => v
                    .iter()
                    .map(|&x| {
                        usize::try_from(x)
                            .map_err(|_| self.fail(node, format!("{name} has a negative entry")))
                    })
                    .collect(),
            }
        };
        let mut stride = get("strides")?;
        if stride.is_empty() {
            stride = vec![1; axes];
        }
        let mut dilation = get("dilations")?;
        if dilation.is_empty() {
            dilation = vec![1; axes];
        }
        let mut pads = get("pads")?;
        let auto = attr_string(node, "auto_pad").unwrap_or_else(|| "NOTSET".into());
        match auto.as_str() {
            "NOTSET" | "" => {}
            "VALID" => pads = vec![0; 2 * axes],
            "SAME_UPPER" | "SAME_LOWER" => {
                // Output = ceil(input / stride); the padding split puts the odd one at the end
                // (upper) or the beginning (lower).
                let spatial = &input[input.len() - axes..];
                let mut begin = Vec::new();
                let mut end = Vec::new();
                for a in 0..axes {
                    let out = spatial[a].div_ceil(stride[a]);
                    let span = dilation[a] * (kernel[a] - 1) + 1;
                    let total = ((out - 1) * stride[a] + span).saturating_sub(spatial[a]);
                    let small = total / 2;
                    if auto == "SAME_UPPER" {
                        begin.push(small);
                        end.push(total - small);
                    } else {
                        begin.push(total - small);
                        end.push(small);
                    }
                }
                pads = begin.into_iter().chain(end).collect();
            }
            other => return Err(self.fail(node, format!("has auto_pad = {other}"))),
        }
        if pads.is_empty() {
            pads = vec![0; 2 * axes];
        }
        if attr_int(node, "ceil_mode", 0) != 0 {
            return Err(self.fail(node, "has ceil_mode = 1; export with ceil_mode = False"));
        }
        Window::new(
            kernel,
            &stride,
            &dilation,
            &pads,
            (self.file, &self.place(node)),
        )
    }

    fn conv(&mut self, node: &NodeProto) -> Result<()> {
        let x = self.value(node, 0)?;
        let w = self.required(node, 1, "weight")?;
        if w.dims.len() < 3 || w.dims.len() > 4 {
            return Err(self.fail(
                node,
                format!(
                    "has a weight of shape {:?}; 1-D and 2-D convolutions are supported",
                    w.dims
                ),
            ));
        }
        let kernel: Vec<usize> = w.dims[2..].to_vec();
        let input = self.g.shape(x).to_vec();
        let window = self.window(node, &kernel, kernel.len(), &input)?;
        let groups = usize::try_from(attr_int(node, "group", 1)).unwrap_or(0);
        let bias = self.constant(node, 2, "bias")?.map(|b| b.vals);
        let place = self.place(node);
        if input.len() != kernel.len() + 1 {
            return Err(self.fail(
                node,
                format!(
                    "takes an input of shape {input:?} with a {}-D kernel",
                    kernel.len()
                ),
            ));
        }
        let (op, shape) = graph::conv(
            &input,
            w.dims[0],
            &w.vals,
            bias,
            window,
            groups,
            (self.file, &place),
        )?;
        self.output(node, op, vec![x], shape);
        Ok(())
    }

    fn batch_norm(&mut self, node: &NodeProto) -> Result<()> {
        let x = self.value(node, 0)?;
        if attr_int(node, "training_mode", 0) != 0 {
            return Err(self.fail(node, "is in training mode; export the model in eval mode"));
        }
        let get = |i: usize, what: &str| self.required(node, i, what).map(|t| t.vals);
        let (gamma, beta, mean, var) = (
            get(1, "scale")?,
            get(2, "B")?,
            get(3, "mean")?,
            get(4, "var")?,
        );
        // epsilon is a float32 attribute: its value is that float32.
        let eps = attr_float(node, "epsilon", 1e-5) as f64;
        let shape = self.g.shape(x).to_vec();
        let place = self.place(node);
        let op = graph::batch_norm(&shape, &gamma, &beta, &mean, &var, eps, (self.file, &place))?;
        self.output(node, op, vec![x], shape);
        Ok(())
    }

    fn slope(
        &mut self,
        node: &NodeProto,
        slope: impl Fn(usize) -> Result<Num>,
        label: String,
    ) -> Result<()> {
        let x = self.value(node, 0)?;
        let shape = self.g.shape(x).to_vec();
        let slope = (0..self.g.size(x)).map(slope).collect::<Result<_>>()?;
        self.output(node, Op::Slope { slope, label }, vec![x], shape);
        Ok(())
    }

    fn prelu(&mut self, node: &NodeProto) -> Result<()> {
        let x = self.value(node, 0)?;
        let s = self.required(node, 1, "slope")?;
        let shape = self.g.shape(x).to_vec();
        let slope = broadcast(&s, &shape).ok_or_else(|| {
            self.fail(
                node,
                format!(
                    "the slope of shape {:?} does not broadcast to {shape:?}",
                    s.dims
                ),
            )
        })?;
        self.output(
            node,
            Op::Slope {
                slope,
                label: "PRelu".into(),
            },
            vec![x],
            shape,
        );
        Ok(())
    }

    fn clip(&mut self, node: &NodeProto) -> Result<()> {
        let x = self.value(node, 0)?;
        let (lo, hi) = if self.opset >= 11 {
            let scalar = |t: Option<Tensor>, what: &str| -> Result<Option<Num>> {
                match t {
                    None => Ok(None),
                    Some(t) if t.vals.len() == 1 => Ok(Some(t.vals[0].clone())),
                    Some(_) => Err(self.fail(node, format!("its {what} is not a scalar"))),
                }
            };
            (
                scalar(self.constant(node, 1, "min")?, "min")?,
                scalar(self.constant(node, 2, "max")?, "max")?,
            )
        } else {
            (
                attr(node, "min").map(|a| Num::F64(a.f as f64)),
                attr(node, "max").map(|a| Num::F64(a.f as f64)),
            )
        };
        let shape = self.g.shape(x).to_vec();
        self.output(node, Op::Clip { lo, hi }, vec![x], shape);
        Ok(())
    }

    fn pool(&mut self, node: &NodeProto) -> Result<()> {
        let x = self.value(node, 0)?;
        if node.output.len() > 1 && !node.output[1].is_empty() {
            return Err(self.fail(
                node,
                "also outputs the argmax indices, which are not supported",
            ));
        }
        let input = self.g.shape(x).to_vec();
        let axes = input.len().saturating_sub(1);
        let global = node.op_type.starts_with("Global");
        let kernel: Vec<usize> = if global {
            input[1..].to_vec()
        } else {
            attr_ints(node, "kernel_shape")
                .ok_or_else(|| self.fail(node, "has no kernel_shape"))?
                .iter()
                .map(|&k| usize::try_from(k).unwrap_or(0))
                .collect()
        };
        if kernel.len() != axes {
            return Err(self.fail(
                node,
                format!(
                    "has a {}-D kernel for an input of shape {input:?}",
                    kernel.len()
                ),
            ));
        }
        let window = if global {
            Window::new(
                &kernel,
                &vec![1; axes],
                &vec![1; axes],
                &vec![0; 2 * axes],
                (self.file, &self.place(node)),
            )?
        } else {
            self.window(node, &kernel, axes, &input)?
        };
        let place = self.place(node);
        let (op, shape) = if node.op_type.ends_with("MaxPool") {
            graph::max_pool(&input, window, (self.file, &place))?
        } else {
            let include = attr_int(node, "count_include_pad", 0) != 0;
            graph::avg_pool(&input, window, include, (self.file, &place))?
        };
        self.output(node, op, vec![x], shape);
        Ok(())
    }

    fn reshape(&mut self, node: &NodeProto) -> Result<()> {
        let x = self.value(node, 0)?;
        let size = self.g.size(x);
        let shape = if node.op_type == "Reshape" {
            let target = self.required(node, 1, "shape")?;
            let current = self.g.shape(x).to_vec();
            let mut dims: Vec<i64> = target.vals.iter().map(|v| v.approx() as i64).collect();
            // The target includes the batch dimension: 0 copies it, so does 1 or −1 first.
            let with_batch: Vec<usize> =
                std::iter::once(1).chain(current.iter().copied()).collect();
            for (i, d) in dims.iter_mut().enumerate() {
                if *d == 0 {
                    *d = *with_batch.get(i).unwrap_or(&1) as i64;
                }
            }
            let known: i64 = dims.iter().filter(|&&d| d > 0).product();
            let free = dims.iter().filter(|&&d| d == -1).count();
            if free > 1
                || known <= 0
                || (free == 0 && known as usize != size)
                || (free == 1 && size as i64 % known != 0)
            {
                return Err(self.fail(node, format!("cannot reshape {size} values to {dims:?}")));
            }
            let mut out: Vec<usize> = dims
                .iter()
                .map(|&d| {
                    if d == -1 {
                        (size as i64 / known) as usize
                    } else {
                        d as usize
                    }
                })
                .collect();
            // Drop the batch dimension (a leading 1).
            if out.len() > 1 && out[0] == 1 {
                out.remove(0);
            }
            out
        } else {
            // Squeeze and Unsqueeze only add or remove dimensions of size 1.
            let mut s: Vec<usize> = self
                .g
                .shape(x)
                .iter()
                .copied()
                .filter(|&d| d != 1)
                .collect();
            if s.is_empty() {
                s.push(1);
            }
            s
        };
        self.output(node, Op::Reshape, vec![x], shape);
        Ok(())
    }

    fn transpose(&mut self, node: &NodeProto) -> Result<()> {
        let x = self.value(node, 0)?;
        let shape = self.g.shape(x).to_vec();
        let perm =
            attr_ints(node, "perm").unwrap_or_else(|| (0..=shape.len() as i64).rev().collect());
        // The batch axis (0) must stay first.
        if perm.first() != Some(&0) || perm.len() != shape.len() + 1 {
            return Err(self.fail(node, format!("permutes the batch axis ({perm:?})")));
        }
        let inner: Vec<i64> = perm[1..].iter().map(|p| p - 1).collect();
        let n = self.g.size(x);
        let index = Tensor {
            dims: shape.clone(),
            vals: (0..n).map(|i| Num::F64(i as f64)).collect(),
        };
        let moved = transpose(&index, &inner)
            .ok_or_else(|| self.fail(node, format!("has a bad perm {perm:?}")))?;
        let cols: Vec<u32> = moved.vals.iter().map(|v| v.approx() as u32).collect();
        let weight =
            crate::matrix::Matrix::sparse(n, n, (0..=n).collect(), cols, vec![Num::F64(1.0); n]);
        let op = Op::Affine {
            weight,
            bias: vec![Num::F64(0.0); n],
            label: "Transpose".into(),
        };
        self.output(node, op, vec![x], moved.dims);
        Ok(())
    }
}

/// A constant broadcast (NumPy rules, trailing axes aligned; a leading batch axis of 1 is
/// dropped) to `shape`, flat.
fn broadcast(c: &Tensor, shape: &[usize]) -> Option<Vec<Num>> {
    let mut dims = c.dims.clone();
    while dims.len() > shape.len() {
        if dims.remove(0) != 1 {
            return None;
        }
    }
    let pad = shape.len() - dims.len();
    let dims: Vec<usize> = std::iter::repeat_n(1, pad).chain(dims).collect();
    if dims.iter().zip(shape).any(|(&d, &s)| d != 1 && d != s) {
        return None;
    }
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        // The source index: each axis's coordinate, or 0 where the constant has size 1.
        let mut rem = i;
        let mut src = 0;
        let mut stride = 1;
        let mut coords = vec![0; shape.len()];
        for a in (0..shape.len()).rev() {
            coords[a] = rem % shape[a];
            rem /= shape[a];
        }
        for a in (0..shape.len()).rev() {
            if dims[a] != 1 {
                src += coords[a] * stride;
            }
            stride *= dims[a];
        }
        out.push(c.vals[src].clone());
    }
    Some(out)
}

/// A tensor's axes permuted (`perm[k]` is the source axis of axis k).
fn transpose(t: &Tensor, perm: &[i64]) -> Option<Tensor> {
    let r = t.dims.len();
    if perm.len() != r {
        return None;
    }
    let perm: Vec<usize> = perm
        .iter()
        .map(|&p| usize::try_from(p).ok().filter(|&p| p < r))
        .collect::<Option<_>>()?;
    let mut seen = vec![false; r];
    for &p in &perm {
        if std::mem::replace(&mut seen[p], true) {
            return None;
        }
    }
    let dims: Vec<usize> = perm.iter().map(|&p| t.dims[p]).collect();
    let mut strides = vec![1usize; r];
    for a in (0..r.saturating_sub(1)).rev() {
        strides[a] = strides[a + 1] * t.dims[a + 1];
    }
    let n = t.vals.len();
    let mut vals = Vec::with_capacity(n);
    for i in 0..n {
        let mut rem = i;
        let mut src = 0;
        for k in (0..r).rev() {
            let c = rem % dims[k];
            rem /= dims[k];
            src += c * strides[perm[k]];
        }
        vals.push(t.vals[src].clone());
    }
    Some(Tensor { dims, vals })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(dims: &[usize], v: &[f64]) -> Tensor {
        Tensor {
            dims: dims.to_vec(),
            vals: v.iter().map(|&x| Num::F64(x)).collect(),
        }
    }

    #[test]
    fn broadcast_and_transpose() {
        let c = t(&[2, 1, 1], &[1.0, 2.0]);
        let b: Vec<f64> = broadcast(&c, &[2, 2, 2])
            .unwrap()
            .iter()
            .map(Num::approx)
            .collect();
        assert_eq!(b, vec![1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
        assert!(broadcast(&t(&[3], &[1.0, 2.0, 3.0]), &[2]).is_none());
        let m = t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let tr = transpose(&m, &[1, 0]).unwrap();
        assert_eq!(tr.dims, vec![3, 2]);
        let v: Vec<f64> = tr.vals.iter().map(Num::approx).collect();
        assert_eq!(v, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
