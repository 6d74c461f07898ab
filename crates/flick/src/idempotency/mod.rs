//! Idempotency (feature `idempotency`): a handler, or any piece of work in
//! it, runs once per idempotency key; a repeat of the same request within
//! the expiry gets the stored result instead of running again, as
//! Powertools for AWS Lambda's idempotency utility does.
//!
//! ```no_run
//! use flick::idempotency::{Idempotency, MemoryStore};
//! use serde_json::{json, Value};
//!
//! async fn handle(order: Value, context: flick::Context) -> Result<Value, flick::Error> {
//!     // In a real function the store is built once, at init (see examples/idempotency).
//!     let once = Idempotency::new(MemoryStore::default()).key_path("/order_id");
//!     once.run(&order, &context, async || Ok(json!({"charged": order["amount"]}))).await
//! }
//!
//! fn main() {
//!     flick::run(handle)
//! }
//! ```
//!
//! The key is the JSON at a [JSON Pointer](https://www.rfc-editor.org/rfc/rfc6901)
//! in the event (`key_path`; Powertools takes a JMESPath expression) or one
//! you give ([`Idempotency::run_keyed`]), scoped by the function's name.
//! While the work runs, the key is held as in progress (until the
//! invocation's deadline): a concurrent repeat fails with
//! `IdempotencyAlreadyInProgressError` (transient: retry it later). A
//! completed result is kept for [`Idempotency::expires_after`] (one hour by
//! default). Work that fails leaves nothing behind, so a retry runs it
//! again. With [`Idempotency::validate_path`], a repeat whose payload at
//! that pointer differs from the first's fails with
//! `IdempotencyValidationError` instead of getting the first's result. A
//! missing key is `IdempotencyKeyError`; a store that fails,
//! `IdempotencyPersistenceLayerError`.
//!
//! Stores: [`MemoryStore`] (one process: tests, or a function with one
//! sandbox), [`RedisStore`] (Redis or Valkey, shared by every sandbox) and,
//! with the feature `idempotency-dynamodb`, `DynamoDbStore` (a DynamoDB
//! table in Powertools' layout, through the AWS SDK for Rust).

#[cfg(feature = "idempotency-dynamodb")]
mod dynamodb;
mod redis;
mod store;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::{Context, Error};
#[cfg(feature = "idempotency-dynamodb")]
pub use dynamodb::DynamoDbStore;
pub use redis::RedisStore;
pub use store::{MemoryStore, Record, Status, Store};

/// Makes work idempotent on a key, with a store.
#[derive(Debug)]
pub struct Idempotency<S> {
    store: S,
    /// What the work is, so two pieces of work on one key do not meet.
    name: String,
    key_path: Option<String>,
    validate_path: Option<String>,
    expires_after: Duration,
}

impl<S: Store> Idempotency<S> {
    /// Results kept for an hour; the key must be given to [`run_keyed`](Self::run_keyed)
    /// unless [`key_path`](Self::key_path) says where it is in the event.
    pub fn new(store: S) -> Self {
        Idempotency {
            store,
            name: "handler".into(),
            key_path: None,
            validate_path: None,
            expires_after: Duration::from_secs(3600),
        }
    }

    /// Names the work (default `handler`): records are per function, name
    /// and key, so two pieces of work in one function may use the same key.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Where the key is in the event, as a JSON Pointer (`""` is the whole
    /// event). A pointer reaches into JSON, not into a string holding JSON
    /// (an API Gateway `body`): parse that first and use `run_keyed`.
    pub fn key_path(mut self, pointer: &str) -> Self {
        self.key_path = Some(pointer.to_string());
        self
    }

    /// Where the payload that a repeat must match is, as a JSON Pointer.
    pub fn validate_path(mut self, pointer: &str) -> Self {
        self.validate_path = Some(pointer.to_string());
        self
    }

    /// How long a completed result is kept.
    pub fn expires_after(mut self, expiry: Duration) -> Self {
        self.expires_after = expiry;
        self
    }

    /// Runs `work` once for the key found in `event` at the key path.
    pub async fn run<E, T, F, Fut>(&self, event: &E, context: &Context, work: F) -> Result<T, Error>
    where
        E: Serialize,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let event = serde_json::to_value(event)?;
        let pointer = self.key_path.as_deref().unwrap_or("");
        let key = match event.pointer(pointer) {
            Some(v) if !v.is_null() => v.to_string(),
            _ => {
                let message = format!("no idempotency key at {pointer:?} in the event");
                return Err(Error::client(message).with_type("IdempotencyKeyError"));
            }
        };
        let validation = self
            .validate_path
            .as_deref()
            .map(|p| digest(event.pointer(p)));
        self.guarded(&key, validation, context, work).await
    }

    /// Runs `work` once for `key` (your own), checking `payload` against the
    /// first run's when given.
    pub async fn run_keyed<T, F, Fut>(
        &self,
        key: &str,
        payload: Option<&Value>,
        context: &Context,
        work: F,
    ) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let validation = payload.map(|p| digest(Some(p)));
        self.guarded(&Value::from(key).to_string(), validation, context, work)
            .await
    }

    async fn guarded<T, F, Fut>(
        &self,
        key: &str,
        validation: Option<String>,
        context: &Context,
        work: F,
    ) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let now = epoch_ms(SystemTime::now());
        let expiry = i64::try_from(self.expires_after.as_millis()).unwrap_or(i64::MAX);
        // Held until the invocation's deadline; where there is none (an HTTP
        // server outside Lambda), for the expiry.
        let deadline = Some(epoch_ms(context.deadline()))
            .filter(|&d| d > now)
            .unwrap_or(now.saturating_add(expiry));
        let claim = Record {
            key: format!("{}.{}#{key}", context.function_name(), self.name),
            status: Status::InProgress,
            expires_ms: now.saturating_add(expiry).max(deadline),
            in_progress_until_ms: Some(deadline),
            validation: validation.clone(),
            result: None,
            claim_id: format!("{}#{now}", context.request_id()),
        };
        if let Some(found) = self.store.claim(&claim, now).map_err(persistence)? {
            return replay(found, validation.as_deref());
        }
        // A panic or a dropped future must not leave the key held: the guard
        // forgets the claim unless the work's end was recorded.
        let mut release = Release {
            store: &self.store,
            key: Some(claim.key.clone()),
        };
        let outcome = work().await;
        let key = release.key.take().unwrap_or_default();
        match outcome {
            Ok(value) => {
                let done = Record {
                    status: Status::Completed,
                    in_progress_until_ms: None,
                    result: Some(serde_json::to_string(&value)?),
                    // Kept for the expiry from now, however long the work took.
                    expires_ms: epoch_ms(SystemTime::now()).saturating_add(expiry),
                    ..claim
                };
                self.store.put(&done).map_err(persistence)?;
                Ok(value)
            }
            Err(e) => {
                // Nothing is kept of failed work: a retry runs it again.
                self.store.delete(&key).map_err(persistence)?;
                Err(e)
            }
        }
    }
}

/// Forgets a claim on drop, unless its key was taken back.
struct Release<'a, S: Store> {
    store: &'a S,
    key: Option<String>,
}

impl<S: Store> Drop for Release<'_, S> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let _ = self.store.delete(&key);
        }
    }
}

/// What a repeat gets from a live record of its key.
fn replay<T: DeserializeOwned>(found: Record, validation: Option<&str>) -> Result<T, Error> {
    if found.validation.is_some() && found.validation.as_deref() != validation {
        let message = "the payload differs from the first request with this idempotency key";
        return Err(Error::client(message).with_type("IdempotencyValidationError"));
    }
    match (found.status, found.result) {
        (Status::Completed, Some(result)) => Ok(serde_json::from_str(&result)?),
        _ => Err(
            Error::transient("a request with this idempotency key is in progress")
                .with_type("IdempotencyAlreadyInProgressError"),
        ),
    }
}

fn persistence(e: std::io::Error) -> Error {
    Error::transient(format!("the idempotency store failed: {e}"))
        .with_type("IdempotencyPersistenceLayerError")
}

/// A stable digest of a payload (FNV-1a, 64 bits, of its JSON text): the
/// same on every build, unlike std's hasher.
fn digest(value: Option<&Value>) -> String {
    let text = value.map(Value::to_string).unwrap_or_default();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
