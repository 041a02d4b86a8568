//! Which device computes by default: the GPU only where it is a real one and not slower than
//! the CPU for SqueezeNet.
//!
//! A browser may offer WebGPU on a software renderer (Chromium's SwiftShader where there is no
//! usable GPU): it works, and runs SqueezeNet some twenty times slower than the page's CPU path
//! (1.0–1.1 against 20–23 images/s in headless Chromium here), after up to half a minute of
//! kernel compilation. A weak integrated GPU can also lose to the CPU. So `auto` refuses
//! software adapters outright and measures a hardware adapter against the CPU with a short
//! probe (`model::benchmark::probe`) before choosing; the person can always ask for either
//! device (`?backend=webgpu` / `?backend=cpu`).

use std::str::FromStr;

use super::BackendKind;

/// What the person asked for (`?backend=` in the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendRequest {
    /// The faster device: WebGPU on a hardware adapter that the probe does not find slower.
    #[default]
    Auto,
    Cpu,
    /// WebGPU whatever its adapter, when the browser offers one.
    WebGpu,
}

impl BackendRequest {
    /// The value `?backend=` takes for this request.
    pub fn as_param(self) -> &'static str {
        match self {
            BackendRequest::Auto => "auto",
            BackendRequest::Cpu => "cpu",
            BackendRequest::WebGpu => "webgpu",
        }
    }
}

impl FromStr for BackendRequest {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(BackendRequest::Auto),
            other => match other.parse::<BackendKind>() {
                Ok(BackendKind::Cpu) => Ok(BackendRequest::Cpu),
                Ok(BackendKind::Wgpu) => Ok(BackendRequest::WebGpu),
                Err(_) => Err(format!("unknown backend `{other}`: use auto, webgpu or cpu")),
            },
        }
    }
}

/// What the browser says about its WebGPU adapter (`GPUAdapter.info`), read from the object
/// `describeWebGpuAdapter` in `webgpu_fixes.js` gives (camelCase; a missing field is empty).
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdapterInfo {
    pub vendor: String,
    pub architecture: String,
    pub description: String,
    /// `GPUAdapterInfo.isFallbackAdapter`: the browser's own word that this adapter is a
    /// software or otherwise limited one.
    pub is_fallback: bool,
}

/// Names of software renderers, as they appear in adapter vendors, architectures or
/// descriptions (Chromium's SwiftShader, Mesa's llvmpipe and lavapipe, Windows' WARP).
const SOFTWARE_RENDERERS: [&str; 5] = ["swiftshader", "llvmpipe", "lavapipe", "microsoft basic render", "warp"];

impl AdapterInfo {
    /// "google swiftshader", "nvidia ada …": what the page shows.
    pub fn name(&self) -> String {
        let parts: Vec<&str> = [&self.vendor, &self.architecture, &self.description]
            .into_iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() { "unnamed adapter".into() } else { parts.join(" ") }
    }

    /// Whether the adapter draws in software on the CPU (so the CPU path beats it).
    pub fn is_software(&self) -> bool {
        // Whole words only ("warp" must not match "warpdrive"): the words, space-separated.
        let text = format!("{} {} {}", self.vendor, self.architecture, self.description).to_ascii_lowercase();
        let words: Vec<&str> = text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let words = format!(" {} ", words.join(" "));
        self.is_fallback || SOFTWARE_RENDERERS.iter().any(|name| words.contains(&format!(" {name} ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(vendor: &str, architecture: &str, description: &str, is_fallback: bool) -> AdapterInfo {
        AdapterInfo {
            vendor: vendor.into(),
            architecture: architecture.into(),
            description: description.into(),
            is_fallback,
        }
    }

    #[test]
    fn software_renderers_are_told_from_gpus() {
        assert!(adapter("google", "swiftshader", "", false).is_software());
        assert!(adapter("", "", "", true).is_software(), "the browser's fallback flag is enough");
        assert!(adapter("mesa", "", "llvmpipe (LLVM 15.0.6, 256 bits)", false).is_software());
        assert!(adapter("", "", "Microsoft Basic Render Driver", false).is_software());
        assert!(!adapter("nvidia", "ada-lovelace", "NVIDIA GeForce RTX 4070", false).is_software());
        assert!(!adapter("apple", "metal-3", "", false).is_software());
        assert!(!adapter("amd", "warpdrive", "", false).is_software(), "whole words only");
        assert_eq!(adapter("google", "swiftshader", "", true).name(), "google swiftshader");
        assert_eq!(adapter("", " ", "", false).name(), "unnamed adapter");
    }

    #[test]
    fn the_page_reads_the_adapter_description_its_script_gives() {
        // The shape of describeWebGpuAdapter's object (webgpu_fixes.js), as the page reads it.
        let full = r#"{"vendor":"google","architecture":"swiftshader","description":"","isFallback":true}"#;
        assert_eq!(serde_json::from_str::<AdapterInfo>(full).unwrap(), adapter("google", "swiftshader", "", true));
        let partial: AdapterInfo = serde_json::from_str(r#"{"vendor":"apple"}"#).unwrap();
        assert_eq!(partial, adapter("apple", "", "", false), "a missing field is empty, not an error");
    }

    #[test]
    fn requests_parse_from_the_query_parameter() {
        assert_eq!("".parse::<BackendRequest>(), Ok(BackendRequest::Auto));
        assert_eq!("Auto".parse::<BackendRequest>(), Ok(BackendRequest::Auto));
        assert_eq!("cpu".parse::<BackendRequest>(), Ok(BackendRequest::Cpu));
        assert_eq!("WebGPU".parse::<BackendRequest>(), Ok(BackendRequest::WebGpu));
        assert_eq!("tpu".parse::<BackendRequest>(), Err("unknown backend `tpu`: use auto, webgpu or cpu".into()));
        for request in [BackendRequest::Auto, BackendRequest::Cpu, BackendRequest::WebGpu] {
            assert_eq!(request.as_param().parse::<BackendRequest>(), Ok(request));
        }
    }
}
