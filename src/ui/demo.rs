//! The first screen: what the page does, that nothing leaves the machine, and the three ways in
//! — "Try the demo", "Use your own images", "Load pretrained weights".
//!
//! "Try the demo" loads the embedded demo data set (`demo/`, see `scripts/make-demo`) into step
//! 1, then asks step 3 to fine-tune with the demo's short settings and, when a network comes
//! out, step 4 to analyse it; Explore shows the maps. Each step runs in its own panel, so the
//! user watches (and may pause or cancel) each as it happens.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser_files::{fetch_bytes, yield_to_browser};
use super::dataset_panel::DataSetStatus;
use super::state::{AppState, DemoStep, TrainRequest, app_state};
use super::widgets::text_field;
use crate::data::dataset::DataSetBuilder;
use crate::data::demo::DemoManifest;

/// Where the demo lives in the built site.
const DEMO: &str = "demo";

/// Fetches the demo's manifest and images (`per_class` of each class, all with `None`) and
/// makes them the page's data set, showing the progress in step 1.
async fn load_demo(app: &AppState, per_class: Option<usize>) -> Result<(), String> {
    let manifest = fetch_bytes(&format!("{DEMO}/manifest.json"))
        .await?
        .ok_or("this site has no demo data set (demo/manifest.json is missing)")?;
    let manifest = DemoManifest::parse(&manifest)?;
    let chosen = manifest.select(per_class);
    let mut builder = DataSetBuilder::new();
    for (done, image) in chosen.iter().enumerate() {
        app.data_set.set(DataSetStatus::Reading { done, total: chosen.len() });
        let url = format!("{DEMO}/{}", image.path);
        let bytes = fetch_bytes(&url).await?.ok_or(format!("{url}: not found (HTTP 404)"))?;
        builder.add_file(&url, bytes);
        yield_to_browser().await;
    }
    let data = builder.finish();
    app.data_set.set(DataSetStatus::from_data_set(&data));
    app.engine.get_value().set_data_set(Arc::new(data));
    Ok(())
}

fn scroll_to(id: &str) {
    if let Some(element) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id)) {
        element.scroll_into_view();
    }
}

#[component]
pub fn Welcome() -> impl IntoView {
    let app = app_state();
    let epochs = RwSignal::new("4".to_string());
    let batch = RwSignal::new("16".to_string());
    let per_class = RwSignal::new("all".to_string());
    let message = RwSignal::new(String::new());

    // Training finished (a new network): the analysis comes next.
    Effect::new(move |previous: Option<u32>| {
        let runs = app.trained.get();
        if previous.is_some_and(|p| p != runs) && app.demo.get_untracked() == Some(DemoStep::Training) {
            app.demo.set(Some(DemoStep::Analyzing));
            message.set("Analysing the validation images (step 4); the maps form in Explore below.".into());
            app.analyze_request.update(|n| *n += 1);
        }
        runs
    });
    // The analysis finished: Explore is what the user came for.
    Effect::new(move |_| {
        let finished = app.explore.analysis.with(Option::is_some);
        if finished && app.demo.get_untracked() == Some(DemoStep::Analyzing) {
            app.demo.set(Some(DemoStep::Done));
            message
                .set("Done: hover a point to see its image, click one to see why the network chose its class.".into());
            scroll_to("explore");
        }
    });

    let try_demo = move |_| {
        let settings = (|| -> Result<(TrainRequest, Option<usize>), String> {
            let whole = |what: &str, text: String| -> Result<usize, String> {
                text.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("{what}: `{text}` is not a whole number ≥ 1"))
            };
            let request = TrainRequest {
                epochs: whole("epochs", epochs.get_untracked())?,
                batch_size: whole("mini-batch", batch.get_untracked())?,
            };
            let per_class = per_class.get_untracked();
            let per_class = if per_class.trim().eq_ignore_ascii_case("all") {
                None
            } else {
                Some(whole("images per class", per_class)?)
            };
            Ok((request, per_class))
        })();
        let (request, per_class) = match settings {
            Ok(s) => s,
            Err(e) => {
                app.demo.set(Some(DemoStep::Failed));
                return message.set(e);
            }
        };
        app.demo.set(Some(DemoStep::Loading));
        message.set("Loading the demo's images into step 1…".into());
        scroll_to("dataset");
        spawn_local(async move {
            match load_demo(&app, per_class).await {
                Ok(()) => {
                    let pretrained = app.engine.get_value().has_model();
                    message.set(if pretrained {
                        "Fine-tuning the pretrained network on the demo (step 3)…".into()
                    } else {
                        "Training on the demo (step 3) — from random weights, as this site ships no pretrained ones: expect a low accuracy.".into()
                    });
                    app.demo.set(Some(DemoStep::Training));
                    app.train_request.set(Some(request));
                    scroll_to("training");
                }
                Err(e) => {
                    app.data_set.set(DataSetStatus::Failed(e.clone()));
                    app.demo.set(Some(DemoStep::Failed));
                    message.set(format!("The demo could not start: {e}"));
                }
            }
        });
    };
    let busy = move || matches!(app.demo.get(), Some(DemoStep::Loading | DemoStep::Training | DemoStep::Analyzing));

    view! {
        <section id="welcome" class="welcome">
            <p class="lead">
                "Fine-tune SqueezeNet on your own labelled images, then see how it sees them: "
                "t-SNE maps of an early layer, the last convolution and the class probabilities, where every "
                "point is one of your images — its class, the network's guess, and why."
            </p>
            <p class="private">"Nothing leaves your machine: the images, the network and every computation stay in this tab."</p>
            <p class="actions">
                <button id="try-demo" class="primary" on:click=try_demo disabled=busy>"Try the demo"</button>
                <a class="button" href="#dataset">"Use your own images"</a>
                <a class="button" href="#weights">"Load pretrained weights"</a>
            </p>
            <details class="demo-settings">
                <summary>"Demo settings"</summary>
                <p class="hint">"216 emoji of food and drink in 6 classes, drawn by three open emoji sets on varied backgrounds."</p>
                <div class="settings">
                    {text_field("demo-epochs", "epochs", epochs, 4)}
                    {text_field("demo-batch", "mini-batch", batch, 4)}
                    {text_field("demo-per-class", "images per class (or all)", per_class, 4)}
                </div>
            </details>
            <p id="demo-status" class="status" data-step=move || app.demo.get().map_or("idle".to_string(), |s| format!("{s:?}").to_lowercase())>
                {move || message.get()}
            </p>
        </section>
    }
}
