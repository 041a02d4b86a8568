//! The page's training worker: a dedicated Web Worker that runs the network on the CPU off the
//! page's thread — fine-tuning, and the analysis's activations (trunk builds it from
//! `src/bin/training_worker.rs`; `ui/training_worker.rs` is the page's side).
//!
//! A thin shell over [`EngineServer`]: the conversation, and everything it computes, is core
//! code tested natively. A step that waits for image files is polled inside the worker's event
//! loop, and each time it waits the page is told which files it needs.

use std::rc::Rc;

use gloo_worker::{HandlerId, Worker, WorkerScope};

use crate::served::{Answer, EngineReply, EngineRequest, EngineServer, poll_answer};

/// One job at a time; the page keeps one worker for all of them.
pub struct TrainingWorker {
    server: Rc<EngineServer>,
}

impl Worker for TrainingWorker {
    type Message = ();
    type Input = EngineRequest;
    type Output = EngineReply;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Self { server: Rc::new(EngineServer::default()) }
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _message: ()) {}

    fn received(&mut self, scope: &WorkerScope<Self>, request: EngineRequest, id: HandlerId) {
        match self.server.handle(request) {
            Answer::Now(reply) => scope.respond(id, reply),
            Answer::Nothing => {}
            Answer::Later(mut answer) => {
                let (server, scope) = (self.server.clone(), scope.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    let reply = std::future::poll_fn(|cx| {
                        poll_answer(&server, &mut answer, cx, &mut |files| {
                            scope.respond(id, EngineReply::NeedFiles(files))
                        })
                    })
                    .await;
                    scope.respond(id, reply);
                });
            }
        }
    }
}
