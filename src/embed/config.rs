//! Every t-SNE setting with its default and the presets' values, and the errors a run can
//! end with; the pipeline that uses them is `mod.rs`.

/// Largest N for which [`Method::Auto`] picks the exact method. Measured on one core
/// (`--release`, x86-64 baseline SSE2) on the digits data (N = 1,797, 1,000
/// iterations): exact 2.4 s (P over all pairs, fused SSE2 kernel), Barnes-Hut θ = 0.5
/// 2.3 s, and the exact run reaches a lower KL (0.67 vs 0.70). Above this the exact cost
/// grows as N² while Barnes-Hut grows as N log N, so Barnes-Hut wins.
pub const AUTO_EXACT_MAX_N: usize = 2_000;

/// Smallest N for which [`Method::Auto`] picks the FFT interpolation over Barnes-Hut:
/// the FFT's grid costs about the same at any N, Barnes-Hut's tree walk grows as
/// N log N. Measured on one core (`--release`) on the benchmark's 50-D mixture, 1,000
/// iterations: 3,000 points 5.2 s Barnes-Hut, 6.5 s FFT; 5,000: 10.3 s, 9.1 s; 10,000:
/// 22.6 s, 11.3 s.
pub const AUTO_FFT_MIN_N: usize = 5_000;

/// Smallest N for which [`Neighbours::Auto`] searches neighbours approximately: the exact
/// search costs O(N²·D) and passes a few seconds here.
pub const AUTO_APPROXIMATE_NEIGHBOURS_MIN_N: usize = 10_000;

/// How the repulsive forces (and with them, the affinities) are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// Exact for N ≤ [`AUTO_EXACT_MAX_N`], FFT from [`AUTO_FFT_MIN_N`], Barnes-Hut
    /// between.
    #[default]
    Auto,
    /// Exact O(N²) repulsion; P over all pairs.
    Exact,
    /// Barnes-Hut O(N log N) repulsion (θ = [`TsneConfig::theta`]); P over the
    /// ⌊3·perplexity⌋ nearest neighbours (van der Maaten 2014).
    BarnesHut,
    /// FFT-accelerated interpolation of the repulsion (FIt-SNE; `fft.rs`), O(N) plus a
    /// grid that grows with the map, not with N; P as for Barnes-Hut.
    Fft,
}

impl Method {
    /// Every method with the name typed for it (CLI flags, the page's choices) and the label
    /// the user reads, so both front ends name them the same.
    pub const CHOICES: [(Method, &'static str, &'static str); 4] = [
        (Method::Auto, "auto", "auto"),
        (Method::Exact, "exact", "exact"),
        (Method::BarnesHut, "bh", "Barnes-Hut"),
        (Method::Fft, "fft", "FFT"),
    ];

    /// The short name (`auto`, `exact`, `bh`).
    pub fn name(self) -> &'static str {
        Self::CHOICES.iter().find(|c| c.0 == self).map_or("auto", |c| c.1)
    }

    /// The name the user reads (`Barnes-Hut` for `bh`).
    pub fn label(self) -> &'static str {
        Self::CHOICES.iter().find(|c| c.0 == self).map_or("auto", |c| c.2)
    }

    /// The method actually used for `n` points.
    pub fn resolve(self, n: usize) -> Method {
        match self {
            Method::Auto if n <= AUTO_EXACT_MAX_N => Method::Exact,
            Method::Auto if n < AUTO_FFT_MIN_N => Method::BarnesHut,
            Method::Auto => Method::Fft,
            m => m,
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::CHOICES
            .iter()
            .find(|c| c.1.eq_ignore_ascii_case(s) || c.2.eq_ignore_ascii_case(s))
            .map(|c| c.0)
            .ok_or_else(|| format!("unknown t-SNE method `{s}`; use auto, exact, bh (Barnes-Hut) or fft"))
    }
}

/// Which pairs carry input affinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Affinities {
    /// All pairs with [`Method::Exact`], nearest neighbours with Barnes-Hut.
    #[default]
    Auto,
    /// All pairs (O(N²) time to build, entries below 1e-12 pruned).
    AllPairs,
    /// The k = ⌊3·perplexity⌋ nearest neighbours of each point, symmetrised.
    Nearest,
}

/// How the nearest neighbours of P are found (when P is over nearest neighbours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Neighbours {
    /// Exact below [`AUTO_APPROXIMATE_NEIGHBOURS_MIN_N`] points, approximate from there.
    #[default]
    Auto,
    /// Exact, by brute force: O(N²·D).
    Exact,
    /// Random-projection trees refined by neighbour-of-neighbour search
    /// (`neighbours.rs`), seeded by [`TsneConfig::seed`].
    Approximate,
}

impl Neighbours {
    /// Whether `n` points search approximately.
    pub fn approximate_for(self, n: usize) -> bool {
        match self {
            Neighbours::Auto => n >= AUTO_APPROXIMATE_NEIGHBOURS_MIN_N,
            Neighbours::Exact => false,
            Neighbours::Approximate => true,
        }
    }
}

/// Initial embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Init {
    /// First two principal components, first one scaled to standard deviation 1e-4
    /// (openTSNE; Kobak & Linderman 2021). Ignores the seed.
    #[default]
    Pca,
    /// N(0, 1e-4²) from the seed (van der Maaten & Hinton 2008; MATLAB).
    Random,
}

/// Every t-SNE parameter. Start from a preset and override fields.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TsneConfig {
    /// Perplexity, the effective number of neighbours of each point's Gaussian.
    /// Default 30 (van der Maaten & Hinton 2008; openTSNE, MATLAB, scikit-learn).
    /// Needs N ≥ ⌊3·perplexity⌋ + 1.
    pub perplexity: f64,
    /// Entropy tolerance (nats) of the per-point bandwidth search. Default 1e-5.
    pub perplexity_tolerance: f64,
    /// Iteration cap of the bandwidth search. Default 200.
    pub perplexity_max_iter: usize,
    /// Z-score every input column first. Default false (openTSNE and MATLAB).
    pub standardize: bool,
    /// Reduce to this many principal components before computing affinities, when the
    /// input has more columns; 0 = never. openTSNE preset: 50 (the usual advice, van der
    /// Maaten & Hinton 2008 §4.1); MATLAB preset: 0 (MATLAB's `NumPCAComponents`).
    pub pca_dims: usize,
    /// Repulsion method. Default [`Method::Auto`] (MATLAB: Barnes-Hut).
    pub method: Method,
    /// Support of P. Default [`Affinities::Auto`].
    pub affinities: Affinities,
    /// Nearest-neighbour search for P over nearest neighbours. Default
    /// [`Neighbours::Auto`] (openTSNE: exact below 1,000 points, approximate above).
    #[serde(default)]
    pub neighbours: Neighbours,
    /// Barnes-Hut opening angle: a cell of side s at distance d from a point is
    /// summarised when s/d < θ. Default 0.5 (van der Maaten 2014, openTSNE, MATLAB).
    pub theta: f64,
    /// Total gradient-descent iterations, early exaggeration included. Default 1000
    /// (openTSNE: 250 + 750; MATLAB: 1000).
    pub n_iter: usize,
    /// Learning rate η, applied to the true KL gradient (see the module doc).
    /// openTSNE preset: max(N/12, 50) (Belkina et al. 2019; the floor of 50 is
    /// scikit-learn's and equals openTSNE's floor of 200 in its convention);
    /// MATLAB preset: 500.
    pub learning_rate: f64,
    /// Early exaggeration α (P is multiplied by α at first). openTSNE: 12; MATLAB: 4.
    pub exaggeration: f64,
    /// Iterations with exaggeration. openTSNE: 250; MATLAB: 99.
    pub exaggeration_iter: usize,
    /// Momentum before `momentum_switch_iter`. Default 0.5.
    pub momentum_early: f64,
    /// Momentum after it. Default 0.8.
    pub momentum_final: f64,
    /// Iteration at which the momentum switches. openTSNE: 250 (end of exaggeration);
    /// MATLAB: 250 (van der Maaten's reference `tsne.m`).
    pub momentum_switch_iter: usize,
    /// Smallest per-coordinate gain. Default 0.01.
    pub min_gain: f64,
    /// Clip each point's update to this length (openTSNE: 5, which stops outliers from
    /// shooting off); `None` = no clipping (MATLAB).
    pub max_step_norm: Option<f64>,
    /// Initial embedding. openTSNE: PCA; MATLAB: random.
    pub init: Init,
    /// Seed of the random initialisation (and of the fallback for degenerate PCA).
    pub seed: u64,
    /// Call the progress callback every this many iterations (0 = only at the end).
    /// Default 50.
    pub progress_every: usize,
}

impl TsneConfig {
    /// openTSNE's defaults (the project default): exaggeration 12 for 250 iterations,
    /// then 750 more, learning rate max(N/12, 50), PCA initialisation, momentum
    /// 0.5 → 0.8, step clipping at 5, PCA to 50 dimensions first.
    ///
    /// The learning rate is N/12 in *this* crate's convention (true gradient, factor 4
    /// included), i.e. four times openTSNE's step for the same number. On digits
    /// (N = 1,797) that scored better than openTSNE's equivalent (η = 50 here):
    /// KL 0.675 vs 0.684 exact, 0.706 vs 0.716 Barnes-Hut, same neighbourhood scores.
    pub fn opentsne(n: usize) -> Self {
        TsneConfig {
            perplexity: 30.0,
            perplexity_tolerance: 1e-5,
            perplexity_max_iter: 200,
            standardize: false,
            pca_dims: 50,
            method: Method::Auto,
            affinities: Affinities::Auto,
            neighbours: Neighbours::Auto,
            theta: 0.5,
            n_iter: 1000,
            learning_rate: TsneConfig::auto_learning_rate(n),
            exaggeration: 12.0,
            exaggeration_iter: 250,
            momentum_early: 0.5,
            momentum_final: 0.8,
            momentum_switch_iter: 250,
            min_gain: 0.01,
            max_step_norm: Some(5.0),
            init: Init::Pca,
            seed: 0,
            progress_every: 50,
        }
    }

    /// MATLAB `tsne` defaults: Barnes-Hut θ 0.5, exaggeration 4 for the first 99
    /// iterations, learning rate 500, 1000 iterations, random initialisation, no
    /// standardisation, no PCA.
    pub fn matlab() -> Self {
        TsneConfig {
            pca_dims: 0,
            method: Method::BarnesHut,
            learning_rate: 500.0,
            exaggeration: 4.0,
            exaggeration_iter: 99,
            momentum_switch_iter: 250,
            max_step_norm: None,
            init: Init::Random,
            ..TsneConfig::opentsne(0)
        }
    }

    /// Smallest N the perplexity allows: ⌊3·perplexity⌋ neighbours plus the point.
    pub fn min_points(&self) -> usize {
        (3.0 * self.perplexity).floor() as usize + 1
    }
}

/// Errors of [`tsne`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TsneError {
    #[error("t-SNE input has no rows")]
    Empty,
    #[error("t-SNE input has no columns")]
    NoColumns,
    #[error("t-SNE input has {len} values, but {n} rows × {m} columns need {}", n * m)]
    ShapeMismatch { len: usize, n: usize, m: usize },
    #[error("t-SNE input value at row {row}, column {col} is {value}; remove or impute non-finite values")]
    NonFinite { row: usize, col: usize, value: f32 },
    #[error(
        "perplexity {perplexity} needs at least {min_points} points but there are {n}; lower it below (N-1)/3 = {:.2}",
        (*n as f64 - 1.0) / 3.0
    )]
    PerplexityTooLarge { perplexity: f64, n: usize, min_points: usize },
    #[error("invalid t-SNE parameter {name} = {value}: {reason}")]
    InvalidParameter { name: &'static str, value: f64, reason: &'static str },
    #[error("t-SNE diverged at iteration {iteration} (non-finite embedding); lower the learning rate")]
    Diverged { iteration: usize },
    #[error("t-SNE cancelled at iteration {iteration}")]
    Cancelled { iteration: usize },
}

fn check(name: &'static str, value: f64, ok: bool, reason: &'static str) -> Result<(), TsneError> {
    if ok && value.is_finite() { Ok(()) } else { Err(TsneError::InvalidParameter { name, value, reason }) }
}

pub(super) fn validate_config(c: &TsneConfig, n: usize) -> Result<(), TsneError> {
    check("perplexity", c.perplexity, c.perplexity > 0.0, "must be positive")?;
    check("perplexity_tolerance", c.perplexity_tolerance, c.perplexity_tolerance > 0.0, "must be positive")?;
    check("learning_rate", c.learning_rate, c.learning_rate > 0.0, "must be positive")?;
    check("exaggeration", c.exaggeration, c.exaggeration > 0.0, "must be positive")?;
    check("theta", c.theta, c.theta >= 0.0, "must be ≥ 0")?;
    check("momentum_early", c.momentum_early, (0.0..1.0).contains(&c.momentum_early), "must be in [0, 1)")?;
    check("momentum_final", c.momentum_final, (0.0..1.0).contains(&c.momentum_final), "must be in [0, 1)")?;
    check("min_gain", c.min_gain, c.min_gain >= 0.0, "must be ≥ 0")?;
    if let Some(s) = c.max_step_norm {
        check("max_step_norm", s, s > 0.0, "must be positive")?;
    }
    let min_points = c.min_points();
    if n < min_points {
        return Err(TsneError::PerplexityTooLarge { perplexity: c.perplexity, n, min_points });
    }
    Ok(())
}
