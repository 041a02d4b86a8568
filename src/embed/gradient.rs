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
    p.val
        .iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| v * v.ln())
        .sum()
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
        for (cx, cy) in xs[..full]
            .chunks_exact(LANES)
            .zip(ys[..full].chunks_exact(LANES))
        {
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

/// P over all pairs as a packed strict upper triangle of f32 (row i holds P_ij for
/// j = i+1 … N−1), for the fused exact kernel. N(N−1)/2 values: 6.5 MB at N = 1,797.
#[derive(Debug, Clone)]
pub struct PackedP {
    n: usize,
    val: Vec<f32>,
}

impl PackedP {
    /// Largest N for which the exact method stores P densely (32 MB of f32 at 4,096);
    /// above it the exact method keeps P sparse and uses [`exact_repulsion`].
    pub const MAX_N: usize = 4096;

    /// Densify a symmetric sparse P.
    pub fn from_sparse(p: &SparseP) -> Self {
        let n = p.n;
        let mut val = vec![0.0f32; n * n.saturating_sub(1) / 2];
        for i in 0..n {
            let off = Self::offset(n, i);
            for t in p.row_ptr[i]..p.row_ptr[i + 1] {
                let j = p.col[t] as usize;
                if j > i {
                    val[off + j - i - 1] = p.val[t] as f32;
                }
            }
        }
        PackedP { n, val }
    }

    #[inline]
    fn offset(n: usize, i: usize) -> usize {
        // Σ_{r<i} (n − 1 − r)
        i * (n - 1) - i * i.saturating_sub(1) / 2
    }

    /// Row i: P_ij for j > i.
    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        let off = Self::offset(self.n, i);
        &self.val[off..off + (self.n - 1 - i)]
    }
}

/// Reusable buffers for [`exact_fused`].
#[derive(Debug, Default)]
pub struct FusedScratch {
    xs: Vec<f32>,
    ys: Vec<f32>,
    /// j-side f32 accumulators (attraction x, y; repulsion x, y), flushed to f64 often.
    acc: [Vec<f32>; 4],
    /// f64 totals of the j-side contributions.
    tot: [Vec<f64>; 4],
}

/// Lanes of the fused kernel: four f32 (one SSE / wasm SIMD128 register), since five
/// accumulators of eight lanes plus temporaries overflow the 16 SSE registers.
const FUSED_LANES: usize = 4;

/// Rows of i after which the f32 j-side accumulators are added to the f64 totals, so
/// no f32 sum grows beyond this many terms.
const FLUSH_ROWS: usize = 32;

/// The vectorised body of one row of [`exact_fused`]: `p`, `xs`, `ys` and the four
/// j-side accumulators have the same length, a multiple of [`FUSED_LANES`]. Returns the
/// i-side lane sums [Z, A_x, A_y, R_x, R_y].
///
/// On x86-64 this is SSE2 (part of the x86-64 baseline, so no feature detection);
/// elsewhere (wasm32, aarch64) a portable version with the same lane layout and the same
/// operation order, so every target produces the same bits. (LLVM's auto-vectoriser
/// makes a poor job of the portable loop: it is 2.5× slower on x86-64.)
#[inline]
fn fused_row_lanes(
    xi: f32,
    yi: f32,
    p: &[f32],
    xs: &[f32],
    ys: &[f32],
    acc: [&mut [f32]; 4],
) -> [[f32; FUSED_LANES]; 5] {
    let len = p.len();
    assert!(
        xs.len() == len
            && ys.len() == len
            && acc.iter().all(|a| a.len() == len)
            && len.is_multiple_of(FUSED_LANES)
    );
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is always available on x86-64; every pointer offset j..j+4 is
        // below `len`, which the assertion above checks for all seven slices.
        unsafe { fused_row_sse2(xi, yi, p, xs, ys, acc) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        fused_row_portable(xi, yi, p, xs, ys, acc)
    }
}

/// Portable [`fused_row_lanes`] (same lanes, same operation order as the SSE2 one).
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
#[allow(clippy::needless_range_loop)] // lane indices mirror the SIMD version
fn fused_row_portable(
    xi: f32,
    yi: f32,
    p: &[f32],
    xs: &[f32],
    ys: &[f32],
    acc: [&mut [f32]; 4],
) -> [[f32; FUSED_LANES]; 5] {
    let len = p.len();
    let [ajx, ajy, rjx, rjy] = acc;
    let mut out = [[0.0f32; FUSED_LANES]; 5];
    for j in (0..len).step_by(FUSED_LANES) {
        for l in 0..FUSED_LANES {
            let t = j + l;
            let dx = xi - xs[t];
            let dy = yi - ys[t];
            let w = 1.0 / (1.0 + (dx * dx + dy * dy));
            out[0][l] += w;
            let pw = p[t] * w;
            let w2 = w * w;
            let (pdx, pdy, wdx, wdy) = (pw * dx, pw * dy, w2 * dx, w2 * dy);
            out[1][l] += pdx;
            out[2][l] += pdy;
            out[3][l] += wdx;
            out[4][l] += wdy;
            ajx[t] -= pdx;
            ajy[t] -= pdy;
            rjx[t] -= wdx;
            rjy[t] -= wdy;
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
unsafe fn fused_row_sse2(
    xi: f32,
    yi: f32,
    p: &[f32],
    xs: &[f32],
    ys: &[f32],
    acc: [&mut [f32]; 4],
) -> [[f32; FUSED_LANES]; 5] {
    use std::arch::x86_64::*;
    let len = p.len();
    let [ajx, ajy, rjx, rjy] = acc;
    // SAFETY (whole body): see `fused_row_lanes`; loads and stores are unaligned.
    unsafe {
        let one = _mm_set1_ps(1.0);
        let xi4 = _mm_set1_ps(xi);
        let yi4 = _mm_set1_ps(yi);
        let (mut z, mut ax, mut ay, mut rx, mut ry) = (
            _mm_setzero_ps(),
            _mm_setzero_ps(),
            _mm_setzero_ps(),
            _mm_setzero_ps(),
            _mm_setzero_ps(),
        );
        let mut j = 0;
        while j < len {
            let dx = _mm_sub_ps(xi4, _mm_loadu_ps(xs.as_ptr().add(j)));
            let dy = _mm_sub_ps(yi4, _mm_loadu_ps(ys.as_ptr().add(j)));
            let d2 = _mm_add_ps(_mm_mul_ps(dx, dx), _mm_mul_ps(dy, dy));
            let w = _mm_div_ps(one, _mm_add_ps(one, d2));
            z = _mm_add_ps(z, w);
            let pw = _mm_mul_ps(_mm_loadu_ps(p.as_ptr().add(j)), w);
            let w2 = _mm_mul_ps(w, w);
            let pdx = _mm_mul_ps(pw, dx);
            let pdy = _mm_mul_ps(pw, dy);
            let wdx = _mm_mul_ps(w2, dx);
            let wdy = _mm_mul_ps(w2, dy);
            ax = _mm_add_ps(ax, pdx);
            ay = _mm_add_ps(ay, pdy);
            rx = _mm_add_ps(rx, wdx);
            ry = _mm_add_ps(ry, wdy);
            let q = ajx.as_mut_ptr().add(j);
            _mm_storeu_ps(q, _mm_sub_ps(_mm_loadu_ps(q), pdx));
            let q = ajy.as_mut_ptr().add(j);
            _mm_storeu_ps(q, _mm_sub_ps(_mm_loadu_ps(q), pdy));
            let q = rjx.as_mut_ptr().add(j);
            _mm_storeu_ps(q, _mm_sub_ps(_mm_loadu_ps(q), wdx));
            let q = rjy.as_mut_ptr().add(j);
            _mm_storeu_ps(q, _mm_sub_ps(_mm_loadu_ps(q), wdy));
            j += FUSED_LANES;
        }
        let mut out = [[0.0f32; FUSED_LANES]; 5];
        for (o, v) in out.iter_mut().zip([z, ax, ay, rx, ry]) {
            _mm_storeu_ps(o.as_mut_ptr(), v);
        }
        out
    }
}

/// Exact attraction and repulsion in one pass over the N(N−1)/2 unordered pairs:
/// A_i = Σ_j p_ij w_ij (y_i − y_j) into `attr`, R_i = Σ_j w_ij² (y_i − y_j) into `rep`,
/// returns Z = Σ_{i≠j} w_ij.
///
/// Why fused and symmetric: with P over all pairs the attraction is as expensive as the
/// repulsion, and each w_ij (a division) serves both terms and both points. Point i
/// accumulates in registers (LANES f32 lanes); the partner points j > i accumulate in
/// contiguous f32 arrays that are added to f64 totals every [`FLUSH_ROWS`] rows, which
/// bounds the f32 rounding. The order is fixed: bit-reproducible.
pub fn exact_fused(
    y: &[f64],
    p: &PackedP,
    scratch: &mut FusedScratch,
    attr: &mut [f64],
    rep: &mut [f64],
) -> f64 {
    let n = p.n;
    let s = scratch;
    s.xs.clear();
    s.ys.clear();
    s.xs.extend(y.chunks_exact(2).map(|q| q[0] as f32));
    s.ys.extend(y.chunks_exact(2).map(|q| q[1] as f32));
    for a in s.acc.iter_mut() {
        a.clear();
        a.resize(n, 0.0);
    }
    for t in s.tot.iter_mut() {
        t.clear();
        t.resize(n, 0.0);
    }
    let mut z_total = 0.0f64;
    for i in 0..n {
        let (xi, yi) = (s.xs[i], s.ys[i]);
        let prow = p.row(i);
        let xs = &s.xs[i + 1..];
        let ys = &s.ys[i + 1..];
        let [ajx, ajy, rjx, rjy] = &mut s.acc;
        let (ajx, ajy, rjx, rjy) = (
            &mut ajx[i + 1..],
            &mut ajy[i + 1..],
            &mut rjx[i + 1..],
            &mut rjy[i + 1..],
        );
        let len = n - 1 - i;
        let full = len / FUSED_LANES * FUSED_LANES;
        let [lz, lax, lay, lrx, lry] = fused_row_lanes(
            xi,
            yi,
            &prow[..full],
            &xs[..full],
            &ys[..full],
            [
                &mut ajx[..full],
                &mut ajy[..full],
                &mut rjx[..full],
                &mut rjy[..full],
            ],
        );
        let (mut z, mut ax, mut ay, mut rx, mut ry) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for l in 0..FUSED_LANES {
            z += lz[l] as f64;
            ax += lax[l] as f64;
            ay += lay[l] as f64;
            rx += lrx[l] as f64;
            ry += lry[l] as f64;
        }
        for t in full..len {
            let dx = xi - xs[t];
            let dy = yi - ys[t];
            let w = 1.0 / (1.0 + dx * dx + dy * dy);
            z += w as f64;
            let pw = prow[t] * w;
            let w2 = w * w;
            let (pdx, pdy, wdx, wdy) = (pw * dx, pw * dy, w2 * dx, w2 * dy);
            ax += pdx as f64;
            ay += pdy as f64;
            rx += wdx as f64;
            ry += wdy as f64;
            ajx[t] -= pdx;
            ajy[t] -= pdy;
            rjx[t] -= wdx;
            rjy[t] -= wdy;
        }
        z_total += z;
        s.tot[0][i] += ax;
        s.tot[1][i] += ay;
        s.tot[2][i] += rx;
        s.tot[3][i] += ry;
        if (i + 1) % FLUSH_ROWS == 0 || i + 1 == n {
            for (a, t) in s.acc.iter_mut().zip(s.tot.iter_mut()) {
                // Only entries j > i − FLUSH_ROWS can be non-zero.
                let from = (i + 1).saturating_sub(FLUSH_ROWS) + 1;
                for (av, tv) in a[from.min(n)..].iter_mut().zip(t[from.min(n)..].iter_mut()) {
                    *tv += *av as f64;
                    *av = 0.0;
                }
            }
        }
    }
    for i in 0..n {
        attr[2 * i] = s.tot[0][i];
        attr[2 * i + 1] = s.tot[1][i];
        rep[2 * i] = s.tot[2][i];
        rep[2 * i + 1] = s.tot[3][i];
    }
    2.0 * z_total
}

/// Σ_{i≠j} p_ij ln w_ij with the packed P (for the KL at report iterations).
pub fn p_log_w_packed(y: &[f64], p: &PackedP) -> f64 {
    let n = p.n;
    let mut s = 0.0f64;
    for i in 0..n {
        let prow = p.row(i);
        let mut si = 0.0f64;
        for (t, &pij) in prow.iter().enumerate() {
            if pij > 0.0 {
                let j = i + 1 + t;
                let d0 = y[2 * i] - y[2 * j];
                let d1 = y[2 * i + 1] - y[2 * j + 1];
                si -= pij as f64 * (1.0 + d0 * d0 + d1 * d1).ln();
            }
        }
        s += si;
    }
    2.0 * s
}

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
        SparseP {
            n,
            row_ptr,
            col,
            val,
        }
    }

    pub(crate) fn random_y(n: usize, scale: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..2 * n)
            .map(|_| rng.random_range(-scale..scale))
            .collect()
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
        let z = exact_fused(
            y,
            &packed,
            &mut FusedScratch::default(),
            &mut attr,
            &mut rep,
        );
        let mut grad = vec![0.0; 2 * n];
        combine(&attr, &rep, z, exaggeration, &mut grad);
        let kl = kl_from_parts(
            p_log_p(p),
            p_log_w_packed(y, &packed),
            p.val.iter().sum(),
            z,
        );
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
                let err: f64 = g
                    .iter()
                    .zip(&fd)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let norm: f64 = fd.iter().map(|v| v * v).sum::<f64>().sqrt();
                assert!(
                    err / norm < 1e-4,
                    "n={n} scale={scale}: rel err {}",
                    err / norm
                );
                let err: f64 = g_fused
                    .iter()
                    .zip(&fd)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!(
                    err / norm < 1e-4,
                    "fused n={n} scale={scale}: rel err {}",
                    err / norm
                );
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
            let err: f64 = g
                .iter()
                .zip(&gf)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            let norm: f64 = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(err <= 1e-5 * norm, "n={n}: {err} vs {norm}");
        }
    }

    /// The SSE2 row kernel and the portable one (used on wasm32) give the same bits.
    #[test]
    fn row_kernels_agree_bitwise() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let len = 64;
        let mut v = |s: f32| {
            (0..len)
                .map(|_| rng.random_range(-s..s))
                .collect::<Vec<f32>>()
        };
        let (p, xs, ys) = (v(1e-3), v(30.0), v(30.0));
        let base = [v(1.0), v(1.0), v(1.0), v(1.0)];
        let mut a = base.clone();
        let mut b = base.clone();
        let [a0, a1, a2, a3] = &mut a;
        let ra = fused_row_lanes(1.5, -2.0, &p, &xs, &ys, [a0, a1, a2, a3]);
        let [b0, b1, b2, b3] = &mut b;
        let rb = fused_row_portable(1.5, -2.0, &p, &xs, &ys, [b0, b1, b2, b3]);
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        for k in 0..5 {
            assert_eq!(bits(&ra[k]), bits(&rb[k]));
        }
        for k in 0..4 {
            assert_eq!(bits(&a[k]), bits(&b[k]));
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
                    z += 1.0
                        / (1.0
                            + (y[2 * i] - y[2 * j]).powi(2)
                            + (y[2 * i + 1] - y[2 * j + 1]).powi(2));
                }
            }
        }
        let mut direct = 0.0;
        for i in 0..n {
            for t in p.row_ptr[i]..p.row_ptr[i + 1] {
                let j = p.col[t] as usize;
                let w = 1.0
                    / (1.0 + (y[2 * i] - y[2 * j]).powi(2) + (y[2 * i + 1] - y[2 * j + 1]).powi(2));
                direct += p.val[t] * (p.val[t] / (w / z)).ln();
            }
        }
        assert!((kl_exact(&p, &y) - direct).abs() < 1e-12);
    }
}
