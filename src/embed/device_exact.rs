//! The exact t-SNE optimiser on a burn device: WebGPU in the page, wgpu (Vulkan)
//! natively, or Flex on the CPU — the same tensor code on each.
//!
//! Same algorithm, phases and update rule as the CPU [`super::optimizer::Optimizer`]
//! (see its module doc), in f32 instead of f64. Per iteration the forces are computed
//! over blocks of rows of the dense P: for a block B of rows,
//!   W_B = 1 / (1 + ‖y_i − y_j‖²)            (|B|×N, Student-t kernel)
//!   A_B = Σ_j P_ij W_ij (y_i − y_j)          (attraction)
//!   R_B = Σ_j W_ij² (y_i − y_j)              (repulsion, before division by Z)
//!   Z  += Σ_j W_ij − |B|                     (the diagonal W_ii = 1 left out)
//! and then ∂C/∂y = 4 (α A − R / Z). Differences are formed coordinate by coordinate
//! (never as ‖a‖² + ‖b‖² − 2a·b), so close pairs keep their precision in f32.
//!
//! Memory: P (N² f32) lives on the device split into row blocks of at most
//! [`BLOCK_BYTES`]; every temporary is |B|×N, so no buffer comes near WebGPU's default
//! 128 MiB storage-binding limit. Nothing is read back except on report iterations,
//! where one small read brings the embedding, Σ P ln W and Z together.

use burn::prelude::*;

use super::affinity::SparseP;
use super::gradient::{kl_from_parts, p_log_p};
use super::optimizer::StepReport;
use super::{Prepared, TsneConfig, TsneError};
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
    #[error(
        "the exact method on the GPU stores P densely and takes at most {max} points, not {n}; use Barnes-Hut"
    )]
    TooManyPoints { n: usize, max: usize },
}

/// Exact-gradient t-SNE state on a device.
pub struct DeviceOptimizer {
    device: Device,
    n: usize,
    config: TsneConfig,
    /// (first row, P rows as a [rows, N] tensor).
    p_blocks: Vec<(usize, Tensor<2>)>,
    y: Tensor<2>,
    update: Tensor<2>,
    gains: Tensor<2>,
    t: usize,
    finished: bool,
    sum_p_log_p: f64,
    sum_p: f64,
    /// The embedding as of the last report iteration (or the start).
    shown: Vec<f32>,
}

impl std::fmt::Debug for DeviceOptimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceOptimizer")
            .field("n", &self.n)
            .field("t", &self.t)
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
    /// Uploads P and the initial embedding.
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
        let shown: Vec<f32> = y0.iter().map(|&v| v as f32).collect();
        let y = Tensor::<2>::from_data(TensorData::new(shown.clone(), [n, 2]), device);
        Ok(DeviceOptimizer {
            device: device.clone(),
            n,
            sum_p_log_p: p_log_p(&p),
            sum_p: p.val.iter().sum(),
            config,
            p_blocks,
            update: Tensor::zeros([n, 2], device),
            gains: Tensor::ones([n, 2], device),
            y,
            t: 0,
            finished: false,
            shown,
        })
    }

    /// Updates applied so far.
    pub fn iteration(&self) -> usize {
        self.t
    }

    /// True once the last iteration has been evaluated.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The embedding as of the last report iteration, N×2 row-major.
    pub fn embedding(&self) -> &[f32] {
        &self.shown
    }

    /// The configuration being run.
    pub fn config(&self) -> &TsneConfig {
        &self.config
    }

    /// Attraction [N,2], repulsion [N,2], Z [1] and, when asked, Σ P ln W [1].
    fn forces(&self, want_log: bool) -> (Tensor<2>, Tensor<2>, Tensor<1>, Option<Tensor<1>>) {
        let n = self.n;
        let all_x = self.y.clone().slice([0..n, 0..1]).reshape([1, n]);
        let all_y = self.y.clone().slice([0..n, 1..2]).reshape([1, n]);
        let mut attr = Vec::with_capacity(self.p_blocks.len());
        let mut rep = Vec::with_capacity(self.p_blocks.len());
        let mut z: Option<Tensor<1>> = None;
        let mut spw: Option<Tensor<1>> = None;
        for (r0, p) in &self.p_blocks {
            let b = p.dims()[0];
            let rows = self.y.clone().slice([*r0..r0 + b, 0..2]);
            let dx = rows.clone().slice([0..b, 0..1]).expand([b, n]) - all_x.clone().expand([b, n]);
            let dy = rows.slice([0..b, 1..2]).expand([b, n]) - all_y.clone().expand([b, n]);
            let w = (dx.clone().square() + dy.clone().square()).add_scalar(1.0).recip();
            let z_block = w.clone().sum().sub_scalar(b as f32);
            z = Some(match z {
                Some(acc) => acc + z_block,
                None => z_block,
            });
            if want_log {
                let s = (p.clone() * w.clone().log()).sum();
                spw = Some(match spw {
                    Some(acc) => acc + s,
                    None => s,
                });
            }
            let pw = p.clone() * w.clone();
            let w2 = w.square();
            attr.push(Tensor::cat(
                vec![(pw.clone() * dx.clone()).sum_dim(1), (pw * dy.clone()).sum_dim(1)],
                1,
            ));
            rep.push(Tensor::cat(vec![(w2.clone() * dx).sum_dim(1), (w2 * dy).sum_dim(1)], 1));
        }
        (
            Tensor::cat(attr, 0),
            Tensor::cat(rep, 0),
            z.expect("at least one block"),
            spw,
        )
    }

    /// Evaluates the forces at the current embedding and, unless this was the final
    /// evaluation, applies one update. Only report iterations read from the device
    /// (once, asynchronously), so on WebGPU the other iterations just queue work.
    pub async fn step(&mut self) -> Result<StepReport, DeviceTsneError> {
        let s = &self.config;
        let t = self.t;
        if self.finished {
            return Ok(StepReport { iteration: t, kl: None, finished: true });
        }
        let n = self.n;
        let last = t == s.n_iter;
        let report = StepReport::is_report_iteration(t, s.n_iter, s.progress_every);
        let (attr, rep, z, spw) = self.forces(report);
        let mut kl = None;
        if report {
            let spw = spw.expect("asked for Σ P ln W");
            let packed = Tensor::cat(vec![self.y.clone().reshape([2 * n]), spw, z.clone()], 0);
            let values = read_f32(packed).await?;
            let (coords, tail) = values.split_at(2 * n);
            let (sum_p_log_w, z_value) = (tail[0] as f64, tail[1] as f64);
            if !(z_value.is_finite() && z_value > 0.0) || coords.iter().any(|v| !v.is_finite()) {
                return Err(TsneError::Diverged { iteration: t }.into());
            }
            self.shown.clear();
            self.shown.extend_from_slice(coords);
            kl = Some(kl_from_parts(self.sum_p_log_p, sum_p_log_w, self.sum_p, z_value));
        }
        if last {
            self.finished = true;
            return Ok(StepReport { iteration: t, kl, finished: true });
        }
        let exaggeration = if t < s.exaggeration_iter { s.exaggeration } else { 1.0 };
        let momentum = if t < s.momentum_switch_iter {
            s.momentum_early
        } else {
            s.momentum_final
        };
        let inv_z = z.recip().reshape([1, 1]).expand([n, 2]);
        let grad = attr.mul_scalar((4.0 * exaggeration) as f32) - rep.mul_scalar(4.0f32) * inv_z;
        // Delta-bar-delta gains: grow where the gradient and the last update disagree.
        let disagree = grad.clone().sign().not_equal(self.update.clone().sign());
        let grown = self.gains.clone().add_scalar(0.2f32);
        let shrunk = self.gains.clone().mul_scalar(0.8f32).clamp_min(s.min_gain as f32);
        self.gains = shrunk.mask_where(disagree, grown);
        let mut update = self.update.clone().mul_scalar(momentum as f32)
            - (self.gains.clone() * grad).mul_scalar(s.learning_rate as f32);
        if let Some(max) = s.max_step_norm {
            // Scale each point's step to at most `max` (a zero step gives +inf → 1).
            let norm = update.clone().square().sum_dim(1).sqrt();
            let factor = norm.recip().mul_scalar(max as f32).clamp_max(1.0f32);
            update = update * factor.expand([n, 2]);
        }
        let y = self.y.clone() + update.clone();
        self.y = y.clone() - y.mean_dim(0).expand([n, 2]);
        self.update = update;
        self.t += 1;
        Ok(StepReport { iteration: t, kl, finished: false })
    }

    /// The device this runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}
