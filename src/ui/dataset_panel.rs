//! Bringing a labelled data set in: drop a folder, a zip or loose files, or pick a folder.
//! Shows the classes with their image counts and every file that was skipped, with why.

use std::sync::Arc;

use js_sys::{Array, Reflect};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::browser_files::{BrowserFile, now_ms, read_blob, yield_to_browser};
use crate::data::dataset::{DataSet, DataSetBuilder};
use crate::data::sources::load_zip;

#[wasm_bindgen(module = "/src/ui/dataset_files.js")]
extern "C" {
    #[wasm_bindgen(js_name = filesFromDataTransfer)]
    fn files_from_data_transfer(transfer: &web_sys::DataTransfer) -> js_sys::Promise;
    #[wasm_bindgen(js_name = filesFromInput)]
    fn files_from_input(input: &web_sys::HtmlInputElement) -> js_sys::Promise;
}

/// What the panel shows.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSetStatus {
    Empty,
    Reading {
        done: usize,
        total: usize,
    },
    Ready {
        classes: Vec<(String, usize)>,
        images: usize,
        rejected: Vec<(String, String)>,
        /// Where the images' bytes are: read from the person's files as needed, only
        /// thumbnails (a session exported without its images), or in the page's memory.
        kept: Kept,
    },
    Failed(String),
}

/// Where a data set's image bytes are, as the panel tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    InMemory,
    AsFiles,
    ThumbnailsOnly,
}

impl DataSetStatus {
    /// What the panel shows for a data set that was read.
    pub fn from_data_set(data: &DataSet) -> Self {
        let kept = if data.all_held() {
            Kept::InMemory
        } else if data.images.iter().all(|i| super::browser_files::browser_blob(i).is_some()) {
            Kept::AsFiles
        } else {
            Kept::ThumbnailsOnly
        };
        DataSetStatus::Ready {
            classes: data.classes.iter().cloned().zip(data.counts()).collect(),
            images: data.images.len(),
            rejected: data.rejected.iter().map(|r| (r.path.clone(), r.reason.clone())).collect(),
            kept,
        }
    }
}

/// Reads `[{path, file}]` into a data set; a single `.zip` is unpacked, yielding to the
/// browser between files so the page keeps painting.
async fn read_entries(entries: JsValue, status: RwSignal<DataSetStatus>) -> Result<DataSet, String> {
    let entries: Vec<(String, web_sys::File)> = Array::from(&entries)
        .iter()
        .filter_map(|e| {
            let path = Reflect::get(&e, &"path".into()).ok()?.as_string()?;
            let file = Reflect::get(&e, &"file".into()).ok()?.dyn_into::<web_sys::File>().ok()?;
            Some((path, file))
        })
        .collect();
    if entries.is_empty() {
        return Err("no files were dropped".into());
    }
    if entries.len() == 1 && entries[0].0.to_ascii_lowercase().ends_with(".zip") {
        let (path, file) = entries.into_iter().next().expect("one entry");
        status.set(DataSetStatus::Reading { done: 0, total: 1 });
        let bytes = read_blob(&file).await.map_err(|e| format!("{path}: {e}"))?;
        yield_to_browser().await;
        return load_zip(&bytes).map_err(|e| format!("{path}: {e}"));
    }
    let blobs = entries.into_iter().map(|(path, file)| (path, web_sys::Blob::from(file))).collect();
    Ok(read_files_kept(blobs, |done, total| status.set(DataSetStatus::Reading { done, total })).await)
}

/// Reads files into a data set that keeps the browser's handles, not the bytes: each file is
/// read once (to check it and make its thumbnail) and let go. `progress` hears how far it is;
/// the browser paints between files.
pub async fn read_files_kept(entries: Vec<(String, web_sys::Blob)>, progress: impl Fn(usize, usize)) -> DataSet {
    let total = entries.len();
    let mut builder = DataSetBuilder::new();
    let mut last_yield = now_ms();
    for (done, (path, blob)) in entries.into_iter().enumerate() {
        if !DataSetBuilder::wants(&path) {
            continue;
        }
        match read_blob(&blob).await {
            Ok(bytes) => builder.add_file_elsewhere(&path, &bytes, Arc::new(BrowserFile::new(blob))),
            Err(e) => builder.reject(path, format!("cannot be read: {e}")),
        }
        if now_ms() - last_yield > 30.0 || done + 1 == total {
            progress(done + 1, total);
            yield_to_browser().await;
            last_yield = now_ms();
        }
    }
    builder.finish()
}

#[component]
pub fn DataSetPanel() -> impl IntoView {
    let app = super::state::app_state();
    let (engine, status) = (app.engine.get_value(), app.data_set);
    let take = move |promise: js_sys::Promise| {
        let engine = engine.clone();
        spawn_local(async move {
            status.set(DataSetStatus::Reading { done: 0, total: 0 });
            let result = match JsFuture::from(promise).await {
                Ok(entries) => read_entries(entries, status).await,
                Err(e) => Err(format!("the files could not be read: {e:?}")),
            };
            status.set(match result {
                Ok(data) => {
                    let shown = DataSetStatus::from_data_set(&data);
                    engine.set_data_set(Arc::new(data));
                    shown
                }
                Err(e) => DataSetStatus::Failed(e),
            });
        });
    };
    let on_drop = {
        let take = take.clone();
        move |ev: web_sys::DragEvent| {
            ev.prevent_default();
            if let Some(transfer) = ev.data_transfer() {
                take(files_from_data_transfer(&transfer));
            }
        }
    };
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        take(files_from_input(&input));
    };

    view! {
        <section id="dataset" class="panel drop-zone" on:dragover=|ev: web_sys::DragEvent| ev.prevent_default() on:drop=on_drop>
            <h2>"1. Your labelled images"</h2>
            <p>"Drop a folder (one sub-folder per class) or a .zip of one here, or "
                <label class="button">"choose a folder"
                    <input id="dataset-folder-input" type="file" prop:webkitdirectory=true multiple on:change=on_pick.clone() />
                </label>" or "
                <label class="button">"a .zip"
                    <input id="dataset-zip-input" type="file" accept=".zip" on:change=on_pick />
                </label>". The folder that contains an image names its class."
            </p>
            <div id="dataset-status">
                {move || match status.get() {
                    DataSetStatus::Empty => view! { <p class="status">"No data set yet."</p> }.into_any(),
                    DataSetStatus::Reading { done, total } => view! {
                        <p class="status">{format!("Reading files… {done}/{total}")}</p>
                    }.into_any(),
                    DataSetStatus::Failed(e) => view! { <p class="status error">{e}</p> }.into_any(),
                    DataSetStatus::Ready { classes, images, rejected, kept } => view! {
                        <p id="dataset-summary" class="status">
                            {format!("{} in {}.", counted(images, "image", "images"), counted(classes.len(), "class", "classes"))}
                        </p>
                        {match kept {
                            Kept::AsFiles => Some("Read from your files when needed, not copied into the page: keep them where they are while you work."),
                            Kept::ThumbnailsOnly => Some("Only the thumbnails came with this session: Explore works; to train or analyse again, bring the images (drop the folder)."),
                            Kept::InMemory => None,
                        }.map(|hint| view! { <p id="dataset-kept" class="hint" data-kept=format!("{kept:?}")>{hint}</p> })}
                        <table class="class-counts">
                            <tr><th>"class"</th><th>"images"</th></tr>
                            {classes.into_iter().map(|(name, count)| view! {
                                <tr class="class-count" data-class=name.clone()><td>{name.clone()}</td><td>{count}</td></tr>
                            }).collect_view()}
                        </table>
                        {(!rejected.is_empty()).then(|| view! {
                            <details open>
                                <summary>{format!("{} file(s) skipped", rejected.len())}</summary>
                                <ul id="rejected">
                                    {rejected.into_iter().map(|(path, reason)| view! {
                                        <li class="rejected"><code>{path}</code>": "{reason}</li>
                                    }).collect_view()}
                                </ul>
                            </details>
                        })}
                    }.into_any(),
                }}
            </div>
        </section>
    }
}

/// "1 image", "2 images".
fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}
