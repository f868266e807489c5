//! The one criterion binary for the whole project (`cargo bench --bench main`).

use criterion::{criterion_group, criterion_main};

mod init_stats;
mod lp;
mod regions;

criterion_group!(benches, regions::benches, init_stats::benches, lp::benches);
criterion_main!(benches);
