//! The analysis stage (workflow steps 5–8): what the network makes of each validation image and
//! how its layers arrange them.
//!
//! Built on top of `train` (an evaluation's truth and scores) and `embed` (t-SNE), never below
//! them: `predictions` (top two classes, ambiguity), `confusion` (matrix, recall, precision),
//! `activations` (a stepped job that runs the images chunk by chunk and keeps each layer's
//! rows, exactly or as a `sketch`), `pipeline` (activations then one t-SNE per layer, as one
//! stepped [`Analyzer`]), `rotation` (a wide layer onto its principal axes), `map_task` (one map as a task for a compute worker, and the
//! conversation that runs it), `quality` (trustworthiness and k-NN accuracy of a map) and `export`
//! (CSV, JSON and text). No UI code: the CLI and the page drive the same [`Analyzer`].

pub mod activations;
pub mod confusion;
pub mod export;
pub mod f32_wire;
pub mod map_index;
pub mod map_task;
pub mod palette;
pub mod pipeline;
pub mod predictions;
pub mod quality;
pub mod raster;
pub mod rotation;
pub mod sketch;

pub use pipeline::{Analysis, AnalysisConfig, AnalysisError, AnalysisStep, Analyzer, LayerMap};

#[cfg(test)]
mod tests;
