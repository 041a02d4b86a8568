//! Step 6, Explore: the three maps side by side, one large map with its legend, the tooltip,
//! the selected image with its class maps, the ambiguity table, the confusion matrix and the
//! exports — all linked: selecting or marking images anywhere shows them everywhere.

mod details;
mod exports;
mod map_canvas;
pub mod synthetic;
mod tables;

use std::io::Cursor;
use std::sync::Arc;

use leptos::prelude::*;

use crate::analysis::palette::{DISTINCT_MARKERS, Shape, marker};
use crate::analysis::predictions::ImagePrediction;
use crate::analysis::quality::MapQuality;
use crate::analysis::{Analysis, LayerMap};
use crate::data::dataset::DataSet;
use crate::model::layers::Layer;
use crate::text_format::{significant, thousands};
use crate::ui::browser_files::object_url;
use details::SelectionDetails;
use exports::Exports;
use map_canvas::MapCanvas;
use tables::{AmbiguityTable, ConfusionView};

/// What the maps and tables show about the images, known once the activations are done.
#[derive(Debug, Clone)]
pub struct ExploreData {
    pub classes: Vec<String>,
    pub network_classes: Vec<String>,
    /// Whether predictions are in the data set's classes (right/wrong makes sense).
    pub same_classes: bool,
    /// One per validation image, in validation order ("Image #" = position + 1).
    pub predictions: Vec<ImagePrediction>,
    /// Data set paths, in validation order.
    pub files: Vec<String>,
    /// Object URLs of the 64-pixel thumbnails, in validation order.
    pub thumbnails: Vec<String>,
    /// Class maps of the two likeliest classes per image, and their side.
    pub class_maps: Vec<Vec<f32>>,
    pub class_map_side: usize,
}

/// One map as shown: while its t-SNE runs, the coordinates move.
#[derive(Debug, Clone, PartialEq)]
pub struct MapState {
    pub layer: Layer,
    /// M, values per image.
    pub width: usize,
    pub coords: Vec<f32>,
    pub quality: Option<MapQuality>,
    pub notes: Vec<String>,
    /// "iteration 120/1000, KL 1.23" while running, "" when done.
    pub status: String,
}

/// The point under the cursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hover {
    /// Position in the validation order.
    pub position: usize,
    pub x: i32,
    pub y: i32,
}

/// Explore's shared state (a context inside the app).
#[derive(Clone, Copy)]
pub struct ExploreState {
    pub data: RwSignal<Option<Arc<ExploreData>>>,
    pub maps: RwSignal<Vec<MapState>>,
    /// The finished analysis (for the exports).
    pub analysis: RwSignal<Option<Arc<Analysis>>>,
    /// Classes switched off in the legend.
    pub hidden: RwSignal<Vec<bool>>,
    pub only_wrong: RwSignal<bool>,
    /// The image shown large and circled in every map.
    pub selected: RwSignal<Option<usize>>,
    /// Images picked out together (a lasso, a confusion cell, a search) and what picked them.
    pub marked: RwSignal<Vec<usize>>,
    pub marked_label: RwSignal<String>,
    pub hover: RwSignal<Option<Hover>>,
    /// Which map the large view shows.
    pub large: RwSignal<usize>,
}

impl ExploreState {
    pub fn new() -> Self {
        Self {
            data: RwSignal::new(None),
            maps: RwSignal::new(Vec::new()),
            analysis: RwSignal::new(None),
            hidden: RwSignal::new(Vec::new()),
            only_wrong: RwSignal::new(false),
            selected: RwSignal::new(None),
            marked: RwSignal::new(Vec::new()),
            marked_label: RwSignal::new(String::new()),
            hover: RwSignal::new(None),
            large: RwSignal::new(0),
        }
    }

    /// Forgets the shown analysis (a new one starts).
    pub fn clear(&self) {
        self.data.set(None);
        self.maps.set(Vec::new());
        self.analysis.set(None);
        self.selected.set(None);
        self.marked.set(Vec::new());
        self.marked_label.set(String::new());
        self.hover.set(None);
    }

    /// Shows a finished analysis of `data` (one restored from a session) as the analysis that
    /// made it would have left the view.
    pub fn show_finished(&self, analysis: Arc<Analysis>, data: &DataSet) {
        self.clear();
        let images: Vec<usize> = analysis.predictions.iter().map(|p| p.image).collect();
        self.hidden.set(vec![false; analysis.classes.len()]);
        self.data.set(Some(Arc::new(ExploreData {
            classes: analysis.classes.clone(),
            network_classes: analysis.network_classes.clone(),
            same_classes: analysis.same_classes,
            predictions: analysis.predictions.clone(),
            files: images.iter().map(|&i| data.images[i].path.clone()).collect(),
            thumbnails: thumbnail_urls(data, &images),
            class_maps: analysis.class_maps.clone(),
            class_map_side: analysis.class_map_side,
        })));
        self.maps.set(analysis.maps.iter().map(MapState::from).collect());
        self.analysis.set(Some(analysis));
    }

    pub fn select(&self, position: usize) {
        self.selected.set(Some(position));
    }

    pub fn mark(&self, positions: Vec<usize>, label: String) {
        self.marked.set(positions);
        self.marked_label.set(label);
    }
}

/// Thumbnails as object URLs, in the order of `images`. BMP, not PNG: it is a copy of the
/// pixels behind a header, where PNG compresses each one — and all the validation images' are
/// made in one frame of the page's thread when the activations finish (the blobs live outside
/// wasm memory, 12 KB each).
pub fn thumbnail_urls(data: &DataSet, images: &[usize]) -> Vec<String> {
    images
        .iter()
        .map(|&i| {
            let mut bmp = Vec::new();
            let _ = image::DynamicImage::ImageRgb8(data.images[i].thumbnail.clone())
                .write_to(&mut Cursor::new(&mut bmp), image::ImageFormat::Bmp);
            object_url(&bmp, "image/bmp").unwrap_or_default()
        })
        .collect()
}

impl From<&LayerMap> for MapState {
    /// A finished map.
    fn from(map: &LayerMap) -> Self {
        MapState {
            layer: map.layer,
            width: map.width,
            coords: map.coords.clone(),
            quality: map.quality,
            notes: map.notes.clone(),
            status: String::new(),
        }
    }
}

/// The workflow's titles for its three layers; others by name.
pub fn map_title(layer: Layer) -> String {
    match layer {
        Layer::Pool1 => "Max pooling activations".into(),
        Layer::Conv10 => "Final conv activations".into(),
        Layer::Prob => "Softmax activations".into(),
        other => format!("{other} activations"),
    }
}

fn glyph(shape: Shape, open: bool) -> &'static str {
    match (shape, open) {
        (Shape::Circle, false) => "●",
        (Shape::Circle, true) => "○",
        (Shape::Square, false) => "■",
        (Shape::Square, true) => "□",
        (Shape::Triangle, false) => "▲",
        (Shape::Triangle, true) => "△",
        (Shape::Diamond, false) => "◆",
        (Shape::Diamond, true) => "◇",
    }
}

fn quality_line(map: &MapState) -> String {
    match (&map.quality, map.status.is_empty()) {
        (_, false) => map.status.clone(),
        (Some(q), true) => format!("trustworthiness {:.3} · 5-NN accuracy {:.3}", q.trustworthiness, q.knn_accuracy),
        (None, true) => "too few points to score".into(),
    }
}

/// A small map with its title and scores.
#[component]
fn SmallMap(index: usize) -> impl IntoView {
    let state = expect_context::<ExploreState>();
    let map = move || state.maps.with(|m| m.get(index).cloned());
    view! {
        <figure class="small-map">
            <figcaption>
                <strong>{move || map().map(|m| map_title(m.layer)).unwrap_or_default()}</strong><br/>
                <span class="map-layer">{move || map().map(|m| format!("{} · M = {}", m.layer, thousands(m.width))).unwrap_or_default()}</span>
            </figcaption>
            <MapCanvas index=Signal::derive(move || index) size=300 large=false id=format!("map-{index}") />
            <p class="map-quality" id=format!("map-quality-{index}")>{move || map().map(|m| quality_line(&m)).unwrap_or_default()}</p>
            <p class="map-notes">{move || map().map(|m| m.notes.join("; ")).unwrap_or_default()}</p>
        </figure>
    }
}

/// The tooltip by the cursor: thumbnail, number, true and predicted class, ambiguity.
///
/// One element for the page's life: moving to another point changes its texts and the image's
/// address, never its structure (rebuilding it at every point cost a frame now and then with
/// 10,000 points), and the image decodes off the page's thread.
#[component]
fn Tooltip() -> impl IntoView {
    let state = expect_context::<ExploreState>();
    // What the tooltip says changes only when another point is under the cursor; its position
    // follows the cursor through the style alone.
    let shown = Memo::new(move |_| {
        let position = state.hover.get()?.position;
        let data = state.data.get()?;
        let p = data.predictions.get(position)?;
        Some(TooltipText {
            position,
            thumbnail: data.thumbnails[position].clone(),
            truth: format!("True: {}", data.classes[p.truth]),
            predicted: format!("Predicted: {}", data.network_classes[p.predicted]),
            ambiguity: format!("Ambiguity: {}", significant(p.ambiguity, 5)),
            file: data.files[position].clone(),
        })
    });
    let style = move || match (shown.with(Option::is_some), state.hover.get()) {
        (true, Some(h)) => format!("left: {}px; top: {}px;", h.x + 14, h.y + 14),
        _ => "display: none;".to_string(),
    };
    let text = move |part: fn(&TooltipText) -> String| move || shown.with(|t| t.as_ref().map(part).unwrap_or_default());
    view! {
        <div id=move || if shown.with(Option::is_some) { "map-tooltip" } else { "map-tooltip-hidden" } class="tooltip"
            style=style data-image=move || shown.with(|t| t.as_ref().map_or(0, |t| t.position + 1))>
            <img src=text(|t| t.thumbnail.clone()) alt="" decoding="async" />
            <div>
                <strong>{text(|t| format!("Image #{}", t.position + 1))}</strong><br/>
                {text(|t| t.truth.clone())}<br/>
                {text(|t| t.predicted.clone())}<br/>
                {text(|t| t.ambiguity.clone())}<br/>
                <span class="file">{text(|t| t.file.clone())}</span>
            </div>
        </div>
    }
}

/// The tooltip's content for one point.
#[derive(Debug, Clone, PartialEq)]
struct TooltipText {
    position: usize,
    thumbnail: String,
    truth: String,
    predicted: String,
    ambiguity: String,
    file: String,
}

/// Class toggles, "only misclassified", search.
#[component]
fn Legend() -> impl IntoView {
    let state = expect_context::<ExploreState>();
    let search = RwSignal::new(String::new());
    let run_search = move || {
        let Some(data) = state.data.get_untracked() else {
            return;
        };
        let query = search.get_untracked().trim().to_lowercase();
        if query.is_empty() {
            return state.mark(Vec::new(), String::new());
        }
        let found: Vec<usize> = match query.trim_start_matches('#').parse::<usize>() {
            Ok(number) if (1..=data.predictions.len()).contains(&number) => vec![number - 1],
            _ => (0..data.files.len()).filter(|&k| data.files[k].to_lowercase().contains(&query)).collect(),
        };
        if let Some(&first) = found.first() {
            state.select(first);
        }
        let label = format!("{} image(s) match “{}”", found.len(), search.get_untracked().trim());
        state.mark(found, label);
    };
    view! {
        <div id="legend" class="legend">
            {move || state.data.get().map(|data| {
                let many = data.classes.len() > DISTINCT_MARKERS;
                view! {
                    {data.classes.iter().enumerate().map(|(c, name)| {
                        let (colour, shape) = marker(c);
                        view! {
                            <label class="legend-item" data-class=name.clone()>
                                <input type="checkbox" class="class-toggle"
                                    prop:checked=move || !state.hidden.with(|h| h.get(c).copied().unwrap_or(false))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        state.hidden.update(|h| { if h.len() <= c { h.resize(c + 1, false); } h[c] = !on; });
                                    } />
                                <span class="glyph" style=format!("color: {colour}")>{glyph(shape, false)}</span>
                                {name.clone()}
                            </label>
                        }
                    }).collect_view()}
                    {data.same_classes.then(|| view! {
                        <span class="legend-item hint">"open marker = misclassified"</span>
                    })}
                    {many.then(|| view! {
                        <span class="legend-item hint">{format!("over {DISTINCT_MARKERS} classes: markers repeat — switch classes off here or hover to tell them apart")}</span>
                    })}
                }
            })}
            <div class="legend-tools">
                <label><input id="only-misclassified" type="checkbox" prop:checked=move || state.only_wrong.get()
                    on:change=move |ev| state.only_wrong.set(event_target_checked(&ev)) />" show only misclassified"</label>
                <input id="explore-search" type="search" placeholder="image # or file name" prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))
                    on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Enter" { run_search() } />
                <button id="explore-search-go" on:click=move |_| run_search()>"Find"</button>
                <button id="clear-marks" on:click=move |_| state.mark(Vec::new(), String::new())
                    disabled=move || state.marked.with(Vec::is_empty)>"Clear marks"</button>
                <span id="marked-label" class="status">{move || state.marked_label.get()}</span>
            </div>
        </div>
    }
}

/// Explore: everything about a finished (or running) analysis.
#[component]
pub fn ExplorePanel() -> impl IntoView {
    let state = expect_context::<ExploreState>();
    // The maps' number and layers change with a new analysis, not with every t-SNE iteration:
    // the figures and the menu are rebuilt only then.
    let layers = Memo::new(move |_| state.maps.with(|m| m.iter().map(|m| m.layer).collect::<Vec<_>>()));
    let has_maps = move || layers.with(|l| !l.is_empty());
    view! {
        <section id="explore" class="panel">
            <h2>"5. Explore"</h2>
            <Show when=has_maps fallback=|| view! {
                <p class="status">"Run the analysis (step 4): its maps, tables and the images behind every point appear here."</p>
            }>
                <div class="small-maps">
                    {move || (0..layers.with(Vec::len)).map(|i| view! { <SmallMap index=i /> }).collect_view()}
                </div>
                <div class="large-view">
                    <div class="large-map-column">
                        <p class="large-map-title">
                            <label>"Large map: "
                                <select id="large-layer" on:change=move |ev| {
                                    if let Ok(i) = event_target_value(&ev).parse() { state.large.set(i) }
                                }>
                                    {move || layers.get().into_iter().enumerate().map(|(i, layer)| view! {
                                        <option value=i.to_string() selected=move || state.large.get() == i>
                                            {format!("{} ({layer})", map_title(layer))}
                                        </option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <span class="hint">" drag: lasso · shift-drag: pan · wheel: zoom · double-click: reset"</span>
                        </p>
                        <MapCanvas index=state.large.into() size=560 large=true id="large-map".to_string() />
                        <Legend />
                    </div>
                    <SelectionDetails />
                </div>
                <AmbiguityTable />
                <ConfusionView />
                <Exports />
            </Show>
            <Tooltip />
        </section>
    }
}
