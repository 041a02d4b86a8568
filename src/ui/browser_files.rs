//! Bytes from the browser: dropped or picked files, and URLs fetched from the page's origin —
//! through gloo (file reading, fetch, timers) where it fits; the few calls it does not cover
//! (object URLs, downloads, drop/pick handlers) are plain web-sys.

use std::future::Future;
use std::pin::Pin;

use send_wrapper::SendWrapper;
use wasm_bindgen::{JsCast, JsValue};

use crate::data::dataset::{ByteSource, ImageBytes, LabelledImage};

/// A file the user gave the page, read into memory.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    pub name: String,
    pub bytes: Vec<u8>,
    /// An object URL for showing the file as an image (revoked when the page unloads).
    pub object_url: Option<String>,
}

/// The files of a `FileList`, taken out at once: the list is live, and a picker cleared
/// afterwards empties it.
pub fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    list.map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect()).unwrap_or_default()
}

/// Reads files (from a drop or a file picker) into memory.
pub async fn read_file_list(files: Vec<web_sys::File>) -> Vec<Result<LoadedFile, String>> {
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        out.push(read_file(&file).await);
    }
    out
}

async fn read_file(file: &web_sys::File) -> Result<LoadedFile, String> {
    let name = file.name();
    let bytes = read_blob(file).await.map_err(|e| format!("{name}: cannot be read ({e})"))?;
    let object_url = web_sys::Url::create_object_url_with_blob(file).ok();
    Ok(LoadedFile { name, bytes, object_url })
}

/// A `File`'s or `Blob`'s bytes, copied into wasm memory; the browser's error in words
/// when it cannot be read (a file moved or changed on disk).
pub async fn read_blob(blob: &web_sys::Blob) -> Result<Vec<u8>, String> {
    gloo_file::futures::read_as_bytes(&gloo_file::Blob::from(blob.clone())).await.map_err(|e| e.to_string())
}

/// A JavaScript exception as "Name: message".
pub fn js_error(error: &JsValue) -> String {
    match error.dyn_ref::<js_sys::Error>() {
        Some(e) => format!("{}: {}", String::from(e.name()), String::from(e.message())),
        None => error.as_string().unwrap_or_else(|| format!("{error:?}")),
    }
}

/// A browser `File` (or `Blob`) a data set keeps instead of its bytes
/// ([`ImageBytes::Elsewhere`]): read again whenever a step needs the image, so a folder of
/// photos costs the page its thumbnails, not its gigabytes.
pub struct BrowserFile(SendWrapper<web_sys::Blob>);

impl BrowserFile {
    pub fn new(blob: web_sys::Blob) -> Self {
        // The page's wasm runs on one thread (workers are separate instances that share no
        // memory), so the handle never leaves the thread it was made on.
        BrowserFile(SendWrapper::new(blob))
    }

    pub fn blob(&self) -> &web_sys::Blob {
        &self.0
    }
}

impl ByteSource for BrowserFile {
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + '_>> {
        Box::pin(async {
            read_blob(&self.0).await.map_err(|e| {
                format!("the file can no longer be read (moved, changed or deleted since it was given?): {e}")
            })
        })
    }

    fn size(&self) -> u64 {
        self.0.size() as u64
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The browser's handle to an image's file when the data set keeps one.
pub fn browser_blob(image: &LabelledImage) -> Option<&web_sys::Blob> {
    match &image.content {
        ImageBytes::Elsewhere(source) => source.as_any().downcast_ref::<BrowserFile>().map(BrowserFile::blob),
        ImageBytes::Held(_) => None,
    }
}

/// An object URL showing an image of a data set: the browser's own file where it is kept,
/// otherwise a blob of its bytes.
pub fn image_object_url(image: &LabelledImage) -> Result<String, String> {
    match (browser_blob(image), image.held()) {
        (Some(blob), _) => web_sys::Url::create_object_url_with_blob(blob).map_err(|e| js_error(&e)),
        (None, Some(bytes)) => object_url(bytes, ""),
        (None, None) => Err("the image's file is not available".into()),
    }
}

/// Fetches a URL's body; `Ok(None)` for a 404 (an optional file that is not there).
pub async fn fetch_bytes(url: &str) -> Result<Option<Vec<u8>>, String> {
    let response = gloo_net::http::Request::get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
    if response.status() == 404 {
        return Ok(None);
    }
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    response.binary().await.map(Some).map_err(|e| format!("{url}: {e}"))
}

/// A query parameter of the page's URL (`?weights=…`, `?backend=cpu`).
pub fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search).ok()?.get(name)
}

/// Milliseconds on the page's monotonic clock (`performance.now()`).
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// Lets the browser paint and handle input before long work goes on (a zero-delay timeout).
pub async fn yield_to_browser() {
    sleep_ms(0).await;
}

/// Waits `ms` milliseconds without blocking the page.
pub async fn sleep_ms(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// An object URL for bytes (an image to show, a file to download); `mime` may be empty (images
/// are recognised by their content). Not gloo-file's `Blob`/`ObjectUrl`: its `Blob` throws where
/// the browser refuses a blob (a session export near the browser's limit), which this reports,
/// and its `ObjectUrl` revokes on drop, where thumbnails' URLs live as long as the page.
pub fn object_url(bytes: &[u8], mime: &str) -> Result<String, String> {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|e| format!("{e:?}"))?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))
}

/// Offers bytes to the user as a file download.
pub fn download(name: &str, bytes: &[u8], mime: &str) -> Result<(), String> {
    download_url(name, &object_url(bytes, mime)?)
}

/// Offers a URL's content (an object or data URL) to the user as a file download.
pub fn download_url(name: &str, url: &str) -> Result<(), String> {
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let link: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(|e| format!("{e:?}"))?.dyn_into().map_err(|_| "not an anchor")?;
    link.set_href(url);
    link.set_download(name);
    link.click();
    Ok(())
}

/// The two ways a person hands files to a panel — dropping them and picking them — as event
/// handlers that both pass the `FileList` to `take`. The picker is cleared afterwards so the
/// same file can be picked again.
pub fn file_list_handlers<F>(
    take: F,
) -> (impl Fn(web_sys::DragEvent) + Clone + 'static, impl Fn(leptos::ev::Event) + 'static)
where
    F: Fn(Vec<web_sys::File>) + Clone + 'static,
{
    let on_drop = {
        let take = take.clone();
        move |ev: web_sys::DragEvent| {
            ev.prevent_default();
            take(files_of(ev.data_transfer().and_then(|d| d.files())));
        }
    };
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = leptos::prelude::event_target(&ev);
        take(files_of(input.files()));
        input.set_value("");
    };
    (on_drop, on_pick)
}
