//! The meeting point of one sandbox's invocations and its Runtime API.
//!
//! The invoking side posts a [`Dispatch`] and learns, through [`Posted`],
//! when a `/next` call took it and what its [`Outcome`] was; the Runtime API
//! hands dispatches to `/next` and completes them from `/response` and
//! `/error`. An invoker that can pass a streamed response on as it arrives
//! leaves a [`StreamSink`] with its dispatch. The mailbox also carries the
//! sandbox's lifecycle [`Status`] and counts the runtime's `/next` calls,
//! since the call after the one that took an event ends that event's invoke
//! phase. It knows nothing of HTTP or processes; the sandbox gives it a
//! probe that says whether the runtime still lives, because a `/next` call
//! left pending by a runtime that is dying must not take an event.

use crate::sync::lock;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

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
    /// The caller's `X-Amz-Tenant-Id`, passed on as `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
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
    /// Called `/next` at least once; the value is when it first did.
    Ready(Instant),
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
    queue_tx: mpsc::UnboundedSender<Dispatch>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Dispatch>>,
    pending: Mutex<HashMap<String, Pending>>,
    answered: Mutex<VecDeque<String>>,
    status: watch::Sender<Status>,
    /// How many times the runtime has asked for an event, and when it last
    /// did: the ordinal of a `/next` call tells which invoke phase it ends.
    nexts: watch::Sender<NextCall>,
    /// The log of the invocation under way, when exactly one is.
    tail: Mutex<Option<Tail>>,
    /// Says whether the runtime process can still take an event.
    liveness: OnceLock<Liveness>,
}

/// A question the mailbox asks before handing an event over.
pub type Liveness = Box<dyn Fn() -> bool + Send + Sync>;

/// An event the runtime has not answered yet.
struct Pending {
    answer: oneshot::Sender<Outcome>,
    /// Told which `/next` call took the event, and when; dropped untold if
    /// the sandbox dies first.
    taken: Option<oneshot::Sender<NextCall>>,
    /// Called as the event is taken, before the runtime has it: whatever the
    /// runtime prints after that comes after what this writes.
    on_taken: Option<OnTaken>,
    stream: Option<StreamSink>,
}

/// One of the runtime's `/next` calls: its ordinal (from 1) and its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextCall {
    pub ordinal: u64,
    pub at: Instant,
}

/// What the invoker does the moment its event is taken.
pub type OnTaken = Box<dyn FnOnce() + Send>;

/// The invoking side's view of a posted event.
pub struct Posted {
    /// Resolves when a `/next` call took the event, with that call; fails
    /// if the sandbox died before any did.
    pub taken: oneshot::Receiver<NextCall>,
    /// The event's outcome.
    pub answer: oneshot::Receiver<Outcome>,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox::new()
    }
}

impl Mailbox {
    pub fn new() -> Mailbox {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        Mailbox {
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            pending: Mutex::new(HashMap::new()),
            answered: Mutex::new(VecDeque::new()),
            status: watch::Sender::new(Status::Initializing),
            nexts: watch::Sender::new(NextCall {
                ordinal: 0,
                at: Instant::now(),
            }),
            tail: Mutex::new(None),
            liveness: OnceLock::new(),
        }
    }

    /// Sets the probe asked before each event is handed over.
    pub fn set_liveness(&self, liveness: Liveness) {
        let _ = self.liveness.set(liveness);
    }

    fn runtime_alive(&self) -> bool {
        self.liveness.get().is_none_or(|alive| alive())
    }

    // ---- the invoking side ----

    /// Posts an event. Every posted event gets exactly one outcome: from the
    /// runtime, or from [`Mailbox::fail_all`] once it was taken; an event the
    /// runtime never took is given back instead (its `taken` fails).
    /// With a `stream` sink, a streamed response is relayed to it as it
    /// arrives and the outcome only says how the stream ended.
    pub fn post(
        &self,
        dispatch: Dispatch,
        stream: Option<StreamSink>,
        on_taken: Option<OnTaken>,
    ) -> Posted {
        let (answer, answer_rx) = oneshot::channel();
        let (taken, taken_rx) = oneshot::channel();
        let pending = Pending {
            answer,
            taken: Some(taken),
            on_taken,
            stream,
        };
        lock(&self.pending).insert(dispatch.request_id.clone(), pending);
        // The receiver lives as long as the mailbox, so this cannot fail.
        let _ = self.queue_tx.send(dispatch);
        Posted {
            taken: taken_rx,
            answer: answer_rx,
        }
    }

    /// Withdraws an event the host gave up on (timeout); a late answer gets
    /// 400, and a `/next` that comes later skips it.
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

    /// Whether the runtime ever asked for an event.
    pub fn was_ready(&self) -> bool {
        self.nexts.borrow().ordinal > 0
    }

    /// Waits until the runtime makes a `/next` call after `call`: that
    /// call, or None if the sandbox died first.
    pub async fn next_after(&self, call: NextCall) -> Option<NextCall> {
        let mut nexts = self.nexts.subscribe();
        let mut status = self.status.subscribe();
        tokio::select! {
            biased;
            called = nexts.wait_for(|n| n.ordinal > call.ordinal) => called.ok().map(|n| *n),
            _ = status.wait_for(|s| matches!(s, Status::Dead(_))) => None,
        }
    }

    /// Resolves once the sandbox is dead.
    pub async fn dead(&self) {
        let mut status = self.status.subscribe();
        let _ = status.wait_for(|s| matches!(s, Status::Dead(_))).await;
    }

    /// Marks the sandbox dead (the first reason wins), fails every event the
    /// runtime took with it and gives back those it never took.
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
            // Dropping `taken` unsent tells the invoker the event is still its own.
            if pending.taken.is_none() {
                let _ = pending.answer.send(Outcome::Failure(reason.clone()));
            }
        }
    }

    pub fn set_tail(&self, tail: Option<Tail>) {
        *lock(&self.tail) = tail;
    }

    pub fn tail(&self) -> Option<Tail> {
        lock(&self.tail).clone()
    }

    // ---- the runtime's side ----

    /// Waits for the next event. The first call ends init; every call ends
    /// the invoke phase of the event the previous one took.
    pub async fn next(&self) -> Option<Dispatch> {
        let now = Instant::now();
        let mut call = NextCall {
            ordinal: 0,
            at: now,
        };
        self.nexts.send_modify(|n| {
            n.ordinal += 1;
            n.at = now;
            call = *n;
        });
        self.status.send_if_modified(|s| {
            let first = *s == Status::Initializing;
            if first {
                *s = Status::Ready(now);
            }
            first
        });
        let mut queue = self.queue_rx.lock().await;
        loop {
            let dispatch = queue.recv().await?;
            if !self.runtime_alive() {
                // The caller is a dead runtime's leftover request: the event
                // stays untaken, to be given back when the death is noticed.
                return None;
            }
            // An event withdrawn or given back before it was taken is skipped.
            let hooks = lock(&self.pending)
                .get_mut(&dispatch.request_id)
                .and_then(|p| Some((p.taken.take()?, p.on_taken.take())));
            if let Some((taken, on_taken)) = hooks {
                if let Some(on_taken) = on_taken {
                    on_taken();
                }
                // When the event was taken, not when the call began waiting.
                let _ = taken.send(NextCall {
                    at: Instant::now(),
                    ..call
                });
                return Some(dispatch);
            }
        }
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
        let pending = {
            let mut all = lock(&self.pending);
            // Only an event the runtime took can be answered.
            match all.get(request_id) {
                Some(p) if p.taken.is_none() => all.remove(request_id),
                _ => None,
            }
        };
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
            tenant_id: None,
        }
    }

    #[tokio::test]
    async fn first_next_ends_init_and_answers_reach_the_poster() {
        let mb = Mailbox::new();
        let posted = mb.post(dispatch("a"), None, None);
        assert_eq!(mb.status(), Status::Initializing);
        assert_eq!(
            mb.answer("a", Outcome::Response(Bytes::new())),
            Err(AnswerError::Unknown),
            "an event nobody took cannot be answered"
        );
        assert_eq!(mb.next().await.unwrap().request_id, "a");
        assert_eq!(posted.taken.await.unwrap().ordinal, 1);
        assert!(matches!(mb.status(), Status::Ready(_)));
        mb.answer("a", Outcome::Response(Bytes::from_static(b"1")))
            .unwrap();
        assert!(matches!(posted.answer.await.unwrap(), Outcome::Response(b) if b == "1"));
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
    async fn death_fails_taken_events_and_gives_back_the_others() {
        let mb = Mailbox::new();
        let a = mb.post(dispatch("a"), None, None);
        assert_eq!(mb.next().await.unwrap().request_id, "a");
        let b = mb.post(dispatch("b"), None, None);
        mb.fail_all(Failure::Timeout { timeout_s: 1 });
        mb.fail_all(Failure::OutOfMemory);
        assert!(matches!(
            a.answer.await.unwrap(),
            Outcome::Failure(Failure::Timeout { .. })
        ));
        assert!(b.taken.await.is_err(), "b was never taken");
        assert!(b.answer.await.is_err());
    }

    #[tokio::test]
    async fn the_next_call_after_an_event_ends_its_phase() {
        let mb = std::sync::Arc::new(Mailbox::new());
        let posted = mb.post(dispatch("a"), None, None);
        mb.next().await.unwrap();
        let call = posted.taken.await.unwrap();
        let waiter = tokio::spawn({
            let mb = mb.clone();
            async move { mb.next_after(call).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let again = tokio::spawn({
            let mb = mb.clone();
            async move { mb.next().await }
        });
        let second = waiter.await.unwrap().unwrap();
        assert_eq!(second.ordinal, 2);
        mb.fail_all(Failure::OutOfMemory);
        assert!(
            mb.next_after(second).await.is_none(),
            "a dead sandbox makes no more calls"
        );
        again.abort();
    }

    #[tokio::test]
    async fn a_withdrawn_event_is_skipped() {
        let mb = Mailbox::new();
        let _gone = mb.post(dispatch("gone"), None, None);
        mb.withdraw("gone");
        let _b = mb.post(dispatch("b"), None, None);
        assert_eq!(mb.next().await.unwrap().request_id, "b");
    }
}
