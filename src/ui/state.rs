//! The page's shared state, provided once by the app as a Leptos context so panels read what
//! they need instead of having it threaded through their props.

use leptos::prelude::*;

use super::ModelStatus;
use super::dataset_panel::DataSetStatus;
use super::engine::{BackendInfo, Engine};
use super::explore::ExploreState;

/// What several steps of the workflow look at.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The page's handle on the core (not `Send`: held in local storage, cloned out to use).
    pub engine: StoredValue<Engine, LocalStorage>,
    pub backend: RwSignal<Option<BackendInfo>>,
    pub model: RwSignal<ModelStatus>,
    pub data_set: RwSignal<DataSetStatus>,
    /// Counts finished training runs (the analysis offers the newest network).
    pub trained: RwSignal<u32>,
    /// The analysis shown in Explore.
    pub explore: ExploreState,
    /// Where "Try the demo" is (None when it is not running).
    pub demo: RwSignal<Option<DemoStep>>,
    /// Asks the training panel to start a run with these settings (the demo's).
    pub train_request: RwSignal<Option<TrainRequest>>,
    /// Asks the analysis panel to start, each time it changes (the demo does).
    pub analyze_request: RwSignal<u32>,
}

/// The steps "Try the demo" goes through, each in its own panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoStep {
    Loading,
    Training,
    Analyzing,
    Done,
    Failed,
}

/// Settings another part of the page asks the training panel to run with; the panel's fields
/// show them, so the user sees (and may change for a next run) what ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainRequest {
    pub epochs: usize,
    pub batch_size: usize,
}

/// The app's state (every component is inside the app).
pub fn app_state() -> AppState {
    use_context::<AppState>().expect("the app provides its state")
}
