//! The analysis as one stepped job (workflow steps 5–8): activations of the validation images
//! with their predictions, then one t-SNE map per layer, each scored. The caller (CLI, page)
//! calls [`Analyzer::step`] until it returns [`AnalysisStep::Finished`], and may pause,
//! yield to the browser, draw the map under way, or stop between any two steps.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use burn::prelude::*;

use super::activations::{ActivationError, ActivationJob, ActivationOutput, LayerMatrix, MatrixBudget};
use super::confusion::ConfusionMatrix;
use super::map_task::{FinishedMap, MapTask};
use super::predictions::ImagePrediction;
use super::quality::{MapQuality, map_quality};
use super::rotation::Rotation;
use super::sketch::{DEFAULT_SKETCH_NONZEROS, DEFAULT_SKETCH_WIDTH, SketchInfo};
use crate::backend::{GpuFailure, GpuFailureSource};
use crate::data::dataset::DataSet;
use crate::embed::device_exact::{DEVICE_EXACT_MAX_N, DeviceTsneError};
use crate::embed::device_pca::device_pca;
use crate::embed::preset::TsnePreset;
use crate::embed::runner::{Runner, start};
use crate::embed::{Method, TsneConfig};
use crate::model::layers::Layer;
use crate::model::squeezenet::SqueezeNet;

/// The workflow's three layers: the first max pool, the last convolution, the softmax.
pub const DEFAULT_LAYERS: [Layer; 3] = [Layer::Pool1, Layer::Conv10, Layer::Prob];

/// Layers are kept exactly while their N × M floats together take at most this (pool1 for the
/// workflow's 341 validation images is 274 MB); the rest are sketched. With a network that was
/// not fine-tuned, conv10 has 1,000 channels and is as large as pool1: it is sketched.
pub const DEFAULT_MAX_EXACT_BYTES: usize = 384 << 20;

/// Every setting of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    /// Layers to map, in the order shown (workflow: pool1, conv10, prob; any tap may be added).
    pub layers: Vec<Layer>,
    /// t-SNE settings for every map, one seed for all (MATLAB's preset by default). The
    /// perplexity is lowered for small validation sets ([`TsneConfig::fitted_to`]).
    pub tsne: TsneConfig,
    /// Images per forward pass (and per step).
    pub chunk: usize,
    /// When and how wide layers are sketched.
    pub budget: MatrixBudget,
    /// Hand the maps that would run on the CPU to the caller as [`MapTask`]s
    /// ([`AnalysisStep::MapTaskReady`]) instead of iterating them in [`Analyzer::step`]: the
    /// page runs them in compute workers, side by side, off its own thread. Narrow layers are
    /// then handed out first, so that their maps start while a wide one is still being
    /// reduced. Default false (the CLI maps one layer after another).
    pub delegate_maps: bool,
}

impl AnalysisConfig {
    /// The workflow's analysis of `n` validation images with `preset`'s t-SNE and `seed`.
    pub fn new(preset: TsnePreset, n: usize, seed: u64) -> Self {
        Self {
            layers: DEFAULT_LAYERS.to_vec(),
            tsne: TsneConfig { seed, ..preset.config(n) },
            chunk: crate::backend::INFERENCE_PASS,
            budget: MatrixBudget {
                max_exact_bytes: DEFAULT_MAX_EXACT_BYTES,
                sketch_width: DEFAULT_SKETCH_WIDTH,
                sketch_nonzeros: DEFAULT_SKETCH_NONZEROS,
                seed,
            },
            delegate_maps: false,
        }
    }
}

/// One layer's map.
/// Saved in sessions (`crate::session`) as it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerMap {
    pub layer: Layer,
    /// One image's output shape in the network (`[C, H, W]` or `[K]`).
    pub per_image_shape: Vec<usize>,
    /// M: values per image in the network.
    pub width: usize,
    /// Set when the map was made from a sketch of the rows (see `sketch.rs`).
    pub sketch: Option<SketchInfo>,
    /// N×2, the optimiser's coordinates, one row per validation image.
    pub coords: Vec<f32>,
    /// Final KL(P‖Q) (Barnes-Hut: its estimate).
    pub kl: f64,
    pub method: Method,
    /// Trustworthiness and 5-NN accuracy of the true classes (`None` for tiny sets).
    pub quality: Option<MapQuality>,
    /// The t-SNE settings used (after fitting to N).
    pub tsne: TsneConfig,
    /// Anything the user should know about how this map was made.
    pub notes: Vec<String>,
}

/// The finished analysis: everything the Explore view and the exports show.
/// Saved in sessions (`crate::session`) as it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Analysis {
    /// The data set's classes (true classes).
    pub classes: Vec<String>,
    /// The network's classes (= `classes` when it was fine-tuned on this data set).
    pub network_classes: Vec<String>,
    /// Whether predictions are in the data set's classes (a fine-tuned network), so that
    /// "misclassified" and accuracy mean something.
    pub same_classes: bool,
    /// Data set file names, by image index (for exports and tooltips).
    pub files: Vec<String>,
    /// One per validation image, in validation order.
    pub predictions: Vec<ImagePrediction>,
    /// Class probabilities per validation image.
    pub probabilities: Vec<Vec<f32>>,
    /// Per validation image, the class activation maps of its two likeliest classes.
    pub class_maps: Vec<Vec<f32>>,
    pub class_map_side: usize,
    pub maps: Vec<LayerMap>,
}

impl Analysis {
    /// Rows: true classes; columns: the network's classes.
    pub fn confusion(&self) -> ConfusionMatrix {
        let truth: Vec<usize> = self.predictions.iter().map(|p| p.truth).collect();
        let predicted: Vec<usize> = self.predictions.iter().map(|p| p.predicted).collect();
        ConfusionMatrix::rectangular(self.classes.len(), self.network_classes.len(), &truth, &predicted)
    }

    /// Fraction classified correctly (`None` when the network's classes are not the data
    /// set's).
    pub fn accuracy(&self) -> Option<f64> {
        self.same_classes.then(|| self.confusion().accuracy())
    }

    /// One image's class activation map (0: likeliest class, 1: second), side × side.
    pub fn class_map(&self, position: usize, rank: usize) -> &[f32] {
        let plane = self.class_map_side * self.class_map_side;
        &self.class_maps[position][rank * plane..(rank + 1) * plane]
    }
}

/// Errors of an analysis.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("there are no validation images to analyse")]
    NoImages,
    #[error("no layers chosen to map")]
    NoLayers,
    #[error(transparent)]
    Activations(#[from] ActivationError),
    #[error("t-SNE of {layer}: {source}")]
    Tsne { layer: Layer, source: DeviceTsneError },
    /// A map handed out ([`AnalysisConfig::delegate_maps`]) failed where it ran.
    #[error("t-SNE of {layer}: {message}")]
    MapWorker { layer: Layer, message: String },
    /// The activations computed elsewhere ([`Analyzer::awaiting_activations`]) failed there,
    /// or came back not fitting the analysis.
    #[error("computing the activations: {0}")]
    ActivationsElsewhere(String),
}

impl GpuFailureSource for AnalysisError {
    fn gpu_failure(&self) -> Option<&GpuFailure> {
        match self {
            AnalysisError::Activations(ActivationError::Backend(e)) => e.gpu_failure(),
            AnalysisError::Tsne { source, .. } => source.gpu_failure(),
            _ => None,
        }
    }
}

/// What one [`Analyzer::step`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalysisStep {
    /// A chunk of images went through the network.
    Activations { done: usize, total: usize },
    /// Columns of a wide layer folded into its Gram matrix so far (CPU only).
    Reducing { index: usize, layer: Layer, done: usize, total: usize },
    /// A layer's t-SNE was prepared (PCA, affinities, initial map).
    MapStarted { index: usize, layer: Layer, method: Method },
    /// A layer's t-SNE is the caller's to run ([`AnalysisConfig::delegate_maps`]): it gives
    /// the result back with [`Analyzer::delegated_map_finished`].
    MapTaskReady { index: usize, layer: Layer, task: Box<MapTask> },
    /// One t-SNE iteration of map `index`; `kl` on report iterations.
    Iteration { index: usize, iteration: usize, iterations: usize, kl: Option<f64> },
    /// Map `index` is done and scored.
    MapFinished { index: usize },
    /// Everything is done: take the result with [`Analyzer::finish`].
    Finished,
}

enum Stage {
    Activations(Box<ActivationJob>),
    /// The caller computes the activations (the page, in its network worker) and hands them
    /// over with [`Analyzer::activations_arrived`].
    ActivationsElsewhere,
    NextMap,
    /// A layer wider than N being rotated onto its principal axes on the CPU, a block of
    /// columns per step (the Gram matrix of pool1 is seconds of work).
    Reducing(Box<(usize, LayerMatrix, Rotation)>),
    Mapping(Box<Mapping>),
    Done,
}

struct Mapping {
    index: usize,
    matrix_info: LayerMatrix,
    runner: Runner,
    method: Method,
    tsne: TsneConfig,
    /// The rows the map is scored against (exact distances of the layer's rows, or sketch).
    rows: Vec<f32>,
    columns: usize,
    notes: Vec<String>,
}

/// The analysis, one step at a time.
pub struct Analyzer {
    data: Arc<DataSet>,
    images: Vec<usize>,
    network_classes: Vec<String>,
    same_classes: bool,
    config: AnalysisConfig,
    device: Device,
    stage: Stage,
    /// Layer matrices still to map, with their index in `config.layers`.
    pending: VecDeque<(usize, LayerMatrix)>,
    activations: Option<ActivationOutput>,
    predictions: Vec<ImagePrediction>,
    /// By index in `config.layers`: each map once finished.
    maps: Vec<Option<LayerMap>>,
    /// Maps handed to the caller, waiting for their coordinates (everything else is filled in).
    delegated: BTreeMap<usize, LayerMap>,
}

impl Analyzer {
    /// An analysis of `images` (data set indices, usually the validation split) with `net`
    /// on `device`. `network_classes` names the network's outputs; when they are the data
    /// set's classes (a network fine-tuned on it) predictions count as right or wrong.
    pub fn new(
        data: Arc<DataSet>,
        images: Vec<usize>,
        net: SqueezeNet,
        network_classes: Vec<String>,
        device: Device,
        config: AnalysisConfig,
    ) -> Result<Self, AnalysisError> {
        let mut analyzer = Self::awaiting_activations(data, images, network_classes, device, config)?;
        let (images, config) = (&analyzer.images, &analyzer.config);
        let job = ActivationJob::new(net, images.clone(), config.layers.clone(), config.chunk, config.budget);
        analyzer.stage = Stage::Activations(Box::new(job));
        Ok(analyzer)
    }

    /// An analysis whose activations the caller computes (an [`ActivationJob`] over `images`
    /// with this configuration's layers, chunk and budget, run elsewhere) and hands over with
    /// [`Analyzer::activations_arrived`]; [`Analyzer::step`] waits for them until then.
    pub fn awaiting_activations(
        data: Arc<DataSet>,
        images: Vec<usize>,
        network_classes: Vec<String>,
        device: Device,
        config: AnalysisConfig,
    ) -> Result<Self, AnalysisError> {
        if images.is_empty() {
            return Err(AnalysisError::NoImages);
        }
        if config.layers.is_empty() {
            return Err(AnalysisError::NoLayers);
        }
        let same_classes = network_classes == data.classes;
        Ok(Self {
            data,
            images,
            network_classes,
            same_classes,
            device,
            stage: Stage::ActivationsElsewhere,
            pending: VecDeque::new(),
            activations: None,
            predictions: Vec::new(),
            maps: vec![None; config.layers.len()],
            delegated: BTreeMap::new(),
            config,
        })
    }

    /// True while [`Analyzer::activations_arrived`] is awaited.
    pub fn awaits_activations(&self) -> bool {
        matches!(self.stage, Stage::ActivationsElsewhere)
    }

    /// Hands over the activations computed elsewhere (wide layers may have been rotated
    /// there already: `rotation.rs`); the maps follow in the next steps.
    pub fn activations_arrived(&mut self, output: ActivationOutput) -> Result<(), AnalysisError> {
        if !self.awaits_activations() {
            return Err(AnalysisError::ActivationsElsewhere("the analysis was not waiting for them".into()));
        }
        let n = self.images.len();
        let layers: Vec<Layer> = output.matrices.iter().map(|m| m.layer).collect();
        if layers != self.config.layers {
            return Err(AnalysisError::ActivationsElsewhere(format!(
                "they are of layers {layers:?}, not {:?}",
                self.config.layers
            )));
        }
        if output.probabilities.len() != n || output.matrices.iter().any(|m| m.rows() != n) {
            return Err(AnalysisError::ActivationsElsewhere(format!("they are not of the {n} images analysed")));
        }
        self.take_activations(output);
        self.stage = Stage::NextMap;
        Ok(())
    }

    /// Keeps the predictions and class maps, and queues the layers' matrices for mapping.
    fn take_activations(&mut self, mut output: ActivationOutput) {
        self.predictions = self
            .images
            .iter()
            .zip(&output.probabilities)
            .map(|(&i, p)| ImagePrediction::new(i, self.data.images[i].class, p))
            .collect();
        let n = self.images.len();
        let mut pending: Vec<(usize, LayerMatrix)> =
            std::mem::take(&mut output.matrices).into_iter().enumerate().collect();
        if self.config.delegate_maps {
            // Stable: layers keep their order among the narrow and among the wide.
            pending.sort_by_key(|(_, matrix)| matrix.columns() > n);
        }
        self.pending = pending.into();
        self.activations = Some(output);
    }

    /// The configuration (layers, t-SNE, chunking).
    pub fn config(&self) -> &AnalysisConfig {
        &self.config
    }

    /// The network's class names.
    pub fn network_classes(&self) -> &[String] {
        &self.network_classes
    }

    /// Images analysed.
    pub fn images(&self) -> &[usize] {
        &self.images
    }

    /// The predictions, once the activations are done (empty before).
    pub fn predictions(&self) -> &[ImagePrediction] {
        &self.predictions
    }

    /// Per image, the class activation maps of its two likeliest classes, and their side,
    /// once the activations are done.
    pub fn class_maps(&self) -> Option<(&[Vec<f32>], usize)> {
        self.activations.as_ref().map(|a| (&a.class_maps[..], a.class_map_side))
    }

    /// Map `index` (position in the configured layers), once finished.
    pub fn map(&self, index: usize) -> Option<&LayerMap> {
        self.maps.get(index).and_then(Option::as_ref)
    }

    /// The map under way in [`Analyzer::step`]: its index and current coordinates (for
    /// drawing it live).
    pub fn live_map(&self) -> Option<(usize, Vec<f32>)> {
        match &self.stage {
            Stage::Mapping(m) => Some((m.index, m.runner.embedding())),
            _ => None,
        }
    }

    /// True when everything is done, delegated maps included.
    pub fn is_finished(&self) -> bool {
        matches!(self.stage, Stage::Done) && self.delegated.is_empty()
    }

    /// True when only delegated maps are left: [`Analyzer::step`] has nothing to do until
    /// the caller gives them back.
    pub fn waiting_for_delegated_maps(&self) -> bool {
        matches!(self.stage, Stage::Done) && !self.delegated.is_empty()
    }

    /// Gives back a map handed out by [`AnalysisStep::MapTaskReady`].
    pub fn delegated_map_finished(&mut self, index: usize, finished: FinishedMap) -> Result<(), String> {
        let FinishedMap { coords, kl, quality } = finished;
        let mut map = self.delegated.remove(&index).ok_or_else(|| format!("map {index} was not handed out"))?;
        if coords.len() != 2 * self.images.len() {
            return Err(format!(
                "map {index} came back with {} coordinates for {} images",
                coords.len(),
                self.images.len()
            ));
        }
        map.coords = coords;
        map.kl = kl;
        map.quality = quality;
        self.maps[index] = Some(map);
        Ok(())
    }

    /// Does the next piece of work.
    pub async fn step(&mut self) -> Result<AnalysisStep, AnalysisError> {
        match &mut self.stage {
            Stage::Activations(job) => {
                job.step(&self.device, &self.data).await?;
                let (done, total) = job.progress();
                if job.is_done() {
                    let Stage::Activations(job) = std::mem::replace(&mut self.stage, Stage::NextMap) else {
                        unreachable!()
                    };
                    self.take_activations((*job).finish());
                }
                Ok(AnalysisStep::Activations { done, total })
            }
            Stage::ActivationsElsewhere => {
                Err(AnalysisError::ActivationsElsewhere("the analysis was stepped before they arrived".into()))
            }
            Stage::NextMap => {
                let Some((index, matrix)) = self.pending.pop_front() else {
                    self.stage = Stage::Done;
                    return Ok(AnalysisStep::Finished);
                };
                let layer = matrix.layer;
                let (n, m) = (matrix.rows(), matrix.columns());
                // Rows wider than N are rotated onto their principal axes (`rotation.rs`).
                if Rotation::is_worth_it(&matrix) {
                    match self.tsne_device().cloned() {
                        None => {
                            let rotation = Rotation::new(&matrix);
                            self.stage = Stage::Reducing(Box::new((index, matrix, rotation)));
                            return Ok(AnalysisStep::Reducing { index, layer, done: 0, total: m });
                        }
                        Some(device) => {
                            let scores = device_pca(&matrix.values, n, m, n, &device)
                                .await
                                .map_err(|e| AnalysisError::Tsne { layer, source: e.into() })?;
                            return self.start_map(index, matrix, scores).await;
                        }
                    }
                }
                let rows = matrix.values.clone();
                self.start_map_with(index, matrix, rows, m).await
            }
            Stage::Reducing(reducing) => {
                let (index, matrix, rotation) = &mut **reducing;
                let progress = rotation.step(matrix);
                let (index, layer) = (*index, matrix.layer);
                if !rotation.is_done() {
                    return Ok(AnalysisStep::Reducing { index, layer, done: progress.done, total: progress.total });
                }
                let Stage::Reducing(reducing) = std::mem::replace(&mut self.stage, Stage::NextMap) else {
                    unreachable!()
                };
                let (index, mut matrix, rotation) = *reducing;
                rotation.finish(&mut matrix);
                let (rows, columns) = (matrix.values.clone(), matrix.columns());
                self.start_map_with(index, matrix, rows, columns).await
            }
            Stage::Mapping(mapping) => {
                let (index, layer) = (mapping.index, mapping.matrix_info.layer);
                let report = mapping.runner.step().await.map_err(|source| AnalysisError::Tsne { layer, source })?;
                if !report.finished {
                    return Ok(AnalysisStep::Iteration {
                        index,
                        iteration: report.iteration,
                        iterations: mapping.tsne.n_iter,
                        kl: report.kl,
                    });
                }
                let Stage::Mapping(mapping) = std::mem::replace(&mut self.stage, Stage::NextMap) else {
                    unreachable!()
                };
                let coords = mapping.runner.embedding();
                let labels: Vec<usize> = self.predictions.iter().map(|p| p.truth).collect();
                let quality = map_quality(&mapping.rows, mapping.columns, &coords, &labels);
                let info = mapping.matrix_info;
                self.maps[index] = Some(LayerMap {
                    layer: info.layer,
                    per_image_shape: info.per_image_shape,
                    width: info.width,
                    sketch: info.sketch,
                    coords,
                    kl: report.kl.unwrap_or(f64::NAN),
                    method: mapping.method,
                    quality,
                    tsne: mapping.tsne,
                    notes: mapping.notes,
                });
                Ok(AnalysisStep::MapFinished { index })
            }
            Stage::Done => Ok(AnalysisStep::Finished),
        }
    }

    /// Where PCA and the exact method's forces run: on a GPU device, the device; on the CPU,
    /// the f64 CPU code (more precise than the CPU tensor backend, and as fast).
    fn tsne_device(&self) -> Option<&Device> {
        (!crate::backend::is_cpu(&self.device)).then_some(&self.device)
    }

    /// Starts the t-SNE of a layer from its principal-component scores (N×d, f64).
    async fn start_map(
        &mut self,
        index: usize,
        matrix: LayerMatrix,
        scores: Vec<f64>,
    ) -> Result<AnalysisStep, AnalysisError> {
        let d = scores.len() / matrix.rows().max(1);
        let rows: Vec<f32> = scores.into_iter().map(|v| v as f32).collect();
        self.start_map_with(index, matrix, rows, d).await
    }

    /// Fits the t-SNE settings to N, prepares the optimiser (affinities, initial map) for
    /// `rows` (N × `columns`, the layer's rows or their rotation) and moves to mapping; or,
    /// when maps are delegated and this one would run on the CPU, hands it out as a task.
    async fn start_map_with(
        &mut self,
        index: usize,
        matrix: LayerMatrix,
        rows: Vec<f32>,
        columns: usize,
    ) -> Result<AnalysisStep, AnalysisError> {
        let (n, layer) = (matrix.rows(), matrix.layer);
        let mut notes = Vec::new();
        if let Some(sketch) = matrix.sketch {
            notes.push(format!(
                "made from a {}-column sparse random projection of the {} values per image (too large to keep for {n} images)",
                sketch.width, matrix.width
            ));
        }
        let (tsne, note) = self.config.tsne.fitted_to(n);
        notes.extend(note);
        let method = tsne.method.resolve(n);
        let on_device = self.tsne_device().is_some() && method == Method::Exact && n <= DEVICE_EXACT_MAX_N;
        if self.config.delegate_maps && !on_device {
            let labels = self.predictions.iter().map(|p| p.truth).collect();
            let task = MapTask { rows, n, columns, config: tsne.clone(), labels: Some(labels) };
            self.delegated.insert(
                index,
                LayerMap {
                    layer,
                    per_image_shape: matrix.per_image_shape,
                    width: matrix.width,
                    sketch: matrix.sketch,
                    coords: Vec::new(),
                    kl: f64::NAN,
                    method,
                    quality: None,
                    tsne,
                    notes,
                },
            );
            self.stage = Stage::NextMap;
            return Ok(AnalysisStep::MapTaskReady { index, layer, task: Box::new(task) });
        }
        let started = start(&rows, n, columns, &tsne, self.tsne_device())
            .await
            .map_err(|source| AnalysisError::Tsne { layer, source })?;
        let method = started.method;
        let matrix_info = LayerMatrix { values: Vec::new(), ..matrix };
        self.stage = Stage::Mapping(Box::new(Mapping {
            index,
            matrix_info,
            runner: started.runner,
            method,
            tsne,
            rows,
            columns,
            notes,
        }));
        Ok(AnalysisStep::MapStarted { index, layer, method })
    }

    /// The finished analysis (call after [`AnalysisStep::Finished`]; maps finished so far
    /// otherwise).
    pub fn finish(self) -> Analysis {
        let output = self.activations.unwrap_or(ActivationOutput {
            matrices: Vec::new(),
            probabilities: Vec::new(),
            class_maps: Vec::new(),
            class_map_side: 0,
        });
        Analysis {
            classes: self.data.classes.clone(),
            network_classes: self.network_classes,
            same_classes: self.same_classes,
            files: self.data.images.iter().map(|i| i.path.clone()).collect(),
            predictions: self.predictions,
            probabilities: output.probabilities,
            class_maps: output.class_maps,
            class_map_side: output.class_map_side,
            maps: self.maps.into_iter().flatten().collect(),
        }
    }
}
