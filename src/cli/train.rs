//! `layerlens train`: fine-tune on a folder or zip of labelled images, print progress, save the
//! weights (torchvision keys, K-class head) and optionally a JSON report.

use std::sync::Arc;
use std::time::Instant;

use futures_lite::future::block_on;
use serde::Serialize;

use super::TrainArgs;
use super::common::load_model;
use crate::analysis::confusion::ConfusionMatrix;
use crate::backend::{Host, PassSizes};
use crate::data::augment::Augmentation;
use crate::data::dataset::DataSet;
use crate::data::sources::load_path;
use crate::model::weights::weights_to_safetensors;
use crate::train::{EpochMetrics, RunStep, StepOutcome, TrainConfig, Trainer, TrainingRun};

#[derive(Serialize)]
struct Report<'a> {
    config: &'a TrainConfig,
    augmentation: bool,
    classes: &'a [String],
    images_per_class: Vec<usize>,
    rejected: Vec<(&'a str, &'a str)>,
    train_files: Vec<&'a str>,
    validation_files: Vec<&'a str>,
    epochs: &'a [EpochMetrics],
    seconds: f64,
    validation: ValidationReport<'a>,
}

#[derive(Serialize)]
struct ValidationReport<'a> {
    accuracy: f64,
    loss: f64,
    confusion: &'a [Vec<usize>],
    recall: Vec<Option<f64>>,
    precision: Vec<Option<f64>>,
    predictions: Vec<Prediction<'a>>,
}

#[derive(Serialize)]
struct Prediction<'a> {
    file: &'a str,
    actual: &'a str,
    predicted: &'a str,
    scores: &'a [f32],
}

pub fn run(args: TrainArgs) -> Result<(), String> {
    let data = load_path(&args.data).map_err(|e| e.to_string())?;
    print_summary(&data);
    let (net, device) = load_model(&args.model)?;
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        train_fraction: args.train_fraction,
        seed: args.seed,
        micro_batch: args.micro_batch.unwrap_or(PassSizes::for_device(&device, Host::Native).training),
        augmentation: if args.no_augment { Augmentation::none() } else { Augmentation::default() },
        ..TrainConfig::default()
    };
    let data = Arc::new(data);
    let trainer = Trainer::new(data.clone(), net, &device, config.clone()).map_err(|e| e.to_string())?;
    let split = trainer.split().clone();
    eprintln!(
        "split: {} training, {} validation images; {} iterations per epoch",
        split.train.len(),
        split.validation.len(),
        trainer.iterations_per_epoch()
    );
    let start = Instant::now();
    let total_iterations = trainer.iterations_per_epoch() * config.epochs;
    let mut run = TrainingRun::new(trainer);
    let mut seconds = None;
    loop {
        match block_on(run.step()).map_err(|e| e.to_string())? {
            RunStep::Training(StepOutcome::Iteration(m)) => {
                let elapsed = start.elapsed().as_secs_f64();
                let eta = elapsed / m.iteration as f64 * (total_iterations - m.iteration) as f64;
                eprintln!(
                    "epoch {}/{} iteration {}/{}: loss {:.4}, accuracy {:.3} (ETA {:.0} s)",
                    m.epoch, config.epochs, m.iteration, total_iterations, m.loss, m.accuracy, eta
                );
            }
            RunStep::Training(StepOutcome::EpochEnd(m)) if m.epoch == 0 => {
                eprintln!("epoch 0: validation loss {:.4}, accuracy {:.3}", m.validation_loss, m.validation_accuracy)
            }
            RunStep::Training(StepOutcome::EpochEnd(m)) => eprintln!(
                "epoch {} done: train loss {:.4}, accuracy {:.3}; validation loss {:.4}, accuracy {:.3} ({:.1} s)",
                m.epoch,
                m.train_loss,
                m.train_accuracy,
                m.validation_loss,
                m.validation_accuracy,
                start.elapsed().as_secs_f64()
            ),
            RunStep::Training(_) => {}
            RunStep::Evaluating { .. } => {
                seconds.get_or_insert(start.elapsed().as_secs_f64());
            }
            RunStep::Finished => break,
        }
    }
    let seconds = seconds.unwrap_or_else(|| start.elapsed().as_secs_f64());
    let trainer = run.trainer();
    let outcome = run.outcome().ok_or("training ended without a result")?;
    let evaluation = &outcome.evaluation;
    eprintln!("validation accuracy (best epoch's weights): {:.4}", evaluation.accuracy);
    let confusion = ConfusionMatrix::of(evaluation, data.classes.len());

    let bytes = weights_to_safetensors(&outcome.weights).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, bytes).map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    let classes_path = args.out.with_extension("classes.txt");
    std::fs::write(&classes_path, data.classes.join("\n") + "\n")
        .map_err(|e| format!("cannot write {}: {e}", classes_path.display()))?;
    eprintln!("wrote {} and {}", args.out.display(), classes_path.display());

    if let Some(path) = &args.report {
        let name = |i: usize| data.images[i].path.as_str();
        let classes = &data.classes;
        let report = Report {
            config: &config,
            augmentation: !args.no_augment,
            classes,
            images_per_class: data.counts(),
            rejected: data.rejected.iter().map(|r| (r.path.as_str(), r.reason.as_str())).collect(),
            train_files: split.train.iter().map(|&i| name(i)).collect(),
            validation_files: split.validation.iter().map(|&i| name(i)).collect(),
            epochs: trainer.history(),
            seconds,
            validation: ValidationReport {
                accuracy: evaluation.accuracy,
                loss: evaluation.loss,
                confusion: &confusion.counts,
                recall: (0..classes.len()).map(|c| confusion.recall(c)).collect(),
                precision: (0..classes.len()).map(|c| confusion.precision(c)).collect(),
                predictions: split
                    .validation
                    .iter()
                    .zip(&evaluation.predicted)
                    .zip(&evaluation.scores)
                    .map(|((&i, &p), scores)| Prediction {
                        file: name(i),
                        actual: &classes[data.images[i].class],
                        predicted: &classes[p],
                        scores,
                    })
                    .collect(),
            },
        };
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn print_summary(data: &DataSet) {
    eprintln!("{} images in {} classes:", data.images.len(), data.classes.len());
    for (class, count) in data.classes.iter().zip(data.counts()) {
        eprintln!("  {class}: {count}");
    }
    if !data.rejected.is_empty() {
        eprintln!("skipped {} file(s):", data.rejected.len());
        for r in &data.rejected {
            eprintln!("  {}: {}", r.path, r.reason);
        }
    }
}
