//! A seeded sparse random projection for activation rows too wide to keep: each row is reduced
//! to `width` values as it comes out of the network, so an analysis of 10,000 images never
//! holds the 8 GB of their pool1 activations.
//!
//! The construction is the block sparse Johnson–Lindenstrauss transform (Kane & Nelson,
//! "Sparser Johnson–Lindenstrauss Transforms", JACM 2014): the output is cut into `nonzeros`
//! blocks, and input column j adds ±x_j/√nonzeros to one position in every block, the position
//! and sign drawn from a hash of (seed, j, block). Squared distances are preserved in
//! expectation, with a relative spread of about √(2/width). No M×width matrix exists
//! anywhere: only the column → position table (M × nonzeros entries, 6.4 MB for pool1).

use serde::Serialize;

/// Output width of the sketch used when a layer's exact rows do not fit: for N = 10,000 points
/// the Johnson–Lindenstrauss bound 8·ln N/ε² gives ε ≈ 0.19, and the measured spread of squared
/// distances is ≈ √(2/2048) = 3 % (test below); 10,000 rows take 82 MB.
pub const DEFAULT_SKETCH_WIDTH: usize = 2048;
/// Nonzeros per input column (blocks): 8 keeps the variance close to a dense Gaussian
/// projection's at 8 additions per input value.
pub const DEFAULT_SKETCH_NONZEROS: usize = 8;

/// What a sketch was, for the page and the exports to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SketchInfo {
    pub width: usize,
    pub nonzeros: usize,
    pub seed: u64,
}

/// A fixed sparse projection from `input_width` to `width` columns.
#[derive(Debug, Clone)]
pub struct SparseSketch {
    info: SketchInfo,
    /// Per input column and block: the output position, with the sign in the top bit.
    targets: Vec<u32>,
    scale: f32,
}

/// SplitMix64: a well-mixed 64-bit hash of a counter (Steele, Lea & Flood 2014).
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const SIGN: u32 = 1 << 31;

impl SparseSketch {
    /// The sketch for rows of `input_width` values. `width` is rounded down to a multiple of
    /// `nonzeros` (at least one block of one).
    pub fn new(input_width: usize, width: usize, nonzeros: usize, seed: u64) -> Self {
        let nonzeros = nonzeros.clamp(1, width.max(1));
        let block = (width / nonzeros).max(1);
        let width = block * nonzeros;
        let mut targets = Vec::with_capacity(input_width * nonzeros);
        for column in 0..input_width as u64 {
            for b in 0..nonzeros as u64 {
                let h = splitmix64(seed ^ splitmix64(column.wrapping_mul(0x1_0000_0001).wrapping_add(b)));
                let position = (b as usize * block + (h % block as u64) as usize) as u32;
                targets.push(if h >> 63 == 1 { position | SIGN } else { position });
            }
        }
        Self { info: SketchInfo { width, nonzeros, seed }, targets, scale: 1.0 / (nonzeros as f32).sqrt() }
    }

    pub fn info(&self) -> SketchInfo {
        self.info
    }

    pub fn width(&self) -> usize {
        self.info.width
    }

    /// Projects one row and appends the `width` values to `out`.
    pub fn project_into(&self, row: &[f32], out: &mut Vec<f32>) {
        let s = self.info.nonzeros;
        assert_eq!(row.len() * s, self.targets.len(), "row width differs from the sketch's input width");
        let start = out.len();
        out.resize(start + self.info.width, 0.0);
        let sketch = &mut out[start..];
        for (&x, targets) in row.iter().zip(self.targets.chunks_exact(s)) {
            if x == 0.0 {
                continue; // ReLU outputs are mostly zeros
            }
            let v = x * self.scale;
            for &t in targets {
                let slot = &mut sketch[(t & !SIGN) as usize];
                if t & SIGN == 0 { *slot += v } else { *slot -= v }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn project(sketch: &SparseSketch, rows: &[f32], m: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for row in rows.chunks_exact(m) {
            sketch.project_into(row, &mut out);
        }
        out
    }

    #[test]
    fn one_input_value_lands_in_every_block_with_its_norm() {
        let sketch = SparseSketch::new(100, 64, 8, 3);
        let mut row = vec![0.0f32; 100];
        row[42] = 2.0;
        let out = project(&sketch, &row, 100);
        let nonzero: Vec<usize> = (0..64).filter(|&i| out[i] != 0.0).collect();
        assert_eq!(nonzero.len(), 8);
        for (b, &i) in nonzero.iter().enumerate() {
            assert_eq!(i / 8, b, "one position per block");
            assert!((out[i].abs() - 2.0 / 8f32.sqrt()).abs() < 1e-6);
        }
        let norm: f32 = out.iter().map(|v| v * v).sum();
        assert!((norm - 4.0).abs() < 1e-5);
    }

    #[test]
    fn distances_are_kept_within_the_expected_spread() {
        // 60 rows of 20,000 sparse non-negative values (like ReLU activations) → 2,048 columns.
        let (n, m) = (60, 20_000);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let rows: Vec<f32> =
            (0..n * m).map(|_| if rng.random::<f32>() < 0.4 { rng.random::<f32>() * 3.0 } else { 0.0 }).collect();
        let sketch = SparseSketch::new(m, DEFAULT_SKETCH_WIDTH, DEFAULT_SKETCH_NONZEROS, 5);
        let out = project(&sketch, &rows, m);
        let k = sketch.width();
        let d2 = |v: &[f32], w: usize, i: usize, j: usize| -> f64 {
            (0..w).map(|c| (f64::from(v[i * w + c]) - f64::from(v[j * w + c])).powi(2)).sum()
        };
        let mut ratios = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                ratios.push(d2(&out, k, i, j) / d2(&rows, m, i, j));
            }
        }
        let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
        let spread = (ratios.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / ratios.len() as f64).sqrt();
        let worst = ratios.iter().map(|r| (r - 1.0).abs()).fold(0.0, f64::max);
        assert!((mean - 1.0).abs() < 0.02, "mean squared-distance ratio {mean}");
        assert!(spread < 2.0 * (2.0 / k as f64).sqrt(), "spread {spread}");
        assert!(worst < 0.2, "worst distortion {worst}");
    }

    #[test]
    fn the_seed_decides_the_projection() {
        let row: Vec<f32> = (0..500).map(|i| (i % 7) as f32).collect();
        let a = project(&SparseSketch::new(500, 128, 4, 1), &row, 500);
        let b = project(&SparseSketch::new(500, 128, 4, 1), &row, 500);
        let c = project(&SparseSketch::new(500, 128, 4, 2), &row, 500);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
