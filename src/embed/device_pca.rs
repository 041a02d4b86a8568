//! PCA before t-SNE on a burn device, for matrices too wide for the CPU to be quick:
//! pool1 of 341 images is 341 × 200,704 (274 MB), 23 GFLOP for the Gram matrix.
//!
//! The centred cross-product is accumulated on the device from blocks of the input,
//! each uploaded, multiplied and dropped, and the device finishes each block before the next
//! is made (a one-value read), so at most one block (≤
//! [`BLOCK_BYTES`](super::device_exact::BLOCK_BYTES)) of the input is ever on the device or
//! waiting in memory to be uploaded — without that wait burn queues every block's upload at
//! once, and the page's memory held the whole matrix a second time:
//! * N ≤ M: the N×N Gram matrix X̃X̃ᵀ over blocks of columns;
//! * N > M: the M×M scatter matrix X̃ᵀX̃ over blocks of rows.
//!
//! The small matrix is read back once, the eigenproblem is solved on the CPU in f64, and
//! the scores are formed exactly as the CPU route forms them (same sign convention), so
//! the two agree up to f32 accumulation error.

use burn::prelude::*;

use super::device_exact::BLOCK_BYTES;
use super::preprocess::{PcaRoute, column_means, pca_route, scores_from_gram, scores_from_scatter};
use crate::backend::{BackendError, read_f32};

/// Principal-component scores (N×d row-major, d clamped to min(N, M)), computed with
/// the cross-product on `device`. Same result as [`super::preprocess::pca`].
pub async fn device_pca(data: &[f32], n: usize, m: usize, d: usize, device: &Device) -> Result<Vec<f64>, BackendError> {
    let mean = column_means(data, n, m);
    match pca_route(n, m) {
        PcaRoute::Gram => {
            let gram = centred_gram(data, n, m, &mean, device).await?;
            let gram = symmetric_f64(read_f32(gram).await?, n);
            Ok(scores_from_gram(&gram, n, m, d))
        }
        PcaRoute::Covariance => {
            let scatter = centred_scatter(data, n, m, &mean, device).await?;
            let scatter = symmetric_f64(read_f32(scatter).await?, m);
            Ok(scores_from_scatter(data, n, m, &mean, &scatter, d))
        }
    }
}

/// Columns per Gram block: an N × this f32 block stays within [`BLOCK_BYTES`].
pub fn gram_block_columns(n: usize, m: usize) -> usize {
    (BLOCK_BYTES / (4 * n.max(1))).clamp(1, m.max(1))
}

/// Waits until the device has done the work queued into `accumulated` (one value is read).
async fn settle(accumulated: &Tensor<2>) -> Result<(), BackendError> {
    read_f32(accumulated.clone().slice([0..1, 0..1])).await.map(drop)
}

async fn centred_gram(
    data: &[f32],
    n: usize,
    m: usize,
    mean: &[f64],
    device: &Device,
) -> Result<Tensor<2>, BackendError> {
    let width = gram_block_columns(n, m);
    let mut gram = Tensor::<2>::zeros([n, n], device);
    for c0 in (0..m).step_by(width) {
        let c1 = (c0 + width).min(m);
        let w = c1 - c0;
        let mut block = Vec::with_capacity(n * w);
        for row in data.chunks_exact(m) {
            block.extend(row[c0..c1].iter().zip(&mean[c0..c1]).map(|(&x, &mu)| (x as f64 - mu) as f32));
        }
        let block = Tensor::<2>::from_data(TensorData::new(block, [n, w]), device);
        gram = gram + block.clone().matmul(block.transpose());
        settle(&gram).await?;
    }
    Ok(gram)
}

async fn centred_scatter(
    data: &[f32],
    n: usize,
    m: usize,
    mean: &[f64],
    device: &Device,
) -> Result<Tensor<2>, BackendError> {
    let rows = (BLOCK_BYTES / (4 * m.max(1))).clamp(1, n.max(1));
    let mut scatter = Tensor::<2>::zeros([m, m], device);
    for r0 in (0..n).step_by(rows) {
        let r1 = (r0 + rows).min(n);
        let block: Vec<f32> = data[r0 * m..r1 * m]
            .chunks_exact(m)
            .flat_map(|row| row.iter().zip(mean).map(|(&x, &mu)| (x as f64 - mu) as f32))
            .collect();
        let block = Tensor::<2>::from_data(TensorData::new(block, [r1 - r0, m]), device);
        scatter = scatter + block.clone().transpose().matmul(block);
        settle(&scatter).await?;
    }
    Ok(scatter)
}

/// f32 k×k from the device → f64, averaged with its transpose (the device's
/// accumulation order can leave it asymmetric in the last bits; the eigensolver wants
/// an exactly symmetric matrix).
fn symmetric_f64(values: Vec<f32>, k: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; k * k];
    for i in 0..k {
        for j in 0..k {
            out[i * k + j] = 0.5 * (values[i * k + j] as f64 + values[j * k + i] as f64);
        }
    }
    out
}
