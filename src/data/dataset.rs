//! A labelled image collection: one class per folder, as MATLAB's
//! `imageDatastore(..., IncludeSubfolders=true, LabelSource="foldernames")` reads it.
//!
//! Files arrive one by one with their relative path (from a folder walk, a zip, or a browser
//! drop). The label is the name of the folder that directly contains the file. Hidden files
//! and macOS archive litter are ignored silently; anything else that is not a decodable image
//! is kept in [`DataSet::rejected`] with the reason, so the user sees what was skipped.
//!
//! Memory: per image, a small thumbnail and its encoded bytes — or, where the files came from
//! the browser's file picker or a drop, only the browser's handle to the file
//! ([`ImageBytes::Elsewhere`]), read again when a step needs it. The 227×227 network input is
//! decoded per mini-batch (see `train::batch`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use image::RgbImage;

use super::image_input::{ImageInputError, decode_rgb};

/// Side of the thumbnails kept for the views (pixels).
pub const THUMBNAIL_SIZE: u32 = 64;

/// One accepted image.
#[derive(Debug, Clone)]
pub struct LabelledImage {
    /// Path relative to the data set's root, with `/` separators.
    pub path: String,
    /// Index into [`DataSet::classes`].
    pub class: usize,
    /// The file as given (JPEG, PNG, …), decoded again for each mini-batch.
    pub content: ImageBytes,
    /// A small preview, aspect kept, at most [`THUMBNAIL_SIZE`] on its longer side.
    pub thumbnail: RgbImage,
}

/// Where an image's encoded bytes are. A thousand phone photos are gigabytes: holding them in
/// wasm memory (at most 4 GiB) would cap the data sets the page can take, so the page keeps
/// the browser's `File` handles instead and every step reads the files it needs, when it
/// needs them ([`LabelledImage::read`]).
#[derive(Clone)]
pub enum ImageBytes {
    /// In memory: files from a zip, a session file, the demo, or a native folder walk.
    Held(Arc<[u8]>),
    /// Kept by whoever gave the file (the browser), read again on each use.
    Elsewhere(Arc<dyn ByteSource>),
}

impl fmt::Debug for ImageBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageBytes::Held(bytes) => write!(f, "Held({} bytes)", bytes.len()),
            ImageBytes::Elsewhere(source) => write!(f, "Elsewhere({} bytes)", source.size()),
        }
    }
}

/// A file's bytes that live outside this program (a browser `File`), read on demand.
pub trait ByteSource: Send + Sync {
    /// The file's bytes as they are now; an error (moved, deleted, changed since it was
    /// given) in words a person can act on.
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + '_>>;
    /// The file's size when it was given, in bytes.
    fn size(&self) -> u64;
    /// For the embedder to get its own handle back (to show the file, or store the handle).
    fn as_any(&self) -> &dyn std::any::Any;
}

impl LabelledImage {
    /// The file's bytes: a copy of the handle when they are held, a read otherwise.
    pub async fn read(&self) -> Result<Arc<[u8]>, ImageInputError> {
        match &self.content {
            ImageBytes::Held(bytes) => Ok(bytes.clone()),
            ImageBytes::Elsewhere(source) => {
                source.read().await.map(Arc::from).map_err(|reason| ImageInputError::Unreadable { reason })
            }
        }
    }

    /// The bytes, when they are in memory.
    pub fn held(&self) -> Option<&Arc<[u8]>> {
        match &self.content {
            ImageBytes::Held(bytes) => Some(bytes),
            ImageBytes::Elsewhere(_) => None,
        }
    }

    /// The file's size in bytes.
    pub fn file_size(&self) -> u64 {
        match &self.content {
            ImageBytes::Held(bytes) => bytes.len() as u64,
            ImageBytes::Elsewhere(source) => source.size(),
        }
    }
}

/// A file that was not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub path: String,
    pub reason: String,
}

/// Images with their classes, plus the files that were refused.
#[derive(Debug, Clone, Default)]
pub struct DataSet {
    /// Class names, sorted (so the class index does not depend on the order files arrive in).
    pub classes: Vec<String>,
    pub images: Vec<LabelledImage>,
    pub rejected: Vec<Rejected>,
}

/// Whether a path is something file managers and archivers leave behind, not data:
/// any hidden component (`.DS_Store`, `.git/…`) or macOS's `__MACOSX/` resource forks.
pub fn is_ignored(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with('.') || part == "__MACOSX" || part == "Thumbs.db")
}

/// The label of a file: the name of the folder that directly contains it; `None` for a file
/// at the root (it has no class folder).
pub fn label_of(path: &str) -> Option<&str> {
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    parts.pop()?;
    parts.pop()
}

/// Collects files into a [`DataSet`]; classes are assigned when [`DataSetBuilder::finish`] is called.
#[derive(Debug, Default)]
pub struct DataSetBuilder {
    accepted: Vec<(String, String, ImageBytes, RgbImage)>,
    rejected: Vec<Rejected>,
}

impl DataSetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one file, held in memory. `path` is relative to the data set's root,
    /// `/`-separated.
    pub fn add_file(&mut self, path: &str, bytes: Vec<u8>) {
        self.add(path, &bytes, || ImageBytes::Held(Arc::from(bytes.as_slice())));
    }

    /// Adds one file kept elsewhere: `bytes` (read once, to check it and make its thumbnail)
    /// are dropped afterwards, and the data set keeps `source` to read them again.
    pub fn add_file_elsewhere(&mut self, path: &str, bytes: &[u8], source: Arc<dyn ByteSource>) {
        self.add(path, bytes, || ImageBytes::Elsewhere(source));
    }

    /// Adds one file kept elsewhere that was checked when it was first read, with the thumbnail
    /// made then (a session restored from the browser's storage, which keeps both): nothing is
    /// read or decoded now. A file changed on disk since is found when a step reads it.
    pub fn add_checked_elsewhere(&mut self, path: &str, thumbnail: RgbImage, source: Arc<dyn ByteSource>) {
        if let Some((path, label)) = self.labelled(path) {
            self.accepted.push((path, label, ImageBytes::Elsewhere(source), thumbnail));
        }
    }

    /// Whether a file at `path` is taken at all (not archive litter); its bytes need not be
    /// read otherwise.
    pub fn wants(path: &str) -> bool {
        !is_ignored(path.trim_start_matches("./"))
    }

    fn add(&mut self, path: &str, bytes: &[u8], content: impl FnOnce() -> ImageBytes) {
        let Some((path, label)) = self.labelled(path) else {
            return;
        };
        match decode_rgb(bytes) {
            Ok(image) => {
                let thumbnail = thumbnail(&image);
                self.accepted.push((path, label, content(), thumbnail));
            }
            Err(e) => self.reject(path, e.to_string()),
        }
    }

    /// The path as the data set keeps it and its class, or `None` for archive litter (skipped)
    /// and a file outside any class folder (rejected).
    fn labelled(&mut self, path: &str) -> Option<(String, String)> {
        let path = path.trim_start_matches("./").to_string();
        if is_ignored(&path) {
            return None;
        }
        let Some(label) = label_of(&path).map(str::to_string) else {
            self.reject(path, "not inside a class folder (the folder name is the label)".into());
            return None;
        };
        Some((path, label))
    }

    /// Records a file refused before its bytes were looked at (e.g. an unsafe zip path).
    pub fn reject(&mut self, path: String, reason: String) {
        self.rejected.push(Rejected { path, reason });
    }

    /// Number of images accepted so far (for progress while loading).
    pub fn accepted(&self) -> usize {
        self.accepted.len()
    }

    /// Sorts classes by name and images by path, so a data set is the same however its
    /// files arrived.
    pub fn finish(mut self) -> DataSet {
        self.accepted.sort_by(|a, b| a.0.cmp(&b.0));
        let classes: Vec<String> = self
            .accepted
            .iter()
            .map(|(_, label, _, _)| label.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let images = self
            .accepted
            .into_iter()
            .map(|(path, label, content, thumbnail)| LabelledImage {
                class: classes.binary_search(&label).expect("label collected above"),
                path,
                content,
                thumbnail,
            })
            .collect();
        self.rejected.sort_by(|a, b| a.path.cmp(&b.path));
        DataSet { classes, images, rejected: self.rejected }
    }
}

fn thumbnail(image: &RgbImage) -> RgbImage {
    let (w, h) = image.dimensions();
    let scale = THUMBNAIL_SIZE as f32 / w.max(h) as f32;
    if scale >= 1.0 {
        return image.clone();
    }
    let (tw, th) = (((w as f32 * scale).round() as u32).max(1), ((h as f32 * scale).round() as u32).max(1));
    image::imageops::thumbnail(image, tw, th)
}

impl DataSet {
    /// Images per class, in class order.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for image in &self.images {
            counts[image.class] += 1;
        }
        counts
    }

    /// Whether every image's bytes are in memory (a session file can then carry them).
    pub fn all_held(&self) -> bool {
        self.images.iter().all(|i| i.held().is_some())
    }

    /// The encoded size of all images, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.images.iter().map(LabelledImage::file_size).sum()
    }

    /// The same data set with every image's bytes read into memory (to write them into a
    /// session file); the first file that cannot be read is the error, with its path.
    pub async fn with_bytes_held(&self) -> Result<DataSet, String> {
        let mut images = Vec::with_capacity(self.images.len());
        for image in &self.images {
            let bytes = image.read().await.map_err(|e| format!("{}: {e}", image.path))?;
            images.push(LabelledImage { content: ImageBytes::Held(bytes), ..image.clone() });
        }
        Ok(DataSet { classes: self.classes.clone(), images, rejected: self.rejected.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageFormat};
    use std::io::Cursor;

    pub(crate) fn png(w: u32, h: u32, value: u8) -> Vec<u8> {
        let mut bytes = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, image::Rgb([value, value, value])))
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn label_is_the_directly_containing_folder() {
        assert_eq!(label_of("food/pizza/1.jpg"), Some("pizza"));
        assert_eq!(label_of("pizza/1.jpg"), Some("pizza"));
        assert_eq!(label_of("1.jpg"), None);
        assert_eq!(label_of("a/b/c/d.png"), Some("c"));
    }

    #[test]
    fn hidden_and_archive_litter_is_ignored_silently() {
        let mut builder = DataSetBuilder::new();
        builder.add_file("cats/.DS_Store", b"junk".to_vec());
        builder.add_file("__MACOSX/cats/._1.png", b"junk".to_vec());
        builder.add_file(".git/config", b"junk".to_vec());
        builder.add_file("cats/1.png", png(4, 4, 10));
        let set = builder.finish();
        assert_eq!(set.images.len(), 1);
        assert!(set.rejected.is_empty(), "{:?}", set.rejected);
    }

    #[test]
    fn non_images_are_listed_with_their_reason() {
        let mut builder = DataSetBuilder::new();
        builder.add_file("dogs/readme.txt", b"hello".to_vec());
        builder.add_file("dogs/1.png", png(4, 4, 10));
        builder.add_file("loose.png", png(4, 4, 10));
        let set = builder.finish();
        assert_eq!(set.images.len(), 1);
        assert_eq!(set.rejected.len(), 2);
        assert_eq!(set.rejected[0].path, "dogs/readme.txt");
        assert!(set.rejected[0].reason.contains("not a supported image"));
        assert_eq!(set.rejected[1].path, "loose.png");
        assert!(set.rejected[1].reason.contains("class folder"));
    }

    #[test]
    fn classes_are_sorted_whatever_the_arrival_order() {
        let mut builder = DataSetBuilder::new();
        for path in ["zebra/2.png", "ant/1.png", "zebra/1.png", "mole/1.png"] {
            builder.add_file(path, png(80, 40, 5));
        }
        let set = builder.finish();
        assert_eq!(set.classes, vec!["ant", "mole", "zebra"]);
        assert_eq!(set.counts(), vec![1, 1, 2]);
        assert_eq!(set.images[0].path, "ant/1.png");
        assert_eq!(set.images[0].thumbnail.dimensions(), (64, 32));
    }

    /// A file kept "elsewhere": in memory here, with a switch that makes it unreadable, as a
    /// browser file deleted after it was dropped.
    struct Outside {
        bytes: Vec<u8>,
        gone: std::sync::atomic::AtomicBool,
    }

    impl ByteSource for Outside {
        fn read(&self) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + '_>> {
            Box::pin(async move {
                if self.gone.load(std::sync::atomic::Ordering::Relaxed) {
                    Err("NotFoundError".into())
                } else {
                    Ok(self.bytes.clone())
                }
            })
        }
        fn size(&self) -> u64 {
            self.bytes.len() as u64
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    #[test]
    fn files_kept_elsewhere_are_checked_once_and_read_again_on_use() {
        use futures_lite::future::block_on;
        let good = Arc::new(Outside { bytes: png(80, 40, 9), gone: false.into() });
        let mut builder = DataSetBuilder::new();
        builder.add_file_elsewhere("cats/1.png", &good.bytes, good.clone());
        builder.add_file_elsewhere(
            "cats/2.png",
            b"not an image",
            Arc::new(Outside { bytes: vec![], gone: false.into() }),
        );
        builder.add_file("dogs/1.png", png(4, 4, 1));
        let set = builder.finish();
        assert_eq!(set.images.len(), 2);
        assert_eq!(set.rejected.len(), 1, "a bad file kept elsewhere is refused like any other");
        assert_eq!(set.images[0].thumbnail.dimensions(), (64, 32));
        assert!(set.images[0].held().is_none() && set.images[1].held().is_some());
        assert!(!set.all_held());
        assert_eq!(set.total_bytes(), (good.bytes.len() + png(4, 4, 1).len()) as u64);
        assert_eq!(&*block_on(set.images[0].read()).unwrap(), &good.bytes[..]);

        let held = block_on(set.with_bytes_held()).unwrap();
        assert!(held.all_held());
        assert_eq!(&**held.images[0].held().unwrap(), &good.bytes[..]);

        good.gone.store(true, std::sync::atomic::Ordering::Relaxed);
        let err = block_on(set.images[0].read()).unwrap_err();
        assert!(matches!(err, ImageInputError::Unreadable { .. }), "{err}");
        assert_eq!(err.to_string(), "NotFoundError", "the keeper's own words");
        let err = block_on(set.with_bytes_held()).unwrap_err();
        assert!(err.starts_with("cats/1.png: "), "{err}");
    }
}
