//! The analysis as the page runs it: the core's `Analyzer` on the page's thread, with the
//! work handed out where it can be. On the CPU the activations (and the rotation of wide
//! layers) are computed in the training worker (`training_worker.rs`); on a GPU the page's
//! thread only queues them. Each layer's t-SNE runs in a compute worker of its own, the maps
//! side by side (`map_workers.rs`). Without workers (`?map-workers=0`,
//! `?training-worker=0`) the `Analyzer` does that work itself in short steps on the page's
//! thread.

use std::sync::Arc;

use super::job_driver::SteppedJob;
use super::map_workers::MapWorkers;
use super::training_worker::WorkerActivations;
use crate::analysis::map_task::MapReply;
use crate::analysis::{Analysis, AnalysisError, AnalysisStep, Analyzer};
use crate::data::dataset::DataSet;
use crate::served::activations::{ActivationProgress, ActivationTask};

/// The activations computed in the training worker.
enum ActivationsInWorker {
    ToStart(Box<ActivationTask>, Arc<DataSet>),
    Running(WorkerActivations),
}

/// One analysis, stepped by `job_driver::drive`.
pub struct AnalysisJob {
    analyzer: Analyzer,
    activations: Option<ActivationsInWorker>,
    workers: Option<MapWorkers>,
    /// By map index: the latest coordinates a worker sent, and the iterations its map runs.
    live: Vec<(Vec<f32>, usize)>,
}

impl AnalysisJob {
    /// `workers`: where the maps run (`None`: in the analyzer's own steps). The analyzer must
    /// have been configured to delegate its maps when there are workers.
    pub fn new(analyzer: Analyzer, workers: Option<MapWorkers>) -> Self {
        let live = vec![(Vec::new(), 0); analyzer.config().layers.len()];
        Self { analyzer, activations: None, workers, live }
    }

    /// Computes the activations in the training worker: `task` for an analyzer that
    /// awaits them (`Analyzer::awaiting_activations`), the images read from `data`.
    pub fn with_activations_in_worker(mut self, task: ActivationTask, data: Arc<DataSet>) -> Self {
        self.activations = Some(ActivationsInWorker::ToStart(Box::new(task), data));
        self
    }

    /// One step of the activations in the worker; with the last, the analyzer takes them.
    async fn step_activations(&mut self) -> Result<AnalysisStep, AnalysisError> {
        let failed = |e: super::map_workers::WorkerError| AnalysisError::ActivationsElsewhere(e.0);
        let total = self.analyzer.images().len();
        match self.activations.take() {
            Some(ActivationsInWorker::ToStart(task, data)) => {
                let running = WorkerActivations::start(*task, data).await.map_err(failed)?;
                self.activations = Some(ActivationsInWorker::Running(running));
                Ok(AnalysisStep::Activations { done: 0, total })
            }
            Some(ActivationsInWorker::Running(mut running)) => {
                let (progress, output) = running.step().await.map_err(failed)?;
                match output {
                    Some(output) => self.analyzer.activations_arrived(*output)?,
                    None => self.activations = Some(ActivationsInWorker::Running(running)),
                }
                Ok(match progress {
                    ActivationProgress::Images { done, total } => AnalysisStep::Activations { done, total },
                    ActivationProgress::Rotating { index, layer, progress } => {
                        AnalysisStep::Reducing { index, layer, done: progress.done, total: progress.total }
                    }
                })
            }
            None => Err(AnalysisError::ActivationsElsewhere("nothing computes them".into())),
        }
    }

    /// True when the maps run in workers.
    pub fn uses_workers(&self) -> bool {
        self.workers.is_some()
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Map `index` as it stands, for drawing it live.
    pub fn live_map(&self, index: usize) -> Option<Vec<f32>> {
        match self.analyzer.live_map() {
            Some((live, coords)) if live == index => Some(coords),
            _ => self.live.get(index).map(|(coords, _)| coords.clone()).filter(|c| !c.is_empty()),
        }
    }

    /// The finished analysis (maps finished so far after a cancel).
    pub fn finish(self) -> Analysis {
        self.analyzer.finish()
    }

    /// Takes in one worker's reply: the next burst is asked for at once, so the workers keep
    /// going for as long as the page keeps stepping (a pause stops asking).
    fn take_reply(&mut self, index: usize, reply: MapReply) -> Result<AnalysisStep, AnalysisError> {
        let workers = self.workers.as_mut().expect("replies come from workers");
        let layer = self.analyzer.config().layers[index];
        let iterations = self.live[index].1;
        match reply {
            MapReply::Started { coords, .. } => {
                self.live[index].0 = coords;
                workers.iterate(index);
                Ok(AnalysisStep::Iteration { index, iteration: 0, iterations, kl: None })
            }
            MapReply::Progress { iteration, kl, coords } => {
                self.live[index].0 = coords;
                workers.iterate(index);
                Ok(AnalysisStep::Iteration { index, iteration, iterations, kl })
            }
            MapReply::Finished(map) => {
                workers.release(index);
                self.live[index].0 = Vec::new();
                self.analyzer
                    .delegated_map_finished(index, map)
                    .map_err(|message| AnalysisError::MapWorker { layer, message })?;
                Ok(AnalysisStep::MapFinished { index })
            }
            MapReply::Failed(message) => {
                workers.release(index);
                Err(AnalysisError::MapWorker { layer, message })
            }
            // Taken by the pool itself (`MapWorkers`), which sends the task's next piece.
            MapReply::RowsTaken => {
                workers.release(index);
                Err(AnalysisError::MapWorker { layer, message: "the worker answered out of turn".into() })
            }
        }
    }
}

impl SteppedJob for AnalysisJob {
    type Report = AnalysisStep;
    type Error = AnalysisError;

    async fn step(&mut self) -> Result<AnalysisStep, AnalysisError> {
        if self.analyzer.awaits_activations() {
            return self.step_activations().await;
        }
        let Some(workers) = self.workers.as_mut() else {
            return self.analyzer.step().await;
        };
        if let Some((index, reply)) = workers.take_reply() {
            return self.take_reply(index, reply);
        }
        if !self.analyzer.waiting_for_delegated_maps() {
            return match self.analyzer.step().await? {
                AnalysisStep::MapTaskReady { index, layer, task } => {
                    let method = task.config.method.resolve(task.n);
                    self.live[index].1 = task.config.n_iter;
                    workers.submit(index, task);
                    Ok(AnalysisStep::MapStarted { index, layer, method })
                }
                step => Ok(step),
            };
        }
        // Nothing to do here but wait for the workers (the page's thread is free meanwhile).
        let (index, reply) = workers.next_reply().await;
        self.take_reply(index, reply)
    }

    fn is_finished(&self) -> bool {
        self.analyzer.is_finished()
    }
}
