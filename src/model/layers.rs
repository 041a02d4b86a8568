//! Names of the layers whose outputs can be tapped, as MATLAB's SqueezeNet names them.
//!
//! The t-SNE workflow asks for `pool1`, `conv10` and `prob` by these names; the CLI, the page and
//! the activations file all use them, so a user coming from MATLAB finds what they know.

use std::fmt;
use std::str::FromStr;

/// A tappable point in the forward pass, in forward order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Stem convolution after its ReLU, 64×113×113.
    Conv1,
    /// First max pool, 64×56×56 (200,704 values per image).
    Pool1,
    /// Fire modules 2–9 (index 0 = fire2), their concatenated expand outputs.
    Fire(u8),
    /// Second max pool (after fire3), 128×28×28.
    Pool3,
    /// Third max pool (after fire5), 256×14×14.
    Pool5,
    /// The final 1×1 convolution, K×14×14, before its ReLU.
    Conv10,
    /// Global average pool of ReLU(conv10): the logits, K values (MATLAB's `pool10`).
    Logits,
    /// Softmax of the logits, K class probabilities.
    Prob,
}

impl Layer {
    /// Every layer, in forward order.
    pub fn all() -> Vec<Layer> {
        let mut layers = vec![Layer::Conv1, Layer::Pool1, Layer::Fire(0), Layer::Fire(1), Layer::Pool3];
        layers.extend([Layer::Fire(2), Layer::Fire(3), Layer::Pool5]);
        layers.extend((4..8).map(Layer::Fire));
        layers.extend([Layer::Conv10, Layer::Logits, Layer::Prob]);
        layers
    }

    /// Position in the forward pass (0 = `conv1`): a forward pass for a set of taps can stop
    /// after the deepest one.
    pub fn depth(self) -> usize {
        match self {
            Layer::Conv1 => 0,
            Layer::Pool1 => 1,
            Layer::Fire(i @ 0..=1) => 2 + i as usize,
            Layer::Pool3 => 4,
            Layer::Fire(i @ 2..=3) => 3 + i as usize,
            Layer::Pool5 => 7,
            Layer::Fire(i) => 4 + i as usize,
            Layer::Conv10 => 12,
            Layer::Logits => 13,
            Layer::Prob => 14,
        }
    }

    /// Whether the layer keeps a spatial grid (`[N, C, H, W]`) or is per-class (`[N, K]`).
    pub fn is_spatial(self) -> bool {
        !matches!(self, Layer::Logits | Layer::Prob)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Conv1 => f.write_str("conv1"),
            Layer::Pool1 => f.write_str("pool1"),
            Layer::Fire(i) => write!(f, "fire{}", i + 2),
            Layer::Pool3 => f.write_str("pool3"),
            Layer::Pool5 => f.write_str("pool5"),
            Layer::Conv10 => f.write_str("conv10"),
            Layer::Logits => f.write_str("logits"),
            Layer::Prob => f.write_str("prob"),
        }
    }
}

/// A layer name that is not one of [`Layer::all`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown layer `{0}`; known layers: conv1, pool1, fire2 … fire9, pool3, pool5, conv10, pool10 (= logits), logits, prob"
)]
pub struct UnknownLayer(pub String);

impl FromStr for Layer {
    type Err = UnknownLayer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        Ok(match name.as_str() {
            "conv1" => Layer::Conv1,
            "pool1" => Layer::Pool1,
            "pool3" => Layer::Pool3,
            "pool5" => Layer::Pool5,
            "conv10" => Layer::Conv10,
            "logits" | "pool10" => Layer::Logits,
            "prob" | "softmax" => Layer::Prob,
            other => match other.strip_prefix("fire").and_then(|n| n.parse::<u8>().ok()) {
                Some(n @ 2..=9) => Layer::Fire(n - 2),
                _ => return Err(UnknownLayer(s.to_string())),
            },
        })
    }
}

/// By name (`"pool1"`), as everywhere else: sessions store layers so.
impl serde::Serialize for Layer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Layer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_forward_order() {
        let all = Layer::all();
        assert_eq!(all.len(), 15);
        for (i, layer) in all.iter().enumerate() {
            assert_eq!(layer.depth(), i, "{layer}");
        }
        for layer in all {
            assert_eq!(layer.to_string().parse::<Layer>(), Ok(layer));
        }
    }

    #[test]
    fn matlab_aliases_and_bad_names() {
        assert_eq!("pool10".parse::<Layer>(), Ok(Layer::Logits));
        assert_eq!("Fire9".parse::<Layer>(), Ok(Layer::Fire(7)));
        assert!("fire10".parse::<Layer>().is_err());
        assert!("pool2".parse::<Layer>().unwrap_err().to_string().contains("pool2"));
    }
}
