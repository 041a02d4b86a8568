//! The page's compute worker: a dedicated Web Worker that runs t-SNE maps off the page's thread
//! (trunk builds it from `src/bin/map_worker.rs`; `ui/map_workers.rs` is the page's side).
//!
//! A thin shell over [`MapServer`]: the conversation, and everything it computes, is core code
//! tested natively. The worker is its own small wasm (the t-SNE and the scores, no burn), so a
//! page can start one per map without loading the network's code again.

use gloo_worker::{HandlerId, Worker, WorkerScope};

use crate::analysis::map_task::{MapReply, MapRequest, MapServer};

/// One map at a time; the page starts one worker per map it runs side by side.
pub struct MapWorker {
    server: MapServer,
}

impl Worker for MapWorker {
    type Message = ();
    type Input = MapRequest;
    type Output = MapReply;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Self { server: MapServer::default() }
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _message: ()) {}

    fn received(&mut self, scope: &WorkerScope<Self>, request: MapRequest, id: HandlerId) {
        let reply = self.server.handle(request, &js_sys::Date::now);
        scope.respond(id, reply);
    }
}
