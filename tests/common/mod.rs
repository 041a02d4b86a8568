//! Helpers shared by the native integration tests: fixture paths and the reference tensors.
#![allow(dead_code)]

pub mod engine_page;

use std::path::PathBuf;

use layerlens::model::weights::RawTensor;
use layerlens::tensor_file::{read_f32_tensor, read_raw};

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)
}

pub fn fixture_bytes(path: &str) -> Vec<u8> {
    std::fs::read(fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The onnxruntime reference tensors (`tests/fixtures/squeezenet/README.md`).
pub struct Reference {
    tensors: Vec<(String, RawTensor)>,
    bytes: Vec<u8>,
}

impl Reference {
    pub fn load() -> Self {
        let bytes = fixture_bytes("squeezenet/reference.safetensors");
        Self { tensors: read_f32_tensors_lenient(&bytes), bytes }
    }

    pub fn f32(&self, key: &str) -> &RawTensor {
        &self.tensors.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no {key}")).1
    }

    /// A `u8` NHWC image tensor (`photos_u8`, `noise_u8`) as shape and bytes.
    pub fn u8(&self, key: &str) -> (Vec<usize>, Vec<u8>) {
        let (_, shape, data) = read_raw(&self.bytes, key).unwrap();
        (shape, data)
    }

    /// The network input of image `i`, CHW.
    pub fn input(&self, i: usize) -> &[f32] {
        let input = self.f32("input");
        let m = input.data.len() / input.shape[0];
        &input.data[i * m..(i + 1) * m]
    }
}

/// Reads the f32 tensors only (the reference file also holds u8 images).
fn read_f32_tensors_lenient(bytes: &[u8]) -> Vec<(String, RawTensor)> {
    ["input", "pool1", "fire9", "conv10", "logits", "prob"]
        .iter()
        .map(|key| (key.to_string(), read_f32_tensor(bytes, key).unwrap()))
        .collect()
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Per-layer tolerances of the fixture README (float32 CPU implementation).
pub const CPU_TOLERANCES: [(&str, f32); 5] =
    [("pool1", 1e-5), ("fire9", 1e-4), ("conv10", 1e-4), ("logits", 1e-5), ("prob", 5e-6)];

/// A file kept outside the data set, as the page keeps a browser `File`: read on each use,
/// counting the reads.
pub struct KeptElsewhere {
    pub bytes: Vec<u8>,
    pub reads: std::sync::atomic::AtomicUsize,
}

impl layerlens::data::dataset::ByteSource for KeptElsewhere {
    fn read(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<u8>, String>> + '_>> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(async move { Ok(self.bytes.clone()) })
    }
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The same data set with every image kept elsewhere, as a folder picked in the page is; its
/// sources, to count their reads.
pub fn kept_elsewhere(
    data: &layerlens::data::dataset::DataSet,
) -> (layerlens::data::dataset::DataSet, Vec<std::sync::Arc<KeptElsewhere>>) {
    let mut builder = layerlens::data::dataset::DataSetBuilder::new();
    let mut sources = Vec::new();
    for image in &data.images {
        let bytes = image.held().expect("a data set read into memory").to_vec();
        let source = std::sync::Arc::new(KeptElsewhere { bytes: bytes.clone(), reads: 0.into() });
        builder.add_file_elsewhere(&image.path, &bytes, source.clone());
        sources.push(source);
    }
    for rejected in &data.rejected {
        builder.reject(rejected.path.clone(), rejected.reason.clone());
    }
    (builder.finish(), sources)
}
