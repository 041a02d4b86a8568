//! layerlens: see how a convolutional network sees your images.
//!
//! The data flows one way — files → images → model → activations → views — and the modules
//! follow it: `data` (image files to network input), `model` (SqueezeNet, its weights, running
//! it), `backend` (CPU or GPU device, async read-back), `served` (training and activations as a
//! conversation, for the page's network worker), `session` (a person's work as one file),
//! `cli` (native command line), `ui` (the Leptos page, wasm32 only) and `compute_worker` (the
//! page's Web Worker for t-SNE maps, wasm32 only), with `training_worker` and `wasm_start`
//! (what every wasm entry point runs first). Everything but those compiles and is tested
//! natively.

pub mod analysis;
pub mod backend;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
#[cfg(target_arch = "wasm32")]
pub mod compute_worker;
pub mod data;
pub mod embed;
pub mod model;
pub mod served;
pub mod session;
pub mod tensor_file;
pub mod text_format;
pub mod train;
#[cfg(target_arch = "wasm32")]
pub mod training_worker;
#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod wasm_start;
