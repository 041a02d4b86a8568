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
use super::fft::FftRepulsion;
use super::gradient::{
    ExactScratch, FusedScratch, PackedP, attraction, combine, exact_fused, exact_repulsion, kl_from_parts, p_log_p,
    p_log_w_packed,
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
    /// FFT-interpolated repulsion, attraction from the sparse P.
    Fft(Box<FftRepulsion>),
}

impl Forces {
    /// Fill `attr` (A) and `rep` (R); return (Σ p ln w if `want_log` else 0, Z).
    fn eval(&mut self, p: &SparseP, y: &[f64], attr: &mut [f64], rep: &mut [f64], want_log: bool) -> (f64, f64) {
        let n = p.n;
        match self {
            Forces::ExactDense(packed, scratch) => {
                let z = exact_fused(y, packed, scratch, attr, rep);
                let spw = if want_log { p_log_w_packed(y, packed) } else { 0.0 };
                (spw, z)
            }
            Forces::Exact(scratch) => (attraction(p, y, attr, want_log), exact_repulsion(y, n, scratch, rep)),
            Forces::BarnesHut(tree, theta) => (attraction(p, y, attr, want_log), tree.repulsion(y, n, *theta, rep)),
            Forces::Fft(fft) => (attraction(p, y, attr, want_log), fft.repulsion(y, n, rep)),
        }
    }
}

#[inline]
fn sign(v: f64) -> i8 {
    (v > 0.0) as i8 - (v < 0.0) as i8
}

/// What one iteration ([`Optimizer::step_with_forces`]) did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// The iteration just evaluated (0-based; `n_iter` is the final evaluation).
    pub iteration: usize,
    /// KL(P‖Q) of the embedding as it was evaluated, on report iterations only (every
    /// `progress_every` and the last one): computing it costs an extra pass over P.
    pub kl: Option<f64>,
    /// True after the final evaluation: the embedding will not change any more.
    pub finished: bool,
}

impl StepReport {
    /// Whether the iteration after `t` (of `n_iter`) reports its KL.
    pub fn is_report_iteration(t: usize, n_iter: usize, every: usize) -> bool {
        t == n_iter || (every > 0 && t > 0 && t.is_multiple_of(every))
    }
}

/// The gradient-descent state, advanced one iteration at a time from forces computed by
/// its owner — [`CpuOptimizer`] on the CPU, the device optimiser on a GPU — so both run
/// one update rule, and a caller can interleave other work between iterations.
#[derive(Debug)]
pub struct Optimizer {
    p: SparseP,
    y: Vec<f64>,
    config: TsneConfig,
    t: usize,
    finished: bool,
    grad: Vec<f64>,
    update: Vec<f64>,
    gains: Vec<f64>,
    sum_p_log_p: f64,
    sum_p: f64,
}

impl Optimizer {
    /// Starts from the initial embedding `y` (N×2).
    pub fn new(p: SparseP, y: Vec<f64>, config: TsneConfig) -> Self {
        let n = p.n;
        assert_eq!(y.len(), 2 * n, "embedding must be N×2");
        let sum_p_log_p = p_log_p(&p);
        let sum_p: f64 = p.val.iter().sum();
        Optimizer {
            p,
            y,
            config,
            t: 0,
            finished: false,
            grad: vec![0.0; 2 * n],
            update: vec![0.0; 2 * n],
            gains: vec![1.0; 2 * n],
            sum_p_log_p,
            sum_p,
        }
    }

    /// Current coordinates, N×2 row-major.
    pub fn embedding(&self) -> &[f64] {
        &self.y
    }

    /// The settings it runs with.
    pub fn config(&self) -> &TsneConfig {
        &self.config
    }

    /// The affinities being fitted.
    pub fn affinities(&self) -> &SparseP {
        &self.p
    }

    /// Updates applied so far.
    pub fn iteration(&self) -> usize {
        self.t
    }

    /// True once the last iteration has been evaluated.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// What a step after the end reports.
    pub fn finished_report(&self) -> StepReport {
        StepReport { iteration: self.t, kl: None, finished: true }
    }

    /// Whether the next step reports its KL (and so needs Σ P ln W from the forces), or
    /// `None` once finished.
    pub fn next_needs_log(&self) -> Option<bool> {
        (!self.finished)
            .then(|| StepReport::is_report_iteration(self.t, self.config.n_iter, self.config.progress_every))
    }

    /// One iteration from the forces at [`Self::embedding`]: the attraction A and
    /// repulsion R (N×2 each, see `gradient.rs`), Σ P ln W (when
    /// [`Self::next_needs_log`] said so) and Z. Reports, then — unless this was the final
    /// evaluation (t = n_iter) — applies one update.
    pub fn step_with_forces(
        &mut self,
        attr: &[f64],
        rep: &[f64],
        sum_p_log_w: f64,
        z: f64,
    ) -> Result<StepReport, TsneError> {
        if self.finished {
            return Ok(self.finished_report());
        }
        let s = &self.config;
        let t = self.t;
        let n = self.p.n;
        let last = t == s.n_iter;
        let report = StepReport::is_report_iteration(t, s.n_iter, s.progress_every);
        if !(z.is_finite() && z > 0.0) {
            return Err(TsneError::Diverged { iteration: t });
        }
        let kl = report.then(|| kl_from_parts(self.sum_p_log_p, sum_p_log_w, self.sum_p, z));
        if last {
            self.finished = true;
            return Ok(StepReport { iteration: t, kl, finished: true });
        }
        let exaggeration = if t < s.exaggeration_iter { s.exaggeration } else { 1.0 };
        let momentum = if t < s.momentum_switch_iter { s.momentum_early } else { s.momentum_final };
        combine(attr, rep, z, exaggeration, &mut self.grad);
        for k in 0..2 * n {
            let g = self.grad[k];
            self.gains[k] = if sign(g) != sign(self.update[k]) {
                self.gains[k] + 0.2
            } else {
                (self.gains[k] * 0.8).max(s.min_gain)
            };
            self.update[k] = momentum * self.update[k] - s.learning_rate * self.gains[k] * g;
        }
        if let Some(max) = s.max_step_norm {
            for u in self.update.chunks_exact_mut(2) {
                let norm = (u[0] * u[0] + u[1] * u[1]).sqrt();
                if norm > max {
                    let f = max / norm;
                    u[0] *= f;
                    u[1] *= f;
                }
            }
        }
        let (mut m0, mut m1) = (0.0f64, 0.0f64);
        for (yy, u) in self.y.chunks_exact_mut(2).zip(self.update.chunks_exact(2)) {
            yy[0] += u[0];
            yy[1] += u[1];
            m0 += yy[0];
            m1 += yy[1];
        }
        if !(m0.is_finite() && m1.is_finite()) {
            return Err(TsneError::Diverged { iteration: t + 1 });
        }
        let (m0, m1) = (m0 / n as f64, m1 / n as f64);
        for yy in self.y.chunks_exact_mut(2) {
            yy[0] -= m0;
            yy[1] -= m1;
        }
        self.t += 1;
        Ok(StepReport { iteration: t, kl, finished: false })
    }
}

/// The optimiser with its forces computed on the CPU (exact or Barnes-Hut).
#[derive(Debug)]
pub struct CpuOptimizer {
    opt: Optimizer,
    forces: Forces,
    attr: Vec<f64>,
    rep: Vec<f64>,
}

impl CpuOptimizer {
    pub fn new(opt: Optimizer, forces: Forces) -> Self {
        let len = opt.embedding().len();
        CpuOptimizer { opt, forces, attr: vec![0.0; len], rep: vec![0.0; len] }
    }

    /// Evaluates the forces at the current embedding and, unless this was the final
    /// evaluation (t = n_iter), applies one update.
    pub fn step(&mut self) -> Result<StepReport, TsneError> {
        let Some(want_log) = self.opt.next_needs_log() else {
            return Ok(self.opt.finished_report());
        };
        let (sum_p_log_w, z) = self.forces.eval(&self.opt.p, &self.opt.y, &mut self.attr, &mut self.rep, want_log);
        self.opt.step_with_forces(&self.attr, &self.rep, sum_p_log_w, z)
    }

    /// Current coordinates, N×2 row-major.
    pub fn embedding(&self) -> &[f64] {
        self.opt.embedding()
    }

    /// Updates applied so far.
    pub fn iteration(&self) -> usize {
        self.opt.iteration()
    }

    /// True once the last iteration has been evaluated.
    pub fn is_finished(&self) -> bool {
        self.opt.is_finished()
    }
}

/// Runs a [`CpuOptimizer`] to the end, calling `progress` on every report iteration with
/// the KL of the embedding it is shown (exact for exact repulsion, with the Barnes-Hut Z
/// otherwise). Returns the final KL; `ControlFlow::Break` cancels.
pub fn run_to_end(
    opt: &mut CpuOptimizer,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<f64, TsneError> {
    let n_iter = opt.opt.config.n_iter;
    let mut shown: Vec<f32> = Vec::new();
    loop {
        let step = opt.step()?;
        if let Some(kl) = step.kl {
            shown.clear();
            shown.extend(opt.embedding().iter().map(|&v| v as f32));
            let flow = progress(Progress { iteration: step.iteration, n_iter, kl, embedding: &shown });
            if step.finished {
                return Ok(kl);
            }
            if flow.is_break() {
                return Err(TsneError::Cancelled { iteration: step.iteration });
            }
        }
    }
}
