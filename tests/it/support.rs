//! Helpers every test goes through: build networks from exact numbers, count, certify.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use relu_regions::certificate::{partition_file, verify, PartitionFile};
use relu_regions::net::{Layer, Num};
use relu_regions::{count_regions, EnumerateConfig, Network, Partition, Restricted, Slice};

pub type Q = BigRational;

pub fn q(p: i64, d: i64) -> Q {
    BigRational::new(BigInt::from(p), BigInt::from(d))
}

pub fn qi(p: i64) -> Q {
    q(p, 1)
}

/// A network from hidden layers (weights row-major as rows, biases); the output layer sums.
pub fn network(hidden: &[(Vec<Vec<Q>>, Vec<Q>)]) -> Network {
    let mut layers: Vec<Layer> = hidden
        .iter()
        .map(|(w, b)| {
            Layer::dense(
                w[0].len(),
                w.len(),
                w.iter().flatten().map(|x| Num::Exact(x.clone())).collect(),
                b.iter().map(|x| Num::Exact(x.clone())).collect(),
            )
        })
        .collect();
    let last = layers.last().map_or(hidden_input(hidden), |l| l.n_out);
    layers.push(Layer::dense(
        last,
        1,
        vec![Num::F64(1.0); last],
        vec![Num::F64(0.0)],
    ));
    Network::from_layers(layers)
}

/// A network with the given hidden layers and output layer rows (weights..., bias) / den.
pub fn network_with_output(
    hidden: &[(Vec<Vec<Q>>, Vec<Q>)],
    output: (Vec<Vec<Q>>, Vec<Q>),
) -> Network {
    let mut net = network(hidden);
    let (w, b) = output;
    let last = net.layers.last_mut().unwrap();
    *last = Layer::dense(
        w[0].len(),
        w.len(),
        w.iter().flatten().map(|x| Num::Exact(x.clone())).collect(),
        b.iter().map(|x| Num::Exact(x.clone())).collect(),
    );
    net
}

fn hidden_input(hidden: &[(Vec<Vec<Q>>, Vec<Q>)]) -> usize {
    hidden[0].0[0].len()
}

/// Small-integer shorthand: rows of (weights..., bias).
pub fn layer(rows: &[&[i64]], den: i64) -> (Vec<Vec<Q>>, Vec<Q>) {
    let w = rows
        .iter()
        .map(|r| r[..r.len() - 1].iter().map(|&x| q(x, den)).collect())
        .collect();
    let b = rows.iter().map(|r| q(r[r.len() - 1], den)).collect();
    (w, b)
}

pub fn square(lo: i64, hi: i64) -> Slice {
    Slice::identity(vec![(qi(lo), qi(hi)), (qi(lo), qi(hi))])
}

pub fn interval(lo: Q, hi: Q) -> Slice {
    Slice::identity(vec![(lo, hi)])
}

pub fn count(net: &Network, slice: &Slice) -> Partition {
    let p = count_regions(net, slice, &EnumerateConfig::default()).expect("valid input");
    assert!(p.complete && p.certified);
    p
}

/// Counts, then proves the partition with the independent certificate checker, and checks the
/// mesh invariants (V − E + F = 1 for d = 2). Returns the region count.
///
/// Every way the planar engine can split a layer: the default (pieces tested one by one, then
/// the zone walk once a face is in many pieces, more than small fixtures reach; the first layer
/// in two rounds only when wide) with piece masks on faces cut by two lines or more, the zone
/// walk from the first line with the first layer always in two rounds, and the walk from 8
/// pieces (faces switching mid-way) with the first layer always in two rounds, piece masks
/// on every face and float bounds per neuron from the second layer (else as the default
/// chooses: per vertex on all but deep networks). All partitions must be certified and
/// have the same patterns.
pub fn count_certified(net: &Network, slice: &Slice) -> usize {
    let restricted = Restricted::new(net, slice).unwrap();
    let mut patterns = Vec::new();
    let default = EnumerateConfig::default();
    // Re-anchored vertices are checked against their exact values, and one way runs without
    // re-anchoring (the exact path alone). The zone walk from the first line, from the default
    // (past what small fixtures reach) and from 8 pieces (a face switching mid-way).
    // Piece masks on faces cut by 2 lines or more (faces with and without masks share
    // vertices), never (the walk from the first line), and on every face.
    let per_neuron = default.per_neuron_bounds_from;
    for (zone_walk_from, first_round_from, reanchor, masks_from, per_neuron_bounds_from) in [
        (
            default.zone_walk_from,
            default.first_round_from,
            true,
            2,
            per_neuron,
        ),
        (0, 1, false, usize::MAX, usize::MAX),
        (8, 1, true, 1, 0),
    ] {
        let cfg = EnumerateConfig {
            zone_walk_from,
            first_round_from,
            reanchor,
            masks_from,
            per_neuron_bounds_from,
            check_reanchored: reanchor,
            // The last way bounds through the layers' 2-norms alone, whatever their width.
            norms_alone_from: if per_neuron_bounds_from == 0 { 0 } else { 128 },
            ..EnumerateConfig::default()
        };
        let p = count_regions(net, slice, &cfg).expect("valid input");
        assert!(p.complete && p.certified);
        let file = partition_file(&p);
        let n = verify(&restricted, &slice.domain, &file).unwrap_or_else(|e| {
            panic!(
                "certificate rejected (zone walk from {zone_walk_from} pieces, first layer in \
                 rounds from {first_round_from} neurons, re-anchoring {reanchor}, bounds per \
                 neuron from drift {per_neuron_bounds_from}): {e}"
            )
        });
        assert_eq!(n, p.regions.len());
        if p.dim == 2 {
            let (v, e, f) = (
                p.vertex_count() as i64,
                p.edge_count() as i64,
                p.regions.len() as i64,
            );
            assert_eq!(v - e + f, 1, "Euler: V={v} E={e} F={f}");
        }
        let mut sorted: Vec<Vec<u64>> = p.regions.iter().map(|r| r.pattern.to_vec()).collect();
        sorted.sort();
        patterns.push(sorted);
    }
    for other in &patterns[1..] {
        assert_eq!(
            &patterns[0], other,
            "the ways of splitting a layer disagree"
        );
    }
    patterns[0].len()
}

pub fn certificate_of(net: &Network, slice: &Slice) -> PartitionFile {
    partition_file(&count(net, slice))
}

/// The exact activation pattern at a rational point (plain rational arithmetic, no engine code).
pub fn pattern_at(net: &Network, point: &[Q]) -> Vec<bool> {
    let mut h: Vec<Q> = point.to_vec();
    let mut bits = Vec::new();
    for layer in net.hidden_layers() {
        let mut next = Vec::with_capacity(layer.n_out);
        for i in 0..layer.n_out {
            let mut z = layer.bias[i].exact();
            for (j, x) in h.iter().enumerate() {
                z += layer.weight.vals[i * layer.n_in + j].exact() * x;
            }
            bits.push(z.is_positive());
            next.push(if z.is_positive() { z } else { Q::zero() });
        }
        h = next;
    }
    bits
}

pub fn pattern_string(bits: &[bool]) -> String {
    bits.iter().map(|&b| if b { '1' } else { '0' }).collect()
}

/// Runs the binary: (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relu-regions"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `text` to a file in a per-process temporary folder named after `tag`; returns its path.
pub fn temp_file(tag: &str, name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("relu-regions-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// A random network with small dyadic weights (many exact degeneracies) on d inputs.
pub fn random_dyadic_net(seed: u64, d: usize, max_depth: usize, max_width: usize) -> Network {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let depth = rng.random_range(1..=max_depth);
    let mut n_in = d;
    let mut hidden = Vec::new();
    for _ in 0..depth {
        let n_out = rng.random_range(1..=max_width);
        let rows: Vec<Vec<i64>> = (0..n_out)
            .map(|_| (0..=n_in).map(|_| rng.random_range(-4..=4)).collect())
            .collect();
        let rows: Vec<&[i64]> = rows.iter().map(|r| &r[..]).collect();
        hidden.push(layer(&rows, 4));
        n_in = n_out;
    }
    network(&hidden)
}

/// The pattern at a point on no boundary, else None.
pub fn generic_pattern(net: &Network, point: &[Q]) -> Option<String> {
    let mut h: Vec<Q> = point.to_vec();
    let mut bits = String::new();
    for layer in net.hidden_layers() {
        let mut next = Vec::new();
        for i in 0..layer.n_out {
            let mut z = layer.bias[i].exact();
            for (j, x) in h.iter().enumerate() {
                z += layer.weight.vals[i * layer.n_in + j].exact() * x;
            }
            if z.is_zero() {
                return None;
            }
            bits.push(if z.is_positive() { '1' } else { '0' });
            next.push(if z.is_positive() { z } else { Q::zero() });
        }
        h = next;
    }
    Some(bits)
}

/// A random deep network with generic float32 weights (He-normal, as the benchmark networks):
/// no exact degeneracies, but float bounds that drift layer by layer.
pub fn random_float_net(seed: u64, depth: usize, width: usize) -> Network {
    random_float_net_with_widths(seed, &vec![width; depth])
}

/// [`random_float_net`] with the given hidden widths (a 2-D input, one output).
pub fn random_float_net_with_widths(seed: u64, widths: &[usize]) -> Network {
    use rand_distr::{Distribution, Normal};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut layers = Vec::new();
    let mut n_in = 2;
    for &n_out in widths.iter().chain(&[1]) {
        let he = Normal::new(0.0, (2.0 / n_in as f64).sqrt()).unwrap();
        let bias = Normal::new(0.0, 0.1).unwrap();
        let f32_of = |x: f64| Num::F64(x as f32 as f64);
        layers.push(Layer::dense(
            n_in,
            n_out,
            (0..n_in * n_out)
                .map(|_| f32_of(he.sample(&mut rng)))
                .collect(),
            (0..n_out).map(|_| f32_of(bias.sample(&mut rng))).collect(),
        ));
        n_in = n_out;
    }
    Network::from_layers(layers)
}
