//! Input-space affinities P (van der Maaten & Hinton 2008, §2–3).
//!
//! Each point i gets a Gaussian conditional distribution p_{j|i} ∝ exp(−β_i ‖x_i − x_j‖²)
//! whose precision β_i is searched so that the distribution's perplexity exp(H_i)
//! (natural-log entropy) equals the requested perplexity. The joint distribution is the
//! symmetrised P_ij = (p_{j|i} + p_{i|j}) / 2N, which sums to 1.
//!
//! Two supports:
//! * all pairs (used with the exact gradient): every j ≠ i, O(N²·D) time but only
//!   O(nnz) memory — entries with p_{j|i} < [`PRUNE_BELOW`] are dropped, a mass of at
//!   most N·1e-12 per row, far below anything the optimiser or the KL can resolve;
//! * the k = ⌊3·perplexity⌋ nearest neighbours (van der Maaten 2014, used with
//!   Barnes-Hut): beyond ~3σ the Gaussian weights are negligible.
//!
//! P is always stored as a symmetric CSR matrix ([`SparseP`]) so both gradient methods
//! share one attraction kernel.
//!
//! Nearest neighbours are exact, by blocked brute force (O(N²·D)), or approximate for
//! large inputs (`neighbours.rs`).

use super::neighbours::{ApproximateSearch, approximate_nearest_neighbours};

/// Conditional probabilities below this are dropped from the all-pairs P.
pub const PRUNE_BELOW: f64 = 1e-12;

/// Symmetric joint probabilities in compressed sparse row form.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseP {
    /// Number of points (rows).
    pub n: usize,
    /// Row `i` occupies `row_ptr[i]..row_ptr[i + 1]` of `col` and `val`.
    pub row_ptr: Vec<usize>,
    /// Column indices, ascending within a row; the diagonal is never stored.
    pub col: Vec<u32>,
    /// P_ij values; all rows together sum to 1.
    pub val: Vec<f64>,
}

impl SparseP {
    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.val.len()
    }
}

/// Which pairs carry affinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Every pair (exact P).
    AllPairs,
    /// The `k` nearest neighbours of every point, symmetrised.
    Nearest(usize),
    /// The same, with the neighbours found approximately (`neighbours.rs`).
    ApproximateNearest(usize, ApproximateSearch),
}

/// Settings of the bandwidth search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandwidthSearch {
    /// Target perplexity exp(H).
    pub perplexity: f64,
    /// Stop when |H − ln(perplexity)| is below this (nats).
    pub tolerance: f64,
    /// Maximum iterations per point.
    pub max_iter: usize,
}

/// Result of one row's search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowSearch {
    /// Precision β = 1 / 2σ² applied to squared distances.
    pub beta: f64,
    /// Entropy (nats) of the final distribution.
    pub entropy: f64,
    /// Iterations used.
    pub iterations: usize,
}

/// Find β so that the distribution p_j ∝ exp(−β d_j) over the given squared distances
/// has entropy ln(perplexity); write the normalised p into `out`.
///
/// Safeguarded Newton in log β: H(β) decreases monotonically and
/// dH/d(ln β) = −β² Var_p(d), so Newton converges in a handful of steps; a bracket
/// [lo, hi] is kept and whenever a Newton step leaves it (or the variance vanishes)
/// the step falls back to bisection (geometric mean) or doubling/halving.
/// Distances are shifted by their minimum so the largest weight is exactly 1 and the
/// sum can never underflow.
pub fn search_row(dist: &[f64], s: &BandwidthSearch, out: &mut [f64]) -> RowSearch {
    debug_assert_eq!(dist.len(), out.len());
    let target = s.perplexity.ln();
    let dmin = dist.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = dist.iter().map(|&d| d - dmin).sum::<f64>() / dist.len().max(1) as f64;
    // Start at the scale of the distances (β·mean(d) = 1); any start would do.
    let mut beta = if mean > 0.0 { 1.0 / mean } else { 1.0 };
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    let mut entropy = 0.0;
    let mut iterations = 0;
    for it in 0..s.max_iter.max(1) {
        iterations = it + 1;
        // p_j = exp(−β (d_j − dmin)) / Z;  H = ln Z + β E[d − dmin];
        let mut z = 0.0;
        let mut sd = 0.0;
        let mut sdd = 0.0;
        for (o, &d) in out.iter_mut().zip(dist) {
            let x = d - dmin;
            let w = (-beta * x).exp();
            *o = w;
            z += w;
            sd += w * x;
            sdd += w * x * x;
        }
        let ed = sd / z;
        let var = (sdd / z - ed * ed).max(0.0);
        entropy = z.ln() + beta * ed;
        let diff = entropy - target;
        if diff.abs() < s.tolerance {
            break;
        }
        if diff > 0.0 {
            lo = beta; // too flat: sharpen
        } else {
            hi = beta;
        }
        let mut next = f64::NAN;
        if var > 0.0 {
            next = beta * (diff / (beta * beta * var)).exp();
        }
        if !(next > lo && next < hi && next.is_finite()) {
            next = if hi.is_finite() && lo > 0.0 {
                (lo * hi).sqrt()
            } else if hi.is_finite() {
                beta * 0.5
            } else {
                beta * 2.0
            };
        }
        beta = next;
    }
    let z: f64 = out.iter().sum();
    let inv = 1.0 / z;
    out.iter_mut().for_each(|p| *p *= inv);
    RowSearch { beta, entropy, iterations }
}

/// Queries per distance block (rows of the block distance matrix).
const QUERY_BLOCK: usize = 32;
/// Reference rows per cache tile.
const REF_TILE: usize = 256;

/// Squared Euclidean distances from rows `r0..r1` to all `n` rows of `x` (N×d),
/// written row-major into `out` ((r1−r0)×n). Tiled so a tile of reference rows stays in
/// cache while all queries of the block visit it.
fn distance_block(x: &[f64], n: usize, d: usize, r0: usize, r1: usize, out: &mut [f64]) {
    for t0 in (0..n).step_by(REF_TILE) {
        let t1 = (t0 + REF_TILE).min(n);
        for q in r0..r1 {
            let xq = &x[q * d..(q + 1) * d];
            let orow = &mut out[(q - r0) * n..(q - r0 + 1) * n];
            for j in t0..t1 {
                let xj = &x[j * d..(j + 1) * d];
                orow[j] = squared_distance(xq, xj);
            }
        }
    }
}

#[inline]
pub(super) fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        let t = x - y;
        s += t * t;
    }
    s
}

/// Exact k nearest neighbours of every row (self excluded), by blocked brute force.
/// Returns (indices, squared distances), N×k each, neighbours sorted by distance with
/// ties broken by index, so the result is deterministic.
pub fn nearest_neighbours(x: &[f64], n: usize, d: usize, k: usize) -> (Vec<u32>, Vec<f64>) {
    assert!(k < n, "k must be below the number of points");
    let mut idx = vec![0u32; n * k];
    let mut dst = vec![0.0f64; n * k];
    let mut block = vec![0.0f64; QUERY_BLOCK.min(n) * n];
    let mut cand: Vec<(f64, u32)> = Vec::with_capacity(n);
    let cmp = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    for r0 in (0..n).step_by(QUERY_BLOCK) {
        let r1 = (r0 + QUERY_BLOCK).min(n);
        distance_block(x, n, d, r0, r1, &mut block);
        for i in r0..r1 {
            let row = &block[(i - r0) * n..(i - r0 + 1) * n];
            cand.clear();
            cand.extend(row.iter().enumerate().filter(|&(j, _)| j != i).map(|(j, &v)| (v, j as u32)));
            if k < cand.len() {
                cand.select_nth_unstable_by(k - 1, cmp);
            }
            let top = &mut cand[..k];
            top.sort_unstable_by(cmp);
            for (t, &(v, j)) in top.iter().enumerate() {
                idx[i * k + t] = j;
                dst[i * k + t] = v;
            }
        }
    }
    (idx, dst)
}

/// Joint probabilities P of the rows of `x` (N×d, f64).
pub fn joint_probabilities(x: &[f64], n: usize, d: usize, support: Support, search: &BandwidthSearch) -> SparseP {
    // Conditional rows as (row, col, p_{j|i}) triplets, both orientations, so that
    // sorting and merging them yields p_{j|i} + p_{i|j} per unordered pair.
    let mut triplets: Vec<(u64, f64)> = Vec::new();
    let key = |r: usize, c: usize| ((r as u64) << 32) | c as u64;
    match support {
        Support::Nearest(k) | Support::ApproximateNearest(k, _) => {
            let (idx, dist) = match support {
                Support::ApproximateNearest(_, search) => approximate_nearest_neighbours(x, n, d, k, &search),
                _ => nearest_neighbours(x, n, d, k),
            };
            let mut p = vec![0.0f64; k];
            triplets.reserve(2 * n * k);
            for i in 0..n {
                search_row(&dist[i * k..(i + 1) * k], search, &mut p);
                for (t, &pj) in p.iter().enumerate() {
                    let j = idx[i * k + t] as usize;
                    triplets.push((key(i, j), pj));
                    triplets.push((key(j, i), pj));
                }
            }
        }
        Support::AllPairs => {
            let mut block = vec![0.0f64; QUERY_BLOCK.min(n) * n];
            let mut dist = vec![0.0f64; n - 1];
            let mut p = vec![0.0f64; n - 1];
            for r0 in (0..n).step_by(QUERY_BLOCK) {
                let r1 = (r0 + QUERY_BLOCK).min(n);
                distance_block(x, n, d, r0, r1, &mut block);
                for i in r0..r1 {
                    let row = &block[(i - r0) * n..(i - r0 + 1) * n];
                    dist[..i].copy_from_slice(&row[..i]);
                    dist[i..].copy_from_slice(&row[i + 1..]);
                    search_row(&dist, search, &mut p);
                    for (t, &pj) in p.iter().enumerate() {
                        if pj >= PRUNE_BELOW {
                            let j = if t < i { t } else { t + 1 };
                            triplets.push((key(i, j), pj));
                            triplets.push((key(j, i), pj));
                        }
                    }
                }
            }
        }
    }
    // Keys are unique per orientation, so at most two values share a key and their sum
    // does not depend on the (unstable) order: the result is deterministic.
    triplets.sort_unstable_by_key(|t| t.0);
    let inv = 1.0 / (2.0 * n as f64);
    let mut row_ptr = vec![0usize; n + 1];
    let mut col = Vec::with_capacity(triplets.len());
    let mut val = Vec::with_capacity(triplets.len());
    let mut t = 0;
    while t < triplets.len() {
        let k = triplets[t].0;
        let mut v = triplets[t].1;
        t += 1;
        while t < triplets.len() && triplets[t].0 == k {
            v += triplets[t].1;
            t += 1;
        }
        let r = (k >> 32) as usize;
        row_ptr[r + 1] += 1;
        col.push((k & 0xffff_ffff) as u32);
        val.push(v * inv);
    }
    for r in 0..n {
        row_ptr[r + 1] += row_ptr[r];
    }
    SparseP { n, row_ptr, col, val }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_points(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // A few clusters at different scales, so bandwidths differ a lot between points.
        (0..n * d)
            .map(|k| {
                let c = (k / d) % 3;
                c as f64 * 5.0 + rng.random_range(-1.0..1.0) * (1.0 + c as f64 * 3.0)
            })
            .collect()
    }

    fn entropy(p: &[f64]) -> f64 {
        -p.iter().filter(|&&v| v > 0.0).map(|&v| v * v.ln()).sum::<f64>()
    }

    /// Test 3: each row's entropy, recomputed from the returned distribution, matches
    /// ln(perplexity) within the tolerance.
    #[test]
    fn perplexity_search_hits_target_entropy() {
        let (n, d) = (300, 5);
        let x = random_points(n, d, 1);
        for &perp in &[5.0, 30.0, 80.0] {
            let s = BandwidthSearch { perplexity: perp, tolerance: 1e-5, max_iter: 200 };
            let mut dist = vec![0.0; n - 1];
            let mut p = vec![0.0; n - 1];
            for i in 0..n {
                let mut t = 0;
                for j in 0..n {
                    if j != i {
                        dist[t] = squared_distance(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]);
                        t += 1;
                    }
                }
                let r = search_row(&dist, &s, &mut p);
                assert!(r.iterations < 200, "search did not converge");
                let h = entropy(&p);
                assert!((h - perp.ln()).abs() < 1e-5, "row {i}: H={h} target={}", perp.ln());
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn search_handles_duplicates_and_huge_distances() {
        let s = BandwidthSearch { perplexity: 3.0, tolerance: 1e-5, max_iter: 200 };
        let dist = [0.0, 0.0, 1e6, 2e6, 3e6, 1e12];
        let mut p = [0.0; 6];
        search_row(&dist, &s, &mut p);
        assert!(p.iter().all(|v| v.is_finite()));
        assert!((entropy(&p) - 3.0f64.ln()).abs() < 1e-5);
    }

    #[test]
    fn joint_p_is_symmetric_and_normalised() {
        let (n, d) = (200, 4);
        let x = random_points(n, d, 2);
        let s = BandwidthSearch { perplexity: 10.0, tolerance: 1e-5, max_iter: 200 };
        for support in [Support::AllPairs, Support::Nearest(30)] {
            let p = joint_probabilities(&x, n, d, support, &s);
            let total: f64 = p.val.iter().sum();
            assert!((total - 1.0).abs() < 1e-9, "{support:?}: sum {total}");
            let get = |i: usize, j: usize| {
                let r = p.row_ptr[i]..p.row_ptr[i + 1];
                p.col[r.clone()].binary_search(&(j as u32)).ok().map(|t| p.val[r.start + t])
            };
            for i in 0..n {
                let r = p.row_ptr[i]..p.row_ptr[i + 1];
                assert!(p.col[r.clone()].windows(2).all(|w| w[0] < w[1]));
                for t in r {
                    let j = p.col[t] as usize;
                    assert_ne!(i, j);
                    assert_eq!(get(j, i), Some(p.val[t]));
                }
            }
        }
    }

    #[test]
    fn knn_matches_sorting_all_distances() {
        let (n, d, k) = (150, 3, 7);
        let x = random_points(n, d, 5);
        let (idx, dist) = nearest_neighbours(&x, n, d, k);
        for i in 0..n {
            let mut all: Vec<(f64, u32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| (squared_distance(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]), j as u32))
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for t in 0..k {
                assert_eq!(idx[i * k + t], all[t].1);
                assert_eq!(dist[i * k + t], all[t].0);
            }
        }
    }
}
