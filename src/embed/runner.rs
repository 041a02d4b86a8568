//! One interface over the CPU and device optimisers, and the async pipeline that picks
//! between them: what the page and the CLI drive.
//!
//! Placement: PCA runs on the device when one is given (it is the costly part for wide
//! activation matrices); the affinities are always computed on the CPU in f64; the exact
//! method's iterations run on the device; Barnes-Hut (a tree walk, not a tensor
//! computation) runs on the CPU.

use burn::prelude::*;

use super::device_exact::{DEVICE_EXACT_MAX_N, DeviceOptimizer, DeviceTsneError};
use super::device_pca::device_pca;
use super::optimizer::{CpuOptimizer, StepReport};
use super::{
    CpuStart, Features, Method, TsneConfig, cpu_optimizer, pca_target, prepare, reduce, standardized, start_on_cpu,
    validate,
};

/// Where the iterations run.
#[derive(Debug)]
pub enum Runner {
    /// f64 on the CPU (exact or Barnes-Hut).
    Cpu(Box<CpuOptimizer>),
    /// Exact gradient: forces on a burn device (f32), update on the CPU (f64).
    Device(Box<DeviceOptimizer>),
}

impl Runner {
    /// One iteration (see [`CpuOptimizer::step`]).
    pub async fn step(&mut self) -> Result<StepReport, DeviceTsneError> {
        match self {
            Runner::Cpu(opt) => Ok(opt.step()?),
            Runner::Device(opt) => opt.step().await,
        }
    }

    /// The current embedding, N×2 row-major.
    pub fn embedding(&self) -> Vec<f32> {
        let y = match self {
            Runner::Cpu(opt) => opt.embedding(),
            Runner::Device(opt) => opt.embedding(),
        };
        y.iter().map(|&v| v as f32).collect()
    }

    /// Updates applied so far.
    pub fn iteration(&self) -> usize {
        match self {
            Runner::Cpu(opt) => opt.iteration(),
            Runner::Device(opt) => opt.iteration(),
        }
    }

    /// True once the last iteration has been evaluated.
    pub fn is_finished(&self) -> bool {
        match self {
            Runner::Cpu(opt) => opt.is_finished(),
            Runner::Device(opt) => opt.is_finished(),
        }
    }

    /// True when the iterations run on the device.
    pub fn on_device(&self) -> bool {
        matches!(self, Runner::Device(_))
    }

    /// The same run with its remaining iterations on the CPU, from the last finished one
    /// (what the page does when the GPU fails mid-run).
    pub fn continue_on_cpu(self) -> Runner {
        match self {
            Runner::Device(opt) => Runner::Cpu(Box::new(opt.into_cpu())),
            cpu => cpu,
        }
    }
}

/// What [`start`] decided.
#[derive(Debug)]
pub struct Started {
    /// The optimiser, ready to step.
    pub runner: Runner,
    /// The method the configuration resolved to.
    pub method: Method,
    /// Stored entries of P.
    pub p_nnz: usize,
    /// Whether PCA ran on the device.
    pub pca_on_device: bool,
}

/// Validates, reduces (PCA on `device` if given), computes P and the initial embedding,
/// and returns an optimiser: on `device` for the exact method (N ≤
/// [`DEVICE_EXACT_MAX_N`]), on the CPU otherwise.
pub async fn start(
    data: &[f32],
    n: usize,
    m: usize,
    config: &TsneConfig,
    device: Option<&Device>,
) -> Result<Started, DeviceTsneError> {
    let Some(device) = device else {
        let CpuStart { optimizer, method, p_nnz } = start_on_cpu(data, n, m, config)?;
        return Ok(Started { runner: Runner::Cpu(Box::new(optimizer)), method, p_nnz, pca_on_device: false });
    };
    validate(data, n, m, config)?;
    let (features, pca_on_device) = match pca_target(config, n, m) {
        Some(d) => {
            let scores = device_pca(&standardized(data, n, m, config), n, m, d, device).await?;
            let d = scores.len() / n;
            (Features::from_pca_scores(scores, n, d), true)
        }
        None => (reduce(data, n, m, config), false),
    };
    let prepared = prepare(features, config);
    let method = prepared.method;
    let p_nnz = prepared.p.nnz();
    let runner = if method == Method::Exact && n <= DEVICE_EXACT_MAX_N {
        Runner::Device(Box::new(DeviceOptimizer::new(prepared, device)?))
    } else {
        Runner::Cpu(Box::new(cpu_optimizer(prepared)))
    };
    Ok(Started { runner, method, p_nnz, pca_on_device })
}
