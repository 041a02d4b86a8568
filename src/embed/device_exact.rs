//! The exact t-SNE gradient on a burn device: WebGPU in the page, wgpu (Vulkan)
//! natively, or Flex on the CPU — the same tensor code on each.
//!
//! The O(N²) part — the forces — runs on the device in f32; the O(N) update (gains,
//! momentum, clipping, centring) stays in f64 on the CPU in the very
//! [`Optimizer`](super::optimizer::Optimizer) the CPU methods use, so both follow one
//! algorithm and differ only in how the forces are summed.
//!
//! Per iteration, for each block B of rows of the dense P (all on the device):
//!   1 + ‖y_i − y_j‖² = a_i · b_j   with a_i = (y_i, ‖y_i‖², 1), b_j = (−2y_j, 1, 1 + ‖y_j‖²)
//!   W_B = 1 / (A_B Bᵀ)                          (|B|×N, one matmul and one reciprocal)
//!   for K = P∘W and K = W∘W: Σ_j K_ij, Σ_j K_ij x_j, Σ_j K_ij y_j   (row reductions)
//!   Σ_j W_ij per row                            (for Z, summed in f64 on the CPU)
//! and one read brings back 7 numbers per row (8 with Σ_j P_ij ln W_ij on report
//! iterations); the CPU forms A_i = y_i Σ_j P_ij W_ij − Σ_j P_ij W_ij y_j and likewise
//! R_i. About 16 passes over |B|×N per block instead of the ~35 a term-by-term
//! formulation needs (measured on lavapipe, N = 1,797: a [N,N]·[N,3] matmul costs 100 ms,
//! six times the broadcast-multiply-and-reduce it replaces, so the weighted sums are
//! reductions, not matmuls). The expansion of ‖y_i − y_j‖² loses absolute precision ‖y‖²·2⁻²⁴ (about
//! 1e-4 for a centred digits map), negligible beside W's own scale.
//!
//! Memory: P (N² f32) lives on the device in row blocks of at most [`BLOCK_BYTES`]; every
//! temporary is |B|×N, so no buffer comes near WebGPU's default 128 MiB binding limit.

use burn::prelude::*;

use super::affinity::SparseP;
use super::gradient::{ExactScratch, attraction, exact_repulsion};
use super::optimizer::{Optimizer, StepReport};
use super::{Prepared, TsneError};
use crate::backend::{BackendError, read_f32};

/// Largest f32 buffer one block may use: a quarter of WebGPU's default
/// `maxStorageBufferBindingSize` (128 MiB).
pub const BLOCK_BYTES: usize = 32 << 20;

/// Largest N the device optimiser accepts: P is stored densely (N² × 4 bytes, 400 MB at
/// N = 10,000).
pub const DEVICE_EXACT_MAX_N: usize = 10_000;

/// Why the device optimiser stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceTsneError {
    #[error(transparent)]
    Tsne(#[from] TsneError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("the exact method on the GPU stores P densely and takes at most {max} points, not {n}; use Barnes-Hut")]
    TooManyPoints { n: usize, max: usize },
}

impl crate::backend::GpuFailureSource for DeviceTsneError {
    fn gpu_failure(&self) -> Option<&crate::backend::GpuFailure> {
        match self {
            DeviceTsneError::Backend(e) => e.gpu_failure(),
            _ => None,
        }
    }
}

/// The parts of the exact gradient at one embedding (see `gradient.rs`):
/// ∂C/∂y = 4 (α A − R / Z).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceForces {
    /// A_i = Σ_j P_ij W_ij (y_i − y_j), N×2.
    pub attraction: Vec<f64>,
    /// R_i = Σ_j W_ij² (y_i − y_j), N×2.
    pub repulsion: Vec<f64>,
    /// Σ P_ij ln W_ij (0 unless asked for).
    pub sum_p_log_w: f64,
    /// Z = Σ_{i≠j} W_ij.
    pub z: f64,
}

/// How far the device's forces are from the CPU's f64 kernels at one embedding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForceAgreement {
    /// ‖g_device − g_cpu‖₂ of the gradient g = 4 (A − R / Z), relative to the size of
    /// its two parts, ‖ |4A| + |4R/Z| ‖₂: near an optimum they cancel and g itself is
    /// small, so the parts are what f32 rounding scales with.
    pub gradient_rel_l2: f64,
    /// |Z_device − Z_cpu| / Z_cpu.
    pub z_rel: f64,
    /// |Σ P ln W (device) − (CPU)|: an absolute error of the KL.
    pub p_log_w_abs: f64,
}

/// Exact-gradient t-SNE with the forces on a device.
pub struct DeviceOptimizer {
    device: Device,
    n: usize,
    /// (first row, P rows as a [rows, N] tensor).
    p_blocks: Vec<(usize, Tensor<2>)>,
    /// The f64 optimiser that applies the updates.
    cpu: Optimizer,
}

impl std::fmt::Debug for DeviceOptimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceOptimizer")
            .field("n", &self.n)
            .field("t", &self.cpu.iteration())
            .field("blocks", &self.p_blocks.len())
            .finish()
    }
}

/// Rows per block so that one [rows, n] f32 tensor stays within [`BLOCK_BYTES`].
pub fn rows_per_block(n: usize) -> usize {
    (BLOCK_BYTES / (4 * n.max(1))).clamp(1, n.max(1))
}

/// P's rows `r0..r1` as a dense row-major f32 block.
fn dense_rows(p: &SparseP, r0: usize, r1: usize) -> Vec<f32> {
    let n = p.n;
    let mut out = vec![0.0f32; (r1 - r0) * n];
    for i in r0..r1 {
        let row = &mut out[(i - r0) * n..(i - r0 + 1) * n];
        for k in p.row_ptr[i]..p.row_ptr[i + 1] {
            row[p.col[k] as usize] = p.val[k] as f32;
        }
    }
    out
}

impl DeviceOptimizer {
    /// Uploads P; the initial embedding stays with the CPU half.
    pub fn new(prepared: Prepared, device: &Device) -> Result<Self, DeviceTsneError> {
        let Prepared { p, y0, config, .. } = prepared;
        let n = p.n;
        if n > DEVICE_EXACT_MAX_N {
            return Err(DeviceTsneError::TooManyPoints { n, max: DEVICE_EXACT_MAX_N });
        }
        let rows = rows_per_block(n);
        let p_blocks = (0..n)
            .step_by(rows)
            .map(|r0| {
                let r1 = (r0 + rows).min(n);
                let block = TensorData::new(dense_rows(&p, r0, r1), [r1 - r0, n]);
                (r0, Tensor::<2>::from_data(block, device))
            })
            .collect();
        Ok(DeviceOptimizer { device: device.clone(), n, p_blocks, cpu: Optimizer::new(p, y0, config) })
    }

    /// Updates applied so far.
    pub fn iteration(&self) -> usize {
        self.cpu.iteration()
    }

    /// True once the last iteration has been evaluated.
    pub fn is_finished(&self) -> bool {
        self.cpu.is_finished()
    }

    /// The current embedding, N×2 row-major.
    pub fn embedding(&self) -> &[f64] {
        self.cpu.embedding()
    }

    /// The device this runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The same run, its remaining iterations on the CPU: the state after the last finished
    /// iteration is held on the CPU side (a failed step changes nothing), so a GPU that is lost
    /// or out of memory costs no iteration done.
    pub fn into_cpu(self) -> super::optimizer::CpuOptimizer {
        super::exact_on_cpu(self.cpu)
    }

    /// The forces at any embedding `y` (N×2), computed on the device: what
    /// [`Self::step`] uses, open so tests can hold them against the CPU kernels at the
    /// same point (trajectories of f32 and f64 runs part after a few iterations: the
    /// gains rule amplifies rounding, so comparing them says little about the forces).
    pub async fn forces_at(&self, y: &[f64], want_log: bool) -> Result<DeviceForces, BackendError> {
        let (attraction, repulsion, sum_p_log_w, z) = self.forces(y, want_log).await?;
        Ok(DeviceForces { attraction, repulsion, sum_p_log_w, z })
    }

    /// Compares the device's forces at `y` with the CPU's f64 exact kernels — the check
    /// that a shader a browser silently rejected (zeros) or miscompiled cannot pass.
    pub async fn agreement_with_cpu(&self, y: &[f64]) -> Result<ForceAgreement, BackendError> {
        let dev = self.forces_at(y, true).await?;
        let p = self.cpu.affinities();
        let mut attr = vec![0.0f64; 2 * self.n];
        let mut rep = vec![0.0f64; 2 * self.n];
        let p_log_w = attraction(p, y, &mut attr, true);
        let z = exact_repulsion(y, self.n, &mut ExactScratch::default(), &mut rep);
        let (mut diff, mut scale) = (0.0f64, 0.0f64);
        for k in 0..2 * self.n {
            let (a, r) = (4.0 * attr[k], 4.0 * rep[k] / z);
            let g_dev = 4.0 * (dev.attraction[k] - dev.repulsion[k] / dev.z);
            diff += (g_dev - (a - r)).powi(2);
            scale += (a.abs() + r.abs()).powi(2);
        }
        Ok(ForceAgreement {
            gradient_rel_l2: (diff / scale).sqrt(),
            z_rel: ((dev.z - z) / z).abs(),
            p_log_w_abs: (dev.sum_p_log_w - p_log_w).abs(),
        })
    }

    /// Forces at `y` on the device: (A, R, Σ P ln W, Z), one read-back.
    async fn forces(&self, y: &[f64], want_log: bool) -> Result<(Vec<f64>, Vec<f64>, f64, f64), BackendError> {
        let n = self.n;
        let sq: Vec<f64> = y.chunks_exact(2).map(|p| p[0] * p[0] + p[1] * p[1]).collect();
        let mut b_t = vec![0.0f32; 4 * n];
        for (j, p) in y.chunks_exact(2).enumerate() {
            b_t[j] = (-2.0 * p[0]) as f32;
            b_t[n + j] = (-2.0 * p[1]) as f32;
            b_t[2 * n + j] = 1.0;
            b_t[3 * n + j] = (1.0 + sq[j]) as f32;
        }
        let xs: Vec<f32> = y.chunks_exact(2).map(|p| p[0] as f32).collect();
        let ys: Vec<f32> = y.chunks_exact(2).map(|p| p[1] as f32).collect();
        let b_t = Tensor::<2>::from_data(TensorData::new(b_t, [4, n]), &self.device);
        let xs = Tensor::<2>::from_data(TensorData::new(xs, [1, n]), &self.device);
        let ys = Tensor::<2>::from_data(TensorData::new(ys, [1, n]), &self.device);
        // Per block: Σ_j K_ij, Σ_j K_ij x_j, Σ_j K_ij y_j for K = P∘W and K = W∘W.
        let mut parts = Vec::with_capacity(7 * self.p_blocks.len());
        for (r0, p) in &self.p_blocks {
            let rows = p.dims()[0];
            let a: Vec<f32> =
                (*r0..r0 + rows).flat_map(|i| [y[2 * i] as f32, y[2 * i + 1] as f32, sq[i] as f32, 1.0]).collect();
            let a = Tensor::<2>::from_data(TensorData::new(a, [rows, 4]), &self.device);
            let w = a.matmul(b_t.clone()).recip();
            // Row sums, added up in f64 on the CPU: Z sums N² terms, too many for one
            // f32 accumulator to keep the KL's fifth digit.
            let mut sums = vec![w.clone().sum_dim(1).reshape([rows])];
            if want_log {
                sums.push((p.clone() * w.clone().log()).sum_dim(1).reshape([rows]));
            }
            for k in [p.clone() * w.clone(), w.square()] {
                parts.push(k.clone().sum_dim(1).reshape([rows]));
                parts.push((k.clone() * xs.clone().expand([rows, n])).sum_dim(1).reshape([rows]));
                parts.push((k * ys.clone().expand([rows, n])).sum_dim(1).reshape([rows]));
            }
            parts.extend(sums);
        }
        let values = read_f32(Tensor::cat(parts, 0)).await?;
        let mut attr = vec![0.0f64; 2 * n];
        let mut rep = vec![0.0f64; 2 * n];
        let (mut w_sum, mut p_log_w) = (0.0f64, 0.0f64);
        let mut at = 0;
        for (r0, p) in &self.p_blocks {
            let rows = p.dims()[0];
            for out in [&mut attr, &mut rep] {
                let (total, wx, wy) =
                    (&values[at..at + rows], &values[at + rows..at + 2 * rows], &values[at + 2 * rows..at + 3 * rows]);
                for k in 0..rows {
                    let i = r0 + k;
                    out[2 * i] = y[2 * i] * total[k] as f64 - wx[k] as f64;
                    out[2 * i + 1] = y[2 * i + 1] * total[k] as f64 - wy[k] as f64;
                }
                at += 3 * rows;
            }
            w_sum += values[at..at + rows].iter().map(|&v| v as f64).sum::<f64>();
            at += rows;
            if want_log {
                p_log_w += values[at..at + rows].iter().map(|&v| v as f64).sum::<f64>();
                at += rows;
            }
        }
        // Σ_{i≠j} W_ij: the diagonal's W_ii = 1 is left out.
        Ok((attr, rep, p_log_w, w_sum - n as f64))
    }

    /// Evaluates the forces at the current embedding on the device (one asynchronous
    /// read-back) and, unless this was the final evaluation, applies one update.
    pub async fn step(&mut self) -> Result<StepReport, DeviceTsneError> {
        let Some(want_log) = self.cpu.next_needs_log() else {
            return Ok(self.cpu.finished_report());
        };
        let (attr, rep, p_log_w, z) = self.forces(self.cpu.embedding(), want_log).await?;
        Ok(self.cpu.step_with_forces(&attr, &rep, p_log_w, z)?)
    }
}
