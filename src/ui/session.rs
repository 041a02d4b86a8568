//! Sessions in the page: the newest is saved in the browser as each step finishes (data set
//! read, network fine-tuned, analysis done) and offered back after a reload; "Export session"
//! downloads it as one file that "Import session" restores in any browser; "Forget this
//! session" clears the browser's copy. The file itself is [`crate::session`]'s.

use std::sync::Arc;

use js_sys::Uint8Array;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;

use super::browser_files::{BrowserFile, download, read_file_list, yield_to_browser};
use super::dataset_panel::DataSetStatus;
use super::dataset_panel::read_files_kept;
use super::session_store::{
    Loaded, Stored, StoredImage, apply_settings, awaited, forget_session, image_handles, keep_files_up_to_bytes,
    load_session, save_session, settings_now, settings_object,
};
use super::state::{AppState, app_state};
use crate::analysis::Analysis;
use crate::data::dataset::{DataSet, DataSetBuilder};
use crate::session::{Session, SessionSummary, TrainedNetwork};

/// Said after "Restored …" once the restored session is this browser's saved one.
const KEPT: &str = " Kept in this browser.";

/// The name of an exported session file.
const EXPORT_NAME: &str = "layerlens-session.zip";

/// The most image bytes an exported session file carries: the file is made in wasm memory
/// (4 GiB at most), with the images read into it and copied once more.
const EXPORT_LIMIT_BYTES: u64 = 1 << 30;

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

/// "2.4 GB", "180 MB", "12 KB".
fn size_in_words(bytes: u64) -> String {
    match bytes as f64 {
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.0} MB", b / 1e6),
        b => format!("{:.0} KB", (b / 1e3).ceil()),
    }
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

/// Saves the page's session in the browser's storage, saying how it went. A data set held in
/// memory goes inside the session file; one kept as the browser's files goes beside it as their
/// handles (no copy of its bytes passes through the page).
/// How long after a finished step the session is written.
const SAVE_DELAY_MS: u32 = 100;

async fn save(app: AppState, status: RwSignal<Status>, stored: Stored) {
    let Some(session) = snapshot(&app) else { return };
    let data = session.data.clone().expect("a snapshot has a data set");
    let too_large_to_copy = !data.all_held() && data.total_bytes() as f64 > keep_files_up_to_bytes();
    let written = if session.has_thumbnails_only() || too_large_to_copy {
        // Imported from a file exported without its images: there are none to keep. Or a
        // folder the browser would copy into its storage (see `keepFilesUpToBytes`).
        session
            .to_bytes_with_thumbnails()
            .map(|bytes| (bytes, JsValue::UNDEFINED, String::new()))
            .map_err(|e| e.to_string())
    } else if data.all_held() {
        session.to_bytes().map(|bytes| (bytes, JsValue::UNDEFINED, String::new())).map_err(|e| e.to_string())
    } else {
        image_handles(&data).and_then(|handles| {
            let bytes = session.to_bytes_without_images().map_err(|e| e.to_string())?;
            Ok((bytes, handles.into(), stored.images_id(&data)))
        })
    };
    let (bytes, handles, images_id) = match written {
        Ok(written) => written,
        Err(e) => return status.set(Status::Failed(format!("Not saved in this browser: {e}."))),
    };
    let summary = describe(&session.contents());
    let array = Uint8Array::from(&bytes[..]);
    drop(bytes);
    match awaited(save_session(&array, &handles, &images_id)).await {
        // The save that follows a restore stores what was restored: "Restored …" still says it.
        Ok(_) if matches!(status.get_untracked(), Status::Restored(ref text) if !text.ends_with(KEPT)) => {
            status.update(|s| {
                if let Status::Restored(text) = s {
                    text.push_str(KEPT)
                }
            });
        }
        Ok(_) => {
            let without = if too_large_to_copy {
                format!(
                    " Without the images ({}): the browser would copy them into its storage. After a reload the maps, tables and thumbnails come back; to train or analyse again, drop the folder again.",
                    size_in_words(data.total_bytes())
                )
            } else {
                String::new()
            };
            status.set(Status::Saved(format!(
                "Saved in this browser at {}: {summary}.{without}",
                clock(session.saved_at_ms)
            )))
        }
        Err(e) => status.set(Status::Failed(format!(
            "Not saved in this browser ({e}). This session stays in this tab: export it to keep it."
        ))),
    }
}

/// Reads a session file's bytes into the page; `what` names where they came from. A file that
/// leaves its images to the browser's storage gets them from `images` (read again, as when they
/// were first given: a file gone since is named).
async fn open_session(
    app: AppState,
    status: RwSignal<Status>,
    bytes: Vec<u8>,
    images: Option<Vec<StoredImage>>,
    what: String,
) -> Result<Arc<DataSet>, ()> {
    status.set(Status::Working(format!("Restoring {what}…")));
    yield_to_browser().await;
    let session = match (Session::images_elsewhere(&bytes), images) {
        // Stored with their thumbnails: nothing to read or decode (a file changed since is
        // found when a step reads it).
        (Ok(true), Some(images)) if images.iter().all(|image| image.thumbnail.is_some()) => {
            let mut builder = DataSetBuilder::new();
            for StoredImage { path, file, thumbnail } in images {
                let thumbnail = thumbnail.expect("checked above");
                builder.add_checked_elsewhere(&path, thumbnail, Arc::new(BrowserFile::new(file)));
            }
            Session::from_bytes_with_images(&bytes, builder.finish())
        }
        (Ok(true), Some(images)) => {
            let reading =
                |done, total| status.set(Status::Working(format!("Restoring {what}: its images, {done} of {total}…")));
            let files = images.into_iter().map(|image| (image.path, image.file)).collect();
            let data = read_files_kept(files, reading).await;
            Session::from_bytes_with_images(&bytes, data)
        }
        (Ok(true), None) => {
            status.set(Status::Failed(format!(
                "Could not restore {what}: its images are no longer in this browser's storage."
            )));
            return Err(());
        }
        _ => Session::from_bytes(&bytes),
    };
    let restored = session.map_err(|e| e.to_string()).and_then(|session| {
        let summary = session.contents();
        let data = session.data.clone();
        restore(&app, session).map(|()| (summary, data))
    });
    match restored {
        Ok((summary, data)) => {
            status.set(Status::Restored(format!("Restored {what}: {}.", describe(&summary))));
            data.ok_or(())
        }
        Err(e) => {
            status.set(Status::Failed(format!("Could not restore {what}: {e}.")));
            Err(())
        }
    }
}

/// Downloads the session as one file: with its images (read from the browser's files where
/// the data set keeps those), or with their thumbnails only — everything Explore shows, in a
/// small file to share.
async fn export_session(app: &AppState, status: RwSignal<Status>, with_images: bool) -> Result<(), String> {
    let Some(mut session) = snapshot(app) else {
        return Err("Nothing to export yet: bring a data set first (step 1).".into());
    };
    if !with_images || session.has_thumbnails_only() {
        let bytes = session.to_bytes_with_thumbnails().map_err(|e| format!("Could not export: {e}."))?;
        return download(EXPORT_NAME, &bytes, "application/zip").map_err(|e| format!("Could not export: {e}."));
    }
    let data = session.data.clone().expect("a snapshot has a data set");
    if !data.all_held() {
        let total = data.total_bytes();
        if total > EXPORT_LIMIT_BYTES {
            return Err(format!(
                "Could not export: its images take {:.1} GB, more than the {:.0} GB a session file made in this page can carry. Export it without its images (untick \"with its images\"): the maps, tables and thumbnails. The session stays kept in this browser.",
                total as f64 / 1e9,
                EXPORT_LIMIT_BYTES as f64 / 1e9
            ));
        }
        let previous = status.get_untracked();
        status.set(Status::Working(format!("Reading {} images for the export…", data.images.len())));
        let held = data.with_bytes_held().await.map_err(|e| format!("Could not export: {e}."));
        status.set(previous);
        session.data = Some(Arc::new(held?));
    }
    let bytes = session.to_bytes().map_err(|e| format!("Could not export: {e}."))?;
    download(EXPORT_NAME, &bytes, "application/zip").map_err(|e| format!("Could not export: {e}."))
}

/// The session bar: what is saved, the offer to restore after a reload, export, import, forget.
#[component]
pub fn SessionBar() -> impl IntoView {
    let app = app_state();
    let status = RwSignal::new(Status::Idle);
    let offer = RwSignal::new(None::<SessionSummary>);
    let stored = Stored::new();
    // A restore or an import sets the page's state, which asks for a save: it saves what was
    // just restored, which is harmless; a save during a restore is not possible (one thread).

    // The session saved by an earlier visit, offered once the backend is up (the network is
    // rebuilt on its device).
    spawn_local(async move {
        if let Ok(value) = awaited(load_session()).await
            && let Some(loaded) = Loaded::from_js(&value)
            && let Ok(summary) = Session::summary(&loaded.bytes)
        {
            stored.offered_key.set_value(Some(loaded.key));
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
            // A moment later: the step's own results paint first (writing the session holds the
            // page's thread for tens of milliseconds per hundred images).
            spawn_local(async move {
                super::browser_files::sleep_ms(SAVE_DELAY_MS).await;
                save(app, status, stored).await;
            });
        }
    });

    let backend_ready = move || app.backend.get().is_some();
    let restore_offer = move |_| {
        offer.set(None);
        spawn_local(async move {
            match awaited(load_session()).await.map(|value| Loaded::from_js(&value)) {
                Ok(Some(loaded)) => {
                    stored.offered_key.set_value(Some(loaded.key));
                    let restored =
                        open_session(app, status, loaded.bytes, loaded.images, "the last session".into()).await;
                    // The restored data set's handles are the stored ones: not written again.
                    if let (Ok(data), Some(id)) = (restored, loaded.images_id) {
                        stored.images.set_value(Some((data, id)));
                    }
                }
                Ok(None) => status.set(Status::Failed("The saved session is no longer in this browser.".into())),
                Err(e) => status.set(Status::Failed(format!("Could not read the saved session: {e}."))),
            }
        });
    };
    let forget = move |_| {
        offer.set(None);
        spawn_local(async move {
            let offered = stored.offered_key.get_value().map_or(JsValue::UNDEFINED, |k| JsValue::from_str(&k));
            status.set(match awaited(forget_session(&offered)).await {
                Ok(_) => Status::Forgotten,
                Err(e) => Status::Failed(format!("Could not forget the session: {e}.")),
            });
        });
    };
    let with_images = RwSignal::new(true);
    let export = move |_| {
        spawn_local(async move {
            if let Err(e) = export_session(&app, status, with_images.get_untracked()).await {
                status.set(Status::Failed(e));
            }
        })
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
                    let _ = open_session(app, status, file.bytes, None, file.name).await;
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
                <label class="check" title="Without them, the file holds the maps, tables and thumbnails: small to share, but training or analysing again needs the data set brought back">
                    <input id="session-export-images" type="checkbox" prop:checked=with_images
                        on:change=move |ev| with_images.set(event_target_checked(&ev)) />
                    " with its images"
                </label>
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
