//! Initial embeddings.
//!
//! * PCA (openTSNE's default; Kobak & Linderman 2021, "Initialization is critical for
//!   preserving global data structure"): the first two principal components, scaled so
//!   the first has standard deviation 1e-4. Deterministic, keeps global structure.
//! * Random: i.i.d. N(0, 1e-4²) (van der Maaten & Hinton 2008; MATLAB's `tsne`), from a
//!   ChaCha8 stream seeded by the configured seed, so it is reproducible on every
//!   platform.
//!
//! The small scale matters: with early exaggeration the optimiser first contracts
//! clusters, and starting points far apart would stall that phase.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Standard deviation of the initial coordinates (of the first coordinate for PCA).
pub const INIT_STD: f64 = 1e-4;

/// N(0, std²) coordinates, N×2, by Box–Muller on a seeded ChaCha8 stream.
pub fn random_init(n: usize, seed: u64, std: f64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut y = Vec::with_capacity(2 * n);
    while y.len() < 2 * n {
        // u1 in (0, 1] so ln(u1) is finite.
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let a = std::f64::consts::TAU * u2;
        y.push(std * r * a.cos());
        y.push(std * r * a.sin());
    }
    y.truncate(2 * n);
    y
}

/// Scale PCA scores (N×k, k ≥ 1, principal components in the first columns) into an
/// N×2 initial embedding whose first column has standard deviation [`INIT_STD`].
/// Missing or degenerate components fall back to seeded random values, so the
/// embedding never starts on a line or a point (their gradient would keep it there).
pub fn pca_init(scores: &[f64], n: usize, k: usize, seed: u64) -> Vec<f64> {
    let mut y = random_init(n, seed, INIT_STD);
    if k == 0 {
        return y;
    }
    let std_of = |c: usize| {
        let mean = (0..n).map(|i| scores[i * k + c]).sum::<f64>() / n as f64;
        ((0..n).map(|i| (scores[i * k + c] - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
    };
    let s0 = std_of(0);
    if s0.is_nan() || s0 <= 0.0 {
        return y;
    }
    let scale = INIT_STD / s0;
    for c in 0..k.min(2) {
        if c == 1 && (std_of(1).is_nan() || std_of(1) <= 0.0) {
            break;
        }
        for i in 0..n {
            y[2 * i + c] = scores[i * k + c] * scale;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_init_has_requested_spread_and_is_seeded() {
        let n = 20_000;
        let y = random_init(n, 5, INIT_STD);
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
        assert!(mean.abs() < 5e-6 && (sd / INIT_STD - 1.0).abs() < 0.02, "mean {mean} sd {sd}");
        assert_eq!(y, random_init(n, 5, INIT_STD));
        assert_ne!(y, random_init(n, 6, INIT_STD));
    }

    #[test]
    fn pca_init_scales_first_component() {
        let n = 100;
        let scores: Vec<f64> = (0..n).flat_map(|i| [i as f64, (i % 7) as f64, 1.0]).collect();
        let y = pca_init(&scores, n, 3, 0);
        let col0: Vec<f64> = (0..n).map(|i| y[2 * i]).collect();
        let mean = col0.iter().sum::<f64>() / n as f64;
        let sd = (col0.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((sd - INIT_STD).abs() < 1e-12);
        // The same factor scales the second component.
        let sd_scores = ((0..n).map(|i| (i as f64 - 49.5).powi(2)).sum::<f64>() / n as f64).sqrt();
        let scale = INIT_STD / sd_scores;
        for i in 0..n {
            assert!((y[2 * i + 1] - (i % 7) as f64 * scale).abs() < 1e-18);
        }
    }
}
