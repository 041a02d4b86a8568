//! Inference throughput, measured the same way by the CLI and the page.

use burn::prelude::*;

use super::inference::class_probabilities;
use super::squeezenet::SqueezeNet;
use crate::backend::BackendError;
use crate::data::image_input::INPUT_VALUES;

/// Images per second of a forward pass (softmax read back included).
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    pub batch: usize,
    pub images_per_second: f64,
    /// Seconds of the first, untimed pass: kernel compilation and allocation, which on a
    /// software WebGPU adapter dwarfs the steady state.
    pub first_pass_seconds: f64,
}

/// Deterministic synthetic inputs: SqueezeNet's speed does not depend on pixel values.
pub fn synthetic_images(batch: usize) -> Vec<Vec<f32>> {
    (0..batch)
        .map(|i| (0..INPUT_VALUES).map(|j| (((i * 7919 + j * 104_729) % 1000) as f32 / 500.0) - 1.0).collect())
        .collect()
}

/// Runs one warm-up pass of `batch` images, then `repeat` timed passes. `clock` returns
/// seconds (`Instant` natively, `performance.now()` in the page).
pub async fn measure_inference(
    net: &SqueezeNet,
    device: &Device,
    batch: usize,
    repeat: usize,
    clock: &dyn Fn() -> f64,
) -> Result<Throughput, BackendError> {
    let images = synthetic_images(batch);
    let refs: Vec<&[f32]> = images.iter().map(Vec::as_slice).collect();
    let start = clock();
    class_probabilities(net, device, &refs).await?;
    let first_pass_seconds = clock() - start;
    let start = clock();
    for _ in 0..repeat.max(1) {
        class_probabilities(net, device, &refs).await?;
    }
    let seconds = (clock() - start) / repeat.max(1) as f64;
    Ok(Throughput { batch, images_per_second: batch as f64 / seconds, first_pass_seconds })
}
