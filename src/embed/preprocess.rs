//! Input checks, optional per-column standardisation and PCA before t-SNE.
//!
//! PCA first (to 50 dimensions by default, as openTSNE, sklearn's guidance and
//! van der Maaten & Hinton 2008 §4.1 recommend) removes noise dimensions and makes the
//! O(N²·D) or O(N·k·D) distance computations cheap. Activations of a CNN layer can have
//! hundreds of thousands of columns for a few thousand rows, so when N ≤ M the
//! decomposition goes through the N×N Gram matrix X̃X̃ᵀ (X̃ centred), which is
//! accumulated over blocks of columns so only an N×block slice is materialised in f64 at
//! a time; otherwise it goes through the M×M covariance X̃ᵀX̃. Both give the same scores:
//! with X̃ = U S Vᵀ, the scores X̃V = U S.

use super::TsneError;
use super::eigen::symmetric_eigen;

/// Columns converted to f64 per Gram-matrix block (N × this many f64 at a time).
const GRAM_BLOCK_COLS: usize = 512;

/// Check the shape and that every value is finite.
pub fn validate(data: &[f32], n: usize, m: usize) -> Result<(), TsneError> {
    if n == 0 {
        return Err(TsneError::Empty);
    }
    if m == 0 {
        return Err(TsneError::NoColumns);
    }
    if data.len() != n.saturating_mul(m) {
        return Err(TsneError::ShapeMismatch { len: data.len(), n, m });
    }
    if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
        return Err(TsneError::NonFinite { row: pos / m, col: pos % m, value: data[pos] });
    }
    Ok(())
}

/// Per-column means (f64).
pub fn column_means(data: &[f32], n: usize, m: usize) -> Vec<f64> {
    let mut mean = vec![0.0f64; m];
    for row in data.chunks_exact(m) {
        for (acc, &x) in mean.iter_mut().zip(row) {
            *acc += x as f64;
        }
    }
    let inv = 1.0 / n as f64;
    mean.iter_mut().for_each(|v| *v *= inv);
    mean
}

/// Z-score every column in place (population standard deviation). Constant columns are
/// only centred (dividing by a zero deviation would make them NaN).
pub fn standardize(data: &mut [f32], n: usize, m: usize) {
    let mean = column_means(data, n, m);
    let mut var = vec![0.0f64; m];
    for row in data.chunks_exact(m) {
        for ((acc, &x), &mu) in var.iter_mut().zip(row).zip(&mean) {
            let d = x as f64 - mu;
            *acc += d * d;
        }
    }
    let scale: Vec<f64> = var
        .iter()
        .map(|&v| {
            let sd = (v / n as f64).sqrt();
            if sd > 0.0 { 1.0 / sd } else { 1.0 }
        })
        .collect();
    for row in data.chunks_exact_mut(m) {
        for ((x, &mu), &s) in row.iter_mut().zip(&mean).zip(&scale) {
            *x = ((*x as f64 - mu) * s) as f32;
        }
    }
}

/// Which route [`pca`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcaRoute {
    /// N ≤ M: eigenvectors of the N×N Gram matrix.
    Gram,
    /// N > M: eigenvectors of the M×M covariance matrix.
    Covariance,
}

/// The route [`pca`] picks for an N×M matrix.
pub fn pca_route(n: usize, m: usize) -> PcaRoute {
    if n <= m { PcaRoute::Gram } else { PcaRoute::Covariance }
}

/// Principal-component scores: the centred data projected on its top `d` principal
/// axes, N×d row-major f64 (d is clamped to min(N, M)). Column k has variance
/// λ_k / N. Signs are fixed so that the entry of largest magnitude in every score
/// column is positive, which makes the result independent of the route and the solver.
pub fn pca(data: &[f32], n: usize, m: usize, d: usize) -> Vec<f64> {
    pca_with_route(data, n, m, d, pca_route(n, m))
}

/// [`pca`] with an explicit route (the tests compare the two).
pub fn pca_with_route(data: &[f32], n: usize, m: usize, d: usize, route: PcaRoute) -> Vec<f64> {
    let mean = column_means(data, n, m);
    match route {
        PcaRoute::Gram => scores_from_gram(&centred_gram(data, n, m, &mean), n, m, d),
        PcaRoute::Covariance => scores_from_scatter(data, n, m, &mean, &centred_scatter(data, n, m, &mean), d),
    }
}

/// Scores from the centred Gram matrix X̃X̃ᵀ (N×N, however it was accumulated):
/// with X̃X̃ᵀ u = λ u, score column k = u_k √λ_k.
pub fn scores_from_gram(gram: &[f64], n: usize, m: usize, d: usize) -> Vec<f64> {
    let d = d.min(n).min(m);
    let eig = symmetric_eigen(gram, n);
    let mut scores = vec![0.0f64; n * d];
    for k in 0..d {
        let s = eig.values[k].max(0.0).sqrt();
        let u = eig.vector(k);
        for i in 0..n {
            scores[i * d + k] = u[i] * s;
        }
    }
    fix_signs(&mut scores, n, d);
    scores
}

/// Scores from the centred scatter matrix X̃ᵀX̃ (M×M): the centred rows projected on
/// its top eigenvectors.
pub fn scores_from_scatter(data: &[f32], n: usize, m: usize, mean: &[f64], scatter: &[f64], d: usize) -> Vec<f64> {
    let d = d.min(n).min(m);
    let eig = symmetric_eigen(scatter, m);
    let mut scores = vec![0.0f64; n * d];
    let mut centred = vec![0.0f64; m];
    for (i, row) in data.chunks_exact(m).enumerate() {
        for ((c, &x), &mu) in centred.iter_mut().zip(row).zip(mean) {
            *c = x as f64 - mu;
        }
        for k in 0..d {
            scores[i * d + k] = dot(&centred, eig.vector(k));
        }
    }
    fix_signs(&mut scores, n, d);
    scores
}

/// Flip each score column so its largest-magnitude entry is positive.
fn fix_signs(scores: &mut [f64], n: usize, d: usize) {
    for k in 0..d {
        let mut best = 0.0f64;
        for i in 0..n {
            let v = scores[i * d + k];
            if v.abs() > best.abs() {
                best = v;
            }
        }
        if best < 0.0 {
            for i in 0..n {
                scores[i * d + k] = -scores[i * d + k];
            }
        }
    }
}

/// Dot product with four independent accumulators (vectorises; fixed order, so
/// deterministic).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// X̃X̃ᵀ (N×N), accumulated over blocks of `GRAM_BLOCK_COLS` columns: each block is
/// centred into an N×block f64 buffer and its row-by-row dot products added to the
/// lower triangle, then mirrored.
fn centred_gram(data: &[f32], n: usize, m: usize, mean: &[f64]) -> Vec<f64> {
    let mut gram = GramAccumulator::with_mean(n, m, mean.to_vec());
    while !gram.is_done() {
        gram.add_columns(data, m);
    }
    gram.finish()
}

/// The centred Gram matrix built a few columns at a time, so that a caller on the page's
/// thread can paint between blocks (pool1 of 341 images is 200,704 columns: seconds of work).
#[derive(Debug, Clone)]
pub struct GramAccumulator {
    n: usize,
    m: usize,
    mean: Vec<f64>,
    gram: Vec<f64>,
    block: Vec<f64>,
    next: usize,
}

impl GramAccumulator {
    /// An accumulator for the N×M row-major `data` (its column means are taken now).
    pub fn new(data: &[f32], n: usize, m: usize) -> Self {
        Self::with_mean(n, m, column_means(data, n, m))
    }

    fn with_mean(n: usize, m: usize, mean: Vec<f64>) -> Self {
        let bw = GRAM_BLOCK_COLS.min(m);
        Self { n, m, mean, gram: vec![0.0; n * n], block: vec![0.0; n * bw], next: 0 }
    }

    /// Columns done, and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.next, self.m)
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.m
    }

    /// Adds the next block of columns of `data` (the same matrix as given to `new`).
    pub fn add_columns(&mut self, data: &[f32], m: usize) {
        let n = self.n;
        let (c0, c1) = (self.next, (self.next + GRAM_BLOCK_COLS).min(m));
        let w = c1 - c0;
        for i in 0..n {
            let src = &data[i * m + c0..i * m + c1];
            let dst = &mut self.block[i * w..(i + 1) * w];
            for ((o, &x), &mu) in dst.iter_mut().zip(src).zip(&self.mean[c0..c1]) {
                *o = x as f64 - mu;
            }
        }
        for i in 0..n {
            let ri = &self.block[i * w..(i + 1) * w];
            for j in 0..=i {
                self.gram[i * n + j] += dot(ri, &self.block[j * w..(j + 1) * w]);
            }
        }
        self.next = c1;
    }

    /// The Gram matrix (N×N, symmetric).
    pub fn finish(mut self) -> Vec<f64> {
        let n = self.n;
        for i in 0..n {
            for j in 0..i {
                self.gram[j * n + i] = self.gram[i * n + j];
            }
        }
        self.gram
    }
}

/// X̃ᵀX̃ (M×M), one rank-1 update per row on the lower triangle, then mirrored.
fn centred_scatter(data: &[f32], n: usize, m: usize, mean: &[f64]) -> Vec<f64> {
    let mut cov = vec![0.0f64; m * m];
    let mut centred = vec![0.0f64; m];
    for row in data.chunks_exact(m).take(n) {
        for ((c, &x), &mu) in centred.iter_mut().zip(row).zip(mean) {
            *c = x as f64 - mu;
        }
        for a in 0..m {
            let ca = centred[a];
            let dst = &mut cov[a * m..a * m + a + 1];
            for (o, &cb) in dst.iter_mut().zip(&centred[..=a]) {
                *o += ca * cb;
            }
        }
    }
    for a in 0..m {
        for b in 0..a {
            cov[b * m + a] = cov[a * m + b];
        }
    }
    cov
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_matrix(n: usize, m: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Columns with different scales so the spectrum is well separated.
        (0..n * m).map(|k| rng.random_range(-1.0f32..1.0) * (1.0 + (k % m) as f32)).collect()
    }

    /// Test 5: the Gram route and the covariance route give the same scores (signs are
    /// normalised, so "up to sign" becomes "equal").
    #[test]
    fn gram_equals_covariance() {
        for &(n, m, d) in &[(12usize, 30usize, 5usize), (30, 12, 4), (25, 25, 25)] {
            let x = random_matrix(n, m, (n * m) as u64);
            let a = pca_with_route(&x, n, m, d, PcaRoute::Gram);
            let b = pca_with_route(&x, n, m, d, PcaRoute::Covariance);
            // The last component of a full-rank square case may be degenerate; compare
            // components with a clear eigen-gap only.
            let d_eff = d.min(n.min(m) - 1);
            let scale = a.iter().fold(0.0f64, |s, v| s.max(v.abs()));
            for i in 0..n {
                for k in 0..d_eff {
                    let (u, v) = (a[i * d + k], b[i * d + k]);
                    assert!((u - v).abs() < 1e-9 * scale, "n={n} m={m} i={i} k={k}: {u} vs {v}");
                }
            }
        }
    }

    /// Scores are uncorrelated, centred, and their variances decrease.
    #[test]
    fn scores_are_principal_components() {
        let (n, m, d) = (40, 8, 3);
        let x = random_matrix(n, m, 7);
        let s = pca(&x, n, m, d);
        for k in 0..d {
            let mean: f64 = (0..n).map(|i| s[i * d + k]).sum::<f64>() / n as f64;
            assert!(mean.abs() < 1e-9);
            for l in 0..k {
                let c: f64 = (0..n).map(|i| s[i * d + k] * s[i * d + l]).sum();
                assert!(c.abs() < 1e-8);
            }
        }
        let var = |k: usize| (0..n).map(|i| s[i * d + k].powi(2)).sum::<f64>();
        assert!(var(0) >= var(1) && var(1) >= var(2));
    }

    #[test]
    fn standardize_gives_unit_columns() {
        let (n, m) = (50, 4);
        let mut x = random_matrix(n, m, 3);
        for i in 0..n {
            x[i * m + 3] = 5.0; // constant column stays finite
        }
        standardize(&mut x, n, m);
        for c in 0..3 {
            let mean: f64 = (0..n).map(|i| x[i * m + c] as f64).sum::<f64>() / n as f64;
            let var: f64 = (0..n).map(|i| (x[i * m + c] as f64 - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5);
        }
        assert!((0..n).all(|i| x[i * m + 3] == 0.0));
    }

    #[test]
    fn validate_rejects_bad_input() {
        assert!(matches!(validate(&[], 0, 3), Err(TsneError::Empty)));
        assert!(matches!(validate(&[], 2, 0), Err(TsneError::NoColumns)));
        assert!(matches!(validate(&[1.0; 5], 2, 3), Err(TsneError::ShapeMismatch { .. })));
        let r = validate(&[1.0, 2.0, f32::NAN, 4.0], 2, 2);
        assert!(matches!(r, Err(TsneError::NonFinite { row: 1, col: 0, .. })));
        assert!(validate(&[1.0; 6], 2, 3).is_ok());
    }
}
