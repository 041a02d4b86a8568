//! SqueezeNet's max pool (3×3 window, stride 2, ceil mode), with a fast path for inference on
//! the CPU.
//!
//! burn-flex 0.22 pools through its generic 3-D kernel and always computes the argmax indices
//! as well (its `max_pool2d` is `max_pool2d_with_indices` with the indices dropped): in a CPU
//! profile of the page's batch-32 inference that was 23 % of the time, second only to the
//! convolutions' GEMM. Inference needs no indices, so on the plain CPU device (no autodiff) the
//! pool runs here over the tensor's values: each output row is the column-wise maximum of its
//! three input rows, then the maximum of each window of three in that row — two passes a
//! compiler vectorises. Training (autodiff needs the indices for the backward pass) and the
//! GPU keep burn's `max_pool2d`. Both paths give identical values (tested below, NaN included).

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

use crate::backend::is_cpu;

const WINDOW: usize = 3;
const STRIDE: usize = 2;

/// The 3×3, stride-2, ceil-mode max pool of an NCHW tensor (113→56→28→14 in SqueezeNet).
pub fn max_pool_3x3_s2_ceil(x: Tensor<4>) -> Tensor<4> {
    // (A tensor tracked by autodiff may report the plain CPU device: ask the tensor itself.)
    if !x.is_autodiff() && is_cpu(&x.device()) {
        return on_cpu_values(x);
    }
    max_pool2d(x, MaxPoolOptions::new([WINDOW, WINDOW]).with_stride([STRIDE, STRIDE]).with_ceil_mode(true))
}

/// Output length of a ceil-mode pool along one axis of `input` values (no padding): the last
/// window may hang over the edge, but must start inside it. (SqueezeNet's sides are never
/// below the window.)
fn pooled_len(input: usize) -> usize {
    if input <= WINDOW {
        return 1;
    }
    let len = (input - WINDOW).div_ceil(STRIDE) + 1;
    if (len - 1) * STRIDE >= input { len - 1 } else { len }
}

/// NaN wins, as in burn and PyTorch (a NaN in a window makes its output NaN).
#[inline(always)]
fn max_nan(a: f32, b: f32) -> f32 {
    if a > b || a.is_nan() { a } else { b }
}

fn on_cpu_values(x: Tensor<4>) -> Tensor<4> {
    let device = x.device();
    let [n, c, h, w] = x.dims();
    // The CPU device's data is at hand: the read completes at once.
    let data = futures_lite::future::block_on(x.into_data_async()).expect("the CPU device's tensors read back");
    let values = data.convert::<f32>().try_into_vec::<f32>().expect("f32 values after the conversion");
    let (oh, ow) = (pooled_len(h), pooled_len(w));
    let mut out = vec![0.0f32; n * c * oh * ow];
    let mut rows = vec![0.0f32; w];
    for (plane, pooled) in values.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
        for (r, out_row) in pooled.chunks_exact_mut(ow).enumerate() {
            let top = r * STRIDE;
            rows.copy_from_slice(&plane[top * w..(top + 1) * w]);
            for below in top + 1..(top + WINDOW).min(h) {
                for (m, &v) in rows.iter_mut().zip(&plane[below * w..(below + 1) * w]) {
                    *m = max_nan(*m, v);
                }
            }
            for (o, slot) in out_row.iter_mut().enumerate() {
                let left = o * STRIDE;
                *slot = rows[left..(left + WINDOW).min(w)]
                    .iter()
                    .copied()
                    .reduce(max_nan)
                    .expect("a window is never empty");
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [n, c, oh, ow]), &device)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::backend::cpu_device;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn burns(x: Tensor<4>) -> Vec<f32> {
        max_pool2d(x, MaxPoolOptions::new([WINDOW, WINDOW]).with_stride([STRIDE, STRIDE]).with_ceil_mode(true))
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn the_cpu_path_gives_burns_values_for_every_size() {
        let device = cpu_device();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // SqueezeNet's sizes, odd and even sides, the smallest, and a window at the very edge.
        for (n, c, h, w) in [(2, 3, 113, 113), (1, 2, 56, 56), (1, 4, 28, 27), (3, 1, 3, 3), (1, 1, 4, 5), (1, 2, 3, 8)]
        {
            let mut values: Vec<f32> = (0..n * c * h * w).map(|_| rng.random_range(-3.0..3.0)).collect();
            if values.len() > 10 {
                values[10] = f32::NAN;
            }
            let x = Tensor::<4>::from_data(TensorData::new(values, [n, c, h, w]), &device);
            let ours = max_pool_3x3_s2_ceil(x.clone());
            let expected = burns(x);
            assert_eq!(ours.dims()[2..], [pooled_len(h), pooled_len(w)]);
            let ours = ours.into_data().try_into_vec::<f32>().unwrap();
            assert_eq!(ours.len(), expected.len(), "{n}×{c}×{h}×{w}");
            for (i, (a, b)) in ours.iter().zip(&expected).enumerate() {
                assert!(a == b || (a.is_nan() && b.is_nan()), "{n}×{c}×{h}×{w} at {i}: {a} vs burn's {b}");
            }
        }
    }

    #[test]
    fn training_keeps_burns_pool_for_its_backward_pass() {
        let x = Tensor::<4>::ones([1, 1, 5, 5], &cpu_device()).autodiff().require_grad();
        let y = max_pool_3x3_s2_ceil(x.clone());
        let grads = y.sum().backward();
        assert!(x.grad(&grads).is_some(), "gradients flow through the pool");
    }
}
