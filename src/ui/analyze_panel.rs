//! Step 5, Analyze: runs the core's `Analyzer` on the validation images — activations chunk by
//! chunk, then one t-SNE per layer with its map drawn live in Explore — with progress per
//! stage, Pause/Resume/Cancel, and every setting editable (layers, preset, iterations,
//! perplexity, seed).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::analysis_job::AnalysisJob;
use super::browser_files::yield_to_browser;
use super::explore::{ExploreData, MapState, thumbnail_urls};
use super::job_driver::{Ended, drive};
use super::map_workers::{MapWorkers, worker_count};
use super::run_control::Control;
use super::state::app_state;
use super::training_worker::training_in_worker;
use super::tsne_settings::TsneSettings;
use super::widgets::{gpu_report, text_field};
use crate::analysis::{AnalysisConfig, AnalysisStep, Analyzer};
use crate::backend::{BackendKind, GpuFailure, GpuFailureKind, Host, PassSizes, Recovery, is_cpu};
use crate::embed::preset::TsnePreset;
use crate::model::layers::Layer;
use crate::served::activations::ActivationTask;

/// Iterations between live redraws of a map.
const REDRAW_EVERY: usize = 10;

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    Running,
    Paused,
    Done,
    Cancelled,
    /// The GPU failed while `pass` images went through the network at a time.
    Interrupted {
        failure: GpuFailure,
        pass: usize,
    },
    Failed(String),
}

/// How to start an analysis: normally on the page's backend with its pass size; after a GPU
/// failure, on the CPU or with smaller passes.
#[derive(Debug, Clone, Copy, Default)]
struct Launch {
    on_cpu: bool,
    pass: Option<usize>,
}

#[component]
pub fn AnalyzePanel() -> impl IntoView {
    let app = app_state();
    let explore = app.explore;
    let engine = app.engine.get_value();
    let layers = RwSignal::new("pool1, conv10, prob".to_string());
    let tsne = TsneSettings::new(TsnePreset::Matlab);
    let fraction = RwSignal::new("0.65".to_string());
    let phase = RwSignal::new(Phase::Idle);
    let progress = RwSignal::new(String::new());
    let stage = RwSignal::new("idle".to_string());
    let source = RwSignal::new(String::new());
    let control = Rc::new(Cell::new(Control::Run));

    let settings = move |n: usize| -> Result<AnalysisConfig, String> {
        let chosen: Vec<Layer> = layers
            .get_untracked()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Layer>().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let mut unique = Vec::new();
        for layer in chosen {
            if !unique.contains(&layer) {
                unique.push(layer);
            }
        }
        let mut config = AnalysisConfig::new(tsne.preset.get_untracked(), n, tsne.seed()?);
        config.layers = unique;
        config.tsne = tsne.config(n)?;
        config.tsne.progress_every = REDRAW_EVERY;
        Ok(config)
    };

    let launch = {
        let control = control.clone();
        move |how: Launch| {
            let fraction_value = match fraction.get_untracked().trim().parse::<f64>() {
                Ok(f) if f > 0.0 && f < 1.0 => f,
                _ => {
                    return phase.set(Phase::Failed("training fraction: a number between 0 and 1".into()));
                }
            };
            let seed_value = tsne.seed().unwrap_or(0);
            // A lost device is gone for the whole page: everything moves to the CPU.
            if how.on_cpu
                && app.backend.get_untracked().is_some_and(|b| b.kind != BackendKind::Cpu)
                && let Phase::Interrupted { failure, .. } = phase.get_untracked()
                && failure.kind == GpuFailureKind::Lost
            {
                app.backend.set(Some(engine.fall_back_to_cpu(&failure.to_string())));
            }
            let inputs = match engine.analysis_inputs(fraction_value, seed_value, how.on_cpu) {
                Ok(inputs) => inputs,
                Err(e) => return phase.set(Phase::Failed(e)),
            };
            let mut config = match settings(inputs.images.len()) {
                Ok(config) => config,
                Err(e) => return phase.set(Phase::Failed(e)),
            };
            config.chunk = how.pass.unwrap_or(PassSizes::for_device(&inputs.device, Host::PageThread).inference);
            let workers = worker_count().min(config.layers.len());
            config.delegate_maps = workers > 0;
            let pass = config.chunk;
            // On the CPU the activations are computed in the training worker, from the
            // network's weights (which every loaded or trained network keeps).
            let worker_task = match &inputs.weights {
                Some(weights) if is_cpu(&inputs.device) && training_in_worker() => {
                    match ActivationTask::new(
                        weights,
                        &inputs.data,
                        inputs.images.clone(),
                        config.layers.clone(),
                        config.chunk,
                        config.budget,
                    ) {
                        Ok(task) => Some(task),
                        Err(e) => return phase.set(Phase::Failed(format!("the network's weights: {e}"))),
                    }
                }
                _ => None,
            };
            let place = match (is_cpu(&inputs.device), worker_task.is_some()) {
                (true, true) => "the CPU, in a background worker",
                (true, false) => "the CPU",
                (false, _) => "the GPU",
            };
            let maps = match workers {
                0 => "the maps one after another on the page's thread".to_string(),
                1 => "the maps in a background worker".to_string(),
                w => format!("the maps in {w} background workers, side by side"),
            };
            source.set(format!(
                "Analysing {}: the activations on {place}, {}; {maps}.",
                inputs.description,
                per_pass(pass)
            ));
            explore.clear();
            explore.hidden.set(vec![false; inputs.data.classes.len()]);
            explore.maps.set(
                config
                    .layers
                    .iter()
                    .map(|&layer| MapState {
                        layer,
                        width: 0,
                        coords: Vec::new(),
                        quality: None,
                        notes: Vec::new(),
                        status: "waiting for the activations".into(),
                    })
                    .collect(),
            );
            let data = inputs.data.clone();
            let images = inputs.images.clone();
            let workers = (workers > 0).then(|| MapWorkers::new(workers));
            let job = match worker_task {
                Some(task) => Analyzer::awaiting_activations(
                    inputs.data,
                    inputs.images,
                    inputs.network_classes,
                    inputs.device,
                    config,
                )
                .map(|analyzer| AnalysisJob::new(analyzer, workers).with_activations_in_worker(task, data.clone())),
                None => {
                    Analyzer::new(inputs.data, inputs.images, inputs.net, inputs.network_classes, inputs.device, config)
                        .map(|analyzer| AnalysisJob::new(analyzer, workers))
                }
            };
            let mut job = match job {
                Ok(job) => job,
                Err(e) => return phase.set(Phase::Failed(e.to_string())),
            };
            control.set(Control::Run);
            phase.set(Phase::Running);
            stage.set("activations".into());
            progress.set(format!("Activations: 0/{} images…", images.len()));
            let control = control.clone();
            spawn_local(async move {
                yield_to_browser().await;
                let started = js_sys::Date::now();
                let mut published = false;
                let ended = drive(
                    &mut job,
                    &control,
                    || phase.set(Phase::Paused),
                    || phase.set(Phase::Running),
                    |job, step| {
                        // The predictions and class maps, as soon as the analyzer has them
                        // (after the last chunk, or when the worker's rows arrive).
                        if !published && !job.analyzer().predictions().is_empty() {
                            published = true;
                            let analyzer = job.analyzer();
                            let (class_maps, side) =
                                analyzer.class_maps().map(|(m, s)| (m.to_vec(), s)).unwrap_or_default();
                            explore.data.set(Some(Arc::new(ExploreData {
                                classes: data.classes.clone(),
                                network_classes: analyzer.network_classes().to_vec(),
                                same_classes: analyzer.network_classes() == &data.classes[..],
                                predictions: analyzer.predictions().to_vec(),
                                files: images.iter().map(|&i| data.images[i].path.clone()).collect(),
                                thumbnails: thumbnail_urls(&data, &images),
                                class_maps,
                                class_map_side: side,
                            })));
                        }
                        match step {
                            AnalysisStep::Activations { done, total } => {
                                progress.set(format!("Activations: {done}/{total} images…"));
                            }
                            AnalysisStep::Reducing { index, layer, done, total } => {
                                stage.set(format!("reduce-{layer}"));
                                let status = format!(
                                    "rotating {total} values per image onto their principal axes: {}%",
                                    100 * done / total.max(1)
                                );
                                progress.set(format!("{layer}: {status}"));
                                explore.maps.update(|maps| maps[index].status = status);
                            }
                            AnalysisStep::MapStarted { index, layer, .. } => {
                                stage.set(format!("tsne-{layer}"));
                                progress.set(format!("t-SNE of {layer}: starting…"));
                                explore.maps.update(|maps| maps[index].status = "preparing the t-SNE…".into());
                            }
                            AnalysisStep::Iteration { index, iteration, iterations, kl } => {
                                // In-step maps report every iteration: redraw on the KL reports
                                // only. A worker's report is already one burst of iterations.
                                if (kl.is_some() || job.uses_workers())
                                    && let Some(coords) = job.live_map(index)
                                {
                                    let layer = job.analyzer().config().layers[index];
                                    let status = match kl {
                                        Some(kl) => format!("iteration {iteration}/{iterations}, KL {kl:.3}"),
                                        None => format!("iteration {iteration}/{iterations}"),
                                    };
                                    progress.set(format!("t-SNE of {layer}: {status}"));
                                    explore.maps.update(|maps| {
                                        maps[index].coords = coords;
                                        maps[index].status = status;
                                    });
                                }
                            }
                            AnalysisStep::MapFinished { index } => {
                                if let Some(map) = job.analyzer().map(index) {
                                    let map = MapState::from(map);
                                    explore.maps.update(|maps| maps[index] = map);
                                }
                            }
                            AnalysisStep::MapTaskReady { .. } | AnalysisStep::Finished => {}
                        }
                    },
                )
                .await;
                let seconds = (js_sys::Date::now() - started) / 1e3;
                match ended {
                    Ended::Finished | Ended::Cancelled => {
                        let analysis = job.finish();
                        let maps_done = analysis.maps.len();
                        explore.analysis.set(Some(Arc::new(analysis)));
                        if ended == Ended::Cancelled {
                            stage.set("cancelled".into());
                            progress
                                .set(format!("Cancelled after {seconds:.0} s; {maps_done} map(s) finished and kept."));
                            phase.set(Phase::Cancelled);
                        } else {
                            stage.set("done".into());
                            progress.set(format!("Done in {seconds:.1} s."));
                            phase.set(Phase::Done);
                        }
                    }
                    Ended::GpuFailed(failure) => {
                        stage.set("interrupted".into());
                        phase.set(Phase::Interrupted { failure, pass });
                    }
                    Ended::Failed(message) => {
                        stage.set("failed".into());
                        phase.set(Phase::Failed(format!("The analysis stopped: {message}")));
                    }
                }
            });
        }
    };
    let launch = StoredValue::new_local(launch);
    let run = move |_| launch.with_value(|go| go(Launch::default()));
    // Another part of the page (the demo) asks for an analysis.
    Effect::new(move |previous: Option<u32>| {
        let asked = app.analyze_request.get();
        if previous.is_some_and(|p| p != asked) && !matches!(phase.get_untracked(), Phase::Running | Phase::Paused) {
            launch.with_value(|go| go(Launch::default()));
        }
        asked
    });
    let pause = {
        let control = control.clone();
        move |_| control.set(control.get().toggled())
    };
    let cancel = move |_| control.set(Control::Cancel);
    let busy = move || matches!(phase.get(), Phase::Running | Phase::Paused);
    let trained = app.trained;
    let model = app.model;
    let data_set = app.data_set;
    let has_data = move || matches!(data_set.get(), super::dataset_panel::DataSetStatus::Ready { .. });
    let has_net = move || trained.get() > 0 || matches!(model.get(), super::ModelStatus::Ready(_));
    let needs = move || {
        let (has_data, has_net) = (has_data(), has_net());
        match (has_data, has_net) {
            (false, _) => {
                "Needs a labelled data set (step 1) and a network: fine-tune one (step 3) or load weights (step 2)."
            }
            (true, false) => "Needs a network: fine-tune one (step 3) or load weights (step 2).",
            (true, true) if trained.get() > 0 => {
                "Ready: analyses the network fine-tuned in step 3 on its validation images."
            }
            (true, true) => {
                "Ready: analyses the loaded network on the validation split below (it was not fine-tuned here)."
            }
        }
    };

    view! {
        <section id="analyze" class="panel">
            <h2>"4. Analyze"</h2>
            <p id="analysis-needs" class="status">{needs}</p>
            <p class="hint">{move || match app.backend.get() {
                Some(info) if info.kind == BackendKind::Wgpu => format!(
                    "Runs on {}: the activations and the PCA of wide layers on the GPU; Barnes-Hut and FFT t-SNE iterations on the CPU, each map in a background worker.",
                    info.kind.label()
                ),
                Some(_) => "Runs on the CPU: the activations on the page's own thread in short steps (the page stays usable, if slower), each layer's t-SNE in a background worker.".to_string(),
                None => String::new(),
            }}</p>
            <div class="settings">
                {text_field("analysis-layers", "layers", layers, 22)}
                {tsne.view("analysis", false)}
                {text_field("analysis-fraction", "training fraction (without fine-tuning)", fraction, 5)}
            </div>
            <p>
                <button id="analyze-run" on:click=run disabled=move || busy() || !has_data() || !has_net()>"Analyze"</button>" "
                <button id="analyze-pause" on:click=pause disabled=move || !busy()>
                    {move || if phase.get() == Phase::Paused { "Resume" } else { "Pause" }}
                </button>" "
                <button id="analyze-cancel" on:click=cancel disabled=move || !busy()>"Cancel"</button>
            </p>
            <p id="analysis-source" class="status">{move || source.get()}</p>
            <p id="analysis-progress" class="status" data-stage=move || stage.get()>{move || progress.get()}</p>
            {move || match phase.get() {
                Phase::Failed(e) => view! { <p id="analysis-error" class="status error">{e}</p> }.into_any(),
                Phase::Interrupted { failure, pass } => {
                    let message = format!("The analysis stopped: {}. {} Either way it starts again from the first image.", failure.kind.headline(), failure.advice());
                    let options = failure.recoveries(pass).into_iter().map(|recovery| match recovery {
                        Recovery::SmallerPasses { images_per_pass } => view! {
                            <button id="analysis-continue-gpu" on:click=move |_| launch.with_value(|go| go(Launch { on_cpu: false, pass: Some(images_per_pass) }))>
                                {format!("Run it again on the GPU, {}", per_pass(images_per_pass))}
                            </button>" "
                        }.into_any(),
                        Recovery::Cpu => view! {
                            <button id="analysis-continue-cpu" on:click=move |_| launch.with_value(|go| go(Launch { on_cpu: true, pass: None }))>
                                "Run it on the CPU"
                            </button>
                        }.into_any(),
                    }).collect_view();
                    view! {
                        <div id="analysis-interrupted" class="status error" data-kind=format!("{:?}", failure.kind)>
                            <p id="analysis-failure">{message}</p>
                            {gpu_report(&failure)}
                            <p>{options}</p>
                        </div>
                    }.into_any()
                }
                _ => ().into_any(),
            }}
        </section>
    }
}

/// "1 image per pass", "8 images per pass".
fn per_pass(images: usize) -> String {
    format!("{images} image{} per pass", if images == 1 { "" } else { "s" })
}
