//! Sessions in the page: the newest is saved in the browser as each step finishes (data set
//! read, network fine-tuned, analysis done) and offered back after a reload; "Export session"
//! downloads it as one file that "Import session" restores in any browser; "Forget this
//! session" clears the browser's copy. The file itself is [`crate::session`]'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use js_sys::{Array, Object, Reflect, Uint8Array};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::browser_files::{download, read_file_list, yield_to_browser};
use super::dataset_panel::DataSetStatus;
use super::state::{AppState, app_state};
use crate::analysis::Analysis;
use crate::data::dataset::DataSet;
use crate::session::{Session, SessionSummary, TrainedNetwork};

#[wasm_bindgen(module = "/src/ui/session_store.js")]
extern "C" {
    #[wasm_bindgen(js_name = saveSession)]
    fn save_session(bytes: &Uint8Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = loadSession)]
    fn load_session() -> js_sys::Promise;
    #[wasm_bindgen(js_name = forgetSession)]
    fn forget_session() -> js_sys::Promise;
    #[wasm_bindgen(js_name = collectSettings)]
    fn collect_settings() -> Object;
    #[wasm_bindgen(js_name = applySettings)]
    fn apply_settings(settings: &Object);
}

/// Said after "Restored …" once the restored session is this browser's saved one.
const KEPT: &str = " Kept in this browser.";

/// The name of an exported session file.
const EXPORT_NAME: &str = "layerlens-session.zip";

/// What the session bar says; `data-state` carries the kind for tests and styles.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Idle,
    Working(String),
    Saved(String),
    Restored(String),
    Failed(String),
    Forgotten,
}

impl Status {
    fn kind(&self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Working(_) => "working",
            Status::Saved(_) => "saved",
            Status::Restored(_) => "restored",
            Status::Failed(_) => "failed",
            Status::Forgotten => "forgotten",
        }
    }

    fn text(&self) -> String {
        match self {
            Status::Idle => "Each step you finish is kept in this browser, so a reload loses nothing.".into(),
            Status::Working(what) | Status::Saved(what) | Status::Restored(what) | Status::Failed(what) => what.clone(),
            Status::Forgotten => {
                "Forgotten: this browser keeps no session now (this tab still shows it until you reload).".into()
            }
        }
    }
}

async fn awaited(promise: js_sys::Promise) -> Result<JsValue, String> {
    JsFuture::from(promise).await.map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))
}

/// "36 images in 6 classes, a fine-tuned network and its analysis".
fn describe(summary: &SessionSummary) -> String {
    let mut text = format!("{} images in {} classes", summary.images, summary.classes);
    match (summary.trained, summary.analysed) {
        (true, true) => text.push_str(", a fine-tuned network and its analysis"),
        (true, false) => text.push_str(" and a fine-tuned network"),
        (false, true) => text.push_str(" and an analysis"),
        (false, false) => {}
    }
    text
}

fn clock(ms: f64) -> String {
    js_sys::Date::new(&JsValue::from_f64(ms)).to_locale_string("en-GB", &JsValue::UNDEFINED).into()
}

fn settings_now() -> BTreeMap<String, String> {
    Object::entries(&collect_settings())
        .iter()
        .filter_map(|entry| {
            let pair = Array::from(&entry);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

fn settings_object(settings: &BTreeMap<String, String>) -> Object {
    let object = Object::new();
    for (id, value) in settings {
        let _ = Reflect::set(&object, &JsValue::from_str(id), &JsValue::from_str(value));
    }
    object
}

/// Whether an analysis was made on this data set (and not on one the page held before).
fn analysis_of(analysis: &Analysis, data: &DataSet) -> bool {
    analysis.files.len() == data.images.len() && analysis.files.iter().zip(&data.images).all(|(f, i)| *f == i.path)
}

/// The page's session as it stands: `None` before there is a data set.
fn snapshot(app: &AppState) -> Option<Session> {
    let engine = app.engine.get_value();
    let data = engine.data_set()?;
    let trained = engine.trained_on_current_data().map(|(weights, validation)| TrainedNetwork { weights, validation });
    let analysis = app.explore.analysis.get_untracked().filter(|a| analysis_of(a, &data)).map(|a| (*a).clone());
    Some(Session { saved_at_ms: js_sys::Date::now(), data: Some(data), trained, analysis, settings: settings_now() })
}

/// Puts a session back into the page: the data set into step 1, the network into step 3's
/// result, the analysis into Explore, the settings into their fields.
fn restore(app: &AppState, session: Session) -> Result<(), String> {
    let engine = app.engine.get_value();
    let Some(data) = session.data else {
        return Err("the session holds no data set".into());
    };
    engine.set_data_set(data.clone());
    app.data_set.set(DataSetStatus::from_data_set(&data));
    if let Some(trained) = session.trained {
        engine.restore_trained(trained.weights, trained.validation)?;
        app.trained.update(|n| *n += 1);
    }
    match session.analysis {
        Some(analysis) => app.explore.show_finished(Arc::new(analysis), &data),
        None => app.explore.clear(),
    }
    apply_settings(&settings_object(&session.settings));
    Ok(())
}

/// Saves the page's session in the browser's storage, saying how it went.
async fn save(app: AppState, status: RwSignal<Status>) {
    let Some(session) = snapshot(&app) else { return };
    let bytes = match session.to_bytes() {
        Ok(bytes) => bytes,
        Err(e) => return status.set(Status::Failed(format!("Not saved in this browser: {e}."))),
    };
    let summary = describe(&session.contents());
    let array = Uint8Array::from(&bytes[..]);
    drop(bytes);
    match awaited(save_session(&array)).await {
        // The save that follows a restore stores what was restored: "Restored …" still says it.
        Ok(_) if matches!(status.get_untracked(), Status::Restored(ref text) if !text.ends_with(KEPT)) => {
            status.update(|s| {
                if let Status::Restored(text) = s {
                    text.push_str(KEPT)
                }
            });
        }
        Ok(_) => {
            status.set(Status::Saved(format!("Saved in this browser at {}: {summary}.", clock(session.saved_at_ms))))
        }
        Err(e) => status.set(Status::Failed(format!(
            "Not saved in this browser ({e}). This session stays in this tab: export it to keep it."
        ))),
    }
}

/// Reads a session file's bytes into the page; `what` names where they came from.
async fn open_session(app: AppState, status: RwSignal<Status>, bytes: Vec<u8>, what: String) -> bool {
    status.set(Status::Working(format!("Restoring {what}…")));
    yield_to_browser().await;
    let restored = Session::from_bytes(&bytes).map_err(|e| e.to_string()).and_then(|session| {
        let summary = session.contents();
        restore(&app, session).map(|()| summary)
    });
    match restored {
        Ok(summary) => {
            status.set(Status::Restored(format!("Restored {what}: {}.", describe(&summary))));
            true
        }
        Err(e) => {
            status.set(Status::Failed(format!("Could not restore {what}: {e}.")));
            false
        }
    }
}

/// The session bar: what is saved, the offer to restore after a reload, export, import, forget.
#[component]
pub fn SessionBar() -> impl IntoView {
    let app = app_state();
    let status = RwSignal::new(Status::Idle);
    let offer = RwSignal::new(None::<SessionSummary>);
    // A restore or an import sets the page's state, which asks for a save: it saves what was
    // just restored, which is harmless; a save during a restore is not possible (one thread).

    // The session saved by an earlier visit, offered once the backend is up (the network is
    // rebuilt on its device).
    spawn_local(async move {
        if let Ok(value) = awaited(load_session()).await
            && !value.is_undefined()
            && let Ok(summary) = Session::summary(&Uint8Array::new(&value).to_vec())
        {
            offer.set(Some(summary));
        }
    });

    // Each finished step saves the session: a data set read, a network fine-tuned, an
    // analysis shown (or cleared for a new one).
    Effect::new(move |previous: Option<()>| {
        let ready = matches!(app.data_set.get(), DataSetStatus::Ready { .. });
        app.trained.track();
        app.explore.analysis.track();
        if previous.is_some() && ready {
            spawn_local(save(app, status));
        }
    });

    let backend_ready = move || app.backend.get().is_some();
    let restore_offer = move |_| {
        offer.set(None);
        spawn_local(async move {
            match awaited(load_session()).await {
                Ok(value) if !value.is_undefined() => {
                    let bytes = Uint8Array::new(&value).to_vec();
                    open_session(app, status, bytes, "the last session".into()).await;
                }
                Ok(_) => status.set(Status::Failed("The saved session is no longer in this browser.".into())),
                Err(e) => status.set(Status::Failed(format!("Could not read the saved session: {e}."))),
            }
        });
    };
    let forget = move |_| {
        offer.set(None);
        spawn_local(async move {
            status.set(match awaited(forget_session()).await {
                Ok(_) => Status::Forgotten,
                Err(e) => Status::Failed(format!("Could not forget the session: {e}.")),
            });
        });
    };
    let export = move |_| match snapshot(&app).map(|s| s.to_bytes()) {
        None => status.set(Status::Failed("Nothing to export yet: bring a data set first (step 1).".into())),
        Some(Err(e)) => status.set(Status::Failed(format!("Could not export: {e}."))),
        Some(Ok(bytes)) => {
            if let Err(e) = download(EXPORT_NAME, &bytes, "application/zip") {
                status.set(Status::Failed(format!("Could not export: {e}.")));
            }
        }
    };
    let import = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let files = super::browser_files::files_of(input.files());
        input.set_value("");
        spawn_local(async move {
            let Some(file) = read_file_list(files).await.into_iter().next() else { return };
            match file {
                Ok(file) => {
                    offer.set(None);
                    open_session(app, status, file.bytes, file.name).await;
                }
                Err(e) => status.set(Status::Failed(e)),
            }
        });
    };

    view! {
        <section id="session" class="session-bar">
            {move || offer.get().map(|summary| view! {
                <div id="session-offer" class="session-offer">
                    <span>{format!("Your last session, saved at {}: {}.", clock(summary.saved_at_ms), describe(&summary))}</span>
                    " "
                    <button id="session-restore" class="primary" on:click=restore_offer disabled=move || !backend_ready()>"Restore it"</button>
                    " "
                    <button id="session-forget-offer" on:click=forget>"Forget it"</button>
                </div>
            })}
            <p id="session-status" class="status" data-state=move || status.get().kind()>{move || status.get().text()}</p>
            <p class="session-actions">
                <button id="session-export" on:click=export>"Export session"</button>
                " "
                <label class="button">"Import session… "
                    <input id="session-import" type="file" accept=".zip,application/zip" on:change=import />
                </label>
                " "
                <button id="session-forget" on:click=forget>"Forget this session"</button>
            </p>
        </section>
    }
}
