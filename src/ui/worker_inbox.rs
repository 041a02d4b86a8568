//! Where a worker's replies wait for the page's code that awaits them: gloo-worker hands each
//! reply to a callback, the page's jobs await them one at a time.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Replies not yet taken, and the task waiting for the next one. Shared (`Rc`) between a
/// bridge's callback and the job that awaits.
pub struct Inbox<T> {
    replies: VecDeque<T>,
    waker: Option<Waker>,
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Self { replies: VecDeque::new(), waker: None }
    }
}

impl<T> Inbox<T> {
    /// A reply arrived (from the bridge's callback): wakes whoever awaits one.
    pub fn deliver(&mut self, reply: T) {
        self.replies.push_back(reply);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// A reply that has already arrived, if any.
    pub fn take(&mut self) -> Option<T> {
        self.replies.pop_front()
    }

    /// Drops replies nobody will ask for.
    pub fn clear(&mut self) {
        self.replies.clear();
    }
}

/// The next reply, when it arrives.
pub async fn next_reply<T>(inbox: &Rc<RefCell<Inbox<T>>>) -> T {
    futures_lite::future::poll_fn(|cx| {
        let mut inbox = inbox.borrow_mut();
        match inbox.take() {
            Some(reply) => Poll::Ready(reply),
            None => {
                inbox.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}
