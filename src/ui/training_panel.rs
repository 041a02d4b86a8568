//! Fine-tuning in the page: settings, start / pause / resume / cancel, the live progress plot,
//! and the results (accuracy, confusion matrix, downloads).

use std::cell::Cell;
use std::rc::Rc;

use burn::prelude::Device;
use leptos::html::Canvas;
use leptos::prelude::*;

use super::ModelStatus;
use super::browser_files::download;
use super::dataset_panel::DataSetStatus;
use super::run_control::Control;
use super::state::app_state;
use super::training_run::{Phase, ResumePoint, RunOutputs, interruption_message};
use super::training_worker::training_in_worker;
use super::widgets::{gpu_report, text_field};
use crate::backend::{BackendKind, GpuFailureKind, Host, PassSizes, Recovery, cpu_device};
use crate::data::augment::Augmentation;
use crate::data::split::split_each_label;
use crate::served::training::TrainTask;
use crate::train::{EpochMetrics, IterationMetrics, TrainConfig, Trainer};

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{:.0} %", v * 100.0))
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, String> {
    text.trim().parse().map_err(|_| format!("{what}: `{text}` is not a valid number"))
}

/// The page's pass sizes for training on `device`.
fn page_passes(config: TrainConfig, device: &Device) -> TrainConfig {
    let passes = PassSizes::for_device(device, Host::PageThread);
    TrainConfig { micro_batch: passes.training, evaluation_chunk: passes.inference, ..config }
}

#[component]
pub fn TrainingPanel() -> impl IntoView {
    let app = app_state();
    let (data_set, model, backend) = (app.data_set, app.model, app.backend);
    let engine = app.engine.get_value();
    let engine_for_use = app.engine;
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
            augmentation: Augmentation {
                flip_left_right: flip_lr.get_untracked(),
                flip_up_down: flip_ud.get_untracked(),
                scale_range,
            },
            ..TrainConfig::default()
        };
        if config.epochs == 0 || config.batch_size == 0 || config.learning_rate.is_nan() || config.learning_rate <= 0.0
        {
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
        engine: engine.clone(),
        trained: app.trained,
    };

    let start = StoredValue::new_local({
        let outputs = outputs.clone();
        move || {
            let config = match settings() {
                Ok(c) => c,
                Err(e) => return phase.set(Phase::Failed(e)),
            };
            let (data, net, pretrained, device) = match engine.training_inputs() {
                Ok(inputs) => inputs,
                Err(e) => return phase.set(Phase::Failed(e)),
            };
            let what = if pretrained {
                "Fine-tuning the loaded network (new final layer for your classes)."
            } else {
                "No pretrained weights are loaded: training from scratch (random weights)."
            };
            let config = page_passes(config, &device);
            let on_cpu = matches!(engine.compute_device(), Ok((_, BackendKind::Cpu)));
            let in_worker = on_cpu && training_in_worker();
            note.set(if in_worker { format!("{what} On the CPU, in a background worker.") } else { what.into() });
            if in_worker {
                // Refused data sets are told at once, without starting a worker for them.
                if let Err(e) = split_each_label(&data, config.train_fraction, config.seed) {
                    return phase.set(Phase::Failed(e.to_string()));
                }
                match TrainTask::new(engine.loaded_weights().as_ref(), &data, config) {
                    Ok(task) => {
                        iterations.set(Vec::new());
                        epoch_points.set(Vec::new());
                        outputs.launch_in_worker(task, data);
                    }
                    Err(e) => phase.set(Phase::Failed(e)),
                }
                return;
            }
            match Trainer::new(data.clone(), net, &device, config.clone()) {
                Ok(trainer) => {
                    iterations.set(Vec::new());
                    epoch_points.set(Vec::new());
                    outputs.launch(trainer, data, config);
                }
                Err(e) => phase.set(Phase::Failed(e.to_string())),
            }
        }
    });
    // Another part of the page (the demo) asks for a run: its settings go into the fields first.
    Effect::new(move |_| {
        if let Some(request) = app.train_request.get() {
            app.train_request.set(None);
            epochs.set(request.epochs.to_string());
            batch.set(request.batch_size.to_string());
            if !matches!(phase.get_untracked(), Phase::Running | Phase::Paused) {
                start.with_value(|go| go());
            }
        }
    });
    // Goes on from the last finished epoch after a GPU failure: on the GPU with the given
    // mini-batch, or on the CPU (`None`).
    let resume = StoredValue::new_local({
        let outputs = outputs.clone();
        let engine = engine_for_use;
        move |on_gpu: Option<(usize, usize)>| {
            let Some(point) = resume_point.get_value() else {
                return;
            };
            let (device, config) = match on_gpu {
                Some((batch_size, micro_batch)) => {
                    point.device.memory_cleanup();
                    batch.set(batch_size.to_string());
                    (point.device.clone(), TrainConfig { batch_size, micro_batch, ..point.config.clone() })
                }
                None => {
                    if point.failure.kind == GpuFailureKind::Lost {
                        backend.set(Some(engine.get_value().fall_back_to_cpu(&point.failure.to_string())));
                    } else {
                        // The GPU still works for the rest of the page: give back what training held.
                        point.device.memory_cleanup();
                    }
                    let device = cpu_device();
                    (device.clone(), page_passes(point.config.clone(), &device))
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
    // CPU training runs in the training worker: started and warmed up while the user looks at
    // the data set.
    let worker_ready = RwSignal::new(false);
    Effect::new(move || {
        let on_cpu = backend.with(|b| b.as_ref().is_some_and(|b| b.kind == BackendKind::Cpu));
        if data_ready() && on_cpu && training_in_worker() {
            super::training_worker::warm_up(move || worker_ready.set(true));
        }
    });

    view! {
        <section id="training" class="panel" data-training-worker=move || if worker_ready.get() { "ready" } else { "" }>
            <h2>"3. Fine-tune"</h2>
            <div class="settings">
                {text_field("epochs", "epochs", epochs, 7)}
                {text_field("batch-size", "mini-batch", batch, 7)}
                {text_field("learning-rate", "learning rate", rate, 7)}
                {text_field("train-fraction", "training fraction", fraction, 7)}
                {text_field("seed", "seed", seed, 7)}
                <label class="setting"><input id="flip-lr" type="checkbox" prop:checked=move || flip_lr.get()
                    on:change=move |ev| flip_lr.set(event_target_checked(&ev)) />" flip left-right"</label>
                <label class="setting"><input id="flip-ud" type="checkbox" prop:checked=move || flip_ud.get()
                    on:change=move |ev| flip_ud.set(event_target_checked(&ev)) />" flip up-down"</label>
                <label class="setting"><input id="scale" type="checkbox" prop:checked=move || scale.get()
                    on:change=move |ev| scale.set(event_target_checked(&ev)) />" scale 0.8–1.2"</label>
            </div>
            <p>
                <button id="train-start" on:click=move |_| start.with_value(|go| go()) disabled=move || running() || !data_ready()>"Train"</button>" "
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
                    // GPU memory follows the images per pass: the core offers half the pass
                    // where the GPU still works; the mini-batch is halved with it.
                    let smaller = failure.recoveries(pass).into_iter().find_map(|r| match r {
                        Recovery::SmallerPasses { images_per_pass } => Some(((batch / 2).max(1), images_per_pass)),
                        Recovery::Cpu => None,
                    });
                    view! {
                        <div id="train-interrupted" class="status error" data-kind=format!("{:?}", failure.kind)>
                            <p id="train-failure">{interruption_message(&failure, epochs_done, iteration)}</p>
                            {gpu_report(&failure)}
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
                            }>"Classify images with it"</button>
                        </p>
                    </div>
                }.into_any(),
                _ => ().into_any(),
            }}
        </section>
    }
}
