//! Reading the network and slice files named on the command line.

use anyhow::{anyhow, Result};
use relu_regions::compare::ExactRegions;
use relu_regions::{
    slice::parse_box_flag, Network, ProgressSink, Restricted, Slice, DEFAULT_NETWORK,
};

/// A file read from disk, or an error that names it (exit code 2).
pub fn read_file(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        anyhow!(relu_regions::Error::Usage {
            flag: path.to_string(),
            reason: format!("cannot read the file: {e}"),
        })
    })
}

/// The network named on the command line (a JSON network file or an ONNX model), or the
/// embedded default.
pub fn load_network(path: Option<&str>) -> Result<(Network, String)> {
    load_network_with(path, &relu_regions::onnx::ImportOptions::default())
}

/// [`load_network`] with options for ONNX models (an input shape for dynamic axes).
pub fn load_network_with(
    path: Option<&str>,
    options: &relu_regions::onnx::ImportOptions,
) -> Result<(Network, String)> {
    let Some(p) = path else {
        return Ok((
            Network::from_json(DEFAULT_NETWORK, "(embedded default network)")?,
            "embedded default 2-16-16-16".to_string(),
        ));
    };
    let bytes = std::fs::read(p).map_err(|e| {
        anyhow!(relu_regions::Error::Usage {
            flag: p.to_string(),
            reason: format!("cannot read the file: {e}"),
        })
    })?;
    let onnx = p.ends_with(".onnx") || relu_regions::onnx::looks_like_onnx(&bytes);
    let net = if onnx {
        // External data files are named relative to the model's folder.
        let dir = std::path::Path::new(p)
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let load = |location: &str| std::fs::read(dir.join(location));
        relu_regions::onnx::read(&bytes, p, &load, options)?
    } else {
        let text = String::from_utf8(bytes).map_err(|_| {
            anyhow!(relu_regions::Error::Json {
                file: p.to_string(),
                reason: "not UTF-8 text (an ONNX model needs the .onnx extension)".into(),
            })
        })?;
        Network::from_json(&text, p)?
    };
    Ok((net, p.to_string()))
}

/// The slice: a file, or the identity over `--box` (default [-1, 1]^d).
pub fn load_slice(net: &Network, subspace: Option<&str>, box_flag: Option<&str>) -> Result<Slice> {
    let n0 = net.input_dim();
    match subspace {
        Some(path) => {
            let mut slice = Slice::from_json(&read_file(path)?, path, n0)?;
            if let Some(b) = box_flag {
                if matches!(slice.domain, relu_regions::Domain::Polygon(_)) {
                    return Err(relu_regions::Error::usage(
                        "--box",
                        "the slice file has a polygon domain; --box cannot replace it",
                    )
                    .into());
                }
                slice.domain = relu_regions::Domain::Box(parse_box_flag(b, slice.dim())?);
            }
            Ok(slice)
        }
        None => {
            if n0 > 4 {
                return Err(relu_regions::Error::usage(
                    "--subspace",
                    format!(
                        "the network's input is {n0}-D; give a slice file (--subspace) with a 1-D to 4-D slice"
                    ),
                )
                .into());
            }
            let b = match box_flag {
                Some(b) => parse_box_flag(b, n0)?,
                None => Slice::default_box(n0),
            };
            Ok(Slice::identity(b))
        }
    }
}

/// The exact regions of `net` on the slice ([`ExactRegions::compute`]).
pub fn exact_regions(
    net: &Restricted,
    slice: &Slice,
    progress: &dyn ProgressSink,
) -> Result<ExactRegions> {
    Ok(ExactRegions::compute(net, &slice.domain, progress)?)
}

/// Part I of N (`0 ≤ I < N`), as `--shard` and `--tile` give it: "I/N".
pub fn parse_part(text: &str, flag: &str) -> Result<(usize, usize)> {
    let parsed = text.split_once('/').and_then(|(i, n)| {
        Some((
            i.trim().parse::<usize>().ok()?,
            n.trim().parse::<usize>().ok()?,
        ))
    });
    match parsed {
        Some((i, n)) if i < n => Ok((i, n)),
        _ => Err(anyhow!(relu_regions::Error::usage(
            flag,
            format!("\"{text}\" is not I/N with 0 ≤ I < N (e.g. 3/8)")
        ))),
    }
}

/// Tile I/N of `net`'s box (`count --tile`, a batch job's "tile"): tiles of max-pooling
/// networks are refused (their regions are unions of cells, which the tile rule does not join).
pub fn parse_tile(text: &str, flag: &str, net: &Network) -> Result<(usize, usize)> {
    let part = parse_part(text, flag)?;
    if !net.max_trees.is_empty() {
        return Err(anyhow!(relu_regions::Error::usage(
            flag,
            "tiles of max-pooling networks are not supported yet"
        )));
    }
    Ok(part)
}
