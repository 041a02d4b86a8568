//! Image files that stay on the page's side of the conversation: the worker holds no image.
//! When a job needs a file it asks the page for it and waits; the page reads it (a browser
//! `File`, read off both threads, or bytes it holds) and sends it back. A folder of handles
//! stays the page's, and the worker's memory holds only the images at hand.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::data::dataset::{ByteSource, DataSet, ImageBytes, LabelledImage};

/// One image of the page's data set, as the worker knows it: no bytes, only what to ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// For messages (and the data set's file list).
    pub path: String,
    pub class: usize,
    /// In bytes, as the page knows it (the memory estimates of a run read it).
    pub size: u64,
}

impl FileEntry {
    /// The page's data set, described image by image in its own order.
    pub fn list(data: &DataSet) -> Vec<FileEntry> {
        data.images
            .iter()
            .map(|image| FileEntry { path: image.path.clone(), class: image.class, size: image.file_size() })
            .collect()
    }
}

/// One image file's bytes (as one byte string on the wire), or why it could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentFile {
    pub index: usize,
    pub bytes: Result<serde_bytes::ByteBuf, String>,
}

/// The files jobs wait for, and those the page has sent: shared by the worker's
/// [`ByteSource`]s (which ask and wait) and the server (which tells the page, and fills it).
#[derive(Clone, Default)]
pub struct FileDesk(Arc<Mutex<DeskState>>);

#[derive(Default)]
struct DeskState {
    /// Asked for and not yet told to the page.
    wanted: Vec<usize>,
    /// Sent by the page, not yet read.
    arrived: HashMap<usize, Result<Vec<u8>, String>>,
    waiting: Vec<Waker>,
}

impl FileDesk {
    fn state(&self) -> std::sync::MutexGuard<'_, DeskState> {
        self.0.lock().expect("the file desk is never poisoned: nothing panics holding it")
    }

    /// A data set whose images are read through this desk, with `classes` and `files` (by
    /// index, the page's order).
    pub fn data_set(&self, classes: Vec<String>, files: Vec<FileEntry>) -> DataSet {
        let images = files
            .into_iter()
            .enumerate()
            .map(|(index, entry)| LabelledImage {
                path: entry.path,
                class: entry.class,
                content: ImageBytes::Elsewhere(Arc::new(PageFile { index, size: entry.size, desk: self.clone() })),
                thumbnail: RgbImage::new(0, 0),
            })
            .collect();
        DataSet { classes, images, rejected: Vec::new() }
    }

    /// The files jobs have asked for since the last call: the page is to send them.
    pub fn take_wanted(&self) -> Vec<usize> {
        std::mem::take(&mut self.state().wanted)
    }

    /// Files the page sent: the jobs waiting for them go on.
    pub fn deliver(&self, files: Vec<SentFile>) {
        let mut state = self.state();
        for file in files {
            state.arrived.insert(file.index, file.bytes.map(serde_bytes::ByteBuf::into_vec));
        }
        for waker in state.waiting.drain(..) {
            waker.wake();
        }
    }
}

/// An image file that lives on the page's side: reading it asks the page and waits.
struct PageFile {
    index: usize,
    size: u64,
    desk: FileDesk,
}

impl ByteSource for PageFile {
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + '_>> {
        let mut asked = false;
        Box::pin(std::future::poll_fn(move |cx| {
            let mut state = self.desk.state();
            if let Some(bytes) = state.arrived.remove(&self.index) {
                return Poll::Ready(bytes);
            }
            if !asked {
                state.wanted.push(self.index);
                asked = true;
            }
            if !state.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiting.push(cx.waker().clone());
            }
            Poll::Pending
        }))
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
