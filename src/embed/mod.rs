//! t-SNE on the CPU: N×M activation matrix → N×2 embedding.
//!
//! t-distributed stochastic neighbour embedding (van der Maaten & Hinton, "Visualizing
//! Data using t-SNE", JMLR 9, 2008) with the Barnes-Hut acceleration of van der Maaten
//! ("Accelerating t-SNE using Tree-Based Algorithms", JMLR 15, 2014) and the defaults of
//! openTSNE (Poličar, Stražar & Zupan 2019; learning rate of Belkina et al. 2019; PCA
//! initialisation of Kobak & Linderman 2021) or of MATLAB's `tsne`.
//!
//! Pipeline ([`tsne`]): validate → optional z-scoring (`preprocess.rs`) → optional PCA
//! via the Gram or covariance matrix (`preprocess.rs`, `eigen.rs`) → affinities P with a
//! perplexity-calibrated Gaussian per point (`affinity.rs`) → initial embedding
//! (`init.rs`) → gradient descent with momentum, gains and early exaggeration
//! (`optimizer.rs`), the repulsion computed exactly (`gradient.rs`), by Barnes-Hut
//! (`barnes_hut.rs`) or by FFT-accelerated interpolation (`fft.rs`, Linderman et al.
//! 2019). Large inputs find their nearest neighbours approximately (`neighbours.rs`).
//!
//! Single-threaded and deterministic: the same input and configuration give a
//! bit-identical embedding on a given platform, in the browser too (no threads, no
//! clock, no platform RNG).
//!
//! Learning-rate convention: the step is η·gain·∂C/∂y with the true gradient of
//! KL(P‖Q), constant factor 4 included (van der Maaten & Hinton 2008, MATLAB's
//! `tsne`, scikit-learn). openTSNE, FIt-SNE and bhtsne drop the 4 from their gradient,
//! so their η corresponds to η/4 here; see [`TsneConfig::opentsne`].
//!
//! Cost on one core, digits (1,797 × 64, default preset, `--release`): 2.4 s exact,
//! 2.3 s Barnes-Hut (openTSNE's Barnes-Hut: 7.8 s). PCA through the Gram matrix costs
//! O(N²·M) plus O(N³) for the eigensolver (0.7 s at N = 1,000, 7.6 s at N = 2,000).

mod config;

pub mod affinity;
pub mod barnes_hut;
pub mod device_exact;
pub mod device_pca;
pub mod eigen;
pub mod fft;
pub mod fused;
pub mod gradient;
pub mod init;
pub mod neighbours;
pub mod optimizer;
pub mod preprocess;
pub mod preset;
pub mod runner;

use std::ops::ControlFlow;

use config::validate_config;
pub use config::{
    AUTO_APPROXIMATE_NEIGHBOURS_MIN_N, AUTO_EXACT_MAX_N, AUTO_FFT_MIN_N, Affinities, Init, Method, Neighbours,
    TsneConfig, TsneError,
};

use affinity::{BandwidthSearch, Support};
use optimizer::Forces;

/// What the progress callback sees.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Updates applied so far.
    pub iteration: usize,
    /// Total iterations planned.
    pub n_iter: usize,
    /// KL(P‖Q) of `embedding` (exact method: exact; otherwise with the approximate Z).
    pub kl: f64,
    /// Current coordinates, N×2 row-major.
    pub embedding: &'a [f32],
}

/// A finished embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// Coordinates, N×2 row-major, mean zero, in the optimiser's units (the KL depends
    /// on the scale: rescale only for display).
    pub coords: Vec<f32>,
    /// Number of points.
    pub n: usize,
    /// Final KL(P‖Q) (exact for [`Method::Exact`], with the approximate Z otherwise).
    pub kl: f64,
    /// Method used (never `Auto`).
    pub method: Method,
    /// Number of stored entries of P (a measure of the affinity cost).
    pub p_nnz: usize,
}

/// The input after standardisation and PCA: what the affinities are computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// N×d row-major.
    pub values: Vec<f64>,
    /// Number of points.
    pub n: usize,
    /// Columns per point.
    pub d: usize,
    /// Principal-component scores (N×k) for the PCA initialisation when `values` are
    /// not already scores; `None` when `values` are the scores themselves or the
    /// initialisation is random.
    pub init_scores: Option<(Vec<f64>, usize)>,
}

/// The PCA dimension [`reduce`] will use for an N×M input, if any (callers that compute
/// PCA elsewhere, e.g. on the GPU, ask this and then call [`Features::from_pca_scores`]).
pub fn pca_target(config: &TsneConfig, n: usize, m: usize) -> Option<usize> {
    (config.pca_dims > 0 && m > config.pca_dims).then(|| config.pca_dims.min(n))
}

impl Features {
    /// Features that are principal-component scores (N×d): they also initialise.
    pub fn from_pca_scores(scores: Vec<f64>, n: usize, d: usize) -> Self {
        Features { values: scores, n, d, init_scores: None }
    }
}

/// Checks the input and the configuration; call before any expensive work.
pub fn validate(data: &[f32], n: usize, m: usize, config: &TsneConfig) -> Result<(), TsneError> {
    preprocess::validate(data, n, m)?;
    validate_config(config, n)
}

/// The input z-scored per column when the configuration asks for it (a copy), else
/// borrowed as it is.
pub fn standardized<'a>(data: &'a [f32], n: usize, m: usize, config: &TsneConfig) -> std::borrow::Cow<'a, [f32]> {
    if config.standardize {
        let mut copy = data.to_vec();
        preprocess::standardize(&mut copy, n, m);
        std::borrow::Cow::Owned(copy)
    } else {
        std::borrow::Cow::Borrowed(data)
    }
}

/// Optional z-scoring and PCA on the CPU (see [`pca_target`]).
pub fn reduce(data: &[f32], n: usize, m: usize, config: &TsneConfig) -> Features {
    let data = standardized(data, n, m, config);
    let data = &data[..];
    if let Some(d) = pca_target(config, n, m) {
        let scores = preprocess::pca(data, n, m, d);
        let d = scores.len() / n;
        return Features::from_pca_scores(scores, n, d);
    }
    let init_scores = match config.init {
        Init::Pca => {
            let scores = preprocess::pca(data, n, m, 2);
            let k = scores.len() / n;
            Some((scores, k))
        }
        Init::Random => None,
    };
    Features { values: data.iter().map(|&v| v as f64).collect(), n, d: m, init_scores }
}

/// Affinities and initial embedding: everything the optimiser needs.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Joint probabilities P.
    pub p: affinity::SparseP,
    /// Initial embedding, N×2.
    pub y0: Vec<f64>,
    /// The method `config.method` resolved to for this N.
    pub method: Method,
    /// The configuration used.
    pub config: TsneConfig,
}

/// Computes P (perplexity-calibrated, on the support the method needs) and the initial
/// embedding.
pub fn prepare(features: Features, config: &TsneConfig) -> Prepared {
    let n = features.n;
    let method = config.method.resolve(n);
    let k = ((3.0 * config.perplexity).floor() as usize).min(n - 1);
    let support = if is_all_pairs(config, method) {
        Support::AllPairs
    } else if config.neighbours.approximate_for(n) {
        Support::ApproximateNearest(k, neighbours::ApproximateSearch::with_seed(config.seed))
    } else {
        Support::Nearest(k)
    };
    let search = BandwidthSearch {
        perplexity: config.perplexity,
        tolerance: config.perplexity_tolerance,
        max_iter: config.perplexity_max_iter,
    };
    let p = affinity::joint_probabilities(&features.values, n, features.d, support, &search);
    let y0 = match config.init {
        Init::Random => init::random_init(n, config.seed, init::INIT_STD),
        Init::Pca => match &features.init_scores {
            Some((scores, k)) => init::pca_init(scores, n, *k, config.seed),
            None => init::pca_init(&features.values, n, features.d, config.seed),
        },
    };
    Prepared { p, y0, method, config: config.clone() }
}

/// A CPU optimiser for prepared affinities: exact (dense P fused with the repulsion
/// when it fits), Barnes-Hut or FFT.
pub fn cpu_optimizer(prepared: Prepared) -> optimizer::CpuOptimizer {
    let Prepared { p, y0, method, config } = prepared;
    let forces = cpu_forces(&p, &config, method);
    optimizer::CpuOptimizer::new(optimizer::Optimizer::new(p, y0, config), forces)
}

/// The CPU's way to compute `method`'s forces for the affinities `p`.
fn cpu_forces(p: &affinity::SparseP, config: &TsneConfig, method: Method) -> Forces {
    match method {
        Method::Exact if p.n <= gradient::PackedP::MAX_N && is_all_pairs(config, method) => {
            Forces::ExactDense(gradient::PackedP::from_sparse(p), Default::default())
        }
        Method::Exact => Forces::Exact(Default::default()),
        Method::Fft => Forces::Fft(Box::default()),
        Method::Auto | Method::BarnesHut => Forces::BarnesHut(barnes_hut::BarnesHut::new(), config.theta),
    }
}

/// An optimiser that ran its exact iterations elsewhere (on a GPU that failed) goes on on the
/// CPU from the same state — embedding, gains, momentum, iteration — so nothing it did is lost.
pub fn exact_on_cpu(opt: optimizer::Optimizer) -> optimizer::CpuOptimizer {
    let forces = cpu_forces(opt.affinities(), opt.config(), Method::Exact);
    optimizer::CpuOptimizer::new(opt, forces)
}

fn is_all_pairs(config: &TsneConfig, method: Method) -> bool {
    matches!((config.affinities, method), (Affinities::AllPairs, _) | (Affinities::Auto, Method::Exact))
}

/// An embedding (N×2, row-major) as CSV, one `x,y` row per point, each number in the shortest
/// form that reads back to the same f32 (what `layerlens tsne` writes and the page downloads).
pub fn coordinates_csv(coords: &[f32]) -> String {
    let mut csv = String::with_capacity(coords.len() * 12);
    for p in coords.chunks_exact(2) {
        csv.push_str(&format!("{},{}\n", p[0], p[1]));
    }
    csv
}

/// A CPU optimiser ready to step, and what [`start_on_cpu`] decided.
#[derive(Debug)]
pub struct CpuStart {
    pub optimizer: optimizer::CpuOptimizer,
    /// The method the configuration resolved to.
    pub method: Method,
    /// Stored entries of P.
    pub p_nnz: usize,
}

/// Validates, reduces (PCA when the settings ask for it), computes P and the initial map, all
/// on the CPU: the one place a CPU map starts, for [`tsne`], the page's thread, its compute
/// workers and the CLI, so that each makes the same map from the same rows bit for bit.
pub fn start_on_cpu(data: &[f32], n: usize, m: usize, config: &TsneConfig) -> Result<CpuStart, TsneError> {
    validate(data, n, m, config)?;
    let prepared = prepare(reduce(data, n, m, config), config);
    let (method, p_nnz) = (prepared.method, prepared.p.nnz());
    Ok(CpuStart { optimizer: cpu_optimizer(prepared), method, p_nnz })
}

/// Embed the rows of `data` (N×M, row-major) in 2-D, on the CPU.
///
/// `progress` is called every `config.progress_every` iterations and after the last
/// one; returning `ControlFlow::Break(())` stops the run with [`TsneError::Cancelled`].
pub fn tsne(
    data: &[f32],
    n: usize,
    m: usize,
    config: &TsneConfig,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<Embedding, TsneError> {
    let CpuStart { optimizer: mut opt, method, p_nnz } = start_on_cpu(data, n, m, config)?;
    let kl = optimizer::run_to_end(&mut opt, progress)?;
    Ok(Embedding { coords: opt.embedding().iter().map(|&v| v as f32).collect(), n, kl, method, p_nnz })
}

#[cfg(test)]
mod tests;
