//! The t-SNE map: points on a canvas, coloured by label, fitted to the canvas each frame
//! (the optimiser's coordinates are kept raw; only the drawing rescales them).

use wasm_bindgen::JsCast;

/// Ten colours that stay apart for the usual ten-or-fewer classes (Tableau 10).
const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/// Draws `coords` (N×2 row-major); `classes[i]` indexes the palette (cycled).
pub fn draw(canvas: &web_sys::HtmlCanvasElement, coords: &[f32], classes: Option<&[usize]>) {
    let Ok(Some(context)) = canvas.get_context("2d") else {
        return;
    };
    let Ok(ctx) = context.dyn_into::<web_sys::CanvasRenderingContext2d>() else {
        return;
    };
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    ctx.set_fill_style_str("white");
    ctx.fill_rect(0.0, 0.0, w, h);
    if coords.len() < 2 {
        return;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in coords.chunks_exact(2) {
        let (x, y) = (p[0] as f64, p[1] as f64);
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let span = (x1 - x0).max(y1 - y0).max(1e-12);
    let margin = 8.0;
    let scale = (w.min(h) - 2.0 * margin) / span;
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    for (i, p) in coords.chunks_exact(2).enumerate() {
        let colour = classes.map_or(PALETTE[0], |c| PALETTE[c[i] % PALETTE.len()]);
        ctx.set_fill_style_str(colour);
        let px = w / 2.0 + (p[0] as f64 - cx) * scale;
        let py = h / 2.0 - (p[1] as f64 - cy) * scale;
        ctx.fill_rect(px - 1.5, py - 1.5, 3.0, 3.0);
    }
}
