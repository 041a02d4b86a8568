//! The exact method's fast path: attraction and repulsion of every pair in one pass over a
//! packed dense P, vectorised (SSE2 on x86-64, the same lanes portably elsewhere), f32 inside
//! with f64 totals. Used while P over all pairs fits ([`PackedP::MAX_N`]); the gradient's
//! definitions and the sparse kernels are in `gradient.rs`.

use super::affinity::SparseP;

/// P over all pairs as a packed strict upper triangle of f32 (row i holds P_ij for
/// j = i+1 … N−1), for the fused exact kernel. N(N−1)/2 values: 6.5 MB at N = 1,797.
#[derive(Debug, Clone)]
pub struct PackedP {
    n: usize,
    val: Vec<f32>,
}

impl PackedP {
    /// Largest N for which the exact method stores P densely (32 MB of f32 at 4,096);
    /// above it the exact method keeps P sparse and uses [`exact_repulsion`](super::gradient::exact_repulsion).
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
        xs.len() == len && ys.len() == len && acc.iter().all(|a| a.len() == len) && len.is_multiple_of(FUSED_LANES)
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
        let (mut z, mut ax, mut ay, mut rx, mut ry) =
            (_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps());
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
pub fn exact_fused(y: &[f64], p: &PackedP, scratch: &mut FusedScratch, attr: &mut [f64], rep: &mut [f64]) -> f64 {
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
        let (ajx, ajy, rjx, rjy) = (&mut ajx[i + 1..], &mut ajy[i + 1..], &mut rjx[i + 1..], &mut rjy[i + 1..]);
        let len = n - 1 - i;
        let full = len / FUSED_LANES * FUSED_LANES;
        let [lz, lax, lay, lrx, lry] = fused_row_lanes(
            xi,
            yi,
            &prow[..full],
            &xs[..full],
            &ys[..full],
            [&mut ajx[..full], &mut ajy[..full], &mut rjx[..full], &mut rjy[..full]],
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The SSE2 row kernel and the portable one (used on wasm32) give the same bits.
    #[test]
    fn row_kernels_agree_bitwise() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let len = 64;
        let mut v = |s: f32| (0..len).map(|_| rng.random_range(-s..s)).collect::<Vec<f32>>();
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
}
