//! The embedded demo data set's manifest (`www/demo/manifest.json`, written by
//! `scripts/make-demo`): which images the page fetches for "Try the demo", and how many of each
//! class a smaller demo takes.

use serde::Deserialize;

/// The manifest format this build reads; another one is refused rather than half-read.
pub const DEMO_FORMAT: &str = "layerlens-demo/1";

/// One image of the demo.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DemoImage {
    /// Path below the demo folder, `<class>/<name>.png` (the folder names the class).
    pub path: String,
    pub class: String,
    /// The emoji set that drew it (ATTRIBUTION.md names its licence).
    pub set: String,
}

/// The demo's manifest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DemoManifest {
    pub format: String,
    pub classes: Vec<String>,
    pub images: Vec<DemoImage>,
}

impl DemoManifest {
    /// Reads a manifest, refusing other formats and images outside their class folder.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let manifest: DemoManifest =
            serde_json::from_slice(bytes).map_err(|e| format!("the demo's manifest is not valid: {e}"))?;
        if manifest.format != DEMO_FORMAT {
            return Err(format!(
                "the demo's manifest is in format `{}`; this page reads `{DEMO_FORMAT}`",
                manifest.format
            ));
        }
        if let Some(bad) = manifest.images.iter().find(|i| {
            !i.path.starts_with(&format!("{}/", i.class))
                || i.path.contains("..")
                || !manifest.classes.contains(&i.class)
        }) {
            return Err(format!("the demo's manifest lists {} outside its class folder", bad.path));
        }
        Ok(manifest)
    }

    /// The first `per_class` images of every class, in manifest order (all with `None`).
    pub fn select(&self, per_class: Option<usize>) -> Vec<&DemoImage> {
        let mut taken = vec![0usize; self.classes.len()];
        self.images
            .iter()
            .filter(|image| {
                let Some(c) = self.classes.iter().position(|c| *c == image.class) else { return false };
                taken[c] += 1;
                per_class.is_none_or(|n| taken[c] <= n)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(format: &str, paths: &[(&str, &str)]) -> Vec<u8> {
        let images: Vec<_> =
            paths.iter().map(|(c, p)| serde_json::json!({ "path": p, "class": c, "set": "noto" })).collect();
        serde_json::to_vec(&serde_json::json!({ "format": format, "classes": ["a", "b"], "images": images })).unwrap()
    }

    #[test]
    fn selects_the_first_images_of_each_class() {
        let m = DemoManifest::parse(&manifest(DEMO_FORMAT, &[("a", "a/1.png"), ("b", "b/1.png"), ("a", "a/2.png")]))
            .unwrap();
        let paths = |n| m.select(n).iter().map(|i| i.path.clone()).collect::<Vec<_>>();
        assert_eq!(paths(Some(1)), ["a/1.png", "b/1.png"]);
        assert_eq!(paths(None).len(), 3);
    }

    #[test]
    fn refuses_other_formats_and_paths_outside_the_class_folder() {
        assert!(DemoManifest::parse(&manifest("layerlens-demo/2", &[])).unwrap_err().contains("layerlens-demo/1"));
        assert!(DemoManifest::parse(&manifest(DEMO_FORMAT, &[("a", "b/1.png")])).unwrap_err().contains("b/1.png"));
        assert!(DemoManifest::parse(&manifest(DEMO_FORMAT, &[("a", "a/../../x.png")])).is_err());
        assert!(DemoManifest::parse(b"{").unwrap_err().contains("not valid"));
    }
}
