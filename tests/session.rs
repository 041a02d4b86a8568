//! Session files: a session (data set, fine-tuned weights, analysis, settings) comes back from
//! its file exactly; files of a newer version, damaged files and other files are refused with a
//! message that says which.

mod common;

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::sync::Arc;

use futures_lite::future::block_on;
use layerlens::analysis::{Analysis, AnalysisConfig, AnalysisStep, Analyzer};
use layerlens::backend::cpu_device;
use layerlens::data::dataset::{DataSet, DataSetBuilder};
use layerlens::data::sources::load_path;
use layerlens::embed::preset::TsnePreset;
use layerlens::model::layers::Layer;
use layerlens::model::squeezenet::SqueezeNet;
use layerlens::model::weights::load_weights;
use layerlens::session::{Session, SessionError, TrainedNetwork, VERSION};

use common::{fixture, fixture_bytes, kept_elsewhere};

/// A small but real session: twelve digit images of three classes (and a file rejected on loading), the
/// fixture's weights as "fine-tuned", and an analysis of two layers made by the analyzer.
fn session() -> Session {
    let mut data = load_path(&fixture("digits3")).unwrap();
    data.images = data.images.into_iter().step_by(8).collect();
    assert_eq!(data.images.len(), 12);
    data.rejected
        .push(layerlens::data::dataset::Rejected { path: "0/notes.txt".into(), reason: "not an image".into() });
    data.rejected.sort_by(|a, b| a.path.cmp(&b.path)); // as a data set keeps them
    let data = Arc::new(data);
    let (weights, _) = load_weights(&fixture_bytes("squeezenet/squeezenet1_1_random.safetensors")).unwrap();
    let validation: Vec<usize> = (0..12).step_by(2).collect();
    let analysis = analyse(&data, &validation, SqueezeNet::from_weights(&weights, &cpu_device()));
    let settings = BTreeMap::from([("epochs".to_string(), "4".to_string()), ("analysis-seed".into(), "7".into())]);
    Session {
        saved_at_ms: 1_796_000_000_123.0,
        data: Some(data),
        trained: Some(TrainedNetwork { weights, validation }),
        analysis: Some(analysis),
        settings,
    }
}

fn analyse(data: &Arc<DataSet>, images: &[usize], net: SqueezeNet) -> Analysis {
    let mut config = AnalysisConfig::new(TsnePreset::Matlab, images.len(), 3);
    config.layers = vec![Layer::Conv10, Layer::Prob];
    config.tsne.n_iter = 60;
    let names: Vec<String> = (0..1000).map(|c| format!("imagenet {c}")).collect();
    let mut analyzer = Analyzer::new(data.clone(), images.to_vec(), net, names, cpu_device(), config).unwrap();
    while block_on(analyzer.step()).unwrap() != AnalysisStep::Finished {}
    analyzer.finish()
}

#[test]
fn a_session_comes_back_exactly() {
    let saved = session();
    let bytes = saved.to_bytes().unwrap();
    let summary = Session::summary(&bytes).unwrap();
    assert_eq!((summary.images, summary.classes, summary.trained, summary.analysed), (12, 3, true, true));
    assert_eq!(summary.saved_at_ms, saved.saved_at_ms);
    assert_eq!(saved.contents(), summary, "the session tells what its file tells");

    let restored = Session::from_bytes(&bytes).unwrap();
    let (before, after) = (saved.data.as_ref().unwrap(), restored.data.as_ref().unwrap());
    assert_eq!(after.classes, before.classes);
    assert_eq!(after.images.len(), 12);
    for (a, b) in after.images.iter().zip(&before.images) {
        assert_eq!((&a.path, a.class, &a.held().unwrap()[..]), (&b.path, b.class, &b.held().unwrap()[..]));
        assert_eq!(a.thumbnail, b.thumbnail);
    }
    assert_eq!(after.rejected, before.rejected);
    let (before, after) = (saved.trained.as_ref().unwrap(), restored.trained.as_ref().unwrap());
    assert_eq!(after.validation, before.validation);
    for ((name_a, a), (name_b, b)) in after.weights.iter().zip(before.weights.iter()) {
        assert_eq!(name_a, name_b);
        assert_eq!(a, b, "{name_a} bit for bit");
    }
    // Coordinates, probabilities, qualities, t-SNE settings: equal, not merely close.
    assert_eq!(restored.analysis, saved.analysis);
    assert_eq!(restored.settings, saved.settings);
    assert_eq!(restored.saved_at_ms, saved.saved_at_ms);
}

/// The page keeps a picked folder's files as browser handles, and saves its session without
/// them, beside the handles: the images come back from the handles, the rest from the file.
#[test]
fn a_session_kept_beside_its_images_comes_back_with_them() {
    let saved = session();
    let held = saved.data.clone().unwrap();
    let (elsewhere, sources) = kept_elsewhere(&held);
    // The analysis reads each file from where it is kept, and comes out the same.
    let validation = saved.trained.as_ref().unwrap().validation.clone();
    let net = SqueezeNet::from_weights(&saved.trained.as_ref().unwrap().weights, &cpu_device());
    let elsewhere = Arc::new(elsewhere);
    assert_eq!(analyse(&elsewhere, &validation, net), *saved.analysis.as_ref().unwrap());
    for (i, source) in sources.iter().enumerate() {
        let reads = source.reads.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(reads, usize::from(validation.contains(&i)), "image {i} read once if analysed");
    }

    let mut kept = saved.clone();
    kept.data = Some(elsewhere.clone());
    let error = kept.to_bytes().unwrap_err();
    assert!(error.to_string().contains("is not in memory"), "{error}");
    let bytes = kept.to_bytes_without_images().unwrap();
    let images: u64 = held.total_bytes();
    assert!((bytes.len() as u64) < saved.to_bytes().unwrap().len() as u64 - images, "no image in the file");
    assert!(Session::images_elsewhere(&bytes).unwrap());
    assert!(!Session::images_elsewhere(&saved.to_bytes().unwrap()).unwrap());
    let error = Session::from_bytes(&bytes).unwrap_err();
    assert!(error.to_string().contains("kept by the browser that saved it"), "{error}");

    // The handles read again: the same session (its data set's rejected files from the file).
    let (again, _) = kept_elsewhere(&held);
    let mut again = again;
    again.rejected.clear();
    let restored = Session::from_bytes_with_images(&bytes, again).unwrap();
    assert_restored(&restored, &saved, &held);
    assert_eq!(restored.trained.as_ref().unwrap().validation, validation);

    // The store keeps each image's thumbnail beside its handle: restoring from them reads no
    // file and decodes nothing, and gives the same session; the files are read when used.
    let mut builder = DataSetBuilder::new();
    let (_, handles) = kept_elsewhere(&held);
    for (image, handle) in held.images.iter().zip(&handles) {
        builder.add_checked_elsewhere(&image.path, image.thumbnail.clone(), handle.clone());
    }
    let restored = Session::from_bytes_with_images(&bytes, builder.finish()).unwrap();
    assert!(handles.iter().all(|h| h.reads.load(std::sync::atomic::Ordering::Relaxed) == 0), "no file read");
    assert_restored(&restored, &saved, &held);

    // A file that went away since: refused, naming it.
    let (mut fewer, _) = kept_elsewhere(&held);
    let gone = fewer.images.remove(3).path;
    let error = Session::from_bytes_with_images(&bytes, fewer).unwrap_err();
    assert!(
        error.to_string().contains(&format!("1 of its 12 images could not be read again, {gone} first")),
        "{error}"
    );
}

/// `restored` (from a file without its images) has `held`'s data set — classes, rejected files,
/// paths, labels, thumbnails, and each file's bytes when read — and `saved`'s analysis.
fn assert_restored(restored: &Session, saved: &Session, held: &DataSet) {
    let after = restored.data.as_ref().unwrap();
    assert_eq!((&after.classes, &after.rejected), (&held.classes, &held.rejected));
    for (a, b) in after.images.iter().zip(&held.images) {
        assert_eq!((&a.path, a.class, &a.thumbnail), (&b.path, b.class, &b.thumbnail));
        assert_eq!(&*block_on(a.read()).unwrap(), &b.held().unwrap()[..]);
    }
    assert_eq!(restored.analysis, saved.analysis);
}

/// A session exported with thumbnails only: small, and it shows the same Explore (maps,
/// tables, thumbnails) in another browser; a step that needs an image says it is not there.
#[test]
fn a_session_exported_with_thumbnails_only_shows_the_same_and_says_what_it_lacks() {
    let saved = session();
    let small = saved.to_bytes_with_thumbnails().unwrap();
    let data = saved.data.as_ref().unwrap();
    let entries: Vec<String> =
        zip::ZipArchive::new(Cursor::new(&small[..])).unwrap().file_names().map(|n| n.unwrap().to_string()).collect();
    assert!(!entries.iter().any(|e| e.starts_with("files/")), "no image in the file: {entries:?}");
    assert_eq!(entries.iter().filter(|e| e.starts_with("thumbnails/")).count(), 12);
    let restored = Session::from_bytes(&small).unwrap();
    assert!(restored.has_thumbnails_only() && !saved.has_thumbnails_only());
    let after = restored.data.as_ref().unwrap();
    assert_eq!((&after.classes, &after.rejected), (&data.classes, &data.rejected));
    for (a, b) in after.images.iter().zip(&data.images) {
        assert_eq!((&a.path, a.class, &a.thumbnail), (&b.path, b.class, &b.thumbnail), "thumbnails exactly (PNG)");
        let error = block_on(a.read()).unwrap_err().to_string();
        assert!(error.contains("exported or saved without its images: bring the data set again"), "{error}");
    }
    assert_eq!(restored.analysis, saved.analysis);
    assert_eq!(restored.settings, saved.settings);
    assert_eq!(restored.trained.as_ref().unwrap().validation, saved.trained.as_ref().unwrap().validation);
    // Saved again (the page's store does), it stays a thumbnails-only session.
    let again = Session::from_bytes(&restored.to_bytes_with_thumbnails().unwrap()).unwrap();
    assert_eq!(again.analysis, saved.analysis);
    assert!(restored.to_bytes().is_err(), "no images to write");

    // A thumbnail entry damaged or too large is refused.
    let mut broken = saved.clone();
    Arc::make_mut(broken.data.as_mut().unwrap()).images[2].thumbnail = image::RgbImage::new(65, 10);
    let error = Session::from_bytes(&broken.to_bytes_with_thumbnails().unwrap()).unwrap_err();
    assert!(error.to_string().contains("thumbnails/2: a thumbnail of 65×10"), "{error}");
}

#[test]
fn a_session_of_only_a_data_set_or_nothing_comes_back() {
    let mut partial = session();
    partial.trained = None;
    partial.analysis = None;
    let restored = Session::from_bytes(&partial.to_bytes().unwrap()).unwrap();
    assert_eq!(restored.data.unwrap().images.len(), 12);
    assert!(restored.trained.is_none() && restored.analysis.is_none());

    let empty = Session::from_bytes(&Session::default().to_bytes().unwrap()).unwrap();
    assert!(empty.data.is_none() && empty.trained.is_none() && empty.analysis.is_none());
}

/// A zip holding just a `session.json` with this text.
#[test]
fn class_and_file_names_of_any_kind_come_back_exactly() {
    // Markup, quotes and commas, right-to-left text with an emoji, 200 characters, accents.
    let long = "a".repeat(200);
    let names = ["<script>alert(1)</script>", "\"quoted\" & 'single', a,b", "שלום עולם 🍕", long.as_str(), "été"];
    let digits = load_path(&fixture("digits3")).unwrap();
    let mut builder = DataSetBuilder::new();
    for (k, image) in digits.images.iter().take(10).enumerate() {
        builder.add_file(&format!("{}/{k} <b>&amp; \"n\".png", names[k % names.len()]), image.held().unwrap().to_vec());
    }
    let data = Arc::new(builder.finish());
    assert_eq!(data.classes.len(), names.len());
    let saved = Session { data: Some(data.clone()), ..Session::default() };
    let restored = Session::from_bytes(&saved.to_bytes().unwrap()).unwrap().data.unwrap();
    assert_eq!(restored.classes, data.classes);
    let paths = |d: &DataSet| d.images.iter().map(|i| (i.path.clone(), i.class)).collect::<Vec<_>>();
    assert_eq!(paths(&restored), paths(&data));
}

fn zip_with_manifest(text: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("session.json", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(text.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

#[test]
fn a_session_from_a_newer_version_is_refused() {
    let newer = VERSION + 1;
    let bytes = zip_with_manifest(&format!(r#"{{"format":"layerlens-session","version":{newer},"what":"unknown"}}"#));
    let error = Session::from_bytes(&bytes).unwrap_err();
    assert!(matches!(error, SessionError::Newer(v) if v == newer), "{error}");
    assert!(error.to_string().contains("newer layerlens"), "{error}");
    assert!(matches!(Session::summary(&bytes), Err(SessionError::Newer(_))));
}

#[test]
fn a_damaged_session_is_refused() {
    let saved = session();
    let bytes = saved.to_bytes().unwrap();
    // One byte of an image changed inside the file: its CRC-32 no longer matches.
    let image = &saved.data.as_ref().unwrap().images[5].held().unwrap();
    let at = bytes.windows(image.len()).position(|w| w == &image[..]).expect("images are stored as they are");
    let mut damaged = bytes.clone();
    damaged[at + image.len() / 2] ^= 0x40;
    let error = Session::from_bytes(&damaged).unwrap_err();
    assert!(matches!(error, SessionError::Damaged(_)), "{error}");
    assert!(error.to_string().contains("files/5"), "names the damaged entry: {error}");

    // Cut short: the zip's directory (at its end) is gone.
    let error = Session::from_bytes(&bytes[..bytes.len() * 2 / 3]).unwrap_err();
    assert!(matches!(error, SessionError::NotASession(_) | SessionError::Damaged(_)), "{error}");

    // An analysis that does not fit its data set (the page would look past its images).
    let mut misfit = saved.clone();
    misfit.analysis.as_mut().unwrap().maps[1].coords.truncate(4);
    let error = Session::from_bytes(&misfit.to_bytes().unwrap()).unwrap_err();
    assert!(error.to_string().contains("the prob map has 4 coordinates for 6 images"), "{error}");
    let mut misfit = saved.clone();
    misfit.analysis.as_mut().unwrap().predictions[0].image = 12;
    let error = Session::from_bytes(&misfit.to_bytes().unwrap()).unwrap_err();
    assert!(error.to_string().contains("does not fit its data set"), "{error}");

    // A manifest that is not what it claims.
    let error =
        Session::from_bytes(&zip_with_manifest(r#"{"format":"layerlens-session","version":1,"files":7}"#)).unwrap_err();
    assert!(matches!(error, SessionError::Damaged(_)), "{error}");
    let error = Session::from_bytes(&zip_with_manifest(r#"{"format":"layerlens-session","#)).unwrap_err();
    assert!(matches!(error, SessionError::Damaged(_)), "{error}");
}

#[test]
fn other_files_are_not_sessions() {
    for (bytes, what) in [
        (b"not a zip at all".to_vec(), "text"),
        (fixture_bytes("squeezenet/squeezenet1_1_random.safetensors"), "weights"),
        (zip_with_manifest(r#"{"format":"something-else","version":1}"#), "another format"),
    ] {
        let error = Session::from_bytes(&bytes).unwrap_err();
        assert!(matches!(error, SessionError::NotASession(_)), "{what}: {error}");
    }
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("0/a.png", zip::write::SimpleFileOptions::default()).unwrap();
    let data_set_zip = zip.finish().unwrap().into_inner();
    let error = Session::from_bytes(&data_set_zip).unwrap_err();
    assert!(error.to_string().contains("without session.json"), "{error}");
}
