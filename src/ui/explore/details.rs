//! The selected image, large, titled "Actual: … Predicted: …" as in the workflow, with its two
//! likeliest classes and their class activation maps over it; and the gallery of marked images.
//!
//! SqueezeNet's conv10 feeds a global average pool, so its channel c, seen over the image, is
//! exactly where the network found evidence for class c (a class activation map, Zhou et al.
//! 2016) — the analysis kept those two channels for every image, no extra pass is needed.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::{Clamped, JsCast};

use super::ExploreState;
use crate::text_format::significant;
use crate::ui::state::app_state;

/// Side in pixels of the image and its class maps (the network's input size).
const SIDE: f64 = 227.0;

/// Maps a value in [0, 1] to a warm colour ramp (transparent blue → opaque yellow).
fn heat(v: f32) -> [u8; 4] {
    let v = v.clamp(0.0, 1.0);
    let r = (255.0 * (1.5 * v).min(1.0)) as u8;
    let g = (255.0 * (2.0 * v - 0.6).clamp(0.0, 1.0)) as u8;
    let b = (255.0 * (0.6 - v).clamp(0.0, 0.6)) as u8;
    [r, g, b, (25.0 + 145.0 * v) as u8]
}

/// Draws a side × side class map, min–max scaled, smoothly upsampled over the whole canvas.
fn draw_class_map(canvas: &web_sys::HtmlCanvasElement, map: &[f32], side: usize) -> Option<()> {
    let ctx: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    ctx.clear_rect(0.0, 0.0, SIDE, SIDE);
    let (lo, hi) = map.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let range = (hi - lo).max(1e-12);
    let pixels: Vec<u8> = map.iter().flat_map(|&v| heat((v - lo) / range)).collect();
    let image =
        web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(&pixels), side as u32, side as u32).ok()?;
    let document = web_sys::window()?.document()?;
    let small: web_sys::HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
    small.set_width(side as u32);
    small.set_height(side as u32);
    let small_ctx: web_sys::CanvasRenderingContext2d = small.get_context("2d").ok()??.dyn_into().ok()?;
    small_ctx.put_image_data(&image, 0.0, 0.0).ok()?;
    ctx.set_image_smoothing_enabled(true);
    ctx.draw_image_with_html_canvas_element_and_dw_and_dh(&small, 0.0, 0.0, SIDE, SIDE).ok()
}

/// One class map over the image.
#[component]
fn ClassMap(rank: usize, image_url: Signal<String>) -> impl IntoView {
    let state = expect_context::<ExploreState>();
    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move || {
        let (Some(canvas), Some(data), Some(k)) = (canvas.get(), state.data.get(), state.selected.get()) else {
            return;
        };
        let side = data.class_map_side;
        if let Some(maps) = data.class_maps.get(k).filter(|_| side > 0) {
            let plane = side * side;
            let _ = draw_class_map(&canvas, &maps[rank * plane..(rank + 1) * plane], side);
        }
    });
    let caption = move || {
        let data = state.data.get()?;
        let p = data.predictions.get(state.selected.get()?)?;
        let (class, probability) = p.top2[rank];
        Some(format!(
            "{} class map: {} ({})",
            if rank == 0 { "Likeliest" } else { "Second" },
            data.network_classes[class],
            significant(probability, 3)
        ))
    };
    view! {
        <figure class="class-map">
            <div class="over-image">
                <img src=image_url alt="" />
                <canvas node_ref=canvas id=format!("class-map-{}", rank + 1) width=SIDE as u32 height=SIDE as u32></canvas>
            </div>
            <figcaption>{caption}</figcaption>
        </figure>
    }
}

/// The selected image and, below, the gallery of marked images.
#[component]
pub fn SelectionDetails() -> impl IntoView {
    let state = expect_context::<ExploreState>();
    let engine = app_state().engine;
    // An object URL for the selected image's file (the previous one is given back); a session
    // exported without its images has only the thumbnail to show (its URL is the gallery's,
    // not given back here).
    let image_url = RwSignal::new(String::new());
    let own_url = StoredValue::new(None::<String>);
    Effect::new(move || {
        let (Some(k), Some(data)) = (state.selected.get(), state.data.get()) else {
            return;
        };
        let Some(set) = engine.with_value(|e| e.data_set()) else { return };
        let Some(p) = data.predictions.get(k) else {
            return;
        };
        if let Some(old) = own_url.get_value() {
            let _ = web_sys::Url::revoke_object_url(&old);
        }
        match crate::ui::browser_files::image_object_url(&set.images[p.image]) {
            Ok(url) => {
                own_url.set_value(Some(url.clone()));
                image_url.set(url);
            }
            Err(_) => {
                own_url.set_value(None);
                image_url.set(data.thumbnails.get(k).cloned().unwrap_or_default());
            }
        }
    });
    let selected = move || {
        let data = state.data.get()?;
        let k = state.selected.get()?;
        Some((data.clone(), k, data.predictions.get(k)?.clone()))
    };
    view! {
        <div id="selection" class="selection" data-image=move || state.selected.get().map(|k| (k + 1).to_string())>
            {move || match selected() {
                None => view! { <p class="status">"Hover a point to see its image; click a point, a table row or a gallery image to look closer."</p> }.into_any(),
                Some((data, k, p)) => view! {
                    <h3 id="selected-title">{format!(
                        "Image #{}: Actual: {}  Predicted: {}", k + 1, data.classes[p.truth], data.network_classes[p.predicted]
                    )}</h3>
                    <p class="file">{data.files[k].clone()}</p>
                    <p id="selected-top2">{format!(
                        "Likeliest {} ({}) · second {} ({}) · ambiguity {}",
                        data.network_classes[p.top2[0].0], significant(p.top2[0].1, 4),
                        data.network_classes[p.top2[1].0], significant(p.top2[1].1, 4),
                        significant(p.ambiguity, 5)
                    )}</p>
                    <div class="class-maps">
                        <ClassMap rank=0 image_url=image_url.into() />
                        <ClassMap rank=1 image_url=image_url.into() />
                    </div>
                    <p class="hint">"The image as the network saw it (227 × 227), with conv10's channel for each class: where the network found evidence for it."</p>
                }.into_any(),
            }}
            <Gallery />
        </div>
    }
}

/// Thumbnails of the marked images; a click selects one.
#[component]
fn Gallery() -> impl IntoView {
    let state = expect_context::<ExploreState>();
    move || {
        let marked = state.marked.get();
        let data = state.data.get()?;
        (!marked.is_empty()).then(|| {
            view! {
                <div id="gallery" class="gallery" data-count=marked.len()>
                    <p class="status">{state.marked_label.get()}</p>
                    {marked.iter().take(300).map(|&k| {
                        let title = format!("#{} {} → {}", k + 1, data.classes[data.predictions[k].truth], data.network_classes[data.predictions[k].predicted]);
                        view! {
                            <img class="gallery-item" src=data.thumbnails[k].clone() title=title data-image=k + 1
                                on:click=move |_| state.select(k) />
                        }
                    }).collect_view()}
                </div>
            }
        })
    }
}
