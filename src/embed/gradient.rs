//! The t-SNE objective and its gradient (van der Maaten & Hinton 2008, eq. 5).
//!
//! With w_ij = (1 + ‖y_i − y_j‖²)⁻¹ (Student-t, one degree of freedom),
//! Z = Σ_{k≠l} w_kl and q_ij = w_ij / Z:
//!
//!   C = KL(P‖Q) = Σ p_ij ln(p_ij / q_ij)
//!   ∂C/∂y_i = 4 Σ_j (p_ij − q_ij) w_ij (y_i − y_j)
//!           = 4 (A_i − R_i / Z),  A_i = Σ_j p_ij w_ij (y_i − y_j),  R_i = Σ_j w_ij² (y_i − y_j).
//!
//! The attractive part A only runs over the stored entries of the sparse P. The
//! repulsive part R and Z involve all pairs: exactly here (O(N²), [`exact_repulsion`]) or
//! approximately with Barnes-Hut (`barnes_hut.rs`). Early exaggeration multiplies A by α.
//!
//! KL is evaluated as Σ p ln p − Σ p ln w + (Σ p) ln Z, where Σ p ln p is a constant of
//! P, so the per-evaluation cost is one pass over the stored entries plus Z.

use super::affinity::SparseP;

/// Attractive forces A_i = Σ_j p_ij w_ij (y_i − y_j) (no factor 4, no exaggeration),
/// written to `out` (N×2). Returns Σ p_ij ln w_ij when `want_log` (for the KL),
/// otherwise 0.
pub fn attraction(p: &SparseP, y: &[f64], out: &mut [f64], want_log: bool) -> f64 {
    let mut sum_p_log_w = 0.0;
    for i in 0..p.n {
        let (yi0, yi1) = (y[2 * i], y[2 * i + 1]);
        let (mut a0, mut a1) = (0.0f64, 0.0f64);
        let r = p.row_ptr[i]..p.row_ptr[i + 1];
        for (&j, &pij) in p.col[r.clone()].iter().zip(&p.val[r]) {
            let j = j as usize;
            let d0 = yi0 - y[2 * j];
            let d1 = yi1 - y[2 * j + 1];
            let w = 1.0 / (1.0 + d0 * d0 + d1 * d1);
            let pw = pij * w;
            a0 += pw * d0;
            a1 += pw * d1;
            if want_log {
                sum_p_log_w += pij * w.ln();
            }
        }
        out[2 * i] = a0;
        out[2 * i + 1] = a1;
    }
    sum_p_log_w
}

/// Σ p ln p over the stored entries (constant of P).
pub fn p_log_p(p: &SparseP) -> f64 {
    p.val.iter().filter(|&&v| v > 0.0).map(|&v| v * v.ln()).sum()
}

/// KL(P‖Q) from its pieces: Σ p ln p, Σ p ln w and Z (Σ p = 1 up to rounding and
/// pruning, which is why it is passed explicitly).
pub fn kl_from_parts(sum_p_log_p: f64, sum_p_log_w: f64, sum_p: f64, z: f64) -> f64 {
    sum_p_log_p - sum_p_log_w + sum_p * z.ln()
}

/// Reusable buffers for [`exact_repulsion`]: the embedding as two f32 columns.
#[derive(Debug, Default)]
pub struct ExactScratch {
    xs: Vec<f32>,
    ys: Vec<f32>,
}

/// Lanes of the exact kernel's accumulators: two SSE / one AVX register of f32, also a
/// good width for wasm SIMD128 (2×4). Written as plain arrays so LLVM vectorises it on
/// every target without intrinsics.
const LANES: usize = 8;

/// Exact repulsion: R_i = Σ_j w_ij² (y_i − y_j) into `out` (N×2) and returns
/// Z = Σ_{i≠j} w_ij.
///
/// Why f32 inside: the kernel is O(N²) and dominated by the reciprocal; f32 doubles the
/// SIMD width. Each point's sums run over at most N terms of magnitude ≤ 1 in LANES
/// independent f32 accumulators and are then added in f64, so the relative error stays
/// ~1e-6, far below what the optimiser notices (the gradient test checks this kernel
/// against finite differences at 1e-4). The loop visits every ordered pair (not half of
/// them) so that all writes are to registers; the order is fixed, so results are
/// bit-reproducible.
pub fn exact_repulsion(y: &[f64], n: usize, scratch: &mut ExactScratch, out: &mut [f64]) -> f64 {
    scratch.xs.clear();
    scratch.ys.clear();
    scratch.xs.extend(y.chunks_exact(2).map(|p| p[0] as f32));
    scratch.ys.extend(y.chunks_exact(2).map(|p| p[1] as f32));
    let xs = &scratch.xs[..];
    let ys = &scratch.ys[..];
    let full = n / LANES * LANES;
    let mut z_total = 0.0f64;
    for i in 0..n {
        let (xi, yi) = (xs[i], ys[i]);
        let mut az = [0.0f32; LANES];
        let mut ax = [0.0f32; LANES];
        let mut ay = [0.0f32; LANES];
        for (cx, cy) in xs[..full].chunks_exact(LANES).zip(ys[..full].chunks_exact(LANES)) {
            for l in 0..LANES {
                let dx = xi - cx[l];
                let dy = yi - cy[l];
                let w = 1.0 / (1.0 + dx * dx + dy * dy);
                az[l] += w;
                let w2 = w * w;
                ax[l] += w2 * dx;
                ay[l] += w2 * dy;
            }
        }
        let mut zi = 0.0f64;
        let (mut fx, mut fy) = (0.0f64, 0.0f64);
        for l in 0..LANES {
            zi += az[l] as f64;
            fx += ax[l] as f64;
            fy += ay[l] as f64;
        }
        for j in full..n {
            let dx = xi - xs[j];
            let dy = yi - ys[j];
            let w = 1.0 / (1.0 + dx * dx + dy * dy);
            zi += w as f64;
            let w2 = w * w;
            fx += (w2 * dx) as f64;
            fy += (w2 * dy) as f64;
        }
        // The j = i term added w = 1 to Z and nothing to the forces.
        z_total += zi - 1.0;
        out[2 * i] = fx;
        out[2 * i + 1] = fy;
    }
    z_total
}

pub use super::fused::{FusedScratch, PackedP, exact_fused, p_log_w_packed};

/// Combine the parts into ∂C/∂y: grad = 4 (α A − R / Z).
pub fn combine(attr: &[f64], rep: &[f64], z: f64, exaggeration: f64, grad: &mut [f64]) {
    let inv_z = 1.0 / z;
    for ((g, &a), &r) in grad.iter_mut().zip(attr).zip(rep) {
        *g = 4.0 * (exaggeration * a - r * inv_z);
    }
}

/// Exact KL(P‖Q) of an embedding, all in f64 (reference and final report).
pub fn kl_exact(p: &SparseP, y: &[f64]) -> f64 {
    let n = p.n;
    let mut z = 0.0f64;
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let d0 = y[2 * i] - y[2 * j];
                let d1 = y[2 * i + 1] - y[2 * j + 1];
                z += 1.0 / (1.0 + d0 * d0 + d1 * d1);
            }
        }
    }
    let mut scratch = vec![0.0; 2 * n];
    let spw = attraction(p, y, &mut scratch, true);
    kl_from_parts(p_log_p(p), spw, p.val.iter().sum(), z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A random symmetric P with zero diagonal that sums to 1, some entries missing.
    pub(crate) fn random_p(n: usize, seed: u64) -> SparseP {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut dense = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..i {
                if rng.random_bool(0.7) {
                    let v: f64 = rng.random_range(0.01..1.0);
                    dense[i * n + j] = v;
                    dense[j * n + i] = v;
                }
            }
        }
        let total: f64 = dense.iter().sum();
        let mut row_ptr = vec![0];
        let (mut col, mut val) = (Vec::new(), Vec::new());
        for i in 0..n {
            for j in 0..n {
                if dense[i * n + j] > 0.0 {
                    col.push(j as u32);
                    val.push(dense[i * n + j] / total);
                }
            }
            row_ptr.push(col.len());
        }
        SparseP { n, row_ptr, col, val }
    }

    pub(crate) fn random_y(n: usize, scale: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..2 * n).map(|_| rng.random_range(-scale..scale)).collect()
    }

    pub(crate) fn exact_gradient(p: &SparseP, y: &[f64], exaggeration: f64) -> Vec<f64> {
        let n = p.n;
        let mut attr = vec![0.0; 2 * n];
        let mut rep = vec![0.0; 2 * n];
        attraction(p, y, &mut attr, false);
        let z = exact_repulsion(y, n, &mut ExactScratch::default(), &mut rep);
        let mut grad = vec![0.0; 2 * n];
        combine(&attr, &rep, z, exaggeration, &mut grad);
        grad
    }

    pub(crate) fn fused_gradient(p: &SparseP, y: &[f64], exaggeration: f64) -> (Vec<f64>, f64) {
        let n = p.n;
        let mut attr = vec![0.0; 2 * n];
        let mut rep = vec![0.0; 2 * n];
        let packed = PackedP::from_sparse(p);
        let z = exact_fused(y, &packed, &mut FusedScratch::default(), &mut attr, &mut rep);
        let mut grad = vec![0.0; 2 * n];
        combine(&attr, &rep, z, exaggeration, &mut grad);
        let kl = kl_from_parts(p_log_p(p), p_log_w_packed(y, &packed), p.val.iter().sum(), z);
        (grad, kl)
    }

    /// Test 1: both production gradients — the fused dense kernel and the sparse
    /// attraction plus f32 repulsion kernel — equal central finite differences of the
    /// f64 KL, relative L2 error < 1e-4; the fused kernel's KL equals the f64 one.
    #[test]
    fn exact_gradient_matches_finite_differences() {
        // n = 20 exercises the 8-lane body and the scalar tail (20 = 2·8 + 4).
        for (seed, &n) in [20usize, 13, 37].iter().enumerate() {
            for &scale in &[0.5, 3.0] {
                let p = random_p(n, seed as u64);
                let y = random_y(n, scale, 100 + seed as u64);
                let g = exact_gradient(&p, &y, 1.0);
                let (g_fused, kl_fused) = fused_gradient(&p, &y, 1.0);
                assert!((kl_fused - kl_exact(&p, &y)).abs() < 1e-6);
                let h = 1e-5;
                let mut fd = vec![0.0; 2 * n];
                let mut yp = y.clone();
                for k in 0..2 * n {
                    yp[k] = y[k] + h;
                    let cp = kl_exact(&p, &yp);
                    yp[k] = y[k] - h;
                    let cm = kl_exact(&p, &yp);
                    yp[k] = y[k];
                    fd[k] = (cp - cm) / (2.0 * h);
                }
                let err: f64 = g.iter().zip(&fd).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
                let norm: f64 = fd.iter().map(|v| v * v).sum::<f64>().sqrt();
                assert!(err / norm < 1e-4, "n={n} scale={scale}: rel err {}", err / norm);
                let err: f64 = g_fused.iter().zip(&fd).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
                assert!(err / norm < 1e-4, "fused n={n} scale={scale}: rel err {}", err / norm);
            }
        }
    }

    /// The fused kernel agrees with the separate ones on a larger problem (several flush
    /// windows, lane tails) and with exaggeration.
    #[test]
    fn fused_matches_separate_kernels() {
        for &n in &[5usize, 9, 100, 203] {
            let p = random_p(n, n as u64);
            let y = random_y(n, 10.0, 3);
            let g = exact_gradient(&p, &y, 12.0);
            let (gf, _) = fused_gradient(&p, &y, 12.0);
            let err: f64 = g.iter().zip(&gf).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            let norm: f64 = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(err <= 1e-5 * norm, "n={n}: {err} vs {norm}");
        }
    }

    /// The KL pieces agree with a direct Σ p ln(p/q).
    #[test]
    fn kl_matches_direct_formula() {
        let n = 15;
        let p = random_p(n, 9);
        let y = random_y(n, 2.0, 10);
        let mut z = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    z += 1.0 / (1.0 + (y[2 * i] - y[2 * j]).powi(2) + (y[2 * i + 1] - y[2 * j + 1]).powi(2));
                }
            }
        }
        let mut direct = 0.0;
        for i in 0..n {
            for t in p.row_ptr[i]..p.row_ptr[i + 1] {
                let j = p.col[t] as usize;
                let w = 1.0 / (1.0 + (y[2 * i] - y[2 * j]).powi(2) + (y[2 * i + 1] - y[2 * j + 1]).powi(2));
                direct += p.val[t] * (p.val[t] / (w / z)).ln();
            }
        }
        assert!((kl_exact(&p, &y) - direct).abs() < 1e-12);
    }
}
