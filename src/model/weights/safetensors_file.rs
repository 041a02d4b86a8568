//! Weights in safetensors form, keyed by torchvision's `squeezenet1_1().state_dict()` names.

use crate::tensor_file::{self, TensorFileError};

use super::{RawTensor, SqueezeNetWeights, WeightsError, WeightsFormat};

pub(super) use tensor_file::looks_like_safetensors;

/// Reads every tensor of the file; validation against the architecture happens in the caller.
pub(super) fn read_named_tensors(bytes: &[u8]) -> Result<Vec<(String, RawTensor)>, WeightsError> {
    tensor_file::read_f32_tensors(bytes).map_err(|e| match e {
        TensorFileError::Format(reason) => WeightsError::Damaged { format: WeightsFormat::Safetensors, reason },
        TensorFileError::UnsupportedDtype { name, dtype } => WeightsError::UnsupportedDtype { name, dtype },
    })
}

/// Serialises named tensors (used by the tests to build deliberately wrong files).
#[cfg(test)]
pub(super) fn serialize_named<'a>(
    tensors: impl IntoIterator<Item = (&'a str, &'a RawTensor)>,
) -> Result<Vec<u8>, TensorFileError> {
    tensor_file::write_f32_tensors(tensors.into_iter().map(|(k, t)| (k, t.shape.as_slice(), t.data.as_slice())))
}

/// Writes weights as a torchvision-keyed safetensors file: what a fine-tuned model is saved as,
/// loadable back here and by `torch` / `safetensors` in Python.
pub fn weights_to_safetensors(weights: &SqueezeNetWeights) -> Result<Vec<u8>, TensorFileError> {
    tensor_file::write_f32_tensors(weights.iter().map(|(k, t)| (k, t.shape.as_slice(), t.data.as_slice())))
}
