//! How a `Vec<f32>` crosses the boundary between the page and its compute workers: as one
//! byte string, not value by value.
//!
//! gloo-worker's codec is bincode, and serde writes a `Vec<f32>` one `serialize_f32` call per
//! value. For the 100,000 × 50 rows of a large t-SNE task that is five million calls on the
//! page's thread before the worker even starts, 60–80 ms in the browser: a frozen frame the
//! page is not allowed (issue 11). As bytes, bincode writes a length and copies the slice.
//!
//! The bytes are in the machine's own order: both ends of the message are the same machine
//! (a page and its workers), so no conversion is needed. Use as
//! `#[serde(with = "crate::analysis::f32_wire")]` on a `Vec<f32>` field.

use serde::de::{Error, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

/// Writes `values` as one byte string.
pub fn serialize<S: Serializer>(values: &[f32], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytemuck::cast_slice(values))
}

/// Reads back what [`serialize`] wrote (or, from formats without byte strings, a sequence
/// of the bytes).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f32>, D::Error> {
    deserializer.deserialize_byte_buf(F32Bytes)
}

struct F32Bytes;

impl F32Bytes {
    fn from_bytes<E: Error>(bytes: &[u8]) -> Result<Vec<f32>, E> {
        if !bytes.len().is_multiple_of(4) {
            return Err(E::custom(format!("{} bytes are not a whole number of f32 values", bytes.len())));
        }
        // A fresh Vec<f32> is aligned for f32 whatever the alignment of `bytes`.
        let mut values = vec![0f32; bytes.len() / 4];
        bytemuck::cast_slice_mut::<f32, u8>(&mut values).copy_from_slice(bytes);
        Ok(values)
    }
}

impl<'de> Visitor<'de> for F32Bytes {
    type Value = Vec<f32>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("f32 values as bytes")
    }

    fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<f32>, E> {
        Self::from_bytes(bytes)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f32>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Self::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Message {
        #[serde(with = "super")]
        values: Vec<f32>,
        after: u32,
    }

    #[test]
    fn values_come_back_bit_for_bit_through_bincode_and_json() {
        let message =
            Message { values: vec![0.0, -0.0, 1.5, f32::MIN_POSITIVE / 2.0, f32::INFINITY, -7.25e30], after: 9 };
        let wire = bincode::serialize(&message).unwrap();
        // Length prefix, the bytes, then the next field: the values went as one string.
        assert_eq!(wire.len(), 8 + 4 * message.values.len() + 4);
        let back: Message = bincode::deserialize(&wire).unwrap();
        let bits = |m: &Message| m.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&message));
        assert_eq!(back.after, 9);
        let json: Message = serde_json::from_str(&serde_json::to_string(&message).unwrap()).unwrap();
        assert_eq!(bits(&json), bits(&message));
        let nan = Message { values: vec![f32::NAN], after: 0 };
        assert!(bincode::deserialize::<Message>(&bincode::serialize(&nan).unwrap()).unwrap().values[0].is_nan());
    }

    #[test]
    fn a_byte_string_that_is_not_whole_values_is_refused() {
        let wire = bincode::serialize(&(vec![1u8, 2, 3], 0u32)).unwrap();
        let error = bincode::deserialize::<Message>(&wire).unwrap_err().to_string();
        assert!(error.contains("3 bytes are not a whole number of f32 values"), "{error}");
    }
}
