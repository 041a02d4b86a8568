//! The page's side of the network worker's conversation (`layerlens::served`), played by a
//! test: every request and reply goes through gloo-worker's wire format (bincode), and every
//! file the worker asks for is answered from the data set, as the page answers it.

use std::task::{Context, Poll, Waker};

use layerlens::data::dataset::DataSet;
use layerlens::served::files::SentFile;
use layerlens::served::{Answer, EngineReply, EngineRequest, EngineServer, poll_answer};

/// A value as it comes out of the other end of a worker message.
pub fn wire<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    bincode::deserialize(&bincode::serialize(value).unwrap()).unwrap()
}

/// Sends `request` and runs the answer to its end, sending the worker every file it asks for
/// (`unreadable`: files the page cannot read). `None`: the request has no answer.
pub fn ask(server: &EngineServer, data: &DataSet, request: EngineRequest, unreadable: &[usize]) -> Option<EngineReply> {
    let mut answer = match server.handle(wire(&request)) {
        Answer::Now(reply) => return Some(wire(&reply)),
        Answer::Nothing => return None,
        Answer::Later(answer) => answer,
    };
    let mut cx = Context::from_waker(Waker::noop());
    let mut asked = Vec::new();
    loop {
        match poll_answer(server, &mut answer, &mut cx, &mut |files| asked.extend(files)) {
            Poll::Ready(reply) => return Some(wire(&reply)),
            Poll::Pending => {
                assert!(!asked.is_empty(), "a pending step waits for files it asked for");
                let files = asked
                    .drain(..)
                    .map(|index| SentFile {
                        index,
                        bytes: if unreadable.contains(&index) {
                            Err("the file was deleted".into())
                        } else {
                            Ok(serde_bytes::ByteBuf::from(data.images[index].held().unwrap().to_vec()))
                        },
                    })
                    .collect();
                assert!(matches!(server.handle(wire(&EngineRequest::Files(files))), Answer::Nothing));
            }
        }
    }
}
