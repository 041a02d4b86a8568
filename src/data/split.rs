//! Training / validation split per class (MATLAB `splitEachLabel(imds, 0.65)`, randomised).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use super::dataset::DataSet;

/// Indices into [`DataSet::images`] for each part, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
}

/// Why a data set cannot be split for training.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum SplitError {
    #[error("training needs at least 2 classes; found {found}")]
    TooFewClasses { found: usize },
    #[error("class `{class}` has {count} image(s); every class needs at least 2 (one to train on, one to validate)")]
    ClassTooSmall { class: String, count: usize },
    #[error("the training fraction must be between 0 and 1 (exclusive); got {0}")]
    BadFraction(f64),
}

/// Shuffles each class with `seed` and puts `round(fraction × n)` of its images in training,
/// clamped so that every class keeps at least one image in each part.
pub fn split_each_label(data: &DataSet, fraction: f64, seed: u64) -> Result<Split, SplitError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(SplitError::BadFraction(fraction));
    }
    if data.classes.len() < 2 {
        return Err(SplitError::TooFewClasses { found: data.classes.len() });
    }
    let counts = data.counts();
    if let Some((class, &count)) = counts.iter().enumerate().find(|(_, c)| **c < 2) {
        return Err(SplitError::ClassTooSmall { class: data.classes[class].clone(), count });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut split = Split { train: Vec::new(), validation: Vec::new() };
    for class in 0..data.classes.len() {
        let mut members: Vec<usize> = (0..data.images.len()).filter(|&i| data.images[i].class == class).collect();
        members.shuffle(&mut rng);
        let n = members.len();
        let n_train = ((fraction * n as f64).round() as usize).clamp(1, n - 1);
        split.train.extend_from_slice(&members[..n_train]);
        split.validation.extend_from_slice(&members[n_train..]);
    }
    split.train.sort_unstable();
    split.validation.sort_unstable();
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{DataSet, LabelledImage};

    fn data_set(counts: &[usize]) -> DataSet {
        let classes: Vec<String> = (0..counts.len()).map(|c| format!("c{c}")).collect();
        let mut images = Vec::new();
        for (class, &n) in counts.iter().enumerate() {
            for i in 0..n {
                images.push(LabelledImage {
                    path: format!("c{class}/{i}.png"),
                    class,
                    content: crate::data::dataset::ImageBytes::Held(std::sync::Arc::from(Vec::new())),
                    thumbnail: image::RgbImage::new(1, 1),
                });
            }
        }
        DataSet { classes, images, rejected: Vec::new() }
    }

    #[test]
    fn per_class_counts_follow_the_fraction() {
        let data = data_set(&[100, 20, 3, 2]);
        let split = split_each_label(&data, 0.65, 7).unwrap();
        let count = |part: &[usize], class: usize| part.iter().filter(|&&i| data.images[i].class == class).count();
        assert_eq!([0, 1, 2, 3].map(|c| count(&split.train, c)), [65, 13, 2, 1]);
        assert_eq!([0, 1, 2, 3].map(|c| count(&split.validation, c)), [35, 7, 1, 1]);
        let mut all: Vec<usize> = split.train.iter().chain(&split.validation).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..data.images.len()).collect::<Vec<_>>(), "every image in exactly one part");
    }

    #[test]
    fn seed_decides_the_split() {
        let data = data_set(&[50, 50]);
        assert_eq!(split_each_label(&data, 0.65, 1).unwrap(), split_each_label(&data, 0.65, 1).unwrap());
        assert_ne!(split_each_label(&data, 0.65, 1).unwrap(), split_each_label(&data, 0.65, 2).unwrap());
    }

    #[test]
    fn extreme_fractions_keep_every_class_in_both_parts() {
        let data = data_set(&[10, 5]);
        for fraction in [0.01, 0.99] {
            let split = split_each_label(&data, fraction, 3).unwrap();
            for class in 0..2 {
                assert!(split.train.iter().any(|&i| data.images[i].class == class));
                assert!(split.validation.iter().any(|&i| data.images[i].class == class));
            }
        }
    }

    #[test]
    fn unusable_data_sets_are_refused_with_a_reason() {
        assert_eq!(split_each_label(&data_set(&[10]), 0.65, 0), Err(SplitError::TooFewClasses { found: 1 }));
        let err = split_each_label(&data_set(&[10, 1]), 0.65, 0).unwrap_err();
        assert_eq!(err, SplitError::ClassTooSmall { class: "c1".into(), count: 1 });
        assert!(err.to_string().contains("c1"));
        assert_eq!(split_each_label(&data_set(&[3, 3]), 1.0, 0), Err(SplitError::BadFraction(1.0)));
    }
}
