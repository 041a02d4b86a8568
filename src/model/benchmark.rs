//! Inference throughput, measured the same way by the CLI and the page, and the page's
//! start-up probe that tells whether its GPU is worth using (`backend::choice`).

use burn::prelude::*;

use super::inference::class_probabilities;
use super::squeezenet::SqueezeNet;
use crate::backend::{BackendError, BackendKind};
use crate::data::image_input::INPUT_VALUES;

/// Images per second of a forward pass (softmax read back included).
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    pub batch: usize,
    pub images_per_second: f64,
    /// Seconds of the first, untimed pass: kernel compilation and allocation, which on a
    /// software WebGPU adapter dwarfs the steady state.
    pub first_pass_seconds: f64,
}

/// Deterministic synthetic inputs: SqueezeNet's speed does not depend on pixel values.
pub fn synthetic_images(batch: usize) -> Vec<Vec<f32>> {
    (0..batch)
        .map(|i| (0..INPUT_VALUES).map(|j| (((i * 7919 + j * 104_729) % 1000) as f32 / 500.0) - 1.0).collect())
        .collect()
}

/// Runs one warm-up pass of `batch` images, then `repeat` timed passes, and reports the
/// median pass (robust to a pass that a garbage collection or another tab slowed). `clock`
/// returns seconds (`Instant` natively, `performance.now()` in the page).
pub async fn measure_inference(
    net: &SqueezeNet,
    device: &Device,
    batch: usize,
    repeat: usize,
    clock: &dyn Fn() -> f64,
) -> Result<Throughput, BackendError> {
    let images = synthetic_images(batch);
    let refs: Vec<&[f32]> = images.iter().map(Vec::as_slice).collect();
    let start = clock();
    class_probabilities(net, device, &refs).await?;
    let first_pass_seconds = clock() - start;
    let mut seconds = Vec::with_capacity(repeat.max(1));
    for _ in 0..repeat.max(1) {
        let start = clock();
        class_probabilities(net, device, &refs).await?;
        seconds.push(clock() - start);
    }
    Ok(Throughput { batch, images_per_second: batch as f64 / median(&mut seconds), first_pass_seconds })
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

/// The CPU must beat the GPU by this factor before `auto` leaves a hardware GPU: the probe is
/// short, and the GPU's lead grows with batch size while the CPU's does not.
pub const CPU_MARGIN: f64 = 1.25;

/// Images per batch in the probe, and timed passes after the untimed warm-up.
pub const PROBE_BATCH: usize = 2;
const PROBE_REPEAT: usize = 1;

/// The two devices' SqueezeNet speeds, as the probe measured them.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    pub gpu: Throughput,
    pub cpu: Throughput,
}

impl ProbeResult {
    /// The device `auto` picks: the GPU unless the CPU is [`CPU_MARGIN`] times faster.
    pub fn faster(&self) -> BackendKind {
        if self.cpu.images_per_second > CPU_MARGIN * self.gpu.images_per_second {
            BackendKind::Cpu
        } else {
            BackendKind::Wgpu
        }
    }

    /// What the page says about the measurement.
    pub fn describe(&self) -> String {
        format!(
            "measured here: WebGPU {:.1} images/s, CPU {:.1}",
            self.gpu.images_per_second, self.cpu.images_per_second
        )
    }
}

/// Times SqueezeNet (random weights, ten classes: speed does not depend on them) on both
/// devices, each after an untimed warm-up pass that compiles its kernels. `clock` returns
/// seconds. About a second on a hardware GPU; never run on a software adapter, where the
/// warm-up alone takes tens of seconds.
pub async fn probe(gpu: &Device, cpu: &Device, clock: &dyn Fn() -> f64) -> Result<ProbeResult, BackendError> {
    const CLASSES: usize = 10;
    let gpu_result = measure_inference(&SqueezeNet::new(CLASSES, gpu), gpu, PROBE_BATCH, PROBE_REPEAT, clock).await?;
    let cpu_result = measure_inference(&SqueezeNet::new(CLASSES, cpu), cpu, PROBE_BATCH, PROBE_REPEAT, clock).await?;
    Ok(ProbeResult { gpu: gpu_result, cpu: cpu_result })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speeds(gpu: f64, cpu: f64) -> ProbeResult {
        let at = |images_per_second| Throughput { batch: PROBE_BATCH, images_per_second, first_pass_seconds: 0.0 };
        ProbeResult { gpu: at(gpu), cpu: at(cpu) }
    }

    #[test]
    fn the_gpu_is_kept_unless_the_cpu_is_clearly_faster() {
        assert_eq!(speeds(100.0, 10.0).faster(), BackendKind::Wgpu);
        assert_eq!(speeds(10.0, 12.0).faster(), BackendKind::Wgpu, "within the margin");
        assert_eq!(speeds(10.0, 13.0).faster(), BackendKind::Cpu);
        assert_eq!(speeds(0.8, 10.0).faster(), BackendKind::Cpu);
        assert_eq!(speeds(0.8, 10.04).describe(), "measured here: WebGPU 0.8 images/s, CPU 10.0");
    }

    #[test]
    fn the_median_ignores_one_slow_pass() {
        assert_eq!(median(&mut [3.0, 1.0, 100.0]), 3.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 100.0]), 3.0);
        assert_eq!(median(&mut [0.5]), 0.5);
    }

    #[test]
    fn the_probe_times_both_devices() {
        let cpu = crate::backend::cpu_device();
        let start = std::time::Instant::now();
        let clock = move || start.elapsed().as_secs_f64();
        // The CPU against itself (the GPU's own run is the page's): both figures real.
        let result = futures_lite::future::block_on(probe(&cpu, &cpu, &clock)).expect("the probe runs");
        for t in [&result.gpu, &result.cpu] {
            assert_eq!(t.batch, PROBE_BATCH);
            assert!(t.images_per_second.is_finite() && t.images_per_second > 0.0, "{t:?}");
        }
    }
}
