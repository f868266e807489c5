//! Monte Carlo throughput: multiply-adds of the sampled forward passes per second,
//! next to a plain matrix-product loop of the same size.
//!
//! For K samples of an L-layer dense network of width n, the Monte Carlo run does K·L
//! matrix–vector products with freshly drawn n×n weights. The reference does the same number of
//! multiply-adds as L products (n×n)·(n×K) with matrixmultiply's dgemm on fixed matrices, which is
//! what the run would cost if the weights were free and shared. Throughput is in multiply-adds
//! (`K·L·n²` elements); samples per second = elements per second / (L·n²).

use criterion::{BenchmarkId, Criterion, Throughput};
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::StandardNormal;
use relu_regions::init_stats::{simulate, Architecture, Experiment, Init, McRng, Sampler};

fn dgemm_layers(a: &[f64], b0: &[f64], n: usize, k: usize, layers: usize) -> f64 {
    let mut b = b0.to_vec();
    let mut c = vec![0.0; n * k];
    for _ in 0..layers {
        // SAFETY: a is n×n, b and c are n×k, all row-major and of those lengths.
        unsafe {
            matrixmultiply::dgemm(
                n,
                n,
                k,
                1.0,
                a.as_ptr(),
                n as isize,
                1,
                b.as_ptr(),
                k as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                k as isize,
                1,
            );
        }
        c.iter_mut().for_each(|x| *x = x.max(0.0));
        std::mem::swap(&mut b, &mut c);
    }
    b[0]
}

pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("init_stats");
    group.sample_size(10);
    for (n, layers, k) in [(64usize, 8usize, 256usize), (256, 8, 64)] {
        let madds = (k * layers * n * n) as u64;
        group.throughput(Throughput::Elements(madds));
        let exp = Experiment::new(
            Architecture::dense(vec![n; layers + 1]).expect("valid widths"),
            Init::HE_NORMAL,
        )
        .with_samples(k);
        let label = format!("n{n}_L{layers}_K{k}");
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            group.bench_with_input(
                BenchmarkId::new(format!("monte_carlo_{threads}t"), &label),
                &exp,
                |bch, exp| bch.iter(|| pool.install(|| simulate(exp).expect("runs"))),
            );
        }
        let pre = exp.clone().with_sampler(Sampler::Preactivations);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("thread pool");
        group.bench_with_input(
            BenchmarkId::new("monte_carlo_preactivations_1t", &label),
            &pre,
            |bch, exp| bch.iter(|| pool.install(|| simulate(exp).expect("runs"))),
        );
        let a: Vec<f64> = (0..n * n)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 500.0)
            .collect();
        let b: Vec<f64> = (0..n * k).map(|i| (i % 7) as f64 / 7.0).collect();
        group.bench_function(BenchmarkId::new("dgemm_1t_same_madds", &label), |bch| {
            bch.iter(|| dgemm_layers(&a, &b, n, k, layers))
        });
    }
    // The floor of the weight sampler: one standard normal (and one 64-bit word) per weight.
    let mut buf = vec![0.0f64; 1 << 16];
    group.throughput(Throughput::Elements(buf.len() as u64));
    group.bench_function("rng_floor_1t/standard_normals", |bch| {
        let mut rng = McRng::seed_from_u64(1);
        bch.iter(|| {
            for x in buf.iter_mut() {
                *x = rng.sample(StandardNormal);
            }
            buf[0]
        })
    });
    group.bench_function("rng_floor_1t/chacha8_u64", |bch| {
        let mut rng = McRng::seed_from_u64(1);
        bch.iter(|| {
            let mut acc = 0u64;
            for _ in 0..(1 << 16) {
                acc ^= rng.next_u64();
            }
            acc
        })
    });
    group.finish();
}
