//! The embedded demo data set (`www/demo/`, assembled by `scripts/make-demo`): every image the
//! manifest lists exists, loads as a labelled image of its class, and comes from a set whose
//! licence ATTRIBUTION.md names and that allows redistribution. (That the script gives the
//! same bytes twice, and these bytes, is checked by `./scripts/test`, which rebuilds it.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use layerlens::data::sources::load_path;

/// Licences that allow redistributing (adapted) images, with attribution where they ask it.
const REDISTRIBUTABLE: [&str; 4] = ["CC-BY-4.0", "CC-BY-SA-4.0", "Apache-2.0", "MIT"];

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("www/demo")
}

fn manifest() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(demo().join("manifest.json")).unwrap()).unwrap()
}

/// `set <name>: <licence>` lines of ATTRIBUTION.md.
fn licences() -> BTreeMap<String, String> {
    std::fs::read_to_string(demo().join("ATTRIBUTION.md"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("set ")?.split_once(": ").map(|(s, l)| (s.to_string(), l.trim().to_string())))
        .collect()
}

#[test]
fn every_image_comes_from_a_set_whose_licence_allows_redistribution() {
    let licences = licences();
    assert!(licences.len() >= 3, "several sets: {licences:?}");
    let manifest = manifest();
    let images = manifest["images"].as_array().unwrap();
    assert!(!images.is_empty());
    for image in images {
        let path = image["path"].as_str().unwrap();
        let set = image["set"].as_str().unwrap();
        let licence = licences.get(set).unwrap_or_else(|| panic!("{path}: set {set} is not in ATTRIBUTION.md"));
        assert!(REDISTRIBUTABLE.contains(&licence.as_str()), "{path}: {set} is {licence}");
        assert!(path.ends_with(&format!("-{set}.png")), "{path}: the file name names its set");
        assert!(demo().join(path).is_file(), "{path} is missing");
    }
}

#[test]
fn the_manifest_matches_the_folders_and_every_image_loads() {
    let manifest = manifest();
    let parsed = layerlens::data::demo::DemoManifest::parse(&std::fs::read(demo().join("manifest.json")).unwrap())
        .expect("the page reads this manifest");
    assert_eq!(parsed.select(None).len(), manifest["images"].as_array().unwrap().len());
    let classes: BTreeSet<&str> = manifest["classes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let data = load_path(&demo()).unwrap();
    assert_eq!(data.classes.iter().map(String::as_str).collect::<BTreeSet<_>>(), classes);
    let listed: BTreeSet<String> =
        manifest["images"].as_array().unwrap().iter().map(|i| i["path"].as_str().unwrap().to_string()).collect();
    let loaded: BTreeSet<String> = data.images.iter().map(|i| i.path.trim_start_matches("demo/").to_string()).collect();
    assert_eq!(listed, loaded, "the manifest lists exactly the images in the folders");
    let rejected: Vec<&str> = data.rejected.iter().map(|r| r.path.as_str()).collect();
    assert!(rejected.iter().all(|p| p.ends_with("manifest.json") || p.ends_with("ATTRIBUTION.md")), "{rejected:?}");
    for (class, count) in data.classes.iter().zip(data.counts()) {
        assert!(count >= 20, "{class}: {count} images (tens per class)");
    }
    let bytes: u64 = listed.iter().map(|p| std::fs::metadata(demo().join(p)).unwrap().len()).sum();
    assert!(bytes < 3 << 20, "a few MB at most: {bytes} bytes");
}
