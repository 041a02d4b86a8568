//! Confusion matrix (rows: true class, columns: predicted class) and the metrics read off it.

use serde::Serialize;

/// Counts of (true, predicted) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    /// `counts[true][predicted]`.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// A square matrix: truth and predictions are the same classes.
    pub fn new(classes: usize, truth: &[usize], predicted: &[usize]) -> Self {
        Self::rectangular(classes, classes, truth, predicted)
    }

    /// Rows and columns of different classes: a network that was not fine-tuned predicts its
    /// own classes (e.g. ImageNet's) for the data set's.
    pub fn rectangular(rows: usize, columns: usize, truth: &[usize], predicted: &[usize]) -> Self {
        let mut counts = vec![vec![0; columns]; rows];
        for (&t, &p) in truth.iter().zip(predicted) {
            counts[t][p] += 1;
        }
        Self { counts }
    }

    /// The confusion matrix of an evaluation (truth and predictions in `classes` classes).
    pub fn of(evaluation: &crate::train::Evaluation, classes: usize) -> Self {
        Self::new(classes, &evaluation.truth, &evaluation.predicted)
    }

    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Fraction of all images classified correctly.
    pub fn accuracy(&self) -> f64 {
        let correct: usize = self.counts.iter().enumerate().filter_map(|(c, row)| row.get(c)).sum();
        correct as f64 / self.total().max(1) as f64
    }

    /// Of the images of class `c`, the fraction predicted as `c` (`None` without any).
    pub fn recall(&self, c: usize) -> Option<f64> {
        let row: usize = self.counts[c].iter().sum();
        (row > 0).then(|| self.counts[c][c] as f64 / row as f64)
    }

    /// Of the images predicted as `c`, the fraction that are `c` (`None` if never predicted).
    pub fn precision(&self, c: usize) -> Option<f64> {
        let column: usize = self.counts.iter().map(|row| row[c]).sum();
        (column > 0).then(|| self.counts[c][c] as f64 / column as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_from_counts() {
        let m = ConfusionMatrix::new(3, &[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 2, 0]);
        assert_eq!(m.counts, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 1]]);
        assert!((m.accuracy() - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(m.recall(0), Some(0.5));
        assert_eq!(m.precision(1), Some(2.0 / 3.0));
        let never = ConfusionMatrix::new(2, &[0], &[0]);
        assert_eq!(never.precision(1), None);
        assert_eq!(never.recall(1), None);
    }
}
