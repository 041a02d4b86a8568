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
const TOLERANCES: [(&str, f32); 5] = [("pool1", 1e-5), ("fire9", 1e-4), ("conv10", 1e-4), ("logits", 1e-5), ("prob", 5e-6)];

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
    check_against_reference(&cpu_device(), 1.0, "wasm CPU").await;
}

/// Fails (does not skip) when the browser offers no WebGPU adapter: CI runs Chromium with
/// `--enable-unsafe-webgpu`, which gives its software adapter.
#[wasm_bindgen_test]
async fn webgpu_matches_onnxruntime_in_the_browser() {
    let (device, adapter) = webgpu_device().await.expect("a WebGPU adapter (Chromium: --enable-unsafe-webgpu)");
    log(&format!("WebGPU adapter: {adapter}"));
    check_against_reference(&device, 10.0, "WebGPU").await;
}
