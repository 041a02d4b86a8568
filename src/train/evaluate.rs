//! Classifying a set of images with the current network: loss, accuracy, scores.

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::batch::prepare_input;
use crate::analysis::confusion::ConfusionMatrix;
use crate::backend::BackendError;
use crate::data::augment::Augmentation;
use crate::data::dataset::DataSet;
use crate::model::inference::{DEFAULT_CHUNK, class_probabilities};
use crate::model::squeezenet::SqueezeNet;

/// The network's verdict on a set of images.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    pub accuracy: f64,
    /// Per image: class probabilities (MATLAB `minibatchpredict` scores).
    pub scores: Vec<Vec<f32>>,
    /// Per image: the most probable class (`scores2label`).
    pub predicted: Vec<usize>,
    pub confusion: ConfusionMatrix,
}

/// Classifies `indices` of `data` (no augmentation) in chunks, on a non-autodiff network.
pub async fn evaluate(net: &SqueezeNet, device: &Device, data: &DataSet, indices: &[usize]) -> Result<Evaluation, BackendError> {
    let mut rng = ChaCha8Rng::seed_from_u64(0); // unused: no augmentation
    let mut scores = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(DEFAULT_CHUNK) {
        let inputs: Vec<Vec<f32>> = chunk
            .iter()
            .map(|&i| prepare_input(&data.images[i].bytes, &Augmentation::none(), &mut rng).expect("images were decoded once when the data set was read"))
            .collect();
        let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        scores.extend(class_probabilities(net, device, &refs).await?);
    }
    let truth: Vec<usize> = indices.iter().map(|&i| data.images[i].class).collect();
    let predicted: Vec<usize> = scores
        .iter()
        .map(|s| s.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(c, _)| c).unwrap_or(0))
        .collect();
    let loss = truth.iter().zip(&scores).map(|(&t, s)| -(f64::from(s[t]).max(1e-30)).ln()).sum::<f64>()
        / truth.len().max(1) as f64;
    let confusion = ConfusionMatrix::new(data.classes.len(), &truth, &predicted);
    Ok(Evaluation { loss, accuracy: confusion.accuracy(), scores, predicted, confusion })
}
