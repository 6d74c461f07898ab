//! The meeting point of one sandbox's invocations and its Runtime API.
//!
//! The invoking side posts a [`Dispatch`] and waits on a one-shot for its
//! [`Outcome`]; the Runtime API hands dispatches to `/next` and completes them
//! from `/response` and `/error`. An invoker that can pass a streamed
//! response on as it arrives leaves a [`StreamSink`] with its dispatch. The
//! mailbox also carries the sandbox's lifecycle [`Status`], which both sides
//! watch. It knows nothing of HTTP or processes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use crate::logs::Tail;
use crate::outcome::{Failure, Outcome};

/// How many answered request ids are remembered to tell "already answered"
/// from "never existed".
const ANSWERED_MEMORY: usize = 64;

/// An event on its way to the runtime's `/next`.
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
}

/// Where a streamed response goes while the runtime is still writing it.
/// Bounded: a slow reader slows the runtime down instead of making the host
/// buffer.
pub type StreamSink = mpsc::Sender<StreamPart>;

/// A piece of a streamed response, in order: one `Start`, then the body.
#[derive(Debug)]
pub enum StreamPart {
    /// The runtime's `Content-Type`, which says what the body is (for one,
    /// whether a prelude with status and headers leads it).
    Start {
        content_type: Option<String>,
    },
    Data(Bytes),
}

/// Where a sandbox is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Started; has not called `/next` yet.
    Initializing,
    /// Called `/next` at least once; the value is how long init took.
    Ready(Duration),
    /// Finished for good, with the reason that pending invocations report.
    Dead(Failure),
}

/// Why a runtime's answer was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum AnswerError {
    Unknown,
    AlreadyAnswered,
}

pub struct Mailbox {
    started: Instant,
    queue_tx: mpsc::UnboundedSender<Dispatch>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Dispatch>>,
    pending: Mutex<HashMap<String, Pending>>,
    answered: Mutex<VecDeque<String>>,
    status: watch::Sender<Status>,
    /// The log of the invocation under way, when exactly one is.
    tail: Mutex<Option<Tail>>,
}

/// An event the runtime has not answered yet.
struct Pending {
    answer: oneshot::Sender<Outcome>,
    stream: Option<StreamSink>,
}

impl Mailbox {
    pub fn new(started: Instant) -> Mailbox {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        Mailbox {
            started,
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            pending: Mutex::new(HashMap::new()),
            answered: Mutex::new(VecDeque::new()),
            status: watch::Sender::new(Status::Initializing),
            tail: Mutex::new(None),
        }
    }

    // ---- the invoking side ----

    /// Posts an event; the returned receiver yields its outcome. Every posted
    /// event gets exactly one outcome: from the runtime, or from [`Mailbox::fail_all`].
    /// With a `stream` sink, a streamed response is relayed to it as it
    /// arrives and the outcome only says how the stream ended.
    pub fn post(
        &self,
        dispatch: Dispatch,
        stream: Option<StreamSink>,
    ) -> oneshot::Receiver<Outcome> {
        let (answer, rx) = oneshot::channel();
        lock(&self.pending).insert(dispatch.request_id.clone(), Pending { answer, stream });
        // The receiver lives as long as the mailbox, so this cannot fail.
        let _ = self.queue_tx.send(dispatch);
        rx
    }

    /// Withdraws an event the host gave up on (timeout); a late answer gets 400.
    pub fn withdraw(&self, request_id: &str) {
        if lock(&self.pending).remove(request_id).is_some() {
            self.remember_answered(request_id);
        }
    }

    pub fn watch_status(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Marks the sandbox dead (the first reason wins) and fails every pending event with it.
    pub fn fail_all(&self, reason: Failure) {
        self.status.send_if_modified(|s| {
            if matches!(s, Status::Dead(_)) {
                return false;
            }
            *s = Status::Dead(reason);
            true
        });
        let Status::Dead(reason) = self.status() else {
            unreachable!("status was just set to Dead and never leaves it");
        };
        let drained: Vec<_> = lock(&self.pending).drain().collect();
        for (_, pending) in drained {
            let _ = pending.answer.send(Outcome::Failure(reason.clone()));
        }
    }

    pub fn set_tail(&self, tail: Option<Tail>) {
        *lock(&self.tail) = tail;
    }

    pub fn tail(&self) -> Option<Tail> {
        lock(&self.tail).clone()
    }

    // ---- the runtime's side ----

    /// Waits for the next event. The first call ends init.
    pub async fn next(&self) -> Option<Dispatch> {
        let init = self.started.elapsed();
        self.status.send_if_modified(|s| {
            let first = *s == Status::Initializing;
            if first {
                *s = Status::Ready(init);
            }
            first
        });
        self.queue_rx.lock().await.recv().await
    }

    /// Takes the sink a streamed response to this pending event is relayed
    /// to, if its invoker left one: a second stream for the same event gets none.
    pub fn take_stream_sink(&self, request_id: &str) -> Option<StreamSink> {
        lock(&self.pending).get_mut(request_id)?.stream.take()
    }

    /// Whether the event still waits for the runtime's answer.
    pub fn is_pending(&self, request_id: &str) -> bool {
        lock(&self.pending).contains_key(request_id)
    }

    /// Completes a pending event with the runtime's answer.
    pub fn answer(&self, request_id: &str, outcome: Outcome) -> Result<(), AnswerError> {
        let pending = lock(&self.pending).remove(request_id);
        match pending {
            Some(pending) => {
                self.remember_answered(request_id);
                let _ = pending.answer.send(outcome);
                Ok(())
            }
            None if lock(&self.answered).iter().any(|id| id == request_id) => {
                Err(AnswerError::AlreadyAnswered)
            }
            None => Err(AnswerError::Unknown),
        }
    }

    fn remember_answered(&self, request_id: &str) {
        let mut answered = lock(&self.answered);
        if answered.len() == ANSWERED_MEMORY {
            answered.pop_front();
        }
        answered.push_back(request_id.to_string());
    }
}

/// A poisoned lock only means another thread panicked mid-update of plain
/// data; the data is still usable, and the host must not cascade the panic.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatch(id: &str) -> Dispatch {
        Dispatch {
            request_id: id.into(),
            payload: Bytes::from_static(b"{}"),
            deadline_ms: 0,
            function_arn: String::new(),
            trace_id: String::new(),
            client_context: None,
            cognito_identity: None,
        }
    }

    #[tokio::test]
    async fn first_next_ends_init_and_answers_reach_the_poster() {
        let mb = Mailbox::new(Instant::now());
        let rx = mb.post(dispatch("a"), None);
        assert_eq!(mb.status(), Status::Initializing);
        assert_eq!(mb.next().await.unwrap().request_id, "a");
        assert!(matches!(mb.status(), Status::Ready(_)));
        mb.answer("a", Outcome::Response(Bytes::from_static(b"1")))
            .unwrap();
        assert!(matches!(rx.await.unwrap(), Outcome::Response(b) if b == "1"));
        assert_eq!(
            mb.answer("a", Outcome::Response(Bytes::new())),
            Err(AnswerError::AlreadyAnswered)
        );
        assert_eq!(
            mb.answer("zz", Outcome::Response(Bytes::new())),
            Err(AnswerError::Unknown)
        );
    }

    #[tokio::test]
    async fn death_fails_every_pending_event_with_the_first_reason() {
        let mb = Mailbox::new(Instant::now());
        let a = mb.post(dispatch("a"), None);
        let b = mb.post(dispatch("b"), None);
        mb.fail_all(Failure::Timeout { timeout_s: 1 });
        mb.fail_all(Failure::OutOfMemory);
        for rx in [a, b] {
            assert!(matches!(
                rx.await.unwrap(),
                Outcome::Failure(Failure::Timeout { .. })
            ));
        }
    }
}
