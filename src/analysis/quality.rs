//! How faithful a 2-D map is, as numbers: trustworthiness (are the map's neighbours true
//! neighbours?) and leave-one-out k-NN accuracy (do the map's neighbourhoods keep classes
//! together?). They turn "the softmax map clusters by class" into a figure under each map.
//!
//! Both follow `tests/tsne/tsne_metrics.py` (the project's shared scorer): trustworthiness as
//! scikit-learn's `manifold.trustworthiness` (Venna & Kaski 2001; Euclidean in both spaces),
//! k-NN accuracy with a majority vote whose ties go to the tied class owning the nearest of
//! the k neighbours. A test checks them against the Python scorer's figures on digits.

use serde::Serialize;

/// Neighbours trustworthiness looks at (the shared scorer's `TRUST_K`).
pub const TRUST_K: usize = 12;
/// Neighbours of the k-NN vote (the shared scorer's `KNN_K`).
pub const KNN_K: usize = 5;
/// Largest number of points scored exactly; larger maps are scored on an evenly spaced
/// subsample of this many points (all pairwise input distances are needed: O(N²·d)).
pub const MAX_SCORED_POINTS: usize = 2_000;

/// The two figures shown under a map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct MapQuality {
    /// Trustworthiness at k = [`TRUST_K`], in [0, 1]; 1 = no false neighbours.
    pub trustworthiness: f64,
    /// Leave-one-out [`KNN_K`]-NN accuracy of the true classes in the map.
    pub knn_accuracy: f64,
    /// Points scored (all, or the subsample of [`MAX_SCORED_POINTS`]).
    pub points: usize,
}

fn squared_distance<T: Copy + Into<f64>>(a: &[T], b: &[T]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (x.into() - y.into()).powi(2)).sum()
}

/// For each point, the other points ordered by distance (nearest first; equal distances:
/// lower index first).
fn neighbour_order<T: Copy + Into<f64>>(rows: &[T], n: usize, d: usize, keep: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| {
            let row = &rows[i * d..(i + 1) * d];
            let mut others: Vec<(f64, usize)> =
                (0..n).filter(|&j| j != i).map(|j| (squared_distance(row, &rows[j * d..(j + 1) * d]), j)).collect();
            let by_distance = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if keep < others.len() {
                others.select_nth_unstable_by(keep, by_distance);
                others.truncate(keep);
            }
            others.sort_by(by_distance);
            others.into_iter().map(|(_, j)| j).collect()
        })
        .collect()
}

/// Trustworthiness of the embedding `map` (N×2) of `rows` (N×d), with `k` neighbours:
/// 1 − 2/(N·k·(2N − 3k − 1)) · Σᵢ Σ_{j ∈ map's k-NN of i} max(0, r(i, j) − k), where r(i, j)
/// is j's rank among i's neighbours in the input space.
pub fn trustworthiness<T: Copy + Into<f64>>(rows: &[T], d: usize, map: &[f32], k: usize) -> f64 {
    let n = map.len() / 2;
    assert_eq!(rows.len(), n * d, "rows and map must have the same number of points");
    assert!(k < n / 2, "trustworthiness needs k < N/2 (k = {k}, N = {n})");
    let input_order = neighbour_order(rows, n, d, n - 1);
    let map_order = neighbour_order(map, n, 2, k);
    let mut rank = vec![0usize; n];
    let mut penalty = 0.0f64;
    for i in 0..n {
        for (r, &j) in input_order[i].iter().enumerate() {
            rank[j] = r + 1;
        }
        penalty += map_order[i].iter().map(|&j| rank[j].saturating_sub(k) as f64).sum::<f64>();
    }
    let (n, k) = (n as f64, k as f64);
    1.0 - penalty * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))
}

/// Leave-one-out k-NN accuracy of `labels` in the embedding `map` (N×2).
pub fn knn_accuracy(map: &[f32], labels: &[usize], k: usize) -> f64 {
    let n = map.len() / 2;
    assert_eq!(labels.len(), n, "one label per point");
    let classes = labels.iter().max().map_or(0, |&c| c + 1);
    let order = neighbour_order(map, n, 2, k);
    let mut correct = 0usize;
    for (i, neighbours) in order.iter().enumerate() {
        let mut votes = vec![0usize; classes];
        for &j in neighbours {
            votes[labels[j]] += 1;
        }
        let best = votes.iter().copied().max().unwrap_or(0);
        let vote = neighbours.iter().map(|&j| labels[j]).find(|&c| votes[c] == best);
        correct += usize::from(vote == Some(labels[i]));
    }
    correct as f64 / n.max(1) as f64
}

/// Both figures for a map of `rows` (N×d) coloured by `labels`; maps larger than
/// [`MAX_SCORED_POINTS`] are scored on an evenly spaced subsample. `None` when there are too
/// few points for k = [`TRUST_K`] (N ≤ 2k).
pub fn map_quality<T: Copy + Into<f64>>(rows: &[T], d: usize, map: &[f32], labels: &[usize]) -> Option<MapQuality> {
    let n = map.len() / 2;
    let picked: Vec<usize> = if n > MAX_SCORED_POINTS {
        (0..MAX_SCORED_POINTS).map(|s| s * n / MAX_SCORED_POINTS).collect()
    } else {
        (0..n).collect()
    };
    let m = picked.len();
    if m <= 2 * TRUST_K {
        return None;
    }
    let sub_rows: Vec<f64> = picked.iter().flat_map(|&i| rows[i * d..(i + 1) * d].iter().map(|&v| v.into())).collect();
    let sub_map: Vec<f32> = picked.iter().flat_map(|&i| [map[2 * i], map[2 * i + 1]]).collect();
    let sub_labels: Vec<usize> = picked.iter().map(|&i| labels[i]).collect();
    Some(MapQuality {
        trustworthiness: trustworthiness(&sub_rows, d, &sub_map, TRUST_K),
        knn_accuracy: knn_accuracy(&sub_map, &sub_labels, KNN_K.min(m - 1)),
        points: m,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_that_keeps_the_order_is_fully_trustworthy() {
        // Points on a line, mapped onto a line: every neighbour is a true neighbour.
        let n = 40;
        let rows: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let map: Vec<f32> = (0..n).flat_map(|i| [i as f32 * 3.0, 0.0]).collect();
        assert!((trustworthiness(&rows, 1, &map, 5) - 1.0).abs() < 1e-12);
        // Reversing the order keeps every neighbourhood too.
        let reversed: Vec<f32> = (0..n).flat_map(|i| [-(i as f32), 1.0]).collect();
        assert!((trustworthiness(&rows, 1, &reversed, 5) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_shuffled_map_is_penalised_by_hand_computed_ranks() {
        // Six points on a line at 0, 1, 3, 7, 15, 31 (no equal distances); the map swaps the
        // first and the last. With k = 1, the map's nearest neighbours and their input ranks:
        // 0 → 4 (rank 4, penalty 3), 1 → 5 (rank 5, penalty 4), 5 → 1 (rank 4, penalty 3);
        // points 2, 3, 4 keep their true nearest neighbour (penalty 0).
        let rows = [0.0f64, 1.0, 3.0, 7.0, 15.0, 31.0];
        let map = [31.0f32, 0.0, 1.0, 0.0, 3.0, 0.0, 7.0, 0.0, 15.0, 0.0, 0.0, 0.0];
        let t = trustworthiness(&rows, 1, &map, 1);
        let expected = 1.0 - 10.0 * 2.0 / (6.0 * 1.0 * (12.0 - 3.0 - 1.0));
        assert!((t - expected).abs() < 1e-12, "{t} vs {expected}");
    }

    #[test]
    fn knn_vote_and_its_tie_rule() {
        // Point 0's nearest neighbours: 1 (class 1), 2 (class 2); k = 2 → a tie, won by the
        // nearest neighbour's class 1 — wrong for point 0 (class 0).
        let map = [0.0f32, 0.0, 1.0, 0.0, -2.0, 0.0, 10.0, 0.0, 11.0, 0.0, 12.0, 0.0];
        let labels = [0, 1, 2, 0, 0, 0];
        // 3, 4, 5 vote among themselves → correct; 1's neighbours 0 (c0), 2 (c2) → c0, wrong;
        // 2's neighbours 0 (c0), 1 (c1) → c0, wrong.
        assert!((knn_accuracy(&map, &labels, 2) - 3.0 / 6.0).abs() < 1e-12);
    }

    /// The shared Python scorer's figures for a fixed map of digits (its first two principal
    /// components plus seeded jitter, `tests/fixtures/digits_map*`): both metrics agree to 1e-6.
    /// (Without the tie-breaking shift the two differ by 2.7e-6: ~100 tied ranks ordered
    /// differently.)
    #[test]
    fn matches_the_python_scorer_on_digits() {
        use crate::data::matrix::{MatrixOptions, read_matrix};
        let fixture =
            |name: &str| std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let options = MatrixOptions {
            label_column: Some("label".into()),
            drop_columns: vec!["index".into()],
            ..Default::default()
        };
        let digits = read_matrix(&fixture("digits.csv"), &options).unwrap();
        let map = read_matrix(&fixture("digits_map.csv"), &MatrixOptions::default()).unwrap();
        assert_eq!((digits.n, digits.m, map.n, map.m), (1797, 64, 1797, 2));
        let labels: Vec<usize> = digits.labels.unwrap().iter().map(|l| l.parse().unwrap()).collect();
        let expected: serde_json::Value = serde_json::from_slice(&fixture("digits_map_scores.json")).unwrap();
        // The integer digits have many equal distances, whose order is implementation-defined
        // (numpy's argsort is unstable); the scorer's figures are for this tie-breaking shift.
        let m = digits.m;
        let rows: Vec<f64> =
            digits.values.iter().enumerate().map(|(k, &v)| f64::from(v) + 1e-7 * (k % 997) as f64).collect();
        let trust = trustworthiness(&rows, m, &map.values, TRUST_K);
        let knn = knn_accuracy(&map.values, &labels, KNN_K);
        let (want_trust, want_knn) =
            (expected["trustworthiness"].as_f64().unwrap(), expected["knn_accuracy"].as_f64().unwrap());
        assert!((trust - want_trust).abs() <= 1e-6, "trustworthiness {trust} vs Python {want_trust}");
        assert!((knn - want_knn).abs() <= 1e-6, "5-NN accuracy {knn} vs Python {want_knn}");
        let quality = map_quality(&rows, m, &map.values, &labels).unwrap();
        assert_eq!((quality.trustworthiness, quality.knn_accuracy, quality.points), (trust, knn, 1797));
    }
}
