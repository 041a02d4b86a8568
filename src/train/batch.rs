//! Mini-batches: images are decoded from their stored bytes only when their batch comes up,
//! so a data set of large photos costs its file size in memory, not its pixels.

use rand::Rng;

use crate::data::augment::Augmentation;
use crate::data::image_input::{ImageInputError, decode_rgb, normalise_chw, resize_to_input};

/// Decode → 227×227 → augment → normalise: one image's network input.
pub fn prepare_input(
    bytes: &[u8],
    augmentation: &Augmentation,
    rng: &mut impl Rng,
) -> Result<Vec<f32>, ImageInputError> {
    let resized = resize_to_input(&decode_rgb(bytes)?);
    Ok(normalise_chw(&augmentation.apply(&resized, rng)))
}
