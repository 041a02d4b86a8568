//! WebGPU in the browser: the two Chromium workarounds and the asynchronous device set-up.
//!
//! burn 0.22's wgpu backend fails on Chromium's WebGPU (and so in real users' Chrome) in two
//! ways, both fixed by patching the WebGPU API before the device is requested
//! (`webgpu_fixes.js`, measured in `shared/reference/stack-notes.md`):
//! 1. wgpu does not request the `subgroups` feature although cubecl's matmul shaders
//!    `enable subgroups;`, so the shaders are rejected and every later command fails;
//! 2. Chromium's uniformity analysis then rejects one matmul kernel; the patch turns off the
//!    `subgroup_uniformity` diagnostic for shaders that enable subgroups.
//!
//! Without them a rejected shader can silently yield zeros, which is why every GPU path is
//! compared with the CPU backend in the tests.
//!
//! A third patch watches the device: wgpu's uncaptured-error handler panics (which aborts the
//! page), so errors and device loss are recorded in JavaScript instead and read here by
//! [`take_recorded_failure`]; `backend::read_f32` turns them into errors the caller can act on.

use std::cell::RefCell;

use burn::prelude::*;
use gloo_utils::format::JsValueSerdeExt;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::choice::AdapterInfo;
use super::{BackendError, GpuFailure, GpuFailureKind};

#[wasm_bindgen(module = "/src/backend/webgpu_fixes.js")]
extern "C" {
    #[wasm_bindgen(js_name = installWebGpuFixes)]
    fn install_webgpu_fixes() -> bool;
    #[wasm_bindgen(js_name = describeWebGpuAdapter)]
    fn describe_webgpu_adapter() -> js_sys::Promise;
    #[wasm_bindgen(js_name = takeGpuFailure)]
    fn take_gpu_failure_js() -> JsValue;
    #[wasm_bindgen(js_name = nextTask)]
    fn next_task_js() -> js_sys::Promise;
}

/// The failure the WebGPU watch recorded since the last call (see `webgpu_fixes.js`), if any;
/// a lost device is reported on every call.
pub fn take_recorded_failure() -> Option<GpuFailure> {
    let value = take_gpu_failure_js();
    if value.is_null() || value.is_undefined() {
        return None;
    }
    // What the watch records (webgpu_fixes.js); a record it cannot read is still a failure.
    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct Recorded {
        kind: String,
        message: String,
    }
    let recorded: Recorded = value.into_serde().unwrap_or_default();
    let kind = match recorded.kind.as_str() {
        "out-of-memory" => GpuFailureKind::OutOfMemory,
        "lost" => GpuFailureKind::Lost,
        _ => GpuFailureKind::Error,
    };
    Some(GpuFailure { kind, message: recorded.message })
}

/// Resolves after the browser's next task (so pending device notices are delivered).
pub async fn next_task() {
    let _ = wasm_bindgen_futures::JsFuture::from(next_task_js()).await;
}

thread_local! {
    /// burn allows one WebGPU initialisation per page: the first result is kept and shared.
    static DEVICE: RefCell<Option<Result<(Device, String), BackendError>>> = const { RefCell::new(None) };
    /// The adapter's description, asked of the browser once (the backend choice and the
    /// device's initialisation both want it; each `requestAdapter` costs a round trip).
    static ADAPTER: RefCell<Option<Option<AdapterInfo>>> = const { RefCell::new(None) };
}

/// The WebGPU device and a description of its adapter, initialised on first call.
/// Fails with [`BackendError::NoAdapter`] when the browser offers no WebGPU adapter.
pub async fn webgpu_device() -> Result<(Device, String), BackendError> {
    if let Some(done) = DEVICE.with(|d| d.borrow().clone()) {
        return done;
    }
    let result = init().await;
    DEVICE.with(|d| *d.borrow_mut() = Some(result.clone()));
    result
}

/// What the browser says about its WebGPU adapter, or `None` when it offers none.
pub async fn adapter_info() -> Option<AdapterInfo> {
    if let Some(known) = ADAPTER.with(|a| a.borrow().clone()) {
        return known;
    }
    let info = ask_adapter_info().await;
    ADAPTER.with(|a| *a.borrow_mut() = Some(info.clone()));
    info
}

async fn ask_adapter_info() -> Option<AdapterInfo> {
    let value = wasm_bindgen_futures::JsFuture::from(describe_webgpu_adapter()).await.ok()?;
    if value.is_null() || value.is_undefined() {
        return None;
    }
    Some(value.into_serde().unwrap_or_default())
}

async fn init() -> Result<(Device, String), BackendError> {
    let Some(adapter) = adapter_info().await else {
        return Err(BackendError::NoAdapter("this browser offers none".into()));
    };
    install_webgpu_fixes();
    let _ = super::GPU_WATCH
        .set(super::GpuWatch { take_failure: take_recorded_failure, next_task: || Box::pin(next_task()) });
    let device = Device::wgpu_options().init_async().await.map_err(|e| BackendError::Init(e.to_string()))?;
    Ok((device, adapter.name()))
}
