//! A network's parameters back out as [`SqueezeNetWeights`] (torchvision keys), read
//! asynchronously so it works on WebGPU too: how fine-tuned weights are saved.

use super::architecture::conv_specs;
use super::squeezenet::SqueezeNet;
use super::weights::{RawTensor, SqueezeNetWeights, WeightsError};
use crate::backend::{BackendError, read_f32};

/// Why weights could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Read(#[from] BackendError),
    #[error(transparent)]
    Invalid(#[from] WeightsError),
}

/// Reads every convolution's weight and bias (one read-back per tensor).
pub async fn export_weights(net: &SqueezeNet) -> Result<SqueezeNetWeights, ExportError> {
    let specs = conv_specs(net.num_classes());
    let mut named = Vec::with_capacity(2 * specs.len());
    for (conv, spec) in net.convs().into_iter().zip(specs) {
        let weight = conv.weight.val();
        let shape = weight.dims().to_vec();
        named.push((spec.weight_key(), RawTensor { shape, data: read_f32(weight).await? }));
        let bias = conv.bias.as_ref().expect("SqueezeNet convolutions have biases").val();
        let shape = bias.dims().to_vec();
        named.push((spec.bias_key(), RawTensor { shape, data: read_f32(bias).await? }));
    }
    Ok(SqueezeNetWeights::from_named(named)?)
}
