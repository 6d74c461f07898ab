//! Durable executions in the PostgreSQL database several hosts share
//! (`[server] store = "postgres://…"`): the rows of the SQLite store
//! ([`super::store`]) in the `flick_durable_*` tables.
//!
//! One host at a time runs the executions ([`super::leader`]), and it does
//! so in a numbered term. A store belongs to one term: each of its
//! transactions first reads the current term under a share lock, and
//! refuses to write if another host has taken over since. A host that lost
//! the lead without noticing yet (cut off from the database, paused)
//! therefore cannot overwrite what its successor loaded and carries on.

use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_postgres::Transaction;

use super::execution::{Changes, Execution};
use super::store::{rows, DurableStore, HeadRow, Rows, StoredHead, HEAD_COLUMNS};
use crate::queue::postgres::connect::within;
use crate::queue::{StoreError, StoreFuture};

/// Longest one store operation may take, the wait for a connection included.
const OPERATION_LIMIT: Duration = Duration::from_secs(20);

/// Longest loading every execution may take, when a host takes the lead:
/// a large store must not keep every host from ever leading.
const LOAD_LIMIT: Duration = Duration::from_secs(300);

/// The durable executions' tables, written in one term of leadership.
pub struct PgDurableStore {
    pool: Pool,
    term: i64,
}

impl PgDurableStore {
    pub fn new(pool: Pool, term: i64) -> PgDurableStore {
        PgDurableStore { pool, term }
    }

    /// Runs `f` in a transaction that commits only if this store's term is
    /// still the current one, within `limit`.
    fn fenced<'a, T: Send + 'a>(
        &'a self,
        limit: Duration,
        f: impl for<'t, 'c> FnOnce(&'t Transaction<'c>) -> StoreFuture<'t, T> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        Box::pin(within(limit, async move {
            let mut client = self
                .pool
                .get()
                .await
                .map_err(|e| StoreError::Database(format!("no database connection: {e}")))?;
            let tx = client.transaction().await?;
            let current: Option<i64> = tx
                .query_opt("SELECT term FROM flick_durable_leader FOR SHARE", &[])
                .await?
                .map(|row| row.get(0));
            if current != Some(self.term) {
                return Err(StoreError::Database(format!(
                    "this host no longer runs the durable executions: its term {} ended \
                     (the current one is {current:?})",
                    self.term
                )));
            }
            let out = f(&tx).await?;
            tx.commit().await?;
            Ok(out)
        }))
    }
}

/// Writes a change: the head, each operation's last version, new events.
async fn write(tx: &Transaction<'_>, rows: &Rows) -> Result<(), StoreError> {
    let updated = tx
        .execute(
            "UPDATE flick_durable_executions SET head = $2 WHERE arn = $1",
            &[&rows.arn, &rows.head],
        )
        .await?;
    if updated != 1 {
        return Err(StoreError::Database(format!("no execution {}", rows.arn)));
    }
    let (ids, records): (Vec<&str>, Vec<&str>) = rows
        .ops
        .iter()
        .map(|(i, r)| (i.as_str(), r.as_str()))
        .unzip();
    tx.execute(
        "INSERT INTO flick_durable_operations (arn, id, record) \
         SELECT $1, * FROM unnest($2::text[], $3::text[]) \
         ON CONFLICT (arn, id) DO UPDATE SET record = EXCLUDED.record",
        &[&rows.arn, &ids, &records],
    )
    .await?;
    let (event_ids, events): (Vec<i64>, Vec<&str>) = rows
        .events
        .iter()
        .map(|(i, e)| (*i as i64, e.as_str()))
        .unzip();
    tx.execute(
        "INSERT INTO flick_durable_events (arn, event_id, event) \
         SELECT $1, * FROM unnest($2::bigint[], $3::text[]) \
         ON CONFLICT (arn, event_id) DO UPDATE SET event = EXCLUDED.event",
        &[&rows.arn, &event_ids, &events],
    )
    .await?;
    Ok(())
}

impl DurableStore for PgDurableStore {
    fn load(&self) -> StoreFuture<'_, Vec<Execution>> {
        self.fenced(LOAD_LIMIT, |tx| Box::pin(load_all(tx)))
    }

    fn insert(&self, exec: &Execution, changes: &Changes) -> StoreFuture<'_, ()> {
        let rows = rows(exec, changes);
        let e = exec.meta.clone();
        self.fenced(OPERATION_LIMIT, move |tx| {
            Box::pin(async move {
                let rows = rows?;
                tx.execute(
                    "INSERT INTO flick_durable_executions (arn, function, name, function_arn, \
                     input, start_ms, timeout_s, retention_days, secret, head) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    &[
                        &e.arn,
                        &e.function,
                        &e.name,
                        &e.function_arn,
                        &e.input,
                        &e.start_ms,
                        &(e.timeout_s as i64),
                        &(e.retention_days as i64),
                        &e.secret,
                        &rows.head,
                    ],
                )
                .await?;
                write(tx, &rows).await
            })
        })
    }

    fn save(&self, exec: &Execution, changes: &Changes) -> StoreFuture<'_, ()> {
        let rows = rows(exec, changes);
        self.fenced(OPERATION_LIMIT, move |tx| {
            Box::pin(async move { write(tx, &rows?).await })
        })
    }

    fn delete(&self, arn: &str) -> StoreFuture<'_, ()> {
        let arn = arn.to_string();
        self.fenced(OPERATION_LIMIT, move |tx| {
            Box::pin(async move {
                // Its operations and events go with it (ON DELETE CASCADE).
                tx.execute(
                    "DELETE FROM flick_durable_executions WHERE arn = $1",
                    &[&arn],
                )
                .await?;
                Ok(())
            })
        })
    }
}

impl HeadRow for tokio_postgres::Row {
    fn text(&self, column: usize) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: usize) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// Every execution, with its operations and its events in order.
async fn load_all(tx: &Transaction<'_>) -> Result<Vec<Execution>, StoreError> {
    // The connection's statement limit (15 s) is shorter than some loads.
    let limit_ms = LOAD_LIMIT.as_millis().to_string();
    tx.execute(
        "SELECT set_config('statement_timeout', $1, true)",
        &[&limit_ms],
    )
    .await?;
    let mut ops: HashMap<String, Vec<String>> = HashMap::new();
    for row in tx
        .query("SELECT arn, record FROM flick_durable_operations", &[])
        .await?
    {
        ops.entry(row.try_get(0)?)
            .or_default()
            .push(row.try_get(1)?);
    }
    let mut events: HashMap<String, Vec<String>> = HashMap::new();
    for row in tx
        .query(
            "SELECT arn, event FROM flick_durable_events ORDER BY arn, event_id",
            &[],
        )
        .await?
    {
        events
            .entry(row.try_get(0)?)
            .or_default()
            .push(row.try_get(1)?);
    }
    let heads = tx
        .query(
            &format!("SELECT {HEAD_COLUMNS} FROM flick_durable_executions ORDER BY start_ms"),
            &[],
        )
        .await?;
    let mut out = Vec::with_capacity(heads.len());
    for row in heads {
        let stored = StoredHead::read(&row)?;
        let arn = stored.meta.arn.clone();
        let ops = ops.remove(&arn).unwrap_or_default();
        let events = events.remove(&arn).unwrap_or_default();
        out.extend(stored.restore(&ops, &events));
    }
    Ok(out)
}
