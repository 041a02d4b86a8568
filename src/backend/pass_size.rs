//! How many images one pass through the network takes, decided once for every caller (the
//! CLI, the page's training, its evaluation and its analysis) from the device and from where
//! the work runs.
//!
//! Two limits meet here. On a GPU, WebGPU guarantees only 128 MiB per storage binding, so a
//! pass must stay under it whatever the user's mini-batch is. On the page's own thread, one
//! pass is one uninterrupted step: the browser cannot paint until it returns, so the CPU's
//! passes there are kept to a fraction of a second.

use burn::prelude::Device;

use super::is_cpu;

/// Images per forward/backward pass on a GPU unless set otherwise. 128 MiB per storage
/// binding is all WebGPU guarantees (cubecl asks for the adapter's own limit, often larger, but
/// lavapipe's is that): a whole mini-batch of 128 needs a 196 MiB buffer and fails to allocate
/// there (measured natively), while conv1's output for 32 images is 105 MB. Gradient
/// accumulation keeps the update the whole mini-batch's.
pub const GPU_MICRO_BATCH: usize = 32;

/// Images per forward pass for inference (evaluation, activations) when nothing else asks:
/// conv1's output for 16 images, the largest, is 52 MB — well inside WebGPU's 128 MiB binding
/// limit, and large enough to keep a GPU busy.
pub const INFERENCE_PASS: usize = 16;

/// Where the work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// A native process (the CLI, tests, benchmarks): a step may take as long as it needs.
    Native,
    /// The page's thread: every step is a frame the browser cannot paint.
    PageThread,
}

/// Images per pass, for training and for inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassSizes {
    /// Images per forward/backward pass of training (`TrainConfig::micro_batch`; 0 = the
    /// whole mini-batch in one pass).
    pub training: usize,
    /// Images per forward pass of evaluation and activations.
    pub inference: usize,
}

impl PassSizes {
    /// The sizes for `device` on `host`. On the page's CPU each pass is a frame the browser
    /// cannot paint. In Chromium on the test machine one inference image takes ~67 ms (four
    /// took ~0.27 s, no faster per image: the page's CPU path gains nothing from larger
    /// batches, README "Against onnxruntime-web"); two training images take ~0.38 s, and one
    /// ~0.23 s but the epoch ~10 % longer (a per-pass cost in wasm), so training keeps two.
    /// Natively the CPU takes the whole mini-batch (fewer, larger matrix products are
    /// faster), and a GPU what fits its buffers.
    pub fn for_device(device: &Device, host: Host) -> Self {
        match (is_cpu(device), host) {
            (true, Host::PageThread) => PassSizes { training: 2, inference: 1 },
            (true, Host::Native) => PassSizes { training: 0, inference: INFERENCE_PASS },
            (false, _) => PassSizes { training: GPU_MICRO_BATCH, inference: INFERENCE_PASS },
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::backend::cpu_device;

    #[test]
    fn the_page_thread_takes_smaller_cpu_passes_than_a_native_process() {
        let page = PassSizes::for_device(&cpu_device(), Host::PageThread);
        let native = PassSizes::for_device(&cpu_device(), Host::Native);
        assert!(page.training > 0 && page.training < 8, "a whole mini-batch would freeze the page");
        assert!(page.inference < native.inference);
        assert_eq!(native.training, 0, "natively the CPU takes the whole mini-batch");
    }
}
