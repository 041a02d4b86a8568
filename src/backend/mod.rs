//! Which device the network runs on, and how results come back from it.
//!
//! Two backends: WebGPU/wgpu for speed, Flex (pure-Rust CPU) everywhere else — the browser
//! fallback and the reference the GPU is tested against. Flex is burn 0.22's successor to the
//! deprecated ndarray backend: it runs on wasm32 unchanged and its convolutions are im2col +
//! `gemm` (ndarray's are direct loops), which is what SqueezeNet's 26 convolutions want.
//!
//! On wasm32 a GPU read-back must be awaited (a synchronous read panics there), so every read
//! in the core goes through [`read_f32`], which is async on every target.

#[cfg(target_arch = "wasm32")]
pub mod webgpu;

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use thiserror::Error;

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
pub async fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, BackendError> {
    let data = tensor.into_data_async().await.map_err(|e| BackendError::ReadBack(e.to_string()))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| BackendError::ReadBack(format!("{e:?}")))
}

/// Waits until every queued operation on the device has finished (for honest timings).
pub fn sync(device: &Device) -> Result<(), BackendError> {
    device.sync().map_err(|e| BackendError::ReadBack(e.to_string()))
}
