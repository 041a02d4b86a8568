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
use super::training_worker::WorkerRun;
use crate::analysis::confusion::ConfusionMatrix;
use crate::backend::GpuFailure;
use crate::backend::cpu_device;
use crate::data::dataset::DataSet;
use crate::model::squeezenet::SqueezeNet;
use crate::model::weights::{SqueezeNetWeights, load_weights, weights_to_safetensors};
use crate::served::training::{FinishedRun, RunState, TrainTask};
use crate::train::{
    Checkpoint, EpochMetrics, Evaluation, IterationMetrics, RunStep, StepOutcome, TrainConfig, TrainError, Trainer,
    TrainingRun,
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
                this.show(RunState::of(run), step, started, first_iteration, total_iterations, epochs)
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
                Ended::Finished => match RunResult::of_local(&run) {
                    Ok(result) => this.finish(result, &data, started),
                    Err(message) => this.phase.set(Phase::Failed(message)),
                },
                Ended::GpuFailed(failure) => this.interrupt(&run, failure, &data, &config),
                Ended::Failed(message) => this.phase.set(Phase::Failed(message)),
                Ended::Cancelled => this.phase.set(Phase::Failed("cancelled".into())),
            }
        });
    }

    /// Shows one step's progress.
    fn show(&self, state: RunState, step: RunStep, started: f64, first: usize, total: usize, epochs: usize) {
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
                self.progress.set(format!(
                    "Epoch {}/{epochs}, iteration {}/{total}: {done}/{images} images of the mini-batch…",
                    state.epochs_done + 1,
                    state.iterations_done + 1
                ));
            }
            RunStep::Training(StepOutcome::EpochEnd(m)) => self.epoch_points.update(|e| e.push(m)),
            RunStep::Training(StepOutcome::Finished) | RunStep::Finished => {}
            RunStep::Evaluating { done, total } => {
                let verdict = if state.stopped_early { "Cancelled" } else { "Finished" };
                self.progress.set(format!(
                    "{verdict} after {} iteration(s); classifying the validation images with the best weights… {done}/{total}",
                    state.iterations_done
                ));
            }
        }
    }

    /// Keeps the finished run for the analysis and shows its results.
    fn finish(&self, result: RunResult, data: &Arc<DataSet>, started: f64) {
        let RunResult { net, weights, weights_file, evaluation, validation, stopped_early, last_epoch_iteration } =
            result;
        self.engine.set_trained(TrainedModel { net, weights, data: data.clone(), validation });
        self.trained.update(|n| *n += 1);
        self.downloads.set_value(Some((weights_file, data.classes.join("\n") + "\n")));
        let verdict = if stopped_early { "Cancelled" } else { "Finished" };
        self.progress.set(format!(
            "{verdict} after {last_epoch_iteration} iteration(s) in {:.0} s.",
            (now_ms() - started) / 1e3
        ));
        self.phase.set(Phase::Done {
            accuracy: evaluation.accuracy,
            confusion: ConfusionMatrix::of(&evaluation, data.classes.len()),
            classes: data.classes.clone(),
            cancelled: stopped_early,
        });
    }

    /// Runs `task` in the training worker (CPU training: the page's thread only draws) — the
    /// same run, progress and results as [`RunOutputs::launch`], with Pause, Resume and Cancel.
    pub(super) fn launch_in_worker(&self, task: TrainTask, data: Arc<DataSet>) {
        let this = self.clone();
        this.control.set(Control::Run);
        this.phase.set(Phase::Running);
        this.progress.set("Starting the training worker…".into());
        let epochs = task.config.epochs;
        spawn_local(async move {
            let started = now_ms();
            let mut run = match WorkerRun::start(task, data.clone()).await {
                Ok(run) => run,
                Err(e) => return this.phase.set(Phase::Failed(e.0)),
            };
            let total_iterations = run.iterations_per_epoch() * epochs;
            let report =
                |run: &WorkerRun, step: RunStep| this.show(run.state(), step, started, 0, total_iterations, epochs);
            let on_pause = || this.phase.set(Phase::Paused);
            let on_resume = || this.phase.set(Phase::Running);
            let mut ended = drive(&mut run, &this.control, on_pause, on_resume, report).await;
            if ended == Ended::Cancelled {
                run.stop_training();
                this.progress.set(format!(
                    "Cancelled after {} iteration(s); classifying the validation images with the best weights…",
                    run.state().iterations_done
                ));
                let go_on = Cell::new(Control::Run);
                ended = drive(&mut run, &go_on, || {}, || {}, report).await;
            }
            let outcome = match ended {
                Ended::Finished => run
                    .finished()
                    .ok_or_else(|| "the run ended without a result".to_string())
                    .and_then(RunResult::of_worker),
                Ended::GpuFailed(failure) => Err(failure.to_string()),
                Ended::Failed(message) => Err(message),
                Ended::Cancelled => Err("cancelled".into()),
            };
            match outcome {
                Ok(result) => this.finish(result, &data, started),
                Err(message) => this.phase.set(Phase::Failed(message)),
            }
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

/// What the page keeps of a finished run, wherever it ran.
struct RunResult {
    /// The best network, on the page's device, for the analysis.
    net: SqueezeNet,
    weights: SqueezeNetWeights,
    /// The same weights as a safetensors file, for download.
    weights_file: Vec<u8>,
    evaluation: Evaluation,
    validation: Vec<usize>,
    stopped_early: bool,
    last_epoch_iteration: usize,
}

impl RunResult {
    fn of_local(run: &TrainingRun) -> Result<Self, String> {
        let outcome = run.outcome().ok_or("the run ended without a result")?;
        Ok(Self {
            net: outcome.best.clone(),
            weights_file: weights_to_safetensors(&outcome.weights).map_err(|e| e.to_string())?,
            weights: outcome.weights.clone(),
            evaluation: outcome.evaluation.clone(),
            validation: run.trainer().split().validation.clone(),
            stopped_early: outcome.stopped_early,
            last_epoch_iteration: run.trainer().history().last().map_or(0, |m| m.iteration),
        })
    }

    /// The worker trains on the CPU: its network is rebuilt on the page's CPU device.
    fn of_worker(finished: &FinishedRun) -> Result<Self, String> {
        let (weights, _) = load_weights(&finished.weights).map_err(|e| format!("the trained network: {e}"))?;
        Ok(Self {
            net: SqueezeNet::from_weights(&weights, &cpu_device()),
            weights,
            weights_file: finished.weights.clone(),
            evaluation: finished.evaluation.clone(),
            validation: finished.validation.clone(),
            stopped_early: finished.stopped_early,
            last_epoch_iteration: finished.last_epoch_iteration,
        })
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
