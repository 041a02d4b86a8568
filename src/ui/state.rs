//! The page's shared state, provided once by the app as a Leptos context so panels read what
//! they need instead of having it threaded through their props.

use leptos::prelude::*;

use super::ModelStatus;
use super::dataset_panel::DataSetStatus;
use super::engine::{BackendInfo, Engine};
use super::explore::ExploreState;

/// What several steps of the workflow look at.
#[derive(Clone)]
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
}

/// The app's state (every component is inside the app).
pub fn app_state() -> AppState {
    use_context::<AppState>().expect("the app provides its state")
}
