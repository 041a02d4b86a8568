//! A synthetic analysis for measuring the Explore view at scale (`?synthetic-points=N`):
//! N points in ten classes, in clusters that overlap a little, on three maps — no network,
//! no data set. `benches/explore_bench.mjs` uses it to time hover, pan and zoom with 10,000
//! points; nothing else in the page refers to it.

use std::sync::Arc;

use leptos::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ExploreData, ExploreState, MapState};
use crate::analysis::predictions::ImagePrediction;
use crate::model::layers::Layer;
use crate::ui::browser_files::object_url;

/// Classes of the synthetic set.
const CLASSES: usize = 10;

/// Fills `state` with `n` synthetic points.
pub fn fill(state: &ExploreState, n: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut gray = Vec::new();
    let _ = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(16, 16, image::Rgb([128, 128, 128])))
        .write_to(&mut std::io::Cursor::new(&mut gray), image::ImageFormat::Png);
    let thumbnail = object_url(&gray, "image/png").unwrap_or_default();
    let predictions: Vec<ImagePrediction> = (0..n)
        .map(|i| {
            let truth = i % CLASSES;
            let mut p = vec![0.02f32; CLASSES];
            let wrong = rng.random::<f32>() < 0.1;
            p[if wrong { (truth + 1) % CLASSES } else { truth }] = 0.6 + 0.3 * rng.random::<f32>();
            ImagePrediction::new(i, truth, &p)
        })
        .collect();
    let maps = [(Layer::Pool1, 2.5f32), (Layer::Conv10, 1.2), (Layer::Prob, 0.5)]
        .map(|(layer, spread)| MapState {
            layer,
            width: 0,
            coords: (0..n)
                .flat_map(|i| {
                    let angle = (i % CLASSES) as f32 / CLASSES as f32 * std::f32::consts::TAU;
                    let (x, y) = (angle.cos() * 5.0, angle.sin() * 5.0);
                    [x + spread * (rng.random::<f32>() - 0.5) * 4.0, y + spread * (rng.random::<f32>() - 0.5) * 4.0]
                })
                .collect(),
            quality: None,
            notes: vec!["synthetic points (?synthetic-points)".into()],
            status: String::new(),
        })
        .to_vec();
    let names: Vec<String> = (0..CLASSES).map(|c| format!("class {c}")).collect();
    state.hidden.set(vec![false; CLASSES]);
    state.data.set(Some(Arc::new(ExploreData {
        classes: names.clone(),
        network_classes: names,
        same_classes: true,
        files: (0..n).map(|i| format!("synthetic/{}/{i}.png", i % CLASSES)).collect(),
        thumbnails: vec![thumbnail; n],
        class_maps: Vec::new(),
        class_map_side: 0,
        predictions,
    })));
    state.maps.set(maps);
}
