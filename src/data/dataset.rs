//! A labelled image collection: one class per folder, as MATLAB's
//! `imageDatastore(..., IncludeSubfolders=true, LabelSource="foldernames")` reads it.
//!
//! Files arrive one by one with their relative path (from a folder walk, a zip, or a browser
//! drop). The label is the name of the folder that directly contains the file. Hidden files
//! and macOS archive litter are ignored silently; anything else that is not a decodable image
//! is kept in [`DataSet::rejected`] with the reason, so the user sees what was skipped.
//!
//! Memory: only the encoded bytes and a small thumbnail are kept per image; the 227×227
//! network input is decoded per mini-batch (see `train::batch`).

use std::sync::Arc;

use image::RgbImage;

use super::image_input::decode_rgb;

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
    pub bytes: Arc<[u8]>,
    /// A small preview, aspect kept, at most [`THUMBNAIL_SIZE`] on its longer side.
    pub thumbnail: RgbImage,
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
    accepted: Vec<(String, String, Arc<[u8]>, RgbImage)>,
    rejected: Vec<Rejected>,
}

impl DataSetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one file. `path` is relative to the data set's root, `/`-separated.
    pub fn add_file(&mut self, path: &str, bytes: Vec<u8>) {
        let path = path.trim_start_matches("./").to_string();
        if is_ignored(&path) {
            return;
        }
        let Some(label) = label_of(&path).map(str::to_string) else {
            self.reject(path, "not inside a class folder (the folder name is the label)".into());
            return;
        };
        match decode_rgb(&bytes) {
            Ok(image) => {
                let thumbnail = thumbnail(&image);
                self.accepted.push((path, label, Arc::from(bytes), thumbnail));
            }
            Err(e) => self.reject(path, e.to_string()),
        }
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
            .map(|(path, label, bytes, thumbnail)| LabelledImage {
                class: classes.binary_search(&label).expect("label collected above"),
                path,
                bytes,
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
}
