//! The analysis as the page runs it: the core's `Analyzer` on the page's thread for what needs
//! the network's device (the activations, and the rotation of wide layers), and each layer's
//! t-SNE in a compute worker of its own, the maps side by side (`map_workers.rs`). Without
//! workers (`?map-workers=0`) the `Analyzer` makes the maps itself, one after another, in short
//! steps on the page's thread.

use super::job_driver::SteppedJob;
use super::map_workers::MapWorkers;
use crate::analysis::map_task::MapReply;
use crate::analysis::{Analysis, AnalysisError, AnalysisStep, Analyzer};

/// One analysis, stepped by `job_driver::drive`.
pub struct AnalysisJob {
    analyzer: Analyzer,
    workers: Option<MapWorkers>,
    /// By map index: the latest coordinates a worker sent, and the iterations its map runs.
    live: Vec<(Vec<f32>, usize)>,
}

impl AnalysisJob {
    /// `workers`: where the maps run (`None`: in the analyzer's own steps). The analyzer must
    /// have been configured to delegate its maps when there are workers.
    pub fn new(analyzer: Analyzer, workers: Option<MapWorkers>) -> Self {
        let live = vec![(Vec::new(), 0); analyzer.config().layers.len()];
        Self { analyzer, workers, live }
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
