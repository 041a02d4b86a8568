//! The page (Leptos, client-side rendered). Components show state and forward user actions to
//! the [`engine::Engine`]; no numerics live here.

mod bench_panel;
mod dataset_panel;
mod browser_files;
mod engine;
mod images_panel;
mod training_chart;
mod training_panel;
mod training_run;
mod run_control;
mod scatter;
mod tsne_panel;
mod weights_panel;

use leptos::prelude::*;
use leptos::task::spawn_local;

use bench_panel::BenchPanel;
use dataset_panel::{DataSetPanel, DataSetStatus};
use engine::{BackendInfo, Engine, ModelSummary};
use images_panel::ImagesPanel;
use training_panel::TrainingPanel;
use tsne_panel::TsnePanel;
use weights_panel::WeightsPanel;

/// Mounts the page on `<body>`.
pub fn mount() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// Where the model stands, as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStatus {
    None,
    Loading(String),
    Ready(ModelSummary),
    Failed(String),
}

#[component]
fn App() -> impl IntoView {
    let engine = Engine::default();
    let backend = RwSignal::new(None::<BackendInfo>);
    let model = RwSignal::new(ModelStatus::None);
    let data_set = RwSignal::new(DataSetStatus::Empty);

    {
        let engine = engine.clone();
        spawn_local(async move {
            let force_cpu = browser_files::query_param("backend").is_some_and(|b| b.eq_ignore_ascii_case("cpu"));
            let info = engine.start(force_cpu).await;
            backend.set(Some(info));
            weights_panel::load_default_weights(&engine, model).await;
        });
    }

    view! {
        <header>
            <h1>"layerlens"</h1>
            <p class="tagline">"See how SqueezeNet sees your images — in your browser, nothing uploaded."</p>
            <p id="backend" class="backend">
                {move || match backend.get() {
                    None => "Starting: looking for a WebGPU adapter…".to_string(),
                    Some(info) => format!("Backend: {} ({})", info.kind, info.detail),
                }}
            </p>
        </header>
        <main>
            <WeightsPanel engine=engine.clone() model=model ready=Signal::derive(move || backend.get().is_some()) />
            <ImagesPanel engine=engine.clone() />
            <DataSetPanel engine=engine.clone() status=data_set />
            <TrainingPanel engine=engine.clone() data_set=data_set model=model backend=backend />
            <TsnePanel engine=engine.clone() />
            <BenchPanel engine=engine backend=backend model=model />
        </main>
    }
}
