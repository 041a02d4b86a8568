// Two small patches to the browser's WebGPU API, applied before burn asks for a device.
// They work around defects that stop burn 0.22's wgpu backend on Chromium (see
// src/backend/webgpu.rs for the why); both are no-ops where they are not needed.

let installed = false;

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
    return requestDevice.call(this, wanted);
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

// Describes the adapter the browser offers, or returns null when there is none.
export async function describeWebGpuAdapter() {
  if (typeof navigator === "undefined" || !navigator.gpu) return null;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info || {};
  const parts = [info.vendor, info.architecture, info.description].filter((p) => p);
  return parts.join(" ") || "unnamed adapter";
}
