//! What the classifier said about each image: its top two classes and how torn it was
//! between them (workflow step 7: ambiguity = second-largest / largest probability).

use serde::{Deserialize, Serialize};

/// The classifier's verdict on one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagePrediction {
    /// Index into the data set's images (stable across views, exports and sessions).
    pub image: usize,
    /// The image's true class (a data set class).
    pub truth: usize,
    /// The most probable class (a network class; equal to a data set class when the network
    /// was fine-tuned on this data set).
    pub predicted: usize,
    /// The two most probable classes with their probabilities, most probable first. With a
    /// one-class network the second entry repeats the first with probability 0.
    pub top2: [(usize, f32); 2],
    /// Second-largest / largest probability, in [0, 1]: 0 = certain, 1 = torn between two.
    pub ambiguity: f32,
}

/// The two most probable classes, most probable first; ties go to the lower class index
/// (as [`crate::model::inference::top_k`]). With fewer than two classes the missing entry is
/// `(first class, 0.0)`, so the ambiguity of a one-class network is 0.
pub fn top_two(probabilities: &[f32]) -> [(usize, f32); 2] {
    let mut best = (0, f32::NEG_INFINITY);
    let mut second = (0, f32::NEG_INFINITY);
    for (class, &p) in probabilities.iter().enumerate() {
        if p > best.1 {
            second = best;
            best = (class, p);
        } else if p > second.1 {
            second = (class, p);
        }
    }
    if probabilities.is_empty() {
        return [(0, 0.0), (0, 0.0)];
    }
    if probabilities.len() == 1 {
        second = (best.0, 0.0);
    }
    [best, second]
}

/// Second-largest / largest probability (MATLAB workflow step 7). A largest of 0 (all
/// probabilities 0, e.g. a degenerate score vector) gives 0; so does a single class.
pub fn ambiguity(top2: [(usize, f32); 2]) -> f32 {
    let (largest, second) = (top2[0].1, top2[1].1);
    if largest > 0.0 && largest.is_finite() { (second / largest).clamp(0.0, 1.0) } else { 0.0 }
}

impl ImagePrediction {
    /// The verdict on `image` (true class `truth`) from its class probabilities.
    pub fn new(image: usize, truth: usize, probabilities: &[f32]) -> Self {
        let top2 = top_two(probabilities);
        Self { image, truth, predicted: top2[0].0, top2, ambiguity: ambiguity(top2) }
    }

    /// Whether the network's class is the true one (only meaningful when both are the data
    /// set's classes).
    pub fn is_correct(&self) -> bool {
        self.predicted == self.truth
    }
}

/// Positions into `predictions`, most ambiguous first (ties: lower position first), as the
/// workflow's `sortrows(..., "descend")` table.
pub fn by_ambiguity(predictions: &[ImagePrediction]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..predictions.len()).collect();
    order.sort_by(|&a, &b| predictions[b].ambiguity.total_cmp(&predictions[a].ambiguity).then(a.cmp(&b)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguity_is_second_over_first() {
        let p = ImagePrediction::new(7, 2, &[0.1, 0.3, 0.6]);
        assert_eq!(p.top2, [(2, 0.6), (1, 0.3)]);
        assert_eq!(p.predicted, 2);
        assert!((p.ambiguity - 0.5).abs() < 1e-7);
        assert!(p.is_correct());
        // Torn between classes 2 and 0, as the workflow's ambiguous rows are.
        let q = ImagePrediction::new(180, 0, &[0.49, 0.01, 0.5]);
        assert!((q.ambiguity - 0.98).abs() < 1e-6);
        assert!(!q.is_correct());
    }

    #[test]
    fn ties_two_classes_and_zeros() {
        // A tie: both classes equally likely → ambiguity 1, the lower index first.
        let tie = top_two(&[0.4, 0.2, 0.4]);
        assert_eq!(tie, [(0, 0.4), (2, 0.4)]);
        assert_eq!(ambiguity(tie), 1.0);
        // K = 2.
        let two = ImagePrediction::new(0, 1, &[0.25, 0.75]);
        assert_eq!(two.top2, [(1, 0.75), (0, 0.25)]);
        assert!((two.ambiguity - 1.0 / 3.0).abs() < 1e-7);
        // A certain prediction and a largest of 0.
        assert_eq!(ambiguity(top_two(&[0.0, 1.0, 0.0])), 0.0);
        assert_eq!(ambiguity(top_two(&[0.0, 0.0])), 0.0);
        // K = 1: nothing to be torn between.
        let one = top_two(&[1.0]);
        assert_eq!(one, [(0, 1.0), (0, 0.0)]);
        assert_eq!(ambiguity(one), 0.0);
        assert_eq!(top_two(&[]), [(0, 0.0), (0, 0.0)]);
    }

    #[test]
    fn table_order_is_most_ambiguous_first() {
        let preds: Vec<ImagePrediction> = [[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.5, 0.5]]
            .iter()
            .enumerate()
            .map(|(i, p)| ImagePrediction::new(i, 0, p))
            .collect();
        assert_eq!(by_ambiguity(&preds), vec![1, 3, 2, 0]);
    }
}
