//! Where a data set's files come from: a zip archive (page and CLI) or a folder (CLI).
//! The browser's folder drops feed [`DataSetBuilder::add_file`] directly.

use std::io::{Cursor, Read};

use thiserror::Error;

use super::dataset::{DataSet, DataSetBuilder};

/// Largest single file taken from a zip, uncompressed: a guard against zip bombs.
pub const MAX_ZIP_ENTRY_BYTES: u64 = 256 * 1024 * 1024;

/// Why a data set could not be read at all (single bad files are [`super::dataset::Rejected`]).
#[derive(Debug, Error)]
pub enum SourceError {
    #[error("not a readable zip archive: {0}")]
    BadZip(String),
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
}

/// Reads every file of a zip archive. Entries whose path is absolute or climbs out with `..`
/// are refused (listed as rejected), never written or read as if they were inside.
pub fn load_zip(bytes: &[u8]) -> Result<DataSet, SourceError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| SourceError::BadZip(e.to_string()))?;
    let mut builder = DataSetBuilder::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| SourceError::BadZip(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let raw_name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let Some(safe) = entry.enclosed_name().filter(|_| !is_unsafe(&raw_name)) else {
            builder.reject(raw_name, "unsafe path in the zip (absolute, or climbing out with ..)".into());
            continue;
        };
        let path = safe.to_string_lossy().replace('\\', "/");
        if entry.size() > MAX_ZIP_ENTRY_BYTES {
            builder.reject(path, format!("larger than {} MB uncompressed", MAX_ZIP_ENTRY_BYTES >> 20));
            continue;
        }
        let mut data = Vec::with_capacity(entry.size() as usize);
        match entry.by_ref().take(MAX_ZIP_ENTRY_BYTES).read_to_end(&mut data) {
            Ok(_) => builder.add_file(&path, data),
            Err(e) => builder.reject(path, format!("cannot be extracted: {e}")),
        }
    }
    Ok(builder.finish())
}

/// `zip`'s `enclosed_name` already refuses `..` escapes; absolute paths (`/x`, `C:\x`) are
/// refused here too rather than silently re-rooted.
fn is_unsafe(name: &str) -> bool {
    let name = name.replace('\\', "/");
    name.starts_with('/') || name.split('/').any(|p| p == "..") || name.chars().nth(1) == Some(':')
}

/// Reads a folder recursively (paths relative to it), or a `.zip` file.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_path(path: &std::path::Path) -> Result<DataSet, SourceError> {
    let io = |p: &std::path::Path, e: std::io::Error| SourceError::Io {
        path: p.display().to_string(),
        reason: e.to_string(),
    };
    if path.is_file() {
        return load_zip(&std::fs::read(path).map_err(|e| io(path, e))?);
    }
    let mut builder = DataSetBuilder::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let full = entry.path();
            let relative = full.strip_prefix(path).unwrap_or(&full).to_string_lossy().replace('\\', "/");
            if full.is_dir() {
                if !super::dataset::is_ignored(&relative) {
                    pending.push(full);
                }
            } else {
                match std::fs::read(&full) {
                    Ok(bytes) => builder.add_file(&relative, bytes),
                    Err(e) => builder.reject(relative, e.to_string()),
                }
            }
        }
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn png() -> Vec<u8> {
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(3, 3, image::Rgb([1, 2, 3])))
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut writer = zip::ZipWriter::new(&mut out);
            for (name, data) in entries {
                writer.start_file(*name, SimpleFileOptions::default()).unwrap();
                writer.write_all(data).unwrap();
            }
            writer.finish().unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn zip_paths_that_escape_are_refused() {
        let bytes = zip_of(&[
            ("food/pizza/1.png", png()),
            ("../evil/1.png", png()),
            ("/abs/1.png", png()),
            ("food/../../x/1.png", png()),
            ("__MACOSX/food/._1.png", b"x".to_vec()),
        ]);
        let set = load_zip(&bytes).unwrap();
        assert_eq!(set.classes, vec!["pizza"]);
        assert_eq!(set.images.len(), 1);
        let refused: Vec<&str> = set.rejected.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(refused, vec!["../evil/1.png", "/abs/1.png", "food/../../x/1.png"]);
        assert!(set.rejected.iter().all(|r| r.reason.contains("unsafe path")));
    }

    #[test]
    fn a_file_that_is_not_a_zip_is_an_error() {
        assert!(matches!(load_zip(b"PK but not really"), Err(SourceError::BadZip(_))));
    }

    #[test]
    fn folders_are_walked_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/cats")).unwrap();
        std::fs::create_dir_all(dir.path().join("dogs")).unwrap();
        std::fs::write(dir.path().join("a/cats/1.png"), png()).unwrap();
        std::fs::write(dir.path().join("dogs/1.png"), png()).unwrap();
        std::fs::write(dir.path().join("dogs/notes.txt"), "x").unwrap();
        let set = load_path(dir.path()).unwrap();
        assert_eq!(set.classes, vec!["cats", "dogs"]);
        assert_eq!(set.rejected.len(), 1);
        assert_eq!(set.rejected[0].path, "dogs/notes.txt");
    }
}
