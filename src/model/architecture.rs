//! The shape of SqueezeNet 1.1, written down once.
//!
//! torchvision's `squeezenet1_1` layout (the same network MATLAB ships as `squeezenet`): a 3×3
//! stride-2 stem with 64 filters, three 3×3 stride-2 max pools (ceil mode), eight Fire modules,
//! a 1×1 `conv10` classifier. The weight loaders validate files against this table and the burn
//! module is built from it, so the two can never disagree.

/// One Fire module: a 1×1 squeeze followed by parallel 1×1 and 3×3 expands, concatenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FireSpec {
    /// torchvision index inside `features` (3, 4, 6, 7, 9, 10, 11, 12).
    pub feature_index: usize,
    /// MATLAB/Caffe name (`fire2` … `fire9`).
    pub name: &'static str,
    pub in_channels: usize,
    pub squeeze: usize,
    pub expand1x1: usize,
    pub expand3x3: usize,
}

impl FireSpec {
    /// Channels after the concat of the two expands.
    pub const fn out_channels(&self) -> usize {
        self.expand1x1 + self.expand3x3
    }
}

/// Input channels of the stem convolution (RGB).
pub const STEM_IN: usize = 3;
/// Filters of the stem convolution (`conv1`, torchvision `features.0`).
pub const STEM_OUT: usize = 64;
/// Channels that reach `conv10`.
pub const CLASSIFIER_IN: usize = 512;
/// Classes of an ImageNet-pretrained network.
pub const IMAGENET_CLASSES: usize = 1000;

/// The eight Fire modules in forward order.
pub const FIRES: [FireSpec; 8] = [
    FireSpec { feature_index: 3, name: "fire2", in_channels: 64, squeeze: 16, expand1x1: 64, expand3x3: 64 },
    FireSpec { feature_index: 4, name: "fire3", in_channels: 128, squeeze: 16, expand1x1: 64, expand3x3: 64 },
    FireSpec { feature_index: 6, name: "fire4", in_channels: 128, squeeze: 32, expand1x1: 128, expand3x3: 128 },
    FireSpec { feature_index: 7, name: "fire5", in_channels: 256, squeeze: 32, expand1x1: 128, expand3x3: 128 },
    FireSpec { feature_index: 9, name: "fire6", in_channels: 256, squeeze: 48, expand1x1: 192, expand3x3: 192 },
    FireSpec { feature_index: 10, name: "fire7", in_channels: 384, squeeze: 48, expand1x1: 192, expand3x3: 192 },
    FireSpec { feature_index: 11, name: "fire8", in_channels: 384, squeeze: 64, expand1x1: 256, expand3x3: 256 },
    FireSpec { feature_index: 12, name: "fire9", in_channels: 512, squeeze: 64, expand1x1: 256, expand3x3: 256 },
];

/// One convolution's weights as they appear in a torchvision state dict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvSpec {
    /// torchvision key prefix, e.g. `features.3.expand3x3`; `.weight` and `.bias` follow it.
    pub key: String,
    /// Weight shape OIHW.
    pub weight_shape: [usize; 4],
}

impl ConvSpec {
    fn new(key: String, out: usize, inp: usize, kernel: usize) -> Self {
        Self { key, weight_shape: [out, inp, kernel, kernel] }
    }

    /// The state-dict key of the weight tensor.
    pub fn weight_key(&self) -> String {
        format!("{}.weight", self.key)
    }

    /// The state-dict key of the bias tensor.
    pub fn bias_key(&self) -> String {
        format!("{}.bias", self.key)
    }
}

/// The 26 convolutions in graph order (stem, then squeeze / expand1x1 / expand3x3 per Fire, then
/// `conv10` with `num_classes` filters). This order is also the order of Conv nodes in an ONNX
/// export, which is how files with foreign tensor names are mapped.
pub fn conv_specs(num_classes: usize) -> Vec<ConvSpec> {
    let mut specs = vec![ConvSpec::new("features.0".into(), STEM_OUT, STEM_IN, 3)];
    for fire in FIRES {
        let prefix = format!("features.{}", fire.feature_index);
        specs.push(ConvSpec::new(format!("{prefix}.squeeze"), fire.squeeze, fire.in_channels, 1));
        specs.push(ConvSpec::new(format!("{prefix}.expand1x1"), fire.expand1x1, fire.squeeze, 1));
        specs.push(ConvSpec::new(format!("{prefix}.expand3x3"), fire.expand3x3, fire.squeeze, 3));
    }
    specs.push(ConvSpec::new("classifier.1".into(), num_classes, CLASSIFIER_IN, 1));
    specs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_chain_their_channels() {
        let mut channels = STEM_OUT;
        for fire in FIRES {
            assert_eq!(fire.in_channels, channels, "{}", fire.name);
            channels = fire.out_channels();
        }
        assert_eq!(channels, CLASSIFIER_IN);
    }

    #[test]
    fn parameter_count_matches_torchvision() {
        // torchvision squeezenet1_1 has 1,235,496 parameters.
        let total: usize = conv_specs(IMAGENET_CLASSES)
            .iter()
            .map(|c| c.weight_shape.iter().product::<usize>() + c.weight_shape[0])
            .sum();
        assert_eq!(total, 1_235_496);
    }
}
