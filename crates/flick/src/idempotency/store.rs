//! The record an idempotency key keeps, and the contract of a store, with
//! the in-process one.

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Whether the work of a key runs or has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// The work runs (until the invocation's deadline at most).
    InProgress,
    /// The work is done; its result is kept.
    Completed,
}

/// What a store keeps under a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `FUNCTION#KEY_JSON`.
    pub key: String,
    /// Whether the work runs or has run.
    pub status: Status,
    /// When the record stops counting (epoch ms).
    pub expires_ms: i64,
    /// An in-progress record stops holding the key then (the invocation's deadline).
    pub in_progress_until_ms: Option<i64>,
    /// The digest of the payload a repeat must match.
    pub validation: Option<String>,
    /// The result, as JSON.
    pub result: Option<String>,
    /// Which request made the claim (a store may find its own claim again).
    #[serde(default)]
    pub claim_id: String,
}

impl Record {
    /// Whether the record still holds its key at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.expires_ms > now_ms
            && (self.status == Status::Completed
                || self.in_progress_until_ms.is_some_and(|t| t > now_ms))
    }
}

/// Where idempotency records are kept.
pub trait Store {
    /// Stores `record` (in progress) unless a live record holds its key,
    /// atomically; returns that live record if there is one.
    fn claim(&self, record: &Record, now_ms: i64) -> io::Result<Option<Record>>;
    /// Stores `record` over whatever its key holds.
    fn put(&self, record: &Record) -> io::Result<()>;
    /// Forgets `key` (its work failed: a retry runs it again).
    fn delete(&self, key: &str) -> io::Result<()>;
}

/// A store chosen at run time (`Box<dyn Store + Send + Sync>`).
impl<S: Store + ?Sized> Store for Box<S> {
    fn claim(&self, record: &Record, now_ms: i64) -> io::Result<Option<Record>> {
        (**self).claim(record, now_ms)
    }

    fn put(&self, record: &Record) -> io::Result<()> {
        (**self).put(record)
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        (**self).delete(key)
    }
}

/// Records in this process's memory: for tests, and for a function whose
/// repeats reach the same sandbox (one sandbox, no concurrency).
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
}

impl MemoryStore {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn claim(&self, record: &Record, now_ms: i64) -> io::Result<Option<Record>> {
        let mut records = self.records();
        match records.get(&record.key) {
            Some(found) if found.is_live(now_ms) => Ok(Some(found.clone())),
            _ => {
                records.insert(record.key.clone(), record.clone());
                Ok(None)
            }
        }
    }

    fn put(&self, record: &Record) -> io::Result<()> {
        self.records().insert(record.key.clone(), record.clone());
        Ok(())
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        self.records().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: Status, expires_ms: i64, until: Option<i64>) -> Record {
        Record {
            key: "f#\"k\"".into(),
            status,
            expires_ms,
            in_progress_until_ms: until,
            validation: None,
            result: None,
            claim_id: "c1".into(),
        }
    }

    #[test]
    fn a_key_is_held_while_its_record_lives() {
        let store = MemoryStore::default();
        let running = record(Status::InProgress, 10_000, Some(2_000));
        assert_eq!(
            store.claim(&running, 1_000).unwrap(),
            None,
            "first: claimed"
        );
        assert_eq!(
            store.claim(&running, 1_500).unwrap(),
            Some(running.clone()),
            "in progress"
        );
        // Its invocation's deadline passed: the work died, another may take the key.
        assert_eq!(store.claim(&running, 2_500).unwrap(), None);
        let done = record(Status::Completed, 10_000, None);
        store.put(&done).unwrap();
        assert_eq!(store.claim(&running, 9_000).unwrap(), Some(done));
        assert_eq!(store.claim(&running, 10_001).unwrap(), None, "expired");
        store.delete(&running.key).unwrap();
        assert_eq!(store.claim(&running, 10_002).unwrap(), None);
    }
}
