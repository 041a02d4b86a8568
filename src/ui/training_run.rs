//! A training run in the page: stepping the trainer with the browser painting in between,
//! the progress it reports, and what happens when the GPU fails — the offer to go on from the
//! last finished epoch with smaller batches or on the CPU.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use burn::prelude::Device;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser_files::yield_to_browser;
use super::engine::TrainedModel;
use super::run_control::{Control, keep_going};
use crate::analysis::confusion::ConfusionMatrix;
use crate::backend::{GpuFailure, GpuFailureKind, is_cpu};
use crate::data::dataset::DataSet;
use crate::model::export::ExportError;
use crate::model::weights::weights_to_safetensors;
use crate::train::{
    Checkpoint, EpochMetrics, GPU_MICRO_BATCH, IterationMetrics, StepOutcome, TrainConfig, TrainError, Trainer,
};

/// The training's state as shown.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Phase {
    Idle,
    Running,
    Paused,
    Done {
        accuracy: f64,
        confusion: ConfusionMatrix,
        classes: Vec<String>,
        cancelled: bool,
    },
    /// The GPU failed; training can go on from the last finished epoch (see [`ResumePoint`]).
    /// `batch` and `pass`: the mini-batch and the images per forward/backward pass it ran with.
    Interrupted {
        failure: GpuFailure,
        epochs_done: usize,
        iteration: usize,
        batch: usize,
        pass: usize,
    },
    Failed(String),
}

/// Where training can go on after a GPU failure: the last finished epoch in host memory, the
/// settings it ran with, and the GPU device (still usable after an out-of-memory).
#[derive(Clone)]
pub(super) struct ResumePoint {
    pub(super) checkpoint: Checkpoint,
    pub(super) config: TrainConfig,
    pub(super) data: Arc<DataSet>,
    pub(super) device: Device,
    pub(super) failure: GpuFailure,
}

/// Why a run stopped early.
enum Stop {
    /// The GPU failed and a checkpoint exists to go on from.
    Gpu(GpuFailure),
    Other(String),
}

/// A GPU failure behind `error` (every failed GPU read is one, see `backend::read_f32`) stops
/// with the offer to go on; anything else is a plain error.
fn stop(error: TrainError) -> Stop {
    match error.gpu_failure() {
        Some(failure) => Stop::Gpu(failure.clone()),
        None => Stop::Other(error.to_string()),
    }
}

/// The signals a training run writes, and its pause/cancel switch.
#[derive(Clone)]
pub(super) struct RunOutputs {
    pub(super) phase: RwSignal<Phase>,
    pub(super) progress: RwSignal<String>,
    pub(super) iterations: RwSignal<Vec<IterationMetrics>>,
    pub(super) epoch_points: RwSignal<Vec<EpochMetrics>>,
    pub(super) downloads: StoredValue<Option<(Vec<u8>, String)>, LocalStorage>,
    pub(super) resume_point: StoredValue<Option<ResumePoint>, LocalStorage>,
    pub(super) control: Rc<Cell<Control>>,
    /// Where the finished network goes for the analysis (step 4), and the signal that says so.
    pub(super) engine: super::engine::Engine,
    pub(super) trained: RwSignal<u32>,
}

impl RunOutputs {
    /// Runs `trainer` to the end (or until cancelled or the GPU fails), one step at a time with
    /// the browser painting in between, then classifies the validation split with the best
    /// weights and offers them for download.
    pub(super) fn launch(&self, mut trainer: Trainer, data: Arc<DataSet>, config: TrainConfig) {
        let this = self.clone();
        this.control.set(Control::Run);
        this.phase.set(Phase::Running);
        spawn_local(async move {
            let clock = || web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0);
            let started = clock();
            let first_iteration = trainer.checkpoint().map_or(0, |c| c.iteration());
            let total_iterations =
                first_iteration + trainer.iterations_per_epoch() * config.epochs.saturating_sub(trainer.epochs_done());
            let mut cancelled = false;
            let result: Result<(), Stop> = async {
                loop {
                    if !keep_going(&this.control, || this.phase.set(Phase::Paused)).await {
                        cancelled = true;
                        break;
                    }
                    this.phase.set(Phase::Running);
                    match trainer.step().await.map_err(stop)? {
                        StepOutcome::Iteration(m) => {
                            let elapsed = (clock() - started) / 1e3;
                            let done = (m.iteration - first_iteration).max(1);
                            let eta = elapsed / done as f64 * total_iterations.saturating_sub(m.iteration) as f64;
                            this.progress.set(format!(
                                "Epoch {}/{}, iteration {}/{}: loss {:.4}, accuracy {:.3} — about {:.0} s left",
                                m.epoch, config.epochs, m.iteration, total_iterations, m.loss, m.accuracy, eta
                            ));
                            this.iterations.update(|i| i.push(m));
                        }
                        StepOutcome::Validating { done, total } => {
                            this.progress.set(format!("Classifying the validation images… {done}/{total}"));
                        }
                        StepOutcome::Accumulating { done, total } => {
                            this.progress.set(format!(
                                "Epoch {}/{}, iteration {}/{}: {done}/{total} images of the mini-batch…",
                                trainer.epochs_done() + 1, config.epochs, trainer.iterations_done() + 1, total_iterations
                            ));
                        }
                        StepOutcome::EpochEnd(m) => this.epoch_points.update(|e| e.push(m)),
                        StepOutcome::Finished => break,
                    }
                    yield_to_browser().await;
                }
                let iterations_done = trainer.history().last().map(|m| m.iteration).unwrap_or(0);
                let verdict = if cancelled { "Cancelled" } else { "Finished" };
                this.progress.set(format!(
                    "{verdict} after {iterations_done} iteration(s); classifying the validation images with the best weights…"
                ));
                yield_to_browser().await;
                let mut evaluator = trainer.final_evaluator();
                let device = trainer.inference_device();
                while !evaluator.is_done() {
                    evaluator.step(&device, trainer.data()).await.map_err(|e| stop(e.into()))?;
                    yield_to_browser().await;
                }
                let evaluation = evaluator.finish(trainer.data());
                this.engine.set_trained(TrainedModel {
                    net: trainer.best_model(),
                    data: data.clone(),
                    validation: trainer.split().validation.clone(),
                });
                this.trained.update(|n| *n += 1);
                let weights = trainer.best_weights().await.map_err(|e| match e {
                    ExportError::Read(e) => stop(e.into()),
                    other => Stop::Other(other.to_string()),
                })?;
                let bytes = weights_to_safetensors(&weights).map_err(|e| Stop::Other(e.to_string()))?;
                this.downloads.set_value(Some((bytes, data.classes.join("\n") + "\n")));
                this.progress.set(format!("{verdict} after {iterations_done} iteration(s) in {:.0} s.", (clock() - started) / 1e3));
                this.phase.set(Phase::Done {
                    accuracy: evaluation.accuracy,
                    confusion: ConfusionMatrix::of(&evaluation, data.classes.len()),
                    classes: data.classes.clone(),
                    cancelled,
                });
                Ok(())
            }
            .await;
            match result {
                Ok(()) => {}
                Err(Stop::Gpu(failure)) => match trainer.checkpoint() {
                    Some(checkpoint) => {
                        this.phase.set(Phase::Interrupted {
                            failure: failure.clone(),
                            epochs_done: checkpoint.epochs_done(),
                            iteration: checkpoint.iteration(),
                            batch: config.batch_size,
                            pass: if config.micro_batch == 0 {
                                config.batch_size
                            } else {
                                config.micro_batch.min(config.batch_size)
                            },
                        });
                        this.resume_point.set_value(Some(ResumePoint {
                            checkpoint: checkpoint.clone(),
                            config: config.clone(),
                            data: data.clone(),
                            device: trainer.inference_device(),
                            failure,
                        }));
                    }
                    None => this.phase.set(Phase::Failed(format!(
                        "{failure}; nothing was trained yet — start again (on the CPU: reload with ?backend=cpu)"
                    ))),
                },
                Err(Stop::Other(message)) => this.phase.set(Phase::Failed(message)),
            }
        });
    }
}

/// Images per forward/backward pass in the page: on the CPU the work runs on the page's own
/// thread, and two images (about 0.4 s in Chromium on the test machine) keep it painting
/// whatever the mini-batch size; on the GPU, parts that fit WebGPU's buffer limits.
pub(super) fn micro_batch_for(device: &Device) -> usize {
    if is_cpu(device) { 2 } else { GPU_MICRO_BATCH }
}

/// What the page says after a GPU failure, and what it offers.
pub(super) fn interruption_message(failure: &GpuFailure, epochs_done: usize, iteration: usize) -> String {
    let kept = if epochs_done == 0 {
        "no epoch had finished yet, so training starts again from the beginning".to_string()
    } else {
        format!(
            "the network after epoch {epochs_done} ({iteration} iterations) is kept and training goes on from there"
        )
    };
    let advice = match failure.kind {
        GpuFailureKind::OutOfMemory => "Smaller batches need less GPU memory; the CPU has no such limit but is slower.",
        GpuFailureKind::Lost => "The GPU cannot be used again in this page (reload it to try); the CPU can go on.",
        GpuFailureKind::Error => "If a buffer was too large for the GPU, smaller batches help; the CPU can go on too.",
    };
    format!("Training stopped: {failure}. {advice} If you continue, {kept}.")
}
