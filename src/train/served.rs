//! A training run served over messages: what the page's training worker
//! (`src/training_worker.rs`) speaks, kept in the core so that it compiles and is tested
//! natively like the rest of it.
//!
//! Like the map workers' conversation (`analysis::map_task`) it is pulled by the page: the
//! worker builds the run when asked ([`TrainRequest::Start`]), then does one step of it per
//! [`TrainRequest::Step`]. So pausing is not asking, and cancelling is
//! [`TrainRequest::StopTraining`] followed by steps to the run's own end (the best network so
//! far is still evaluated), exactly as the page's own loop does with a [`TrainingRun`].
//!
//! The worker holds no image. When a step needs a file it asks the page for it
//! ([`TrainReply::NeedFiles`]) and waits; the page reads it (a browser `File`, read off both
//! threads, or bytes it holds) and sends it back ([`TrainRequest::Files`]). A folder of
//! handles stays the page's, and the worker's memory holds only the mini-batch at hand.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::evaluate::Evaluation;
use super::run::{RunStep, TrainingRun};
use super::trainer::Trainer;
use crate::backend::cpu_device;
use crate::data::augment::Augmentation;
use crate::data::dataset::{ByteSource, DataSet, ImageBytes, LabelledImage};
use crate::model::architecture::IMAGENET_CLASSES;
use crate::model::squeezenet::SqueezeNet;
use crate::model::weights::{SqueezeNetWeights, load_weights, weights_to_safetensors};

/// Everything a run needs but the images' bytes: the starting network, the data set's
/// classes and files (by index, the page's order), and the settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainTask {
    /// The network to fine-tune, as a safetensors file; `None`: random weights (no pretrained
    /// network loaded).
    #[serde(with = "serde_bytes")]
    pub weights: Option<Vec<u8>>,
    pub classes: Vec<String>,
    /// Per image: its path (for messages) and class index.
    pub images: Vec<(String, usize)>,
    pub config: TrainConfig,
    /// Sent beside `config`, whose serialised form leaves it out.
    pub augmentation: Augmentation,
}

impl TrainTask {
    /// The task for fine-tuning `weights` (or random weights) on `data`.
    pub fn new(weights: Option<&SqueezeNetWeights>, data: &DataSet, config: TrainConfig) -> Result<Self, String> {
        let weights = weights.map(weights_to_safetensors).transpose().map_err(|e| e.to_string())?;
        Ok(Self {
            weights,
            classes: data.classes.clone(),
            images: data.images.iter().map(|image| (image.path.clone(), image.class)).collect(),
            augmentation: config.augmentation,
            config,
        })
    }
}

/// What the page asks of the training worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TrainRequest {
    /// Builds the run (replaces any run before it).
    Start(Box<TrainTask>),
    /// Does the run's next step.
    Step,
    /// Ends training before its last epoch; the next steps evaluate and export the best network.
    StopTraining,
    /// Files a step asked for: their index and bytes, or why they could not be read.
    Files(Vec<SentFile>),
    /// Runs a tiny training run on made-up images: the browser compiles the training code's
    /// hot functions with its optimising compiler on first use, which on a 2-core machine
    /// starves the page's frames for 100–250 ms. Asked when the worker starts, it happens
    /// before the user's run rather than in it.
    WarmUp,
}

/// One image file's bytes (as one byte string on the wire), or why it could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentFile {
    pub index: usize,
    pub bytes: Result<serde_bytes::ByteBuf, String>,
}

/// Where the run is after a step, for the page's progress line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub epochs_done: usize,
    pub iterations_done: usize,
    pub stopped_early: bool,
}

impl RunState {
    pub fn of(run: &TrainingRun) -> Self {
        Self {
            epochs_done: run.trainer().epochs_done(),
            iterations_done: run.trainer().iterations_done(),
            stopped_early: run.stopped_early(),
        }
    }
}

/// What a finished run hands back: everything the page keeps of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedRun {
    /// The best network's weights, as a safetensors file.
    #[serde(with = "serde_bytes")]
    pub weights: Vec<u8>,
    /// The validation images classified by it.
    pub evaluation: Evaluation,
    /// The validation split's image indices (the images the analysis looks at).
    pub validation: Vec<usize>,
    /// True when training was stopped before its last epoch.
    pub stopped_early: bool,
    /// The iteration of the last finished epoch (what "finished after N iterations" counts).
    pub last_epoch_iteration: usize,
}

/// What the training worker answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TrainReply {
    /// The run is built: iterations per epoch, for the page's estimate of the time left.
    Started { iterations_per_epoch: usize },
    /// A step needs these files before it can go on.
    NeedFiles(Vec<usize>),
    /// A step is done. With [`RunStep::Finished`] comes the run's result.
    Stepped { step: RunStep, state: RunState, finished: Option<Box<FinishedRun>> },
    /// The run could not be built or a step failed; the message is for the user.
    Failed(String),
    /// The warm-up run is done (in this many steps): the worker is ready.
    WarmedUp { steps: usize },
}

/// The files a step waits for, and those the page has sent: shared by the worker's
/// [`ByteSource`]s (which ask and wait) and the server (which tells the page, and fills it).
#[derive(Default)]
struct FileDesk {
    /// Asked for and not yet told to the page.
    wanted: Vec<usize>,
    /// Sent by the page, not yet read.
    arrived: HashMap<usize, Result<Vec<u8>, String>>,
    waiting: Vec<Waker>,
}

/// An image file that lives on the page's side: reading it asks the page and waits.
struct PageFile {
    index: usize,
    desk: Arc<Mutex<FileDesk>>,
}

impl ByteSource for PageFile {
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + '_>> {
        let mut asked = false;
        Box::pin(std::future::poll_fn(move |cx| {
            let mut desk = self.desk.lock().expect("the file desk is never poisoned: nothing panics holding it");
            if let Some(bytes) = desk.arrived.remove(&self.index) {
                return Poll::Ready(bytes);
            }
            if !asked {
                desk.wanted.push(self.index);
                asked = true;
            }
            desk.waiting.push(cx.waker().clone());
            Poll::Pending
        }))
    }

    fn size(&self) -> u64 {
        0
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The training worker's side of the conversation: a [`TrainingRun`] on the CPU, stepped on
/// request, reading its images through the page.
pub struct TrainServer {
    run: Rc<RefCell<Option<TrainingRun>>>,
    desk: Arc<Mutex<FileDesk>>,
}

/// How a request is answered: now, later (a step, which may wait for files), or not at all.
pub enum Answer {
    Now(TrainReply),
    /// Poll it to the end, telling the page what [`TrainServer::take_wanted_files`] returns
    /// each time it is pending.
    Later(Pin<Box<dyn Future<Output = TrainReply>>>),
    Nothing,
}

impl Default for TrainServer {
    fn default() -> Self {
        Self { run: Rc::new(RefCell::new(None)), desk: Arc::new(Mutex::new(FileDesk::default())) }
    }
}

impl TrainServer {
    pub fn handle(&self, request: TrainRequest) -> Answer {
        match request {
            TrainRequest::Start(task) => Answer::Now(self.start(*task)),
            TrainRequest::WarmUp => Answer::Now(warm_up()),
            TrainRequest::Step => Answer::Later(Box::pin(step(self.run.clone()))),
            TrainRequest::StopTraining => {
                if let Some(run) = self.run.borrow_mut().as_mut() {
                    run.stop_training();
                }
                Answer::Nothing
            }
            TrainRequest::Files(files) => {
                let mut desk = self.desk.lock().expect("the file desk is never poisoned");
                for file in files {
                    desk.arrived.insert(file.index, file.bytes.map(serde_bytes::ByteBuf::into_vec));
                }
                for waker in desk.waiting.drain(..) {
                    waker.wake();
                }
                Answer::Nothing
            }
        }
    }

    /// The files steps have asked for since the last call: the page is to send them.
    pub fn take_wanted_files(&self) -> Vec<usize> {
        std::mem::take(&mut self.desk.lock().expect("the file desk is never poisoned").wanted)
    }

    fn start(&self, task: TrainTask) -> TrainReply {
        let device = cpu_device();
        let net = match &task.weights {
            Some(bytes) => match load_weights(bytes) {
                Ok((weights, _)) => SqueezeNet::from_weights(&weights, &device),
                Err(e) => return TrainReply::Failed(format!("the network sent to the worker: {e}")),
            },
            None => SqueezeNet::new(IMAGENET_CLASSES, &device),
        };
        let images = task
            .images
            .into_iter()
            .enumerate()
            .map(|(index, (path, class))| LabelledImage {
                path,
                class,
                content: ImageBytes::Elsewhere(Arc::new(PageFile { index, desk: self.desk.clone() })),
                thumbnail: RgbImage::new(0, 0),
            })
            .collect();
        let data = Arc::new(DataSet { classes: task.classes, images, rejected: Vec::new() });
        let config = TrainConfig { augmentation: task.augmentation, ..task.config };
        match Trainer::new(data, net, &device, config) {
            Ok(trainer) => {
                let iterations_per_epoch = trainer.iterations_per_epoch();
                *self.run.borrow_mut() = Some(TrainingRun::new(trainer));
                TrainReply::Started { iterations_per_epoch }
            }
            Err(e) => TrainReply::Failed(e.to_string()),
        }
    }
}

/// One step of the run: taken out of the server while it runs (a second step asked meanwhile
/// is refused), put back after — unless it finished (its result is in the reply: the worker
/// stays up for the page's next run holding nothing) or a new run was started meanwhile.
async fn step(slot: Rc<RefCell<Option<TrainingRun>>>) -> TrainReply {
    let Some(mut run) = slot.borrow_mut().take() else {
        return TrainReply::Failed("no training run to step (start one first)".into());
    };
    let reply = match run.step().await {
        Ok(step) => match finished_run(&run, &step) {
            Ok(finished) => TrainReply::Stepped { step, state: RunState::of(&run), finished },
            Err(message) => TrainReply::Failed(message),
        },
        Err(e) => TrainReply::Failed(e.to_string()),
    };
    let mut slot = slot.borrow_mut();
    if !run.is_finished() && slot.is_none() {
        *slot = Some(run);
    }
    reply
}

/// A whole run — validation, one iteration forward and backward, Adam's step, validation
/// again — on four made-up 16×16 images of two classes with a random network: every function a
/// real run uses, called enough for the browser to optimise it.
fn warm_up() -> TrainReply {
    let mut builder = crate::data::dataset::DataSetBuilder::new();
    for (index, shade) in [40u8, 90, 160, 220].into_iter().enumerate() {
        let image = RgbImage::from_pixel(16, 16, image::Rgb([shade, 255 - shade, shade / 2]));
        let mut png = Vec::new();
        if let Err(e) = image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png) {
            return TrainReply::Failed(format!("warming up: {e}"));
        }
        builder.add_file(&format!("class{}/{index}.png", index % 2), png);
    }
    let device = cpu_device();
    let config = TrainConfig { epochs: 1, batch_size: 2, train_fraction: 0.5, ..TrainConfig::default() };
    let trainer = match Trainer::new(Arc::new(builder.finish()), SqueezeNet::new(2, &device), &device, config) {
        Ok(trainer) => trainer,
        Err(e) => return TrainReply::Failed(format!("warming up: {e}")),
    };
    let mut run = TrainingRun::new(trainer);
    let mut cx = Context::from_waker(Waker::noop());
    let mut steps = 0;
    while !run.is_finished() {
        // Its images are in memory: every step is done when first polled.
        match std::pin::pin!(run.step()).poll(&mut cx) {
            Poll::Ready(Ok(_)) => steps += 1,
            Poll::Ready(Err(e)) => return TrainReply::Failed(format!("warming up: {e}")),
            Poll::Pending => return TrainReply::Failed("warming up: a step waited for nothing".into()),
        }
    }
    TrainReply::WarmedUp { steps }
}

/// After the run's last step: what the page keeps of it.
fn finished_run(run: &TrainingRun, step: &RunStep) -> Result<Option<Box<FinishedRun>>, String> {
    let (RunStep::Finished, Some(outcome)) = (step, run.outcome()) else {
        return Ok(None);
    };
    Ok(Some(Box::new(FinishedRun {
        weights: weights_to_safetensors(&outcome.weights).map_err(|e| e.to_string())?,
        evaluation: outcome.evaluation.clone(),
        validation: run.trainer().split().validation.clone(),
        stopped_early: outcome.stopped_early,
        last_epoch_iteration: run.trainer().history().last().map_or(0, |m| m.iteration),
    })))
}

/// Polls `answer` to its end with `cx`, handing the files it waits for to `ask` — the loop a
/// worker runs inside its event loop, and a native test runs by hand.
pub fn poll_answer(
    server: &TrainServer,
    answer: &mut Pin<Box<dyn Future<Output = TrainReply>>>,
    cx: &mut Context<'_>,
    ask: &mut dyn FnMut(Vec<usize>),
) -> Poll<TrainReply> {
    let polled = answer.as_mut().poll(cx);
    if polled.is_pending() {
        let wanted = server.take_wanted_files();
        if !wanted.is_empty() {
            ask(wanted);
        }
    }
    polled
}
