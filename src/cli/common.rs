//! What the subcommands share: loading the model and the images from paths.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use futures_lite::future::block_on;

use super::ModelArgs;
use crate::backend::native_device;
use crate::data::image_input::image_file_to_input;
use crate::model::inference::{ActivationPass, LayerActivations};
use crate::model::layers::Layer;
use crate::model::squeezenet::SqueezeNet;
use crate::model::weights::load_weights;

/// Reads a file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Loads the weights and builds the network on the chosen device.
pub fn load_model(args: &ModelArgs) -> Result<(SqueezeNet, Device), String> {
    let bytes = read_file(&args.weights)?;
    let (weights, _format) = load_weights(&bytes).map_err(|e| format!("{}: {e}", args.weights.display()))?;
    let device = native_device(args.backend).map_err(|e| format!("backend {}: {e}", args.backend))?;
    Ok((SqueezeNet::from_weights(&weights, &device), device))
}

/// Decodes and preprocesses every image, failing on the first bad one with its path.
pub fn load_inputs(paths: &[impl AsRef<Path>]) -> Result<Vec<Vec<f32>>, String> {
    paths
        .iter()
        .map(|path| {
            let path = path.as_ref();
            image_file_to_input(&read_file(path)?).map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}

/// Runs the images at `paths` through the network a chunk at a time, decoding only that chunk
/// (thousands of files are never held preprocessed at once), and gathers `layers`.
/// `progress(done, total)` is called after each chunk.
pub fn activations_of_files(
    net: &SqueezeNet,
    device: &Device,
    paths: &[PathBuf],
    layers: &[Layer],
    chunk: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<LayerActivations>, String> {
    let mut pass = ActivationPass::new(layers, paths.len(), chunk);
    while !pass.is_done() {
        let inputs = load_inputs(&paths[pass.next_chunk()])?;
        let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        block_on(pass.step(net, device, &refs)).map_err(|e| e.to_string())?;
        let (done, total) = pass.progress();
        progress(done, total);
    }
    Ok(pass.finish())
}
