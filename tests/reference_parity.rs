//! The network's activations match onnxruntime's on the fixture's four images, from both
//! weight formats, on the CPU backend and (10× looser) on native wgpu (Mesa lavapipe in CI).

mod common;

use common::{CPU_TOLERANCES, Reference, fixture_bytes, max_abs_diff};
use futures_lite::future::block_on;
use layerlens::backend::{cpu_device, native_wgpu_device};
use layerlens::model::inference::run_chunk;
use layerlens::model::layers::Layer;
use layerlens::model::squeezenet::SqueezeNet;
use layerlens::model::weights::load_weights;

fn check_against_reference(weights_file: &str, device: &burn::prelude::Device, scale: f32) {
    let reference = Reference::load();
    let (weights, _) = load_weights(&fixture_bytes(weights_file)).unwrap();
    let net = SqueezeNet::from_weights(&weights, device);
    let images: Vec<&[f32]> = (0..4).map(|i| reference.input(i)).collect();
    let layers: Vec<Layer> = CPU_TOLERANCES.iter().map(|(name, _)| name.parse().unwrap()).collect();
    let outputs = block_on(run_chunk(&net, device, &images, &layers)).unwrap();
    for ((name, tolerance), got) in CPU_TOLERANCES.iter().zip(&outputs) {
        let expected = reference.f32(name);
        assert_eq!(got.shape(), expected.shape, "{name} shape");
        let diff = max_abs_diff(&got.values, &expected.data);
        eprintln!("{weights_file} {name}: max |Δ| = {diff:.3e} (limit {:.0e})", tolerance * scale);
        assert!(diff <= tolerance * scale, "{name}: max |Δ| {diff:e} > {:e}", tolerance * scale);
    }
}

#[test]
fn cpu_matches_onnxruntime_from_safetensors() {
    check_against_reference("squeezenet/squeezenet1_1_random.safetensors", &cpu_device(), 1.0);
}

#[test]
fn cpu_matches_onnxruntime_from_onnx() {
    check_against_reference("squeezenet/squeezenet1_1_random.onnx", &cpu_device(), 1.0);
}

/// The GPU path, natively: burn's wgpu backend on Vulkan (lavapipe without a GPU). Set
/// `LAYERLENS_SKIP_WGPU=1` only on a machine without any Vulkan driver; `scripts/test` installs one.
#[test]
fn wgpu_matches_onnxruntime() {
    if std::env::var_os("LAYERLENS_SKIP_WGPU").is_some() {
        eprintln!("skipped: LAYERLENS_SKIP_WGPU is set");
        return;
    }
    let device = native_wgpu_device().expect("a Vulkan driver (Debian: mesa-vulkan-drivers)");
    check_against_reference("squeezenet/squeezenet1_1_random.safetensors", &device, 10.0);
}

#[test]
fn taps_stop_early_and_keep_the_requested_order() {
    let reference = Reference::load();
    let (weights, _) = load_weights(&fixture_bytes("squeezenet/squeezenet1_1_random.safetensors")).unwrap();
    let device = cpu_device();
    let net = SqueezeNet::from_weights(&weights, &device);
    let outputs = block_on(run_chunk(&net, &device, &[reference.input(1)], &[Layer::Prob, Layer::Pool1])).unwrap();
    assert_eq!(outputs[0].layer, Layer::Prob);
    assert_eq!(outputs[0].shape(), vec![1, 1000]);
    assert_eq!(outputs[1].shape(), vec![1, 64, 56, 56]);
    let expected = reference.f32("prob");
    assert!(max_abs_diff(&outputs[0].values, &expected.data[1000..2000]) <= 5e-6);
}

#[test]
fn replace_head_keeps_features_and_changes_classes() {
    let reference = Reference::load();
    let (weights, _) = load_weights(&fixture_bytes("squeezenet/squeezenet1_1_random.safetensors")).unwrap();
    let device = cpu_device();
    let net = SqueezeNet::from_weights(&weights, &device).replace_head(9, 1, &device);
    assert_eq!(net.num_classes(), 9);
    let outputs = block_on(run_chunk(&net, &device, &[reference.input(0)], &[Layer::Fire(7), Layer::Prob])).unwrap();
    let fire9 = reference.f32("fire9");
    let m = fire9.data.len() / 4;
    assert!(max_abs_diff(&outputs[0].values, &fire9.data[..m]) <= 1e-4, "features changed");
    assert_eq!(outputs[1].shape(), vec![1, 9]);
    let sum: f32 = outputs[1].values.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5);
}
