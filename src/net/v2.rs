//! Version-2 network files: a list of typed layers with PyTorch's names and defaults
//! (docs/formats.md), read into a [`Graph`].
//!
//! ```json
//! {"version": 2, "input_shape": [1, 6, 6],
//!  "layers": [{"type": "conv2d", "weight": [[[[...]]]], "bias": [...], "padding": 1},
//!             {"type": "batchnorm", "weight": [...], "bias": [...],
//!              "running_mean": [...], "running_var": [...]},
//!             {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
//!             {"type": "flatten"}, {"type": "linear", "weight": [[...]], "bias": [...]},
//!             {"type": "residual", "body": [...], "shortcut": [...]}]}
//! ```

use super::graph::{self, Graph, Op, ValueId, Window};
use super::{parse_num, Num};
use crate::error::{Error, Result};
use crate::json::check_keys;
use serde_json::{Map, Value};

/// Reads the layers of a version-2 file (the top-level object, already parsed).
pub fn read(obj: &Map<String, Value>, file: &str) -> Result<Graph> {
    check_keys(obj, &["version", "input_shape", "layers", "meta"], file, "")?;
    let layers = obj
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::field(file, "layers", "missing (expected an array of layers)"))?;
    if layers.is_empty() {
        return Err(Error::field(
            file,
            "layers",
            "empty: a network needs at least one layer",
        ));
    }
    let input_shape = match obj.get("input_shape") {
        Some(v) => shape(v, file, "input_shape")?,
        None => {
            // Without a shape: the first layer must be dense, and fixes the input size.
            let first = layers[0].as_object();
            let w = first
                .and_then(|o| o.get("weight"))
                .and_then(Value::as_array);
            let n_in = w
                .and_then(|w| w.first())
                .and_then(Value::as_array)
                .map(Vec::len);
            match n_in {
                Some(n) => vec![n],
                None => return Err(Error::field(
                    file,
                    "input_shape",
                    "missing: give the input's shape without the batch dimension, e.g. [1, 28, 28]",
                )),
            }
        }
    };
    let mut g = Graph::new(input_shape);
    let out = sequence(&mut g, 0, layers, file, "layers")?;
    if out == 0 {
        return Err(Error::field(file, "layers", "has no operation"));
    }
    g.output = out;
    Ok(g)
}

fn shape(v: &Value, file: &str, field: &str) -> Result<Vec<usize>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::field(file, field, "expected an array of sizes"))?;
    let dims: Option<Vec<usize>> = arr
        .iter()
        .map(|x| x.as_u64().filter(|&n| n > 0).map(|n| n as usize))
        .collect();
    match dims {
        Some(d)
            if !d.is_empty()
                && d.iter()
                    .try_fold(1usize, |a, &b| a.checked_mul(b))
                    .is_some() =>
        {
            Ok(d)
        }
        _ => Err(Error::field(
            file,
            field,
            "expected an array of positive sizes",
        )),
    }
}

/// Applies `layers` to value `x`; returns the result.
fn sequence(
    g: &mut Graph,
    mut x: ValueId,
    layers: &[Value],
    file: &str,
    place: &str,
) -> Result<ValueId> {
    for (i, layer) in layers.iter().enumerate() {
        x = layer_node(g, x, layer, file, &format!("{place}[{i}]"))?;
    }
    Ok(x)
}

fn layer_node(g: &mut Graph, x: ValueId, v: &Value, file: &str, place: &str) -> Result<ValueId> {
    let obj = v
        .as_object()
        .ok_or_else(|| Error::field(file, place, "expected an object with a \"type\""))?;
    let kind = obj.get("type").and_then(Value::as_str).ok_or_else(|| {
        Error::field(
            file,
            format!("{place}.type"),
            "missing (e.g. \"linear\", \"relu\")",
        )
    })?;
    let keys = |allowed: &[&str]| -> Result<()> {
        let mut all = vec!["type"];
        all.extend_from_slice(allowed);
        check_keys(obj, &all, file, place)
    };
    let input = g.shape(x).to_vec();
    let size: usize = input.iter().product();
    let pl = (file, place);
    let name = place.to_string();
    match kind {
        "linear" | "dense" => {
            keys(&["weight", "bias"])?;
            let (rows, cols, w) = matrix(obj.get("weight"), file, &format!("{place}.weight"))?;
            if cols != size {
                return Err(Error::field(
                    file,
                    format!("{place}.weight"),
                    format!("has {cols} columns but the input has {size} values"),
                ));
            }
            let b = optional_vector(obj.get("bias"), rows, file, &format!("{place}.bias"))?;
            Ok(g.push(name, graph::dense(cols, rows, w, b), vec![x], vec![rows]))
        }
        "conv1d" | "conv2d" => {
            keys(&["weight", "bias", "stride", "padding", "dilation", "groups"])?;
            let axes = if kind == "conv1d" { 1 } else { 2 };
            let (dims, w) = tensor(obj.get("weight"), file, &format!("{place}.weight"))?;
            if dims.len() != axes + 2 {
                return Err(Error::field(
                    file,
                    format!("{place}.weight"),
                    format!(
                        "has {} dimensions, a {kind} weight has {}",
                        dims.len(),
                        axes + 2
                    ),
                ));
            }
            let window = window_of(obj, &dims[2..], axes, file, place, false)?;
            let groups = count(obj.get("groups"), 1, file, &format!("{place}.groups"))?;
            let bias = match obj.get("bias") {
                None | Some(Value::Null) => None,
                Some(b) => Some(vector(b, dims[0], file, &format!("{place}.bias"))?),
            };
            let (op, out) = graph::conv(&input, dims[0], &w, bias, window, groups, pl)?;
            Ok(g.push(name, op, vec![x], out))
        }
        "batchnorm" | "batchnorm1d" | "batchnorm2d" => {
            keys(&["weight", "bias", "running_mean", "running_var", "eps"])?;
            let c = input[0];
            let get = |key: &str| {
                vector(
                    obj.get(key).unwrap_or(&Value::Null),
                    c,
                    file,
                    &format!("{place}.{key}"),
                )
            };
            let eps = match obj.get("eps") {
                None => 1e-5,
                Some(e) => parse_num(e, file, || format!("{place}.eps"))?.approx(),
            };
            let op = graph::batch_norm(
                &input,
                &get("weight")?,
                &get("bias")?,
                &get("running_mean")?,
                &get("running_var")?,
                eps,
                pl,
            )?;
            Ok(g.push(name, op, vec![x], input))
        }
        "relu" => {
            keys(&[])?;
            let op = Op::Slope {
                slope: vec![Num::F64(0.0); size],
                label: "Relu".into(),
            };
            Ok(g.push(name, op, vec![x], input))
        }
        "leaky_relu" => {
            keys(&["negative_slope"])?;
            let a = match obj.get("negative_slope") {
                None => Num::F64(0.01),
                Some(v) => parse_num(v, file, || format!("{place}.negative_slope"))?,
            };
            let label = format!("LeakyRelu {}", a.approx());
            Ok(g.push(
                name,
                Op::Slope {
                    slope: vec![a; size],
                    label,
                },
                vec![x],
                input,
            ))
        }
        "prelu" => {
            keys(&["weight"])?;
            let w = obj.get("weight").and_then(Value::as_array).ok_or_else(|| {
                Error::field(file, format!("{place}.weight"), "missing (the slopes)")
            })?;
            let per: Vec<Num> = w
                .iter()
                .enumerate()
                .map(|(i, v)| parse_num(v, file, || format!("{place}.weight[{i}]")))
                .collect::<Result<_>>()?;
            let slope = broadcast_channels(&per, &input, file, &format!("{place}.weight"))?;
            Ok(g.push(
                name,
                Op::Slope {
                    slope,
                    label: "PRelu".into(),
                },
                vec![x],
                input,
            ))
        }
        "hardtanh" | "clip" | "relu6" => {
            keys(&["min", "max"])?;
            let bound = |key: &str, default: Option<f64>| -> Result<Option<Num>> {
                match obj.get(key) {
                    None | Some(Value::Null) => Ok(default.map(Num::F64)),
                    Some(v) => parse_num(v, file, || format!("{place}.{key}")).map(Some),
                }
            };
            let (lo, hi) = match kind {
                "hardtanh" => (bound("min", Some(-1.0))?, bound("max", Some(1.0))?),
                "relu6" => (bound("min", Some(0.0))?, bound("max", Some(6.0))?),
                _ => (bound("min", None)?, bound("max", None)?),
            };
            Ok(g.push(name, Op::Clip { lo, hi }, vec![x], input))
        }
        "maxpool1d" | "maxpool2d" | "avgpool1d" | "avgpool2d" => {
            let avg = kind.starts_with("avg");
            let axes = if kind.ends_with("1d") { 1 } else { 2 };
            if avg {
                keys(&["kernel_size", "stride", "padding", "count_include_pad"])?;
            } else {
                keys(&["kernel_size", "stride", "padding", "dilation"])?;
            }
            let kernel = ints(
                obj.get("kernel_size")
                    .ok_or_else(|| Error::field(file, format!("{place}.kernel_size"), "missing"))?,
                axes,
                file,
                &format!("{place}.kernel_size"),
            )?;
            let window = window_of(obj, &kernel, axes, file, place, true)?;
            let (op, out) = if avg {
                let include = match obj.get("count_include_pad") {
                    None => true,
                    Some(v) => v.as_bool().ok_or_else(|| {
                        Error::field(
                            file,
                            format!("{place}.count_include_pad"),
                            "expected true or false",
                        )
                    })?,
                };
                graph::avg_pool(&input, window, include, pl)?
            } else {
                graph::max_pool(&input, window, pl)?
            };
            Ok(g.push(name, op, vec![x], out))
        }
        "flatten" | "identity" | "dropout" => {
            keys(&["p"])?;
            let shape = if kind == "flatten" { vec![size] } else { input };
            Ok(g.push(name, Op::Reshape, vec![x], shape))
        }
        "residual" => {
            keys(&["body", "shortcut"])?;
            let body = obj.get("body").and_then(Value::as_array).ok_or_else(|| {
                Error::field(
                    file,
                    format!("{place}.body"),
                    "missing (an array of layers)",
                )
            })?;
            let a = sequence(g, x, body, file, &format!("{place}.body"))?;
            let b = match obj.get("shortcut").and_then(Value::as_array) {
                Some(s) => sequence(g, x, s, file, &format!("{place}.shortcut"))?,
                None => x,
            };
            if g.size(a) != g.size(b) {
                return Err(Error::field(
                    file,
                    place,
                    format!(
                        "the body gives {} values but the shortcut {}",
                        g.size(a),
                        g.size(b)
                    ),
                ));
            }
            let shape = g.shape(a).to_vec();
            Ok(g.push(name, Op::Add, vec![a, b], shape))
        }
        other => Err(Error::field(
            file,
            format!("{place}.type"),
            format!(
                "unknown layer type \"{other}\"{}; the types are: linear, conv1d, conv2d, \
                 batchnorm, relu, leaky_relu, prelu, hardtanh, clip, relu6, maxpool1d, \
                 maxpool2d, avgpool1d, avgpool2d, flatten, identity, dropout, residual",
                not_piecewise_linear(other)
            ),
        )),
    }
}

/// A note for activations that are not piecewise linear.
pub fn not_piecewise_linear(kind: &str) -> &'static str {
    match kind.to_ascii_lowercase().as_str() {
        "gelu" | "silu" | "swish" | "sigmoid" | "tanh" | "softplus" | "elu" | "selu" | "mish"
        | "softmax" | "logsoftmax" | "log_softmax" | "celu" | "hardswish" | "hardsigmoid" => {
            " (it is not piecewise linear: its regions are not finitely many polytopes)"
        }
        _ => "",
    }
}

/// The PReLU slope of every element: one slope for all, or one per channel (axis 0).
fn broadcast_channels(per: &[Num], shape: &[usize], file: &str, place: &str) -> Result<Vec<Num>> {
    let size: usize = shape.iter().product();
    let c = shape[0];
    if per.len() == 1 {
        Ok(vec![per[0].clone(); size])
    } else if per.len() == c {
        let inner = size / c;
        Ok((0..size).map(|i| per[i / inner].clone()).collect())
    } else {
        Err(Error::field(
            file,
            place,
            format!(
                "has {} slopes; expected 1 or one per channel ({c})",
                per.len()
            ),
        ))
    }
}

fn window_of(
    obj: &Map<String, Value>,
    kernel: &[usize],
    axes: usize,
    file: &str,
    place: &str,
    pool: bool,
) -> Result<Window> {
    let stride = match obj.get("stride") {
        // Pooling's stride defaults to its kernel (as in PyTorch), convolution's to 1.
        None | Some(Value::Null) if pool => kernel.to_vec(),
        None | Some(Value::Null) => vec![1; axes],
        Some(v) => ints(v, axes, file, &format!("{place}.stride"))?,
    };
    let dilation = match obj.get("dilation") {
        None => vec![1; axes],
        Some(v) => ints(v, axes, file, &format!("{place}.dilation"))?,
    };
    let pads = match obj.get("padding") {
        None => vec![0; 2 * axes],
        Some(v) => {
            let p = ints_any(v, file, &format!("{place}.padding"))?;
            match p.len() {
                1 => vec![p[0]; 2 * axes],
                n if n == axes => p.iter().chain(&p).copied().collect(),
                n if n == 2 * axes => p,
                _ => {
                    return Err(Error::field(
                        file,
                        format!("{place}.padding"),
                        format!("expected 1, {axes} or {} sizes", 2 * axes),
                    ))
                }
            }
        }
    };
    Window::new(kernel, &stride, &dilation, &pads, (file, place))
}

fn ints_any(v: &Value, file: &str, field: &str) -> Result<Vec<usize>> {
    let bad = || Error::field(file, field, "expected a size or an array of sizes");
    match v {
        Value::Number(n) => Ok(vec![n.as_u64().ok_or_else(bad)? as usize]),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_u64().map(|n| n as usize).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

/// One size for every axis, or one per axis.
fn ints(v: &Value, axes: usize, file: &str, field: &str) -> Result<Vec<usize>> {
    let p = ints_any(v, file, field)?;
    match p.len() {
        1 => Ok(vec![p[0]; axes]),
        n if n == axes => Ok(p),
        _ => Err(Error::field(
            file,
            field,
            format!("expected 1 or {axes} sizes"),
        )),
    }
}

fn count(v: Option<&Value>, default: usize, file: &str, field: &str) -> Result<usize> {
    match v {
        None => Ok(default),
        Some(x) => x
            .as_u64()
            .filter(|&n| n > 0)
            .map(|n| n as usize)
            .ok_or_else(|| Error::field(file, field, "expected a positive integer")),
    }
}

fn vector(v: &Value, n: usize, file: &str, field: &str) -> Result<Vec<Num>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::field(file, field, format!("expected an array of {n} numbers")))?;
    if arr.len() != n {
        return Err(Error::field(
            file,
            field,
            format!("has {} entries, expected {n}", arr.len()),
        ));
    }
    arr.iter()
        .enumerate()
        .map(|(i, x)| parse_num(x, file, || format!("{field}[{i}]")))
        .collect()
}

fn optional_vector(v: Option<&Value>, n: usize, file: &str, field: &str) -> Result<Vec<Num>> {
    match v {
        None | Some(Value::Null) => Ok(vec![Num::F64(0.0); n]),
        Some(v) => vector(v, n, file, field),
    }
}

/// A matrix given as rows: (rows, columns, row-major values).
fn matrix(v: Option<&Value>, file: &str, field: &str) -> Result<(usize, usize, Vec<Num>)> {
    let (dims, vals) = tensor(
        v.ok_or_else(|| Error::field(file, field, "missing"))?
            .into(),
        file,
        field,
    )?;
    match dims[..] {
        [r, c] => Ok((r, c, vals)),
        _ => Err(Error::field(file, field, "expected an array of rows")),
    }
}

/// A nested array of numbers: its dimensions and its values in C order.
fn tensor(v: Option<&Value>, file: &str, field: &str) -> Result<(Vec<usize>, Vec<Num>)> {
    let v = v.ok_or_else(|| Error::field(file, field, "missing"))?;
    let mut dims = Vec::new();
    let mut at = v;
    while let Value::Array(a) = at {
        if a.is_empty() {
            return Err(Error::field(file, field, "has an empty array"));
        }
        dims.push(a.len());
        at = &a[0];
    }
    if dims.is_empty() {
        return Err(Error::field(
            file,
            field,
            "expected a nested array of numbers",
        ));
    }
    let mut vals = Vec::with_capacity(dims.iter().product());
    fill(v, &dims, 0, file, field, &mut vals)?;
    Ok((dims, vals))
}

fn fill(
    v: &Value,
    dims: &[usize],
    depth: usize,
    file: &str,
    field: &str,
    out: &mut Vec<Num>,
) -> Result<()> {
    if depth == dims.len() {
        out.push(parse_num(v, file, || field.to_string())?);
        return Ok(());
    }
    let a = v
        .as_array()
        .filter(|a| a.len() == dims[depth])
        .ok_or_else(|| {
            Error::field(
                file,
                field,
                format!(
                    "is ragged: expected {} entries at depth {depth}",
                    dims[depth]
                ),
            )
        })?;
    for (i, x) in a.iter().enumerate() {
        fill(x, dims, depth + 1, file, &format!("{field}[{i}]"), out)?;
    }
    Ok(())
}
