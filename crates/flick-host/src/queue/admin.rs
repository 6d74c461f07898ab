//! `flick queue`: reads and re-drives the queue, with or without a host
//! running on it. This module owns what the commands see ([`QueueAdmin`])
//! and its embedded-file side, which opens the database file directly (WAL
//! lets a reader in beside the host's writer; a write waits for its turn);
//! the PostgreSQL side is `postgres::admin`.
//!
//! A re-driven event is moved from the dead-letter table back to the events
//! with its counters reset and a fresh age, marked `redriven`; a running host
//! picks it up within a second, a stopped one at its next start.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags};

use super::{now_ms, StoreError};

/// One function's line of `flick queue list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    pub function: String,
    pub pending: u64,
    pub in_flight: u64,
    pub dead_letters: u64,
}

/// A given-up event.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: String,
    pub accepted_ms: i64,
    pub failed_ms: i64,
    pub condition: String,
    pub invokes: u32,
    /// The destination record, JSON.
    pub record: String,
}

/// What `flick queue` does, on either store.
pub trait QueueAdmin {
    /// Depth, in-flight and dead-letter counts of every function that has any.
    fn depths(&self) -> Result<Vec<Depth>, StoreError>;
    /// The dead-lettered events of `function`, oldest failure first.
    fn dead_letters(&self, function: &str) -> Result<Vec<DeadLetter>, StoreError>;
    /// Queues the dead-lettered events of `function` (all, or the one `id`)
    /// again; returns how many.
    fn redrive(&mut self, function: &str, id: Option<&str>) -> Result<usize, StoreError>;
}

/// The queue of a host: its PostgreSQL database when `store` names one,
/// else the embedded file in `state_dir`.
pub fn open(server: &crate::manifest::ServerConfig) -> Result<Box<dyn QueueAdmin>, StoreError> {
    Ok(match &server.store {
        Some(url) => Box::new(super::postgres::admin::PgAdmin::connect(url)?),
        None => Box::new(Admin::open(&server.state_dir.join(super::DB_FILE))?),
    })
}

pub struct Admin {
    conn: Connection,
}

impl Admin {
    /// Opens an existing queue database; it is an error when there is none.
    pub fn open(path: &Path) -> Result<Admin, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| {
            StoreError::Database(format!(
                "cannot open {} ({e}); a host creates it when it starts",
                path.display()
            ))
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(super::sqlite::SCHEMA)?;
        Ok(Admin { conn })
    }
}

impl QueueAdmin for Admin {
    fn depths(&self) -> Result<Vec<Depth>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT function, SUM(pending), SUM(in_flight), SUM(dead) FROM ( \
               SELECT function, state != 'in_flight' AS pending, state = 'in_flight' AS in_flight, \
                      0 AS dead FROM events \
               UNION ALL SELECT function, 0, 0, 1 FROM dead_letters) \
             GROUP BY function ORDER BY function",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(Depth {
                function: row.get(0)?,
                pending: row.get(1)?,
                in_flight: row.get(2)?,
                dead_letters: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn dead_letters(&self, function: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, accepted_ms, failed_ms, condition, invokes, record FROM dead_letters \
             WHERE function = ?1 ORDER BY failed_ms, id",
        )?;
        let rows = stmt.query_map([function], |row| {
            Ok(DeadLetter {
                id: row.get(0)?,
                accepted_ms: row.get(1)?,
                failed_ms: row.get(2)?,
                condition: row.get(3)?,
                invokes: row.get(4)?,
                record: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn redrive(&mut self, function: &str, id: Option<&str>) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let now = now_ms();
        let moved = tx.execute(
            "INSERT INTO events (id, function, payload, client_context, accepted_ms, \
                                 not_before_ms, state, tenant_id) \
             SELECT id, function, payload, client_context, ?3, ?3, 'redriven', tenant_id \
             FROM dead_letters \
             WHERE function = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY failed_ms",
            params![function, id, now],
        )?;
        tx.execute(
            "DELETE FROM dead_letters WHERE function = ?1 AND (?2 IS NULL OR id = ?2)",
            params![function, id],
        )?;
        tx.commit()?;
        Ok(moved)
    }
}
