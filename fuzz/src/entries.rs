//! What each fuzz target feeds its bytes to: the same readers the page and the CLI call on a
//! person's files. Shared with `tests/fuzz_regressions.rs`, which replays every input a
//! fuzzer once crashed on, so a fixed crash stays fixed.
//!
//! Each entry must return (an `Ok` or a clear error) for any bytes: a panic, an abort, an
//! out-of-memory or a hang is a bug.

use layerlens::data::image_input::image_file_to_input;
use layerlens::data::matrix::{MatrixOptions, read_matrix};
use layerlens::data::sources::load_zip;
use layerlens::model::weights::load_weights;
use layerlens::session::Session;

/// A fuzz target's body: any bytes in, nothing out; it panics only on a bug.
pub type Entry = fn(&[u8]);

/// The fuzz targets, by name (the file names under `fuzz_targets/` and the corpus folders).
pub const TARGETS: [(&str, Entry); 5] =
    [("image", image), ("weights", weights), ("zip_dataset", zip_dataset), ("matrix", matrix), ("session", session)];

/// An image file, decoded, checked and made the network's input (every format the page takes).
pub fn image(data: &[u8]) {
    if let Ok(input) = image_file_to_input(data) {
        assert!(input.iter().all(|v| v.is_finite()), "a decoded image gave non-finite input");
    }
}

/// A weights file: safetensors or ONNX, told apart by their bytes.
pub fn weights(data: &[u8]) {
    let _ = load_weights(data);
}

/// A zip of class folders, as dropped on the page or given to the CLI.
pub fn zip_dataset(data: &[u8]) {
    let _ = load_zip(data);
}

/// A matrix for the t-SNE panel: CSV, NPY or safetensors. The first byte picks the options a
/// person may set (a label column, dropped columns, a tensor name), so they are fuzzed too.
pub fn matrix(data: &[u8]) {
    let Some((&choice, bytes)) = data.split_first() else { return };
    let options = MatrixOptions {
        key: (choice & 1 != 0).then(|| "pool1".to_string()),
        label_column: (choice & 2 != 0).then(|| "label".to_string()),
        drop_columns: if choice & 4 != 0 { vec!["index".to_string()] } else { Vec::new() },
        missing_columns_ok: choice & 8 != 0,
    };
    if let Ok(matrix) = read_matrix(bytes, &options) {
        assert_eq!(matrix.values.len(), matrix.n * matrix.m, "a matrix whose size disagrees with its shape");
        if let Some(labels) = &matrix.labels {
            assert_eq!(labels.len(), matrix.n, "a label for each row");
        }
    }
}

/// A session file: its summary (read for "Restore…?") and the whole session; then the same
/// bytes as the manifest (`session.json`) of a well-formed session zip holding two small
/// images, so the fuzzer reaches the manifest's checks without having to forge the zip's
/// CRC-32s.
pub fn session(data: &[u8]) {
    let _ = Session::summary(data);
    let _ = Session::from_bytes(data);
    let wrapped = session_zip(data);
    let _ = Session::summary(&wrapped);
    let _ = Session::from_bytes(&wrapped);
}

/// A session zip with `manifest` as its `session.json` and a 4×4 PNG as `files/0` and `files/1`
/// and as `thumbnails/0` and `thumbnails/1` (for a manifest that says `thumbnails_only`).
pub fn session_zip(manifest: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    static PNG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let png = PNG.get_or_init(|| {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(4, 4, image::Rgb([200, 30, 90]))
            .write_to(&mut bytes, image::ImageFormat::Png)
            .expect("a PNG in memory");
        bytes.into_inner()
    });
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let entries =
        [("session.json", manifest), ("files/0", png), ("files/1", png), ("thumbnails/0", png), ("thumbnails/1", png)];
    for (name, bytes) in entries {
        zip.start_file(name, stored).expect("an entry in memory");
        zip.write_all(bytes).expect("an entry in memory");
    }
    zip.finish().expect("a zip in memory").into_inner()
}
