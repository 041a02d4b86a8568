//! The page's side of its training worker (`crate::training_worker`): a fine-tuning run, or
//! the analysis's activations, on the CPU stepped in a Web Worker, so the page's thread only
//! draws the progress.
//!
//! [`WorkerRun`] and [`WorkerActivations`] are stepped by the page's job driver like work on
//! the page's own thread: each step asks the worker for one step of the job and answers the
//! files that step needs (read from the page's data set: the browser reads a `File` off both
//! threads).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use gloo_worker::{Spawnable, WorkerBridge};

use super::browser_files::{query_param, sleep_ms};
use super::job_driver::SteppedJob;
use super::map_workers::WorkerError;
use super::worker_inbox::{Inbox, next_reply};
use crate::analysis::activations::ActivationOutput;
use crate::data::dataset::{DataSet, ImageBytes};
use crate::served::activations::{ActivationProgress, ActivationTask};
use crate::served::files::SentFile;
use crate::served::training::{FinishedRun, RunState, TrainTask};
use crate::served::{EngineReply, EngineRequest};
use crate::train::RunStep;
use crate::training_worker::TrainingWorker;

/// The worker's loader, written by trunk beside the page (index.html, `data-loader-shim`).
const WORKER_SCRIPT: &str = "./layerlens-training-worker_loader.js";

/// How long a run waits for the worker to build it (after its warm-up, which takes a few
/// seconds on a slow machine) before telling the user it did not start.
const START_TIMEOUT_MS: u32 = 120_000;

/// Whether CPU training runs in the worker: yes, unless the address says `?training-worker=0`
/// (the page's own thread, in time slices, as before there was a worker: for comparison).
pub fn training_in_worker() -> bool {
    query_param("training-worker").is_none_or(|v| v.trim() != "0")
}

/// The page's one training worker and the replies it sent. Started ahead of the first run
/// ([`warm_up`]) and kept for the next: the browser optimises the training code on its first
/// use, on its own threads, and on a 2-core machine that starved the page's frames for
/// 100–250 ms when it fell in the user's run.
struct SharedWorker {
    bridge: WorkerBridge<TrainingWorker>,
    inbox: Rc<RefCell<Inbox<EngineReply>>>,
    ready: Rc<RefCell<Readiness>>,
}

thread_local! {
    static WORKER: RefCell<Option<Rc<SharedWorker>>> = const { RefCell::new(None) };
}

/// Starts the training worker if it is not running yet, and its warm-up
/// (`EngineRequest::WarmUp`); `on_ready` is called when the worker is warm (at once if it
/// already is). The page calls it when a data set is ready to train on the CPU.
pub fn warm_up(on_ready: impl Fn() + 'static) {
    let worker = shared_worker();
    let mut ready = worker.ready.borrow_mut();
    match &mut *ready {
        Readiness::Ready => on_ready(),
        Readiness::WarmingUp(waiting) => waiting.push(Box::new(on_ready)),
    }
}

enum Readiness {
    /// Those to tell when the warm-up is done.
    WarmingUp(Vec<Box<dyn Fn()>>),
    Ready,
}

impl SharedWorker {
    /// Sends a job's start and waits for the worker to build it (its refusal as the error).
    async fn start(&self, request: EngineRequest) -> Result<EngineReply, WorkerError> {
        self.inbox.borrow_mut().clear();
        self.bridge.send(request);
        let started = futures_lite::future::or(async { Some(next_reply(&self.inbox).await) }, async {
            sleep_ms(START_TIMEOUT_MS).await;
            None
        });
        match started.await {
            None => Err(WorkerError(format!(
                "the training worker did not answer within {} s (it may have failed to load); reload the page, or add ?training-worker=0 to the address to compute on the page's thread",
                START_TIMEOUT_MS / 1000
            ))),
            Some(EngineReply::Failed(message)) => Err(WorkerError(message)),
            Some(reply) => Ok(reply),
        }
    }

    /// Asks for the job's next step and answers the files it needs until it is done: its
    /// reply, or its failure as the error.
    async fn step(&self, data: &DataSet) -> Result<EngineReply, WorkerError> {
        self.bridge.send(EngineRequest::Step);
        loop {
            match next_reply(&self.inbox).await {
                EngineReply::NeedFiles(indices) => self.send_files(data, indices).await,
                EngineReply::Failed(message) => return Err(WorkerError(message)),
                reply => return Ok(reply),
            }
        }
    }

    /// Sends the worker the files it asked for, one message each (a photo is megabytes).
    async fn send_files(&self, data: &DataSet, indices: Vec<usize>) {
        for index in indices {
            let bytes = match data.images.get(index).map(|image| &image.content) {
                Some(ImageBytes::Held(bytes)) => Ok(bytes.to_vec()),
                Some(ImageBytes::Elsewhere(source)) => source.read().await,
                None => Err(format!("the page has no image {index}")),
            };
            let file = SentFile { index, bytes: bytes.map(serde_bytes::ByteBuf::from) };
            self.bridge.send(EngineRequest::Files(vec![file]));
        }
    }
}

fn out_of_turn() -> WorkerError {
    WorkerError("the training worker answered out of turn".into())
}

fn shared_worker() -> Rc<SharedWorker> {
    WORKER.with(|slot| {
        slot.borrow_mut()
            .get_or_insert_with(|| {
                let inbox = Rc::new(RefCell::new(Inbox::default()));
                let ready = Rc::new(RefCell::new(Readiness::WarmingUp(Vec::new())));
                let (to_inbox, to_ready) = (inbox.clone(), ready.clone());
                let bridge = TrainingWorker::spawner()
                    .callback(move |reply| {
                        if let EngineReply::WarmedUp { .. } | EngineReply::Failed(_) = reply
                            && matches!(*to_ready.borrow(), Readiness::WarmingUp(_))
                        {
                            // The warm-up's answer (a failed warm-up only means a cold worker).
                            let was = std::mem::replace(&mut *to_ready.borrow_mut(), Readiness::Ready);
                            if let Readiness::WarmingUp(waiting) = was {
                                waiting.iter().for_each(|tell| tell());
                            }
                            return;
                        }
                        to_inbox.borrow_mut().deliver(reply);
                    })
                    .with_loader(true)
                    .as_module(false)
                    .spawn(WORKER_SCRIPT);
                bridge.send(EngineRequest::WarmUp);
                Rc::new(SharedWorker { bridge, inbox, ready })
            })
            .clone()
    })
}

/// A training run in the worker, as the page sees it.
pub struct WorkerRun {
    worker: Rc<SharedWorker>,
    data: Arc<DataSet>,
    state: RunState,
    iterations_per_epoch: usize,
    finished: Option<Box<FinishedRun>>,
}

impl WorkerRun {
    /// Builds the run in the page's training worker (started now if it was not); the run's
    /// own refusal (a data set it cannot split, …) as its message.
    pub async fn start(task: TrainTask, data: Arc<DataSet>) -> Result<Self, WorkerError> {
        let worker = shared_worker();
        match worker.start(EngineRequest::StartTraining(Box::new(task))).await? {
            EngineReply::TrainingStarted { iterations_per_epoch } => Ok(Self {
                worker,
                data,
                state: RunState { epochs_done: 0, iterations_done: 0, stopped_early: false },
                iterations_per_epoch,
                finished: None,
            }),
            _ => Err(out_of_turn()),
        }
    }

    pub fn iterations_per_epoch(&self) -> usize {
        self.iterations_per_epoch
    }

    /// Where the run is, as of its last step.
    pub fn state(&self) -> RunState {
        self.state
    }

    /// Ends training before its last epoch: the next steps evaluate the best network so far.
    pub fn stop_training(&mut self) {
        self.worker.bridge.send(EngineRequest::StopTraining);
    }

    /// The run's result, once it is finished.
    pub fn finished(&self) -> Option<&FinishedRun> {
        self.finished.as_deref()
    }
}

impl SteppedJob for WorkerRun {
    type Report = RunStep;
    type Error = WorkerError;

    async fn step(&mut self) -> Result<RunStep, WorkerError> {
        match self.worker.step(&self.data).await? {
            EngineReply::TrainingStepped { step, state, finished } => {
                self.state = state;
                self.finished = finished;
                Ok(step)
            }
            _ => Err(out_of_turn()),
        }
    }

    fn is_finished(&self) -> bool {
        self.finished.is_some()
    }
}

/// The analysis's activations computed in the worker, as the page sees them: stepped until
/// the output arrives, which the page's `Analyzer` then takes.
pub struct WorkerActivations {
    worker: Rc<SharedWorker>,
    data: Arc<DataSet>,
}

impl WorkerActivations {
    /// Prepares the activations in the page's training worker (started now if it was not).
    pub async fn start(task: ActivationTask, data: Arc<DataSet>) -> Result<Self, WorkerError> {
        let worker = shared_worker();
        match worker.start(EngineRequest::StartActivations(Box::new(task))).await? {
            EngineReply::ActivationsStarted { .. } => Ok(Self { worker, data }),
            _ => Err(out_of_turn()),
        }
    }

    /// The next chunk of images (or block of a wide layer's rotation); with the last, every
    /// layer's rows.
    pub async fn step(&mut self) -> Result<(ActivationProgress, Option<Box<ActivationOutput>>), WorkerError> {
        match self.worker.step(&self.data).await? {
            EngineReply::ActivationsStepped { progress, output } => Ok((progress, output)),
            _ => Err(out_of_turn()),
        }
    }
}
