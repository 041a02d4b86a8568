//! Where a data set's files come from: a zip archive (page and CLI) or a folder (CLI).
//! The browser's folder drops feed [`DataSetBuilder::add_file`] directly.

use std::io::{Cursor, Read};

use thiserror::Error;

use super::dataset::{DataSet, DataSetBuilder};

/// Largest single file taken from a zip, uncompressed: a guard against zip bombs.
pub const MAX_ZIP_ENTRY_BYTES: u64 = 256 * 1024 * 1024;

/// Most a whole zip may inflate to: more than a browser tab can hold as a data set.
pub const MAX_ZIP_TOTAL_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Largest ratio of inflated to archive size for a zip that inflates past
/// [`ZIP_RATIO_CHECKED_ABOVE`]. Photos barely compress (JPEG, PNG: about 1:1; BMP: a few
/// times); a zip bomb inflates hundreds or millions of times.
pub const MAX_ZIP_RATIO: u64 = 100;

/// Inflated size from which [`MAX_ZIP_RATIO`] applies (small archives of text or
/// uncompressed images may legitimately compress well).
pub const ZIP_RATIO_CHECKED_ABOVE: u64 = 64 * 1024 * 1024;

/// Why a data set could not be read at all (single bad files are [`super::dataset::Rejected`]).
#[derive(Debug, Error)]
pub enum SourceError {
    #[error("not a readable zip archive: {0}")]
    BadZip(String),
    #[error(
        "the zip would inflate to {} MB from {} KB (a zip bomb?); refused before unpacking anything",
        inflated >> 20, archive >> 10
    )]
    ZipBomb { inflated: u64, archive: u64 },
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
}

/// Reads every file of a zip archive. Entries whose path is absolute or climbs out with `..`
/// are refused (listed as rejected), never written or read as if they were inside; so are
/// zips inside the zip. An archive whose entries' sizes add up past
/// [`MAX_ZIP_TOTAL_BYTES`], or past [`MAX_ZIP_RATIO`] times its own size, is refused as a
/// whole before anything is inflated, and no entry is inflated past the size it declares.
pub fn load_zip(bytes: &[u8]) -> Result<DataSet, SourceError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| SourceError::BadZip(e.to_string()))?;
    // Summed here rather than by `ZipArchive::decompressed_size`, which gives up on entries
    // written with a data descriptor (streaming zippers, macOS's and browsers' among them)
    // although the central directory read here records their sizes too.
    let mut inflated = 0u64;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|e| SourceError::BadZip(e.to_string()))?;
        inflated = inflated.saturating_add(entry.size());
    }
    let archive_len = bytes.len() as u64;
    if inflated > MAX_ZIP_TOTAL_BYTES
        || (inflated > ZIP_RATIO_CHECKED_ABOVE && inflated / archive_len.max(1) > MAX_ZIP_RATIO)
    {
        return Err(SourceError::ZipBomb { inflated, archive: archive_len });
    }
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
        if path.to_ascii_lowercase().ends_with(".zip") {
            builder.reject(path, "a zip inside the zip is not opened: unpack it and add its folders".into());
            continue;
        }
        // One byte more than declared tells a lying header from an honest one.
        let declared = entry.size();
        let mut data = Vec::with_capacity(declared as usize);
        match entry.by_ref().take(declared + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 > declared => {
                builder.reject(path, "holds more than its header declares (damaged or crafted)".into())
            }
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

    /// A 1.3 MB zip of five 256 MiB entries of zeros (1.25 GiB inflated) is refused from its
    /// directory alone; nested zips are refused by name while the rest of the archive loads.
    #[test]
    fn zip_bombs_and_nested_zips_are_refused() {
        let zeros = vec![0u8; MAX_ZIP_ENTRY_BYTES as usize];
        let one = zip_of(&[("food/pizza/0.bmp", zeros)]);
        let mut out = Cursor::new(Vec::new());
        {
            let mut source = zip::ZipArchive::new(Cursor::new(&one)).unwrap();
            let mut writer = zip::ZipWriter::new(&mut out);
            for k in 0..5 {
                let entry = source.by_index_raw(0).unwrap();
                writer.raw_copy_file_rename(entry, format!("food/pizza/{k}.bmp")).unwrap();
            }
            writer.finish().unwrap();
        }
        let bomb = out.into_inner();
        assert!(bomb.len() < 2 << 20, "a small archive: {} bytes", bomb.len());
        let err = load_zip(&bomb).unwrap_err();
        assert!(matches!(err, SourceError::ZipBomb { inflated, .. } if inflated == 5 * MAX_ZIP_ENTRY_BYTES), "{err}");
        assert!(err.to_string().contains("1280 MB"), "{err}");

        let nested = zip_of(&[("food/pizza/1.png", png()), ("food/more.zip", zip_of(&[("food/pizza/2.png", png())]))]);
        let set = load_zip(&nested).unwrap();
        assert_eq!(set.images.len(), 1);
        assert_eq!(set.rejected.len(), 1);
        assert!(set.rejected[0].reason.contains("zip inside the zip"), "{:?}", set.rejected);
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
