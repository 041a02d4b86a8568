//! `layerlens activations`: chosen layers' outputs for every image, as one safetensors file.

use std::ops::ControlFlow;

use futures_lite::future::block_on;

use super::ActivationsArgs;
use super::common::{load_inputs, load_model};
use crate::model::inference::layer_activations;
use crate::tensor_file::write_f32_tensors;

pub fn run(args: ActivationsArgs) -> Result<(), String> {
    let mut layers = args.layers.clone();
    layers.dedup();
    let (net, device) = load_model(&args.model)?;
    let inputs = load_inputs(&args.images)?;
    let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    let mut report = |done: usize, total: usize| {
        eprint!("\r{done}/{total} images");
        ControlFlow::Continue(())
    };
    let outputs = block_on(layer_activations(&net, &device, &refs, &layers, args.chunk, &mut report))
        .map_err(|e| e.to_string())?;
    eprintln!();
    let names: Vec<String> = outputs.iter().map(|a| a.layer.to_string()).collect();
    let shapes: Vec<Vec<usize>> = outputs.iter().map(|a| a.shape()).collect();
    let bytes = write_f32_tensors(
        outputs.iter().enumerate().map(|(i, a)| (names[i].as_str(), shapes[i].as_slice(), a.values.as_slice())),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(&args.out, bytes).map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    for (name, shape) in names.iter().zip(&shapes) {
        eprintln!("{name}: {shape:?}");
    }
    Ok(())
}
