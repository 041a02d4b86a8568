//! Fine-tuning in the page: settings, start / pause / resume / cancel, the live progress plot,
//! and the results (accuracy, confusion matrix, downloads).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use leptos::html::Canvas;
use leptos::prelude::*;
use leptos::task::spawn_local;

use burn::prelude::Device;

use super::browser_files::{download, yield_to_browser};
use super::dataset_panel::DataSetStatus;
use super::ModelStatus;
use super::engine::{BackendInfo, Engine};
use super::run_control::{Control, keep_going};
use crate::analysis::confusion::ConfusionMatrix;
use crate::backend::{BackendError, GpuFailure, GpuFailureKind, clear_gpu_failure, cpu_device, is_cpu};
use crate::data::augment::Augmentation;
use crate::data::dataset::DataSet;
use crate::model::export::{ExportError, export_weights};
use crate::model::weights::weights_to_safetensors;
use crate::train::{GPU_MICRO_BATCH, Checkpoint, EpochMetrics, IterationMetrics, StepOutcome, TrainConfig, TrainError, Trainer};

/// The training's state as shown.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    Running,
    Paused,
    Done { accuracy: f64, confusion: ConfusionMatrix, classes: Vec<String>, cancelled: bool },
    /// The GPU failed; training can go on from the last finished epoch (see [`ResumePoint`]).
    /// `batch` and `pass`: the mini-batch and the images per forward/backward pass it ran with.
    Interrupted { failure: GpuFailure, epochs_done: usize, iteration: usize, batch: usize, pass: usize },
    Failed(String),
}

/// Where training can go on after a GPU failure: the last finished epoch in host memory, the
/// settings it ran with, and the GPU device (still usable after an out-of-memory).
#[derive(Clone)]
struct ResumePoint {
    checkpoint: Checkpoint,
    config: TrainConfig,
    data: Arc<DataSet>,
    device: Device,
    failure: GpuFailure,
}

/// Why a run stopped early.
enum Stop {
    /// The GPU failed and a checkpoint exists to go on from.
    Gpu(GpuFailure),
    Other(String),
}

/// A GPU failure behind `error` when the work ran on the GPU. Any device error on the GPU
/// counts: a lost device may fail a read before the browser says it is lost.
fn gpu_stop(error: TrainError, on_gpu: bool) -> Stop {
    if on_gpu {
        if let Some(failure) = error.gpu_failure() {
            return Stop::Gpu(failure.clone());
        }
        if let TrainError::Device(BackendError::ReadBack(message)) = &error {
            return Stop::Gpu(GpuFailure { kind: GpuFailureKind::Error, message: message.clone() });
        }
    }
    Stop::Other(error.to_string())
}

/// The signals a training run writes, and its pause/cancel switch.
#[derive(Clone)]
struct RunOutputs {
    phase: RwSignal<Phase>,
    progress: RwSignal<String>,
    iterations: RwSignal<Vec<IterationMetrics>>,
    epoch_points: RwSignal<Vec<EpochMetrics>>,
    downloads: StoredValue<Option<(Vec<u8>, String)>, LocalStorage>,
    resume_point: StoredValue<Option<ResumePoint>, LocalStorage>,
    control: Rc<Cell<Control>>,
    classes: StoredValue<Vec<String>, LocalStorage>,
}

impl RunOutputs {
    /// Runs `trainer` to the end (or until cancelled or the GPU fails), one step at a time with
    /// the browser painting in between, then classifies the validation split with the best
    /// weights and offers them for download.
    fn launch(&self, mut trainer: Trainer, data: Arc<DataSet>, config: TrainConfig) {
        let this = self.clone();
        this.control.set(Control::Run);
        this.phase.set(Phase::Running);
        this.classes.set_value(data.classes.clone());
        spawn_local(async move {
            let on_gpu = !is_cpu(trainer.device());
            let clock = || web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0);
            let started = clock();
            let first_iteration = trainer.checkpoint().map_or(0, |c| c.iteration());
            let total_iterations = first_iteration + trainer.iterations_per_epoch() * config.epochs.saturating_sub(trainer.epochs_done());
            let mut cancelled = false;
            let result: Result<(), Stop> = async {
                loop {
                    if !keep_going(&this.control, || this.phase.set(Phase::Paused)).await {
                        cancelled = true;
                        break;
                    }
                    this.phase.set(Phase::Running);
                    match trainer.step().await.map_err(|e| gpu_stop(e, on_gpu))? {
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
                    evaluator.step(&device, trainer.data()).await.map_err(|e| gpu_stop(e.into(), on_gpu))?;
                    yield_to_browser().await;
                }
                let evaluation = evaluator.finish(trainer.data());
                let weights = export_weights(&trainer.best_model()).await.map_err(|e| match e {
                    ExportError::Read(e) => gpu_stop(e.into(), on_gpu),
                    other => Stop::Other(other.to_string()),
                })?;
                let bytes = weights_to_safetensors(&weights).map_err(|e| Stop::Other(e.to_string()))?;
                this.downloads.set_value(Some((bytes, data.classes.join("\n") + "\n")));
                this.progress.set(format!("{verdict} after {iterations_done} iteration(s) in {:.0} s.", (clock() - started) / 1e3));
                this.phase.set(Phase::Done {
                    accuracy: evaluation.accuracy,
                    confusion: evaluation.confusion.clone(),
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
                            pass: if config.micro_batch == 0 { config.batch_size } else { config.micro_batch.min(config.batch_size) },
                        });
                        this.resume_point.set_value(Some(ResumePoint {
                            checkpoint: checkpoint.clone(),
                            config: config.clone(),
                            data: data.clone(),
                            device: trainer.inference_device(),
                            failure,
                        }));
                    }
                    None => this.phase.set(Phase::Failed(format!("{failure}; nothing was trained yet — start again (on the CPU: reload with ?backend=cpu)"))),
                },
                Err(Stop::Other(message)) => this.phase.set(Phase::Failed(message)),
            }
        });
    }
}

/// Images per forward/backward pass in the page: on the CPU the work runs on the page's own
/// thread, and two images (about 0.4 s in Chromium on the test machine) keep it painting
/// whatever the mini-batch size; on the GPU, parts that fit WebGPU's buffer limits.
fn micro_batch_for(device: &Device) -> usize {
    if is_cpu(device) { 2 } else { GPU_MICRO_BATCH }
}

/// What the page says after a GPU failure, and what it offers.
fn interruption_message(failure: &GpuFailure, epochs_done: usize, iteration: usize) -> String {
    let kept = if epochs_done == 0 {
        "no epoch had finished yet, so training starts again from the beginning".to_string()
    } else {
        format!("the network after epoch {epochs_done} ({iteration} iterations) is kept and training goes on from there")
    };
    let advice = match failure.kind {
        GpuFailureKind::OutOfMemory => "Smaller batches need less GPU memory; the CPU has no such limit but is slower.",
        GpuFailureKind::Lost => "The GPU cannot be used again in this page (reload it to try); the CPU can go on.",
        GpuFailureKind::Error => "If a buffer was too large for the GPU, smaller batches help; the CPU can go on too.",
    };
    format!("Training stopped: {failure}. {advice} If you continue, {kept}.")
}

fn number_input(id: &'static str, label: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="setting">{label}" "
            <input id=id type="text" size="7" prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{:.0} %", v * 100.0))
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, String> {
    text.trim().parse().map_err(|_| format!("{what}: `{text}` is not a valid number"))
}

#[component]
pub fn TrainingPanel(
    engine: Engine,
    data_set: RwSignal<DataSetStatus>,
    model: RwSignal<ModelStatus>,
    backend: RwSignal<Option<BackendInfo>>,
) -> impl IntoView {
    let engine_for_use = StoredValue::new_local(engine.clone());
    let epochs = RwSignal::new("50".to_string());
    let batch = RwSignal::new("128".to_string());
    let rate = RwSignal::new("1e-4".to_string());
    let fraction = RwSignal::new("0.65".to_string());
    let seed = RwSignal::new("0".to_string());
    let flip_lr = RwSignal::new(true);
    let flip_ud = RwSignal::new(true);
    let scale = RwSignal::new(true);

    let phase = RwSignal::new(Phase::Idle);
    let note = RwSignal::new(String::new());
    let progress = RwSignal::new(String::new());
    let iterations = RwSignal::new(Vec::<IterationMetrics>::new());
    let epoch_points = RwSignal::new(Vec::<EpochMetrics>::new());
    let control = Rc::new(Cell::new(Control::Run));
    let downloads = StoredValue::new_local(None::<(Vec<u8>, String)>);
    let resume_point = StoredValue::new_local(None::<ResumePoint>);

    let loss_canvas = NodeRef::<Canvas>::new();
    let accuracy_canvas = NodeRef::<Canvas>::new();
    Effect::new(move || {
        let (its, eps) = (iterations.get(), epoch_points.get());
        if let Some(canvas) = loss_canvas.get() {
            super::training_chart::draw(&canvas, "loss", &its, &eps, |m| m.loss, |m| m.validation_loss);
        }
        if let Some(canvas) = accuracy_canvas.get() {
            super::training_chart::draw(&canvas, "accuracy", &its, &eps, |m| m.accuracy, |m| m.validation_accuracy);
        }
    });

    let settings = move || -> Result<TrainConfig, String> {
        let scale_range = if scale.get_untracked() { (0.8, 1.2) } else { (1.0, 1.0) };
        let config = TrainConfig {
            epochs: parse("epochs", &epochs.get_untracked())?,
            batch_size: parse("mini-batch size", &batch.get_untracked())?,
            learning_rate: parse("learning rate", &rate.get_untracked())?,
            train_fraction: parse("training fraction", &fraction.get_untracked())?,
            seed: parse("seed", &seed.get_untracked())?,
            augmentation: Augmentation { flip_left_right: flip_lr.get_untracked(), flip_up_down: flip_ud.get_untracked(), scale_range },
            // Small validation chunks: on the CPU each one runs on the page's thread.
            evaluation_chunk: 4,
            ..TrainConfig::default()
        };
        if config.epochs == 0 || config.batch_size == 0 || config.learning_rate.is_nan() || config.learning_rate <= 0.0 {
            return Err("epochs, mini-batch size and learning rate must be positive".into());
        }
        Ok(config)
    };

    let outputs = RunOutputs {
        phase,
        progress,
        iterations,
        epoch_points,
        downloads,
        resume_point,
        control: control.clone(),
        classes: StoredValue::new_local(Vec::new()),
    };

    let start = {
        let outputs = outputs.clone();
        move |_| {
            let config = match settings() {
                Ok(c) => c,
                Err(e) => return phase.set(Phase::Failed(e)),
            };
            let (data, net, pretrained, device) = match engine.training_inputs() {
                Ok(inputs) => inputs,
                Err(e) => return phase.set(Phase::Failed(e)),
            };
            note.set(if pretrained {
                "Fine-tuning the loaded network (new final layer for your classes).".into()
            } else {
                "No pretrained weights are loaded: training from scratch (random weights).".into()
            });
            let config = TrainConfig { micro_batch: micro_batch_for(&device), ..config };
            match Trainer::new(data.clone(), net, &device, config.clone()) {
                Ok(trainer) => {
                    iterations.set(Vec::new());
                    epoch_points.set(Vec::new());
                    outputs.launch(trainer, data, config);
                }
                Err(e) => phase.set(Phase::Failed(e.to_string())),
            }
        }
    };
    // Goes on from the last finished epoch after a GPU failure: on the GPU with the given
    // mini-batch, or on the CPU (`None`).
    let resume = StoredValue::new_local({
        let outputs = outputs.clone();
        let engine = engine_for_use;
        move |on_gpu: Option<(usize, usize)>| {
            let Some(point) = resume_point.get_value() else { return };
            let (device, config) = match on_gpu {
                Some((batch_size, micro_batch)) => {
                    clear_gpu_failure();
                    point.device.memory_cleanup();
                    batch.set(batch_size.to_string());
                    (point.device.clone(), TrainConfig { batch_size, micro_batch, ..point.config.clone() })
                }
                None => {
                    if point.failure.kind == GpuFailureKind::Lost {
                        backend.set(Some(engine.get_value().fall_back_to_cpu(&point.failure.to_string())));
                    }
                    let device = cpu_device();
                    (device.clone(), TrainConfig { micro_batch: micro_batch_for(&device), ..point.config.clone() })
                }
            };
            match Trainer::resume(point.data.clone(), &point.checkpoint, &device, config.clone()) {
                Ok(trainer) => {
                    let done = point.checkpoint.iteration();
                    iterations.update(|i| i.retain(|m| m.iteration <= done));
                    epoch_points.set(point.checkpoint.history().to_vec());
                    outputs.launch(trainer, point.data.clone(), config);
                }
                Err(e) => phase.set(Phase::Failed(e.to_string())),
            }
        }
    });
    let pause = {
        let control = control.clone();
        move |_| control.set(control.get().toggled())
    };
    let cancel = move |_| control.set(Control::Cancel);
    let running = move || matches!(phase.get(), Phase::Running | Phase::Paused);
    let data_ready = move || matches!(data_set.get(), DataSetStatus::Ready { .. });

    view! {
        <section id="training" class="panel">
            <h2>"4. Fine-tune"</h2>
            <div class="settings">
                {number_input("epochs", "epochs", epochs)}
                {number_input("batch-size", "mini-batch", batch)}
                {number_input("learning-rate", "learning rate", rate)}
                {number_input("train-fraction", "training fraction", fraction)}
                {number_input("seed", "seed", seed)}
                <label class="setting"><input id="flip-lr" type="checkbox" prop:checked=move || flip_lr.get()
                    on:change=move |ev| flip_lr.set(event_target_checked(&ev)) />" flip left-right"</label>
                <label class="setting"><input id="flip-ud" type="checkbox" prop:checked=move || flip_ud.get()
                    on:change=move |ev| flip_ud.set(event_target_checked(&ev)) />" flip up-down"</label>
                <label class="setting"><input id="scale" type="checkbox" prop:checked=move || scale.get()
                    on:change=move |ev| scale.set(event_target_checked(&ev)) />" scale 0.8–1.2"</label>
            </div>
            <p>
                <button id="train-start" on:click=start disabled=move || running() || !data_ready()>"Train"</button>" "
                <button id="train-pause" on:click=pause disabled=move || !running()>
                    {move || if phase.get() == Phase::Paused { "Resume" } else { "Pause" }}
                </button>" "
                <button id="train-cancel" on:click=cancel disabled=move || !running()>"Cancel"</button>
            </p>
            <p id="train-note" class="status">{move || note.get()}</p>
            <p id="train-progress" class="status" data-iterations=move || iterations.with(|i| i.len())
                data-epochs=move || epoch_points.with(|e| e.iter().filter(|m| m.epoch > 0).count())>
                {move || progress.get()}
            </p>
            <div class="charts">
                <canvas node_ref=loss_canvas id="loss-chart" width="460" height="200"></canvas>
                <canvas node_ref=accuracy_canvas id="accuracy-chart" width="460" height="200"></canvas>
            </div>
            {move || match phase.get() {
                Phase::Failed(e) => view! { <p id="train-error" class="status error">{e}</p> }.into_any(),
                Phase::Interrupted { failure, epochs_done, iteration, batch, pass } => {
                    // A buffer over the device's size limits is a validation error, not an out-of-memory
                    // one, and a smaller mini-batch helps just the same; only a lost GPU is gone.
                    // GPU memory follows the images per pass: halve it, and the mini-batch with it.
                    let smaller = (failure.kind != GpuFailureKind::Lost && pass > 1).then_some(((batch / 2).max(1), pass / 2));
                    view! {
                        <div id="train-interrupted" class="status error" data-kind=format!("{:?}", failure.kind)>
                            <p id="train-failure">{interruption_message(&failure, epochs_done, iteration)}</p>
                            <p>
                                {smaller.map(|(b, p)| view! {
                                    <button id="continue-gpu" on:click=move |_| resume.with_value(|go_on| go_on(Some((b, p))))>
                                        {format!("Continue on the GPU with mini-batch {b} ({p} images per pass)")}
                                    </button>" "
                                })}
                                <button id="continue-cpu" on:click=move |_| resume.with_value(|go_on| go_on(None))>"Continue on the CPU"</button>
                            </p>
                        </div>
                    }.into_any()
                }
                Phase::Done { accuracy, confusion, classes, cancelled } => view! {
                    <div id="train-results">
                        <p id="validation-accuracy">{format!(
                            "Validation accuracy{}: {:.1} %", if cancelled { " (cancelled; best weights so far)" } else { "" }, accuracy * 100.0
                        )}</p>
                        <table id="confusion" class="confusion">
                            <tr><th>"true \\ predicted"</th>{classes.iter().map(|c| view! { <th>{c.clone()}</th> }).collect_view()}<th>"recall"</th></tr>
                            {confusion.counts.iter().zip(&classes).enumerate().map(|(i, (row, c))| view! {
                                <tr><th>{c.clone()}</th>{row.iter().map(|n| view! { <td>{*n}</td> }).collect_view()}
                                    <td class="recall">{percent(confusion.recall(i))}</td></tr>
                            }).collect_view()}
                            <tr><th>"precision"</th>{(0..classes.len()).map(|i| view! {
                                <td class="precision">{percent(confusion.precision(i))}</td>
                            }).collect_view()}<td></td></tr>
                        </table>
                        <p>
                            <button id="download-weights" on:click=move |_| {
                                if let Some((bytes, _)) = downloads.get_value() {
                                    let _ = download("layerlens-finetuned.safetensors", &bytes, "application/octet-stream");
                                }
                            }>"Download weights"</button>" "
                            <button id="download-classes" on:click=move |_| {
                                if let Some((_, names)) = downloads.get_value() {
                                    let _ = download("layerlens-classes.txt", names.as_bytes(), "text/plain");
                                }
                            }>"Download class names"</button>" "
                            <button id="use-finetuned" on:click={
                                move |_| {
                                    let engine = engine_for_use.get_value();
                                    if let Some((bytes, names)) = downloads.get_value() {
                                        let status = match engine.load_weights("the fine-tuned network", &bytes) {
                                            Ok(summary) => {
                                                let _ = engine.set_class_names("training", &names);
                                                ModelStatus::Ready(summary)
                                            }
                                            Err(e) => ModelStatus::Failed(e),
                                        };
                                        model.set(status);
                                    }
                                }
                            }>"Classify with it (step 2)"</button>
                        </p>
                    </div>
                }.into_any(),
                _ => ().into_any(),
            }}
        </section>
    }
}
