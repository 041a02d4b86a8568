//! Image preprocessing against the reference pipeline (Pillow resize + ImageNet normalisation).

mod common;

use common::{Reference, fixture_bytes, max_abs_diff};
use image::RgbImage;
use layerlens::data::image_input::{decode_rgb, normalise_chw, resize_to_input};

#[test]
fn normalising_photos_u8_reproduces_the_network_input() {
    let reference = Reference::load();
    let (shape, pixels) = reference.u8("photos_u8");
    assert_eq!(shape, vec![2, 227, 227, 3]);
    let per_image = 227 * 227 * 3;
    for i in 0..2 {
        let image = RgbImage::from_raw(227, 227, pixels[i * per_image..(i + 1) * per_image].to_vec()).unwrap();
        let diff = max_abs_diff(&normalise_chw(&image), reference.input(i));
        assert!(diff <= 1e-6, "image {i}: max |Δ| {diff:e}");
    }
}

/// Our decode (zune-jpeg) + resize (image's triangle filter) against Pillow's: the README's
/// "Image preprocessing" section documents the tolerance asserted here.
#[test]
fn own_resize_of_the_photos_is_close_to_pillow() {
    let reference = Reference::load();
    let (_, pixels) = reference.u8("photos_u8");
    let per_image = 227 * 227 * 3;
    for (i, name) in ["photos/china.jpg", "photos/flower.jpg"].iter().enumerate() {
        let ours = resize_to_input(&decode_rgb(&fixture_bytes(name)).unwrap());
        let theirs = &pixels[i * per_image..(i + 1) * per_image];
        let diffs: Vec<i32> = ours.as_raw().iter().zip(theirs).map(|(a, b)| (*a as i32 - *b as i32).abs()).collect();
        let max = *diffs.iter().max().unwrap();
        let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
        let within_2 = diffs.iter().filter(|d| **d <= 2).count() as f64 / diffs.len() as f64;
        eprintln!("{name}: max |Δ| {max} levels, mean {mean:.3}, {:.2}% within 2 levels", within_2 * 100.0);
        assert!(mean <= 1.0, "{name}: mean difference {mean} levels");
        assert!(within_2 >= 0.95, "{name}: only {within_2} within 2 levels");
    }
}
