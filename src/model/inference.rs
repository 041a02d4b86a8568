//! Running the network over many images: batching, chunked read-back, top-k.
//!
//! Activations are large (pool1 is 200,704 floats per image) and WebGPU limits one storage
//! binding to 128 MiB, so images go through the network in chunks and each chunk's outputs
//! are read back (asynchronously) before the next starts. The same code serves the CLI, the
//! page and the tests.

use std::ops::ControlFlow;

use burn::prelude::*;

use super::layers::Layer;
use super::squeezenet::SqueezeNet;
use crate::backend::{BackendError, read_f32};
use crate::data::image_input::{INPUT_SIZE, INPUT_VALUES};

/// Images per forward pass by default: conv1's output for 16 images is 52 MB, well inside
/// WebGPU's default 128 MiB binding limit, and large enough to keep a GPU busy.
pub const DEFAULT_CHUNK: usize = 16;

/// One layer's outputs for every image, flattened per image in C-H-W order.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerActivations {
    pub layer: Layer,
    /// Shape of one image's output: `[C, H, W]` for spatial layers, `[K]` for logits/prob.
    pub per_image_shape: Vec<usize>,
    /// `N × prod(per_image_shape)` values, image-major.
    pub values: Vec<f32>,
}

impl LayerActivations {
    /// Values per image (M, the width of the N × M matrix the t-SNE step reads).
    pub fn row_len(&self) -> usize {
        self.per_image_shape.iter().product()
    }

    /// Number of images.
    pub fn rows(&self) -> usize {
        self.values.len() / self.row_len().max(1)
    }

    /// Full shape `[N, …]`.
    pub fn shape(&self) -> Vec<usize> {
        let mut shape = vec![self.rows()];
        shape.extend(&self.per_image_shape);
        shape
    }

    /// One image's values.
    pub fn row(&self, image: usize) -> &[f32] {
        let m = self.row_len();
        &self.values[image * m..(image + 1) * m]
    }
}

/// Stacks preprocessed images (each [`INPUT_VALUES`] long, CHW) into an `[N, 3, 227, 227]` batch.
pub fn input_batch(images: &[&[f32]], device: &Device) -> Tensor<4> {
    let mut values = Vec::with_capacity(images.len() * INPUT_VALUES);
    for image in images {
        assert_eq!(image.len(), INPUT_VALUES, "network input must be 3×227×227");
        values.extend_from_slice(image);
    }
    let side = INPUT_SIZE as usize;
    Tensor::from_data(TensorData::new(values, [images.len(), 3, side, side]), device)
}

/// Runs one chunk of images and reads back the requested layers, in the order asked.
pub async fn run_chunk(
    net: &SqueezeNet,
    device: &Device,
    images: &[&[f32]],
    layers: &[Layer],
) -> Result<Vec<LayerActivations>, BackendError> {
    let outputs = net.forward_taps(input_batch(images, device), layers);
    let mut result = Vec::with_capacity(outputs.len());
    for (layer, tensor) in outputs {
        let [_, c, h, w] = tensor.dims();
        let per_image_shape = if layer.is_spatial() { vec![c, h, w] } else { vec![c] };
        result.push(LayerActivations { layer, per_image_shape, values: read_f32(tensor).await? });
    }
    Ok(result)
}

/// Runs every image through the network in chunks of `chunk` and gathers the requested
/// layers. `progress(done, total)` is called after each chunk; returning `Break` stops early
/// (the images done so far are returned).
pub async fn layer_activations(
    net: &SqueezeNet,
    device: &Device,
    images: &[&[f32]],
    layers: &[Layer],
    chunk: usize,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> Result<Vec<LayerActivations>, BackendError> {
    let mut gathered: Vec<LayerActivations> = Vec::new();
    let mut done = 0;
    for batch in images.chunks(chunk.max(1)) {
        let part = run_chunk(net, device, batch, layers).await?;
        if gathered.is_empty() {
            gathered = part;
        } else {
            for (all, new) in gathered.iter_mut().zip(part) {
                all.values.extend(new.values);
            }
        }
        done += batch.len();
        if progress(done, images.len()).is_break() {
            break;
        }
    }
    Ok(gathered)
}

/// Class probabilities (softmax) for every image, one `Vec` of K values per image.
pub async fn class_probabilities(
    net: &SqueezeNet,
    device: &Device,
    images: &[&[f32]],
) -> Result<Vec<Vec<f32>>, BackendError> {
    let prob =
        layer_activations(net, device, images, &[Layer::Prob], DEFAULT_CHUNK, &mut |_, _| ControlFlow::Continue(()))
            .await?;
    let prob = prob.into_iter().next().expect("one layer asked, one returned");
    Ok((0..prob.rows()).map(|i| prob.row(i).to_vec()).collect())
}

/// The `k` most probable classes, most probable first (ties: lower class index first).
pub fn top_k(probabilities: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = probabilities.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_probability_then_index() {
        let p = [0.1, 0.4, 0.05, 0.4, 0.05];
        assert_eq!(top_k(&p, 3), vec![(1, 0.4), (3, 0.4), (0, 0.1)]);
        assert_eq!(top_k(&p, 10).len(), 5);
    }
}
