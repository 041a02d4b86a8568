//! Dropping images and showing each one's top-5 classes.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser_files::{file_list_handlers, read_file_list};
use super::engine::Classification;
use crate::text_format::significant;

/// Classes shown per image.
const TOP_K: usize = 5;

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Waiting,
    Done(Classification),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
struct ImageRow {
    id: usize,
    name: String,
    thumbnail: Option<String>,
    outcome: Outcome,
}

#[component]
pub fn ImagesPanel() -> impl IntoView {
    let engine = super::state::app_state().engine.get_value();
    let rows = RwSignal::new(Vec::<ImageRow>::new());
    let next_id = StoredValue::new(0usize);

    let take_files = move |files: Vec<web_sys::File>| {
        let engine = engine.clone();
        spawn_local(async move {
            for file in read_file_list(files).await {
                let id = next_id.get_value();
                next_id.set_value(id + 1);
                let (name, thumbnail, bytes) = match file {
                    Ok(f) => (f.name, f.object_url, Ok(f.bytes)),
                    Err(e) => ("(unreadable file)".to_string(), None, Err(e)),
                };
                rows.update(|r| r.push(ImageRow { id, name: name.clone(), thumbnail, outcome: Outcome::Waiting }));
                let outcome = match bytes {
                    Err(e) => Outcome::Failed(e),
                    Ok(_) if !engine.has_model() => Outcome::Failed("load weights first".into()),
                    Ok(bytes) => match engine.classify(&bytes, TOP_K).await {
                        Ok(result) => Outcome::Done(result),
                        Err(e) => Outcome::Failed(format!("{name}: {e}")),
                    },
                };
                rows.update(|r| {
                    if let Some(row) = r.iter_mut().find(|row| row.id == id) {
                        row.outcome = outcome;
                    }
                });
            }
        });
    };
    let (on_drop, on_pick) = file_list_handlers(take_files);

    view! {
        <section id="images" class="panel drop-zone" on:dragover=|ev: web_sys::DragEvent| ev.prevent_default() on:drop=on_drop>
            <h2>"Classify images"</h2>
            <p>"Drop images here (JPEG, PNG, WebP, GIF, BMP), or "
                <label class="button">"choose images"
                    <input id="images-input" type="file" accept="image/*" multiple on:change=on_pick />
                </label>"."
            </p>
            <ul id="results" class="results">
                <For each=move || rows.get() key=|row| (row.id, format!("{:?}", row.outcome)) let:row>
                    <li class="result" data-name=row.name.clone()>
                        {row.thumbnail.clone().filter(|_| !matches!(row.outcome, Outcome::Failed(_)))
                            .map(|src| view! { <img class="thumb" src=src alt="" /> })}
                        <div>
                            <h3>{row.name.clone()}</h3>
                            {match row.outcome.clone() {
                                Outcome::Waiting => view! { <p class="status">"Classifying…"</p> }.into_any(),
                                Outcome::Failed(e) => view! { <p class="status error">{e}</p> }.into_any(),
                                Outcome::Done(c) => view! {
                                    <table class="top-classes">
                                        {c.top.iter().map(|(class, name, p)| view! {
                                            <tr class="top-class" data-class=*class>
                                                <td class="class-name">{name.clone()}</td>
                                                <td class="prob">{significant(*p, 3)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </table>
                                    <p class="timing">{format!("forward pass {:.0} ms", c.millis)}</p>
                                }.into_any(),
                            }}
                        </div>
                    </li>
                </For>
            </ul>
        </section>
    }
}
