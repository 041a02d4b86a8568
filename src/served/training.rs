//! A fine-tuning run on the CPU, served: the task the page sends (everything but the images'
//! bytes), where the run is after each step, and what a finished run hands back. The run
//! itself is the core's [`TrainingRun`], stepped exactly as the page's own loop steps it.

use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::EngineReply;
use super::files::{FileDesk, FileEntry};
use crate::backend::cpu_device;
use crate::data::augment::Augmentation;
use crate::data::dataset::DataSet;
use crate::model::architecture::IMAGENET_CLASSES;
use crate::model::squeezenet::SqueezeNet;
use crate::model::weights::{SqueezeNetWeights, load_weights, weights_to_safetensors};
use crate::train::{Evaluation, RunStep, TrainConfig, Trainer, TrainingRun};

/// Everything a run needs but the images' bytes: the starting network, the data set's
/// classes and files (by index, the page's order), and the settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainTask {
    /// The network to fine-tune, as a safetensors file; `None`: random weights (no pretrained
    /// network loaded).
    #[serde(with = "serde_bytes")]
    pub weights: Option<Vec<u8>>,
    pub classes: Vec<String>,
    /// The data set's images, in the page's order.
    pub images: Vec<FileEntry>,
    pub config: TrainConfig,
    /// Sent beside `config`, whose serialised form leaves it out.
    pub augmentation: Augmentation,
}

impl TrainTask {
    /// The task for fine-tuning `weights` (or random weights) on `data`.
    pub fn new(weights: Option<&SqueezeNetWeights>, data: &DataSet, config: TrainConfig) -> Result<Self, String> {
        let weights = weights.map(weights_to_safetensors).transpose().map_err(|e| e.to_string())?;
        Ok(Self {
            weights,
            classes: data.classes.clone(),
            images: FileEntry::list(data),
            augmentation: config.augmentation,
            config,
        })
    }
}

/// Where the run is after a step, for the page's progress line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub epochs_done: usize,
    pub iterations_done: usize,
    pub stopped_early: bool,
}

impl RunState {
    pub fn of(run: &TrainingRun) -> Self {
        Self {
            epochs_done: run.trainer().epochs_done(),
            iterations_done: run.trainer().iterations_done(),
            stopped_early: run.stopped_early(),
        }
    }
}

/// What a finished run hands back: everything the page keeps of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedRun {
    /// The best network's weights, as a safetensors file.
    #[serde(with = "serde_bytes")]
    pub weights: Vec<u8>,
    /// The validation images classified by it.
    pub evaluation: Evaluation,
    /// The validation split's image indices (the images the analysis looks at).
    pub validation: Vec<usize>,
    /// True when training was stopped before its last epoch.
    pub stopped_early: bool,
    /// The iteration of the last finished epoch (what "finished after N iterations" counts).
    pub last_epoch_iteration: usize,
}

/// Builds the run `task` describes, its images read through `desk`.
pub(super) fn build_run(task: TrainTask, desk: &FileDesk) -> Result<TrainingRun, String> {
    let device = cpu_device();
    let net = match &task.weights {
        Some(bytes) => {
            let (weights, _) = load_weights(bytes).map_err(|e| format!("the network sent to the worker: {e}"))?;
            SqueezeNet::from_weights(&weights, &device)
        }
        None => SqueezeNet::new(IMAGENET_CLASSES, &device),
    };
    let data = Arc::new(desk.data_set(task.classes, task.images));
    let config = TrainConfig { augmentation: task.augmentation, ..task.config };
    let trainer = Trainer::new(data, net, &device, config).map_err(|e| e.to_string())?;
    Ok(TrainingRun::new(trainer))
}

/// One step of `run`, as the page is told it.
pub(super) async fn step_run(run: &mut TrainingRun) -> EngineReply {
    match run.step().await {
        Ok(step) => match finished_run(run, &step) {
            Ok(finished) => EngineReply::TrainingStepped { step, state: RunState::of(run), finished },
            Err(message) => EngineReply::Failed(message),
        },
        Err(e) => EngineReply::Failed(e.to_string()),
    }
}

/// A whole run — validation, one iteration forward and backward, Adam's step, validation
/// again — on four made-up 16×16 images of two classes with a random network: every function a
/// real run uses, called enough for the browser to optimise it.
pub(super) fn warm_up() -> EngineReply {
    let mut builder = crate::data::dataset::DataSetBuilder::new();
    for (index, shade) in [40u8, 90, 160, 220].into_iter().enumerate() {
        let image = RgbImage::from_pixel(16, 16, image::Rgb([shade, 255 - shade, shade / 2]));
        let mut png = Vec::new();
        if let Err(e) = image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png) {
            return EngineReply::Failed(format!("warming up: {e}"));
        }
        builder.add_file(&format!("class{}/{index}.png", index % 2), png);
    }
    let device = cpu_device();
    let config = TrainConfig { epochs: 1, batch_size: 2, train_fraction: 0.5, ..TrainConfig::default() };
    let trainer = match Trainer::new(Arc::new(builder.finish()), SqueezeNet::new(2, &device), &device, config) {
        Ok(trainer) => trainer,
        Err(e) => return EngineReply::Failed(format!("warming up: {e}")),
    };
    let mut run = TrainingRun::new(trainer);
    let mut cx = Context::from_waker(Waker::noop());
    let mut steps = 0;
    while !run.is_finished() {
        // Its images are in memory: every step is done when first polled.
        match std::pin::pin!(run.step()).poll(&mut cx) {
            Poll::Ready(Ok(_)) => steps += 1,
            Poll::Ready(Err(e)) => return EngineReply::Failed(format!("warming up: {e}")),
            Poll::Pending => return EngineReply::Failed("warming up: a step waited for nothing".into()),
        }
    }
    EngineReply::WarmedUp { steps }
}

/// After the run's last step: what the page keeps of it.
fn finished_run(run: &TrainingRun, step: &RunStep) -> Result<Option<Box<FinishedRun>>, String> {
    let (RunStep::Finished, Some(outcome)) = (step, run.outcome()) else {
        return Ok(None);
    };
    Ok(Some(Box::new(FinishedRun {
        weights: weights_to_safetensors(&outcome.weights).map_err(|e| e.to_string())?,
        evaluation: outcome.evaluation.clone(),
        validation: run.trainer().split().validation.clone(),
        stopped_early: outcome.stopped_early,
        last_epoch_iteration: run.trainer().history().last().map_or(0, |m| m.iteration),
    })))
}
