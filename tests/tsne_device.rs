//! t-SNE on a burn device equals t-SNE on the CPU: the exact optimiser on wgpu (Mesa's
//! lavapipe here, WebGPU in the page) and on Flex against the f64 CPU optimiser, and
//! PCA through device-accumulated cross-products against the CPU's, including a
//! pool1-sized 341 × 200,704 matrix in blocks within WebGPU's 128 MiB binding limit.

use futures_lite::future::block_on;
use layerlens::backend::{cpu_device, native_wgpu_device};
use layerlens::embed::device_exact::DeviceOptimizer;
use layerlens::embed::device_pca::{device_pca, gram_block_columns};
use layerlens::embed::preprocess::pca;
use layerlens::embed::{Features, TsneConfig, cpu_optimizer, prepare, reduce};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `k` Gaussian blobs in `m` dimensions (row-major f32).
fn blobs(n: usize, m: usize, k: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..k * m).map(|_| rng.random_range(-8.0f32..8.0)).collect();
    (0..n)
        .flat_map(|i| {
            let c = i % k;
            (0..m).map(|j| centres[c * m + j] + rng.random_range(-1.0f32..1.0)).collect::<Vec<_>>()
        })
        .collect()
}

/// Rank-`r` signal with decreasing strengths plus small noise: well-separated principal
/// components, so their directions are well defined.
fn low_rank(n: usize, m: usize, r: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a: Vec<f32> = (0..n * r).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let b: Vec<f32> = (0..r * m).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let mut x = vec![0.0f32; n * m];
    for i in 0..n {
        for k in 0..r {
            let strength = 4.0 / (k + 1) as f32;
            let aik = a[i * r + k] * strength;
            let row = &mut x[i * m..(i + 1) * m];
            for (v, &bkj) in row.iter_mut().zip(&b[k * m..(k + 1) * m]) {
                *v += aik * bkj;
            }
        }
        for v in &mut x[i * m..(i + 1) * m] {
            *v += rng.random_range(-0.01f32..0.01);
        }
    }
    x
}

/// Runs the exact t-SNE of `x` on the CPU (f64) and on `device` (f32); returns the two
/// final embeddings and the KL at every report of each.
fn cpu_and_device(
    x: &[f32],
    n: usize,
    m: usize,
    config: &TsneConfig,
    device: &burn::prelude::Device,
) -> (Vec<f32>, Vec<f32>, Vec<f64>, Vec<f64>) {
    let prepared = prepare(reduce(x, n, m, config), config);
    let mut cpu = cpu_optimizer(prepared.clone());
    let mut dev = DeviceOptimizer::new(prepared, device).expect("fits");
    let (mut kl_cpu, mut kl_dev) = (Vec::new(), Vec::new());
    loop {
        let a = cpu.step().expect("cpu step");
        let b = block_on(dev.step()).expect("device step");
        assert_eq!(a.iteration, b.iteration);
        kl_cpu.extend(a.kl);
        kl_dev.extend(b.kl);

        if a.finished {
            assert!(b.finished);
            break;
        }
    }
    let y_cpu: Vec<f32> = cpu.embedding().iter().map(|&v| v as f32).collect();
    let y_dev: Vec<f32> = dev.embedding().iter().map(|&v| v as f32).collect();
    (y_cpu, y_dev, kl_cpu, kl_dev)
}

fn exact_config(n: usize, n_iter: usize) -> TsneConfig {
    TsneConfig { n_iter, progress_every: 50, method: layerlens::embed::Method::Exact, ..TsneConfig::opentsne(n) }
}

/// Three checks of the device's exact t-SNE against the f64 CPU optimiser:
/// * forces at the same embedding — the CPU run's state after 0, 50, 250 and 400
///   iterations: gradient within 1e-4 of its parts' size (relative L2), Z within 1e-5
///   (relative), Σ P ln W within 1e-5 (absolute, i.e. of the KL);
/// * step by step: over the first 5 iterations every KL within 1e-6 (relative). Beyond
///   that the trajectories part: the early-exaggeration phase is chaotic (gains jump on
///   each gradient component's sign), so f32 and f64 runs drift apart while converging
///   to equally good optima;
/// * to the end: after 400 iterations (250 exaggerated) the final KL within 3 % of the
///   CPU's and below half the starting KL.
fn assert_matches_cpu(device: &burn::prelude::Device, name: &str) {
    let (n, m) = (240, 12);
    let x = blobs(n, m, 4, 7);
    let full = exact_config(n, 400);
    let prepared = prepare(reduce(&x, n, m, &full), &full);
    let dev = DeviceOptimizer::new(prepared.clone(), device).expect("fits");
    let mut cpu = cpu_optimizer(prepared);
    let mut worst = (0.0f64, 0.0f64, 0.0f64);
    for t in 0..=400 {
        if [0, 50, 250, 400].contains(&t) {
            let a = block_on(dev.agreement_with_cpu(cpu.embedding())).expect("device forces");
            eprintln!("{name}, forces at iteration {t}: {a:?}");
            worst = (worst.0.max(a.gradient_rel_l2), worst.1.max(a.z_rel), worst.2.max(a.p_log_w_abs));
        }
        cpu.step().unwrap();
    }
    assert!(worst.0 < 1e-4, "{name}: gradient differs by {:.2e} (relative L2)", worst.0);
    assert!(
        worst.1 < 1e-5 && worst.2 < 1e-5,
        "{name}: Z / Σ P ln W differ by {:.2e} (rel.) / {:.2e} (abs.)",
        worst.1,
        worst.2
    );

    let mut short = exact_config(n, 5);
    short.progress_every = 1;
    let (_, _, kl_cpu, kl_dev) = cpu_and_device(&x, n, m, &short, device);
    let kl_rel = kl_cpu.iter().zip(&kl_dev).map(|(a, b)| ((a - b) / a).abs()).fold(0.0f64, f64::max);
    eprintln!("{name}, first 5 iterations: max KL rel. diff {kl_rel:.2e}");
    assert_eq!(kl_cpu.len(), 5);
    assert!(kl_rel < 1e-6, "{name}: KL differs from the CPU's by {kl_rel:.3e}");

    let (_, _, kl_cpu, kl_dev) = cpu_and_device(&x, n, m, &full, device);
    let (end_cpu, end_dev) = (*kl_cpu.last().unwrap(), *kl_dev.last().unwrap());
    eprintln!("{name}, 400 iterations: final KL cpu {end_cpu:.5}, device {end_dev:.5}");
    assert!(((end_dev - end_cpu) / end_cpu).abs() < 0.03, "{name}: final KL {end_dev} vs CPU {end_cpu}");
    assert!(end_dev < 0.5 * kl_dev[0], "{name}: KL did not fall: {kl_dev:?}");
}

#[test]
fn device_exact_tsne_on_flex_matches_the_f64_cpu_optimiser() {
    assert_matches_cpu(&cpu_device(), "flex");
}

#[test]
fn device_exact_tsne_on_wgpu_matches_the_f64_cpu_optimiser() {
    let device = native_wgpu_device().expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
    assert_matches_cpu(&device, "wgpu");
}

#[test]
fn device_exact_tsne_is_repeatable_on_flex() {
    let (n, m) = (120, 6);
    let x = blobs(n, m, 3, 3);
    let config = exact_config(n, 120);
    let run = || cpu_and_device(&x, n, m, &config, &cpu_device()).1;
    assert_eq!(run(), run());
}

fn max_rel_score_diff(a: &[f64], b: &[f64], n: usize, d: usize, cols: usize) -> f64 {
    let mut worst = 0.0f64;
    for k in 0..cols {
        let scale = (0..n).map(|i| a[i * d + k].abs()).fold(0.0, f64::max);
        for i in 0..n {
            worst = worst.max((a[i * d + k] - b[i * d + k]).abs() / scale);
        }
    }
    worst
}

#[test]
fn device_pca_matches_cpu_pca_on_both_routes() {
    let device = native_wgpu_device().expect("a wgpu adapter");
    // Gram route (N ≤ M) and scatter route (N > M).
    for (n, m) in [(60, 3_000), (500, 40)] {
        let x = low_rank(n, m, 6, 11);
        let cpu = pca(&x, n, m, 6);
        let dev = block_on(device_pca(&x, n, m, 6, &device)).expect("device pca");
        let flex = block_on(device_pca(&x, n, m, 6, &cpu_device())).expect("flex pca");
        let rel = max_rel_score_diff(&cpu, &dev, n, 6, 6);
        let rel_flex = max_rel_score_diff(&cpu, &flex, n, 6, 6);
        eprintln!("PCA {n}×{m}: max score diff / column max: wgpu {rel:.2e}, flex {rel_flex:.2e}");
        assert!(rel < 1e-3 && rel_flex < 1e-3, "{n}×{m}: wgpu {rel:.2e}, flex {rel_flex:.2e}");
    }
}

/// pool1 of 341 images (341 × 64·56·56 = 200,704 columns, 274 MB): the Gram matrix is
/// accumulated from column blocks of ≤ 32 MiB, so no binding approaches 128 MiB, and
/// the 50 scores t-SNE starts from agree with the CPU's.
#[test]
fn pool1_sized_matrix_goes_through_device_pca_in_blocks() {
    let (n, m) = (341, 200_704);
    let width = gram_block_columns(n, m);
    assert!(width * n * 4 <= 32 << 20, "block of {width} columns is too large");
    assert!(m.div_ceil(width) > 1, "the matrix must need several blocks");
    let device = native_wgpu_device().expect("a wgpu adapter");
    let x = low_rank(n, m, 5, 5);
    let dev = block_on(device_pca(&x, n, m, 50, &device)).expect("device pca");
    assert_eq!(dev.len(), n * 50);
    assert!(dev.iter().all(|v| v.is_finite()));
    let cpu = pca(&x, n, m, 50);
    let rel = max_rel_score_diff(&cpu, &dev, n, 50, 5);
    eprintln!(
        "pool1-sized PCA: {} blocks of {width} columns; top-5 score diff / column max {rel:.2e}",
        m.div_ceil(width)
    );
    assert!(rel < 1e-3, "top-5 scores differ by {rel:.2e}");
    // The features t-SNE gets from them have the shape the CPU path gives.
    let f = Features::from_pca_scores(dev, n, 50);
    assert_eq!((f.n, f.d), (n, 50));
}

/// When the GPU fails mid-run the page goes on on the CPU: the state after the last finished
/// iteration (embedding, gains, momentum, iteration) carries over, so the next iterations are
/// the ones the device would have made (to f32-vs-f64 rounding) and the run ends as well as a
/// CPU run does.
#[test]
fn a_device_run_handed_to_the_cpu_goes_on_from_where_it_was() {
    let (n, m) = (240, 12);
    let x = blobs(n, m, 4, 7);
    let mut config = exact_config(n, 400);
    config.progress_every = 1;
    let prepared = prepare(reduce(&x, n, m, &config), &config);
    let mut on_device = DeviceOptimizer::new(prepared.clone(), &cpu_device()).expect("fits");
    let mut handed = DeviceOptimizer::new(prepared.clone(), &cpu_device()).expect("fits");
    for _ in 0..100 {
        block_on(on_device.step()).unwrap();
        block_on(handed.step()).unwrap();
    }
    let before = handed.embedding().to_vec();
    let mut cpu = handed.into_cpu();
    assert_eq!(cpu.iteration(), 100);
    assert_eq!(cpu.embedding(), &before[..], "the embedding carries over exactly");
    let mut worst = 0.0f64;
    for _ in 0..5 {
        let (a, b) = (block_on(on_device.step()).unwrap(), cpu.step().unwrap());
        assert_eq!(a.iteration, b.iteration);
        worst = worst.max(((a.kl.unwrap() - b.kl.unwrap()) / a.kl.unwrap()).abs());
    }
    eprintln!("handed over at 100: the next 5 KLs within {worst:.2e} (relative) of the device's");
    assert!(worst < 1e-5, "the CPU did not go on from the device's state: KL differs by {worst:.2e}");

    let mut reference = cpu_optimizer(prepared);
    let (mut last_cpu, mut last_ref) = (f64::NAN, f64::NAN);
    loop {
        let step = cpu.step().unwrap();
        last_cpu = step.kl.unwrap_or(last_cpu);
        if step.finished {
            break;
        }
    }
    loop {
        let step = reference.step().unwrap();
        last_ref = step.kl.unwrap_or(last_ref);
        if step.finished {
            break;
        }
    }
    assert_eq!(cpu.iteration(), 400);
    assert!(((last_cpu - last_ref) / last_ref).abs() < 0.03, "final KL {last_cpu} vs a CPU run's {last_ref}");
}
