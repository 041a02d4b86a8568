//! The session bar's side of the browser's storage (`session_store.js`): the stored session to
//! offer, the data set's file handles written beside it once per data set, the page's settings
//! read from and written into its fields. What is saved and when is `session.rs`'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use js_sys::{Array, Object, Reflect, Uint8Array};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use image::RgbImage;

use super::browser_files::{browser_blob, js_error};
use crate::data::dataset::DataSet;

#[wasm_bindgen(module = "/src/ui/session_store.js")]
extern "C" {
    #[wasm_bindgen(js_name = saveSession)]
    pub(super) fn save_session(bytes: &Uint8Array, images: &JsValue, images_id: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = loadSession)]
    pub(super) fn load_session() -> js_sys::Promise;
    #[wasm_bindgen(js_name = forgetSession)]
    pub(super) fn forget_session(key: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = keepFilesUpToBytes)]
    pub(super) fn keep_files_up_to_bytes() -> f64;
    #[wasm_bindgen(js_name = collectSettings)]
    pub(super) fn collect_settings() -> Object;
    #[wasm_bindgen(js_name = applySettings)]
    pub(super) fn apply_settings(settings: &Object);
}

/// What this tab knows of the browser's storage: the stored session it offered or restored
/// (forgotten with its own), and the id its data set's file handles are stored under (written
/// once per data set, not at every save).
#[derive(Clone, Copy)]
pub(super) struct Stored {
    pub(super) offered_key: StoredValue<Option<String>>,
    pub(super) images: StoredValue<Option<(Arc<DataSet>, String)>>,
}

impl Stored {
    pub(super) fn new() -> Self {
        Stored { offered_key: StoredValue::new(None), images: StoredValue::new(None) }
    }

    /// The id of `data`'s stored handles: the same while the data set is the same.
    pub(super) fn images_id(&self, data: &Arc<DataSet>) -> String {
        if let Some((kept, id)) = self.images.get_value()
            && Arc::ptr_eq(&kept, data)
        {
            return id;
        }
        let id = format!("{:x}-{:x}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e12) as u64);
        self.images.set_value(Some((data.clone(), id.clone())));
        id
    }
}

/// A stored session as `loadSession` gives it.
pub(super) struct Loaded {
    pub(super) key: String,
    pub(super) bytes: Vec<u8>,
    /// The data set's file handles, when the session file leaves its images to the store.
    pub(super) images: Option<Vec<StoredImage>>,
    pub(super) images_id: Option<String>,
}

/// One image of a stored data set: its path, the browser's handle to its file, and the
/// thumbnail made when it was first read (absent in records stored by earlier pages).
pub(super) struct StoredImage {
    pub(super) path: String,
    pub(super) file: web_sys::Blob,
    pub(super) thumbnail: Option<RgbImage>,
}

impl StoredImage {
    fn from_js(entry: &JsValue) -> Option<StoredImage> {
        let field = |name: &str| Reflect::get(entry, &JsValue::from_str(name)).ok();
        let path = field("path")?.as_string()?;
        let file = field("file")?.dyn_into::<web_sys::Blob>().ok()?;
        let thumbnail = (|| {
            let (width, height) = (field("thumbWidth")?.as_f64()? as u32, field("thumbHeight")?.as_f64()? as u32);
            RgbImage::from_raw(width, height, field("thumb")?.dyn_into::<Uint8Array>().ok()?.to_vec())
        })();
        Some(StoredImage { path, file, thumbnail })
    }
}

impl Loaded {
    pub(super) fn from_js(value: &JsValue) -> Option<Loaded> {
        let field = |name: &str| Reflect::get(value, &JsValue::from_str(name)).ok();
        let bytes = field("bytes")?.dyn_into::<Uint8Array>().ok()?.to_vec();
        let images = field("images")
            .filter(Array::is_array)
            .map(|list| Array::from(&list).iter().filter_map(|entry| StoredImage::from_js(&entry)).collect());
        Some(Loaded { key: field("key")?.as_string()?, bytes, images, images_id: field("imagesId")?.as_string() })
    }
}

/// `[{path, file, thumb, thumbWidth, thumbHeight}]` for the store: the browser's own file where
/// the data set keeps one (a blob of the bytes otherwise), and the thumbnail as raw RGB, so a
/// restore shows the data set without reading and decoding every image again.
pub(super) fn image_handles(data: &DataSet) -> Result<Array, String> {
    let list = Array::new();
    for image in &data.images {
        let blob = match (browser_blob(image), image.held()) {
            (Some(blob), _) => blob.clone(),
            (None, Some(bytes)) => {
                let parts = Array::of1(&Uint8Array::from(&bytes[..]));
                web_sys::Blob::new_with_u8_array_sequence(&parts).map_err(|e| js_error(&e))?
            }
            (None, None) => return Err(format!("{}: its file is not available", image.path)),
        };
        let entry = Object::new();
        let _ = Reflect::set(&entry, &"path".into(), &JsValue::from_str(&image.path));
        let _ = Reflect::set(&entry, &"file".into(), &blob);
        let thumb = &image.thumbnail;
        let _ = Reflect::set(&entry, &"thumb".into(), &Uint8Array::from(thumb.as_raw().as_slice()));
        let _ = Reflect::set(&entry, &"thumbWidth".into(), &thumb.width().into());
        let _ = Reflect::set(&entry, &"thumbHeight".into(), &thumb.height().into());
        list.push(&entry);
    }
    Ok(list)
}

pub(super) async fn awaited(promise: js_sys::Promise) -> Result<JsValue, String> {
    JsFuture::from(promise).await.map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))
}

pub(super) fn settings_now() -> BTreeMap<String, String> {
    Object::entries(&collect_settings())
        .iter()
        .filter_map(|entry| {
            let pair = Array::from(&entry);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

pub(super) fn settings_object(settings: &BTreeMap<String, String>) -> Object {
    let object = Object::new();
    for (id, value) in settings {
        let _ = Reflect::set(&object, &JsValue::from_str(id), &JsValue::from_str(value));
    }
    object
}
