//! Downloads of the finished analysis: the same bytes `layerlens analyze` writes (one CSV per
//! map, the ambiguity table, the confusion matrix, the predictions as JSON) and each map as PNG.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::ExploreState;
use crate::analysis::export::{ambiguity_csv, confusion_csv, map_csv, predictions_json};
use crate::ui::browser_files::{download, download_url};

fn save_canvas_png(id: &str, name: &str) {
    let canvas = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlCanvasElement>().ok());
    if let Some(url) = canvas.and_then(|c| c.to_data_url().ok()) {
        let _ = download_url(name, &url);
    }
}

#[component]
pub fn Exports() -> impl IntoView {
    let state = expect_context::<ExploreState>();
    move || {
        let Some(analysis) = state.analysis.get() else {
            return view! { <p class="status">"Exports are offered when the analysis has finished."</p> }.into_any();
        };
        let file = |name: &'static str, bytes: Vec<u8>, mime: &'static str| {
            view! { <button class="export" data-file=name on:click=move |_| { let _ = download(name, &bytes, mime); }>{name}</button>" " }
        };
        view! {
            <section id="exports" class="explore-block">
                <h3>"Export"</h3>
                <p>
                    {analysis.maps.iter().map(|map| {
                        let name = format!("map-{}.csv", map.layer);
                        let bytes = map_csv(&analysis, map);
                        view! { <button class="export" data-file=name.clone() on:click=move |_| { let _ = download(&name, &bytes, "text/csv"); }>{name.clone()}</button>" " }
                    }).collect_view()}
                    {file("ambiguity.csv", ambiguity_csv(&analysis), "text/csv")}
                    {file("confusion.csv", confusion_csv(&analysis), "text/csv")}
                    {file("predictions.json", predictions_json(&analysis), "application/json")}
                </p>
                <p>
                    {analysis.maps.iter().enumerate().map(|(i, map)| {
                        let name = format!("map-{}.png", map.layer);
                        view! { <button class="export" data-file=name.clone() on:click=move |_| save_canvas_png(&format!("map-{i}"), &name)>{name.clone()}</button>" " }
                    }).collect_view()}
                </p>
            </section>
        }.into_any()
    }
}
