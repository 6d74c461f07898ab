//! Where durable executions live: the contract ([`DurableStore`]), the rows
//! every store keeps, and the embedded implementation, tables of the host's
//! SQLite database next to the queue's (`state_dir/queue.db`), on a
//! connection of their own. The shared one is [`super::postgres`].
//!
//! Every change of an execution (a checkpoint, a timer, a callback) is one
//! transaction committed with `synchronous=FULL` before anyone is told of
//! it, so a checkpoint the SDK saw acknowledged survives a SIGKILL. An
//! execution's head is one row, each operation one row (replaced when it
//! changes), each history event one row.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection};

use super::execution::{Changes, Execution, Head, Meta, OpRecord};
use crate::queue::{StoreError, StoreFuture};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS durable_executions (
    arn TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    name TEXT NOT NULL,
    function_arn TEXT NOT NULL,
    input TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    timeout_s INTEGER NOT NULL,
    retention_days INTEGER NOT NULL,
    secret TEXT NOT NULL,
    head TEXT NOT NULL
);
-- An execution's name is its idempotency key within its function.
CREATE UNIQUE INDEX IF NOT EXISTS durable_names ON durable_executions (function, name);
CREATE TABLE IF NOT EXISTS durable_operations (
    arn TEXT NOT NULL,
    id TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (arn, id)
);
CREATE TABLE IF NOT EXISTS durable_events (
    arn TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (arn, event_id)
);
";

/// Where durable executions are kept.
pub trait DurableStore: Send + Sync {
    /// Every execution kept, running or within its retention.
    fn load(&self) -> StoreFuture<'_, Vec<Execution>>;
    /// Stores a new execution with the changes of its start.
    fn insert(&self, exec: &Execution, changes: &Changes) -> StoreFuture<'_, ()>;
    /// Stores a change of `exec`; resolves once it is durable.
    fn save(&self, exec: &Execution, changes: &Changes) -> StoreFuture<'_, ()>;
    /// Forgets an execution (its retention ended, or it was deleted).
    fn delete(&self, arn: &str) -> StoreFuture<'_, ()>;
}

pub struct SqliteDurableStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteDurableStore {
    /// How many executions the file at `path` holds, if it has any: a host
    /// moved to the shared store leaves these behind, unrun.
    pub fn left_at(path: &Path) -> Option<u64> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let conn = Connection::open_with_flags(path, flags).ok()?;
        conn.query_row("SELECT count(*) FROM durable_executions", [], |row| {
            row.get(0)
        })
        .ok()
        .filter(|&n: &u64| n > 0)
    }

    pub fn open(path: &Path) -> Result<SqliteDurableStore, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteDurableStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async threads.
    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let conn = self.conn.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&mut crate::sync::lock(&conn)))
                .await
                .map_err(|e| StoreError::Database(format!("the store's thread failed: {e}")))?
        })
    }
}

/// An execution's row as both stores keep it: what never changes, and the
/// head as JSON.
pub(super) struct StoredHead {
    pub meta: Meta,
    pub head: String,
}

/// The columns of an execution's row, in [`StoredHead::read`]'s order.
pub(super) const HEAD_COLUMNS: &str =
    "arn, function, name, function_arn, input, start_ms, timeout_s, retention_days, secret, head";

/// A row of [`HEAD_COLUMNS`], as either database gives it.
pub(super) trait HeadRow {
    fn text(&self, column: usize) -> Result<String, StoreError>;
    fn int(&self, column: usize) -> Result<i64, StoreError>;
}

impl HeadRow for rusqlite::Row<'_> {
    fn text(&self, column: usize) -> Result<String, StoreError> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: usize) -> Result<i64, StoreError> {
        Ok(self.get(column)?)
    }
}

impl StoredHead {
    pub(super) fn read(row: &impl HeadRow) -> Result<StoredHead, StoreError> {
        Ok(StoredHead {
            meta: Meta {
                arn: row.text(0)?,
                function: row.text(1)?,
                name: row.text(2)?,
                function_arn: row.text(3)?,
                input: row.text(4)?,
                start_ms: row.int(5)?,
                timeout_s: row.int(6)? as u64,
                retention_days: row.int(7)? as u64,
                secret: row.text(8)?,
            },
            head: row.text(9)?,
        })
    }

    /// The execution, with its operations' and events' JSON (events in
    /// order); `None`, with a warning, if any of it cannot be read: one
    /// unreadable execution is left where it is, not the host down.
    pub(super) fn restore(self, ops: &[String], events: &[String]) -> Option<Execution> {
        let arn = &self.meta.arn;
        let ops = ops.iter().map(|t| parse::<OpRecord>(t)).collect();
        let events = events.iter().map(|t| parse(t)).collect();
        match (ops, events, parse::<Head>(&self.head)) {
            (Ok(ops), Ok(events), Ok(head)) => {
                Some(Execution::restore(self.meta, head, ops, events))
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                tracing::warn!("durable execution {arn} cannot be read and is left as it is: {e}");
                None
            }
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Database(format!("a stored record: {e}")))
}

/// The rows a change writes: the head, each operation's last version (with
/// its place), the new events. Both stores write these.
pub(super) struct Rows {
    pub arn: String,
    pub head: String,
    pub ops: Vec<(String, String)>,
    pub events: Vec<(u64, String)>,
}

pub(super) fn rows(exec: &Execution, changes: &Changes) -> Result<Rows, StoreError> {
    let ops = super::execution::final_versions(exec, changes)
        .into_iter()
        .map(|record| Ok((record.op.id.clone(), json(&record)?)))
        .collect::<Result<_, StoreError>>()?;
    let events = changes
        .events
        .iter()
        .map(|e| Ok((e["EventId"].as_u64().unwrap_or(0), json(e)?)))
        .collect::<Result<_, StoreError>>()?;
    Ok(Rows {
        arn: exec.meta.arn.clone(),
        head: json(&changes.head)?,
        ops,
        events,
    })
}

fn write(tx: &rusqlite::Transaction<'_>, rows: &Rows) -> Result<(), StoreError> {
    let updated = tx.execute(
        "UPDATE durable_executions SET head = ?2 WHERE arn = ?1",
        params![rows.arn, rows.head],
    )?;
    if updated != 1 {
        // Deleted meanwhile: its operations and events must not outlive it.
        return Err(StoreError::Database(format!("no execution {}", rows.arn)));
    }
    for (id, record) in &rows.ops {
        tx.execute(
            "INSERT OR REPLACE INTO durable_operations (arn, id, record) VALUES (?1, ?2, ?3)",
            params![rows.arn, id, record],
        )?;
    }
    for (event_id, event) in &rows.events {
        tx.execute(
            "INSERT OR REPLACE INTO durable_events (arn, event_id, event) VALUES (?1, ?2, ?3)",
            params![rows.arn, *event_id as i64, event],
        )?;
    }
    Ok(())
}

impl DurableStore for SqliteDurableStore {
    fn load(&self) -> StoreFuture<'_, Vec<Execution>> {
        self.blocking(load_all)
    }

    fn insert(&self, exec: &Execution, changes: &Changes) -> StoreFuture<'_, ()> {
        let rows = rows(exec, changes);
        let e = exec.meta.clone();
        self.blocking(move |conn| {
            let rows = rows?;
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO durable_executions (arn, function, name, function_arn, input, start_ms, \
                 timeout_s, retention_days, secret, head) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    e.arn, e.function, e.name, e.function_arn, e.input, e.start_ms,
                    e.timeout_s as i64, e.retention_days as i64, e.secret, rows.head
                ],
            )?;
            write(&tx, &rows)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn save(&self, exec: &Execution, changes: &Changes) -> StoreFuture<'_, ()> {
        let rows = rows(exec, changes);
        self.blocking(move |conn| {
            let rows = rows?;
            let tx = conn.transaction()?;
            write(&tx, &rows)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn delete(&self, arn: &str) -> StoreFuture<'_, ()> {
        let arn = arn.to_string();
        self.blocking(move |conn| {
            let tx = conn.transaction()?;
            for table in ["durable_executions", "durable_operations", "durable_events"] {
                tx.execute(&format!("DELETE FROM {table} WHERE arn = ?1"), [&arn])?;
            }
            tx.commit()?;
            Ok(())
        })
    }
}

fn load_all(conn: &mut Connection) -> Result<Vec<Execution>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {HEAD_COLUMNS} FROM durable_executions ORDER BY start_ms"
    ))?;
    let mut found = stmt.query([])?;
    let mut heads = Vec::new();
    while let Some(row) = found.next()? {
        heads.push(StoredHead::read(row)?);
    }
    let mut ops_stmt = conn.prepare("SELECT record FROM durable_operations WHERE arn = ?1")?;
    let mut events_stmt =
        conn.prepare("SELECT event FROM durable_events WHERE arn = ?1 ORDER BY event_id")?;
    let mut out = Vec::with_capacity(heads.len());
    for stored in heads {
        let arn = stored.meta.arn.clone();
        let ops = ops_stmt
            .query_map([&arn], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let events = events_stmt
            .query_map([&arn], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        out.extend(stored.restore(&ops, &events));
    }
    Ok(out)
}
