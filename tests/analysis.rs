//! The analysis stage natively: activations in chunks equal one pass, the wide-layer reduction
//! keeps distances, and a whole analysis of a small digit set gives consistent predictions,
//! maps and scores.

mod common;

use std::sync::Arc;

use futures_lite::future::block_on;
use layerlens::analysis::activations::{ActivationJob, MatrixBudget};
use layerlens::analysis::map_task::{FinishedMap, MapReply, MapRequest, MapServer, MapTask};
use layerlens::analysis::{AnalysisConfig, AnalysisStep, Analyzer};
use layerlens::backend::cpu_device;
use layerlens::data::dataset::DataSet;
use layerlens::data::image_input::image_file_to_input;
use layerlens::data::sources::load_path;
use layerlens::embed::preprocess::pca;
use layerlens::embed::preset::TsnePreset;
use layerlens::model::export::export_weights;
use layerlens::model::inference::layer_activations;
use layerlens::model::layers::Layer;
use layerlens::model::squeezenet::SqueezeNet;
use layerlens::model::weights::load_weights;
use layerlens::served::activations::{ActivationProgress, ActivationTask};
use layerlens::served::{EngineReply, EngineRequest, EngineServer};

use common::engine_page::ask;
use common::{fixture, fixture_bytes, max_abs_diff};

fn network() -> SqueezeNet {
    let (weights, _) = load_weights(&fixture_bytes("squeezenet/squeezenet1_1_random.safetensors")).unwrap();
    SqueezeNet::from_weights(&weights, &cpu_device())
}

fn digits() -> Arc<DataSet> {
    Arc::new(load_path(&fixture("digits3")).unwrap())
}

const EXACT: MatrixBudget = MatrixBudget { max_exact_bytes: usize::MAX, sketch_width: 64, sketch_nonzeros: 4, seed: 0 };

#[test]
fn activations_in_chunks_equal_one_pass() {
    let data = digits();
    let images: Vec<usize> = (0..data.images.len()).step_by(9).collect(); // 10 images, all classes
    let layers = vec![Layer::Pool1, Layer::Conv10, Layer::Prob];
    let device = cpu_device();
    let mut job = ActivationJob::new(network(), images.clone(), layers.clone(), 3, EXACT);
    let mut steps = 0;
    while !job.is_done() {
        block_on(job.step(&device, &data)).unwrap();
        steps += 1;
        assert_eq!(job.progress(), ((3 * steps).min(10), 10), "progress after each chunk");
    }
    assert_eq!(steps, 4);
    let chunked = job.finish();
    let inputs: Vec<Vec<f32>> =
        images.iter().map(|&i| image_file_to_input(data.images[i].held().unwrap()).unwrap()).collect();
    let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    let whole = block_on(layer_activations(&network(), &device, &refs, &layers, 10, &mut |_, _| {
        std::ops::ControlFlow::Continue(())
    }))
    .unwrap();
    for (matrix, reference) in chunked.matrices.iter().zip(&whole) {
        assert_eq!(matrix.layer, reference.layer);
        assert_eq!(matrix.rows(), 10);
        assert_eq!(matrix.columns(), reference.row_len());
        let diff = max_abs_diff(&matrix.values, &reference.values);
        assert!(diff <= 1e-6, "{}: chunked vs one pass differ by {diff}", matrix.layer);
    }
    assert_eq!(chunked.matrices[0].width, 64 * 56 * 56);
    // Probabilities and the two class maps per image come from the same pass.
    let prob = &whole[2];
    for (i, p) in chunked.probabilities.iter().enumerate() {
        assert!(max_abs_diff(p, prob.row(i)) <= 1e-6);
    }
    let conv10 = &whole[1];
    let plane = 14 * 14;
    assert_eq!(chunked.class_map_side, 14);
    let top = layerlens::analysis::predictions::top_two(&chunked.probabilities[4])[0].0;
    assert_eq!(&chunked.class_maps[4][..plane], &conv10.row(4)[top * plane..(top + 1) * plane]);
}

#[test]
fn layers_over_the_budget_are_sketched_as_they_arrive() {
    let data = digits();
    let images: Vec<usize> = (0..6).collect();
    let budget = MatrixBudget { max_exact_bytes: 6 * 1000 * 4, sketch_width: 256, sketch_nonzeros: 8, seed: 3 };
    let mut job = ActivationJob::new(network(), images, vec![Layer::Pool1, Layer::Prob], 4, budget);
    while !job.is_done() {
        block_on(job.step(&cpu_device(), &data)).unwrap();
    }
    let out = job.finish();
    assert_eq!(out.matrices[0].sketch.map(|s| s.width), Some(256));
    assert_eq!(out.matrices[0].values.len(), 6 * 256, "pool1 kept as a 256-column sketch");
    assert!(out.matrices[1].sketch.is_none(), "prob (1,000 values) fits");
    assert_eq!(out.matrices[1].values.len(), 6 * 1000);
}

#[test]
fn projecting_wide_rows_on_all_their_axes_keeps_every_distance() {
    // 12 rows of 5,000 values: the N×N scores the analysis maps instead of the rows.
    let (n, m) = (12, 5_000);
    let rows: Vec<f32> = (0..n * m).map(|k| ((k * 7919) % 1013) as f32 / 1013.0 * ((k % 5) as f32)).collect();
    let scores = pca(&rows, n, m, n);
    let d = scores.len() / n;
    assert_eq!(d, n);
    for i in 0..n {
        for j in 0..i {
            let original: f64 = (0..m).map(|c| f64::from(rows[i * m + c] - rows[j * m + c]).powi(2)).sum();
            let reduced: f64 = (0..d).map(|c| (scores[i * d + c] - scores[j * d + c]).powi(2)).sum();
            assert!((reduced / original - 1.0).abs() < 1e-7, "pair ({i}, {j}): {reduced} vs {original}");
        }
    }
}

#[test]
fn a_whole_analysis_of_a_small_set() {
    let data = digits();
    let images: Vec<usize> = (0..data.images.len()).step_by(2).collect(); // 45 images
    let n = images.len();
    let mut config = AnalysisConfig::new(TsnePreset::Matlab, n, 7);
    config.tsne.n_iter = 300;
    let names: Vec<String> = (0..1000).map(|c| format!("imagenet {c}")).collect();
    let mut analyzer = Analyzer::new(data.clone(), images.clone(), network(), names, cpu_device(), config).unwrap();
    let (mut chunks, mut reducing, mut started, mut finished, mut iterations) = (0, 0, 0, 0, 0);
    loop {
        match block_on(analyzer.step()).unwrap() {
            AnalysisStep::Activations { .. } => chunks += 1,
            AnalysisStep::Reducing { .. } => reducing += 1,
            AnalysisStep::MapStarted { .. } => started += 1,
            AnalysisStep::Iteration { .. } => iterations += 1,
            AnalysisStep::MapFinished { .. } => finished += 1,
            AnalysisStep::MapTaskReady { .. } => panic!("maps are made in step() unless delegated"),
            AnalysisStep::Finished => break,
        }
        if started > finished {
            assert_eq!(analyzer.live_map().unwrap().1.len(), 2 * n, "the map under way can be drawn");
        }
    }
    assert_eq!((chunks, started, finished), (3, 3, 3), "45 images in chunks of 16, three maps");
    assert!(iterations >= 3 * 299);
    // pool1 (200,704 columns) and conv10 (196,000) are wider than N and rotated in blocks.
    assert!(reducing >= 200_704 / 512 + 196_000 / 512, "{reducing} reduction steps");
    let analysis = analyzer.finish();
    assert!(!analysis.same_classes, "the ImageNet head was not fine-tuned on digits");
    assert_eq!(analysis.accuracy(), None);
    assert_eq!(analysis.predictions.len(), n);
    for (p, &i) in analysis.predictions.iter().zip(&images) {
        assert_eq!(p.image, i);
        assert_eq!(p.truth, data.images[i].class);
        assert!((0.0..=1.0).contains(&p.ambiguity));
    }
    assert_eq!(analysis.confusion().total(), n);
    let widths: Vec<usize> = analysis.maps.iter().map(|m| m.width).collect();
    assert_eq!(widths, [200_704, 196_000, 1000]);
    for map in &analysis.maps {
        assert_eq!(map.coords.len(), 2 * n);
        assert!(map.coords.iter().all(|v| v.is_finite()));
        assert!(map.notes.iter().any(|note| note.contains("perplexity lowered from 30 to 14")), "{:?}", map.notes);
        let q = map.quality.expect("45 points are scored");
        assert!((0.0..=1.0).contains(&q.trustworthiness) && (0.0..=1.0).contains(&q.knn_accuracy));
        assert_eq!(q.points, n);
    }
    assert_eq!(analysis.class_map(0, 1).len(), 196);
}

/// Serves `task` as a compute worker does, every request and reply through gloo-worker's wire
/// format (bincode), the task sent as the page sends it (rows in pieces, then the start).
fn serve_through_the_wire(task: MapTask) -> FinishedMap {
    fn wire<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        bincode::deserialize(&bincode::serialize(value).unwrap()).unwrap()
    }
    let mut server = MapServer::default();
    let mut requests = task.into_requests();
    loop {
        let request = requests.next().unwrap_or(MapRequest::Iterate { budget_ms: 5.0 });
        match wire(&server.handle(wire(&request), &|| 0.0)) {
            MapReply::Finished(map) => return map,
            MapReply::Failed(message) => panic!("{message}"),
            MapReply::RowsTaken => assert!(matches!(request, MapRequest::Rows(_))),
            MapReply::Started { .. } | MapReply::Progress { .. } => {}
        }
    }
}

#[test]
fn maps_handed_out_to_workers_are_the_maps_made_in_step() {
    let data = digits();
    let images: Vec<usize> = (0..data.images.len()).step_by(3).collect(); // 30 images
    // A 3-class head, as after fine-tuning on the three digit classes: prob is 3 wide, pool1
    // 200,704.
    let net = network().replace_head(3, 5, &cpu_device());
    let names = data.classes.clone();
    let analyse = |delegate: bool| {
        let mut config = AnalysisConfig::new(TsnePreset::Matlab, images.len(), 11);
        config.layers = vec![Layer::Pool1, Layer::Prob];
        config.tsne.n_iter = 150;
        config.delegate_maps = delegate;
        let mut analyzer =
            Analyzer::new(data.clone(), images.clone(), net.clone(), names.clone(), cpu_device(), config).unwrap();
        let (mut handed_out, mut tasks) = (Vec::new(), Vec::new());
        while !analyzer.is_finished() {
            if analyzer.waiting_for_delegated_maps() {
                for (index, task) in std::mem::take(&mut tasks) {
                    analyzer.delegated_map_finished(index, serve_through_the_wire(task)).unwrap();
                }
                continue;
            }
            if let AnalysisStep::MapTaskReady { index, layer, task } = block_on(analyzer.step()).unwrap() {
                assert!(analyzer.map(index).is_none());
                handed_out.push(layer);
                tasks.push((index, *task));
            }
        }
        (analyzer.finish(), handed_out)
    };
    let (in_step, none) = analyse(false);
    assert!(none.is_empty());
    let (delegated, order) = analyse(true);
    assert_eq!(order, [Layer::Prob, Layer::Pool1], "the narrow layer first, while pool1 is being reduced");
    let layers: Vec<Layer> = delegated.maps.iter().map(|m| m.layer).collect();
    assert_eq!(layers, [Layer::Pool1, Layer::Prob], "maps come back in the order asked");
    assert!(delegated.maps.iter().all(|m| m.quality.is_some()), "scored in the worker");
    assert_eq!(delegated, in_step, "bit for bit, scores and notes included");
}

/// The page's CPU path: the activations computed in its training worker (`served`), wide
/// layers rotated there, handed to an analyzer that awaited them — the same analysis, bit for
/// bit, as the analyzer computing them itself.
#[test]
fn activations_served_by_the_worker_make_the_analysis_made_in_step() {
    let data = digits();
    let images: Vec<usize> = (0..data.images.len()).step_by(3).collect(); // 30 images
    let n = images.len();
    let net = network().replace_head(3, 5, &cpu_device());
    let weights = block_on(export_weights(&net)).unwrap();
    let names = data.classes.clone();
    let mut config = AnalysisConfig::new(TsnePreset::Matlab, n, 11);
    config.tsne.n_iter = 150;
    let run_to_end = |mut analyzer: Analyzer| {
        while !analyzer.is_finished() {
            block_on(analyzer.step()).unwrap();
        }
        analyzer.finish()
    };
    let in_step = run_to_end(
        Analyzer::new(data.clone(), images.clone(), net, names.clone(), cpu_device(), config.clone()).unwrap(),
    );

    let server = EngineServer::default();
    let task = ActivationTask::new(&weights, &data, images.clone(), config.layers.clone(), config.chunk, config.budget)
        .unwrap();
    let reply = ask(&server, &data, EngineRequest::StartActivations(Box::new(task.clone())), &[]).unwrap();
    assert_eq!(reply, EngineReply::ActivationsStarted { images: n });
    let (mut chunks, mut rotated) = (0, Vec::new());
    let output = loop {
        match ask(&server, &data, EngineRequest::Step, &[]).unwrap() {
            EngineReply::ActivationsStepped { progress, output } => {
                match progress {
                    ActivationProgress::Images { done, total } => {
                        chunks += 1;
                        assert_eq!(total, n);
                        assert!(done <= total);
                    }
                    ActivationProgress::Rotating { index, layer, progress } => {
                        assert!(progress.done <= progress.total);
                        if !rotated.contains(&(index, layer)) {
                            rotated.push((index, layer));
                        }
                    }
                }
                if let Some(output) = output {
                    break output;
                }
            }
            other => panic!("unexpected reply {other:?}"),
        }
    };
    assert_eq!(chunks, n.div_ceil(config.chunk));
    // pool1 (64 × 56 × 56 = 200,704 values) and conv10 (3 × 14 × 14 = 588) are wider than the 30 rows; prob
    // is not.
    assert_eq!(rotated, [(0, Layer::Pool1), (1, Layer::Conv10)]);
    let widths: Vec<(usize, Option<usize>)> = output.matrices.iter().map(|m| (m.width, m.rotation)).collect();
    assert_eq!(widths, [(200_704, Some(n)), (588, Some(n)), (3, None)]);
    // The job is handed over and gone: the worker holds nothing of it.
    assert!(matches!(ask(&server, &data, EngineRequest::Step, &[]), Some(EngineReply::Failed(_))));

    let awaiting = || {
        Analyzer::awaiting_activations(data.clone(), images.clone(), names.clone(), cpu_device(), config.clone())
            .unwrap()
    };
    let mut early = awaiting();
    assert!(early.awaits_activations());
    assert!(block_on(early.step()).is_err(), "no step before the activations arrive");
    let mut short = (*output).clone();
    short.probabilities.pop();
    let refused = early.activations_arrived(short).unwrap_err().to_string();
    assert!(refused.contains("not of the 30 images"), "{refused}");

    let mut analyzer = awaiting();
    analyzer.activations_arrived(*output).unwrap();
    assert_eq!(run_to_end(analyzer), in_step, "bit for bit, predictions, maps and scores");

    // A file the page cannot read fails the step, naming it.
    ask(&server, &data, EngineRequest::StartActivations(Box::new(task)), &[]).unwrap();
    match ask(&server, &data, EngineRequest::Step, &[images[0]]).unwrap() {
        EngineReply::Failed(message) => assert!(message.contains(&data.images[images[0]].path), "{message}"),
        other => panic!("unexpected reply {other:?}"),
    }
}
