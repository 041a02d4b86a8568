//! A training run in the page: the core's `TrainingRun` stepped by the page's job driver, the
//! progress it reports, and what happens when the GPU fails — the offer to go on from the last
//! finished epoch with smaller passes or on the CPU.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use burn::prelude::Device;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser_files::now_ms;
use super::engine::TrainedModel;
use super::job_driver::{Ended, SteppedJob, drive};
use super::run_control::Control;
use crate::analysis::confusion::ConfusionMatrix;
use crate::backend::GpuFailure;
use crate::data::dataset::DataSet;
use crate::model::weights::weights_to_safetensors;
use crate::train::{
    Checkpoint, EpochMetrics, IterationMetrics, RunStep, StepOutcome, TrainConfig, TrainError, Trainer, TrainingRun,
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
    /// Runs `trainer` to the end through the page's job driver — training, then the
    /// validation images classified with the best weights, then those weights offered for
    /// download. Cancel ends training early and still evaluates the best network so far; a GPU
    /// failure stops with the offer to go on from the last finished epoch.
    pub(super) fn launch(&self, trainer: Trainer, data: Arc<DataSet>, config: TrainConfig) {
        let this = self.clone();
        this.control.set(Control::Run);
        this.phase.set(Phase::Running);
        spawn_local(async move {
            let started = now_ms();
            let first_iteration = trainer.checkpoint().map_or(0, |c| c.iteration());
            let total_iterations =
                first_iteration + trainer.iterations_per_epoch() * config.epochs.saturating_sub(trainer.epochs_done());
            let epochs = config.epochs;
            let report = |run: &TrainingRun, step: RunStep| {
                this.show(run, step, started, first_iteration, total_iterations, epochs)
            };
            let mut run = TrainingRun::new(trainer);
            let on_pause = || this.phase.set(Phase::Paused);
            let on_resume = || this.phase.set(Phase::Running);
            let mut ended = drive(&mut run, &this.control, on_pause, on_resume, report).await;
            if ended == Ended::Cancelled {
                run.stop_training();
                let iterations_done = run.trainer().iterations_done();
                this.progress.set(format!(
                    "Cancelled after {iterations_done} iteration(s); classifying the validation images with the best weights…"
                ));
                // Evaluating the best network is short and not cancelled again.
                let go_on = Cell::new(Control::Run);
                ended = drive(&mut run, &go_on, || {}, || {}, report).await;
            }
            match ended {
                Ended::Finished => this.finish(&run, &data, started),
                Ended::GpuFailed(failure) => this.interrupt(&run, failure, &data, &config),
                Ended::Failed(message) => this.phase.set(Phase::Failed(message)),
                Ended::Cancelled => this.phase.set(Phase::Failed("cancelled".into())),
            }
        });
    }

    /// Shows one step's progress.
    fn show(&self, run: &TrainingRun, step: RunStep, started: f64, first: usize, total: usize, epochs: usize) {
        match step {
            RunStep::Training(StepOutcome::Iteration(m)) => {
                let elapsed = (now_ms() - started) / 1e3;
                let done = (m.iteration - first).max(1);
                let eta = elapsed / done as f64 * total.saturating_sub(m.iteration) as f64;
                self.progress.set(format!(
                    "Epoch {}/{epochs}, iteration {}/{total}: loss {:.4}, accuracy {:.3} — about {eta:.0} s left",
                    m.epoch, m.iteration, m.loss, m.accuracy
                ));
                self.iterations.update(|i| i.push(m));
            }
            RunStep::Training(StepOutcome::Validating { done, total }) => {
                self.progress.set(format!("Classifying the validation images… {done}/{total}"));
            }
            RunStep::Training(StepOutcome::Accumulating { done, total: images }) => {
                let trainer = run.trainer();
                self.progress.set(format!(
                    "Epoch {}/{epochs}, iteration {}/{total}: {done}/{images} images of the mini-batch…",
                    trainer.epochs_done() + 1,
                    trainer.iterations_done() + 1
                ));
            }
            RunStep::Training(StepOutcome::EpochEnd(m)) => self.epoch_points.update(|e| e.push(m)),
            RunStep::Training(StepOutcome::Finished) | RunStep::Finished => {}
            RunStep::Evaluating { done, total } => {
                let verdict = if run.stopped_early() { "Cancelled" } else { "Finished" };
                self.progress.set(format!(
                    "{verdict} after {} iteration(s); classifying the validation images with the best weights… {done}/{total}",
                    run.trainer().iterations_done()
                ));
            }
        }
    }

    /// Keeps the finished run for the analysis and shows its results.
    fn finish(&self, run: &TrainingRun, data: &Arc<DataSet>, started: f64) {
        let Some(outcome) = run.outcome() else {
            return self.phase.set(Phase::Failed("the run ended without a result".into()));
        };
        self.engine.set_trained(TrainedModel {
            net: outcome.best.clone(),
            weights: outcome.weights.clone(),
            data: data.clone(),
            validation: run.trainer().split().validation.clone(),
        });
        self.trained.update(|n| *n += 1);
        match weights_to_safetensors(&outcome.weights) {
            Ok(bytes) => self.downloads.set_value(Some((bytes, data.classes.join("\n") + "\n"))),
            Err(e) => return self.phase.set(Phase::Failed(e.to_string())),
        }
        let iterations_done = run.trainer().history().last().map(|m| m.iteration).unwrap_or(0);
        let verdict = if outcome.stopped_early { "Cancelled" } else { "Finished" };
        self.progress
            .set(format!("{verdict} after {iterations_done} iteration(s) in {:.0} s.", (now_ms() - started) / 1e3));
        self.phase.set(Phase::Done {
            accuracy: outcome.evaluation.accuracy,
            confusion: ConfusionMatrix::of(&outcome.evaluation, data.classes.len()),
            classes: data.classes.clone(),
            cancelled: outcome.stopped_early,
        });
    }

    /// After a GPU failure: the offer to go on from the last finished epoch, or, before any
    /// epoch finished, the message that there is nothing to go on from.
    fn interrupt(&self, run: &TrainingRun, failure: GpuFailure, data: &Arc<DataSet>, config: &TrainConfig) {
        let trainer = run.trainer();
        let Some(checkpoint) = trainer.checkpoint() else {
            return self.phase.set(Phase::Failed(format!(
                "{failure}; nothing was trained yet — start again (on the CPU: reload with ?backend=cpu)"
            )));
        };
        self.phase.set(Phase::Interrupted {
            failure: failure.clone(),
            epochs_done: checkpoint.epochs_done(),
            iteration: checkpoint.iteration(),
            batch: config.batch_size,
            pass: if config.micro_batch == 0 { config.batch_size } else { config.micro_batch.min(config.batch_size) },
        });
        self.resume_point.set_value(Some(ResumePoint {
            checkpoint: checkpoint.clone(),
            config: config.clone(),
            data: data.clone(),
            device: trainer.inference_device(),
            failure,
        }));
    }
}

impl SteppedJob for TrainingRun {
    type Report = RunStep;
    type Error = TrainError;

    async fn step(&mut self) -> Result<RunStep, TrainError> {
        TrainingRun::step(self).await
    }

    fn is_finished(&self) -> bool {
        TrainingRun::is_finished(self)
    }
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
    format!("Training stopped: {}. {} If you continue, {kept}.", failure.kind.headline(), failure.advice())
}
