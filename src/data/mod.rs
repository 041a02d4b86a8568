//! Files in → labelled images → network input: data sets from folders and zips, the
//! per-class split, augmentation, and image decoding and preprocessing.

pub mod augment;
pub mod dataset;
pub mod demo;
pub mod image_input;
pub mod matrix;
pub mod sources;
pub mod split;
