//! The analysis's activations on the CPU, served: the page's network worker runs the images
//! through the network chunk by chunk and rotates the wide layers onto their principal axes
//! (`analysis::rotation`), one piece of work per step, and hands the page rows it can map at
//! once — pool1 of 341 images arrives as 465 kB, not the 264 MB the network made.
//!
//! The page's [`Analyzer`](crate::analysis::Analyzer) waits for them
//! ([`Analyzer::awaiting_activations`](crate::analysis::Analyzer::awaiting_activations)) and
//! goes on with the maps exactly as if it had computed them itself.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::files::{FileDesk, FileEntry};
use crate::analysis::activations::{ActivationJob, ActivationOutput, MatrixBudget};
use crate::analysis::rotation::{Rotation, RotationProgress};
use crate::backend::cpu_device;
use crate::data::dataset::DataSet;
use crate::model::layers::Layer;
use crate::model::squeezenet::SqueezeNet;
use crate::model::weights::{SqueezeNetWeights, load_weights, weights_to_safetensors};

/// Everything the activations need but the images' bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationTask {
    /// The network, as a safetensors file.
    #[serde(with = "serde_bytes")]
    pub weights: Vec<u8>,
    pub classes: Vec<String>,
    /// The data set's images, in the page's order.
    pub files: Vec<FileEntry>,
    /// The images analysed (indices into `files`), in the order of the rows.
    pub images: Vec<usize>,
    pub layers: Vec<Layer>,
    /// Images per forward pass (and per step).
    pub chunk: usize,
    pub budget: MatrixBudget,
}

impl ActivationTask {
    /// The task for `images` of `data` through `weights`, as an [`ActivationJob`] with these
    /// `layers`, `chunk` and `budget` would compute them.
    pub fn new(
        weights: &SqueezeNetWeights,
        data: &DataSet,
        images: Vec<usize>,
        layers: Vec<Layer>,
        chunk: usize,
        budget: MatrixBudget,
    ) -> Result<Self, String> {
        Ok(Self {
            weights: weights_to_safetensors(weights).map_err(|e| e.to_string())?,
            classes: data.classes.clone(),
            files: FileEntry::list(data),
            images,
            layers,
            chunk,
            budget,
        })
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivationProgress {
    /// A chunk of images went through the network.
    Images { done: usize, total: usize },
    /// A block of columns of layer `index` (in the task's layers) was folded into its Gram
    /// matrix.
    Rotating { index: usize, layer: Layer, progress: RotationProgress },
}

/// The activations under way in the worker.
pub struct ServedActivations {
    data: Arc<DataSet>,
    stage: Stage,
}

enum Stage {
    Images(Box<ActivationJob>),
    /// Wide layers rotated one after another: the next (or current) one is `index`.
    Rotating {
        output: ActivationOutput,
        index: usize,
        rotation: Option<Rotation>,
    },
    Done,
}

impl ServedActivations {
    /// Prepares `task`, its images read through `desk`.
    pub(super) fn new(task: ActivationTask, desk: &FileDesk) -> Result<Self, String> {
        if let Some(&bad) = task.images.iter().find(|&&i| i >= task.files.len()) {
            return Err(format!("image {bad} is not in the data set of {} images", task.files.len()));
        }
        let (weights, _) = load_weights(&task.weights).map_err(|e| format!("the network sent to the worker: {e}"))?;
        let net = SqueezeNet::from_weights(&weights, &cpu_device());
        let job = ActivationJob::new(net, task.images, task.layers, task.chunk, task.budget);
        Ok(Self { data: Arc::new(desk.data_set(task.classes, task.files)), stage: Stage::Images(Box::new(job)) })
    }

    /// Images to go through the network.
    pub fn images(&self) -> usize {
        match &self.stage {
            Stage::Images(job) => job.progress().1,
            Stage::Rotating { output, .. } => output.probabilities.len(),
            Stage::Done => 0,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// The next chunk of images, or block of a rotation; with the last, the output.
    pub async fn step(&mut self) -> Result<(ActivationProgress, Option<ActivationOutput>), String> {
        let progress = match &mut self.stage {
            Stage::Images(job) => {
                job.step(&cpu_device(), &self.data).await.map_err(|e| e.to_string())?;
                let (done, total) = job.progress();
                if job.is_done() {
                    let Stage::Images(job) = std::mem::replace(&mut self.stage, Stage::Done) else { unreachable!() };
                    self.stage = Stage::Rotating { output: job.finish(), index: 0, rotation: None };
                }
                ActivationProgress::Images { done, total }
            }
            Stage::Rotating { output, index, rotation } => {
                let at = *index;
                let matrix = &mut output.matrices[at];
                let under_way = rotation.get_or_insert_with(|| Rotation::new(matrix));
                let progress = under_way.step(matrix);
                if under_way.is_done() {
                    rotation.take().expect("under way").finish(matrix);
                    *index += 1;
                }
                ActivationProgress::Rotating { index: at, layer: matrix.layer, progress }
            }
            Stage::Done => return Err("the activations were already handed over".into()),
        };
        Ok((progress, self.output_if_done()))
    }

    /// Moves past layers that need no rotation; when none is left, the output.
    fn output_if_done(&mut self) -> Option<ActivationOutput> {
        let Stage::Rotating { output, index, rotation: None } = &mut self.stage else {
            return None;
        };
        while *index < output.matrices.len() && !Rotation::is_worth_it(&output.matrices[*index]) {
            *index += 1;
        }
        if *index < output.matrices.len() {
            return None;
        }
        let Stage::Rotating { output, .. } = std::mem::replace(&mut self.stage, Stage::Done) else { unreachable!() };
        Some(output)
    }
}
