//! The queue in PostgreSQL, shared by every host on one database
//! (`[server] store = "postgres://…"`): hosts keep no queue state of their
//! own, so any of them may take an `Event` invocation and any may deliver
//! it, and a host that dies loses nothing.
//!
//! - **Acceptance** is committed before the 202, in groups ([`accept`]).
//! - **Delivery** is claimed with a row lease: `FOR UPDATE SKIP LOCKED`
//!   picks the oldest due event no one holds and stamps it with this host's
//!   run and a lease end, on the database's clock, that outlives the
//!   function's longest delivery (its timeout, three cold starts for the
//!   three sandboxes a delivery may be offered to, and a margin). A host
//!   that dies mid-delivery leaves its leases to run out; then another host
//!   delivers those events again (at least once, as Lambda). A host that
//!   starts again under the same name (`hostname:listen`) takes back the
//!   leases of its earlier runs at once.
//! - **Settling** ([`settle`]) acts only on the claim it ends: a claim that
//!   ran out and was taken over is left to its new holder.
//! - **Waking**: hosts are told of each other's new events ([`listen`]); a
//!   dispatcher with nothing due asks again at least every few seconds, for
//!   leases that ran out.
//! - **Failures**: every operation has a time limit ([`connect`]), so an
//!   unreachable database means 5xx answers and waiting deliveries, not
//!   hung requests; a settlement that fails is tried again for a while.
//!
//! The tables and their version are in [`schema`], shared statements in
//! [`rows`], `flick queue` against the database in [`admin`].

mod accept;
pub mod admin;
pub(crate) mod connect;
mod listen;
mod rows;
mod schema;
mod settle;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_postgres::{Config, NoTls};

use super::wakes::Wakes;
use super::{Claim, NewEvent, QueueStore, QueuedEvent, Settlement, StoreError, StoreFuture};
use connect::within;
use rows::{queued_event, EVENT_COLUMNS};

/// Most acceptances committed together, and most payload bytes.
const MAX_BATCH: usize = 1024;
const MAX_BATCH_BYTES: usize = 16 << 20;

/// Longest a dispatcher with nothing due waits before asking again.
const POLL_MS: i64 = 5_000;

/// A lease covers the function's timeout, three inits (a delivery whose
/// sandbox dies before taking it is offered to another, up to three), and
/// this margin for the claim, the settlement and the clocks.
const LEASE_MARGIN_MS: i64 = 15_000;

/// Longest an acceptance group, a claim or a settlement may take.
const OPERATION_LIMIT: Duration = Duration::from_secs(20);

/// How often a failed settlement is tried, a second apart.
const SETTLE_ATTEMPTS: u32 = 10;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Database(format!("no database connection: {e}"))
}

/// The queue in a PostgreSQL database that several hosts share.
pub struct PgStore {
    /// Acceptances and claims: committed durably.
    pool: Pool,
    /// Settlements: committed without waiting for the disk.
    settle_pool: Pool,
    /// This run of this host, as its leases name it: `hostname:listen#run`.
    owner: String,
    /// Lease length per function, ms.
    leases: HashMap<String, i64>,
    /// The lease end of every claim under way, by event: it names the claim.
    claims: Mutex<HashMap<i64, i64>>,
    wakes: Arc<Wakes>,
    /// Taken by `close`, so the acceptance task drains and ends.
    acceptances: Mutex<Option<mpsc::Sender<accept::Acceptance>>>,
    accepting: Mutex<Option<JoinHandle<()>>>,
    listening: JoinHandle<()>,
}

impl PgStore {
    /// Connects, creates or checks the tables, takes back the leases of this
    /// host's earlier runs (`host` is `hostname:listen`; call this once the
    /// host holds its address, so that a second copy that cannot bind takes
    /// nothing), and starts the acceptance and notification tasks.
    /// `timeouts` are the functions' timeouts.
    pub async fn open(
        config: Config,
        host: &str,
        timeouts: HashMap<String, Duration>,
    ) -> Result<PgStore, StoreError> {
        let owner = format!("{host}#{:016x}", fastrand::u64(..));
        let durable = connect::settings(&config, host, false);
        let (mut client, connection) = durable.connect(NoTls).await?;
        let setup = tokio::spawn(connection);
        schema::prepare(&mut client).await?;
        let taken_back = client
            .execute(
                "UPDATE flick_events SET lease_owner = NULL, lease_until_ms = NULL \
                 WHERE split_part(lease_owner, '#', 1) = $1",
                &[&host],
            )
            .await?;
        if taken_back > 0 {
            tracing::info!(
                "queue: {taken_back} events an earlier run of this host had in flight will be delivered again"
            );
        }
        drop(client);
        let _ = setup.await;

        let pool = connect::pool(durable.clone())?;
        let settle_pool = connect::pool(connect::settings(&config, host, true))?;
        let wakes = Arc::new(Wakes::default());
        let (acceptances, waiting) = mpsc::channel(MAX_BATCH * 4);
        let limits = accept::Limits {
            events: MAX_BATCH,
            bytes: MAX_BATCH_BYTES,
            time: OPERATION_LIMIT,
        };
        let accepting = tokio::spawn(accept::run(pool.clone(), wakes.clone(), waiting, limits));
        let listening = tokio::spawn(listen::run(durable, wakes.clone()));
        let init = crate::sandbox::INIT_LIMIT.as_millis() as i64;
        let leases = timeouts
            .into_iter()
            .map(|(function, timeout)| {
                let lease = timeout.as_millis() as i64 + 3 * init + LEASE_MARGIN_MS;
                (function, lease)
            })
            .collect();
        Ok(PgStore {
            pool,
            settle_pool,
            owner,
            leases,
            claims: Mutex::default(),
            wakes,
            acceptances: Mutex::new(Some(acceptances)),
            accepting: Mutex::new(Some(accepting)),
            listening,
        })
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<i64, i64>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn claim_at(&self, function: &str, now_ms: i64) -> Result<Claim, StoreError> {
        // A function the manifest does not name has no sandbox to wait for.
        let lease = self
            .leases
            .get(function)
            .copied()
            .unwrap_or(LEASE_MARGIN_MS);
        let client = self.pool.get().await.map_err(pool_error)?;
        // Leases run on the database's clock, which every host shares; retry
        // times on the host's, which set them.
        let claimed = client
            .query_opt(
                &format!(
                    "UPDATE flick_events SET lease_owner = $3, lease_until_ms = {DB_NOW_MS} + $4 \
                     WHERE seq = (SELECT seq FROM flick_events \
                                  WHERE function = $1 AND not_before_ms <= $2 \
                                    AND (lease_until_ms IS NULL OR lease_until_ms <= {DB_NOW_MS}) \
                                  ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     RETURNING lease_until_ms, {EVENT_COLUMNS}"
                ),
                &[&function, &now_ms, &self.owner, &lease],
            )
            .await?;
        if let Some(row) = claimed {
            let event = queued_event(&row, 1)?;
            self.claims().insert(event.seq, row.try_get(0)?);
            return Ok(Claim::Event(event));
        }
        // The next time something may be due: a retry's time or a lease's end.
        let next: Option<i64> = client
            .query_one(
                "SELECT min(greatest(not_before_ms, coalesce(lease_until_ms, 0))) \
                 FROM flick_events WHERE function = $1",
                &[&function],
            )
            .await?
            .try_get(0)?;
        // Not sooner than 10 ms: an event skipped because another host was
        // claiming it is the other host's in a moment.
        let until = next
            .unwrap_or(i64::MAX)
            .clamp(now_ms + 10, now_ms + POLL_MS);
        Ok(Claim::Wait {
            until_ms: Some(until),
        })
    }

    /// Settles, trying again for a while when the database fails: a
    /// delivery whose end is not recorded is delivered again once its
    /// lease runs out.
    async fn settle_claim(
        &self,
        event: QueuedEvent,
        settlement: Settlement,
    ) -> Result<(), StoreError> {
        let Some(token) = self.claims().remove(&event.seq) else {
            return Err(StoreError::Database(format!(
                "event {} was not claimed here",
                event.event.id
            )));
        };
        let mut attempt = 1;
        loop {
            match within(
                OPERATION_LIMIT,
                self.settle_once(&event, &settlement, token),
            )
            .await
            {
                Ok(follow_up) => {
                    if let Some(function) = follow_up {
                        self.wakes.wake(&function);
                    }
                    return Ok(());
                }
                Err(e) if attempt < SETTLE_ATTEMPTS => {
                    tracing::warn!(
                        "queue: cannot record the end of {} ({e}); trying again",
                        event.event.id
                    );
                    attempt += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Now on the database's clock, in epoch ms (the statement's start).
const DB_NOW_MS: &str = "(extract(epoch from statement_timestamp()) * 1000)::bigint";

impl QueueStore for PgStore {
    fn enqueue(&self, event: NewEvent, limit: usize) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let acceptance = accept::Acceptance {
                event,
                limit,
                reply,
            };
            let sender = self
                .acceptances
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let Some(sender) = sender else {
                return Err(StoreError::Closed);
            };
            if sender.send(acceptance).await.is_err() {
                return Err(StoreError::Closed);
            }
            answer.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    fn claim(&self, function: &str, now_ms: i64) -> StoreFuture<'_, Claim> {
        let function = function.to_string();
        Box::pin(within(OPERATION_LIMIT, async move {
            self.claim_at(&function, now_ms).await
        }))
    }

    fn settle(&self, event: QueuedEvent, settlement: Settlement) -> StoreFuture<'_, ()> {
        Box::pin(self.settle_claim(event, settlement))
    }

    fn wake(&self, function: &str) -> Arc<Notify> {
        self.wakes.get(function)
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            // No new acceptances; those sent are committed (or refused)
            // before the task ends.
            drop(
                self.acceptances
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take(),
            );
            let accepting = self
                .accepting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(task) = accepting {
                let _ = tokio::time::timeout(OPERATION_LIMIT, task).await;
            }
            self.listening.abort();
            self.pool.close();
            self.settle_pool.close();
            Ok(())
        })
    }
}
