//! `layerlens activations`: chosen layers' outputs for every image, as one safetensors file.

use super::ActivationsArgs;
use super::common::{activations_of_files, load_model};
use crate::tensor_file::write_f32_tensors;

pub fn run(args: ActivationsArgs) -> Result<(), String> {
    let mut layers = args.layers.clone();
    layers.dedup();
    let (net, device) = load_model(&args.model)?;
    let outputs = activations_of_files(&net, &device, &args.images, &layers, args.chunk, |done, total| {
        eprint!("\r{done}/{total} images")
    })?;
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
