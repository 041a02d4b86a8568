//! Running the network over many images: batching, chunked read-back, top-k.
//!
//! Activations are large (pool1 is 200,704 floats per image) and WebGPU limits one storage
//! binding to 128 MiB, so images go through the network in chunks and each chunk's outputs
//! are read back (asynchronously) before the next starts. The same code serves the CLI, the
//! page and the tests.

use std::ops::{ControlFlow, Range};

use burn::prelude::*;

use super::layers::Layer;
use super::squeezenet::SqueezeNet;
use crate::backend::{BackendError, INFERENCE_PASS, read_f32};
use crate::data::image_input::{INPUT_SIZE, INPUT_VALUES};

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

/// The network's outputs for a list of images, one chunk per [`ActivationPass::step`]. The
/// caller decodes only the chunk asked for ([`ActivationPass::next_chunk`]), so a long list of
/// files is never held preprocessed all at once (3×227×227 floats, 618 KB per image).
pub struct ActivationPass {
    layers: Vec<Layer>,
    chunk: usize,
    total: usize,
    done: usize,
    gathered: Vec<LayerActivations>,
}

impl ActivationPass {
    /// A pass over `total` images in chunks of `chunk`, gathering `layers` in that order.
    pub fn new(layers: &[Layer], total: usize, chunk: usize) -> Self {
        Self { layers: layers.to_vec(), chunk: chunk.max(1), total, done: 0, gathered: Vec::new() }
    }

    /// The images the next step wants, as positions in the caller's list (empty when done).
    pub fn next_chunk(&self) -> Range<usize> {
        self.done..(self.done + self.chunk).min(self.total)
    }

    /// Images done so far, and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.done, self.total)
    }

    pub fn is_done(&self) -> bool {
        self.done >= self.total
    }

    /// Runs the images of [`ActivationPass::next_chunk`], given preprocessed and in order.
    pub async fn step(&mut self, net: &SqueezeNet, device: &Device, inputs: &[&[f32]]) -> Result<(), BackendError> {
        assert_eq!(inputs.len(), self.next_chunk().len(), "a step takes exactly the images of next_chunk()");
        let part = run_chunk(net, device, inputs, &self.layers).await?;
        if self.gathered.is_empty() {
            self.gathered = part;
        } else {
            for (all, new) in self.gathered.iter_mut().zip(part) {
                all.values.extend(new.values);
            }
        }
        self.done += inputs.len();
        Ok(())
    }

    /// The gathered layers, in the order asked (empty when no image was run).
    pub fn finish(self) -> Vec<LayerActivations> {
        self.gathered
    }
}

/// Runs already preprocessed images through the network in chunks of `chunk` and gathers the
/// requested layers. `progress(done, total)` is called after each chunk; returning `Break`
/// stops early (the images done so far are returned).
pub async fn layer_activations(
    net: &SqueezeNet,
    device: &Device,
    images: &[&[f32]],
    layers: &[Layer],
    chunk: usize,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> Result<Vec<LayerActivations>, BackendError> {
    let mut pass = ActivationPass::new(layers, images.len(), chunk);
    while !pass.is_done() {
        let range = pass.next_chunk();
        pass.step(net, device, &images[range]).await?;
        let (done, total) = pass.progress();
        if progress(done, total).is_break() {
            break;
        }
    }
    Ok(pass.finish())
}

/// Class probabilities (softmax) for every image, one `Vec` of K values per image.
pub async fn class_probabilities(
    net: &SqueezeNet,
    device: &Device,
    images: &[&[f32]],
) -> Result<Vec<Vec<f32>>, BackendError> {
    let prob =
        layer_activations(net, device, images, &[Layer::Prob], INFERENCE_PASS, &mut |_, _| ControlFlow::Continue(()))
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
