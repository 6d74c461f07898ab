//! `flick queue` against a PostgreSQL store: the same three commands as on
//! the embedded file, run on the database beside any number of hosts. It
//! never creates tables (a mistyped URL must not set up a queue). A
//! re-drive commits the events with their depth, then notifies, so a
//! running host delivers them at once.

use std::collections::BTreeMap;

use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

use super::rows::{add_depths, notify};
use crate::manifest::store_url;
use crate::queue::admin::{DeadLetter, Depth, QueueAdmin};
use crate::queue::{now_ms, StoreError};

pub struct PgAdmin {
    runtime: Runtime,
    client: Client,
}

impl PgAdmin {
    /// Connects to the database at `url`; it must hold a host's tables.
    pub fn connect(url: &str) -> Result<PgAdmin, StoreError> {
        let config = store_url::parse(url).map_err(StoreError::Database)?;
        let config = super::connect::settings(&config, "flick queue", false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let client = runtime.block_on(async {
            let (client, connection) = config.connect(NoTls).await.map_err(|e| {
                StoreError::Database(format!(
                    "cannot connect to {}: {e}",
                    store_url::describe(&config)
                ))
            })?;
            tokio::spawn(connection);
            Ok::<_, StoreError>(client)
        })?;
        runtime.block_on(super::schema::check(&client))?;
        Ok(PgAdmin { runtime, client })
    }
}

impl QueueAdmin for PgAdmin {
    fn depths(&self) -> Result<Vec<Depth>, StoreError> {
        let rows = self.runtime.block_on(self.client.query(
            "SELECT function, sum(pending)::bigint, sum(in_flight)::bigint, sum(dead)::bigint FROM ( \
               SELECT function, (coalesce(lease_until_ms, 0) <= $1)::int AS pending, \
                      (coalesce(lease_until_ms, 0) > $1)::int AS in_flight, 0 AS dead \
               FROM flick_events \
               UNION ALL SELECT function, 0, 0, 1 FROM flick_dead_letters) AS counts \
             GROUP BY function ORDER BY function",
            &[&now_ms()],
        ))?;
        let count = |row: &tokio_postgres::Row, i| -> Result<u64, StoreError> {
            Ok(row.try_get::<_, i64>(i)?.max(0) as u64)
        };
        rows.iter()
            .map(|row| {
                Ok(Depth {
                    function: row.try_get(0)?,
                    pending: count(row, 1)?,
                    in_flight: count(row, 2)?,
                    dead_letters: count(row, 3)?,
                })
            })
            .collect()
    }

    fn dead_letters(&self, function: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = self.runtime.block_on(self.client.query(
            "SELECT id, accepted_ms, failed_ms, condition, invokes, record \
             FROM flick_dead_letters WHERE function = $1 ORDER BY failed_ms, id",
            &[&function],
        ))?;
        rows.iter()
            .map(|row| {
                Ok(DeadLetter {
                    id: row.try_get(0)?,
                    accepted_ms: row.try_get(1)?,
                    failed_ms: row.try_get(2)?,
                    condition: row.try_get(3)?,
                    invokes: row.try_get::<_, i32>(4)?.max(0) as u32,
                    record: row.try_get(5)?,
                })
            })
            .collect()
    }

    fn redrive(&mut self, function: &str, id: Option<&str>) -> Result<usize, StoreError> {
        self.runtime.block_on(async {
            let tx = self.client.transaction().await?;
            let now = now_ms();
            let moved = tx
                .execute(
                    "WITH moved AS (DELETE FROM flick_dead_letters \
                                    WHERE function = $1 AND ($2::text IS NULL OR id = $2) \
                                    RETURNING *) \
                     INSERT INTO flick_events (id, function, payload, client_context, tenant_id, \
                                               accepted_ms, not_before_ms) \
                     SELECT id, function, payload, client_context, tenant_id, $3, $3 \
                     FROM moved ORDER BY failed_ms",
                    &[&function, &id, &now],
                )
                .await?;
            add_depths(&tx, &BTreeMap::from([(function.to_string(), moved as i64)])).await?;
            tx.commit().await?;
            notify(&self.client, &[function]).await;
            Ok(moved as usize)
        })
    }
}
