//! A layer wider than its N rows, rotated onto its principal axes: N points span at most N − 1
//! dimensions, so projecting the rows onto all their principal axes keeps every distance
//! between them (and with it t-SNE's affinities and map) while the matrix shrinks from N × M
//! to N × N — pool1 of 341 images from 264 MB to 465 kB.
//!
//! On the CPU the centred Gram matrix is built a block of columns per [`Rotation::step`] (pool1
//! is seconds of work), so that whoever steps it can paint, report progress or stop between
//! blocks: the page's thread when it computes the activations itself, or the page's network
//! worker before it sends the rows to the page (`crate::served`).

use serde::{Deserialize, Serialize};

use super::activations::LayerMatrix;
use crate::embed::preprocess::{GramAccumulator, scores_from_gram};

/// One wide layer's rotation under way.
#[derive(Debug, Clone)]
pub struct Rotation {
    gram: GramAccumulator,
}

/// How far a rotation is, in columns of the layer folded into its Gram matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationProgress {
    pub done: usize,
    pub total: usize,
}

impl Rotation {
    /// Whether `matrix` is worth rotating: more columns than rows (and not rotated already).
    pub fn is_worth_it(matrix: &LayerMatrix) -> bool {
        matrix.columns() > matrix.rows()
    }

    /// Starts rotating `matrix` (its column means are taken now).
    pub fn new(matrix: &LayerMatrix) -> Self {
        Self { gram: GramAccumulator::new(&matrix.values, matrix.rows(), matrix.columns()) }
    }

    /// Folds the next block of `matrix`'s columns in (the matrix given to [`Rotation::new`]).
    pub fn step(&mut self, matrix: &LayerMatrix) -> RotationProgress {
        self.gram.add_columns(&matrix.values, matrix.columns());
        self.progress()
    }

    pub fn progress(&self) -> RotationProgress {
        let (done, total) = self.gram.progress();
        RotationProgress { done, total }
    }

    pub fn is_done(&self) -> bool {
        self.gram.is_done()
    }

    /// Replaces `matrix`'s rows by their principal-component scores (N × N at most, in f32 as
    /// t-SNE takes them), once every block is done.
    pub fn finish(self, matrix: &mut LayerMatrix) {
        let (n, m) = (matrix.rows(), matrix.columns());
        let scores = scores_from_gram(&self.gram.finish(), n, m, n);
        let d = scores.len() / n.max(1);
        matrix.values = scores.into_iter().map(|v| v as f32).collect();
        matrix.rotation = Some(d);
    }
}
