//! The one criterion binary of the project; each module adds its group here.

use criterion::{criterion_group, criterion_main};

mod init_stats;

criterion_group!(benches, init_stats::benches);
criterion_main!(benches);
