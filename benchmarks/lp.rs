//! Criterion benchmarks of the lp engine: whole enumerations in 3-D and 4-D, and one Chebyshev
//! LP with each backend (the measurement behind the dense simplex on the hot path; see the
//! dependencies in docs/ARCHITECTURE.md).
//!
//! `cargo bench --bench main -- lp/` runs them.

use criterion::{BenchmarkId, Criterion};
use num_bigint::BigInt;
use num_rational::BigRational;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use relu_regions::engine::lp::feasibility::{Con, Decider};
use relu_regions::engine::lp::{enumerate_lp_with, LpBackend, LpOptions};
use relu_regions::exact::LineEq;
use relu_regions::net::{Layer, Num};
use relu_regions::{EnumerateConfig, Network, NoProgress, Restricted, Slice};
use std::hint::black_box;

/// A He-normal-like random network with float32 weights (deterministic: ChaCha8, `seed`).
fn random_net(seed: u64, d: usize, widths: &[usize]) -> Network {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut layers = Vec::new();
    let mut n_in = d;
    for &n_out in widths.iter().chain(std::iter::once(&1)) {
        let scale = (6.0 / n_in as f64).sqrt();
        let weight = (0..n_in * n_out)
            .map(|_| Num::F64((rng.random_range(-1.0..1.0) * scale) as f32 as f64))
            .collect();
        let bias = (0..n_out)
            .map(|_| Num::F64((rng.random_range(-0.1..0.1f64)) as f32 as f64))
            .collect();
        layers.push(Layer::dense(n_in, n_out, weight, bias));
        n_in = n_out;
    }
    Network::from_layers(layers)
}

fn count(net: &Network, backend: LpBackend) -> usize {
    let slice = Slice::identity(Slice::default_box(net.input_dim()));
    let r = Restricted::new(net, &slice).unwrap();
    let opts = LpOptions {
        backend,
        exact_geometry: false,
        adjacency: false,
        facets: false,
    };
    enumerate_lp_with(
        &r,
        &slice.domain,
        &EnumerateConfig::default(),
        &opts,
        &NoProgress,
    )
    .unwrap()
    .regions
    .len()
}

fn reference_net() -> Option<Network> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/bench/mlp-3-16x16x16-s0.json"
    );
    let text = std::fs::read_to_string(path).ok()?;
    Network::from_json(&text, path).ok()
}

/// A fixture of `fixtures/extreme` (box [-1,1]^d) and the oracle's count stored with it.
fn extreme_fixture(name: &str) -> Option<(Network, usize)> {
    let path = format!(
        "{}/fixtures/extreme/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let expected = json["meta"]["expected_regions"].as_u64()? as usize;
    Some((Network::from_json(&text, &path).ok()?, expected))
}

/// A 3-D cell-like system: the cube and a few random planes through it, plus one halfspace.
fn lp_system(seed: u64, planes: usize) -> Vec<Con> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for k in 0..3 {
        for s in [1i64, -1] {
            let mut a = vec![BigInt::from(0); 3];
            a[k] = BigInt::from(s);
            rows.push(Con::new(LineEq {
                a,
                c: BigInt::from(1),
            }));
        }
    }
    for _ in 0..planes {
        let a: Vec<BigInt> = (0..3)
            .map(|_| BigInt::from(rng.random_range(-1000..1000i64)))
            .collect();
        let c = BigInt::from(rng.random_range(100..400i64));
        rows.push(Con::new(LineEq { a, c }));
    }
    rows
}

pub fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("lp");
    g.sample_size(10);
    if let Some(net) = reference_net() {
        g.bench_function("mlp-3-16x16x16 [-1,1]^3 dense", |b| {
            b.iter(|| black_box(count(&net, LpBackend::Dense)))
        });
    }
    for (d, widths) in [
        (3usize, vec![8usize, 8, 8]),
        (4, vec![8, 8]),
        (4, vec![12, 12]),
    ] {
        let net = random_net(1, d, &widths);
        let id = format!(
            "d{d}-{}",
            widths
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join("x")
        );
        g.bench_with_input(BenchmarkId::new("enumerate dense", &id), &net, |b, net| {
            b.iter(|| black_box(count(net, LpBackend::Dense)))
        });
    }
    // Weights ±10^U[-300,300] (fixtures/extreme): most cell decisions go to the exact simplex.
    for name in ["extreme-3d-6-5-seed5", "extreme-4d-5-4"] {
        let Some((net, expected)) = extreme_fixture(name) else {
            continue;
        };
        assert_eq!(
            count(&net, LpBackend::Dense),
            expected,
            "{name}: the oracle's count"
        );
        g.bench_function(format!("{name} [-1,1]^d dense"), |b| {
            b.iter(|| black_box(count(&net, LpBackend::Dense)))
        });
    }
    let small = random_net(2, 3, &[6, 6]);
    g.bench_function("d3-6x6 good_lp", |b| {
        b.iter(|| black_box(count(&small, LpBackend::GoodLp)))
    });
    g.bench_function("d3-6x6 dense", |b| {
        b.iter(|| black_box(count(&small, LpBackend::Dense)))
    });
    // One certified Chebyshev LP of a 3-D cell with 16 rows, each backend.
    let lo = vec![-BigRational::from_integer(1.into()); 3];
    let hi = vec![BigRational::from_integer(1.into()); 3];
    let system = lp_system(3, 10);
    let rows: Vec<&Con> = system.iter().collect();
    for backend in [LpBackend::Dense, LpBackend::GoodLp] {
        let dec = Decider::new(&lo, &hi, backend);
        g.bench_function(
            format!("one Chebyshev LP, 3-D, 16 rows, {backend:?}"),
            |b| b.iter(|| black_box(dec.interior(black_box(&rows)))),
        );
    }
    g.finish();
}
