//! In-browser tests (wasm32, headless Chromium through wasm-bindgen-test-runner): the network
//! matches onnxruntime on the CPU backend and on WebGPU (Chromium's software adapter in CI),
//! so a shader that WebGPU silently rejects cannot pass unnoticed.
#![cfg(target_arch = "wasm32")]

use burn::prelude::Device;
use layerlens::backend::cpu_device;
use layerlens::backend::webgpu::webgpu_device;
use layerlens::model::inference::run_chunk;
use layerlens::model::layers::Layer;
use layerlens::model::squeezenet::SqueezeNet;
use layerlens::model::weights::load_weights;
use layerlens::tensor_file::read_f32_tensor;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const WEIGHTS: &[u8] = include_bytes!("fixtures/squeezenet/squeezenet1_1_random.safetensors");
const REFERENCE: &[u8] = include_bytes!("fixtures/squeezenet/reference.safetensors");
const TOLERANCES: [(&str, f32); 5] =
    [("pool1", 1e-5), ("fire9", 1e-4), ("conv10", 1e-4), ("logits", 1e-5), ("prob", 5e-6)];

/// What the page's `main` does first (a test binary has no `main` of its own): without it
/// cubecl's IR finds none of its registered types and every WebGPU kernel panics.
fn start() {
    layerlens::wasm_start::run_static_constructors();
}

fn log(message: &str) {
    web_sys::console::log_1(&message.into());
}

fn now() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

async fn check_against_reference(device: &Device, scale: f32, label: &str) {
    let (weights, _) = load_weights(WEIGHTS).unwrap();
    let net = SqueezeNet::from_weights(&weights, device);
    let input = read_f32_tensor(REFERENCE, "input").unwrap();
    let m = input.data.len() / 4;
    let images: Vec<&[f32]> = input.data.chunks_exact(m).collect();
    let layers: Vec<Layer> = TOLERANCES.iter().map(|(name, _)| name.parse().unwrap()).collect();
    let start = now();
    let outputs = run_chunk(&net, device, &images, &layers).await.unwrap();
    log(&format!("{label}: forward pass of 4 images with 5 taps took {:.1} s", (now() - start) / 1e3));
    for ((name, tolerance), got) in TOLERANCES.iter().zip(&outputs) {
        let expected = read_f32_tensor(REFERENCE, name).unwrap();
        assert_eq!(got.shape(), expected.shape, "{label} {name} shape");
        let diff = got.values.iter().zip(&expected.data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        log(&format!("{label} {name}: max |Δ| = {diff:.3e} (limit {:.0e})", tolerance * scale));
        assert!(diff <= tolerance * scale, "{label} {name}: max |Δ| {diff:e} > {:e}", tolerance * scale);
    }
}

#[wasm_bindgen_test]
async fn cpu_backend_matches_onnxruntime_in_the_browser() {
    start();
    check_against_reference(&cpu_device(), 1.0, "wasm CPU").await;
}

/// Fails (does not skip) when the browser offers no WebGPU adapter: CI runs Chromium with
/// `--enable-unsafe-webgpu`, which gives its software adapter.
#[wasm_bindgen_test]
async fn webgpu_matches_onnxruntime_in_the_browser() {
    start();
    let (device, adapter) = webgpu_device().await.expect("a WebGPU adapter (Chromium: --enable-unsafe-webgpu)");
    log(&format!("WebGPU adapter: {adapter}"));
    check_against_reference(&device, 10.0, "WebGPU").await;
}

/// The exact t-SNE's forces on WebGPU equal the CPU's f64 kernels in the browser, with
/// the tolerances of the native test (`tests/tsne_device.rs`): at the CPU run's state after
/// 0, 50 and 250 iterations the gradient within 1e-4 of its parts' size, Z within 1e-5
/// (relative), Σ P ln W within 1e-5 (absolute); and over the first 5 iterations every KL
/// within 1e-6 (later the f32 and f64 trajectories part: the exaggeration phase is chaotic).
#[wasm_bindgen_test]
async fn webgpu_tsne_forces_match_the_cpu_in_the_browser() {
    start();
    use layerlens::embed::device_exact::DeviceOptimizer;
    use layerlens::embed::{Method, TsneConfig, cpu_optimizer, prepare, reduce};
    let (device, _) = webgpu_device().await.expect("a WebGPU adapter");
    let (n, m) = (240, 12);
    // Four separated groups with a deterministic spread (no RNG needed in the browser).
    let x: Vec<f32> = (0..n * m)
        .map(|k| {
            let (i, j) = (k / m, k % m);
            ((i % 4) * 6) as f32 * if j % 2 == 0 { 1.0 } else { -0.5 } + ((k * 7919) % 97) as f32 / 97.0
        })
        .collect();
    let config = TsneConfig { n_iter: 250, progress_every: 1, method: Method::Exact, ..TsneConfig::opentsne(n) };
    let prepared = prepare(reduce(&x, n, m, &config), &config);
    let start = now();
    let probe = DeviceOptimizer::new(prepared.clone(), &device).unwrap();
    let mut cpu = cpu_optimizer(prepared.clone());
    for t in 0..=250 {
        if [0, 50, 250].contains(&t) {
            let a = probe.agreement_with_cpu(cpu.embedding()).await.unwrap();
            log(&format!("WebGPU t-SNE forces at iteration {t}: {a:?}"));
            assert!(a.gradient_rel_l2 < 1e-4, "iteration {t}: gradient differs by {:e}", a.gradient_rel_l2);
            assert!(a.z_rel < 1e-5 && a.p_log_w_abs < 1e-5, "iteration {t}: {a:?}");
        }
        cpu.step().unwrap();
    }
    let mut cpu = cpu_optimizer(prepared.clone());
    let mut gpu = DeviceOptimizer::new(prepared, &device).unwrap();
    let mut worst_kl = 0.0f64;
    for _ in 0..5 {
        let (a, b) = (cpu.step().unwrap(), gpu.step().await.unwrap());
        if let (Some(ka), Some(kb)) = (a.kl, b.kl) {
            worst_kl = worst_kl.max(((ka - kb) / ka).abs());
        }
    }
    log(&format!("WebGPU t-SNE: first 5 iterations' KL within {worst_kl:.2e}; {:.1} s in all", (now() - start) / 1e3));
    assert!(worst_kl < 1e-6, "KL differs by {worst_kl:e}");
}

/// The FFT repulsion runs rustfft's wasm32 code in the page's build, a path no native test
/// reaches: it must agree with the exact sums in the browser too.
#[wasm_bindgen_test]
fn fft_tsne_repulsion_matches_exact_sums_in_the_browser() {
    start();
    use layerlens::embed::fft::{FftRepulsion, FftSettings};
    use layerlens::embed::gradient::{ExactScratch, exact_repulsion};
    let n = 600;
    // Six spread-out clusters, deterministic (no RNG in the browser test).
    let y: Vec<f64> = (0..2 * n)
        .map(|k| {
            let (i, axis) = (k / 2, k % 2);
            let centre = ((i % 6) as f64 * 17.0) * if axis == 0 { 1.0 } else { -0.6 };
            centre + ((k * 7919) % 101) as f64 / 25.0
        })
        .collect();
    let mut exact = vec![0.0; 2 * n];
    let z_exact = exact_repulsion(&y, n, &mut ExactScratch::default(), &mut exact);
    let mut fft = vec![0.0; 2 * n];
    // Five nodes on half-width boxes: accurate enough (1e-4 natively) that a wrong FFT
    // kernel cannot hide in the interpolation error.
    let fine = FftSettings { nodes_per_box: 5, max_box_width: 0.5, ..FftSettings::default() };
    let z = FftRepulsion::new(fine).repulsion(&y, n, &mut fft);
    let err: f64 = fft.iter().zip(&exact).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = exact.iter().map(|v| v * v).sum::<f64>().sqrt();
    log(&format!(
        "FFT repulsion in the browser: forces within {:.2e}, Z within {:.2e}",
        err / norm,
        (z - z_exact).abs() / z_exact
    ));
    assert!(err / norm < 1e-4, "forces differ by {:e}", err / norm);
    assert!((z - z_exact).abs() / z_exact < 1e-5, "Z {z} vs {z_exact}");
}
