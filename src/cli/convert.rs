//! `layerlens convert-weights`: SqueezeNet 1.1 weights from any format the loader reads (ONNX,
//! safetensors) to the safetensors layout the page loads fastest (torchvision keys, f32).
//! `scripts/fetch-weights` uses it on the model zoo's ONNX file.

use super::ConvertArgs;
use super::common::read_file;
use crate::model::weights::{load_weights, weights_to_safetensors};
use crate::text_format::thousands;

pub fn run(args: ConvertArgs) -> Result<(), String> {
    let bytes = read_file(&args.input)?;
    let (weights, format) = load_weights(&bytes).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let out = weights_to_safetensors(&weights).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, &out).map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    eprintln!(
        "{} ({format}, {} classes, {} parameters) → {} ({} bytes)",
        args.input.display(),
        weights.num_classes(),
        thousands(weights.num_params()),
        args.out.display(),
        thousands(out.len())
    );
    Ok(())
}
