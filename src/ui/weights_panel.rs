//! Loading weights: drop or pick a .safetensors/.onnx file, `?weights=URL`, or the weights the
//! site ships in `weights/` (named by `weights/manifest.json`, which `scripts/fetch-weights`
//! writes; a site without it ships none).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ModelStatus;
use super::browser_files::{fetch_bytes, file_list_handlers, query_param, read_file_list};
use super::engine::Engine;
use crate::text_format::thousands;

/// Where the site says which weights it ships.
const MANIFEST: &str = "weights/manifest.json";

/// `weights/manifest.json`: the weights file and its class names, next to the manifest.
#[derive(Debug, serde::Deserialize)]
struct WeightsManifest {
    /// File name of the weights (.safetensors or .onnx) in `weights/`.
    weights: String,
    /// File name of the class names (one per line) in `weights/`, if any.
    classes: Option<String>,
}

/// A plain file name in `weights/` (no path, no scheme): the manifest cannot point elsewhere.
fn in_weights_folder(name: &str) -> Result<String, String> {
    let plain = !name.is_empty() && !name.contains(['/', '\\', ':']) && name != "..";
    if plain { Ok(format!("weights/{name}")) } else { Err(format!("{MANIFEST}: `{name}` is not a file name")) }
}

/// `?weights=` resolved against the page's address, if it is an http(s) URL: a link someone
/// shared must not make the page fetch `javascript:`, `data:`, `blob:` or `file:` addresses,
/// and the person should see the full address the weights come from.
fn weights_url(given: &str) -> Result<String, String> {
    let base = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
    let url =
        web_sys::Url::new_with_base(given.trim(), &base).map_err(|_| format!("?weights={given}: not a web address"))?;
    match url.protocol().as_str() {
        "http:" | "https:" => Ok(url.href()),
        scheme => Err(format!(
            "?weights={given}: only http and https addresses are fetched, not `{}`",
            scheme.trim_end_matches(':')
        )),
    }
}

/// Loads `?weights=URL` if given, else the weights the site's manifest names, if it has one.
pub async fn load_default_weights(engine: &Engine, model: RwSignal<ModelStatus>) {
    if let Some(given) = query_param("weights") {
        let url = match weights_url(&given) {
            Ok(url) => url,
            Err(message) => return model.set(ModelStatus::Failed(message)),
        };
        model.set(ModelStatus::Loading(url.clone()));
        let status = match fetch_bytes(&url).await {
            Ok(Some(bytes)) => load(engine, &url, &bytes),
            Ok(None) => ModelStatus::Failed(format!("{url}: not found (HTTP 404)")),
            Err(e) => ModelStatus::Failed(e),
        };
        model.set(status);
        return;
    }
    let manifest = match fetch_bytes(MANIFEST).await {
        Ok(Some(bytes)) => serde_json::from_slice::<WeightsManifest>(&bytes).map_err(|e| format!("{MANIFEST}: {e}")),
        Ok(None) => return, // The site ships no weights.
        Err(e) => Err(e),
    };
    let status = async {
        let manifest = manifest?;
        let url = in_weights_folder(&manifest.weights)?;
        model.set(ModelStatus::Loading(url.clone()));
        let bytes = fetch_bytes(&url).await?.ok_or(format!("{url}: named by {MANIFEST} but not found (HTTP 404)"))?;
        let status = load(engine, &url, &bytes);
        if let (ModelStatus::Ready(_), Some(classes)) = (&status, manifest.classes) {
            let url = in_weights_folder(&classes)?;
            let text =
                fetch_bytes(&url).await?.ok_or(format!("{url}: named by {MANIFEST} but not found (HTTP 404)"))?;
            engine.set_class_names(&url, &String::from_utf8_lossy(&text))?;
        }
        Ok::<ModelStatus, String>(status)
    }
    .await;
    model.set(status.unwrap_or_else(ModelStatus::Failed));
}

fn load(engine: &Engine, source: &str, bytes: &[u8]) -> ModelStatus {
    match engine.load_weights(source, bytes) {
        Ok(summary) => ModelStatus::Ready(summary),
        Err(e) => ModelStatus::Failed(e),
    }
}

#[component]
pub fn WeightsPanel() -> impl IntoView {
    let app = super::state::app_state();
    let (engine, model, backend) = (app.engine.get_value(), app.model, app.backend);
    let ready = move || backend.get().is_some();
    let names_status = RwSignal::new(String::new());
    let take_files = move |files: Vec<web_sys::File>| {
        let engine = engine.clone();
        spawn_local(async move {
            // Weights first, then a class-names .txt, whatever order they were dropped in.
            let mut files = read_file_list(files).await;
            files.sort_by_key(|f| f.as_ref().is_ok_and(|f| f.name.to_ascii_lowercase().ends_with(".txt")));
            for file in files {
                match file {
                    Ok(file) if file.name.to_ascii_lowercase().ends_with(".txt") => {
                        let text = String::from_utf8_lossy(&file.bytes);
                        names_status.set(match engine.set_class_names(&file.name, &text) {
                            Ok(n) => format!("Class names from {}: {n} classes.", file.name),
                            Err(e) => format!("Class names not used — {e}"),
                        });
                    }
                    Ok(file) => {
                        model.set(ModelStatus::Loading(file.name.clone()));
                        model.set(load(&engine, &file.name, &file.bytes));
                        names_status.set(String::new());
                    }
                    Err(e) => model.set(ModelStatus::Failed(e)),
                }
            }
        });
    };
    let (on_drop, on_pick) = file_list_handlers(take_files);

    view! {
        <section id="weights" class="panel drop-zone" on:dragover=|ev: web_sys::DragEvent| ev.prevent_default() on:drop=on_drop>
            <h2>"2. Network weights"</h2>
            <p>"Drop a SqueezeNet 1.1 weights file here (.safetensors with torchvision names, or .onnx), or "
                <label class="button">"choose one"
                    <input id="weights-input" type="file" accept=".safetensors,.onnx,.txt" multiple on:change=on_pick
                        disabled=move || !ready() />
                </label>". Add a .txt file with one class name per line to name the classes."
            </p>
            <p id="class-names-status" class="status">{move || names_status.get()}</p>
            <p id="model-status" class=move || match model.get() { ModelStatus::Failed(_) => "status error", _ => "status" }>
                {move || match model.get() {
                    ModelStatus::None => "No pretrained weights loaded: fine-tuning would start from random weights, \
                        which needs far more images and epochs to reach a useful accuracy. Drop SqueezeNet 1.1 \
                        weights here (the README says where to get them).".to_string(),
                    ModelStatus::Loading(name) => format!("Loading {name}…"),
                    ModelStatus::Ready(s) => format!(
                        "Loaded {} ({}): {} classes, {} parameters.", s.source, s.format, s.classes, thousands(s.parameters)
                    ),
                    ModelStatus::Failed(e) => format!("Could not load weights — {e}"),
                }}
            </p>
        </section>
    }
}
