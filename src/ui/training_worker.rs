//! The page's side of its training worker (`crate::training_worker`): a fine-tuning run on
//! the CPU stepped in a Web Worker, so the page's thread only draws the progress.
//!
//! [`WorkerRun`] is stepped by the page's job driver like a run on the page's own thread: each
//! step asks the worker for one step of the run and answers the files that step needs (read
//! from the page's data set: the browser reads a `File` off both threads).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use gloo_worker::{Spawnable, WorkerBridge};

use super::browser_files::{query_param, sleep_ms};
use super::job_driver::SteppedJob;
use super::map_workers::WorkerError;
use super::worker_inbox::{Inbox, next_reply};
use crate::data::dataset::{DataSet, ImageBytes};
use crate::train::RunStep;
use crate::train::served::{FinishedRun, RunState, SentFile, TrainReply, TrainRequest, TrainTask};
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
    inbox: Rc<RefCell<Inbox<TrainReply>>>,
    ready: Rc<RefCell<Readiness>>,
}

thread_local! {
    static WORKER: RefCell<Option<Rc<SharedWorker>>> = const { RefCell::new(None) };
}

/// Starts the training worker if it is not running yet, and its warm-up
/// (`TrainRequest::WarmUp`); `on_ready` is called when the worker is warm (at once if it
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

fn shared_worker() -> Rc<SharedWorker> {
    WORKER.with(|slot| {
        slot.borrow_mut()
            .get_or_insert_with(|| {
                let inbox = Rc::new(RefCell::new(Inbox::default()));
                let ready = Rc::new(RefCell::new(Readiness::WarmingUp(Vec::new())));
                let (to_inbox, to_ready) = (inbox.clone(), ready.clone());
                let bridge = TrainingWorker::spawner()
                    .callback(move |reply| {
                        if let TrainReply::WarmedUp { .. } | TrainReply::Failed(_) = reply
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
                bridge.send(TrainRequest::WarmUp);
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
        worker.inbox.borrow_mut().clear();
        worker.bridge.send(TrainRequest::Start(Box::new(task)));
        let mut run = Self {
            worker,
            data,
            state: RunState { epochs_done: 0, iterations_done: 0, stopped_early: false },
            iterations_per_epoch: 0,
            finished: None,
        };
        let started = futures_lite::future::or(async { Some(run.next_reply().await) }, async {
            sleep_ms(START_TIMEOUT_MS).await;
            None
        });
        let Some(reply) = started.await else {
            return Err(WorkerError(format!(
                "the training worker did not answer within {} s (it may have failed to load); reload the page, or add ?training-worker=0 to the address to train on the page's thread",
                START_TIMEOUT_MS / 1000
            )));
        };
        match reply {
            TrainReply::Started { iterations_per_epoch } => {
                run.iterations_per_epoch = iterations_per_epoch;
                Ok(run)
            }
            TrainReply::Failed(message) => Err(WorkerError(message)),
            _ => Err(WorkerError("the training worker answered out of turn".into())),
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
        self.worker.bridge.send(TrainRequest::StopTraining);
    }

    /// The run's result, once it is finished.
    pub fn finished(&self) -> Option<&FinishedRun> {
        self.finished.as_deref()
    }

    async fn next_reply(&self) -> TrainReply {
        next_reply(&self.worker.inbox).await
    }

    /// Sends the worker the files it asked for, one message each (a photo is megabytes).
    async fn send_files(&self, indices: Vec<usize>) {
        for index in indices {
            let bytes = match self.data.images.get(index).map(|image| &image.content) {
                Some(ImageBytes::Held(bytes)) => Ok(bytes.to_vec()),
                Some(ImageBytes::Elsewhere(source)) => source.read().await,
                None => Err(format!("the page has no image {index}")),
            };
            let file = SentFile { index, bytes: bytes.map(serde_bytes::ByteBuf::from) };
            self.worker.bridge.send(TrainRequest::Files(vec![file]));
        }
    }
}

impl SteppedJob for WorkerRun {
    type Report = RunStep;
    type Error = WorkerError;

    async fn step(&mut self) -> Result<RunStep, WorkerError> {
        self.worker.bridge.send(TrainRequest::Step);
        loop {
            match self.next_reply().await {
                TrainReply::NeedFiles(indices) => self.send_files(indices).await,
                TrainReply::Stepped { step, state, finished } => {
                    self.state = state;
                    self.finished = finished;
                    return Ok(step);
                }
                TrainReply::Failed(message) => return Err(WorkerError(message)),
                TrainReply::Started { .. } | TrainReply::WarmedUp { .. } => {
                    return Err(WorkerError("the training worker answered out of turn".into()));
                }
            }
        }
    }

    fn is_finished(&self) -> bool {
        self.finished.is_some()
    }
}
