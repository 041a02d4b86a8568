//! The page's handle on the core: device, weights and network, outside the reactive graph.
//!
//! Leptos signals hold what the page shows; the network and its device live here, behind an
//! `Rc<RefCell<…>>`, and every method returns plain values for the components to display.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use burn::prelude::*;

use super::browser_files::now_ms;
use crate::backend::choice::BackendRequest;
use crate::backend::webgpu::{adapter_info, webgpu_device};
use crate::backend::{BackendKind, cpu_device};
use crate::data::dataset::DataSet;
use crate::data::image_input::image_file_to_input;
use crate::model::benchmark::{Throughput, measure_inference, probe};
use crate::model::inference::{class_probabilities, top_k};
use crate::model::squeezenet::SqueezeNet;
use crate::model::weights::{SqueezeNetWeights, load_weights};

/// The device the page computes on, and what to call it.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendInfo {
    pub kind: BackendKind,
    /// The WebGPU adapter, or why the CPU is used.
    pub detail: String,
}

/// Loaded weights, described for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    pub source: String,
    pub format: String,
    pub classes: usize,
    pub parameters: usize,
}

/// One image's result: the most probable classes (index, name, probability) and how long the
/// forward pass took.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub top: Vec<(usize, String, f32)>,
    pub millis: f64,
}

#[derive(Default)]
struct State {
    backend: Option<(Device, BackendInfo)>,
    weights: Option<SqueezeNetWeights>,
    net: Option<SqueezeNet>,
    /// Names for the network's classes, one per class (from a class-names file or training).
    class_names: Option<Vec<String>>,
    data_set: Option<Arc<DataSet>>,
    /// What the last training run produced: the analysis starts from it.
    trained: Option<TrainedModel>,
}

/// A finished fine-tuning run, kept for the analysis: the best network, on the device it was
/// evaluated on, its classes (the data set's) and the validation images it never trained on.
#[derive(Clone)]
pub struct TrainedModel {
    pub net: SqueezeNet,
    /// The same network's weights in host memory: it is rebuilt from them on the CPU after a
    /// GPU failure.
    pub weights: SqueezeNetWeights,
    pub data: Arc<DataSet>,
    pub validation: Vec<usize>,
}

/// Everything an analysis needs, as [`Engine::analysis_inputs`] found it.
pub struct AnalysisInputs {
    pub data: Arc<DataSet>,
    pub images: Vec<usize>,
    pub net: SqueezeNet,
    /// The same network's weights in host memory (for the training worker, which builds it
    /// again on its own CPU).
    pub weights: Option<SqueezeNetWeights>,
    pub network_classes: Vec<String>,
    pub device: Device,
    /// Says which network and which images, for the page.
    pub description: String,
}

/// Shared, cheaply clonable handle used by every component.
#[derive(Clone, Default)]
pub struct Engine(Rc<RefCell<State>>);

impl Engine {
    /// Picks the device: what the person asked for, or under `auto` WebGPU on a hardware
    /// adapter that a short probe does not find slower than the CPU (`backend::choice`).
    /// `on_probe` is told before the probe's second or so of work, so the page can say why
    /// it waits.
    pub async fn start(&self, request: BackendRequest, on_probe: impl Fn(&str)) -> BackendInfo {
        let cpu = |detail: String| (cpu_device(), BackendInfo { kind: BackendKind::Cpu, detail });
        let webgpu = || async { webgpu_device().await.map_err(|e| e.to_string()) };
        let (device, info) = match request {
            BackendRequest::Cpu => cpu("chosen with ?backend=cpu".into()),
            BackendRequest::WebGpu => match webgpu().await {
                Ok((device, adapter)) => (
                    device,
                    BackendInfo { kind: BackendKind::Wgpu, detail: format!("{adapter}, chosen with ?backend=webgpu") },
                ),
                Err(e) => cpu(e),
            },
            BackendRequest::Auto => match adapter_info().await {
                None => cpu("this browser offers no WebGPU adapter".into()),
                Some(adapter) if adapter.is_software() => cpu(format!(
                    "WebGPU's only adapter here, {}, is a software renderer, far slower than the CPU path",
                    adapter.name()
                )),
                Some(_) => match webgpu().await {
                    Err(e) => cpu(e),
                    Ok((gpu, adapter)) => {
                        on_probe(&adapter);
                        let clock = || now_ms() / 1000.0;
                        match probe(&gpu, &cpu_device(), &clock).await {
                            Ok(result) if result.faster() == BackendKind::Cpu => {
                                cpu(format!("faster than WebGPU on {adapter}: {}", result.describe()))
                            }
                            Ok(result) => (
                                gpu,
                                BackendInfo {
                                    kind: BackendKind::Wgpu,
                                    detail: format!("{adapter}; {}", result.describe()),
                                },
                            ),
                            Err(e) => cpu(format!("WebGPU on {adapter} failed a first test ({e})")),
                        }
                    }
                },
            },
        };
        self.0.borrow_mut().backend = Some((device, info.clone()));
        info
    }

    /// The page's device and its kind (for work that is not the network: t-SNE).
    pub fn compute_device(&self) -> Result<(Device, BackendKind), String> {
        self.0
            .borrow()
            .backend
            .as_ref()
            .map(|(d, info)| (d.clone(), info.kind))
            .ok_or_else(|| "the backend is still starting".into())
    }

    /// Moves the page to the CPU after its GPU device was lost (burn cannot get another one in
    /// this page): the loaded network is rebuilt there from its weights, kept on the host.
    pub fn fall_back_to_cpu(&self, why: &str) -> BackendInfo {
        let device = cpu_device();
        let info =
            BackendInfo { kind: BackendKind::Cpu, detail: format!("{why}; reload the page to try the GPU again") };
        let mut state = self.0.borrow_mut();
        state.net = state.weights.as_ref().map(|w| SqueezeNet::from_weights(w, &device));
        if let Some(trained) = state.trained.as_mut() {
            trained.net = SqueezeNet::from_weights(&trained.weights, &device);
        }
        state.backend = Some((device, info.clone()));
        info
    }

    fn device(&self) -> Result<Device, String> {
        self.0.borrow().backend.as_ref().map(|(d, _)| d.clone()).ok_or_else(|| "the backend is still starting".into())
    }

    /// Loads weights from a file's bytes and builds the network on the page's device.
    pub fn load_weights(&self, source: &str, bytes: &[u8]) -> Result<ModelSummary, String> {
        let (weights, format) = load_weights(bytes).map_err(|e| format!("{source}: {e}"))?;
        let device = self.device()?;
        let net = SqueezeNet::from_weights(&weights, &device);
        let summary = ModelSummary {
            source: source.to_string(),
            format: format.to_string(),
            classes: weights.num_classes(),
            parameters: weights.num_params(),
        };
        let mut state = self.0.borrow_mut();
        if state.class_names.as_ref().is_some_and(|names| names.len() != summary.classes) {
            state.class_names = None;
        }
        state.net = Some(net);
        state.weights = Some(weights);
        Ok(summary)
    }

    /// Takes class names from a text file (one per line, line 1 = class 0); the count must
    /// match the loaded network's classes. Returns how many names were read.
    pub fn set_class_names(&self, source: &str, text: &str) -> Result<usize, String> {
        let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        let mut state = self.0.borrow_mut();
        let classes = state.net.as_ref().map(|n| n.num_classes()).ok_or("load the weights before their class names")?;
        if names.len() != classes {
            return Err(format!("{source} names {} classes but the network has {classes}", names.len()));
        }
        state.class_names = Some(names);
        Ok(classes)
    }

    /// Keeps the labelled data set the user brought (replacing any earlier one).
    pub fn set_data_set(&self, data: Arc<DataSet>) {
        self.0.borrow_mut().data_set = Some(data);
    }

    /// What training starts from: the data set, the loaded network (or a random one when no
    /// weights are loaded — `false` in the result says so), and the device.
    pub fn training_inputs(&self) -> Result<(Arc<DataSet>, SqueezeNet, bool, Device), String> {
        let state = self.0.borrow();
        let data = state.data_set.clone().ok_or("bring a labelled data set first (step 1)")?;
        let device = state.backend.as_ref().map(|(d, _)| d.clone()).ok_or("the backend is still starting")?;
        let (net, pretrained) = match &state.net {
            Some(net) => (net.clone(), true),
            None => (SqueezeNet::new(crate::model::architecture::IMAGENET_CLASSES, &device), false),
        };
        Ok((data, net, pretrained, device))
    }

    /// The loaded network's weights (`None`: none loaded), for a run in the training worker.
    pub fn loaded_weights(&self) -> Option<SqueezeNetWeights> {
        self.0.borrow().weights.clone()
    }

    /// Keeps a finished training run for the analysis.
    pub fn set_trained(&self, trained: TrainedModel) {
        self.0.borrow_mut().trained = Some(trained);
    }

    /// The fine-tuned network's weights and validation images, when it was trained on the data
    /// set the page holds now (what a session saves).
    pub fn trained_on_current_data(&self) -> Option<(SqueezeNetWeights, Vec<usize>)> {
        let state = self.0.borrow();
        let data = state.data_set.as_ref()?;
        let trained = state.trained.as_ref().filter(|t| Arc::ptr_eq(&t.data, data))?;
        Some((trained.weights.clone(), trained.validation.clone()))
    }

    /// Puts back a network fine-tuned on the page's current data set (from a session): built on
    /// the page's device from its weights, as training would have left it.
    pub fn restore_trained(&self, weights: SqueezeNetWeights, validation: Vec<usize>) -> Result<(), String> {
        let device = self.device()?;
        let data = self.data_set().ok_or("a session's network comes with its data set")?;
        let net = SqueezeNet::from_weights(&weights, &device);
        self.set_trained(TrainedModel { net, weights, data, validation });
        Ok(())
    }

    /// What to analyse: the network fine-tuned on the current data set and its own validation
    /// images when there is one; otherwise the loaded network on the validation split of the
    /// data set (`fraction`, `seed`, as training would split it), predicting its own classes.
    /// `on_cpu`: a copy of the network on the CPU (after a GPU failure), whatever the page's
    /// backend.
    pub fn analysis_inputs(&self, fraction: f64, seed: u64, on_cpu: bool) -> Result<AnalysisInputs, String> {
        let state = self.0.borrow();
        let data = state.data_set.clone().ok_or("bring a labelled data set first (step 1)")?;
        let page_device = state.backend.as_ref().map(|(d, _)| d.clone()).ok_or("the backend is still starting")?;
        let device = if on_cpu { cpu_device() } else { page_device.clone() };
        let moved = |net: &SqueezeNet, weights: Option<&SqueezeNetWeights>| match weights {
            Some(weights) if device != page_device => SqueezeNet::from_weights(weights, &device),
            _ => net.clone(),
        };
        if let Some(trained) = state.trained.as_ref().filter(|t| Arc::ptr_eq(&t.data, &data)) {
            return Ok(AnalysisInputs {
                images: trained.validation.clone(),
                net: moved(&trained.net, Some(&trained.weights)),
                weights: Some(trained.weights.clone()),
                network_classes: data.classes.clone(),
                description: format!(
                    "the network fine-tuned in step 3, on its {} validation images",
                    trained.validation.len()
                ),
                data,
                device,
            });
        }
        let net = state.net.as_ref().ok_or("load weights (step 2) or fine-tune a network (step 3) first")?;
        let net = moved(net, state.weights.as_ref());
        let split = crate::data::split::split_each_label(&data, fraction, seed).map_err(|e| e.to_string())?;
        let classes = net.num_classes();
        let network_classes =
            state.class_names.clone().unwrap_or_else(|| (0..classes).map(|c| format!("class {c}")).collect());
        let own = if network_classes == data.classes {
            ""
        } else {
            " — not fine-tuned on these classes: \"predicted\" is the network's own class"
        };
        Ok(AnalysisInputs {
            description: format!(
                "the loaded network ({classes} classes{own}), on the {} validation images of a {fraction} / {:.2} split with seed {seed}",
                split.validation.len(),
                1.0 - fraction
            ),
            images: split.validation,
            net,
            weights: state.weights.clone(),
            network_classes,
            data,
            device,
        })
    }

    /// The data set the page holds.
    pub fn data_set(&self) -> Option<Arc<DataSet>> {
        self.0.borrow().data_set.clone()
    }

    pub fn has_model(&self) -> bool {
        self.0.borrow().net.is_some()
    }

    /// Classifies one image file: decode, preprocess, forward, top-k.
    pub async fn classify(&self, bytes: &[u8], k: usize) -> Result<Classification, String> {
        let input = image_file_to_input(bytes).map_err(|e| e.to_string())?;
        let (net, device) = {
            let state = self.0.borrow();
            let net = state.net.clone().ok_or("load weights first")?;
            (net, state.backend.as_ref().map(|(d, _)| d.clone()).ok_or("the backend is still starting")?)
        };
        let start = now_ms();
        let probabilities = class_probabilities(&net, &device, &[&input]).await.map_err(|e| e.to_string())?;
        let millis = now_ms() - start;
        let names = self.0.borrow().class_names.clone();
        let label = |class: usize| names.as_ref().map_or_else(|| format!("class {class}"), |n| n[class].clone());
        let top = top_k(&probabilities[0], k).into_iter().map(|(class, p)| (class, label(class), p)).collect();
        Ok(Classification { top, millis })
    }

    /// Images per second of a forward pass of `batch` synthetic images on the given backend
    /// (the page's own device for its kind; the CPU is always available), the median of
    /// `repeat` timed passes.
    pub async fn bench(&self, kind: BackendKind, batch: usize, repeat: usize) -> Result<Throughput, String> {
        let (weights, own) = {
            let state = self.0.borrow();
            (state.weights.clone().ok_or("load weights first")?, state.backend.clone())
        };
        let device = match (kind, own) {
            (BackendKind::Cpu, _) => cpu_device(),
            (BackendKind::Wgpu, Some((device, info))) if info.kind == BackendKind::Wgpu => device,
            (BackendKind::Wgpu, _) => return Err("WebGPU is not available in this browser".into()),
        };
        let net = SqueezeNet::from_weights(&weights, &device);
        let clock = || now_ms() / 1e3;
        measure_inference(&net, &device, batch, repeat, &clock).await.map_err(|e| e.to_string())
    }
}
