//! One t-SNE map on a canvas: points in their class's marker (misclassified ones open), the
//! selected image circled, marked images standing out; hover shows the tooltip, a click
//! selects, a drag draws a lasso (large map), shift-drag pans and the wheel zooms.
//!
//! The optimiser's coordinates are fitted to the canvas at each draw; the screen position of
//! every point is kept with a grid index ([`PointGrid`]) so the point under the cursor is found
//! without scanning all of them. For tests (and only what a person sees) the canvas carries
//! `data-*` attributes: the layer, the number of points drawn, the selected image, and the
//! screen position of each point.

use std::f64::consts::TAU;

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::{Clamped, JsCast};

use super::{ExploreState, Hover};
use crate::analysis::map_index::PointGrid;
use crate::analysis::palette::{Shape, marker};
use crate::analysis::raster::{Raster, Sprite, parse_hex};

/// Pixels around the cursor in which a point counts as hovered or clicked.
const PICK_RADIUS: f32 = 7.0;
/// Movement (pixels) below which a press and release is a click rather than a drag.
const CLICK_SLOP: f64 = 4.0;
/// Maps with at most this many points expose their points' screen positions (`data-pixels`).
const MAX_EXPOSED_POSITIONS: usize = 2_000;
/// Canvas margin (pixels) around the fitted map.
const MARGIN: f64 = 14.0;

/// Zoom and pan of the large map (the small ones always show the whole map).
#[derive(Debug, Clone, Copy, PartialEq)]
struct View {
    zoom: f64,
    dx: f64,
    dy: f64,
}

impl Default for View {
    fn default() -> Self {
        View { zoom: 1.0, dx: 0.0, dy: 0.0 }
    }
}

/// What a press on the canvas is doing.
#[derive(Debug, Clone, PartialEq)]
enum Drag {
    None,
    Lasso(Vec<[f32; 2]>),
    Pan { x: f64, y: f64, start: View },
}

fn context(canvas: &web_sys::HtmlCanvasElement) -> Option<web_sys::CanvasRenderingContext2d> {
    canvas.get_context("2d").ok()??.dyn_into().ok()
}

/// Screen positions (pixels) of `coords` fitted into a `size`-pixel square, with `view`.
fn to_screen(coords: &[f32], size: f64, view: View) -> Vec<f32> {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in coords.chunks_exact(2) {
        x0 = x0.min(p[0] as f64);
        x1 = x1.max(p[0] as f64);
        y0 = y0.min(p[1] as f64);
        y1 = y1.max(p[1] as f64);
    }
    let span = (x1 - x0).max(y1 - y0).max(1e-12);
    let scale = (size - 2.0 * MARGIN) / span * view.zoom;
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    coords
        .chunks_exact(2)
        .flat_map(|p| {
            [
                (size / 2.0 + (p[0] as f64 - cx) * scale + view.dx) as f32,
                (size / 2.0 - (p[1] as f64 - cy) * scale + view.dy) as f32,
            ]
        })
        .collect()
}

/// A map. `index` picks the map (the large view follows the user's choice); `size` is the
/// canvas side in pixels; `large` enables lasso, zoom and pan.
#[component]
pub fn MapCanvas(index: Signal<usize>, size: u32, large: bool, id: String) -> impl IntoView {
    let state = expect_context::<ExploreState>();
    let canvas = NodeRef::<Canvas>::new();
    let view_transform = RwSignal::new(View::default());
    let drag = StoredValue::new(Drag::None);
    let press = StoredValue::new(None::<(f64, f64)>);
    // Whether the pointer went further than a click's slop since the press (a lasso may end
    // where it began).
    let travelled = StoredValue::new(false);
    let screen = StoredValue::new(Vec::<f32>::new());
    let grid = StoredValue::new(None::<PointGrid>);
    let lasso_path = RwSignal::new(Vec::<[f32; 2]>::new());
    let side = f64::from(size);

    // Draws with the state as it is now; called at most once per animation frame.
    let draw = move || {
        let Some(canvas) = canvas.get_untracked() else { return };
        let Some(ctx) = context(&canvas) else { return };
        let index = index.get_untracked();
        // Only this map's layer and coordinates (the others' may be moving).
        let Some((layer, coords)) =
            state.maps.with_untracked(|maps| maps.get(index).map(|m| (m.layer, m.coords.clone())))
        else {
            let _ = canvas.set_attribute("data-points", "0");
            return;
        };
        let data = state.data.get_untracked();
        let hidden = state.hidden.get_untracked();
        let only_wrong = state.only_wrong.get_untracked();
        let selected = state.selected.get_untracked();
        let marked = state.marked.get_untracked();
        let view = view_transform.get_untracked();
        let lasso = lasso_path.get_untracked();
        let _ = canvas.set_attribute("data-layer", &layer.to_string());
        let Some(data) = data.filter(|d| coords.len() == 2 * d.predictions.len()) else {
            ctx.set_fill_style_str("white");
            ctx.fill_rect(0.0, 0.0, side, side);
            let _ = canvas.set_attribute("data-points", "0");
            return;
        };
        let positions = to_screen(&coords, side, view);
        let marked_set: std::collections::HashSet<usize> = marked.iter().copied().collect();
        let visible = |k: usize| {
            let p = &data.predictions[k];
            !hidden.get(p.truth).copied().unwrap_or(false) && !(only_wrong && (!data.same_classes || p.is_correct()))
        };
        let radius: f32 = if large { 4.2 } else { 3.0 };
        // Every marker rasterised into one pixel buffer and put on the canvas at once
        // (`analysis::raster`): unmarked points first (faded when something is marked), marked
        // ones on top; misclassified images open.
        let mut raster = Raster::new(size as usize, size as usize, [255, 255, 255]);
        let colours: Vec<[u8; 3]> = (0..data.classes.len()).map(|c| parse_hex(marker(c).0)).collect();
        // One sprite per shape, filled and open.
        let shapes = [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Diamond];
        let sprites: Vec<[Sprite; 2]> =
            shapes.iter().map(|&s| [Sprite::new(s, radius, None), Sprite::new(s, radius, Some(1.6))]).collect();
        let mut drawn = 0;
        for on_top in [false, true] {
            for (k, p) in data.predictions.iter().enumerate() {
                if !visible(k) || (marked_set.is_empty() || marked_set.contains(&k)) != on_top {
                    continue;
                }
                let open = data.same_classes && !p.is_correct();
                let shape = shapes.iter().position(|&s| s == marker(p.truth).1).unwrap_or(0);
                let sprite = &sprites[shape][usize::from(open)];
                raster.stamp(
                    sprite,
                    positions[2 * k],
                    positions[2 * k + 1],
                    colours[p.truth],
                    if on_top { 1.0 } else { 0.18 },
                );
                drawn += 1;
            }
        }
        if let Ok(image) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(&raster.pixels), size, size) {
            let _ = ctx.put_image_data(&image, 0.0, 0.0);
        }
        if let Some(k) = selected.filter(|&k| k < data.predictions.len()) {
            let (x, y) = (f64::from(positions[2 * k]), f64::from(positions[2 * k + 1]));
            for (colour, width, r) in [("white", 5.0, 10.0), ("#111", 2.2, 10.0)] {
                ctx.begin_path();
                let _ = ctx.arc(x, y, r, 0.0, TAU);
                ctx.set_stroke_style_str(colour);
                ctx.set_line_width(width);
                ctx.stroke();
            }
        }
        if lasso.len() > 1 {
            ctx.begin_path();
            ctx.move_to(f64::from(lasso[0][0]), f64::from(lasso[0][1]));
            for p in &lasso[1..] {
                ctx.line_to(f64::from(p[0]), f64::from(p[1]));
            }
            ctx.close_path();
            ctx.set_stroke_style_str("#333");
            ctx.set_line_width(1.0);
            let _ = ctx.set_line_dash(&js_sys::Array::of2(&4.into(), &3.into()));
            ctx.stroke();
            let _ = ctx.set_line_dash(&js_sys::Array::new());
        }
        let _ = canvas.set_attribute("data-points", &drawn.to_string());
        let _ = canvas.set_attribute("data-selected", &selected.map_or(String::new(), |k| (k + 1).to_string()));
        let _ = canvas.set_attribute("data-marked", &marked.len().to_string());
        // Screen positions for tests, on maps small enough that writing them costs nothing.
        if positions.len() <= 2 * MAX_EXPOSED_POSITIONS {
            let pixels: Vec<String> = positions.chunks_exact(2).map(|p| format!("{:.1},{:.1}", p[0], p[1])).collect();
            let _ = canvas.set_attribute("data-pixels", &pixels.join(";"));
        }
        grid.set_value(Some(PointGrid::new(&positions)));
        screen.set_value(positions);
    };
    // Whatever changes (a pan step, a mark, a t-SNE iteration), the map is redrawn once in the
    // next animation frame, however many changes arrive before it.
    let frame_pending = StoredValue::new(false);
    Effect::new(move || {
        canvas.track();
        index.track();
        state.maps.track();
        state.data.track();
        state.hidden.track();
        state.only_wrong.track();
        state.selected.track();
        state.marked.track();
        view_transform.track();
        lasso_path.track();
        if !frame_pending.get_value() {
            frame_pending.set_value(true);
            request_animation_frame(move || {
                // The map may have been removed from the page before its frame came.
                if frame_pending.try_get_value().is_some() {
                    frame_pending.set_value(false);
                    draw();
                }
            });
        }
    });

    let pick = move |x: f32, y: f32| -> Option<usize> {
        let data = state.data.get_untracked()?;
        let hidden = state.hidden.get_untracked();
        let only_wrong = state.only_wrong.get_untracked();
        grid.with_value(|g| {
            g.as_ref()?.nearest(x, y, PICK_RADIUS, |k| {
                let p = &data.predictions[k];
                !hidden.get(p.truth).copied().unwrap_or(false)
                    && !(only_wrong && (!data.same_classes || p.is_correct()))
            })
        })
    };
    let on_move = move |ev: web_sys::MouseEvent| {
        let (x, y) = (f64::from(ev.offset_x()), f64::from(ev.offset_y()));
        if press.get_value().is_some_and(|(x0, y0)| (x - x0).hypot(y - y0) > CLICK_SLOP) {
            travelled.set_value(true);
        }
        match drag.get_value() {
            Drag::Lasso(mut path) => {
                path.push([x as f32, y as f32]);
                lasso_path.set(path.clone());
                drag.set_value(Drag::Lasso(path));
                return;
            }
            Drag::Pan { x: x0, y: y0, start } => {
                view_transform.set(View { dx: start.dx + x - x0, dy: start.dy + y - y0, ..start });
                return;
            }
            Drag::None => {}
        }
        let hover = pick(x as f32, y as f32).map(|position| Hover { position, x: ev.client_x(), y: ev.client_y() });
        if state.hover.get_untracked() != hover {
            state.hover.set(hover);
        }
    };
    let on_down = move |ev: web_sys::MouseEvent| {
        let (x, y) = (f64::from(ev.offset_x()), f64::from(ev.offset_y()));
        press.set_value(Some((x, y)));
        travelled.set_value(false);
        if large {
            ev.prevent_default();
            drag.set_value(if ev.shift_key() {
                Drag::Pan { x, y, start: view_transform.get_untracked() }
            } else {
                Drag::Lasso(vec![[x as f32, y as f32]])
            });
        }
    };
    let on_up = move |ev: web_sys::MouseEvent| {
        let (x, y) = (f64::from(ev.offset_x()), f64::from(ev.offset_y()));
        let moved = press.get_value().is_none() || travelled.get_value();
        let finished = drag.get_value();
        drag.set_value(Drag::None);
        press.set_value(None);
        lasso_path.set(Vec::new());
        if !moved {
            if let Some(k) = pick(x as f32, y as f32) {
                state.select(k);
            }
            return;
        }
        if let Drag::Lasso(path) = finished {
            let inside: Vec<usize> = grid.with_value(|g| g.as_ref().map(|g| g.inside(&path)).unwrap_or_default());
            let data = state.data.get_untracked();
            let hidden = state.hidden.get_untracked();
            let inside: Vec<usize> = inside
                .into_iter()
                .filter(|&k| {
                    data.as_ref().is_some_and(|d| !hidden.get(d.predictions[k].truth).copied().unwrap_or(false))
                })
                .collect();
            let label = format!("{} image(s) inside the lasso", inside.len());
            state.mark(inside, label);
        }
    };
    let on_wheel = move |ev: web_sys::WheelEvent| {
        if !large {
            return;
        }
        ev.prevent_default();
        let factor = if ev.delta_y() < 0.0 { 1.25 } else { 0.8 };
        let (x, y) = (f64::from(ev.offset_x()), f64::from(ev.offset_y()));
        view_transform.update(|v| {
            // Keep the point under the cursor where it is.
            v.dx = (v.dx - (x - side / 2.0)) * factor + (x - side / 2.0);
            v.dy = (v.dy - (y - side / 2.0)) * factor + (y - side / 2.0);
            v.zoom *= factor;
        });
    };

    view! {
        <canvas node_ref=canvas id=id class=if large { "map large-map" } else { "map" } width=size height=size
            on:mousemove=on_move on:mousedown=on_down on:mouseup=on_up
            on:mouseleave=move |_| {
                state.hover.set(None);
                if matches!(drag.get_value(), Drag::Pan { .. }) { drag.set_value(Drag::None); }
            }
            on:wheel=on_wheel
            on:dblclick=move |_| view_transform.set(View::default())
            data-points="0"></canvas>
    }
}
