//! SqueezeNet weights from bytes, whatever file they came in.
//!
//! Weights are never compiled into the page: the user brings a file at run time. Both readers
//! (safetensors with torchvision keys, ONNX with any naming) produce the same [`SqueezeNetWeights`]
//! — plain named f32 tensors in torchvision order — which is validated against
//! [`conv_specs`](super::architecture::conv_specs) before any tensor reaches a device. A wrong
//! file gets a [`WeightsError`] that names the tensor and the shapes involved.

mod onnx;
mod safetensors_file;

use thiserror::Error;

use super::architecture::conv_specs;

/// The tensor whose first dimension tells how many classes a file's network scores.
const CLASSIFIER_WEIGHT: &str = "classifier.1.weight";

pub use safetensors_file::weights_to_safetensors;

/// Weight tensors are the file format's plain tensors (defined with the format, so the format
/// module does not depend on the model).
pub use crate::tensor_file::RawTensor;

/// All 52 parameter tensors of a SqueezeNet 1.1, in torchvision key order, shapes checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SqueezeNetWeights {
    tensors: Vec<(String, RawTensor)>,
    num_classes: usize,
}

/// Which kind of file the weights came from; shown to the user next to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsFormat {
    Safetensors,
    Onnx,
}

impl std::fmt::Display for WeightsFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WeightsFormat::Safetensors => "safetensors",
            WeightsFormat::Onnx => "ONNX",
        })
    }
}

/// Why a weights file was refused.
#[derive(Debug, Error, PartialEq)]
pub enum WeightsError {
    #[error("not a weights file: expected a .safetensors or .onnx file")]
    NotAWeightsFile,
    #[error("the {format} file is damaged or truncated: {reason}")]
    Damaged { format: WeightsFormat, reason: String },
    #[error("not a SqueezeNet 1.1: tensor `{name}` is missing")]
    MissingTensor { name: String },
    #[error("not a SqueezeNet 1.1: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch { name: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("tensor `{name}` has data type {dtype}; only floating-point weights are supported")]
    UnsupportedDtype { name: String, dtype: String },
    #[error("tensor `{name}` holds {found} values but its shape {shape:?} needs {expected}")]
    WrongElementCount { name: String, shape: Vec<usize>, expected: usize, found: usize },
    #[error("not a SqueezeNet 1.1: the ONNX graph has {found} convolutions, expected 26")]
    WrongConvCount { found: usize },
    #[error("the ONNX file keeps tensor `{name}` in an external data file; export it with the weights inside")]
    ExternalData { name: String },
}

impl SqueezeNetWeights {
    /// Validates named tensors against the SqueezeNet 1.1 layout. The class count is taken from
    /// `classifier.1.weight`, so fine-tuned files with K classes load like ImageNet ones.
    pub fn from_named(mut named: Vec<(String, RawTensor)>) -> Result<Self, WeightsError> {
        let classifier = CLASSIFIER_WEIGHT.to_string();
        let num_classes = named
            .iter()
            .find(|(name, _)| *name == classifier)
            .map(|(_, t)| t.shape.first().copied().unwrap_or(0))
            .ok_or_else(|| WeightsError::MissingTensor { name: classifier.clone() })?;
        let mut tensors = Vec::with_capacity(52);
        for spec in conv_specs(num_classes.max(1)) {
            for (key, expected) in
                [(spec.weight_key(), spec.weight_shape.to_vec()), (spec.bias_key(), vec![spec.weight_shape[0]])]
            {
                let index = named
                    .iter()
                    .position(|(name, _)| *name == key)
                    .ok_or_else(|| WeightsError::MissingTensor { name: key.clone() })?;
                let (_, tensor) = named.swap_remove(index);
                check_shape(&key, &tensor, &expected)?;
                tensors.push((key, tensor));
            }
        }
        Ok(Self { tensors, num_classes })
    }

    /// Number of output classes of `conv10`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The tensor stored under a torchvision key, if any.
    pub fn get(&self, key: &str) -> Option<&RawTensor> {
        self.tensors.iter().find(|(name, _)| name == key).map(|(_, t)| t)
    }

    /// All tensors in torchvision order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawTensor)> {
        self.tensors.iter().map(|(name, t)| (name.as_str(), t))
    }

    /// Total number of parameters.
    pub fn num_params(&self) -> usize {
        self.tensors.iter().map(|(_, t)| t.data.len()).sum()
    }
}

fn check_shape(name: &str, tensor: &RawTensor, expected: &[usize]) -> Result<(), WeightsError> {
    if tensor.shape != expected {
        return Err(WeightsError::ShapeMismatch {
            name: name.to_string(),
            expected: expected.to_vec(),
            found: tensor.shape.clone(),
        });
    }
    let count: usize = tensor.shape.iter().product();
    if tensor.data.len() != count {
        return Err(WeightsError::WrongElementCount {
            name: name.to_string(),
            shape: tensor.shape.clone(),
            expected: count,
            found: tensor.data.len(),
        });
    }
    Ok(())
}

/// Reads SqueezeNet weights from the bytes of a `.safetensors` or `.onnx` file, detecting the
/// format from the content (file names lie; headers do not).
pub fn load_weights(bytes: &[u8]) -> Result<(SqueezeNetWeights, WeightsFormat), WeightsError> {
    if safetensors_file::looks_like_safetensors(bytes) {
        let named = safetensors_file::read_named_tensors(bytes)?;
        return Ok((SqueezeNetWeights::from_named(named)?, WeightsFormat::Safetensors));
    }
    if onnx::looks_like_onnx(bytes) {
        let named = onnx::read_conv_weights(bytes)?;
        return Ok((SqueezeNetWeights::from_named(named)?, WeightsFormat::Onnx));
    }
    Err(WeightsError::NotAWeightsFile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/squeezenet/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn onnx_and_safetensors_give_bit_identical_weights() {
        let (from_st, f1) = load_weights(&fixture("squeezenet1_1_random.safetensors")).unwrap();
        let (from_onnx, f2) = load_weights(&fixture("squeezenet1_1_random.onnx")).unwrap();
        assert_eq!((f1, f2), (WeightsFormat::Safetensors, WeightsFormat::Onnx));
        assert_eq!(from_st.num_params(), 1_235_496);
        assert_eq!(from_st.num_classes(), 1000);
        for ((k1, t1), (k2, t2)) in from_st.iter().zip(from_onnx.iter()) {
            assert_eq!(k1, k2);
            assert_eq!(t1.shape, t2.shape, "{k1}");
            let bits1: Vec<u32> = t1.data.iter().map(|v| v.to_bits()).collect();
            let bits2: Vec<u32> = t2.data.iter().map(|v| v.to_bits()).collect();
            assert!(bits1 == bits2, "{k1} differs between formats");
        }
    }

    #[test]
    fn truncated_files_are_refused_with_a_reason() {
        for name in ["squeezenet1_1_random.safetensors", "squeezenet1_1_random.onnx"] {
            let bytes = fixture(name);
            let err = load_weights(&bytes[..bytes.len() / 2]).unwrap_err();
            assert!(matches!(err, WeightsError::Damaged { .. }), "{name}: {err:?}");
        }
    }

    #[test]
    fn text_is_not_a_weights_file() {
        assert_eq!(load_weights(b"just some text").unwrap_err(), WeightsError::NotAWeightsFile);
        assert_eq!(load_weights(&[]).unwrap_err(), WeightsError::NotAWeightsFile);
    }

    #[test]
    fn wrong_shape_names_the_tensor_and_both_shapes() {
        let (weights, _) = load_weights(&fixture("squeezenet1_1_random.safetensors")).unwrap();
        let mut named: Vec<(String, RawTensor)> = weights.iter().map(|(k, t)| (k.to_string(), t.clone())).collect();
        let entry = named.iter_mut().find(|(k, _)| k == "features.6.squeeze.weight").unwrap();
        entry.1 = RawTensor { shape: vec![32, 128, 3, 3], data: vec![0.0; 32 * 128 * 9] };
        let err = SqueezeNetWeights::from_named(named).unwrap_err();
        assert_eq!(
            err,
            WeightsError::ShapeMismatch {
                name: "features.6.squeeze.weight".into(),
                expected: vec![32, 128, 1, 1],
                found: vec![32, 128, 3, 3],
            }
        );
        assert!(err.to_string().contains("features.6.squeeze.weight"));
    }

    #[test]
    fn another_model_is_refused() {
        // A file with only a classifier: a model that is not SqueezeNet.
        let named =
            vec![("classifier.1.weight".to_string(), RawTensor { shape: vec![10, 512, 1, 1], data: vec![0.0; 5120] })];
        let bytes = weights_to_safetensors_raw(&named);
        let err = load_weights(&bytes).unwrap_err();
        assert_eq!(err, WeightsError::MissingTensor { name: "features.0.weight".into() });
    }

    fn weights_to_safetensors_raw(named: &[(String, RawTensor)]) -> Vec<u8> {
        safetensors_file::serialize_named(named.iter().map(|(k, t)| (k.as_str(), t))).unwrap()
    }

    #[test]
    fn fine_tuned_class_count_round_trips_through_safetensors() {
        let (weights, _) = load_weights(&fixture("squeezenet1_1_random.safetensors")).unwrap();
        let mut named: Vec<(String, RawTensor)> = weights.iter().map(|(k, t)| (k.to_string(), t.clone())).collect();
        for (k, t) in named.iter_mut() {
            if k == "classifier.1.weight" {
                *t = RawTensor { shape: vec![3, 512, 1, 1], data: (0..1536).map(|i| i as f32).collect() };
            } else if k == "classifier.1.bias" {
                *t = RawTensor { shape: vec![3], data: vec![1.0, 2.0, 3.0] };
            }
        }
        let three = SqueezeNetWeights::from_named(named).unwrap();
        let bytes = weights_to_safetensors(&three).unwrap();
        let (back, format) = load_weights(&bytes).unwrap();
        assert_eq!(format, WeightsFormat::Safetensors);
        assert_eq!(back, three);
        assert_eq!(back.num_classes(), 3);
    }
}
