//! The header's backend line: which device computes and why, and the person's choice of it.
//!
//! burn takes one WebGPU device per page, so a different choice reloads the page with
//! `?backend=` set; the session saved after each finished step is offered back after it.

use leptos::prelude::*;

use super::engine::BackendInfo;
use crate::backend::choice::BackendRequest;

/// The choices, as (`?backend=` value, label).
const CHOICES: [(BackendRequest, &str); 3] =
    [(BackendRequest::Auto, "the faster (auto)"), (BackendRequest::WebGpu, "WebGPU"), (BackendRequest::Cpu, "CPU")];

/// "Backend: CPU (why)" with a drop-down to choose. `probing` names the adapter while the
/// start-up probe times it against the CPU.
#[component]
pub fn BackendLine(
    backend: RwSignal<Option<BackendInfo>>,
    probing: RwSignal<Option<String>>,
    request: BackendRequest,
) -> impl IntoView {
    let choose = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if let Err(e) = reload_with_backend(&value) {
            leptos::logging::error!("could not switch the backend: {e}");
        }
    };
    view! {
        <div class="backend-row">
        <p id="backend" class="backend">
            {move || match (backend.get(), probing.get()) {
                (Some(info), _) => format!("Backend: {} ({})", info.kind, info.detail),
                (None, Some(adapter)) => format!("Starting: timing WebGPU on {adapter} against the CPU…"),
                (None, None) => "Starting: looking for a WebGPU adapter…".to_string(),
            }}
        </p>
        <label class="backend-choice" title="Switching reloads the page; the work saved after each finished step is offered back.">
            "compute on "
            <select id="backend-choice" on:change=choose>
                {CHOICES.iter().map(|&(choice, label)| view! {
                    <option value=choice.as_param() selected=choice == request>{label}</option>
                }).collect_view()}
            </select>
        </label>
        </div>
    }
}

/// Reloads the page with `?backend=value`, keeping its other parameters.
fn reload_with_backend(value: &str) -> Result<(), String> {
    let location = web_sys::window().ok_or("no window")?.location();
    let url = web_sys::Url::new(&location.href().map_err(|e| format!("{e:?}"))?).map_err(|e| format!("{e:?}"))?;
    url.search_params().set("backend", value);
    location.set_href(&url.href()).map_err(|e| format!("{e:?}"))
}
