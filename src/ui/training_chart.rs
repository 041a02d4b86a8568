//! The live training-progress plot: loss and accuracy per iteration (training) and per epoch
//! (validation), drawn on a canvas like MATLAB's training-progress window.

use wasm_bindgen::JsCast;

use crate::train::{EpochMetrics, IterationMetrics};

const TRAIN_COLOUR: &str = "#2f5bd3";
const VALIDATION_COLOUR: &str = "#111";

/// Draws one panel: a series per iteration and validation points per epoch end.
pub fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    title: &str,
    iterations: &[IterationMetrics],
    epochs: &[EpochMetrics],
    value: fn(&IterationMetrics) -> f64,
    validation: fn(&EpochMetrics) -> f64,
) {
    let Ok(Some(context)) = canvas.get_context("2d") else {
        return;
    };
    let Ok(ctx) = context.dyn_into::<web_sys::CanvasRenderingContext2d>() else {
        return;
    };
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    let (left, right, top, bottom) = (44.0, 8.0, 18.0, 20.0);
    ctx.clear_rect(0.0, 0.0, w, h);
    ctx.set_font("12px system-ui, sans-serif");
    ctx.set_fill_style_str("#333");
    let _ = ctx.fill_text(title, left, 12.0);

    let points: Vec<(f64, f64)> = iterations.iter().map(|m| (m.iteration as f64, value(m))).collect();
    let validation_points: Vec<(f64, f64)> =
        epochs.iter().map(|m| (m.iteration as f64, validation(m))).filter(|(_, v)| v.is_finite()).collect();
    let all = points.iter().chain(&validation_points);
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let (mut y_min, mut y_max) =
        all.map(|p| p.1).filter(|v| v.is_finite()).fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if y_min > y_max {
        (y_min, y_max) = (0.0, 1.0);
    }
    if (y_max - y_min) < 1e-9 {
        y_max = y_min + 1.0;
    }
    let x = |v: f64| left + v / x_max * (w - left - right);
    let y = |v: f64| top + (1.0 - (v - y_min) / (y_max - y_min)) * (h - top - bottom);

    ctx.set_stroke_style_str("#ccc");
    ctx.stroke_rect(left, top, w - left - right, h - top - bottom);
    let _ = ctx.fill_text(&format!("{y_max:.2}"), 2.0, top + 8.0);
    let _ = ctx.fill_text(&format!("{y_min:.2}"), 2.0, h - bottom);
    let _ = ctx.fill_text(&format!("iteration {}", x_max as usize), w - 100.0, h - 4.0);

    ctx.set_stroke_style_str(TRAIN_COLOUR);
    ctx.begin_path();
    for (i, (px, py)) in points.iter().enumerate() {
        if i == 0 {
            ctx.move_to(x(*px), y(*py));
        } else {
            ctx.line_to(x(*px), y(*py));
        }
    }
    ctx.stroke();
    ctx.set_fill_style_str(VALIDATION_COLOUR);
    for (px, py) in validation_points {
        ctx.begin_path();
        let _ = ctx.arc(x(px), y(py), 3.5, 0.0, std::f64::consts::TAU);
        ctx.fill();
    }
}
