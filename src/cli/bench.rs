//! `layerlens bench inference`: images per second of a forward pass.

use std::time::Instant;

use futures_lite::future::block_on;

use super::BenchInferenceArgs;
use super::common::load_model;
use crate::model::benchmark::measure_inference;

pub fn inference(args: BenchInferenceArgs) -> Result<(), String> {
    let (net, device) = load_model(&args.model)?;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("backend: {}  cores: {threads}", args.model.backend);
    let origin = Instant::now();
    let clock = || origin.elapsed().as_secs_f64();
    for &batch in &args.batch {
        let t = block_on(measure_inference(&net, &device, batch, args.repeat, &clock)).map_err(|e| e.to_string())?;
        println!(
            "batch {batch:>4}: {:>8.1} images/s  ({:.1} ms per batch; first pass {:.2} s)",
            t.images_per_second,
            batch as f64 / t.images_per_second * 1e3,
            t.first_pass_seconds
        );
    }
    Ok(())
}
