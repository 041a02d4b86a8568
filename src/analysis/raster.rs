//! Maps drawn into an RGBA pixel buffer: every marker of every point rasterised directly, with
//! anti-aliased edges from each shape's signed distance. The page puts the buffer on its canvas
//! in one call: 10,000 points are a few hundred thousand pixel writes in wasm, where 10,000 path
//! operations through the canvas API take tens of milliseconds in a software-rendered browser.

use super::palette::Shape;

/// An RGBA image, row-major, straight alpha (as `ImageData` wants).
#[derive(Debug, Clone)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// `#rrggbb` → RGB (black for anything else).
pub fn parse_hex(colour: &str) -> [u8; 3] {
    let hex = colour.trim_start_matches('#');
    let channel = |i: usize| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
    if hex.len() == 6 { [channel(0), channel(2), channel(4)] } else { [0, 0, 0] }
}

/// Signed distance (pixels) from `(dx, dy)` (relative to the centre) to the edge of `shape` of
/// size `r`: negative inside.
fn signed_distance(shape: Shape, dx: f32, dy: f32, r: f32) -> f32 {
    match shape {
        Shape::Circle => (dx * dx + dy * dy).sqrt() - r,
        Shape::Square => {
            let half = r * 0.9;
            let (qx, qy) = (dx.abs() - half, dy.abs() - half);
            let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
            outside + qx.max(qy).min(0.0)
        }
        Shape::Diamond => (dx.abs() + dy.abs() - r * 1.2) * std::f32::consts::FRAC_1_SQRT_2,
        Shape::Triangle => {
            // Equilateral, pointing up, circumradius ≈ 1.15 r (Inigo Quilez's distance).
            let k = 3f32.sqrt();
            let side = r * 1.15;
            let (mut px, mut py) = (dx.abs() - side, -dy + side / k);
            if px + k * py > 0.0 {
                (px, py) = ((px - k * py) / 2.0, (-k * px - py) / 2.0);
            }
            px -= px.clamp(-2.0 * side, 0.0);
            -(px * px + py * py).sqrt() * py.signum()
        }
    }
}

impl Raster {
    /// A `width` × `height` image filled with `background`.
    pub fn new(width: usize, height: usize, background: [u8; 3]) -> Self {
        let pixels = [background[0], background[1], background[2], 255].repeat(width * height);
        Self { width, height, pixels }
    }

    /// Mixes `colour` into pixel `(x, y)` with weight `w` / 256 (integer arithmetic: a full
    /// weight gives exactly `colour`).
    fn blend(&mut self, x: usize, y: usize, colour: [u8; 3], w: u32) {
        let i = (y * self.width + x) * 4;
        for (pixel, &target) in self.pixels[i..i + 3].iter_mut().zip(&colour) {
            let old = i32::from(*pixel);
            *pixel = (old + (((i32::from(target) - old) * w as i32) >> 8)) as u8;
        }
    }

    /// Stamps a precomputed marker centred on the pixel nearest `(x, y)` (what a redraw of
    /// thousands of points uses: only the covered pixels are visited).
    pub fn stamp(&mut self, sprite: &Sprite, x: f32, y: f32, colour: [u8; 3], alpha: f32) {
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        let a = weight(alpha);
        for &(dx, dy, coverage) in &sprite.cells {
            let (px, py) = (cx + i64::from(dx), cy + i64::from(dy));
            if px >= 0 && py >= 0 && (px as usize) < self.width && (py as usize) < self.height {
                self.blend(px as usize, py as usize, colour, (coverage * a) >> 8);
            }
        }
    }

    /// Draws one marker centred at `(x, y)`: filled, or as an outline `line` pixels wide when
    /// `open`; `alpha` fades it.
    #[allow(clippy::too_many_arguments)]
    pub fn marker(&mut self, x: f32, y: f32, r: f32, shape: Shape, colour: [u8; 3], alpha: f32, open: Option<f32>) {
        let reach = r * 1.3 + 1.5;
        let (x0, x1) = ((x - reach).floor().max(0.0), (x + reach).ceil().min(self.width as f32 - 1.0));
        let (y0, y1) = ((y - reach).floor().max(0.0), (y + reach).ceil().min(self.height as f32 - 1.0));
        if x0 > x1 || y0 > y1 {
            return;
        }
        for py in y0 as usize..=y1 as usize {
            for px in x0 as usize..=x1 as usize {
                let d = signed_distance(shape, px as f32 + 0.5 - x, py as f32 + 0.5 - y, r);
                let coverage = match open {
                    None => (0.5 - d).clamp(0.0, 1.0),
                    Some(line) => (line / 2.0 + 0.5 - d.abs()).clamp(0.0, 1.0),
                };
                if coverage > 0.0 {
                    self.blend(px, py, colour, (weight(coverage) * weight(alpha)) >> 8);
                }
            }
        }
    }
}

/// A fraction in [0, 1] as a weight out of 256.
fn weight(fraction: f32) -> u32 {
    (fraction.clamp(0.0, 1.0) * 256.0).round() as u32
}

/// A marker's covered pixels around its centre pixel, with their coverage (out of 256).
#[derive(Debug, Clone)]
pub struct Sprite {
    cells: Vec<(i16, i16, u32)>,
}

impl Sprite {
    /// The marker of `shape` and size `r`, filled or as an outline `open` pixels wide.
    pub fn new(shape: Shape, r: f32, open: Option<f32>) -> Self {
        let reach = (r * 1.3 + 1.5).ceil() as i16;
        let mut cells = Vec::new();
        for dy in -reach..=reach {
            for dx in -reach..=reach {
                let d = signed_distance(shape, f32::from(dx), f32::from(dy), r);
                let coverage = match open {
                    None => (0.5 - d).clamp(0.0, 1.0),
                    Some(line) => (line / 2.0 + 0.5 - d.abs()).clamp(0.0, 1.0),
                };
                if coverage > 0.0 {
                    cells.push((dx, dy, weight(coverage)));
                }
            }
        }
        Self { cells }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(r: &Raster, x: usize, y: usize) -> [u8; 4] {
        let i = (y * r.width + x) * 4;
        [r.pixels[i], r.pixels[i + 1], r.pixels[i + 2], r.pixels[i + 3]]
    }

    #[test]
    fn filled_markers_cover_their_shape_and_blend_at_the_edge() {
        let mut raster = Raster::new(40, 40, [255, 255, 255]);
        let blue = parse_hex("#0072B2");
        assert_eq!(blue, [0, 114, 178]);
        raster.marker(20.0, 20.0, 5.0, Shape::Circle, blue, 1.0, None);
        assert_eq!(pixel(&raster, 19, 19), [0, 114, 178, 255], "centre exactly the class colour");
        assert_eq!(pixel(&raster, 30, 20), [255, 255, 255, 255], "outside untouched");
        let edge = pixel(&raster, 24, 19); // about 4.5 px from the centre: partly covered
        assert!(edge[0] > 0 && edge[0] < 255, "{edge:?}");
        // The covered area is close to the circle's area.
        let covered: f32 = (0..40 * 40).map(|i| 1.0 - f32::from(raster.pixels[i * 4]) / 255.0).sum();
        assert!((covered - std::f32::consts::PI * 25.0).abs() < 2.0, "{covered}");
    }

    #[test]
    fn every_shape_is_inside_at_its_centre_and_outside_far_away() {
        for shape in [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Diamond] {
            assert!(signed_distance(shape, 0.0, 0.0, 4.0) < -1.0, "{shape:?}");
            assert!(signed_distance(shape, 9.0, 0.0, 4.0) > 2.0, "{shape:?}");
            assert!(signed_distance(shape, 0.0, -9.0, 4.0) > 2.0, "{shape:?}");
        }
        // A square reaches its corners, a diamond does not.
        assert!(signed_distance(Shape::Square, 3.3, 3.3, 4.0) < 0.0);
        assert!(signed_distance(Shape::Diamond, 3.3, 3.3, 4.0) > 0.0);
    }

    #[test]
    fn open_markers_leave_their_centre_and_faded_ones_blend() {
        let mut raster = Raster::new(30, 30, [255, 255, 255]);
        raster.marker(15.0, 15.0, 6.0, Shape::Square, [0, 0, 0], 1.0, Some(1.6));
        assert_eq!(pixel(&raster, 14, 14), [255, 255, 255, 255], "an open marker's inside stays clear");
        assert!((0..30 * 30).any(|i| raster.pixels[i * 4] == 0), "its outline has fully covered pixels");
        let mut faded = Raster::new(10, 10, [255, 255, 255]);
        faded.marker(5.0, 5.0, 3.0, Shape::Circle, [0, 0, 0], 0.2, None);
        assert_eq!(pixel(&faded, 4, 4)[0], 204);
    }

    #[test]
    fn a_stamped_sprite_equals_the_marker_drawn_at_a_pixel_centre() {
        for (shape, open) in [(Shape::Circle, None), (Shape::Triangle, Some(1.6)), (Shape::Diamond, None)] {
            let mut drawn = Raster::new(24, 24, [255, 255, 255]);
            drawn.marker(12.5, 12.5, 4.2, shape, [0, 114, 178], 1.0, open);
            let mut stamped = Raster::new(24, 24, [255, 255, 255]);
            stamped.stamp(&Sprite::new(shape, 4.2, open), 12.0, 12.0, [0, 114, 178], 1.0);
            assert_eq!(drawn.pixels, stamped.pixels, "{shape:?}");
        }
    }
}
