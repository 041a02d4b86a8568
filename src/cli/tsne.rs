//! `layerlens tsne`: embed the rows of a matrix file in 2-D and write them as CSV.

use std::time::Instant;

use futures_lite::future::block_on;

use super::TsneArgs;
use super::common::read_file;
use crate::backend::{BackendKind, native_device};
use crate::data::matrix::{MatrixOptions, read_matrix};
use crate::embed::runner::start;
use crate::embed::{Init, Method, Neighbours, TsneConfig};

/// The `--method` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Exact up to 2,000 points, Barnes-Hut below 5,000, FFT from there.
    Auto,
    /// Exact O(N²) gradient.
    Exact,
    /// Barnes-Hut, θ = --theta.
    Bh,
    /// FFT-accelerated interpolation of the repulsion (FIt-SNE).
    Fft,
}

/// The `--neighbours` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NeighboursArg {
    /// Exact below 10,000 points, approximate from there.
    Auto,
    /// Exact brute-force search, O(N²·D).
    Exact,
    /// Random-projection trees refined by neighbour-of-neighbour search.
    Approximate,
}

/// The `--init` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitArg {
    Pca,
    Random,
}

/// The configuration the flags describe for `n` points: the preset, then each flag given.
pub fn config_from_args(args: &TsneArgs, n: usize) -> Result<TsneConfig, String> {
    let mut c = args.preset.config(n);
    if let Some(p) = args.perplexity {
        c.perplexity = p;
    }
    if let Some(t) = args.iterations {
        c.n_iter = t;
    }
    if let Some(x) = args.exaggeration {
        c.exaggeration = x;
    }
    if let Some(t) = args.exaggeration_iterations {
        c.set_exaggeration_iterations(t);
    }
    if let Some(rate) = args.learning_rate {
        c.learning_rate = rate.for_points(n);
    }
    match args.init {
        Some(InitArg::Pca) => c.init = Init::Pca,
        Some(InitArg::Random) => c.init = Init::Random,
        None => {}
    }
    if let Some(d) = args.pca_components {
        c.pca_dims = d;
    }
    if args.standardize {
        c.standardize = true;
    }
    if let Some(theta) = args.theta {
        c.theta = theta;
    }
    c.method = match args.method {
        None => c.method,
        Some(MethodArg::Auto) => Method::Auto,
        Some(MethodArg::Exact) => Method::Exact,
        Some(MethodArg::Bh) => Method::BarnesHut,
        Some(MethodArg::Fft) => Method::Fft,
    };
    match args.neighbours {
        None => {}
        Some(NeighboursArg::Auto) => c.neighbours = Neighbours::Auto,
        Some(NeighboursArg::Exact) => c.neighbours = Neighbours::Exact,
        Some(NeighboursArg::Approximate) => c.neighbours = Neighbours::Approximate,
    }
    c.seed = args.seed;
    c.progress_every = 50;
    Ok(c)
}

pub fn run(args: TsneArgs) -> Result<(), String> {
    let bytes = read_file(&args.input)?;
    let options = MatrixOptions {
        key: args.key.clone(),
        label_column: args.label_column.clone(),
        drop_columns: args.drop_columns.clone(),
        missing_columns_ok: false,
    };
    let matrix = read_matrix(&bytes, &options).map_err(|e| format!("{}: {e}", args.input.display()))?;
    drop(bytes);
    let config = config_from_args(&args, matrix.n)?;
    let device = match args.backend {
        BackendKind::Cpu => None,
        kind => Some(native_device(kind).map_err(|e| format!("backend {kind}: {e}"))?),
    };
    eprintln!("{}: {}", args.input.display(), matrix.description);
    let started_at = Instant::now();
    let started =
        block_on(start(&matrix.values, matrix.n, matrix.m, &config, device.as_ref())).map_err(|e| e.to_string())?;
    let mut runner = started.runner;
    let method = started.method.label();
    let place = if runner.on_device() { args.backend.label() } else { "CPU" };
    eprintln!(
        "{method} gradient on the {place}; PCA {}; P has {} entries; prepared in {:.2} s",
        match (config.pca_dims > 0 && matrix.m > config.pca_dims, started.pca_on_device) {
            (false, _) => "off".to_string(),
            (true, true) => format!("to {} dimensions on {}", config.pca_dims, args.backend.label()),
            (true, false) => format!("to {} dimensions on the CPU", config.pca_dims),
        },
        started.p_nnz,
        started_at.elapsed().as_secs_f64()
    );
    let kl = loop {
        let step = block_on(runner.step()).map_err(|e| e.to_string())?;
        if let Some(kl) = step.kl {
            if step.finished {
                break kl;
            }
            eprintln!("iteration {}/{}  KL {kl:.4}", step.iteration, config.n_iter);
        }
    };
    std::fs::write(&args.out, crate::embed::coordinates_csv(&runner.embedding()))
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    eprintln!(
        "{} points embedded in {:.2} s; KL divergence {kl:.6} ({method}); wrote {}",
        matrix.n,
        started_at.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
