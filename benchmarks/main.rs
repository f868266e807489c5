//! The one criterion binary for the whole project (`cargo bench --bench main`).

use criterion::{criterion_group, criterion_main};

mod regions;

criterion_group!(benches, regions::benches);
criterion_main!(benches);
