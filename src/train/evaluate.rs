//! Classifying a set of images with the current network: loss, accuracy, scores — in chunks,
//! one per [`Evaluator::step`], so the page can paint between them.

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::batch::prepare_input;
use super::trainer::TrainError;
use crate::data::augment::Augmentation;
use crate::data::dataset::DataSet;
use crate::model::inference::class_probabilities;
use crate::model::squeezenet::SqueezeNet;

/// The network's verdict on a set of images: what `analysis` builds its confusion matrix,
/// ambiguity and predictions tables from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction of `predicted` equal to `truth`.
    pub accuracy: f64,
    /// Per image: its true class.
    pub truth: Vec<usize>,
    /// Per image: class probabilities (MATLAB `minibatchpredict` scores).
    pub scores: Vec<Vec<f32>>,
    /// Per image: the most probable class (`scores2label`).
    pub predicted: Vec<usize>,
}

/// Classifies `indices` of a data set a chunk at a time (no augmentation, no autodiff).
pub struct Evaluator {
    net: SqueezeNet,
    indices: Vec<usize>,
    chunk: usize,
    scores: Vec<Vec<f32>>,
}

impl Evaluator {
    pub fn new(net: SqueezeNet, indices: Vec<usize>, chunk: usize) -> Self {
        Self { net, scores: Vec::with_capacity(indices.len()), indices, chunk: chunk.max(1) }
    }

    /// Images classified so far, and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.scores.len(), self.indices.len())
    }

    pub fn is_done(&self) -> bool {
        self.scores.len() >= self.indices.len()
    }

    /// Classifies the next chunk.
    pub async fn step(&mut self, device: &Device, data: &DataSet) -> Result<(), TrainError> {
        let start = self.scores.len();
        let end = (start + self.chunk).min(self.indices.len());
        let mut rng = ChaCha8Rng::seed_from_u64(0); // unused: no augmentation
        let mut inputs: Vec<Vec<f32>> = Vec::with_capacity(end - start);
        for &i in &self.indices[start..end] {
            let image = &data.images[i];
            let input = match image.read().await {
                Ok(bytes) => prepare_input(&bytes, &Augmentation::none(), &mut rng),
                Err(e) => Err(e),
            };
            inputs.push(input.map_err(|source| TrainError::Image { path: image.path.clone(), source })?);
        }
        let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        self.scores.extend(class_probabilities(&self.net, device, &refs).await?);
        Ok(())
    }

    /// The verdict, once every chunk is done.
    pub fn finish(self, data: &DataSet) -> Evaluation {
        let truth: Vec<usize> = self.indices.iter().map(|&i| data.images[i].class).collect();
        let predicted: Vec<usize> = self
            .scores
            .iter()
            .map(|s| s.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(c, _)| c).unwrap_or(0))
            .collect();
        let loss = truth.iter().zip(&self.scores).map(|(&t, s)| -(f64::from(s[t]).max(1e-30)).ln()).sum::<f64>()
            / truth.len().max(1) as f64;
        let correct = truth.iter().zip(&predicted).filter(|(t, p)| t == p).count();
        let accuracy = correct as f64 / truth.len().max(1) as f64;
        Evaluation { loss, accuracy, truth, scores: self.scores, predicted }
    }
}
