//! Approximate k nearest neighbours for the affinities of large inputs.
//!
//! The exact search (`affinity::nearest_neighbours`) costs O(N²·D): 172 s for 100,000
//! points in 50 dimensions on one core. This is the standard approximate pair used by
//! pynndescent (and so by openTSNE and UMAP):
//!
//! 1. a forest of random-projection trees (Dasgupta & Freund 2008; Annoy): each tree
//!    splits its points recursively by the hyperplane halfway between two random points of
//!    the node, down to leaves of at most `leaf_size` points; every point's first
//!    candidates are the points that share a leaf with it in any tree;
//! 2. rounds of neighbour-of-neighbour refinement (the local join of NN-descent, Dong,
//!    Charikar & Li 2011): a neighbour of a neighbour is likely a neighbour, so each point
//!    checks the lists of its current neighbours and keeps whatever is closer.
//!
//! Recall on the 50-D Gaussian mixture of the benchmark (the hard case: isotropic clusters
//! where a neighbour is barely closer than a stranger) is measured by the tests and the
//! benchmark; t-SNE needs the bulk of each point's Gaussian mass, not every last
//! neighbour, and the affinities' perplexity search adapts to whatever set it gets.
//!
//! Deterministic: the trees come from a seeded generator and everything runs in a fixed
//! order on one thread.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::affinity::squared_distance;

/// Settings of the approximate search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApproximateSearch {
    /// Random-projection trees. Default 8.
    pub trees: usize,
    /// Most points in a leaf. Default 64 (and at least 2(k + 1), so that a leaf always
    /// holds k neighbour candidates).
    pub leaf_size: usize,
    /// Neighbour-of-neighbour rounds. Default 2.
    pub refinement_rounds: usize,
    /// How many of each neighbour's own nearest neighbours a point checks per round.
    /// Default 12.
    pub explored_per_neighbour: usize,
    /// Seed of the trees' random splits.
    pub seed: u64,
}

impl ApproximateSearch {
    /// The defaults, with this seed.
    pub fn with_seed(seed: u64) -> Self {
        ApproximateSearch { trees: 8, leaf_size: 64, refinement_rounds: 2, explored_per_neighbour: 12, seed }
    }
}

/// The k best candidates of one point, sorted by (distance, index).
struct Best<'a> {
    idx: &'a mut [u32],
    dst: &'a mut [f64],
    len: usize,
}

impl Best<'_> {
    /// Inserts (d, j) if it beats the worst kept; `j` must not be present already.
    #[inline]
    fn offer(&mut self, d: f64, j: u32) {
        let k = self.idx.len();
        if self.len == k && (d, j) >= (self.dst[k - 1], self.idx[k - 1]) {
            return;
        }
        let mut t = self.len.min(k - 1);
        while t > 0 && (self.dst[t - 1], self.idx[t - 1]) > (d, j) {
            self.dst[t] = self.dst[t - 1];
            self.idx[t] = self.idx[t - 1];
            t -= 1;
        }
        self.dst[t] = d;
        self.idx[t] = j;
        self.len = (self.len + 1).min(k);
    }
}

/// Approximate k nearest neighbours of every row of `x` (N×d), self excluded, in the
/// format of the exact search: (indices, squared distances), N×k each, sorted by
/// distance with ties broken by index.
pub fn approximate_nearest_neighbours(
    x: &[f64],
    n: usize,
    d: usize,
    k: usize,
    search: &ApproximateSearch,
) -> (Vec<u32>, Vec<f64>) {
    assert!(k < n, "k must be below the number of points");
    let mut idx = vec![u32::MAX; n * k];
    let mut dst = vec![f64::INFINITY; n * k];
    let mut lens = vec![0usize; n];
    // `seen[j] == stamp` marks j as already offered to the current point.
    let mut seen = vec![0u32; n];
    let mut stamp = 0u32;
    let row = |i: usize| &x[i * d..(i + 1) * d];

    // Halving a node of more than 2(k + 1) points leaves at least k + 1 on each side.
    let leaf_size = search.leaf_size.max(2 * (k + 1));
    let mut rng = ChaCha8Rng::seed_from_u64(search.seed);
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut leaves: Vec<(usize, usize)> = Vec::new();
    for _ in 0..search.trees.max(1) {
        order.clear();
        order.extend(0..n as u32);
        leaves.clear();
        split_into_leaves(x, d, &mut order, 0, n, leaf_size, k + 1, &mut rng, &mut leaves);
        for &(start, end) in &leaves {
            let members = &order[start..end];
            for &i in members {
                let i = i as usize;
                stamp = stamp.wrapping_add(1);
                let mut best =
                    Best { idx: &mut idx[i * k..(i + 1) * k], dst: &mut dst[i * k..(i + 1) * k], len: lens[i] };
                seen[i] = stamp;
                for &j in &best.idx[..best.len] {
                    seen[j as usize] = stamp;
                }
                for &j in members {
                    if seen[j as usize] != stamp {
                        seen[j as usize] = stamp;
                        best.offer(squared_distance(row(i), row(j as usize)), j);
                    }
                }
                lens[i] = best.len;
            }
        }
    }

    let explored = search.explored_per_neighbour.min(k);
    let mut candidates: Vec<u32> = Vec::with_capacity(k * explored);
    for _ in 0..search.refinement_rounds {
        // Each round reads the lists as they stood at its start, so the result does not
        // depend on the order points are visited in beyond that fixed order.
        let snapshot = idx.clone();
        for i in 0..n {
            stamp = stamp.wrapping_add(1);
            seen[i] = stamp;
            let mine = &snapshot[i * k..(i + 1) * k];
            for &j in mine {
                if j != u32::MAX {
                    seen[j as usize] = stamp;
                }
            }
            candidates.clear();
            for &j in mine {
                if j == u32::MAX {
                    continue;
                }
                for &c in &snapshot[j as usize * k..j as usize * k + explored] {
                    if c != u32::MAX && seen[c as usize] != stamp {
                        seen[c as usize] = stamp;
                        candidates.push(c);
                    }
                }
            }
            let mut best = Best { idx: &mut idx[i * k..(i + 1) * k], dst: &mut dst[i * k..(i + 1) * k], len: lens[i] };
            for &c in &candidates {
                best.offer(squared_distance(row(i), row(c as usize)), c);
            }
            lens[i] = best.len;
        }
    }
    debug_assert!(lens.iter().all(|&l| l == k), "every point has k neighbours (leaves hold more than k)");
    (idx, dst)
}

/// Splits `order[start..end]` recursively until each part has at most `leaf_size`
/// points but never fewer than `min_leaf` (so every point finds k candidates in its own
/// leaf), appending the leaves' ranges to `leaves`.
#[allow(clippy::too_many_arguments)]
fn split_into_leaves(
    x: &[f64],
    d: usize,
    order: &mut [u32],
    start: usize,
    end: usize,
    leaf_size: usize,
    min_leaf: usize,
    rng: &mut ChaCha8Rng,
    leaves: &mut Vec<(usize, usize)>,
) {
    let mut stack = vec![(start, end)];
    let mut normal = vec![0.0f64; d];
    let mut projection: Vec<(f64, u32)> = Vec::new();
    while let Some((s, e)) = stack.pop() {
        if e - s <= leaf_size {
            leaves.push((s, e));
            continue;
        }
        // The hyperplane halfway between two random points of the node.
        let a = order[rng.random_range(s..e)] as usize;
        let mut b = order[rng.random_range(s..e)] as usize;
        for _ in 0..8 {
            if b != a && x[a * d..(a + 1) * d] != x[b * d..(b + 1) * d] {
                break;
            }
            b = order[rng.random_range(s..e)] as usize;
        }
        let mut offset = 0.0;
        for t in 0..d {
            normal[t] = x[a * d + t] - x[b * d + t];
            offset += normal[t] * (x[a * d + t] + x[b * d + t]) * 0.5;
        }
        projection.clear();
        projection.extend(order[s..e].iter().map(|&i| {
            let p = &x[i as usize * d..(i as usize + 1) * d];
            (p.iter().zip(&normal).map(|(v, w)| v * w).sum::<f64>() - offset, i)
        }));
        let right = projection.iter().filter(|(v, _)| *v > 0.0).count();
        if right.min(e - s - right) < min_leaf {
            // Too lopsided (or duplicates): cut at the median of the projection instead,
            // which keeps both halves at least `min_leaf` strong.
            let half = (e - s) / 2;
            projection.select_nth_unstable_by(half, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (t, &(_, i)) in projection.iter().enumerate() {
                order[s + t] = i;
            }
            stack.push((s + half, e));
            stack.push((s, s + half));
            continue;
        }
        // Stable partition keeps the split deterministic.
        let left: Vec<u32> = projection.iter().filter(|(v, _)| *v <= 0.0).map(|p| p.1).collect();
        let right: Vec<u32> = projection.iter().filter(|(v, _)| *v > 0.0).map(|p| p.1).collect();
        let mid = s + left.len();
        order[s..mid].copy_from_slice(&left);
        order[mid..e].copy_from_slice(&right);
        stack.push((mid, e));
        stack.push((s, mid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::affinity::nearest_neighbours;

    /// The benchmark's kind of data: a 50-D Gaussian mixture (Box-Muller from a seeded
    /// generator), ten clusters of different spreads.
    pub(crate) fn gaussian_mixture(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal = || {
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            let v: f64 = rng.random_range(0.0..1.0);
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let centres: Vec<f64> = (0..10 * d).map(|_| normal()).collect();
        let mut x = Vec::with_capacity(n * d);
        for i in 0..n {
            let c = i % 10;
            let spread = 0.7 + 0.06 * c as f64;
            for t in 0..d {
                x.push(centres[c * d + t] + normal() * spread);
            }
        }
        x
    }

    fn recall(approx: &[u32], exact: &[u32], n: usize, k: usize) -> f64 {
        let mut hits = 0;
        for i in 0..n {
            let truth = &exact[i * k..(i + 1) * k];
            hits += approx[i * k..(i + 1) * k].iter().filter(|j| truth.contains(j)).count();
        }
        hits as f64 / (n * k) as f64
    }

    /// Most true neighbours are found on the hard case, every list is k distinct other
    /// points sorted by distance, and each distance is the true one.
    #[test]
    fn finds_most_true_neighbours_of_a_gaussian_mixture() {
        let (n, d, k) = (3_000, 50, 90);
        let x = gaussian_mixture(n, d, 1);
        let (exact, _) = nearest_neighbours(&x, n, d, k);
        let (idx, dst) = approximate_nearest_neighbours(&x, n, d, k, &ApproximateSearch::with_seed(0));
        let r = recall(&idx, &exact, n, k);
        eprintln!("approximate neighbours of a {n}-point 50-D mixture: recall {r:.4} at k = {k}");
        assert!(r > 0.9, "recall {r}");
        for i in 0..n {
            let list = &idx[i * k..(i + 1) * k];
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), k, "point {i} has repeated neighbours");
            assert!(!list.contains(&(i as u32)), "point {i} is its own neighbour");
            let ds = &dst[i * k..(i + 1) * k];
            assert!(ds.windows(2).all(|w| w[0] <= w[1]));
            for (&j, &dj) in list.iter().zip(ds) {
                assert_eq!(dj, squared_distance(&x[i * d..(i + 1) * d], &x[j as usize * d..(j as usize + 1) * d]));
            }
        }
    }

    /// Refinement is what lifts recall: without it the trees alone find fewer.
    #[test]
    fn refinement_improves_recall() {
        let (n, d, k) = (1_500, 50, 30);
        let x = gaussian_mixture(n, d, 2);
        let (exact, _) = nearest_neighbours(&x, n, d, k);
        let trees_only = ApproximateSearch { refinement_rounds: 0, ..ApproximateSearch::with_seed(0) };
        let (a, _) = approximate_nearest_neighbours(&x, n, d, k, &trees_only);
        let (b, _) = approximate_nearest_neighbours(&x, n, d, k, &ApproximateSearch::with_seed(0));
        assert!(recall(&b, &exact, n, k) > recall(&a, &exact, n, k) + 0.05);
    }

    /// Same seed, same neighbours; duplicates and tiny inputs do not break the trees.
    #[test]
    fn deterministic_and_handles_duplicates() {
        let (n, d, k) = (400, 3, 10);
        let mut x = gaussian_mixture(n, d, 3);
        for i in 0..50 {
            let (a, b) = x.split_at_mut(d * 200);
            a[i * d..(i + 1) * d].copy_from_slice(&b[..d]); // 50 copies of one point
        }
        let s = ApproximateSearch::with_seed(9);
        let first = approximate_nearest_neighbours(&x, n, d, k, &s);
        assert_eq!(first, approximate_nearest_neighbours(&x, n, d, k, &s));
        let small = approximate_nearest_neighbours(&x[..12 * d], 12, d, 11, &s);
        assert!(small.0.iter().all(|&j| j < 12));
    }
}
