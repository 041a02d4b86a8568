//! The training loop, one iteration at a time.

use std::sync::Arc;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::batch::prepare_input;
use super::config::TrainConfig;
use super::evaluate::{Evaluation, Evaluator};
use crate::backend::{BackendError, read_f32};
use crate::data::dataset::DataSet;
use crate::data::image_input::{INPUT_SIZE, ImageInputError};
use crate::data::split::{Split, SplitError, split_each_label};
use crate::model::export::{ExportError, export_weights};
use crate::model::squeezenet::SqueezeNet;
use crate::model::weights::SqueezeNetWeights;

/// Why training cannot start or go on.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error(transparent)]
    Device(#[from] BackendError),
    #[error("image {path}: {source}")]
    Image { path: String, source: ImageInputError },
    #[error("the batch size must be at least 1")]
    ZeroBatch,
    #[error("saving the end-of-epoch checkpoint failed: {0}")]
    Checkpoint(#[from] ExportError),
}

/// The GPU failures behind a training error (out of memory, device lost) are the cases where
/// going on from the last [`Checkpoint`] elsewhere makes sense.
impl crate::backend::GpuFailureSource for TrainError {
    fn gpu_failure(&self) -> Option<&crate::backend::GpuFailure> {
        match self {
            TrainError::Device(e) | TrainError::Checkpoint(ExportError::Read(e)) => e.gpu_failure(),
            _ => None,
        }
    }
}

/// The state after a finished epoch, held in host memory: when the GPU runs out of memory or
/// is lost mid-epoch its tensors may be gone, and training goes on from here on the CPU or with
/// a smaller mini-batch ([`Trainer::resume`]). Adam's moment estimates are not kept (they would
/// double the read-back at every epoch end); the resumed optimiser starts them afresh.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    epochs_done: usize,
    iteration: usize,
    weights: SqueezeNetWeights,
    best: Option<(f64, SqueezeNetWeights)>,
    history: Vec<EpochMetrics>,
    order: Vec<usize>,
    rng: ChaCha8Rng,
}

impl Checkpoint {
    /// Training epochs finished when it was taken (0: before any training).
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Training iterations done when it was taken.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// The network's weights at that point.
    pub fn weights(&self) -> &SqueezeNetWeights {
        &self.weights
    }

    /// Validation figures of every finished epoch, epoch 0 (before training) first.
    pub fn history(&self) -> &[EpochMetrics] {
        &self.history
    }
}

/// One iteration's figures (training mini-batch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IterationMetrics {
    /// 1-based, counted over all epochs.
    pub iteration: usize,
    /// 1-based epoch this iteration belongs to.
    pub epoch: usize,
    pub loss: f64,
    pub accuracy: f64,
}

/// Validation after an epoch (epoch 0: before any training).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub iteration: usize,
    pub validation_loss: f64,
    pub validation_accuracy: f64,
    /// Mean training loss and accuracy over the epoch's iterations (NaN for epoch 0).
    pub train_loss: f64,
    pub train_accuracy: f64,
}

/// What a call to [`Trainer::step`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StepOutcome {
    Iteration(IterationMetrics),
    /// Part of a mini-batch went forward and backward (`done` of its `total` images); the
    /// update comes with the last part (see `TrainConfig::micro_batch`).
    Accumulating {
        done: usize,
        total: usize,
    },
    /// Part of the validation split was classified (`done` of `total` images).
    Validating {
        done: usize,
        total: usize,
    },
    /// An epoch ended and the validation split was classified.
    EpochEnd(EpochMetrics),
    /// All epochs are done; nothing more to do.
    Finished,
}

/// Fine-tunes a network on a data set. Create it, call [`Trainer::step`] until it returns
/// [`StepOutcome::Finished`] (or stop early: [`Trainer::best_model`] holds the best network
/// seen at an epoch end), then [`Trainer::final_evaluation`]. The first steps classify the
/// validation split before any training (epoch 0); each step is one mini-batch or one
/// validation chunk, so a caller can yield to the browser between steps.
pub struct Trainer {
    data: Arc<DataSet>,
    split: Split,
    config: TrainConfig,
    device: Device,
    model: SqueezeNet,
    optimizer: ModuleOptimizer,
    rng: ChaCha8Rng,
    /// Training epochs completed.
    epochs_done: usize,
    order: Vec<usize>,
    cursor: usize,
    iteration: usize,
    epoch_sums: (f64, f64, usize),
    history: Vec<EpochMetrics>,
    /// The validation under way at an epoch end (epoch 0: before training), with the epoch's
    /// mean training loss and accuracy.
    validating: Option<(Evaluator, f64, f64)>,
    /// The last finished epoch, in host memory (taken after its validation).
    checkpoint: Option<Checkpoint>,
    /// The mini-batch under way when it is processed in parts.
    partial: Option<PartialBatch>,
}

/// MATLAB's Adam (`trainingOptions("adam")`: β 0.9/0.999, ε 1e-8), for new and resumed runs.
fn adam() -> ModuleOptimizer {
    AdamConfig::new().with_epsilon(1e-8).init()
}

/// A mini-batch being worked through in parts: its images, how many are done, the summed
/// gradients, and the loss and correct count so far (on the device, read once at the end).
struct PartialBatch {
    images: Vec<usize>,
    done: usize,
    gradients: GradientsAccumulator<SqueezeNet>,
    loss: Option<Tensor<1>>,
    correct: Option<Tensor<1>>,
}

impl Trainer {
    /// Splits the data (refusing unusable data sets), puts a fresh `K`-class head on `net` and
    /// moves it to the autodiff version of `device`.
    pub fn new(data: Arc<DataSet>, net: SqueezeNet, device: &Device, config: TrainConfig) -> Result<Self, TrainError> {
        if config.batch_size == 0 {
            return Err(TrainError::ZeroBatch);
        }
        let split = split_each_label(&data, config.train_fraction, config.seed)?;
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let model = net
            .replace_head(data.classes.len(), config.seed, &device)
            .with_dropout(config.dropout)
            .fork(&device)
            .train();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed_5eed);
        let mut order = split.train.clone();
        order.shuffle(&mut rng);
        let baseline = Evaluator::new(model.valid(), split.validation.clone(), config.evaluation_chunk);
        Ok(Self {
            validating: Some((baseline, f64::NAN, f64::NAN)),
            optimizer: adam(),
            data,
            split,
            config,
            device,
            model,
            rng,
            epochs_done: 0,
            order,
            cursor: 0,
            iteration: 0,
            epoch_sums: (0.0, 0.0, 0),
            history: Vec::new(),
            checkpoint: None,
            partial: None,
        })
    }

    /// Goes on from a checkpoint, on `device` and with `config` (typically the original settings
    /// with a smaller mini-batch, or on the CPU after the GPU failed). The split is recomputed
    /// from the data and the settings' seed and fraction, which must be the original ones; the
    /// epoch's shuffle and the augmentation's random stream continue where they were.
    pub fn resume(
        data: Arc<DataSet>,
        checkpoint: &Checkpoint,
        device: &Device,
        config: TrainConfig,
    ) -> Result<Self, TrainError> {
        if config.batch_size == 0 {
            return Err(TrainError::ZeroBatch);
        }
        let split = split_each_label(&data, config.train_fraction, config.seed)?;
        let inference_device = device.clone().without_autodiff();
        let device = device.clone().autodiff();
        // A new seed for dropout, so the resumed epochs do not repeat the first ones' masks.
        device.seed(config.seed.wrapping_add(checkpoint.epochs_done as u64));
        let model = SqueezeNet::from_weights(&checkpoint.weights, &inference_device)
            .with_dropout(config.dropout)
            .fork(&device)
            .train();
        Ok(Self {
            validating: None,
            optimizer: adam(),
            data,
            split,
            config,
            device,
            model,
            rng: checkpoint.rng.clone(),
            epochs_done: checkpoint.epochs_done,
            order: checkpoint.order.clone(),
            cursor: 0,
            iteration: checkpoint.iteration,
            epoch_sums: (0.0, 0.0, 0),
            history: checkpoint.history.clone(),
            checkpoint: Some(checkpoint.clone()),
            partial: None,
        })
    }

    /// The last finished epoch, once the epoch-0 validation has run.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoint.as_ref()
    }

    /// The device training runs on (with autodiff).
    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn split(&self) -> &Split {
        &self.split
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn history(&self) -> &[EpochMetrics] {
        &self.history
    }

    /// Iterations per epoch (the last mini-batch may be smaller).
    pub fn iterations_per_epoch(&self) -> usize {
        self.split.train.len().div_ceil(self.config.batch_size)
    }

    /// The current network, without autodiff (for classification).
    pub fn model(&self) -> SqueezeNet {
        self.model.valid()
    }

    /// The network with the best validation accuracy at an epoch end so far (the current one
    /// before any epoch ended), built from the checkpoint's host copy of its weights.
    pub fn best_model(&self) -> SqueezeNet {
        match self.best() {
            Some((_, weights)) => SqueezeNet::from_weights(weights, &self.inference_device()),
            None => self.model(),
        }
    }

    /// The best network's weights: the checkpoint's host copy (no read-back), or the current
    /// network's, read back, before any epoch ended.
    pub async fn best_weights(&self) -> Result<SqueezeNetWeights, ExportError> {
        match self.best() {
            Some((_, weights)) => Ok(weights.clone()),
            None => export_weights(&self.model()).await,
        }
    }

    /// The best epoch's validation accuracy and weights, once a training epoch has ended.
    fn best(&self) -> Option<&(f64, SqueezeNetWeights)> {
        self.checkpoint.as_ref().and_then(|c| c.best.as_ref())
    }

    /// The device that classification runs on (the training device without autodiff).
    pub fn inference_device(&self) -> Device {
        self.device.clone().without_autodiff()
    }

    /// Runs the epoch-0 validation (before any training) to the end, if it is still pending.
    pub async fn baseline(&mut self) -> Result<EpochMetrics, TrainError> {
        while self.validating.is_some() {
            if let StepOutcome::EpochEnd(m) = self.step().await? {
                return Ok(m);
            }
        }
        Ok(*self.history.first().expect("Trainer::new schedules the epoch-0 validation"))
    }

    /// Training iterations (mini-batches) completed so far.
    pub fn iterations_done(&self) -> usize {
        self.iteration
    }

    /// Training epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Does one unit of work: a training iteration, or a chunk of the validation that closes
    /// an epoch.
    pub async fn step(&mut self) -> Result<StepOutcome, TrainError> {
        let inference_device = self.inference_device();
        if let Some((evaluator, _, _)) = self.validating.as_mut() {
            evaluator.step(&inference_device, &self.data).await?;
            if !evaluator.is_done() {
                let (done, total) = evaluator.progress();
                return Ok(StepOutcome::Validating { done, total });
            }
            let (evaluator, train_loss, train_accuracy) = self.validating.take().expect("checked above");
            let improved = self.close_epoch(evaluator.finish(&self.data), train_loss, train_accuracy);
            self.save_checkpoint(improved).await?;
            let metrics = *self.history.last().expect("close_epoch records the epoch");
            return Ok(StepOutcome::EpochEnd(metrics));
        }
        if self.partial.is_some() {
            return self.train_part().await;
        }
        if self.epochs_done >= self.config.epochs {
            return Ok(StepOutcome::Finished);
        }
        if self.cursor >= self.order.len() {
            self.epochs_done += 1;
            let (loss, accuracy, n) = self.epoch_sums;
            let evaluator = Evaluator::new(self.model(), self.split.validation.clone(), self.config.evaluation_chunk);
            self.validating = Some((evaluator, loss / n.max(1) as f64, accuracy / n.max(1) as f64));
            self.order.shuffle(&mut self.rng);
            self.cursor = 0;
            self.epoch_sums = (0.0, 0.0, 0);
            return Ok(StepOutcome::Validating { done: 0, total: self.split.validation.len() });
        }
        let end = (self.cursor + self.config.batch_size).min(self.order.len());
        let images = self.order[self.cursor..end].to_vec();
        self.cursor = end;
        self.partial =
            Some(PartialBatch { images, done: 0, gradients: GradientsAccumulator::new(), loss: None, correct: None });
        self.train_part().await
    }

    /// Forward and backward over the next part of the mini-batch under way; after the last
    /// part, Adam's step with the summed gradients and the iteration's one read-back.
    async fn train_part(&mut self) -> Result<StepOutcome, TrainError> {
        let partial = self.partial.as_ref().expect("a mini-batch is under way");
        let total = partial.images.len();
        let part = if self.config.micro_batch == 0 { total } else { self.config.micro_batch.min(total - partial.done) };
        let indices = partial.images[partial.done..partial.done + part].to_vec();
        // Read before the part is taken out: a file that cannot be read leaves the mini-batch
        // where it was.
        let files = self.read_files(&indices).await?;
        let mut partial = self.partial.take().expect("a mini-batch is under way");
        let (loss, correct, gradients) = self.forward_backward(&indices, &files, part as f64 / total as f64)?;
        partial.gradients.accumulate(&self.model, gradients);
        partial.loss = Some(match partial.loss.take() {
            Some(sum) => sum + loss,
            None => loss,
        });
        partial.correct = Some(match partial.correct.take() {
            Some(sum) => sum + correct,
            None => correct,
        });
        partial.done += part;
        if partial.done < total {
            let done = partial.done;
            self.partial = Some(partial);
            return Ok(StepOutcome::Accumulating { done, total });
        }
        self.model = self.optimizer.step(self.config.learning_rate, self.model.clone(), partial.gradients.grads());
        // One read-back per iteration: loss and the number of correct predictions together.
        let sums = vec![partial.loss.expect("one part at least"), partial.correct.expect("one part at least")];
        let figures = read_f32(Tensor::cat(sums, 0)).await?;
        let (loss, accuracy) = (f64::from(figures[0]), f64::from(figures[1]) / total as f64);
        self.iteration += 1;
        self.epoch_sums.0 += loss;
        self.epoch_sums.1 += accuracy;
        self.epoch_sums.2 += 1;
        Ok(StepOutcome::Iteration(IterationMetrics {
            iteration: self.iteration,
            epoch: self.epochs_done + 1,
            loss,
            accuracy,
        }))
    }

    /// Cross-entropy over `batch` scaled by `weight` (its share of the mini-batch, so the parts'
    /// losses and gradients add up to the whole mini-batch's mean), its gradients, and the
    /// number of correct predictions (both figures detached, on the device).
    /// The encoded files of `batch`, read where they are kept (memory, or the browser's files).
    async fn read_files(&self, batch: &[usize]) -> Result<Vec<std::sync::Arc<[u8]>>, TrainError> {
        let mut files = Vec::with_capacity(batch.len());
        for &i in batch {
            let image = &self.data.images[i];
            files.push(image.read().await.map_err(|source| TrainError::Image { path: image.path.clone(), source })?);
        }
        Ok(files)
    }

    fn forward_backward(
        &mut self,
        batch: &[usize],
        files: &[std::sync::Arc<[u8]>],
        weight: f64,
    ) -> Result<(Tensor<1>, Tensor<1>, GradientsParams), TrainError> {
        let side = INPUT_SIZE as usize;
        let mut values = Vec::with_capacity(batch.len() * 3 * side * side);
        let mut targets = Vec::with_capacity(batch.len());
        for (&i, file) in batch.iter().zip(files) {
            let image = &self.data.images[i];
            let input = prepare_input(file, &self.config.augmentation, &mut self.rng)
                .map_err(|source| TrainError::Image { path: image.path.clone(), source })?;
            values.extend_from_slice(&input);
            targets.push(image.class as i64);
        }
        let n = batch.len();
        let input = Tensor::<4>::from_data(TensorData::new(values, [n, 3, side, side]), &self.device);
        let targets = Tensor::<1, Int>::from_data(TensorData::new(targets, [n]), &self.device);
        let logits = self.model.forward(input);
        let correct = logits.clone().argmax(1).reshape([n]).equal(targets.clone()).float().sum();
        let mut loss = CrossEntropyLossConfig::new().init(&self.device).forward(logits, targets);
        if weight != 1.0 {
            loss = loss * weight;
        }
        let gradients = GradientsParams::from_grads(loss.backward(), &self.model);
        Ok((loss.detach().inner(), correct.detach().inner(), gradients))
    }

    /// Reads the weights back into a [`Checkpoint`] (one read-back per tensor, once an epoch).
    async fn save_checkpoint(&mut self, improved: bool) -> Result<(), TrainError> {
        let weights = export_weights(&self.model()).await?;
        let best = if improved {
            let accuracy = self.history.last().expect("close_epoch records the epoch").validation_accuracy;
            Some((accuracy, weights.clone()))
        } else {
            self.best().cloned()
        };
        self.checkpoint = Some(Checkpoint {
            epochs_done: self.epochs_done,
            iteration: self.iteration,
            weights,
            best,
            history: self.history.clone(),
            order: self.order.clone(),
            rng: self.rng.clone(),
        });
        Ok(())
    }

    /// Records the epoch's figures; returns whether its network is the best so far.
    fn close_epoch(&mut self, evaluation: Evaluation, train_loss: f64, train_accuracy: f64) -> bool {
        let metrics = EpochMetrics {
            epoch: self.epochs_done,
            iteration: self.iteration,
            validation_loss: evaluation.loss,
            validation_accuracy: evaluation.accuracy,
            train_loss,
            train_accuracy,
        };
        let improved = self.epochs_done > 0 && self.best().is_none_or(|(best, _)| evaluation.accuracy > *best);
        self.history.push(metrics);
        improved
    }

    /// An evaluator of the validation split with the best network, to run chunk by chunk.
    pub fn final_evaluator(&self) -> Evaluator {
        self.final_evaluator_of(self.best_model())
    }

    /// An evaluator of the validation split with `net` (the caller's copy of the best network).
    pub fn final_evaluator_of(&self, net: SqueezeNet) -> Evaluator {
        Evaluator::new(net, self.split.validation.clone(), self.config.evaluation_chunk)
    }

    /// Classifies the validation split with the best network: scores, labels, confusion.
    pub async fn final_evaluation(&self) -> Result<Evaluation, TrainError> {
        let mut evaluator = self.final_evaluator();
        while !evaluator.is_done() {
            evaluator.step(&self.inference_device(), &self.data).await?;
        }
        Ok(evaluator.finish(&self.data))
    }

    /// The data set being trained on.
    pub fn data(&self) -> &DataSet {
        &self.data
    }
}
