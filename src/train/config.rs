//! Training settings and their defaults (MATLAB's `trainingOptions("adam", ...)` in the
//! reference workflow).

use serde::{Deserialize, Serialize};

use crate::data::augment::Augmentation;

pub use crate::backend::GPU_MICRO_BATCH;

/// Everything the user can set before training starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training split (MATLAB `MaxEpochs`; workflow: 50).
    pub epochs: usize,
    /// Images per iteration (MATLAB's default `MiniBatchSize`, 128).
    pub batch_size: usize,
    /// Adam's step size (workflow: `InitialLearnRate` 1e-4).
    pub learning_rate: f64,
    /// Fraction of each class used for training (`splitEachLabel(imds, 0.65)`).
    pub train_fraction: f64,
    /// Seeds the split, the shuffles, the augmentation and the new head's initialisation.
    pub seed: u64,
    /// Images per forward/backward pass inside a mini-batch (0 = the whole mini-batch at once).
    /// The parts' gradients are summed before Adam's step, so the update is the whole
    /// mini-batch's; each part is one `Trainer::step`, which keeps a page training on the CPU
    /// painting between parts however large the mini-batch is.
    pub micro_batch: usize,
    /// Validation images classified per step (smaller keeps a page on the CPU responsive).
    pub evaluation_chunk: usize,
    /// Dropout before `conv10` (SqueezeNet's 0.5; 0 for exactly reproducible steps).
    pub dropout: f64,
    #[serde(skip)]
    pub augmentation: Augmentation,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 50,
            batch_size: 128,
            learning_rate: 1e-4,
            train_fraction: 0.65,
            seed: 0,
            micro_batch: 0,
            evaluation_chunk: crate::backend::INFERENCE_PASS,
            dropout: 0.5,
            augmentation: Augmentation::default(),
        }
    }
}
