//! `layerlens analyze`: the workflow's analysis of a data set's validation split — predictions,
//! ambiguity, activations of the chosen layers and one t-SNE map per layer — written as the
//! page's exports, with the ten most ambiguous images printed as the workflow's table.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures_lite::future::block_on;

use super::AnalyzeArgs;
use super::common::{load_model, read_file};
use crate::analysis::export::{ambiguity_csv, ambiguity_table_text, confusion_csv, map_csv, predictions_json};
use crate::analysis::map_task::run_to_end;
use crate::analysis::{AnalysisConfig, AnalysisStep, Analyzer, LayerMap};
use crate::data::sources::load_path;
use crate::data::split::split_each_label;

/// The network's class names: `--classes`, else the `.classes.txt` that `layerlens train` wrote
/// beside the weights, else "class 0", "class 1", ….
fn network_classes(args: &AnalyzeArgs, count: usize) -> Result<Vec<String>, String> {
    let sibling = args.model.weights.with_extension("classes.txt");
    let path = match &args.classes {
        Some(path) => Some(path.clone()),
        None => sibling.exists().then_some(sibling),
    };
    let Some(path) = path else {
        return Ok((0..count).map(|c| format!("class {c}")).collect());
    };
    let text = String::from_utf8(read_file(&path)?).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
    let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.len() != count {
        return Err(format!("{} names {} classes but the network has {count}", path.display(), names.len()));
    }
    Ok(names)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn print_map(map: &LayerMap) {
    let quality = map.quality.map_or_else(
        || "too few points to score".to_string(),
        |q| format!("trustworthiness {:.4}, 5-NN accuracy {:.4}", q.trustworthiness, q.knn_accuracy),
    );
    eprintln!("  {} map (M = {}): KL {:.4}; {quality}", map.layer, map.width, map.kl);
    for note in &map.notes {
        eprintln!("  note: {note}");
    }
}

pub fn run(args: AnalyzeArgs) -> Result<(), String> {
    let data = load_path(&args.data).map_err(|e| e.to_string())?;
    let split = split_each_label(&data, args.train_fraction, args.seed).map_err(|e| e.to_string())?;
    let (net, device) = load_model(&args.model)?;
    let names = network_classes(&args, net.num_classes())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut layers = args.layers.clone();
    layers.dedup();
    let n = split.validation.len();
    let mut config = AnalysisConfig::new(args.preset, n, args.seed);
    config.layers = layers;
    if let Some(iterations) = args.iterations {
        config.tsne.n_iter = iterations;
    }
    config.budget.max_exact_bytes = args.max_exact_mib << 20;
    config.budget.sketch_width = args.sketch_width;
    // Each layer's map on a thread of its own, while the next layer is being prepared.
    config.delegate_maps = true;
    let data = Arc::new(data);
    let same = names == data.classes;
    eprintln!(
        "{} validation images of {} classes (seed {}); network classes {}",
        n,
        data.classes.len(),
        args.seed,
        if same { "= the data set's (fine-tuned)" } else { "are its own (not fine-tuned on these classes)" }
    );
    let started = Instant::now();
    let mut analyzer = Analyzer::new(data, split.validation, net, names, device, config).map_err(|e| e.to_string())?;
    let mut threads = Vec::new();
    loop {
        if analyzer.waiting_for_delegated_maps() {
            for (index, thread) in threads.drain(..) {
                let finished = std::thread::JoinHandle::join(thread).map_err(|_| "a t-SNE thread panicked")??;
                analyzer.delegated_map_finished(index, finished)?;
                print_map(analyzer.map(index).expect("given back above"));
            }
            continue;
        }
        if analyzer.is_finished() {
            break;
        }
        match block_on(analyzer.step()).map_err(|e| e.to_string())? {
            AnalysisStep::Activations { done, total } => {
                eprintln!("activations: {done}/{total} images")
            }
            AnalysisStep::Reducing { layer, done, total, .. } => {
                if done == 0 || done == total {
                    eprintln!("{layer}: rotating {total} columns onto the principal axes ({done}/{total})");
                }
            }
            AnalysisStep::MapStarted { layer, method, .. } => {
                eprintln!("t-SNE of {layer} ({method:?})…")
            }
            AnalysisStep::MapTaskReady { index, layer, task } => {
                eprintln!("t-SNE of {layer} ({:?}) on a thread of its own…", task.config.method.resolve(task.n));
                threads.push((index, std::thread::spawn(move || run_to_end(*task))));
            }
            AnalysisStep::Iteration { iteration, iterations, kl: Some(kl), index } => {
                let layer = analyzer.config().layers[index];
                eprintln!("  {layer}: iteration {iteration}/{iterations}  KL {kl:.4}");
            }
            AnalysisStep::Iteration { .. } => {}
            AnalysisStep::MapFinished { index } => print_map(analyzer.map(index).expect("just finished")),
            AnalysisStep::Finished => {}
        }
    }
    let analysis = analyzer.finish();
    for map in &analysis.maps {
        write(&args.out, &format!("map-{}.csv", map.layer), &map_csv(&analysis, map))?;
    }
    write(&args.out, "ambiguity.csv", &ambiguity_csv(&analysis))?;
    write(&args.out, "confusion.csv", &confusion_csv(&analysis))?;
    write(&args.out, "predictions.json", &predictions_json(&analysis))?;
    if let Some(accuracy) = analysis.accuracy() {
        eprintln!("validation accuracy: {accuracy:.4}");
    }
    eprintln!("analysis done in {:.1} s; wrote {}", started.elapsed().as_secs_f64(), args.out.display());
    print!("{}", ambiguity_table_text(&analysis, 10));
    Ok(())
}
