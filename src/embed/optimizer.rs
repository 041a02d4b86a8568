//! Gradient descent with momentum, per-parameter gains and early exaggeration
//! (van der Maaten & Hinton 2008 §3.4; the gains rule is Jacobs' 1988 delta-bar-delta as
//! used by every t-SNE implementation since; phases and step clipping as in openTSNE,
//! Poličar et al. 2019).
//!
//! Per iteration t (t = 0 … n_iter−1), per coordinate k:
//!   gain_k ← gain_k + 0.2            if sign(g_k) ≠ sign(u_k)
//!   gain_k ← max(0.8 · gain_k, min)  otherwise
//!   u_k    ← μ_t u_k − η gain_k g_k
//!   y      ← y + u, then y ← y − mean(y)
//! with g the gradient computed with P multiplied by α_t (α_t = exaggeration while
//! t < exaggeration_iter, else 1) and μ_t = momentum_early while t < momentum_switch_iter,
//! else momentum_final. Keeping the mean at zero (openTSNE) stops the cloud from drifting,
//! which the tree's bounding box and f32 output would otherwise pay for.
//!
//! All state is f64 and updated in a fixed order, so runs are bit-reproducible.

use std::ops::ControlFlow;

use super::affinity::SparseP;
use super::barnes_hut::BarnesHut;
use super::gradient::{
    ExactScratch, FusedScratch, PackedP, attraction, combine, exact_fused, exact_repulsion,
    kl_from_parts, p_log_p, p_log_w_packed,
};
use super::{Progress, TsneConfig, TsneError};

/// How the forces are computed.
#[derive(Debug)]
pub enum Forces {
    /// Exact repulsion and attraction fused over all pairs, P dense (N ≤ [`PackedP::MAX_N`]).
    ExactDense(PackedP, FusedScratch),
    /// Exact O(N²) repulsion, attraction from the sparse P.
    Exact(ExactScratch),
    /// Barnes-Hut repulsion with opening angle θ, attraction from the sparse P.
    BarnesHut(BarnesHut, f64),
}

impl Forces {
    /// Fill `attr` (A) and `rep` (R); return (Σ p ln w if `want_log` else 0, Z).
    fn eval(
        &mut self,
        p: &SparseP,
        y: &[f64],
        attr: &mut [f64],
        rep: &mut [f64],
        want_log: bool,
    ) -> (f64, f64) {
        let n = p.n;
        match self {
            Forces::ExactDense(packed, scratch) => {
                let z = exact_fused(y, packed, scratch, attr, rep);
                let spw = if want_log {
                    p_log_w_packed(y, packed)
                } else {
                    0.0
                };
                (spw, z)
            }
            Forces::Exact(scratch) => (
                attraction(p, y, attr, want_log),
                exact_repulsion(y, n, scratch, rep),
            ),
            Forces::BarnesHut(tree, theta) => (
                attraction(p, y, attr, want_log),
                tree.repulsion(y, n, *theta, rep),
            ),
        }
    }
}

#[inline]
fn sign(v: f64) -> i8 {
    (v > 0.0) as i8 - (v < 0.0) as i8
}

/// Optimise `y` (N×2, modified in place). Calls `progress` after every
/// `progress_every` updates and once after the last one, with the KL of the embedding
/// it is shown (exact for exact repulsion, with the Barnes-Hut Z otherwise).
/// Returns the final KL.
pub fn optimize(
    p: &SparseP,
    y: &mut [f64],
    s: &TsneConfig,
    forces: &mut Forces,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<f64, TsneError> {
    let n = p.n;
    let mut attr = vec![0.0f64; 2 * n];
    let mut rep = vec![0.0f64; 2 * n];
    let mut grad = vec![0.0f64; 2 * n];
    let mut update = vec![0.0f64; 2 * n];
    let mut gains = vec![1.0f64; 2 * n];
    let mut shown: Vec<f32> = Vec::new();
    let sum_p_log_p = p_log_p(p);
    let sum_p: f64 = p.val.iter().sum();
    for t in 0..=s.n_iter {
        let last = t == s.n_iter;
        let report = last || (s.progress_every > 0 && t > 0 && t % s.progress_every == 0);
        let (sum_p_log_w, z) = forces.eval(p, y, &mut attr, &mut rep, report);
        if !(z.is_finite() && z > 0.0) {
            return Err(TsneError::Diverged { iteration: t });
        }
        if report {
            let kl = kl_from_parts(sum_p_log_p, sum_p_log_w, sum_p, z);
            shown.clear();
            shown.extend(y.iter().map(|&v| v as f32));
            let flow = progress(Progress {
                iteration: t,
                n_iter: s.n_iter,
                kl,
                embedding: &shown,
            });
            if last {
                return Ok(kl);
            }
            if flow.is_break() {
                return Err(TsneError::Cancelled { iteration: t });
            }
        }
        let exaggeration = if t < s.exaggeration_iter {
            s.exaggeration
        } else {
            1.0
        };
        let momentum = if t < s.momentum_switch_iter {
            s.momentum_early
        } else {
            s.momentum_final
        };
        combine(&attr, &rep, z, exaggeration, &mut grad);
        for k in 0..2 * n {
            let g = grad[k];
            gains[k] = if sign(g) != sign(update[k]) {
                gains[k] + 0.2
            } else {
                (gains[k] * 0.8).max(s.min_gain)
            };
            update[k] = momentum * update[k] - s.learning_rate * gains[k] * g;
        }
        if let Some(max) = s.max_step_norm {
            for u in update.chunks_exact_mut(2) {
                let norm = (u[0] * u[0] + u[1] * u[1]).sqrt();
                if norm > max {
                    let f = max / norm;
                    u[0] *= f;
                    u[1] *= f;
                }
            }
        }
        let (mut m0, mut m1) = (0.0f64, 0.0f64);
        for (yy, u) in y.chunks_exact_mut(2).zip(update.chunks_exact(2)) {
            yy[0] += u[0];
            yy[1] += u[1];
            m0 += yy[0];
            m1 += yy[1];
        }
        if !(m0.is_finite() && m1.is_finite()) {
            return Err(TsneError::Diverged { iteration: t + 1 });
        }
        let (m0, m1) = (m0 / n as f64, m1 / n as f64);
        for yy in y.chunks_exact_mut(2) {
            yy[0] -= m0;
            yy[1] -= m1;
        }
    }
    unreachable!("the loop returns at t == n_iter")
}
