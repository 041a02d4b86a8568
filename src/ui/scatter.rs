//! The t-SNE map: points on a canvas, coloured by label, fitted to the canvas each frame
//! (the optimiser's coordinates are kept raw; only the drawing rescales them).
//!
//! The points are rasterised here into one RGBA buffer handed to the canvas at once: a canvas
//! call per point costs about a microsecond each way across the wasm boundary, which at
//! 100,000 points is a frame's budget several times over; the buffer takes a few milliseconds.

use wasm_bindgen::{Clamped, JsCast};

/// Ten colours that stay apart for the usual ten-or-fewer classes (Tableau 10).
const PALETTE: [[u8; 3]; 10] = [
    [0x4e, 0x79, 0xa7],
    [0xf2, 0x8e, 0x2b],
    [0xe1, 0x57, 0x59],
    [0x76, 0xb7, 0xb2],
    [0x59, 0xa1, 0x4f],
    [0xed, 0xc9, 0x48],
    [0xb0, 0x7a, 0xa1],
    [0xff, 0x9d, 0xa7],
    [0x9c, 0x75, 0x5f],
    [0xba, 0xb0, 0xac],
];

/// Side of a point's square, in canvas pixels.
const POINT: i64 = 3;

/// Draws `coords` (N×2 row-major); `classes[i]` indexes the palette (cycled).
pub fn draw(canvas: &web_sys::HtmlCanvasElement, coords: &[f32], classes: Option<&[usize]>) {
    let Ok(Some(context)) = canvas.get_context("2d") else {
        return;
    };
    let Ok(ctx) = context.dyn_into::<web_sys::CanvasRenderingContext2d>() else {
        return;
    };
    let (w, h) = (canvas.width() as usize, canvas.height() as usize);
    let mut pixels = vec![255u8; w * h * 4];
    raster(&mut pixels, w, h, coords, classes);
    if let Ok(image) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(&pixels), w as u32, h as u32) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}

/// Paints each point as a square of [`POINT`] pixels into `pixels` (RGBA, `w`×`h`, white).
fn raster(pixels: &mut [u8], w: usize, h: usize, coords: &[f32], classes: Option<&[usize]>) {
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
    let (wf, hf) = (w as f64, h as f64);
    let scale = (wf.min(hf) - 2.0 * margin) / span;
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    for (i, p) in coords.chunks_exact(2).enumerate() {
        let colour = PALETTE[classes.map_or(0, |c| c[i] % PALETTE.len())];
        let px = (wf / 2.0 + (p[0] as f64 - cx) * scale).round() as i64 - POINT / 2;
        let py = (hf / 2.0 - (p[1] as f64 - cy) * scale).round() as i64 - POINT / 2;
        for y in py.max(0)..(py + POINT).min(h as i64) {
            for x in px.max(0)..(px + POINT).min(w as i64) {
                let at = (y as usize * w + x as usize) * 4;
                pixels[at..at + 3].copy_from_slice(&colour);
            }
        }
    }
}
