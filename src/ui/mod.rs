//! The page (Leptos, client-side rendered). Components show state and forward user actions to
//! the [`engine::Engine`]; no numerics live here.
//!
//! It reads as the steps a person takes — 1 data, 2 network, 3 fine-tune, 4 analyze,
//! 5 explore — with the tools off that path (classify single images, t-SNE of any matrix,
//! speed) below. Shared state lives in one context ([`state::AppState`]).

mod analysis_job;
mod analyze_panel;
mod backend_choice;
mod bench_panel;
mod browser_files;
mod dataset_panel;
mod demo;
mod engine;
mod explore;
mod images_panel;
mod job_driver;
mod map_workers;
mod run_control;
mod scatter;
mod session;
mod session_store;
mod state;
mod training_chart;
mod training_panel;
mod training_run;
mod training_worker;
mod tsne_panel;
mod tsne_settings;
mod weights_panel;
mod widgets;
mod worker_inbox;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::backend::choice::BackendRequest;
use analyze_panel::AnalyzePanel;
use bench_panel::BenchPanel;
use dataset_panel::{DataSetPanel, DataSetStatus};
use engine::{BackendInfo, Engine, ModelSummary};
use explore::{ExplorePanel, ExploreState};
use images_panel::ImagesPanel;
use training_panel::TrainingPanel;
use tsne_panel::TsnePanel;
use weights_panel::WeightsPanel;

/// Mounts the page on `<body>`.
pub fn mount() {
    console_error_panic_hook::set_once();
    // The static first screen of index.html, shown while the wasm downloaded, gives way.
    if let Some(boot) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("boot")) {
        boot.remove();
    }
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
    let explore = ExploreState::new();
    provide_context(state::AppState {
        engine: StoredValue::new_local(engine.clone()),
        backend,
        model,
        data_set,
        trained: RwSignal::new(0),
        explore,
        demo: RwSignal::new(None),
        train_request: RwSignal::new(None),
        analyze_request: RwSignal::new(0),
    });
    provide_context(explore);

    // `?backend=auto|webgpu|cpu`; a value it does not know is said, and auto used.
    let probing = RwSignal::new(None::<String>);
    let (backend_request, backend_param_error) =
        match browser_files::query_param("backend").map(|b| b.parse::<BackendRequest>()) {
            None => (BackendRequest::Auto, None),
            Some(Ok(request)) => (request, None),
            Some(Err(e)) => (BackendRequest::Auto, Some(format!("?backend=: {e}; choosing automatically"))),
        };
    {
        let engine = engine.clone();
        spawn_local(async move {
            let info = engine.start(backend_request, move |adapter| probing.set(Some(adapter.to_string()))).await;
            backend.set(Some(info));
            weights_panel::load_default_weights(&engine, model).await;
        });
    }
    // `?synthetic-points=N`: Explore filled with N synthetic points, to measure its frame
    // times at scale (benches/explore_bench.mjs).
    if let Some(n) = browser_files::query_param("synthetic-points").and_then(|n| n.parse::<usize>().ok()) {
        explore::synthetic::fill(&explore, n.min(1_000_000));
    }

    view! {
        <header>
            <h1>"layerlens"</h1>
            <p class="tagline">"See how SqueezeNet sees your images — in your browser, nothing uploaded."</p>
            <backend_choice::BackendLine backend probing request=backend_request />
            {backend_param_error.map(|e| view! { <p class="status error">{e}</p> })}
        </header>
        <nav class="steps">
            <a href="#dataset">"1 Data"</a>" → "<a href="#weights">"2 Network"</a>" → "<a href="#training">"3 Fine-tune"</a>
            " → "<a href="#analyze">"4 Analyze"</a>" → "<a href="#explore">"5 Explore"</a>
        </nav>
        <main>
            <demo::Welcome />
            <session::SessionBar />
            <DataSetPanel />
            <WeightsPanel />
            <TrainingPanel />
            <AnalyzePanel />
            <ExplorePanel />
            <h2 class="tools-title">"Tools"</h2>
            <ImagesPanel />
            <TsnePanel />
            <BenchPanel />
        </main>
    }
}
