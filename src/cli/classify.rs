//! `layerlens classify`: the top classes of each image.

use futures_lite::future::block_on;

use super::ClassifyArgs;
use super::common::{load_inputs, load_model, read_file};
use crate::model::inference::{class_probabilities, top_k};

pub fn run(args: ClassifyArgs) -> Result<(), String> {
    let labels = match &args.labels {
        Some(path) => Some(
            String::from_utf8(read_file(path)?)
                .map_err(|_| format!("{}: the labels file is not UTF-8 text", path.display()))?
                .lines()
                .map(|l| l.trim().to_string())
                .collect::<Vec<_>>(),
        ),
        None => None,
    };
    let (net, device) = load_model(&args.model)?;
    if let Some(labels) = labels.as_ref().filter(|l| l.len() != net.num_classes()) {
        return Err(format!("the labels file names {} classes but the model has {}", labels.len(), net.num_classes()));
    }
    let inputs = load_inputs(&args.images)?;
    let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    let probabilities = block_on(class_probabilities(&net, &device, &refs)).map_err(|e| e.to_string())?;
    for (path, probs) in args.images.iter().zip(probabilities) {
        println!("{}", path.display());
        for (rank, (class, p)) in top_k(&probs, args.top as usize).into_iter().enumerate() {
            match &labels {
                Some(names) => println!("  {}. {:<24} {p:.5}", rank + 1, names[class]),
                None => println!("  {}. class {class:<5} {p:.5}", rank + 1),
            }
        }
    }
    Ok(())
}
