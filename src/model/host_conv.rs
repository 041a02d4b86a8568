//! SqueezeNet's convolutions for inference on the page's CPU: the weights packed once per
//! layer and pass, ReLU, bias and the Fire module's concatenation fused into the store.
//!
//! A profile of the page's batch-32 inference (2026-12-04, Chrome's sampler, the wasm with its
//! names) put 64 % of the time in the `gemm` crate's SIMD128 micro-kernel — a 12 × 4 tile,
//! whose twelve accumulators, three operands and broadcast need all sixteen vector registers,
//! one more than V8 leaves — and most of the rest around it: burn-flex's im2col even for 1×1
//! convolutions (13 %), the concatenation (3 %), zeroed allocations, packing, bias and ReLU as
//! passes of their own. Here a 1×1 convolution multiplies the image as it lies (an NCHW plane
//! *is* its im2col matrix), a 4 × 8 tile keeps eleven vectors live, and each output value is
//! written once, biased and rectified, at its channel of the concatenated output.
//!
//! Used where it is faster: on wasm32 for a tensor that is not tracked by autodiff and lives
//! on the plain CPU device (`squeezenet.rs` asks [`runs_here`]). Natively burn-flex's `gemm`
//! has AVX2 kernels and threads and stays; training and the GPU keep burn's convolution. The
//! values match burn's within float rounding (tested below and, on wasm32, against
//! onnxruntime in `tests/browser.rs`).

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::TensorData;

#[cfg(target_arch = "wasm32")]
use crate::backend::is_cpu;

/// Output rows (channels) per tile: the packed weights hold them side by side.
const MR: usize = 4;
/// Vectors of four output columns (pixels) per tile.
const NV: usize = 2;
/// Output columns per tile.
const NR: usize = NV * 4;

/// True when `x` goes through this module rather than burn's convolution.
pub fn runs_here(x: &Tensor<4>) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        !x.is_autodiff() && is_cpu(&x.device())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = x;
        false
    }
}

/// One convolution's weights, packed for the kernel: for each group of [`MR`] output
/// channels, `K` rows of `MR` values (`K` = input channels × kernel height × width, in the
/// order of an im2col row), the last group padded with zeros.
pub struct PackedConv {
    panels: Vec<f32>,
    bias: Vec<f32>,
    out_channels: usize,
    in_channels: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    // The CPU device's data is at hand: the read completes at once.
    futures_lite::future::block_on(t.into_data_async())
        .expect("the CPU device's tensors read back")
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 values after the conversion")
}

impl PackedConv {
    /// Packs `conv` (square kernel, equal strides, symmetric padding: SqueezeNet's).
    pub fn new(conv: &Conv2d) -> Self {
        let [out_channels, in_channels, kh, kw] = conv.weight.dims();
        assert_eq!(kh, kw, "square kernels only");
        assert_eq!(conv.stride[0], conv.stride[1], "equal strides only");
        let pad = match conv.padding {
            PaddingConfig2d::Valid => 0,
            PaddingConfig2d::Explicit(t, l, b, r) if t == l && l == b && b == r => t,
            ref other => panic!("SqueezeNet's convolutions have symmetric padding, not {other:?}"),
        };
        let weight = values(conv.weight.val());
        let bias = conv.bias.as_ref().map_or_else(|| vec![0.0; out_channels], |b| values(b.val()));
        let k = in_channels * kh * kw;
        let groups = out_channels.div_ceil(MR);
        let mut panels = vec![0.0f32; groups * k * MR];
        for o in 0..out_channels {
            let (group, lane) = (o / MR, o % MR);
            let panel = &mut panels[group * k * MR..(group + 1) * k * MR];
            for (kk, &w) in weight[o * k..(o + 1) * k].iter().enumerate() {
                panel[kk * MR + lane] = w;
            }
        }
        Self { panels, bias, out_channels, in_channels, kernel: kh, stride: conv.stride[0], pad }
    }

    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Output side for an input side.
    pub fn out_len(&self, input: usize) -> usize {
        (input + 2 * self.pad - self.kernel) / self.stride + 1
    }

    /// Convolves one image (`in_channels` planes of `h` × `w`) into `out`, the channels
    /// `offset..offset + out_channels` of an output whose planes are `out_h` × `out_w`;
    /// `relu` rectifies as it stores. `scratch` holds the im2col matrix where one is needed.
    #[allow(clippy::too_many_arguments)]
    fn image(&self, x: &[f32], h: usize, w: usize, out: &mut [f32], offset: usize, relu: bool, scratch: &mut Vec<f32>) {
        let (oh, ow) = (self.out_len(h), self.out_len(w));
        let k = self.in_channels * self.kernel * self.kernel;
        let columns = if self.kernel == 1 && self.stride == 1 && self.pad == 0 {
            x
        } else {
            im2col(x, self.in_channels, h, w, self.kernel, self.stride, self.pad, oh, ow, scratch);
            &scratch[..]
        };
        let out = &mut out[offset * oh * ow..(offset + self.out_channels) * oh * ow];
        gemm_bias(&self.panels, columns, k, oh * ow, &self.bias, out, relu);
    }
}

/// `convs` applied to the same input, each output rectified if `relu`, concatenated along the
/// channels in order — one convolution, or a Fire module's two expands.
pub fn conv_cat(x: Tensor<4>, convs: &[&PackedConv], relu: bool) -> Tensor<4> {
    let device = x.device();
    let [n, c, h, w] = x.dims();
    let first = convs.first().expect("at least one convolution");
    assert_eq!(c, first.in_channels, "input channels");
    let (oh, ow) = (first.out_len(h), first.out_len(w));
    let total: usize = convs.iter().map(|conv| conv.out_channels).sum();
    let input = values(x);
    let mut out = vec![0.0f32; n * total * oh * ow];
    let mut scratch = Vec::new();
    for (image, result) in input.chunks_exact(c * h * w).zip(out.chunks_exact_mut(total * oh * ow)) {
        let mut offset = 0;
        for conv in convs {
            assert_eq!((conv.out_len(h), conv.out_len(w)), (oh, ow), "concatenated outputs share their size");
            conv.image(image, h, w, result, offset, relu, &mut scratch);
            offset += conv.out_channels;
        }
    }
    Tensor::from_data(TensorData::new(out, [n, total, oh, ow]), &device)
}

/// Lays out the receptive field of each output pixel as a column: row `(c, ky, kx)` holds, for
/// every output pixel, the input value under that kernel tap (zero in the padding).
#[inline(never)] // out of line, as measured, and named in a profile
#[allow(clippy::too_many_arguments)]
fn im2col(
    x: &[f32],
    channels: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    oh: usize,
    ow: usize,
    cols: &mut Vec<f32>,
) {
    let p = oh * ow;
    cols.clear();
    cols.resize(channels * kernel * kernel * p, 0.0);
    let mut rows = cols.chunks_exact_mut(p);
    for c in 0..channels {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for ky in 0..kernel {
            for kx in 0..kernel {
                let row = rows.next().expect("one row per channel and tap");
                for oy in 0..oh {
                    let iy = (oy * stride + ky) as isize - pad as isize;
                    if iy < 0 || iy >= h as isize {
                        continue; // a row of padding: zeros already
                    }
                    let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                    let dst = &mut row[oy * ow..(oy + 1) * ow];
                    // Output columns whose tap falls inside the row: ix = ox·stride + kx − pad.
                    let first = (pad.saturating_sub(kx)).div_ceil(stride);
                    let last = ((w + pad - kx - 1) / stride).min(ow - 1);
                    if first > last {
                        continue;
                    }
                    if stride == 1 {
                        let start = first + kx - pad;
                        dst[first..=last].copy_from_slice(&src[start..start + last + 1 - first]);
                    } else {
                        for (ox, slot) in dst.iter_mut().enumerate().take(last + 1).skip(first) {
                            *slot = src[ox * stride + kx - pad];
                        }
                    }
                }
            }
        }
    }
}

/// `out[o][j] = bias[o] + Σₖ W[o][k] · cols[k][j]` (rectified if `relu`), for `out` of `O`
/// rows of `p` values and `cols` of `k` rows of `p`; `panels` as [`PackedConv`] packs them.
#[inline(never)] // out of line, as measured, and named in a profile
fn gemm_bias(panels: &[f32], cols: &[f32], k: usize, p: usize, bias: &[f32], out: &mut [f32], relu: bool) {
    let out_channels = bias.len();
    let full = p / NR * NR;
    for j in (0..full).step_by(NR) {
        for (group, panel) in panels.chunks_exact(k * MR).enumerate() {
            let acc = tile(panel, &cols[j..], k, p);
            for (r, row) in acc.iter().enumerate() {
                let o = group * MR + r;
                if o < out_channels {
                    store(&mut out[o * p + j..o * p + j + NR], row, bias[o], relu);
                }
            }
        }
    }
    if full == p {
        return;
    }
    // The last columns, fewer than a tile (14 × 14 = 196 leaves 4): the same tiles over a
    // zero-padded copy of them, the padding's sums dropped.
    let rest = p - full;
    let mut last = vec![0.0f32; k * NR];
    for (kk, row) in last.chunks_exact_mut(NR).enumerate() {
        row[..rest].copy_from_slice(&cols[kk * p + full..kk * p + p]);
    }
    let mut sums = vec![0.0f32; NR];
    for (group, panel) in panels.chunks_exact(k * MR).enumerate() {
        let acc = tile(panel, &last, k, NR);
        for (r, row) in acc.iter().enumerate() {
            let o = group * MR + r;
            if o < out_channels {
                store(&mut sums, row, bias[o], relu);
                out[o * p + full..o * p + p].copy_from_slice(&sums[..rest]);
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::v128;

/// Four columns of a tile's row of sums.
#[cfg(target_arch = "wasm32")]
type Lanes = v128;
#[cfg(not(target_arch = "wasm32"))]
type Lanes = [f32; 4];

/// Writes a row of a tile: biased, rectified if `relu` (a NaN stays NaN, as in burn's ReLU).
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn store(dst: &mut [f32], row: &[Lanes; NV], bias: f32, relu: bool) {
    use core::arch::wasm32::*;
    assert!(dst.len() >= NV * 4);
    let (bias, zero) = (f32x4_splat(bias), f32x4_splat(0.0));
    for (i, &sum) in row.iter().enumerate() {
        let mut v = f32x4_add(sum, bias);
        if relu {
            v = f32x4_pmax(v, zero); // v < 0 ? 0 : v
        }
        // SAFETY: `dst` holds NV vectors (asserted).
        unsafe { v128_store(dst.as_mut_ptr().add(i * 4) as *mut v128, v) };
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
fn store(dst: &mut [f32], row: &[Lanes; NV], bias: f32, relu: bool) {
    for (d, &v) in dst.iter_mut().zip(row.iter().flatten()) {
        let v = v + bias;
        *d = if relu && v < 0.0 { 0.0 } else { v };
    }
}

/// One `MR` × `NR` tile: the panel's `k` rows of `MR` weights against `NR` columns of `cols`
/// (rows `p` apart), summed over `k`. (Measured in the page, batch 32: 4 × 8 runs 37 images/s,
/// 2 × 16 35, 3 × 12 30, 4 × 12 28, 5 × 8 25; the same 4 × 8 with its loop unrolled twice by
/// hand, 30 — V8 compiles the plain loop better.)
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn tile(panel: &[f32], cols: &[f32], k: usize, p: usize) -> [[Lanes; NV]; MR] {
    use core::arch::wasm32::*;
    assert!(panel.len() >= k * MR && (k == 0 || cols.len() >= (k - 1) * p + NV * 4));
    let mut acc = [[f32x4_splat(0.0); NV]; MR];
    // SAFETY: the assert above keeps every load inside `panel` and `cols`: row `kk` < `k`
    // reads `panel[kk·MR .. kk·MR + MR]` and `cols[kk·p .. kk·p + 4·NV]`.
    unsafe {
        let (w, b) = (panel.as_ptr(), cols.as_ptr());
        for kk in 0..k {
            let row = b.add(kk * p);
            let mut bv = [f32x4_splat(0.0); NV];
            for (i, v) in bv.iter_mut().enumerate() {
                *v = v128_load(row.add(4 * i) as *const v128);
            }
            let wk = w.add(kk * MR);
            for (r, acc) in acc.iter_mut().enumerate() {
                let s = v128_load32_splat(wk.add(r) as *const u32);
                for (a, &v) in acc.iter_mut().zip(&bv) {
                    *a = f32x4_add(*a, f32x4_mul(s, v));
                }
            }
        }
    }
    acc
}

/// The same tile in portable code (native tests; the compiler vectorises it).
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
fn tile(panel: &[f32], cols: &[f32], k: usize, p: usize) -> [[Lanes; NV]; MR] {
    let mut acc = [[[0.0f32; 4]; NV]; MR];
    for kk in 0..k {
        let b = &cols[kk * p..kk * p + NV * 4];
        let w = &panel[kk * MR..kk * MR + MR];
        for (acc, &s) in acc.iter_mut().zip(w) {
            for (a, &v) in acc.iter_mut().flatten().zip(b) {
                *a += s * v;
            }
        }
    }
    acc
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::backend::cpu_device;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::activation::relu;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(shape: [usize; 4], rng: &mut ChaCha8Rng) -> Tensor<4> {
        let values: Vec<f32> = (0..shape.iter().product()).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::from_data(TensorData::new(values, shape), &cpu_device())
    }

    fn assert_close(ours: Tensor<4>, burns: Tensor<4>, what: &str) {
        assert_eq!(ours.dims(), burns.dims(), "{what}: shape");
        let (a, b) = (values(ours), values(burns));
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "{what}: largest difference {worst}");
    }

    #[test]
    fn every_squeezenet_convolution_gives_burns_values() {
        let device = cpu_device();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // conv1 (3×3, stride 2, no padding), a squeeze and both expands (1×1; 3×3 padded),
        // conv10; odd sizes so that tiles end part-way, and channel counts not a multiple of 4.
        let cases = [
            (Conv2dConfig::new([3, 64], [3, 3]).with_stride([2, 2]), [2, 3, 33, 31], true),
            (Conv2dConfig::new([64, 16], [1, 1]), [2, 64, 13, 14], true),
            (Conv2dConfig::new([16, 62], [1, 1]), [1, 16, 9, 9], true),
            (
                Conv2dConfig::new([16, 64], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
                [2, 16, 7, 12],
                true,
            ),
            (Conv2dConfig::new([512, 3], [1, 1]), [1, 512, 3, 5], false),
        ];
        for (config, shape, rectify) in cases {
            let conv = config.init(&device);
            let x = random(shape, &mut rng);
            let ours = conv_cat(x.clone(), &[&PackedConv::new(&conv)], rectify);
            let burns = if rectify { relu(conv.forward(x)) } else { conv.forward(x) };
            assert_close(ours, burns, &format!("{config:?} on {shape:?}"));
        }
    }

    #[test]
    fn a_fire_modules_expands_are_concatenated_in_order() {
        let device = cpu_device();
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let e1 = Conv2dConfig::new([16, 64], [1, 1]).init(&device);
        let e3 = Conv2dConfig::new([16, 64], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(&device);
        let s = random([2, 16, 11, 11], &mut rng);
        let ours = conv_cat(s.clone(), &[&PackedConv::new(&e1), &PackedConv::new(&e3)], true);
        let burns = Tensor::cat(vec![relu(e1.forward(s.clone())), relu(e3.forward(s))], 1);
        assert_close(ours, burns, "fire expands");
    }
}
