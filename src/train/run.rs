//! A whole fine-tuning run as one stepped object: the training iterations, then the
//! validation images classified with the best network, then that network's weights in host
//! memory for download — so the page and the CLI step the same thing, and a run stopped early
//! still ends with its best network evaluated.

use super::evaluate::{Evaluation, Evaluator};
use super::trainer::{StepOutcome, TrainError, Trainer};
use crate::model::squeezenet::SqueezeNet;
use crate::model::weights::SqueezeNetWeights;

/// What a call to [`TrainingRun::step`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RunStep {
    /// A step of training (see [`StepOutcome`]; its `Finished` is not passed on).
    Training(StepOutcome),
    /// Part of the final classification with the best network: `done` of `total` images.
    Evaluating { done: usize, total: usize },
    /// The best weights are in host memory: the run is over.
    Finished,
}

enum Stage {
    Training,
    /// The best network and its evaluator (boxed: the stages differ much in size).
    Evaluating(Box<(SqueezeNet, Evaluator)>),
    /// The best network and its evaluation.
    Exporting(Box<(SqueezeNet, Evaluation)>),
    Done(Box<TrainingOutcome>),
    /// Only while a step moves the state on.
    Moving,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainingOutcome {
    /// The network with the best validation accuracy at an epoch end (on the inference device).
    pub best: SqueezeNet,
    /// Its weights, in host memory.
    pub weights: SqueezeNetWeights,
    /// The validation images classified by it.
    pub evaluation: Evaluation,
    /// True when training was stopped before its last epoch.
    pub stopped_early: bool,
}

/// Training, final evaluation and export, one unit of work per [`TrainingRun::step`].
pub struct TrainingRun {
    trainer: Trainer,
    stage: Stage,
    stopped_early: bool,
}

impl TrainingRun {
    pub fn new(trainer: Trainer) -> Self {
        Self { trainer, stage: Stage::Training, stopped_early: false }
    }

    /// The trainer (its split, history, checkpoint and settings).
    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    /// Ends training before its last epoch; the next steps evaluate and export the best
    /// network so far as usual. Does nothing once training is over.
    pub fn stop_training(&mut self) {
        if matches!(self.stage, Stage::Training) {
            self.stopped_early = true;
            self.stage = self.evaluation_stage();
        }
    }

    /// True once [`TrainingRun::stop_training`] ended training before its last epoch.
    pub fn stopped_early(&self) -> bool {
        self.stopped_early
    }

    /// True while training iterations remain (before the final evaluation).
    pub fn is_training(&self) -> bool {
        matches!(self.stage, Stage::Training)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.stage, Stage::Done(_))
    }

    fn evaluation_stage(&self) -> Stage {
        let best = self.trainer.best_model();
        let evaluator = self.trainer.final_evaluator_of(best.clone());
        Stage::Evaluating(Box::new((best, evaluator)))
    }

    /// Does the next unit of work: a training step, a chunk of the final evaluation, or the
    /// export. After `Finished`, further calls return `Finished` again.
    pub async fn step(&mut self) -> Result<RunStep, TrainError> {
        match std::mem::replace(&mut self.stage, Stage::Moving) {
            Stage::Training => match self.trainer.step().await {
                Ok(StepOutcome::Finished) => {
                    self.stage = self.evaluation_stage();
                    let total = self.trainer.split().validation.len();
                    Ok(RunStep::Evaluating { done: 0, total })
                }
                Ok(outcome) => {
                    self.stage = Stage::Training;
                    Ok(RunStep::Training(outcome))
                }
                Err(e) => {
                    self.stage = Stage::Training;
                    Err(e)
                }
            },
            Stage::Evaluating(mut evaluating) => {
                let evaluator = &mut evaluating.1;
                let stepped = evaluator.step(&self.trainer.inference_device(), self.trainer.data()).await;
                let (done, total) = evaluator.progress();
                if evaluator.is_done() {
                    let (best, evaluator) = *evaluating;
                    let evaluation = evaluator.finish(self.trainer.data());
                    self.stage = Stage::Exporting(Box::new((best, evaluation)));
                } else {
                    self.stage = Stage::Evaluating(evaluating);
                }
                stepped?;
                Ok(RunStep::Evaluating { done, total })
            }
            Stage::Exporting(exporting) => match self.trainer.best_weights().await {
                Ok(weights) => {
                    let (best, evaluation) = *exporting;
                    self.stage = Stage::Done(Box::new(TrainingOutcome {
                        best,
                        weights,
                        evaluation,
                        stopped_early: self.stopped_early,
                    }));
                    Ok(RunStep::Finished)
                }
                Err(e) => {
                    self.stage = Stage::Exporting(exporting);
                    Err(e.into())
                }
            },
            done @ Stage::Done(_) => {
                self.stage = done;
                Ok(RunStep::Finished)
            }
            Stage::Moving => unreachable!("a step that failed to finish left the run moving"),
        }
    }

    /// The outcome, once [`TrainingRun::is_finished`].
    pub fn outcome(&self) -> Option<&TrainingOutcome> {
        match &self.stage {
            Stage::Done(outcome) => Some(outcome),
            _ => None,
        }
    }
}
