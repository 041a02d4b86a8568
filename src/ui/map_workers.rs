//! The page's side of its compute workers: a pool that runs t-SNE maps in Web Workers
//! (`crate::compute_worker`), as many side by side as the machine has cores, while the page's
//! thread only draws.
//!
//! Each map gets a worker of its own for its lifetime; a worker answers one request at a time
//! and is only asked for more iterations once its last reply has been taken (see
//! `analysis::map_task`), so a paused page leaves its workers idle, and dropping the pool ends
//! them.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::{Rc, Weak};

use gloo_worker::{Spawnable, WorkerBridge};

use super::browser_files::{query_param, sleep_ms};
use super::job_driver::SteppedJob;
use super::worker_inbox::{Inbox, next_reply};
use crate::analysis::map_task::{FinishedMap, MapReply, MapRequest, MapTask, TaskRequests};
use crate::backend::{GpuFailure, GpuFailureSource};
use crate::compute_worker::MapWorker;
use crate::embed::Method;
use crate::embed::optimizer::StepReport;

/// The worker's loader, written by trunk beside the page (index.html, `data-loader-shim`).
const WORKER_SCRIPT: &str = "./layerlens-map-worker_loader.js";

/// Longest burst of iterations a worker runs before it answers (it answers sooner at each
/// iteration that reports its KL): short enough for a live map, long enough that messages
/// cost nothing next to the work.
const ITERATE_BUDGET_MS: f64 = 40.0;

/// Most workers the page starts, however many cores the machine reports.
const MAX_WORKERS: usize = 8;

/// How many maps run side by side: `?map-workers=N` (0 = none: maps run on the page's thread,
/// as before there were workers), else `navigator.hardwareConcurrency` (at most
/// [`MAX_WORKERS`]).
pub fn worker_count() -> usize {
    if let Some(asked) = query_param("map-workers").and_then(|v| v.trim().parse::<usize>().ok()) {
        return asked.min(MAX_WORKERS);
    }
    let cores = web_sys::window().map(|w| w.navigator().hardware_concurrency()).unwrap_or(1.0);
    (cores as usize).clamp(1, MAX_WORKERS)
}

/// Maps (by the caller's index) waiting for a worker or running in one.
pub struct MapWorkers {
    capacity: usize,
    queued: VecDeque<(usize, Box<MapTask>)>,
    running: BTreeMap<usize, Rc<WorkerBridge<MapWorker>>>,
    inbox: Rc<RefCell<Inbox<(usize, MapReply)>>>,
}

impl MapWorkers {
    /// A pool of at most `capacity` workers (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), queued: VecDeque::new(), running: BTreeMap::new(), inbox: Rc::default() }
    }

    /// Runs `task` as map `index`, now if a worker is free, else when one is.
    pub fn submit(&mut self, index: usize, task: Box<MapTask>) {
        self.queued.push_back((index, task));
        self.start_queued();
    }

    fn start_queued(&mut self) {
        while self.running.len() < self.capacity {
            let Some((index, task)) = self.queued.pop_front() else {
                return;
            };
            let inbox = self.inbox.clone();
            // The task goes out one request per reply (its rows in pieces, then its start):
            // each piece is copied in a turn of the event loop of its own, frames in between.
            let sending = Rc::new(RefCell::new(TaskSender { requests: task.into_requests(), bridge: Weak::new() }));
            let sender = sending.clone();
            let bridge = Rc::new(
                MapWorker::spawner()
                    .callback(move |reply| {
                        if matches!(reply, MapReply::RowsTaken) {
                            return sender.borrow_mut().send_next();
                        }
                        inbox.borrow_mut().deliver((index, reply));
                    })
                    .with_loader(true)
                    .as_module(false)
                    .spawn(WORKER_SCRIPT),
            );
            sending.borrow_mut().bridge = Rc::downgrade(&bridge);
            sending.borrow_mut().send_next();
            self.running.insert(index, bridge);
        }
    }

    /// A reply that has already arrived, if any.
    pub fn take_reply(&mut self) -> Option<(usize, MapReply)> {
        self.inbox.borrow_mut().take()
    }

    /// The next reply from any worker.
    pub async fn next_reply(&mut self) -> (usize, MapReply) {
        next_reply(&self.inbox).await
    }

    /// Asks map `index`'s worker for its next burst of iterations.
    pub fn iterate(&self, index: usize) {
        if let Some(bridge) = self.running.get(&index) {
            bridge.send(MapRequest::Iterate { budget_ms: ITERATE_BUDGET_MS });
        }
    }

    /// Map `index` is done (or failed): its worker ends and the next queued map starts.
    pub fn release(&mut self, index: usize) {
        self.running.remove(&index);
        self.start_queued();
    }
}

/// The requests of a task not yet sent to its worker. Holds the bridge weakly: a map
/// released or cancelled halfway through sending ends its worker all the same.
struct TaskSender {
    requests: TaskRequests,
    bridge: Weak<WorkerBridge<MapWorker>>,
}

impl TaskSender {
    fn send_next(&mut self) {
        if let (Some(bridge), Some(request)) = (self.bridge.upgrade(), self.requests.next()) {
            bridge.send(request);
        }
    }
}

/// Why a map in a worker stopped (for `job_driver::drive`, which wants to know whether a GPU
/// failed: a worker has no GPU).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerError(pub String);

impl std::fmt::Display for WorkerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl GpuFailureSource for WorkerError {
    fn gpu_failure(&self) -> Option<&GpuFailure> {
        None
    }
}

/// One map in a worker, stepped like a runner on the page's thread (the t-SNE panel): each step
/// is one burst of the worker's iterations.
pub struct WorkerMap {
    workers: MapWorkers,
    coords: Vec<f32>,
    n_iter: usize,
    finished: Option<FinishedMap>,
}

/// What a worker's map reported when it was prepared.
pub struct WorkerMapStarted {
    pub method: Method,
    pub p_nnz: usize,
}

impl WorkerMap {
    /// Sends `task` to a new worker.
    pub fn start(task: MapTask) -> Self {
        let n_iter = task.config.n_iter;
        let mut workers = MapWorkers::new(1);
        workers.submit(0, Box::new(task));
        Self { workers, coords: Vec::new(), n_iter, finished: None }
    }

    /// Waits for the worker to prepare the map (affinities, initial map: the long part for
    /// large N), checking `cancelled` every tenth of a second; `Ok(None)` when cancelled.
    pub async fn prepared(&mut self, cancelled: impl Fn() -> bool) -> Result<Option<WorkerMapStarted>, WorkerError> {
        loop {
            match self.workers.take_reply() {
                Some((_, MapReply::Started { method, p_nnz, coords })) => {
                    self.coords = coords;
                    self.workers.iterate(0);
                    return Ok(Some(WorkerMapStarted { method, p_nnz }));
                }
                Some((_, MapReply::Failed(message))) => return Err(WorkerError(message)),
                Some(_) => return Err(WorkerError("the worker answered out of turn".into())),
                None if cancelled() => return Ok(None),
                None => sleep_ms(100).await,
            }
        }
    }

    /// The map as it stands.
    pub fn coords(&self) -> &[f32] {
        &self.coords
    }
}

impl SteppedJob for WorkerMap {
    type Report = StepReport;
    type Error = WorkerError;

    async fn step(&mut self) -> Result<StepReport, WorkerError> {
        match self.workers.next_reply().await.1 {
            MapReply::Progress { iteration, kl, coords } => {
                self.coords = coords;
                self.workers.iterate(0);
                Ok(StepReport { iteration, kl, finished: false })
            }
            MapReply::Finished(map) => {
                self.coords = map.coords.clone();
                let kl = map.kl;
                self.finished = Some(map);
                self.workers.release(0);
                Ok(StepReport { iteration: self.n_iter, kl: Some(kl), finished: true })
            }
            MapReply::Failed(message) => Err(WorkerError(message)),
            MapReply::Started { .. } => Err(WorkerError("the worker started the map twice".into())),
            MapReply::RowsTaken => Err(WorkerError("the worker answered out of turn".into())),
        }
    }

    fn is_finished(&self) -> bool {
        self.finished.is_some()
    }
}
