//! Region counting on the benchmark networks (1-D and 2-D), beside the forward-pass floor: one
//! f64 forward pass at all final vertices (benchmarks/README.md#the-forward-pass-floor).
//!
//! `cargo bench --bench main -- count/` runs them; networks that are not found are skipped. Write
//! them with `python3 benchmarks/gen_bench_nets.py` (into benchmarks/nets, byte for byte the
//! published ones) and run with `RELU_REGIONS_BENCH_NETS=$PWD/benchmarks/nets`; without that
//! variable they are read from ../shared/bench/nets, where that optional copy exists.

use criterion::{BenchmarkId, Criterion};
use relu_regions::{enumerate, EnumerateConfig, Network, NoProgress, Restricted, Slice};
use std::path::PathBuf;

const NETWORKS: &[&str] = &[
    "mlp-1-64x64x64x64-s0",
    "mlp-2-32x32x32-s0",
    "mlp-2-64x64x64-s0",
    "mlp-2-128x128x128-s0",
    "mlp-2-32x32x32x32x32x32-s0",
    "mlp-2-256x256x256-s0",
];

fn bench_dir() -> PathBuf {
    std::env::var_os("RELU_REGIONS_BENCH_NETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/nets"))
}

pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("count");
    group.sample_size(10);
    for name in NETWORKS {
        let path = bench_dir().join(format!("{name}.json"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipping {name}: {} not found", path.display());
            continue;
        };
        let net = Network::from_json(&text, name).expect("benchmark network");
        let slice = Slice::identity(Slice::default_box(net.input_dim()));
        let restricted = Restricted::new(&net, &slice).expect("restrict");
        let cfg = EnumerateConfig::default();
        group.bench_with_input(BenchmarkId::new("enumerate", name), &restricted, |b, r| {
            b.iter(|| enumerate(r, &slice.domain, &cfg, &NoProgress).expect("count"))
        });
        let partition = enumerate(&restricted, &slice.domain, &cfg, &NoProgress).expect("count");
        group.bench_with_input(
            BenchmarkId::new("forward_floor", name),
            &partition.xy,
            |b, xy| b.iter(|| restricted.forward_batch(xy)),
        );
    }
    group.finish();
}
