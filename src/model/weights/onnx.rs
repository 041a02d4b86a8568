//! Weights out of an ONNX file, whatever its tensor names.
//!
//! Only what the weights need is decoded: the graph's Conv nodes (in graph order) and the
//! initializers or `Constant` nodes that feed them. The 26 convolutions are mapped to
//! torchvision keys by position — stem, then per Fire module the squeeze (first) and the two
//! expands (told apart by kernel size), then `conv10` — so torchvision exports
//! (`features.0.weight` …) and the ONNX model zoo's `squeezenet1.1-7.onnx`
//! (`squeezenet0_conv0_weight` …) load the same way. The message types are the subset of
//! `onnx.proto3` that this needs, with the official field numbers.

use std::collections::HashMap;

use prost::Message;

use super::{RawTensor, WeightsError, WeightsFormat};
use crate::model::architecture::conv_specs;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "5")]
    t: Option<TensorProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
    #[prost(double, repeated, tag = "10")]
    double_data: Vec<f64>,
    /// 1 = EXTERNAL: the values live in another file.
    #[prost(int32, tag = "14")]
    data_location: i32,
}

/// ONNX `TensorProto.DataType` values this reader accepts.
const ONNX_FLOAT: i32 = 1;
const ONNX_FLOAT16: i32 = 10;
const ONNX_DOUBLE: i32 = 11;
const ONNX_BFLOAT16: i32 = 16;

/// True when the bytes start like an ONNX model: field 1 (`ir_version`, a varint) first, as
/// every exporter writes it.
pub(super) fn looks_like_onnx(bytes: &[u8]) -> bool {
    bytes.len() > 2 && bytes[0] == 0x08 && bytes[1] > 0 && bytes[1] < 0x20
}

fn damaged(reason: impl Into<String>) -> WeightsError {
    WeightsError::Damaged { format: WeightsFormat::Onnx, reason: reason.into() }
}

/// Decodes the 26 Conv nodes' weights and biases, named with torchvision keys.
pub(super) fn read_conv_weights(bytes: &[u8]) -> Result<Vec<(String, RawTensor)>, WeightsError> {
    let model = ModelProto::decode(bytes).map_err(|e| damaged(e.to_string()))?;
    let graph = model.graph.ok_or_else(|| damaged("the file holds no graph"))?;

    let mut constants: HashMap<&str, &TensorProto> = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
        if let (Some(out), Some(t)) = (node.output.first(), node.attribute.iter().find_map(|a| a.t.as_ref())) {
            constants.insert(out.as_str(), t);
        }
    }

    let convs: Vec<&NodeProto> = graph.node.iter().filter(|n| n.op_type == "Conv").collect();
    let specs = conv_specs(1);
    if convs.len() != specs.len() {
        return Err(WeightsError::WrongConvCount { found: convs.len() });
    }

    let tensor_of = |node: &NodeProto, slot: usize, what: &str| -> Result<RawTensor, WeightsError> {
        let name = node
            .input
            .get(slot)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| WeightsError::MissingTensor { name: format!("{what} of Conv node `{}`", node.name) })?;
        let proto = constants.get(name.as_str()).ok_or_else(|| WeightsError::MissingTensor {
            name: format!("{name} ({what} of Conv node `{}`)", node.name),
        })?;
        decode_tensor(name, proto)
    };

    let mut named = Vec::with_capacity(2 * convs.len());
    let mut push = |key: &str, node: &NodeProto| -> Result<(), WeightsError> {
        named.push((format!("{key}.weight"), tensor_of(node, 1, "weight")?));
        named.push((format!("{key}.bias"), tensor_of(node, 2, "bias")?));
        Ok(())
    };

    push(&specs[0].key, convs[0])?;
    for (fire, group) in convs[1..25].chunks(3).enumerate() {
        let squeeze = &specs[1 + 3 * fire];
        let prefix = squeeze.key.trim_end_matches(".squeeze");
        push(&squeeze.key, group[0])?;
        // The two expands may come in either order; their kernel size tells them apart.
        let kernel = |n: &NodeProto| tensor_of(n, 1, "weight").map(|t| t.shape.get(2).copied());
        let (e1, e3) = if kernel(group[1])? == Some(3) { (group[2], group[1]) } else { (group[1], group[2]) };
        push(&format!("{prefix}.expand1x1"), e1)?;
        push(&format!("{prefix}.expand3x3"), e3)?;
    }
    push(&specs[25].key, convs[25])?;
    Ok(named)
}

fn decode_tensor(name: &str, proto: &TensorProto) -> Result<RawTensor, WeightsError> {
    if proto.data_location == 1 {
        return Err(WeightsError::ExternalData { name: name.to_string() });
    }
    let shape: Vec<usize> = proto.dims.iter().map(|&d| d.max(0) as usize).collect();
    let raw = &proto.raw_data;
    let data: Vec<f32> = match proto.data_type {
        ONNX_FLOAT if !raw.is_empty() => {
            raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
        }
        ONNX_FLOAT => proto.float_data.clone(),
        ONNX_DOUBLE if !raw.is_empty() => {
            raw.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect()
        }
        ONNX_DOUBLE => proto.double_data.iter().map(|&v| v as f32).collect(),
        ONNX_FLOAT16 if !raw.is_empty() => {
            raw.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
        }
        ONNX_BFLOAT16 if !raw.is_empty() => {
            raw.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
        }
        other => {
            return Err(WeightsError::UnsupportedDtype { name: name.to_string(), dtype: format!("ONNX type {other}") });
        }
    };
    Ok(RawTensor { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/squeezenet/squeezenet1_1_random.onnx"))
            .unwrap()
    }

    /// Renames every initializer as the ONNX model zoo does and swaps each Fire's expand nodes:
    /// the mapping must not depend on names or on the order of the two expands.
    #[test]
    fn zoo_style_names_and_expand_order_map_by_position() {
        let mut model = ModelProto::decode(fixture().as_slice()).unwrap();
        let graph = model.graph.as_mut().unwrap();
        let mut renames = HashMap::new();
        for (i, node) in graph.node.iter_mut().filter(|n| n.op_type == "Conv").enumerate() {
            for (slot, suffix) in [(1, "weight"), (2, "bias")] {
                let new = format!("squeezenet0_conv{i}_{suffix}");
                renames.insert(node.input[slot].clone(), new.clone());
                node.input[slot] = new;
            }
        }
        for t in graph.initializer.iter_mut() {
            t.name = renames[&t.name].clone();
        }
        let conv_positions: Vec<usize> =
            graph.node.iter().enumerate().filter(|(_, n)| n.op_type == "Conv").map(|(i, _)| i).collect();
        for fire in 0..8 {
            graph.node.swap(conv_positions[2 + 3 * fire], conv_positions[3 + 3 * fire]);
        }
        let renamed = model.encode_to_vec();

        let original = read_conv_weights(&fixture()).unwrap();
        let zoo = read_conv_weights(&renamed).unwrap();
        assert_eq!(original, zoo);
        assert_eq!(zoo[0].0, "features.0.weight");
        assert_eq!(zoo[51].0, "classifier.1.bias");
    }

    #[test]
    fn a_graph_without_26_convs_is_another_model() {
        let mut model = ModelProto::decode(fixture().as_slice()).unwrap();
        let graph = model.graph.as_mut().unwrap();
        let last_conv = graph.node.iter().rposition(|n| n.op_type == "Conv").unwrap();
        graph.node.remove(last_conv);
        let err = read_conv_weights(&model.encode_to_vec()).unwrap_err();
        assert_eq!(err, WeightsError::WrongConvCount { found: 25 });
    }

    #[test]
    fn external_data_is_refused_by_name() {
        let mut model = ModelProto::decode(fixture().as_slice()).unwrap();
        let graph = model.graph.as_mut().unwrap();
        graph.initializer[0].data_location = 1;
        let name = graph.initializer[0].name.clone();
        let err = read_conv_weights(&model.encode_to_vec()).unwrap_err();
        assert_eq!(err, WeightsError::ExternalData { name });
    }
}
