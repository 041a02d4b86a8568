//! A session — the data set a person brought, the network they fine-tuned on it and the analysis
//! they explored — as one file. The page keeps the newest in the browser's storage so a reload
//! picks up where it was, and offers it as a download ("Export session") that another browser
//! imports. Everything is restored exactly: the same images in the same order, the same weights,
//! the same maps and tables, bit for bit.
//!
//! The file is a zip archive (its CRC-32s tell a damaged file from a good one):
//! - `session.json`: the format name and version, when it was saved, the data set's file list,
//!   the training's validation images, the analysis and the page's settings;
//! - `files/<n>`: the data set's n-th file, as the person gave it (stored, not re-compressed);
//! - `weights.safetensors`: the fine-tuned network, when there is one.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zip::write::SimpleFileOptions;

use crate::analysis::Analysis;
use crate::data::dataset::{DataSet, DataSetBuilder, Rejected};
use crate::model::weights::{SqueezeNetWeights, load_weights, weights_to_safetensors};

/// What `session.json` says it is; anything else is not a layerlens session.
pub const FORMAT: &str = "layerlens-session";
/// The newest layout this build reads and the one it writes. A file of a newer version is
/// refused (its contents may mean something this build does not know), never half-read.
pub const VERSION: u32 = 1;

const MANIFEST: &str = "session.json";
const WEIGHTS: &str = "weights.safetensors";

/// The network fine-tuned on the session's data set.
#[derive(Debug, Clone)]
pub struct TrainedNetwork {
    pub weights: SqueezeNetWeights,
    /// The data set's images it was evaluated on (never trained on), by index.
    pub validation: Vec<usize>,
}

/// Everything a session holds. Each part is optional: a session is saved after each step.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// When it was saved, in milliseconds since the Unix epoch.
    pub saved_at_ms: f64,
    pub data: Option<Arc<DataSet>>,
    pub trained: Option<TrainedNetwork>,
    pub analysis: Option<Analysis>,
    /// The page's settings (form field → value), restored into the fields.
    pub settings: BTreeMap<String, String>,
}

/// What a session holds, told without decoding its images or weights (for "Restore…?").
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub saved_at_ms: f64,
    pub images: usize,
    pub classes: usize,
    pub trained: bool,
    pub analysed: bool,
}

/// Why a file could not be read as a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("not a layerlens session file ({0})")]
    NotASession(String),
    #[error(
        "this session was saved by a newer layerlens (session version {0}; this page reads up to {VERSION}): open it with the newer page"
    )]
    Newer(u32),
    #[error("the session file is damaged: {0}")]
    Damaged(String),
    #[error("could not write the session: {0}")]
    Write(String),
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    saved_at_ms: f64,
    /// The data set's files in the data set's order: `files/<n>` holds the n-th.
    files: Option<Vec<String>>,
    /// The images are not in the file: the browser's storage keeps its handles to them beside
    /// it ([`Session::to_bytes_without_images`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    images_elsewhere: bool,
    /// The images are not in the file, only their thumbnails (`thumbnails/<n>`, PNG): a session
    /// exported to show its maps and tables, without the data set's bytes
    /// ([`Session::to_bytes_with_thumbnails`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    thumbnails_only: bool,
    /// Files that were not taken when the data set was read, and why.
    rejected: Vec<(String, String)>,
    validation: Option<Vec<usize>>,
    analysis: Option<Analysis>,
    settings: BTreeMap<String, String>,
}

fn file_entry(index: usize) -> String {
    format!("files/{index}")
}

fn thumbnail_entry(index: usize) -> String {
    format!("thumbnails/{index}")
}

/// What a session file carries of its data set's images.
#[derive(Clone, Copy, PartialEq)]
enum ImagesIn {
    /// The files themselves.
    File,
    /// Nothing: the store keeps their handles beside the file.
    Store,
    /// Their thumbnails only.
    Thumbnails,
}

/// An image of a session exported without its images: Explore shows its thumbnail, and a step
/// that needs the image itself says why it cannot have it.
#[derive(Debug)]
pub struct NotInSessionFile;

impl crate::data::dataset::ByteSource for NotInSessionFile {
    fn read(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<u8>, String>> + '_>> {
        Box::pin(async {
            Err("this session was exported or saved without its images: bring the data set again (step 1) to train or analyse"
                .to_string())
        })
    }
    fn size(&self) -> u64 {
        0
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Session {
    /// The session file's bytes, images included: every image's bytes must be in memory
    /// ([`DataSet::with_bytes_held`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, SessionError> {
        if let Some(image) = self.data.iter().flat_map(|d| d.images.iter()).find(|i| i.held().is_none()) {
            return Err(SessionError::Write(format!("{} is not in memory", image.path)));
        }
        self.write(ImagesIn::File)
    }

    /// The session file without its images, for a store that keeps the images' own handles
    /// beside it (the browser's storage holds `File`s as references, not copies): gigabytes of
    /// photos are not copied, and [`Session::from_bytes_with_images`] puts them back.
    pub fn to_bytes_without_images(&self) -> Result<Vec<u8>, SessionError> {
        self.write(ImagesIn::Store)
    }

    /// The session file with each image's thumbnail instead of the image: everything Explore
    /// shows (maps, tables, thumbnails) in a small file to share; training and analysing again
    /// need the data set brought back.
    pub fn to_bytes_with_thumbnails(&self) -> Result<Vec<u8>, SessionError> {
        self.write(ImagesIn::Thumbnails)
    }

    /// Whether this session's images are all missing (it came from a file exported with
    /// thumbnails only): saving it again can only keep the thumbnails.
    pub fn has_thumbnails_only(&self) -> bool {
        self.data.as_ref().is_some_and(|d| {
            !d.images.is_empty()
                && d.images.iter().all(|i| match &i.content {
                    crate::data::dataset::ImageBytes::Elsewhere(source) => source.as_any().is::<NotInSessionFile>(),
                    crate::data::dataset::ImageBytes::Held(_) => false,
                })
        })
    }

    fn write(&self, images: ImagesIn) -> Result<Vec<u8>, SessionError> {
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            saved_at_ms: self.saved_at_ms,
            files: self.data.as_ref().map(|d| d.images.iter().map(|i| i.path.clone()).collect()),
            images_elsewhere: images == ImagesIn::Store && self.data.is_some(),
            thumbnails_only: images == ImagesIn::Thumbnails && self.data.is_some(),
            rejected: self
                .data
                .as_ref()
                .map(|d| d.rejected.iter().map(|r| (r.path.clone(), r.reason.clone())).collect())
                .unwrap_or_default(),
            validation: self.trained.as_ref().map(|t| t.validation.clone()),
            analysis: self.analysis.clone(),
            settings: self.settings.clone(),
        };
        let write = |e: &dyn std::fmt::Display| SessionError::Write(e.to_string());
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        // Images and weights are already compressed, or do not compress: stored as they are.
        let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).large_file(true);
        let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(MANIFEST, deflated).map_err(|e| write(&e))?;
        zip.write_all(&serde_json::to_vec(&manifest).map_err(|e| write(&e))?).map_err(|e| write(&e))?;
        if let Some(trained) = &self.trained {
            let bytes = weights_to_safetensors(&trained.weights).map_err(|e| write(&e))?;
            zip.start_file(WEIGHTS, stored).map_err(|e| write(&e))?;
            zip.write_all(&bytes).map_err(|e| write(&e))?;
        }
        for (index, image) in self.data.iter().flat_map(|d| d.images.iter()).enumerate() {
            match images {
                ImagesIn::File => {
                    let bytes =
                        image.held().ok_or_else(|| SessionError::Write(format!("{} is not in memory", image.path)))?;
                    zip.start_file(file_entry(index), stored).map_err(|e| write(&e))?;
                    zip.write_all(bytes).map_err(|e| write(&e))?;
                }
                ImagesIn::Thumbnails => {
                    let mut png = Vec::new();
                    image
                        .thumbnail
                        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
                        .map_err(|e| write(&e))?;
                    zip.start_file(thumbnail_entry(index), stored).map_err(|e| write(&e))?;
                    zip.write_all(&png).map_err(|e| write(&e))?;
                }
                ImagesIn::Store => {}
            }
        }
        Ok(zip.finish().map_err(|e| write(&e))?.into_inner())
    }

    /// Reads a session file: the data set is decoded and checked again, as when it was first
    /// read, so it is the same data set (classes, order, thumbnails).
    pub fn from_bytes(bytes: &[u8]) -> Result<Session, SessionError> {
        Self::read(bytes, None)
    }

    /// Reads a session file written by [`Session::to_bytes_without_images`], with its data
    /// set read again from the handles kept beside it: the same files in the same order, or
    /// the session is refused (a file that went away is named by the data set's reading).
    pub fn from_bytes_with_images(bytes: &[u8], data: DataSet) -> Result<Session, SessionError> {
        Self::read(bytes, Some(data))
    }

    /// Whether a session file leaves its images to the store it is kept in.
    pub fn images_elsewhere(bytes: &[u8]) -> Result<bool, SessionError> {
        Ok(read_manifest(&mut open(bytes)?)?.images_elsewhere)
    }

    fn read(bytes: &[u8], images: Option<DataSet>) -> Result<Session, SessionError> {
        let mut archive = open(bytes)?;
        let manifest = read_manifest(&mut archive)?;
        let data = match (&manifest.files, images) {
            (None, _) => None,
            (Some(paths), None) if manifest.thumbnails_only => {
                Some(Arc::new(thumbnails_only(&mut archive, paths, &manifest.rejected)?))
            }
            (Some(_), None) if manifest.images_elsewhere => {
                return Err(SessionError::Damaged(
                    "its images were kept by the browser that saved it, not in the file".into(),
                ));
            }
            (Some(paths), Some(mut data)) => {
                let files: Vec<&String> = data.images.iter().map(|i| &i.path).collect();
                if files.len() != paths.len() || files.iter().zip(paths).any(|(a, b)| *a != b) {
                    let missing = paths.iter().filter(|p| !files.contains(p)).count();
                    let first =
                        paths.iter().find(|p| !files.contains(p)).map_or(String::new(), |p| format!(", {p} first"));
                    return Err(SessionError::Damaged(format!(
                        "{missing} of its {} images could not be read again{first}",
                        paths.len()
                    )));
                }
                data.rejected = manifest
                    .rejected
                    .iter()
                    .map(|(path, reason)| Rejected { path: path.clone(), reason: reason.clone() })
                    .collect();
                Some(Arc::new(data))
            }
            (Some(paths), None) => {
                let mut builder = DataSetBuilder::new();
                for (index, path) in paths.iter().enumerate() {
                    builder.add_file(path, read_entry(&mut archive, &file_entry(index))?);
                }
                for (path, reason) in &manifest.rejected {
                    builder.reject(path.clone(), reason.clone());
                }
                let data = builder.finish();
                if data.images.len() != paths.len() {
                    return Err(SessionError::Damaged(format!(
                        "{} of its {} images no longer read as images",
                        paths.len() - data.images.len(),
                        paths.len()
                    )));
                }
                Some(Arc::new(data))
            }
        };
        let trained = match manifest.validation {
            None => None,
            Some(validation) => {
                let (weights, _) = load_weights(&read_entry(&mut archive, WEIGHTS)?)
                    .map_err(|e| SessionError::Damaged(format!("{WEIGHTS}: {e}")))?;
                let images = data.as_ref().map_or(0, |d| d.images.len());
                if let Some(&bad) = validation.iter().find(|&&i| i >= images) {
                    return Err(SessionError::Damaged(format!("validation image {bad} of {images}")));
                }
                Some(TrainedNetwork { weights, validation })
            }
        };
        if let Some(analysis) = &manifest.analysis {
            check_analysis(analysis, data.as_deref())?;
        }
        Ok(Session {
            saved_at_ms: manifest.saved_at_ms,
            data,
            trained,
            analysis: manifest.analysis,
            settings: manifest.settings,
        })
    }

    /// What this session holds (as [`Session::summary`] tells it of its file).
    pub fn contents(&self) -> SessionSummary {
        SessionSummary {
            saved_at_ms: self.saved_at_ms,
            images: self.data.as_ref().map_or(0, |d| d.images.len()),
            classes: self.data.as_ref().map_or(0, |d| d.counts().iter().filter(|&&n| n > 0).count()),
            trained: self.trained.is_some(),
            analysed: self.analysis.is_some(),
        }
    }

    /// What a session file holds, reading only its manifest.
    pub fn summary(bytes: &[u8]) -> Result<SessionSummary, SessionError> {
        let manifest = read_manifest(&mut open(bytes)?)?;
        let files = manifest.files.as_deref().unwrap_or_default();
        let classes: std::collections::BTreeSet<_> =
            files.iter().filter_map(|path| crate::data::dataset::label_of(path)).collect();
        Ok(SessionSummary {
            saved_at_ms: manifest.saved_at_ms,
            images: files.len(),
            classes: classes.len(),
            trained: manifest.validation.is_some(),
            analysed: manifest.analysis.is_some(),
        })
    }
}

/// The data set of a file exported with thumbnails only: its classes and order as the paths
/// say (they were written in the data set's order), each image's thumbnail from its entry, and
/// no bytes ([`NotInSessionFile`]).
fn thumbnails_only(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    paths: &[String],
    rejected: &[(String, String)],
) -> Result<DataSet, SessionError> {
    let labels = paths
        .iter()
        .map(|p| {
            crate::data::dataset::label_of(p).ok_or_else(|| SessionError::Damaged(format!("{p} has no class folder")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let classes: Vec<String> =
        labels.iter().map(|l| l.to_string()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let missing: Arc<dyn crate::data::dataset::ByteSource> = Arc::new(NotInSessionFile);
    let mut images = Vec::with_capacity(paths.len());
    for (index, (path, label)) in paths.iter().zip(labels).enumerate() {
        let name = thumbnail_entry(index);
        let png = read_entry(archive, &name)?;
        // The size from the header first: a PNG claiming a huge picture is refused before a
        // decoder is made for it (image_input.rs says why).
        let side = crate::data::dataset::THUMBNAIL_SIZE as usize;
        let size = imagesize::blob_size(&png).map_err(|e| SessionError::Damaged(format!("{name}: {e}")))?;
        if size.width == 0 || size.height == 0 || size.width > side || size.height > side {
            return Err(SessionError::Damaged(format!("{name}: a thumbnail of {}×{}", size.width, size.height)));
        }
        let thumbnail = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .map_err(|e| SessionError::Damaged(format!("{name}: {e}")))?
            .to_rgb8();
        images.push(crate::data::dataset::LabelledImage {
            path: path.clone(),
            class: classes.binary_search_by(|c| c.as_str().cmp(label)).expect("collected above"),
            content: crate::data::dataset::ImageBytes::Elsewhere(missing.clone()),
            thumbnail,
        });
    }
    let rejected =
        rejected.iter().map(|(path, reason)| Rejected { path: path.clone(), reason: reason.clone() }).collect();
    Ok(DataSet { classes, images, rejected })
}

/// An analysis that does not fit its data set would have the page look past its images or
/// classes: such a file is damaged, whatever its checksums say.
fn check_analysis(analysis: &Analysis, data: Option<&DataSet>) -> Result<(), SessionError> {
    let bad = |what: String| Err(SessionError::Damaged(format!("its analysis does not fit its data set: {what}")));
    let images = data.map_or(0, |d| d.images.len());
    let (classes, outputs, n) = (analysis.classes.len(), analysis.network_classes.len(), analysis.predictions.len());
    if analysis.files.len() != images {
        return bad(format!("{} file names for {images} images", analysis.files.len()));
    }
    if let Some(p) = analysis.predictions.iter().find(|p| {
        p.image >= images || p.truth >= classes || p.predicted >= outputs || p.top2.iter().any(|&(c, _)| c >= outputs)
    }) {
        return bad(format!("the prediction for image {}", p.image));
    }
    let plane = 2 * analysis.class_map_side * analysis.class_map_side;
    if analysis.probabilities.iter().any(|p| p.len() != outputs) || analysis.probabilities.len() != n {
        return bad("class probabilities".into());
    }
    if analysis.class_maps.len() != n || analysis.class_maps.iter().any(|m| m.len() != plane) {
        return bad("class maps".into());
    }
    if let Some(map) = analysis.maps.iter().find(|m| m.coords.len() != 2 * n) {
        return bad(format!("the {} map has {} coordinates for {n} images", map.layer, map.coords.len()));
    }
    Ok(())
}

fn open(bytes: &[u8]) -> Result<zip::ZipArchive<Cursor<&[u8]>>, SessionError> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| SessionError::NotASession(format!("not a zip archive: {e}")))
}

/// The manifest, after checking what the file says it is: its format first, then its version,
/// and only then its contents.
fn read_manifest(archive: &mut zip::ZipArchive<Cursor<&[u8]>>) -> Result<Manifest, SessionError> {
    let text = match archive.by_name(MANIFEST) {
        Ok(mut entry) => {
            let mut text = Vec::new();
            entry.read_to_end(&mut text).map_err(|e| SessionError::Damaged(format!("{MANIFEST}: {e}")))?;
            text
        }
        Err(_) => return Err(SessionError::NotASession(format!("a zip archive without {MANIFEST}"))),
    };
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| SessionError::Damaged(format!("{MANIFEST}: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(SessionError::NotASession(format!("{MANIFEST} is not a layerlens session's")));
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(version) if version > VERSION as u64 => return Err(SessionError::Newer(version as u32)),
        Some(_) => {}
        None => return Err(SessionError::Damaged(format!("{MANIFEST} has no version"))),
    }
    serde_json::from_value(value).map_err(|e| SessionError::Damaged(format!("{MANIFEST}: {e}")))
}

/// One entry's bytes; the zip reader checks its CRC-32 as it reaches the end.
fn read_entry(archive: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Vec<u8>, SessionError> {
    let mut entry = archive.by_name(name).map_err(|e| SessionError::Damaged(format!("{name}: {e}")))?;
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).map_err(|e| SessionError::Damaged(format!("{name}: {e}")))?;
    Ok(bytes)
}
