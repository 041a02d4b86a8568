//! Predictions → what they mean: confusion matrix and per-class metrics.

pub mod confusion;
