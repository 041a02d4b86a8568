//! The page's training worker: a dedicated Web Worker that fine-tunes the network on the CPU
//! off the page's thread (trunk builds it from `src/bin/training_worker.rs`;
//! `ui/training_worker.rs` is the page's side).
//!
//! A thin shell over [`TrainServer`]: the conversation, and everything it computes, is core
//! code tested natively. A step that waits for image files is polled inside the worker's event
//! loop, and each time it waits the page is told which files it needs.

use std::rc::Rc;

use gloo_worker::{HandlerId, Worker, WorkerScope};

use crate::train::served::{Answer, TrainReply, TrainRequest, TrainServer, poll_answer};

/// One training run at a time; the page starts a worker per run.
pub struct TrainingWorker {
    server: Rc<TrainServer>,
}

impl Worker for TrainingWorker {
    type Message = ();
    type Input = TrainRequest;
    type Output = TrainReply;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Self { server: Rc::new(TrainServer::default()) }
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _message: ()) {}

    fn received(&mut self, scope: &WorkerScope<Self>, request: TrainRequest, id: HandlerId) {
        match self.server.handle(request) {
            Answer::Now(reply) => scope.respond(id, reply),
            Answer::Nothing => {}
            Answer::Later(mut answer) => {
                let (server, scope) = (self.server.clone(), scope.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    let reply = std::future::poll_fn(|cx| {
                        poll_answer(&server, &mut answer, cx, &mut |files| {
                            scope.respond(id, TrainReply::NeedFiles(files))
                        })
                    })
                    .await;
                    scope.respond(id, reply);
                });
            }
        }
    }
}
