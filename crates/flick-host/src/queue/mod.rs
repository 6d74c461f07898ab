//! Durable asynchronous (`Event`) invocations: accepted events are committed
//! to a store before the Invoke API answers 202, then workers deliver them at
//! least once through the scheduler, with Lambda's retry rules.
//!
//! This module owns the store's contract, [`QueueStore`], and the types that
//! cross it. The embedded SQLite store with group commit is in [`sqlite`]
//! (its in-memory index of waiting events in `ready`), the delivery loop in
//! [`worker`], the retry rules in [`policy`], the destination record in
//! [`record`], and the offline commands of `flick queue` in [`admin`]. The
//! wire side of `Event` stays in `invoke_api`; running an event on a sandbox
//! stays in the scheduler.
//!
//! The trait is shaped for a shared database too: a store hands out one due
//! event at a time (`claim`) and is told how it ended (`settle`); the
//! PostgreSQL store in [`postgres`] serves several hosts that way, with row
//! leases taken by `FOR UPDATE SKIP LOCKED`.

pub mod admin;
pub mod policy;
pub mod postgres;
mod ready;
pub mod record;
pub mod sqlite;
mod wakes;
pub mod worker;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::Notify;

/// Lambda's limit for an asynchronous request payload.
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;

/// The file of the embedded queue, inside `server.state_dir`.
pub const DB_FILE: &str = "queue.db";

/// An event to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The request id, kept across retries as on Lambda.
    pub id: String,
    pub function: String,
    pub payload: Bytes,
    /// Decoded client context JSON, passed on to the runtime.
    pub client_context: Option<String>,
    /// The caller's tenant, for a function with per-tenant isolation.
    pub tenant_id: Option<String>,
    /// The X-Ray trace header made at acceptance (from the caller's, if
    /// any), which every attempt carries: on Lambda an asynchronous
    /// invocation continues its caller's trace.
    pub trace: Option<String>,
    pub accepted_ms: i64,
}

/// How often an event has been tried, and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Invocations that reached a sandbox (the record's approximate invoke count).
    pub invokes: u32,
    /// Of those, the ones that ended in a function error or timeout.
    pub function_errors: u32,
    /// Consecutive throttles and host errors, for the backoff.
    pub throttles: u32,
}

/// An event taken from the queue for one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// The store's own key, oldest first.
    pub seq: i64,
    pub event: NewEvent,
    pub counters: Counters,
    /// Not to be delivered before this (epoch ms).
    pub not_before_ms: i64,
}

/// What `claim` found.
#[derive(Debug)]
pub enum Claim {
    Event(QueuedEvent),
    /// Nothing is due; the earliest waiting event is due at this time, if any.
    Wait {
        until_ms: Option<i64>,
    },
}

/// How a claimed event ended.
#[derive(Debug)]
pub enum Settlement {
    /// Delivered; `follow_up` is the on-success destination's event.
    Done { follow_up: Option<NewEvent> },
    /// Try again at `not_before_ms`.
    Retry {
        counters: Counters,
        not_before_ms: i64,
    },
    /// Given up: moved to the dead-letter table with the destination record;
    /// `follow_up` is the on-failure destination's event.
    DeadLetter {
        counters: Counters,
        condition: String,
        record: Bytes,
        follow_up: Option<NewEvent>,
    },
    /// The host is stopping: the event stays in the store, in flight, and is
    /// delivered again after the next start.
    Abandon,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The function already has `max_queued` events.
    #[error("the queue of {function} is full ({limit} events)")]
    Full { function: String, limit: usize },
    #[error("queue database: {0}")]
    Database(String),
    #[error("the queue is closed")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where accepted events live until they are delivered or given up.
pub trait QueueStore: Send + Sync {
    /// Stores `event`; resolves only once it is durable. Refuses it with
    /// [`StoreError::Full`] when its function already has `limit` events.
    fn enqueue(&self, event: NewEvent, limit: usize) -> StoreFuture<'_, ()>;

    /// Takes the oldest due event of `function` and marks it in flight.
    fn claim(&self, function: &str, now_ms: i64) -> StoreFuture<'_, Claim>;

    /// Records how a claimed event ended.
    fn settle(&self, event: QueuedEvent, settlement: Settlement) -> StoreFuture<'_, ()>;

    /// Notified (`notify_one`) whenever an event of `function` may have become due.
    fn wake(&self, function: &str) -> Arc<Notify>;

    /// Finishes pending writes and closes the store.
    fn close(&self) -> StoreFuture<'_, ()>;
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
