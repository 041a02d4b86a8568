//! Dense symmetric eigensolver: Householder tridiagonalisation followed by the implicit
//! QL algorithm with Wilkinson-style shifts (the classic `tred2` / `tql2` pair of the
//! EISPACK routines, Martin, Reinsch and Wilkinson 1968; Golub and Van Loan §8.3).
//!
//! Why this one: PCA needs the leading eigenvectors of a symmetric positive
//! semi-definite matrix (an N×N Gram matrix or an M×M covariance) of a few thousand rows
//! at most. Householder + QL is O(n³), unconditionally stable, needs no tuning (unlike
//! Lanczos / randomised solvers, whose convergence depends on the eigen-gap) and is
//! deterministic, which keeps t-SNE runs bit-reproducible. At n = 2,000 it takes a few
//! seconds on one core.
//!
//! Everything is f64: the Gram matrix of centred activations can have a condition number
//! far beyond what f32 resolves.

/// Eigen-decomposition of a symmetric matrix.
#[derive(Debug, Clone)]
pub struct SymmetricEigen {
    /// Eigenvalues in descending order.
    pub values: Vec<f64>,
    /// Eigenvectors, one per row (row `k` belongs to `values[k]`), each of unit length.
    pub vectors: Vec<f64>,
    /// Matrix order.
    pub n: usize,
}

impl SymmetricEigen {
    /// Eigenvector `k` (unit length) as a slice of length `n`.
    pub fn vector(&self, k: usize) -> &[f64] {
        &self.vectors[k * self.n..(k + 1) * self.n]
    }
}

/// Decompose the symmetric `n`×`n` row-major matrix `a` (only symmetric input is
/// meaningful; the lower triangle is what is read). Returns all eigenpairs, sorted by
/// descending eigenvalue.
pub fn symmetric_eigen(a: &[f64], n: usize) -> SymmetricEigen {
    assert_eq!(a.len(), n * n, "symmetric_eigen: matrix is not n×n");
    if n == 0 {
        return SymmetricEigen { values: Vec::new(), vectors: Vec::new(), n };
    }
    // Both routines work on the transposed transformation Vᵀ (eigenvectors in rows), so
    // their O(n³) inner loops walk contiguous memory instead of columns of stride n:
    // that alone is a 10× difference at n = 2,000. A is symmetric, so Aᵀ = A is the
    // starting point.
    let mut vt = a.to_vec();
    let mut d = vec![0.0f64; n];
    let mut e = vec![0.0f64; n];
    tred2(&mut vt, &mut d, &mut e, n);
    tql2(&mut vt, &mut d, &mut e, n);
    let mut order: Vec<usize> = (0..n).collect();
    // Descending; ties keep index order (stable sort) so the result is deterministic.
    order.sort_by(|&i, &j| d[j].total_cmp(&d[i]));
    let mut values = Vec::with_capacity(n);
    let mut vectors = Vec::with_capacity(n * n);
    for &k in &order {
        values.push(d[k]);
        vectors.extend_from_slice(&vt[k * n..(k + 1) * n]);
    }
    SymmetricEigen { values, vectors, n }
}

/// Householder reduction to tridiagonal form. On return `v` holds the transpose of the
/// orthogonal transformation (eigenvector candidates in rows), `d` the diagonal and
/// `e[1..]` the sub-diagonal. The algorithm is written for V[i][j]; `idx` maps that
/// element to the transposed storage.
fn tred2(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    let idx = |i: usize, j: usize| j * n + i;
    for j in 0..n {
        d[j] = v[idx(n - 1, j)];
    }
    for i in (1..n).rev() {
        let mut scale = 0.0;
        let mut h = 0.0;
        for dk in &d[..i] {
            scale += dk.abs();
        }
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[idx(i - 1, j)];
                v[idx(i, j)] = 0.0;
                v[idx(j, i)] = 0.0;
            }
        } else {
            for dk in &mut d[..i] {
                *dk /= scale;
                h += *dk * *dk;
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for ej in e.iter_mut().take(i) {
                *ej = 0.0;
            }
            // Apply the similarity transformation to the remaining columns.
            for j in 0..i {
                f = d[j];
                v[idx(j, i)] = f;
                g = e[j] + v[idx(j, j)] * f;
                for k in (j + 1)..i {
                    g += v[idx(k, j)] * d[k];
                    e[k] += v[idx(k, j)] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                for k in j..i {
                    v[idx(k, j)] -= f * e[k] + g * d[k];
                }
                d[j] = v[idx(i - 1, j)];
                v[idx(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n - 1 {
        v[idx(n - 1, i)] = v[idx(i, i)];
        v[idx(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[idx(k, i + 1)] / h;
            }
            for j in 0..=i {
                let mut g = 0.0;
                for k in 0..=i {
                    g += v[idx(k, i + 1)] * v[idx(k, j)];
                }
                for k in 0..=i {
                    v[idx(k, j)] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[idx(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[idx(n - 1, j)];
        v[idx(n - 1, j)] = 0.0;
    }
    v[idx(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

/// Implicit QL iterations on the tridiagonal matrix (`d`, `e`). `vt` holds the
/// transformation transposed (eigenvectors in rows) and is updated in place.
fn tql2(vt: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0f64;
    let mut tst1 = 0.0f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n {
            if e[m].abs() <= eps * tst1 {
                break;
            }
            m += 1;
        }
        // e[n-1] == 0, so m < n always; guard anyway.
        let m = m.min(n - 1);
        if m > l {
            // Converges in 1-2 sweeps per eigenvalue in practice; the cap only stops a
            // pathological input from spinning forever.
            for _ in 0..64 {
                let g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for di in d.iter_mut().take(n).skip(l + 2) {
                    *di -= h;
                }
                f += h;
                p = d[m];
                let mut c = 1.0;
                let mut c2 = c;
                let mut c3 = c;
                let el1 = e[l + 1];
                let mut s = 0.0;
                let mut s2 = 0.0;
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    let g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    // Rotate eigenvector rows i and i+1.
                    let (lo, hi) = vt.split_at_mut((i + 1) * n);
                    let row_i = &mut lo[i * n..];
                    let row_i1 = &mut hi[..n];
                    for (a, b) in row_i.iter_mut().zip(row_i1.iter_mut()) {
                        let hb = *b;
                        *b = s * *a + c * hb;
                        *a = c * *a - s * hb;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_symmetric(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let x: f64 = rng.random_range(-1.0..1.0);
                a[i * n + j] = x;
                a[j * n + i] = x;
            }
        }
        a
    }

    /// A v = λ v for every pair, vectors orthonormal, values descending.
    #[test]
    fn reconstructs_random_symmetric_matrices() {
        for &n in &[1usize, 2, 3, 7, 40, 121] {
            let a = random_symmetric(n, n as u64);
            let eig = symmetric_eigen(&a, n);
            for k in 0..n {
                let v = eig.vector(k);
                for i in 0..n {
                    let av: f64 = (0..n).map(|j| a[i * n + j] * v[j]).sum();
                    assert!((av - eig.values[k] * v[i]).abs() < 1e-10, "n={n} k={k}");
                }
                for l in 0..n {
                    let dot: f64 = v.iter().zip(eig.vector(l)).map(|(a, b)| a * b).sum();
                    let want = if k == l { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-10);
                }
                if k > 0 {
                    assert!(eig.values[k - 1] >= eig.values[k]);
                }
            }
        }
    }

    #[test]
    fn diagonal_and_degenerate() {
        let a = vec![1.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 2.0];
        let eig = symmetric_eigen(&a, 3);
        assert_eq!(eig.values, vec![3.0, 2.0, 1.0]);
        let z = vec![0.0; 16];
        let eig = symmetric_eigen(&z, 4);
        assert!(eig.values.iter().all(|&v| v == 0.0));
    }
}
