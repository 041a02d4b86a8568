//! Fine-tuning SqueezeNet on a labelled data set (workflow steps 2–5).
//!
//! burn's `Learner` does not run on wasm32, so the loop is written out here, one iteration per
//! [`Trainer::step`] call: the caller (CLI, page) decides when to pause, yield to the browser,
//! or cancel, and every read-back is async (at most one per iteration: loss and correct count
//! come back together). Defaults are MATLAB's: Adam, learning rate 1e-4, 50 epochs,
//! mini-batch 128, shuffle every epoch, cross-entropy.

mod batch;
mod config;
mod evaluate;
mod run;
mod trainer;

pub use batch::prepare_input;
pub use config::{GPU_MICRO_BATCH, TrainConfig};
pub use evaluate::{Evaluation, Evaluator};
pub use run::{RunStep, TrainingOutcome, TrainingRun};
pub use trainer::{Checkpoint, EpochMetrics, IterationMetrics, StepOutcome, TrainError, Trainer};
