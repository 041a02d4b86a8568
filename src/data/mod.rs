//! Files in → network input: image decoding and preprocessing.

pub mod image_input;
