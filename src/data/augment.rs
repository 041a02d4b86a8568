//! Random augmentation of training images (MATLAB `imageDataAugmenter` with
//! `RandXReflection`, `RandYReflection`, `RandXScale`/`RandYScale` = [0.8, 1.2]).
//!
//! Like MATLAB's augmented datastore, the output keeps the input's size: a scale about the
//! image centre, then the centre 227×227 view (pixels that fall outside the source are 0).

use image::RgbImage;
use rand::Rng;

/// Which augmentations are on, and the scale range. Defaults are the reference workflow's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Augmentation {
    pub flip_left_right: bool,
    pub flip_up_down: bool,
    /// Independent X and Y scale factors are drawn uniformly from this range; `(1, 1)` = off.
    pub scale_range: (f32, f32),
}

impl Default for Augmentation {
    fn default() -> Self {
        Self { flip_left_right: true, flip_up_down: true, scale_range: (0.8, 1.2) }
    }
}

impl Augmentation {
    /// No augmentation at all (validation images, `--no-augment`).
    pub fn none() -> Self {
        Self { flip_left_right: false, flip_up_down: false, scale_range: (1.0, 1.0) }
    }

    /// Draws this image's transform and applies it.
    pub fn apply(&self, image: &RgbImage, rng: &mut impl Rng) -> RgbImage {
        let flip_x = self.flip_left_right && rng.random_bool(0.5);
        let flip_y = self.flip_up_down && rng.random_bool(0.5);
        let (lo, hi) = self.scale_range;
        let mut draw = || {
            if hi > lo { rng.random_range(lo..=hi) } else { lo }
        };
        let (sx, sy) = (draw(), draw());
        transform(image, flip_x, flip_y, sx, sy)
    }
}

/// Mirrors and scales about the centre, keeping the size; bilinear sampling, 0 outside.
pub fn transform(image: &RgbImage, flip_x: bool, flip_y: bool, scale_x: f32, scale_y: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let identity_scale = scale_x == 1.0 && scale_y == 1.0;
    RgbImage::from_fn(w, h, |x, y| {
        let (mut u, mut v) = (x as f32, y as f32);
        if flip_x {
            u = w as f32 - 1.0 - u;
        }
        if flip_y {
            v = h as f32 - 1.0 - v;
        }
        if identity_scale {
            return *image.get_pixel(u as u32, v as u32);
        }
        sample_bilinear(image, (u - cx) / scale_x + cx, (v - cy) / scale_y + cy)
    })
}

fn sample_bilinear(image: &RgbImage, u: f32, v: f32) -> image::Rgb<u8> {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let (x0, y0) = (u.floor() as i64, v.floor() as i64);
    let (fx, fy) = (u - x0 as f32, v - y0 as f32);
    let at = |x: i64, y: i64| -> [f32; 3] {
        if x < 0 || y < 0 || x >= w || y >= h { [0.0; 3] } else { image.get_pixel(x as u32, y as u32).0.map(f32::from) }
    };
    let (a, b, c, d) = (at(x0, y0), at(x0 + 1, y0), at(x0, y0 + 1), at(x0 + 1, y0 + 1));
    let mut out = [0u8; 3];
    for k in 0..3 {
        let top = a[k] + (b[k] - a[k]) * fx;
        let bottom = c[k] + (d[k] - c[k]) * fx;
        out[k] = (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8;
    }
    image::Rgb(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 10) as u8, (y * 10) as u8, 77]))
    }

    #[test]
    fn flips_are_mirrors() {
        let image = gradient(7, 5);
        let lr = transform(&image, true, false, 1.0, 1.0);
        let ud = transform(&image, false, true, 1.0, 1.0);
        for y in 0..5 {
            for x in 0..7 {
                assert_eq!(lr.get_pixel(x, y), image.get_pixel(6 - x, y));
                assert_eq!(ud.get_pixel(x, y), image.get_pixel(x, 4 - y));
            }
        }
    }

    #[test]
    fn scaling_keeps_size_and_centre() {
        let image = gradient(21, 21);
        for (sx, sy) in [(0.8, 1.2), (1.2, 0.8), (1.2, 1.2)] {
            let out = transform(&image, false, false, sx, sy);
            assert_eq!(out.dimensions(), (21, 21));
            assert_eq!(out.get_pixel(10, 10), image.get_pixel(10, 10), "centre moves at {sx}×{sy}");
        }
        // Shrinking leaves a black border; enlarging pushes the edge pixel inwards.
        let small = transform(&image, false, false, 0.8, 0.8);
        assert_eq!(small.get_pixel(0, 0).0, [0, 0, 0]);
        let big = transform(&image, false, false, 1.2, 1.0);
        assert!(big.get_pixel(20, 10).0[0] < image.get_pixel(20, 10).0[0]);
    }

    #[test]
    fn same_seed_same_augmentation() {
        let image = gradient(16, 16);
        let aug = Augmentation::default();
        let run = |seed| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            (0..8).map(|_| aug.apply(&image, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(Augmentation::none().apply(&image, &mut rng), image);
    }
}
