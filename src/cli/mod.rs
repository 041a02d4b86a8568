//! The native command line: argument parsing and the words around the core's results.
//!
//! Exit codes: 0 success, 2 bad arguments (clap's convention), 1 any other failure; the
//! message goes to stderr. Each subcommand lives in its own file and only calls the core.

mod activations;
mod analyze;
mod bench;
mod classify;
mod common;
mod convert;
mod train;
mod tsne;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::backend::BackendKind;
use crate::model::layers::Layer;

#[derive(Debug, Parser)]
#[command(
    name = "layerlens",
    version,
    about = "See how SqueezeNet sees your images: classify, activations, train, t-SNE, benchmarks."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print each image's most probable classes.
    Classify(ClassifyArgs),
    /// Write the activations of chosen layers for every image to a safetensors file.
    Activations(ActivationsArgs),
    /// Fine-tune on a folder (or .zip) of labelled images, one sub-folder per class.
    Train(TrainArgs),
    /// Analyse the validation split: predictions, ambiguity, t-SNE maps of chosen layers.
    Analyze(AnalyzeArgs),
    /// Embed the rows of a matrix (CSV, .npy or a safetensors tensor) in 2-D with t-SNE.
    Tsne(TsneArgs),
    /// Measure throughput.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Convert SqueezeNet 1.1 weights (ONNX or safetensors) to the safetensors file the page loads.
    ConvertWeights(ConvertArgs),
}

#[derive(Debug, Args)]
struct ConvertArgs {
    /// Weights to read: .onnx (e.g. the ONNX model zoo's squeezenet1.1-7.onnx) or .safetensors.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// The safetensors file to write (torchvision key names, f32).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Options every model-running command shares.
#[derive(Debug, Args)]
struct ModelArgs {
    /// SqueezeNet 1.1 weights: a .safetensors (torchvision keys) or .onnx file.
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// Where to run: `cpu` (Flex) or `wgpu` (Vulkan/Metal/DX12; needs a GPU driver or Mesa lavapipe).
    #[arg(long, default_value = "cpu", value_parser = parse_backend)]
    backend: BackendKind,
}

#[derive(Debug, Args)]
struct ClassifyArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// How many classes to print per image.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    top: u16,
    /// A text file with one class name per line (line 1 = class 0).
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// Image files (JPEG, PNG, WebP, GIF, BMP).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ActivationsArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Comma-separated layer names: conv1, pool1, fire2…fire9, pool3, pool5, conv10, logits, prob.
    #[arg(long, value_delimiter = ',', required = true, value_parser = parse_layer)]
    layers: Vec<Layer>,
    /// Output safetensors file: one f32 tensor per layer, keyed by layer name.
    #[arg(long, value_name = "OUT.safetensors")]
    out: PathBuf,
    /// Images per forward pass.
    #[arg(long, default_value_t = crate::backend::INFERENCE_PASS, value_parser = parse_positive)]
    chunk: usize,
    /// Image files, written to the output in this order.
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// Folder (or .zip) of images; the folder containing each image names its class.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value_t = 50, value_parser = parse_positive)]
    epochs: usize,
    #[arg(long, default_value_t = 128, value_parser = parse_positive)]
    batch_size: usize,
    /// Images per forward/backward pass; gradients are summed over the mini-batch, so the
    /// update is the same. Default: 32 on wgpu (fits the 128 MiB buffer binding WebGPU guarantees), the
    /// whole mini-batch on the CPU.
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    micro_batch: Option<usize>,
    #[arg(long, default_value_t = 1e-4, value_parser = parse_learning_rate)]
    learning_rate: f64,
    /// Fraction of each class used for training; the rest validates.
    #[arg(long, default_value_t = 0.65, value_parser = parse_fraction)]
    train_fraction: f64,
    /// Seeds the split, shuffling, augmentation and the new head.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train without flips and scaling.
    #[arg(long)]
    no_augment: bool,
    /// Where to write the fine-tuned weights (safetensors; class names go to OUT.classes.txt).
    #[arg(long, value_name = "model.safetensors")]
    out: PathBuf,
    /// Also write a JSON report: per-epoch metrics, the split, validation predictions, confusion.
    #[arg(long, value_name = "report.json")]
    report: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct AnalyzeArgs {
    /// Folder (or .zip) of images; the folder containing each image names its class.
    #[arg(long, value_name = "DIR|ZIP")]
    data: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// The network's class names, one per line (default: the `.classes.txt` beside the
    /// weights that `layerlens train` writes, else "class 0", "class 1", …).
    #[arg(long, value_name = "FILE")]
    classes: Option<PathBuf>,
    /// Fraction of each class used for training; the rest is analysed (as `train`).
    #[arg(long, default_value_t = 0.65, value_parser = parse_fraction)]
    train_fraction: f64,
    /// Seeds the split (the same as `train`'s seed gives its validation images), the t-SNE
    /// and the sketch of layers too large to keep.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Comma-separated layers to map (any of conv1, pool1, fire2…fire9, pool3, pool5, conv10, logits, prob).
    #[arg(long, value_delimiter = ',', default_value = "pool1,conv10,prob", value_parser = parse_layer)]
    layers: Vec<Layer>,
    /// t-SNE defaults: MATLAB's (the workflow's) or openTSNE's.
    #[arg(long, default_value = "matlab", value_parser = parse_preset)]
    preset: crate::embed::preset::TsnePreset,
    /// Total t-SNE iterations per map.
    #[arg(long, value_parser = parse_positive)]
    iterations: Option<usize>,
    /// Keep the layers' rows exactly, in the order given, while together they take at most this
    /// many MiB (N × M × 4 bytes each); the others are reduced by a sparse random projection as
    /// each chunk arrives.
    #[arg(long, value_name = "MiB", default_value_t = crate::analysis::pipeline::DEFAULT_MAX_EXACT_BYTES >> 20)]
    max_exact_mib: usize,
    /// Columns of that projection.
    #[arg(long, value_name = "N", default_value_t = crate::analysis::sketch::DEFAULT_SKETCH_WIDTH, value_parser = parse_positive)]
    sketch_width: usize,
    /// Folder for map-<layer>.csv, ambiguity.csv, confusion.csv and predictions.json.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct TsneArgs {
    /// Matrix file, one row per observation: CSV/TSV (header detected), .npy, or .safetensors.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// safetensors: the tensor to embed (e.g. `pool1`); [N, …] is flattened per row.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// CSV: a column of labels to leave out of the data (header name, or 1-based number).
    #[arg(long, value_name = "NAME")]
    label_column: Option<String>,
    /// CSV: comma-separated columns to ignore (e.g. `index`).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    drop_columns: Vec<String>,
    /// Output CSV: N rows of x,y, the optimiser's raw coordinates.
    #[arg(long, value_name = "EMBEDDING.csv")]
    out: PathBuf,
    /// Defaults to start from: openTSNE's (exaggeration 12 for 250 iterations, 1000 in
    /// all, learning rate N/12, PCA init) or MATLAB's (4 for 99, 1000, 500, random init).
    #[arg(long, default_value = "opentsne", value_parser = parse_preset)]
    preset: crate::embed::preset::TsnePreset,
    #[arg(long, value_parser = parse_positive_f64)]
    perplexity: Option<f64>,
    /// Total iterations, early exaggeration included.
    #[arg(long, value_parser = parse_positive)]
    iterations: Option<usize>,
    #[arg(long, value_parser = parse_positive_f64)]
    exaggeration: Option<f64>,
    /// Iterations with early exaggeration (openTSNE preset: the momentum switches to 0.8
    /// after them too; MATLAB preset: at iteration 250 regardless).
    #[arg(long)]
    exaggeration_iterations: Option<usize>,
    /// `auto` = max(N/12, 50), or a number.
    #[arg(long, value_parser = str::parse::<crate::embed::preset::LearningRate>)]
    learning_rate: Option<crate::embed::preset::LearningRate>,
    #[arg(long, value_enum)]
    init: Option<tsne::InitArg>,
    /// Reduce to this many principal components first (0 = off; openTSNE preset: 50).
    #[arg(long)]
    pca_components: Option<usize>,
    /// Z-score every column first.
    #[arg(long)]
    standardize: bool,
    /// Repulsion: exact O(N²), Barnes-Hut (`bh`), FFT interpolation (`fft`), or `auto`
    /// (exact up to 2,000 points, Barnes-Hut below 5,000, FFT from there).
    #[arg(long, value_enum)]
    method: Option<tsne::MethodArg>,
    /// Nearest neighbours of P: exact, approximate, or `auto` (approximate from 10,000
    /// points).
    #[arg(long, value_enum)]
    neighbours: Option<tsne::NeighboursArg>,
    /// Barnes-Hut opening angle.
    #[arg(long)]
    theta: Option<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `wgpu`: PCA and the exact method's iterations on the GPU; Barnes-Hut and FFT stay
    /// on the CPU.
    #[arg(long, default_value = "cpu", value_parser = parse_backend)]
    backend: BackendKind,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Forward passes per second on synthetic 227×227 images.
    Inference(BenchInferenceArgs),
}

#[derive(Debug, Args)]
struct BenchInferenceArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Comma-separated batch sizes.
    #[arg(long, value_delimiter = ',', default_value = "1,32", value_parser = parse_positive)]
    batch: Vec<usize>,
    /// Timed passes per batch size (after one warm-up pass); the median is reported.
    #[arg(long, default_value_t = 3, value_parser = parse_positive)]
    repeat: usize,
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{s}` is not a positive whole number")),
    }
}

fn parse_positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
        _ => Err(format!("`{s}` is not a fraction strictly between 0 and 1")),
    }
}

fn parse_learning_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!("`{s}` is not a positive learning rate")),
    }
}

fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse()
}

fn parse_preset(s: &str) -> Result<crate::embed::preset::TsnePreset, String> {
    s.parse()
}

fn parse_layer(s: &str) -> Result<Layer, String> {
    s.parse().map_err(|e: crate::model::layers::UnknownLayer| e.to_string())
}

/// Runs the command line and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Classify(args) => classify::run(args),
        Command::Activations(args) => activations::run(args),
        Command::Train(args) => train::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Tsne(args) => tsne::run(args),
        Command::Bench(BenchCommand::Inference(args)) => bench::inference(args),
        Command::ConvertWeights(args) => convert::run(args),
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}
