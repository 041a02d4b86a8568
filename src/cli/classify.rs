//! `layerlens classify`: the top classes of each image.

use super::ClassifyArgs;
use super::common::{activations_of_files, load_model, read_file};
use crate::backend::INFERENCE_PASS;
use crate::model::inference::top_k;
use crate::model::layers::Layer;

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
    let prob = activations_of_files(&net, &device, &args.images, &[Layer::Prob], INFERENCE_PASS, |_, _| {})?;
    let prob = prob.into_iter().next();
    for (image, path) in args.images.iter().enumerate() {
        let probs = prob.as_ref().map_or(&[][..], |p| p.row(image));
        println!("{}", path.display());
        for (rank, (class, p)) in top_k(probs, args.top as usize).into_iter().enumerate() {
            match &labels {
                Some(names) => println!("  {}. {:<24} {p:.5}", rank + 1, names[class]),
                None => println!("  {}. class {class:<5} {p:.5}", rank + 1),
            }
        }
    }
    Ok(())
}
