//! The engine served over messages: what the page's network worker (`src/training_worker.rs`)
//! speaks — a fine-tuning run on the CPU (`training`), or the analysis's activations on the CPU
//! (`activations`) — kept in the core so that it compiles and is tested natively like the rest.
//! Above `train` and `analysis`, which know nothing of it.
//!
//! Like the map workers' conversation (`analysis::map_task`) it is pulled by the page: the
//! worker builds a job when asked ([`EngineRequest::StartTraining`],
//! [`EngineRequest::StartActivations`]), then does one step of it per [`EngineRequest::Step`].
//! So pausing is not asking, and cancelling is not asking any more (training:
//! [`EngineRequest::StopTraining`] followed by steps to the run's own end, where the best
//! network so far is still evaluated, exactly as the page's own loop does with a
//! [`TrainingRun`]).
//!
//! The worker holds no image: a step that needs a file asks the page for it
//! ([`EngineReply::NeedFiles`], `files.rs`) and waits for [`EngineRequest::Files`].

pub mod activations;
pub mod files;
pub mod training;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};

use crate::analysis::activations::ActivationOutput;
use crate::train::{RunStep, TrainingRun};
use activations::{ActivationProgress, ActivationTask, ServedActivations};
use files::{FileDesk, SentFile};
use training::{FinishedRun, RunState, TrainTask};

/// What the page asks of its network worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EngineRequest {
    /// Builds a training run (replacing any job before it).
    StartTraining(Box<TrainTask>),
    /// Prepares the analysis's activations (replacing any job before it).
    StartActivations(Box<ActivationTask>),
    /// Does the job's next step.
    Step,
    /// Ends training before its last epoch; the next steps evaluate and export the best network.
    StopTraining,
    /// Files a step asked for: their index and bytes, or why they could not be read.
    Files(Vec<SentFile>),
    /// Runs a tiny training run on made-up images: the browser compiles the engine's hot
    /// functions with its optimising compiler on first use, which on a 2-core machine starves
    /// the page's frames for 100–250 ms. Asked when the worker starts, it happens before the
    /// user's work rather than in it.
    WarmUp,
}

/// What the network worker answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EngineReply {
    /// The run is built: iterations per epoch, for the page's estimate of the time left.
    TrainingStarted { iterations_per_epoch: usize },
    /// The activations are ready to compute, for this many images.
    ActivationsStarted { images: usize },
    /// A step needs these files before it can go on.
    NeedFiles(Vec<usize>),
    /// A training step is done. With [`RunStep::Finished`] comes the run's result.
    TrainingStepped { step: RunStep, state: RunState, finished: Option<Box<FinishedRun>> },
    /// A step of the activations is done; with the last, all of them (wide layers rotated).
    ActivationsStepped { progress: ActivationProgress, output: Option<Box<ActivationOutput>> },
    /// The job could not be built or a step failed; the message is for the user.
    Failed(String),
    /// The warm-up run is done (in this many steps): the worker is ready.
    WarmedUp { steps: usize },
}

/// The job the worker holds.
enum Job {
    Training(Box<TrainingRun>),
    Activations(Box<ServedActivations>),
}

impl Job {
    fn is_finished(&self) -> bool {
        match self {
            Job::Training(run) => run.is_finished(),
            Job::Activations(activations) => activations.is_done(),
        }
    }
}

/// The worker's side of the conversation: one job on the CPU, stepped on request, reading its
/// images through the page.
#[derive(Default)]
pub struct EngineServer {
    job: Rc<RefCell<Option<Job>>>,
    desk: FileDesk,
}

/// How a request is answered: now, later (a step, which may wait for files), or not at all.
pub enum Answer {
    Now(EngineReply),
    /// Poll it to the end, telling the page what [`EngineServer::take_wanted_files`] returns
    /// each time it is pending.
    Later(Pin<Box<dyn Future<Output = EngineReply>>>),
    Nothing,
}

impl EngineServer {
    pub fn handle(&self, request: EngineRequest) -> Answer {
        match request {
            EngineRequest::StartTraining(task) => Answer::Now(match training::build_run(*task, &self.desk) {
                Ok(run) => {
                    let iterations_per_epoch = run.trainer().iterations_per_epoch();
                    *self.job.borrow_mut() = Some(Job::Training(Box::new(run)));
                    EngineReply::TrainingStarted { iterations_per_epoch }
                }
                Err(message) => EngineReply::Failed(message),
            }),
            EngineRequest::StartActivations(task) => Answer::Now(match ServedActivations::new(*task, &self.desk) {
                Ok(activations) => {
                    let images = activations.images();
                    *self.job.borrow_mut() = Some(Job::Activations(Box::new(activations)));
                    EngineReply::ActivationsStarted { images }
                }
                Err(message) => EngineReply::Failed(message),
            }),
            EngineRequest::WarmUp => Answer::Now(training::warm_up()),
            EngineRequest::Step => Answer::Later(Box::pin(step(self.job.clone()))),
            EngineRequest::StopTraining => {
                if let Some(Job::Training(run)) = self.job.borrow_mut().as_mut() {
                    run.stop_training();
                }
                Answer::Nothing
            }
            EngineRequest::Files(files) => {
                self.desk.deliver(files);
                Answer::Nothing
            }
        }
    }

    /// The files steps have asked for since the last call: the page is to send them.
    pub fn take_wanted_files(&self) -> Vec<usize> {
        self.desk.take_wanted()
    }
}

/// One step of the job: taken out of the server while it runs (a second step asked meanwhile
/// is refused), put back after — unless it finished (its result is in the reply: the worker
/// stays up for the page's next job holding nothing) or a new job was started meanwhile.
async fn step(slot: Rc<RefCell<Option<Job>>>) -> EngineReply {
    let Some(mut job) = slot.borrow_mut().take() else {
        return EngineReply::Failed("no job to step (start one first)".into());
    };
    let reply = match &mut job {
        Job::Training(run) => training::step_run(run).await,
        Job::Activations(activations) => match activations.step().await {
            Ok((progress, output)) => EngineReply::ActivationsStepped { progress, output: output.map(Box::new) },
            Err(message) => EngineReply::Failed(message),
        },
    };
    let mut slot = slot.borrow_mut();
    if !job.is_finished() && slot.is_none() {
        *slot = Some(job);
    }
    reply
}

/// Polls `answer` to its end with `cx`, handing the files it waits for to `ask` — the loop a
/// worker runs inside its event loop, and a native test runs by hand.
pub fn poll_answer(
    server: &EngineServer,
    answer: &mut Pin<Box<dyn Future<Output = EngineReply>>>,
    cx: &mut Context<'_>,
    ask: &mut dyn FnMut(Vec<usize>),
) -> Poll<EngineReply> {
    let polled = answer.as_mut().poll(cx);
    if polled.is_pending() {
        let wanted = server.take_wanted_files();
        if !wanted.is_empty() {
            ask(wanted);
        }
    }
    polled
}
