// Patches to the browser's WebGPU API, applied before burn asks for a device. Two work around
// defects that stop burn 0.22's wgpu backend on Chromium (see src/backend/webgpu.rs for the
// why; both are no-ops where they are not needed); the third watches the device for failures.

let installed = false;

// --- Device failures -------------------------------------------------------------------------
// wgpu hands every uncaptured WebGPU error (out of memory included) to a handler that panics,
// which aborts the whole wasm instance: the page would die with the user's training. So the
// device's `onuncapturederror` property is taken away from wgpu, and errors and device loss are
// recorded here instead; every GPU read-back asks `takeGpuFailure()` (src/backend/mod.rs).

let watchedDevice = null;
let failure = null;

function record(kind, message) {
  // The first failure explains the rest (an out-of-memory buffer makes every later use of it
  // fail validation), except that a lost device always wins: nothing on it will run again.
  if (failure === null || (kind === "lost" && failure.kind !== "lost")) failure = { kind, message };
}

function watchDevice(device) {
  watchedDevice = device;
  Object.defineProperty(device, "onuncapturederror", {
    configurable: true,
    get() { return null; },
    set(_handler) { /* wgpu's handler panics: the listener below records errors instead */ },
  });
  device.addEventListener("uncapturederror", (event) => {
    event.preventDefault();
    const error = event.error;
    const kind = typeof GPUOutOfMemoryError !== "undefined" && error instanceof GPUOutOfMemoryError
      ? "out-of-memory" : "error";
    console.error(`WebGPU ${kind}: ${error && error.message}`);
    record(kind, (error && error.message) || "unknown WebGPU error");
  });
  device.lost.then((info) => record("lost", info.message || info.reason || "the device was lost"));
  return device;
}

/** Hands over the failure recorded since the last call: `{ kind, message }` with kind
 * "out-of-memory", "lost" or "error", or null while the device is healthy. Reporting an
 * out-of-memory or error once is enough (the device still works and the next, smaller job may
 * fit); a lost device is reported every time. */
export function takeGpuFailure() {
  const taken = failure;
  if (failure && failure.kind !== "lost") failure = null;
  return taken;
}

/** Resolves after the browser's next task. */
export function nextTask() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

// Test hooks for the end-to-end tests: a real out-of-memory or device loss cannot be caused on
// demand, so these produce the same signals the browser would send.
globalThis.layerlensGpuTestHooks = {
  loseDevice() {
    if (!watchedDevice) return false;
    watchedDevice.destroy();
    return true;
  },
  runOutOfMemory() {
    if (!watchedDevice) return false;
    const error = new GPUOutOfMemoryError("simulated by a test: the buffer did not fit");
    watchedDevice.dispatchEvent(new GPUUncapturedErrorEvent("uncapturederror", { error }));
    return true;
  },
};

export function installWebGpuFixes() {
  if (installed || typeof GPUAdapter === "undefined") return installed;
  installed = true;

  // 1. wgpu does not pass the `subgroups` feature through when it requests the device, yet
  //    cubecl's matmul kernels start with `enable subgroups;`. Ask for it whenever offered.
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = function (descriptor) {
    const wanted = Object.assign({}, descriptor || {});
    const features = new Set(wanted.requiredFeatures || []);
    if (this.features && this.features.has("subgroups")) features.add("subgroups");
    wanted.requiredFeatures = [...features];
    return requestDevice.call(this, wanted).then(watchDevice);
  };

  // 2. Chromium's uniformity analysis rejects one matmul kernel ("'subgroupAdd' must only be
  //    called from subgroup uniform control flow"); switch that diagnostic off, and log the
  //    compiler's own messages, since wgpu only reports "Invalid ShaderModule".
  const createShaderModule = GPUDevice.prototype.createShaderModule;
  GPUDevice.prototype.createShaderModule = function (descriptor) {
    let code = descriptor && descriptor.code;
    if (typeof code === "string" && code.includes("enable subgroups;") &&
        !code.includes("diagnostic(off, subgroup_uniformity)")) {
      code = code.replace("enable subgroups;", "enable subgroups;\ndiagnostic(off, subgroup_uniformity);");
      descriptor = Object.assign({}, descriptor, { code });
    }
    const module = createShaderModule.call(this, descriptor);
    if (module.getCompilationInfo) {
      module.getCompilationInfo().then((info) => {
        for (const m of info.messages) {
          if (m.type === "error") console.error(`WebGPU shader error (line ${m.lineNum}): ${m.message}`);
        }
      });
    }
    return module;
  };
  return true;
}

// What the browser says about the adapter it offers ({vendor, architecture, description,
// isFallback}), or null when there is none.
export async function describeWebGpuAdapter() {
  if (typeof navigator === "undefined" || !navigator.gpu) return null;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info || {};
  return {
    vendor: info.vendor || "",
    architecture: info.architecture || "",
    description: info.description || "",
    // GPUAdapterInfo.isFallbackAdapter; older Chromium had it on the adapter itself.
    isFallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
  };
}
