//! Named f32 tensors in and out of the safetensors format.
//!
//! One small wrapper over the `safetensors` crate shared by the weight loader, the activations
//! export and the tests, so that dtype handling (f16/bf16/f64 widened or narrowed to f32) and
//! error wording live in one place.

use std::borrow::Cow;

use safetensors::{Dtype, SafeTensors, View};
use thiserror::Error;

/// A dense f32 tensor as read from a file, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Why a safetensors buffer could not be read or written.
#[derive(Debug, Error, PartialEq)]
pub enum TensorFileError {
    #[error("{0}")]
    Format(String),
    #[error("tensor `{name}` has data type {dtype}; a floating-point tensor was expected")]
    UnsupportedDtype { name: String, dtype: String },
}

/// True when the bytes start like a safetensors file: an 8-byte little-endian header length
/// followed by a JSON object.
pub fn looks_like_safetensors(bytes: &[u8]) -> bool {
    bytes.len() >= 10 && bytes[8] == b'{' && {
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        (2..100_000_000).contains(&header_len)
    }
}

/// Reads every floating-point tensor of a safetensors buffer as f32, in file order.
pub fn read_f32_tensors(bytes: &[u8]) -> Result<Vec<(String, RawTensor)>, TensorFileError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| TensorFileError::Format(e.to_string()))?;
    let mut out = Vec::with_capacity(file.len());
    for (name, view) in file.iter() {
        let data = to_f32(view.dtype(), view.data()).ok_or_else(|| TensorFileError::UnsupportedDtype {
            name: name.to_string(),
            dtype: format!("{:?}", view.dtype()),
        })?;
        out.push((name.to_string(), RawTensor { shape: view.shape().to_vec(), data }));
    }
    Ok(out)
}

/// Reads one floating-point tensor by name, as f32.
pub fn read_f32_tensor(bytes: &[u8], name: &str) -> Result<RawTensor, TensorFileError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| TensorFileError::Format(e.to_string()))?;
    let view = file.tensor(name).map_err(|e| TensorFileError::Format(e.to_string()))?;
    let data = to_f32(view.dtype(), view.data()).ok_or_else(|| TensorFileError::UnsupportedDtype {
        name: name.to_string(),
        dtype: format!("{:?}", view.dtype()),
    })?;
    Ok(RawTensor { shape: view.shape().to_vec(), data })
}

/// Reads the raw bytes and shape of one tensor, whatever its dtype (the tests read `u8` images).
pub fn read_raw(bytes: &[u8], name: &str) -> Result<(Dtype, Vec<usize>, Vec<u8>), TensorFileError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| TensorFileError::Format(e.to_string()))?;
    let view = file.tensor(name).map_err(|e| TensorFileError::Format(e.to_string()))?;
    Ok((view.dtype(), view.shape().to_vec(), view.data().to_vec()))
}

fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
        Dtype::F64 => bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        _ => return None,
    })
}

/// A borrowed f32 tensor in the shape `safetensors::serialize` wants.
struct F32View<'a> {
    shape: &'a [usize],
    data: &'a [f32],
}

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
    fn data_len(&self) -> usize {
        self.data.len() * 4
    }
}

/// Writes named f32 tensors to a safetensors buffer (keys sorted, as the format requires).
pub fn write_f32_tensors<'a>(
    tensors: impl IntoIterator<Item = (&'a str, &'a [usize], &'a [f32])>,
) -> Result<Vec<u8>, TensorFileError> {
    let views = tensors.into_iter().map(|(name, shape, data)| (name, F32View { shape, data }));
    safetensors::serialize(views, None).map_err(|e| TensorFileError::Format(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_tensors_round_trip() {
        let a = [1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0];
        let b = [42.0f32];
        let bytes = write_f32_tensors([("b", &[1usize][..], &b[..]), ("a", &[2usize, 3][..], &a[..])]).unwrap();
        assert!(looks_like_safetensors(&bytes));
        let back = read_f32_tensors(&bytes).unwrap();
        let a_back = back.iter().find(|(n, _)| n == "a").unwrap();
        assert_eq!(a_back.1.shape, vec![2, 3]);
        assert_eq!(a_back.1.data, a.to_vec());
    }

    #[test]
    fn integer_tensors_are_refused_by_name() {
        let bytes = safetensors::serialize(
            [("counts", safetensors::tensor::TensorView::new(Dtype::I32, vec![1], &[0, 0, 0, 0]).unwrap())],
            None,
        )
        .unwrap();
        let err = read_f32_tensors(&bytes).unwrap_err();
        assert!(matches!(err, TensorFileError::UnsupportedDtype { ref name, .. } if name == "counts"));
    }
}
