//! What the subcommands share: loading the model and the images from paths.

use std::path::Path;

use burn::prelude::*;

use super::ModelArgs;
use crate::backend::native_device;
use crate::data::image_input::image_file_to_input;
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
