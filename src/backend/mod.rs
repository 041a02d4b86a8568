//! Which device the network runs on, and how results come back from it.
//!
//! Two backends: WebGPU/wgpu for speed, Flex (pure-Rust CPU) everywhere else — the browser
//! fallback and the reference the GPU is tested against. Flex is burn 0.22's successor to the
//! deprecated ndarray backend: it runs on wasm32 unchanged and its convolutions are im2col +
//! `gemm` (ndarray's are direct loops), which is what SqueezeNet's 26 convolutions want.
//!
//! On wasm32 a GPU read-back must be awaited (a synchronous read panics there), so every read
//! in the core goes through [`read_f32`], which is async on every target.

pub mod choice;
pub mod pass_size;
pub mod recovery;
#[cfg(target_arch = "wasm32")]
pub mod webgpu;

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use thiserror::Error;

pub use pass_size::{GPU_MICRO_BATCH, Host, INFERENCE_PASS, PassSizes};
pub use recovery::{GpuFailureSource, Recovery};

/// The kind of device a computation runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Flex, burn's pure-Rust CPU backend.
    Cpu,
    /// burn's wgpu backend: WebGPU in the browser, Vulkan/Metal/DX12 natively.
    Wgpu,
}

impl BackendKind {
    /// A short name for the user ("WebGPU" in the browser, "wgpu" natively).
    pub fn label(self) -> &'static str {
        match self {
            BackendKind::Cpu => "CPU",
            BackendKind::Wgpu if cfg!(target_arch = "wasm32") => "WebGPU",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(BackendKind::Cpu),
            "wgpu" | "gpu" | "webgpu" | "vulkan" => Ok(BackendKind::Wgpu),
            other => Err(format!("unknown backend `{other}`; use `cpu` or `wgpu`")),
        }
    }
}

/// Why a device could not be had or a result could not be read back.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum BackendError {
    #[error("no WebGPU adapter: {0}")]
    NoAdapter(String),
    #[error("the GPU device could not be initialised: {0}")]
    Init(String),
    #[error("reading a result back from the device failed: {0}")]
    ReadBack(String),
    #[error(transparent)]
    GpuFailed(#[from] GpuFailure),
}

/// What went wrong with the GPU, as the browser reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuFailureKind {
    /// A buffer did not fit: the device still works, a smaller workload may.
    OutOfMemory,
    /// The device is gone (driver reset, GPU removed, tab in the background too long…); this
    /// page cannot get another one from burn, so the work must go on on the CPU.
    Lost,
    /// Any other uncaptured WebGPU error (a rejected shader or command).
    Error,
}

impl GpuFailureKind {
    /// The failure in a few words, without the driver's details (for a status line).
    pub fn headline(&self) -> &'static str {
        match self {
            GpuFailureKind::OutOfMemory => "the GPU ran out of memory",
            GpuFailureKind::Lost => "the GPU device was lost",
            GpuFailureKind::Error => "the GPU reported an error",
        }
    }
}

/// A GPU failure that stopped the work. On wasm32 errors are recorded by the WebGPU watch in
/// `webgpu_fixes.js` (wgpu's own handler would panic and abort the page) and surface here
/// through [`read_f32`], so every GPU computation that reads back notices them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}: {message}", kind.headline())]
pub struct GpuFailure {
    pub kind: GpuFailureKind,
    pub message: String,
}

/// The GPU failure recorded since the last call, if any (a lost device is reported on every
/// call: it stays lost). Natively always `None`: there cubecl marks a lost device itself and
/// the read-back reports it.
fn take_gpu_failure() -> Option<GpuFailure> {
    #[cfg(target_arch = "wasm32")]
    return GPU_WATCH.get().and_then(|watch| (watch.take_failure)());
    #[cfg(not(target_arch = "wasm32"))]
    None
}

/// How the WebGPU watch (`webgpu_fixes.js`) reaches [`read_f32`] on wasm32: installed by
/// `webgpu::init` with the device, so only code that makes a WebGPU device links the watch.
/// The training worker never does — and could not load the watch's JavaScript module (a
/// classic worker has no `import`) — yet reads its CPU tensors through the same `read_f32`.
#[cfg(target_arch = "wasm32")]
struct GpuWatch {
    take_failure: fn() -> Option<GpuFailure>,
    next_task: fn() -> std::pin::Pin<Box<dyn Future<Output = ()>>>,
}

#[cfg(target_arch = "wasm32")]
static GPU_WATCH: std::sync::OnceLock<GpuWatch> = std::sync::OnceLock::new();

/// Whether `device` is the CPU (Flex), with or without autodiff.
pub fn is_cpu(device: &Device) -> bool {
    device.clone().without_autodiff() == cpu_device()
}

/// The CPU device (Flex).
pub fn cpu_device() -> Device {
    Device::flex()
}

/// The native wgpu device (Vulkan on Linux; Mesa's lavapipe works without a GPU), initialised
/// once per process: burn refuses a second initialisation, so later calls share the first.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_wgpu_device() -> Result<Device, BackendError> {
    use std::sync::OnceLock;
    static DEVICE: OnceLock<Result<Device, BackendError>> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            Device::wgpu_options().init().map_err(|e| match e {
                burn::tensor::wgpu::WgpuInitError::AdapterUnavailable { message, .. } => {
                    BackendError::NoAdapter(message)
                }
                other => BackendError::Init(other.to_string()),
            })
        })
        .clone()
}

/// The device for a backend kind, natively.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_device(kind: BackendKind) -> Result<Device, BackendError> {
    match kind {
        BackendKind::Cpu => Ok(cpu_device()),
        BackendKind::Wgpu => native_wgpu_device(),
    }
}

/// Reads a float tensor back as a flat `Vec<f32>`, asynchronously (required on wasm32 for
/// GPU tensors; immediate on the CPU).
///
/// A GPU read fails with [`BackendError::GpuFailed`] when the device ran out of memory or
/// reported an error since the last read (values read after an out-of-memory may be garbage,
/// and must not be taken for results), has been lost, or the read itself failed. The
/// out-of-memory or error is reported once: the read after it tries again.
pub async fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, BackendError> {
    let on_gpu = !is_cpu(&tensor.device());
    let read = tensor.into_data_async().await;
    if on_gpu {
        if let Some(failure) = take_gpu_failure() {
            return Err(failure.into());
        }
        if let Err(error) = &read {
            // A lost device may fail the read before the browser's `lost` notice is delivered.
            yield_once().await;
            return Err(take_gpu_failure().unwrap_or_else(|| failed_gpu_read(&error.to_string())).into());
        }
    }
    let data = read.map_err(|e| BackendError::ReadBack(e.to_string()))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| BackendError::ReadBack(format!("{e:?}")))
}

/// What a failed GPU read with no recorded failure behind it means: cubecl reports a buffer
/// it could not create (e.g. over the binding limit: "can't allocate buffer of size: …") as a
/// failed read; anything else is a plain GPU error.
fn failed_gpu_read(message: &str) -> GpuFailure {
    let kind = if message.contains("can't allocate") { GpuFailureKind::OutOfMemory } else { GpuFailureKind::Error };
    GpuFailure { kind, message: message.to_string() }
}

/// Lets the browser run its pending tasks once (a no-op natively).
async fn yield_once() {
    #[cfg(target_arch = "wasm32")]
    if let Some(watch) = GPU_WATCH.get() {
        (watch.next_task)().await;
    }
}

/// Waits until every queued operation on the device has finished (for honest timings).
pub fn sync(device: &Device) -> Result<(), BackendError> {
    device.sync().map_err(|e| BackendError::ReadBack(e.to_string()))
}
