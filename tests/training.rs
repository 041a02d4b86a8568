//! Fine-tuning really learns, and a training step on wgpu equals the same step on the CPU.

mod common;

use std::sync::{Arc, Mutex, MutexGuard};

use common::{fixture, fixture_bytes};
use futures_lite::future::block_on;
use layerlens::backend::{cpu_device, native_wgpu_device};
use layerlens::data::augment::Augmentation;
use layerlens::data::sources::load_path;
use layerlens::model::export::export_weights;
use layerlens::model::squeezenet::SqueezeNet;
use layerlens::model::weights::load_weights;
use layerlens::train::{EpochMetrics, StepOutcome, TrainConfig, Trainer};

/// The CPU device's random generator is one per process: `Trainer::new` seeds it, and dropout
/// and layer initialisation draw from it. Tests running in parallel would interleave their draws
/// and make each other's runs irreproducible, so every test here holds this lock.
static DEVICE_RNG: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    DEVICE_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn pretrained(device: &burn::prelude::Device) -> SqueezeNet {
    let (weights, _) = load_weights(&fixture_bytes("squeezenet/squeezenet1_1_random.safetensors")).unwrap();
    SqueezeNet::from_weights(&weights, device)
}

/// Three digit classes, 30 images each (20 train / 10 validate per class), from the
/// random-weight "pretrained" network — a poor feature extractor, so learning is slow: after
/// 12 epochs the validation loss must be clearly lower and the best validation accuracy
/// clearly above chance (1/3).
#[test]
fn fine_tuning_on_three_digit_classes_learns() {
    let _serial = serial();
    let data = Arc::new(load_path(&fixture("digits3")).unwrap());
    assert_eq!(data.classes, vec!["0", "1", "2"]);
    let device = cpu_device();
    let config = TrainConfig {
        epochs: 12,
        batch_size: 8,
        seed: 3,
        augmentation: Augmentation::none(),
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(data.clone(), pretrained(&device), &device, config).unwrap();
    let start = block_on(trainer.baseline()).unwrap();
    let mut losses = Vec::new();
    loop {
        match block_on(trainer.step()).unwrap() {
            StepOutcome::Iteration(m) => losses.push(m.loss),
            StepOutcome::EpochEnd(m) => eprintln!("{m:?}"),
            StepOutcome::Validating { .. } | StepOutcome::Accumulating { .. } => {}
            StepOutcome::Finished => break,
        }
    }
    let history = trainer.history();
    let last = history.last().unwrap();
    eprintln!("baseline {start:?}\nfirst losses {:?}\nlast losses {:?}", &losses[..3], &losses[losses.len() - 3..]);
    assert_eq!(history.len(), 13, "baseline + 12 epochs");
    assert!(
        last.validation_loss < 0.85 * start.validation_loss,
        "loss {} → {}",
        start.validation_loss,
        last.validation_loss
    );
    let best = history.iter().map(|m| m.validation_accuracy).fold(0.0, f64::max);
    assert!(best >= 0.6, "best validation accuracy {best} (chance: 0.33)");
    let evaluation = block_on(trainer.final_evaluation()).unwrap();
    let confusion = layerlens::analysis::confusion::ConfusionMatrix::of(&evaluation, 3);
    assert_eq!(confusion.total(), trainer.split().validation.len());
    assert_eq!(confusion.accuracy(), evaluation.accuracy);
    assert!((evaluation.accuracy - best).abs() < 1e-9, "the best epoch's weights are kept");
}

/// One Adam step on the same mini-batch, same seed, no dropout: wgpu (Mesa lavapipe in CI)
/// and the CPU must agree on the loss and on every updated weight.
#[test]
fn one_training_step_on_wgpu_matches_the_cpu() {
    let _serial = serial();
    if std::env::var_os("LAYERLENS_SKIP_WGPU").is_some() {
        eprintln!("skipped: LAYERLENS_SKIP_WGPU is set");
        return;
    }
    let data = Arc::new(load_path(&fixture("digits3")).unwrap());
    let config = TrainConfig {
        epochs: 1,
        batch_size: 4,
        learning_rate: 1e-3,
        seed: 11,
        dropout: 0.0,
        augmentation: Augmentation::default(),
        ..TrainConfig::default()
    };
    let run = |device: burn::prelude::Device| {
        let mut trainer = Trainer::new(data.clone(), pretrained(&device), &device, config.clone()).unwrap();
        block_on(trainer.baseline()).unwrap();
        let StepOutcome::Iteration(metrics) = block_on(trainer.step()).unwrap() else {
            panic!("expected an iteration")
        };
        (metrics.loss, block_on(export_weights(&trainer.model())).unwrap())
    };
    let (cpu_loss, cpu_weights) = run(cpu_device());
    let (gpu_loss, gpu_weights) = run(native_wgpu_device().expect("a Vulkan driver (Debian: mesa-vulkan-drivers)"));
    eprintln!("loss: CPU {cpu_loss}, wgpu {gpu_loss}");
    assert!((cpu_loss - gpu_loss).abs() <= 1e-4 * cpu_loss.abs().max(1.0), "loss {cpu_loss} vs {gpu_loss}");
    // Adam's first step moves every parameter by about ±lr whatever the gradient's size, so a
    // gradient that is zero up to rounding may flip sign between backends and move a weight by
    // up to 2·lr: allow that for a tiny fraction of the weights, and 1e-5 for all the others.
    let (mut total, mut off, mut worst) = (0usize, 0usize, 0.0f32);
    for ((name, a), (_, b)) in cpu_weights.iter().zip(gpu_weights.iter()) {
        for (x, y) in a.data.iter().zip(&b.data) {
            let diff = (x - y).abs();
            worst = worst.max(diff);
            total += 1;
            if diff > 1e-5 {
                off += 1;
                assert!(diff <= 2.0 * config.learning_rate as f32 + 1e-5, "{name}: |Δ| {diff:e} beyond 2·lr");
            }
        }
    }
    eprintln!("{off} of {total} weights differ by more than 1e-5");
    assert!((off as f64) < 1e-3 * total as f64, "{off} of {total} weights differ by more than 1e-5");
    eprintln!("largest weight difference after one step: {worst:e}");
}

/// After a GPU failure the page goes on from the last finished epoch, in host memory, possibly
/// with a smaller mini-batch: the resumed trainer starts from exactly the checkpoint's weights,
/// keeps the history and the iteration count, and trains the remaining epochs.
#[test]
fn training_resumes_from_the_last_finished_epoch_with_a_smaller_batch() {
    let _serial = serial();
    let data = Arc::new(load_path(&fixture("digits3")).unwrap());
    let device = cpu_device();
    let config = TrainConfig {
        epochs: 3,
        batch_size: 8,
        seed: 5,
        dropout: 0.0,
        augmentation: Augmentation::none(),
        ..TrainConfig::default()
    };
    let mut first = Trainer::new(data.clone(), pretrained(&device), &device, config.clone()).unwrap();
    let train_images = first.split().train.len();
    assert!(first.checkpoint().is_none(), "no checkpoint before the epoch-0 validation");
    // Run until epoch 1 has been validated, then one iteration into epoch 2.
    while first.history().len() < 2 {
        block_on(first.step()).unwrap();
    }
    let checkpoint = first.checkpoint().unwrap().clone();
    assert_eq!(checkpoint.epochs_done(), 1);
    assert_eq!(checkpoint.iteration(), train_images.div_ceil(8));
    // (Debug strings: epoch 0's training figures are NaN, which == would never accept.)
    let same = |a: &[EpochMetrics], b: &[EpochMetrics]| format!("{a:?}") == format!("{b:?}");
    assert!(same(checkpoint.history(), first.history()));
    assert_eq!(checkpoint.weights(), &block_on(export_weights(&first.model())).unwrap());
    assert!(matches!(block_on(first.step()).unwrap(), StepOutcome::Iteration(_)));
    assert_ne!(
        checkpoint.weights(),
        &block_on(export_weights(&first.model())).unwrap(),
        "a further step changes the trainer's weights but not the checkpoint's"
    );

    let smaller = TrainConfig { batch_size: 4, ..config };
    let mut resumed = Trainer::resume(data.clone(), &checkpoint, &device, smaller).unwrap();
    assert_eq!(resumed.epochs_done(), 1);
    assert!(same(resumed.history(), checkpoint.history()));
    assert_eq!(
        &block_on(export_weights(&resumed.model())).unwrap(),
        checkpoint.weights(),
        "starts from the checkpoint's weights"
    );
    let mut iterations = Vec::new();
    loop {
        match block_on(resumed.step()).unwrap() {
            StepOutcome::Iteration(m) => iterations.push((m.iteration, m.epoch, m.loss)),
            StepOutcome::Finished => break,
            _ => {}
        }
    }
    let per_epoch = train_images.div_ceil(4);
    assert_eq!(iterations.len(), 2 * per_epoch, "two more epochs at mini-batch 4");
    assert_eq!(iterations[0].0, checkpoint.iteration() + 1, "iterations are counted on");
    assert_eq!(iterations[0].1, 2, "the first resumed iteration belongs to epoch 2");
    assert!(iterations.iter().all(|(_, _, loss)| loss.is_finite()));
    let history = resumed.history();
    assert_eq!(history.len(), 4, "epochs 0–3");
    assert!(same(&history[..2], checkpoint.history()));
    assert_eq!(history[3].iteration, checkpoint.iteration() + 2 * per_epoch);
    // The best epoch so far (1, 2 or 3) is what the final evaluation uses.
    let best = history[1..].iter().map(|m| m.validation_accuracy).fold(0.0, f64::max);
    let evaluation = block_on(resumed.final_evaluation()).unwrap();
    assert!((evaluation.accuracy - best).abs() < 1e-9);
}

/// A mini-batch processed in parts (gradient accumulation, as the page does on the CPU) gives
/// the whole mini-batch's loss and the same update: Adam's first step moves each weight by
/// ±learning rate along its gradient's sign, so weights can only differ where a gradient is
/// within rounding of zero.
#[test]
fn a_mini_batch_in_parts_gives_the_whole_batch_update() {
    let _serial = serial();
    let data = Arc::new(load_path(&fixture("digits3")).unwrap());
    let device = cpu_device();
    let config = TrainConfig {
        epochs: 1,
        batch_size: 8,
        seed: 11,
        dropout: 0.0,
        augmentation: Augmentation::default(),
        ..TrainConfig::default()
    };
    let first_iteration = |micro_batch: usize| {
        let config = TrainConfig { micro_batch, ..config.clone() };
        let mut trainer = Trainer::new(data.clone(), pretrained(&device), &device, config).unwrap();
        block_on(trainer.baseline()).unwrap();
        let mut parts = Vec::new();
        loop {
            match block_on(trainer.step()).unwrap() {
                StepOutcome::Accumulating { done, total } => parts.push((done, total)),
                StepOutcome::Iteration(m) => {
                    let weights = block_on(export_weights(&trainer.model())).unwrap();
                    return (m, parts, weights);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    let (whole, whole_parts, whole_weights) = first_iteration(0);
    let (split, split_parts, split_weights) = first_iteration(3);
    assert!(whole_parts.is_empty());
    assert_eq!(split_parts, vec![(3, 8), (6, 8)], "parts of 3, 3 and 2 images");
    assert!((whole.loss - split.loss).abs() <= 1e-5 * whole.loss, "loss {} vs {}", whole.loss, split.loss);
    assert_eq!(whole.accuracy, split.accuracy);
    let (mut differ, mut total, mut largest) = (0usize, 0usize, 0f32);
    for ((name, a), (_, b)) in whole_weights.iter().zip(split_weights.iter()) {
        assert_eq!(a.shape, b.shape, "{name}");
        for (x, y) in a.data.iter().zip(&b.data) {
            total += 1;
            let d = (x - y).abs();
            largest = largest.max(d);
            if d > 1e-6 {
                differ += 1;
            }
        }
    }
    eprintln!("{differ} of {total} weights differ by more than 1e-6 (largest {largest:e})");
    assert!(differ * 10_000 <= total, "{differ} of {total} weights moved differently");
}

mod served {
    //! A training run served as the page's training worker serves it (`layerlens::served`),
    //! with a test playing the page (`common::engine_page`).

    use std::sync::Arc;

    use futures_lite::future::block_on;
    use layerlens::backend::cpu_device;
    use layerlens::data::augment::Augmentation;
    use layerlens::data::dataset::{DataSet, DataSetBuilder};
    use layerlens::data::sources::load_path;
    use layerlens::model::squeezenet::SqueezeNet;
    use layerlens::model::weights::{load_weights, weights_to_safetensors};
    use layerlens::served::training::{RunState, TrainTask};
    use layerlens::served::{EngineReply, EngineRequest, EngineServer};
    use layerlens::train::{RunStep, TrainConfig, Trainer, TrainingRun};

    use super::common::engine_page::ask;
    use super::{common::fixture, common::fixture_bytes, serial};

    /// Four images of each of three digit classes.
    fn small_digits() -> DataSet {
        let all = load_path(&fixture("digits3")).unwrap();
        let mut builder = DataSetBuilder::new();
        for class in 0..3 {
            for image in all.images.iter().filter(|i| i.class == class).take(4) {
                builder.add_file(&image.path, image.held().unwrap().to_vec());
            }
        }
        builder.finish()
    }

    fn config() -> TrainConfig {
        TrainConfig {
            epochs: 2,
            batch_size: 3,
            micro_batch: 2,
            evaluation_chunk: 2,
            seed: 5,
            dropout: 0.0,
            train_fraction: 0.75,
            augmentation: Augmentation { flip_left_right: true, flip_up_down: false, scale_range: (0.9, 1.1) },
            ..TrainConfig::default()
        }
    }

    fn start(server: &EngineServer, data: &DataSet, weights: &[u8]) -> EngineReply {
        let (weights, _) = load_weights(weights).unwrap();
        let task = TrainTask::new(Some(&weights), data, config()).unwrap();
        ask(server, data, EngineRequest::StartTraining(Box::new(task)), &[]).unwrap()
    }

    /// A run served step by step gives the same steps, the same best weights and the same
    /// evaluation as the same run stepped in process (the page's own loop).
    #[test]
    fn a_served_run_is_the_run_stepped_in_process() {
        let _serial = serial();
        let data = small_digits();
        let weights_file = fixture_bytes("squeezenet/squeezenet1_1_random.safetensors");

        let device = cpu_device();
        let (weights, _) = load_weights(&weights_file).unwrap();
        let net = SqueezeNet::from_weights(&weights, &device);
        let data_here = Arc::new(small_digits());
        let mut run = TrainingRun::new(Trainer::new(data_here, net, &device, config()).unwrap());
        let mut steps_here = Vec::new();
        while !run.is_finished() {
            steps_here.push((block_on(run.step()).unwrap(), RunState::of(&run)));
        }
        let outcome = run.outcome().unwrap();

        let server = EngineServer::default();
        let per_epoch = run.trainer().iterations_per_epoch();
        assert_eq!(
            start(&server, &data, &weights_file),
            EngineReply::TrainingStarted { iterations_per_epoch: per_epoch }
        );
        let mut steps_served = Vec::new();
        let finished = loop {
            match ask(&server, &data, EngineRequest::Step, &[]).unwrap() {
                EngineReply::TrainingStepped { step, state, finished } => {
                    steps_served.push((step, state));
                    if let Some(finished) = finished {
                        break finished;
                    }
                }
                other => panic!("unexpected reply {other:?}"),
            }
        };
        // Compared as printed (exact for floats): epoch 0's training figures are NaN.
        assert_eq!(format!("{steps_served:?}"), format!("{steps_here:?}"));
        assert!(
            steps_served
                .iter()
                .any(|(s, _)| matches!(s, RunStep::Training(layerlens::train::StepOutcome::Accumulating { .. })))
        );
        assert_eq!(
            finished.weights,
            weights_to_safetensors(&outcome.weights).unwrap(),
            "the best weights, bit for bit"
        );
        assert_eq!(finished.evaluation, outcome.evaluation);
        assert_eq!(finished.validation, run.trainer().split().validation);
        // The worker stays up for the next run, holding nothing of this one.
        assert!(matches!(ask(&server, &data, EngineRequest::Step, &[]), Some(EngineReply::Failed(_))));
    }

    /// The warm-up runs; cancel: training stops, the best network so far is evaluated and handed
    /// back; a file the page cannot read fails the step with its path; a step with no run is
    /// refused.
    #[test]
    fn stop_training_unreadable_files_and_steps_without_a_run() {
        let _serial = serial();
        let data = small_digits();
        let weights_file = fixture_bytes("squeezenet/squeezenet1_1_random.safetensors");
        let server = EngineServer::default();
        match ask(&server, &data, EngineRequest::WarmUp, &[]).unwrap() {
            // Validation, one iteration, validation, final evaluation and export.
            EngineReply::WarmedUp { steps } => assert!(steps >= 5, "{steps} steps"),
            other => panic!("unexpected reply {other:?}"),
        }
        match ask(&server, &data, EngineRequest::Step, &[]).unwrap() {
            EngineReply::Failed(message) => assert!(message.contains("no job to step"), "{message}"),
            other => panic!("unexpected reply {other:?}"),
        }

        assert!(matches!(start(&server, &data, &weights_file), EngineReply::TrainingStarted { .. }));
        let mut steps = 0;
        let finished = loop {
            steps += 1;
            if steps == 4 {
                assert!(ask(&server, &data, EngineRequest::StopTraining, &[]).is_none());
            }
            match ask(&server, &data, EngineRequest::Step, &[]).unwrap() {
                EngineReply::TrainingStepped { state, finished: Some(finished), .. } => {
                    assert!(state.stopped_early);
                    break finished;
                }
                EngineReply::TrainingStepped { .. } => assert!(steps < 50, "the stopped run ends"),
                other => panic!("unexpected reply {other:?}"),
            }
        };
        assert_eq!(finished.evaluation.truth.len(), finished.validation.len());
        assert!(load_weights(&finished.weights).is_ok());

        assert!(matches!(start(&server, &data, &weights_file), EngineReply::TrainingStarted { .. }));
        let unreadable: Vec<usize> = (0..data.images.len()).collect();
        match ask(&server, &data, EngineRequest::Step, &unreadable).unwrap() {
            EngineReply::Failed(message) => {
                assert!(message.contains("the file was deleted"), "{message}");
                assert!(data.images.iter().any(|i| message.contains(&i.path)), "names the file: {message}");
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
}
