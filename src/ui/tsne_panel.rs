//! t-SNE of any matrix in the page: drop a CSV / NPY / safetensors file, set the
//! parameters, and watch the map form; pause, resume, cancel, download the coordinates.

use std::cell::Cell;
use std::rc::Rc;

use leptos::html::Canvas;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser_files::{download, file_list_handlers, now_ms, read_file_list, yield_to_browser};
use super::job_driver::{Ended, SteppedJob, drive};
use super::map_workers::{WorkerMap, worker_count};
use super::run_control::Control;
use super::tsne_settings::TsneSettings;
use super::widgets::{select_field, text_field};
use crate::analysis::map_task::MapTask;
use crate::backend::{BackendKind, GpuFailureKind};
use crate::data::matrix::{Matrix, MatrixOptions, read_matrix};
use crate::embed::device_exact::{DEVICE_EXACT_MAX_N, DeviceTsneError};
use crate::embed::optimizer::StepReport;
use crate::embed::preset::TsnePreset;
use crate::embed::runner::{Runner, start};
use crate::embed::{Method, TsneConfig};

/// Iterations between map updates (each one reads the embedding back from the GPU).
const REPORT_EVERY: usize = 10;

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    Preparing,
    Running,
    Paused,
    Done { cancelled: bool },
    Failed(String),
}

/// Distinct labels in order of first appearance, and each row's index among them.
fn classes_of(labels: &[String]) -> (Vec<String>, Vec<usize>) {
    let mut names: Vec<String> = Vec::new();
    let index = labels
        .iter()
        .map(|l| match names.iter().position(|n| n == l) {
            Some(i) => i,
            None => {
                names.push(l.clone());
                names.len() - 1
            }
        })
        .collect();
    (names, index)
}

#[component]
pub fn TsnePanel() -> impl IntoView {
    let app = super::state::app_state();
    let engine = app.engine.get_value();
    let settings = TsneSettings::new(TsnePreset::OpenTsne);
    let label_column = RwSignal::new("label".to_string());
    let drop_columns = RwSignal::new("index".to_string());
    let backend_choice = RwSignal::new("page".to_string());

    let file = StoredValue::new_local(None::<(String, Vec<u8>)>);
    let summary = RwSignal::new(None::<Result<String, String>>);
    let phase = RwSignal::new(Phase::Idle);
    let progress = RwSignal::new(String::new());
    let placement = RwSignal::new(String::new());
    let iteration = RwSignal::new(0usize);
    let kl = RwSignal::new(f64::NAN);
    let coords = RwSignal::new(Vec::<f32>::new());
    let classes = RwSignal::new((Vec::<String>::new(), Vec::<usize>::new()));
    let frames = RwSignal::new(0usize);
    let control = Rc::new(Cell::new(Control::Run));

    let options = move || MatrixOptions {
        key: None,
        label_column: Some(label_column.get_untracked()).filter(|s| !s.trim().is_empty()),
        drop_columns: drop_columns
            .get_untracked()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        missing_columns_ok: true,
    };
    // Parsed when dropped (for the summary), and again at Run only if the label and
    // ignore-column settings changed in between: parsing 100,000 rows takes longer than a
    // frame, and Run is when the page must keep drawing.
    let parsed = StoredValue::new_local(None::<(MatrixOptions, Matrix)>);
    let parse = move || -> Result<(String, Matrix), String> {
        file.with_value(|file| {
            let (name, bytes) = file.as_ref().ok_or("drop a matrix file first")?;
            let options = options();
            if let Some(matrix) =
                parsed.with_value(|p| p.as_ref().filter(|(o, _)| *o == options).map(|(_, m)| m.clone()))
            {
                return Ok((name.clone(), matrix));
            }
            let matrix = read_matrix(bytes, &options).map_err(|e| format!("{name}: {e}"))?;
            parsed.set_value(Some((options, matrix.clone())));
            Ok((name.clone(), matrix))
        })
    };

    let take_files = move |files: Vec<web_sys::File>| {
        spawn_local(async move {
            let Some(loaded) = read_file_list(files).await.into_iter().next() else {
                return;
            };
            match loaded {
                Ok(f) => {
                    file.set_value(Some((f.name, f.bytes)));
                    parsed.set_value(None);
                    summary.set(Some(parse().map(|(name, m)| {
                        let labels = m
                            .labels
                            .as_ref()
                            .map(|l| format!(", {} labels", classes_of(l).0.len()))
                            .unwrap_or_default();
                        format!("{name}: {}{labels}", m.description)
                    })));
                }
                Err(e) => summary.set(Some(Err(e))),
            }
        });
    };
    let (on_drop, on_pick) = file_list_handlers(take_files);

    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move || {
        let points = coords.get();
        let (_, index) = classes.get();
        if let Some(canvas) = canvas.get() {
            super::scatter::draw(&canvas, &points, (index.len() * 2 == points.len()).then_some(&index[..]));
            frames.update_untracked(|f| *f += 1);
            let _ = canvas.set_attribute("data-frames", &frames.get_untracked().to_string());
        }
    });

    let run = {
        let control = control.clone();
        move |_| {
            let (name, matrix) = match parse() {
                Ok(m) => m,
                Err(e) => return phase.set(Phase::Failed(e)),
            };
            let config = match settings.config(matrix.n) {
                Ok(c) => TsneConfig { progress_every: REPORT_EVERY, ..c },
                Err(e) => return phase.set(Phase::Failed(e)),
            };
            let device = match engine.compute_device() {
                Ok((device, BackendKind::Wgpu)) if backend_choice.get_untracked() == "page" => Some(device),
                Ok(_) => None,
                Err(e) => return phase.set(Phase::Failed(e)),
            };
            classes.set(matrix.labels.as_deref().map(classes_of).unwrap_or_default());
            coords.set(Vec::new());
            iteration.set(0);
            kl.set(f64::NAN);
            control.set(Control::Run);
            phase.set(Phase::Preparing);
            progress.set(format!("{name}: PCA and affinities for {} points…", matrix.n));
            let control = control.clone();
            let n_iter = config.n_iter;
            let in_worker = worker_count() > 0
                && !(device.is_some()
                    && config.method.resolve(matrix.n) == Method::Exact
                    && matrix.n <= DEVICE_EXACT_MAX_N);
            spawn_local(async move {
                yield_to_browser().await;
                let started_at = now_ms();
                let show = move |step: &StepReport, points: &[f32]| {
                    iteration.set(step.iteration);
                    if let Some(value) = step.kl {
                        kl.set(value);
                    }
                    coords.set(points.to_vec());
                    let kl_text = step.kl.map(|v| format!(", KL {v:.4}")).unwrap_or_default();
                    progress.set(format!(
                        "iteration {}/{}{kl_text}, {:.1} s",
                        step.iteration,
                        n_iter,
                        (now_ms() - started_at) / 1e3
                    ));
                };
                let result: Result<bool, String> = async {
                    let ended = if in_worker {
                        let task = MapTask { rows: matrix.values, n: matrix.n, columns: matrix.m, config: config.clone(), labels: None };
                        let mut map = WorkerMap::start(task);
                        let Some(started) = map.prepared(|| control.get() == Control::Cancel).await.map_err(|e| e.to_string())? else {
                            return Ok(true);
                        };
                        placement.set(format!(
                            "{} gradient on the CPU, in a background worker (the page stays responsive); P has {} entries",
                            started.method.label(),
                            started.p_nnz
                        ));
                        coords.set(map.coords().to_vec());
                        phase.set(Phase::Running);
                        // Every reply is one burst of the worker's iterations: draw each.
                        drive(&mut map, &control, || phase.set(Phase::Paused), || phase.set(Phase::Running), |map, step| {
                            show(&step, map.coords())
                        })
                        .await
                    } else {
                        let started = start(&matrix.values, matrix.n, matrix.m, &config, device.as_ref())
                            .await
                            .map_err(|e| e.to_string())?;
                        let mut runner = started.runner;
                        placement.set(format!(
                            "{} gradient on the {}{}; P has {} entries",
                            started.method.label(),
                            if runner.on_device() { "GPU (WebGPU)" } else { "CPU, on the page's thread" },
                            if started.pca_on_device { ", PCA on the GPU (WebGPU)" } else { "" },
                            started.p_nnz
                        ));
                        coords.set(runner.embedding());
                        phase.set(Phase::Running);
                        let report = |runner: &Runner, step: StepReport| {
                            if step.kl.is_some() {
                                show(&step, &runner.embedding())
                            }
                        };
                        let paused = || phase.set(Phase::Paused);
                        let resumed = || phase.set(Phase::Running);
                        let ended = drive(&mut runner, &control, paused, resumed, report).await;
                        match ended {
                            // The GPU failed (lost, out of memory): the iterations done are
                            // kept on the CPU side, and the rest run there.
                            Ended::GpuFailed(failure) if runner.on_device() => {
                                let at = runner.iteration();
                                runner = runner.continue_on_cpu();
                                // A lost device is gone for the whole page (as after training).
                                if failure.kind == GpuFailureKind::Lost {
                                    app.backend.set(Some(app.engine.get_value().fall_back_to_cpu(&failure.to_string())));
                                }
                                placement.set(format!(
                                    "{} gradient on the GPU (WebGPU) until iteration {at}, when {}; the rest on the CPU, on the page's thread, from there",
                                    started.method.label(),
                                    failure.kind.headline()
                                ));
                                drive(&mut runner, &control, paused, resumed, report).await
                            }
                            ended => ended,
                        }
                    };
                    match ended {
                        Ended::Finished => Ok(false),
                        Ended::Cancelled => Ok(true),
                        Ended::GpuFailed(failure) => {
                            Err(format!("{failure}. Choose \"the CPU\" under \"run on\" and run it again."))
                        }
                        Ended::Failed(message) => Err(message),
                    }
                }
                .await;
                match result {
                    Ok(cancelled) => {
                        if cancelled {
                            progress.update(|p| p.push_str(" — cancelled"));
                        } else {
                            progress.update(|p| p.push_str(" — done"));
                        }
                        phase.set(Phase::Done { cancelled });
                    }
                    Err(e) => phase.set(Phase::Failed(e)),
                }
            });
        }
    };
    let pause = {
        let control = control.clone();
        move |_| control.set(control.get().toggled())
    };
    let cancel = move |_| control.set(Control::Cancel);
    let busy = move || matches!(phase.get(), Phase::Preparing | Phase::Running | Phase::Paused);
    let save = move |_| {
        let text: String = coords.with_untracked(|c| crate::embed::coordinates_csv(c));
        let _ = download("layerlens-tsne.csv", text.as_bytes(), "text/csv");
    };

    view! {
        <section id="tsne" class="panel drop-zone" on:dragover=|ev: web_sys::DragEvent| ev.prevent_default() on:drop=on_drop>
            <h2>"t-SNE map of a matrix"</h2>
            <p>"Drop a matrix (CSV with one row per observation, .npy, or a one-tensor .safetensors), or "
                <label class="button">"choose a file"
                    <input id="tsne-input" type="file" accept=".csv,.tsv,.txt,.npy,.safetensors" on:change=on_pick />
                </label>". A label column colours the points."
            </p>
            <p id="tsne-summary" class=move || if matches!(summary.get(), Some(Err(_))) { "status error" } else { "status" }>
                {move || match summary.get() { Some(Ok(s)) | Some(Err(s)) => s, None => String::new() }}
            </p>
            <div class="settings">
                {settings.view("tsne", true)}
                {text_field("tsne-label-column", "label column", label_column, 8)}
                {text_field("tsne-drop-columns", "ignore columns", drop_columns, 8)}
                {select_field("tsne-backend", "run on", backend_choice, &[("page", "the page's backend"), ("cpu", "the CPU")])}
            </div>
            <p>
                <button id="tsne-run" on:click=run disabled=busy>"Run t-SNE"</button>" "
                <button id="tsne-pause" on:click=pause disabled=move || !busy()>
                    {move || if phase.get() == Phase::Paused { "Resume" } else { "Pause" }}
                </button>" "
                <button id="tsne-cancel" on:click=cancel disabled=move || !busy()>"Cancel"</button>" "
                <button id="tsne-download" on:click=save disabled=move || !matches!(phase.get(), Phase::Done { .. })>"Download coordinates (CSV)"</button>
            </p>
            <p id="tsne-placement" class="status">{move || placement.get()}</p>
            <p id="tsne-progress" class="status" data-iteration=move || iteration.get() data-kl=move || kl.get()
                data-state=move || match phase.get() {
                    Phase::Idle => "idle", Phase::Preparing => "preparing", Phase::Running => "running",
                    Phase::Paused => "paused", Phase::Done { cancelled: true } => "cancelled",
                    Phase::Done { cancelled: false } => "done", Phase::Failed(_) => "failed",
                }>
                {move || progress.get()}
            </p>
            {move || match phase.get() {
                Phase::Failed(e) => view! { <p id="tsne-error" class="status error">{e}</p> }.into_any(),
                _ => ().into_any(),
            }}
            <canvas node_ref=canvas id="tsne-map" width="560" height="560" data-frames="0"></canvas>
            <p id="tsne-legend" class="legend">
                {move || classes.with(|(names, _)| names.iter().enumerate().map(|(i, name)| view! {
                    <span class="legend-item"><span class=format!("swatch c{}", i % 10)></span>{name.clone()}</span>
                }).collect_view())}
            </p>
        </section>
    }
}

impl SteppedJob for Runner {
    type Report = StepReport;
    type Error = DeviceTsneError;

    async fn step(&mut self) -> Result<StepReport, DeviceTsneError> {
        Runner::step(self).await
    }

    fn is_finished(&self) -> bool {
        Runner::is_finished(self)
    }
}
