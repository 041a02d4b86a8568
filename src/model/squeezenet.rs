//! SqueezeNet 1.1 as a burn module, with named taps into its forward pass.
//!
//! The structure reads like torchvision's `squeezenet1_1`: a stem conv, three ceil-mode max
//! pools, eight Fire modules, dropout and a 1×1 `conv10`. `forward_taps` returns the outputs of
//! any [`Layer`]s asked for and stops after the deepest one, which is what the activations view
//! and the t-SNE maps need; `forward` is the training/inference path (logits).

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::architecture::{CLASSIFIER_IN, FIRES, FireSpec, STEM_IN, STEM_OUT, conv_specs};
use super::host_conv::{self, PackedConv};
use super::layers::Layer;
use super::max_pool::max_pool_3x3_s2_ceil;
use super::weights::{RawTensor, SqueezeNetWeights};

/// One Fire module: squeeze 1×1, then expand 1×1 and expand 3×3 in parallel, concatenated.
#[derive(Module, Debug)]
pub struct Fire {
    squeeze: Conv2d,
    expand1x1: Conv2d,
    expand3x3: Conv2d,
}

impl Fire {
    fn new(spec: &FireSpec, device: &Device) -> Self {
        Self {
            squeeze: Conv2dConfig::new([spec.in_channels, spec.squeeze], [1, 1]).init(device),
            expand1x1: Conv2dConfig::new([spec.squeeze, spec.expand1x1], [1, 1]).init(device),
            expand3x3: Conv2dConfig::new([spec.squeeze, spec.expand3x3], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if host_conv::runs_here(&x) {
            let s = convolve(&self.squeeze, x, true);
            let expands = [PackedConv::new(&self.expand1x1), PackedConv::new(&self.expand3x3)];
            return host_conv::conv_cat(s, &[&expands[0], &expands[1]], true);
        }
        let s = relu(self.squeeze.forward(x));
        let e1 = relu(self.expand1x1.forward(s.clone()));
        let e3 = relu(self.expand3x3.forward(s));
        Tensor::cat(vec![e1, e3], 1)
    }

    fn convs_mut(&mut self) -> [&mut Conv2d; 3] {
        [&mut self.squeeze, &mut self.expand1x1, &mut self.expand3x3]
    }

    fn convs(&self) -> [&Conv2d; 3] {
        [&self.squeeze, &self.expand1x1, &self.expand3x3]
    }
}

/// SqueezeNet 1.1 (torchvision layout, 227×227 input, K classes).
#[derive(Module, Debug)]
pub struct SqueezeNet {
    conv1: Conv2d,
    fires: Vec<Fire>,
    dropout: Dropout,
    conv10: Conv2d,
}

/// `conv` on `x`, rectified if `rectify`: through `host_conv` on the page's CPU, where it is
/// faster than burn's convolution.
fn convolve(conv: &Conv2d, x: Tensor<4>, rectify: bool) -> Tensor<4> {
    if host_conv::runs_here(&x) {
        return host_conv::conv_cat(x, &[&PackedConv::new(conv)], rectify);
    }
    let y = conv.forward(x);
    if rectify { relu(y) } else { y }
}

/// The pool after `conv1`, `fire3` and `fire5`: 3×3, stride 2, ceil mode (113→56→28→14).
fn pool(x: Tensor<4>) -> Tensor<4> {
    max_pool_3x3_s2_ceil(x)
}

fn conv10_config(num_classes: usize) -> Conv2dConfig {
    Conv2dConfig::new([CLASSIFIER_IN, num_classes], [1, 1])
}

impl SqueezeNet {
    /// A randomly initialised network (burn's Kaiming-uniform default) for `num_classes`
    /// classes: what "train from scratch" starts from.
    pub fn new(num_classes: usize, device: &Device) -> Self {
        Self {
            conv1: Conv2dConfig::new([STEM_IN, STEM_OUT], [3, 3]).with_stride([2, 2]).init(device),
            fires: FIRES.iter().map(|spec| Fire::new(spec, device)).collect(),
            dropout: DropoutConfig::new(0.5).init(),
            conv10: conv10_config(num_classes).init(device),
        }
    }

    /// Builds the network from validated weights (see [`super::weights::load_weights`]).
    pub fn from_weights(weights: &SqueezeNetWeights, device: &Device) -> Self {
        let mut net = Self::new(weights.num_classes(), device);
        let specs = conv_specs(weights.num_classes());
        for (conv, spec) in net.convs_mut().into_iter().zip(&specs) {
            let w = weights.get(&spec.weight_key()).expect("validated weights hold every conv weight");
            let b = weights.get(&spec.bias_key()).expect("validated weights hold every conv bias");
            conv.weight = Param::from_tensor(tensor_from_raw::<4>(w, device));
            conv.bias = Some(Param::from_tensor(tensor_from_raw::<1>(b, device)));
        }
        net
    }

    /// Replaces `conv10` by a fresh one with `num_classes` filters, keeping every other layer:
    /// MATLAB's `imagePretrainedNetwork(..., NumClasses=K)` before fine-tuning, with MATLAB's
    /// default initialisation for the new layer (Glorot uniform weights, zero bias). The
    /// weights come from a seeded generator on the CPU, so a seed gives the same head on every
    /// backend.
    pub fn replace_head(mut self, num_classes: usize, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let bound = (6.0 / (CLASSIFIER_IN + num_classes) as f32).sqrt();
        let weights: Vec<f32> = (0..num_classes * CLASSIFIER_IN).map(|_| rng.random_range(-bound..bound)).collect();
        let mut conv10 = conv10_config(num_classes).init(device);
        conv10.weight =
            Param::from_tensor(Tensor::from_data(TensorData::new(weights, [num_classes, CLASSIFIER_IN, 1, 1]), device));
        conv10.bias = Some(Param::from_tensor(Tensor::zeros([num_classes], device)));
        self.conv10 = conv10;
        self
    }

    /// Sets the dropout probability before `conv10` (0.5 in SqueezeNet; 0 makes training
    /// deterministic, which the backend-parity tests need).
    pub fn with_dropout(mut self, probability: f64) -> Self {
        self.dropout = DropoutConfig::new(probability).init();
        self
    }

    /// Number of classes the network scores.
    pub fn num_classes(&self) -> usize {
        self.conv10.weight.dims()[0]
    }

    /// Logits `[N, K]` for an input batch `[N, 3, 227, 227]`.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        let x = self.features(input, None, &mut |_, _| {});
        self.logits(convolve(&self.conv10, self.dropout.forward(x), false))
    }

    /// Runs the network just far enough to produce every requested layer and returns those
    /// outputs in the order asked. `logits` and `prob` come back as `[N, K, 1, 1]` so one tensor
    /// rank serves every layer; [`Layer::is_spatial`] says which to flatten.
    pub fn forward_taps(&self, input: Tensor<4>, layers: &[Layer]) -> Vec<(Layer, Tensor<4>)> {
        let deepest = layers.iter().map(|l| l.depth()).max().unwrap_or(0);
        let mut taken: Vec<(Layer, Tensor<4>)> = Vec::with_capacity(layers.len());
        let mut take = |layer: Layer, x: &Tensor<4>| {
            if layers.contains(&layer) {
                taken.push((layer, x.clone()));
            }
        };
        let x = self.features(input, Some(deepest), &mut take);
        if deepest >= Layer::Conv10.depth() {
            let conv10 = convolve(&self.conv10, self.dropout.forward(x), false);
            take(Layer::Conv10, &conv10);
            if deepest >= Layer::Logits.depth() {
                let logits = self.logits(conv10);
                let [n, k] = logits.dims();
                take(Layer::Logits, &logits.clone().reshape([n, k, 1, 1]));
                take(Layer::Prob, &softmax(logits, 1).reshape([n, k, 1, 1]));
            }
        }
        layers
            .iter()
            .filter_map(|wanted| taken.iter().position(|(l, _)| l == wanted).map(|i| taken[i].clone()))
            .collect()
    }

    /// conv1 … fire9, reporting each tap; stops early once `stop_after` depth is reached.
    fn features(
        &self,
        input: Tensor<4>,
        stop_after: Option<usize>,
        take: &mut dyn FnMut(Layer, &Tensor<4>),
    ) -> Tensor<4> {
        let done = |layer: Layer| stop_after.is_some_and(|d| layer.depth() >= d);
        let mut x = convolve(&self.conv1, input, true);
        take(Layer::Conv1, &x);
        if done(Layer::Conv1) {
            return x;
        }
        x = pool(x);
        take(Layer::Pool1, &x);
        if done(Layer::Pool1) {
            return x;
        }
        for (i, fire) in self.fires.iter().enumerate() {
            x = fire.forward(x);
            let layer = Layer::Fire(i as u8);
            take(layer, &x);
            if done(layer) {
                return x;
            }
            let pool_after = match i {
                1 => Some(Layer::Pool3),
                3 => Some(Layer::Pool5),
                _ => None,
            };
            if let Some(pool_layer) = pool_after {
                x = pool(x);
                take(pool_layer, &x);
                if done(pool_layer) {
                    return x;
                }
            }
        }
        x
    }

    /// Global average pool of ReLU(conv10): torchvision's classifier tail.
    fn logits(&self, conv10: Tensor<4>) -> Tensor<2> {
        let [n, k, _, _] = conv10.dims();
        relu(conv10).mean_dims(&[2, 3]).reshape([n, k])
    }

    fn convs_mut(&mut self) -> Vec<&mut Conv2d> {
        let mut convs = vec![&mut self.conv1];
        for fire in self.fires.iter_mut() {
            convs.extend(fire.convs_mut());
        }
        convs.push(&mut self.conv10);
        convs
    }

    /// The 26 convolutions in torchvision order, for exporting weights.
    pub fn convs(&self) -> Vec<&Conv2d> {
        let mut convs = vec![&self.conv1];
        for fire in &self.fires {
            convs.extend(fire.convs());
        }
        convs.push(&self.conv10);
        convs
    }
}

fn tensor_from_raw<const D: usize>(raw: &RawTensor, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(raw.data.clone(), raw.shape.clone()), device)
}
