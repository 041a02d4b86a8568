//! The activations of the validation images, one chunk of images per [`ActivationJob::step`]:
//! decode only that chunk, run it through the network once for every tapped layer, read the
//! outputs back (asynchronously), and append one row per image to each layer's N×M matrix.
//!
//! The same forward pass gives the class probabilities (`prob`) and the class activation maps
//! (`conv10`, which feeds SqueezeNet's global average pool, so its channel c is exactly the
//! map of class c), so the analysis never runs the network twice. A layer whose exact rows
//! would not fit the memory budget is reduced row by row with a [`SparseSketch`] as each chunk
//! arrives (pool1 of 10,000 images is 8 GB; its sketch 82 MB).

use std::collections::HashMap;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::predictions::top_two;
use super::sketch::{SketchInfo, SparseSketch};
use crate::backend::BackendError;
use crate::data::dataset::DataSet;
use crate::data::image_input::{ImageInputError, image_file_to_input};
use crate::model::inference::run_chunk;
use crate::model::layers::Layer;
use crate::model::squeezenet::SqueezeNet;

/// One layer's rows for the images done so far: exact, or sketched.
/// Crosses from the page's network worker to the page (`crate::served`) as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerMatrix {
    pub layer: Layer,
    /// One image's output shape: `[C, H, W]`, or `[K]` for `logits`/`prob`.
    pub per_image_shape: Vec<usize>,
    /// Values per image in the network (M, the workflow's matrix width).
    pub width: usize,
    /// Set when the rows are a sketch of width `sketch.width` instead of the M exact values.
    pub sketch: Option<SketchInfo>,
    /// Set when the rows (exact or sketched) were rotated onto their `d` principal axes
    /// (`rotation.rs`): every distance between rows is kept, in `d` ≤ N columns.
    pub rotation: Option<usize>,
    /// Rows, image-major: N × [`LayerMatrix::columns`].
    #[serde(with = "super::f32_wire")]
    pub values: Vec<f32>,
}

impl LayerMatrix {
    /// Values per stored row: M, the sketch's width, or the rotation's axes.
    pub fn columns(&self) -> usize {
        self.rotation.unwrap_or_else(|| self.sketch.map_or(self.width, |s| s.width))
    }

    /// Rows stored.
    pub fn rows(&self) -> usize {
        self.values.len() / self.columns().max(1)
    }
}

/// Errors while computing activations.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("{path}: {source}")]
    Image { path: String, source: ImageInputError },
}

/// How the matrices are kept.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MatrixBudget {
    /// Layers are kept exactly, in the order asked, while their N × M × 4 bytes together stay
    /// within this; the others are sketched.
    pub max_exact_bytes: usize,
    /// Width of the sketch for layers over the budget.
    pub sketch_width: usize,
    /// Nonzeros per input column of the sketch.
    pub sketch_nonzeros: usize,
    /// Seeds the sketch.
    pub seed: u64,
}

/// Computes the chosen layers' activations for a list of images, chunk by chunk.
pub struct ActivationJob {
    net: SqueezeNet,
    images: Vec<usize>,
    layers: Vec<Layer>,
    chunk: usize,
    budget: MatrixBudget,
    done: usize,
    matrices: Vec<LayerMatrix>,
    sketches: HashMap<Layer, SparseSketch>,
    probabilities: Vec<Vec<f32>>,
    class_maps: Vec<Vec<f32>>,
    class_map_side: usize,
}

impl ActivationJob {
    /// A job over `images` (indices into the data set, in the order their rows will have) for
    /// `layers` (any taps; `prob` and `conv10` are always computed besides, for the
    /// predictions and the class maps).
    pub fn new(net: SqueezeNet, images: Vec<usize>, layers: Vec<Layer>, chunk: usize, budget: MatrixBudget) -> Self {
        Self {
            net,
            images,
            layers,
            chunk: chunk.max(1),
            budget,
            done: 0,
            matrices: Vec::new(),
            sketches: HashMap::new(),
            probabilities: Vec::new(),
            class_maps: Vec::new(),
            class_map_side: 0,
        }
    }

    /// Images done, and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.done, self.images.len())
    }

    pub fn is_done(&self) -> bool {
        self.done >= self.images.len()
    }

    /// Runs the next chunk of images.
    pub async fn step(&mut self, device: &Device, data: &DataSet) -> Result<(), ActivationError> {
        let end = (self.done + self.chunk).min(self.images.len());
        let mut inputs = Vec::with_capacity(end - self.done);
        for &i in &self.images[self.done..end] {
            let image = &data.images[i];
            let input = match image.read().await {
                Ok(bytes) => image_file_to_input(&bytes),
                Err(e) => Err(e),
            };
            inputs.push(input.map_err(|source| ActivationError::Image { path: image.path.clone(), source })?);
        }
        let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        let mut taps = self.layers.clone();
        for extra in [Layer::Conv10, Layer::Prob] {
            if !taps.contains(&extra) {
                taps.push(extra);
            }
        }
        let outputs = run_chunk(&self.net, device, &refs, &taps).await?;
        let count = end - self.done;
        let by_layer: HashMap<Layer, _> = outputs.into_iter().map(|a| (a.layer, a)).collect();
        let prob = &by_layer[&Layer::Prob];
        let conv10 = &by_layer[&Layer::Conv10];
        let plane: usize = conv10.per_image_shape[1..].iter().product();
        self.class_map_side = conv10.per_image_shape[1];
        for i in 0..count {
            let probabilities = prob.row(i).to_vec();
            let maps = conv10.row(i);
            let mut two = Vec::with_capacity(2 * plane);
            for (class, _) in top_two(&probabilities) {
                two.extend_from_slice(&maps[class * plane..(class + 1) * plane]);
            }
            self.class_maps.push(two);
            self.probabilities.push(probabilities);
        }
        if self.matrices.is_empty() {
            let n = self.images.len();
            // Layers are kept exactly, in the order asked, while they fit the budget together.
            let mut budget_left = self.budget.max_exact_bytes;
            for &layer in &self.layers {
                let out = &by_layer[&layer];
                let width = out.row_len();
                let bytes = n.saturating_mul(width).saturating_mul(4);
                let fits = bytes <= budget_left;
                if fits {
                    budget_left -= bytes;
                }
                let sketch = (!fits).then(|| {
                    SparseSketch::new(width, self.budget.sketch_width, self.budget.sketch_nonzeros, self.budget.seed)
                });
                let info = sketch.as_ref().map(SparseSketch::info);
                let columns = info.map_or(width, |s| s.width);
                if let Some(sketch) = sketch {
                    self.sketches.insert(layer, sketch);
                }
                self.matrices.push(LayerMatrix {
                    layer,
                    per_image_shape: out.per_image_shape.clone(),
                    width,
                    sketch: info,
                    rotation: None,
                    values: Vec::with_capacity(n * columns),
                });
            }
        }
        for matrix in &mut self.matrices {
            let out = &by_layer[&matrix.layer];
            match self.sketches.get(&matrix.layer) {
                Some(sketch) => (0..count).for_each(|i| sketch.project_into(out.row(i), &mut matrix.values)),
                None => matrix.values.extend_from_slice(&out.values),
            }
        }
        self.done = end;
        Ok(())
    }

    /// The matrices, probabilities and class maps, once every chunk is done.
    pub fn finish(self) -> ActivationOutput {
        ActivationOutput {
            matrices: self.matrices,
            probabilities: self.probabilities,
            class_maps: self.class_maps,
            class_map_side: self.class_map_side,
        }
    }
}

/// What an [`ActivationJob`] produced, one row per image in the job's order.
/// Crosses from the page's network worker to the page (`crate::served`) as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationOutput {
    /// One matrix per requested layer, in the order requested.
    pub matrices: Vec<LayerMatrix>,
    /// Class probabilities (the `prob` layer).
    pub probabilities: Vec<Vec<f32>>,
    /// Per image, the `conv10` planes (side × side each) of its two most probable classes,
    /// most probable first: their class activation maps (the K-plane output is not kept:
    /// with ImageNet's 1,000 classes it is as large as pool1).
    pub class_maps: Vec<Vec<f32>>,
    /// Side of one class map (14 for 227×227 input).
    pub class_map_side: usize,
}
