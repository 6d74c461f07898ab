//! How a delivery ends in the shared tables: deleted (with its destination
//! event and, when given up, its dead letter), put back for a retry, or
//! released at shutdown.
//!
//! Every statement names the claim it ends (this host's name and the
//! lease's end, unique per claim): a claim that ran out and was taken over
//! (by another host, or by this one again) is left alone. Settlements commit
//! without waiting for the disk (see `connect`): one lost in a database
//! crash means one more delivery, which at least once allows.

use std::collections::BTreeMap;

use tokio_postgres::Transaction;

use super::rows::{add_depths, insert_events, notify};
use super::PgStore;
use crate::queue::{NewEvent, QueuedEvent, Settlement, StoreError};

/// What a given-up event leaves in `flick_dead_letters`.
struct DeadLetter<'a> {
    invokes: i32,
    condition: &'a str,
    record: String,
}

impl PgStore {
    /// Settles `event`'s claim `token` once; returns the function of a
    /// destination event it queued.
    pub(super) async fn settle_once(
        &self,
        event: &QueuedEvent,
        settlement: &Settlement,
        token: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut client = self.settle_pool.get().await.map_err(super::pool_error)?;
        let claim = (event.seq, self.owner.as_str(), token);
        if let Settlement::Done { follow_up: None } = settlement {
            // The common end, in one statement, so the depth row is locked
            // only for it.
            let removed = client
                .execute(
                    "WITH gone AS (DELETE FROM flick_events \
                                   WHERE seq = $1 AND lease_owner = $2 AND lease_until_ms = $3 \
                                   RETURNING function) \
                     UPDATE flick_depth SET queued = queued - 1 \
                     WHERE function IN (SELECT function FROM gone)",
                    &[&claim.0, &claim.1, &claim.2],
                )
                .await?;
            if removed == 0 {
                lease_lost(event);
            }
            return Ok(None);
        }
        let tx = client.transaction().await?;
        let follow_up = match settlement {
            Settlement::Abandon => {
                // Left for the next host at once, instead of after the lease.
                release(&tx, claim, None).await?;
                None
            }
            Settlement::Retry {
                counters,
                not_before_ms,
            } => {
                let counts = [
                    counters.invokes,
                    counters.function_errors,
                    counters.throttles,
                ]
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
                release(&tx, claim, Some((*not_before_ms, counts))).await?;
                None
            }
            Settlement::Done { follow_up } => finish(&tx, claim, event, None, follow_up).await?,
            Settlement::DeadLetter {
                counters,
                condition,
                record,
                follow_up,
            } => {
                let dead = DeadLetter {
                    invokes: i32::try_from(counters.invokes).unwrap_or(i32::MAX),
                    condition,
                    record: String::from_utf8_lossy(record).into_owned(),
                };
                finish(&tx, claim, event, Some(dead), follow_up).await?
            }
        };
        tx.commit().await?;
        if let Some(function) = &follow_up {
            notify(&client, &[function.as_str()]).await;
        }
        Ok(follow_up)
    }
}

type ClaimKey<'a> = (i64, &'a str, i64);

/// Frees the claim; with a retry time and counters, for a later attempt.
async fn release(
    tx: &Transaction<'_>,
    (seq, owner, token): ClaimKey<'_>,
    retry: Option<(i64, [i32; 3])>,
) -> Result<(), StoreError> {
    let released = match retry {
        None => {
            tx.execute(
                "UPDATE flick_events SET lease_owner = NULL, lease_until_ms = NULL \
                 WHERE seq = $1 AND lease_owner = $2 AND lease_until_ms = $3",
                &[&seq, &owner, &token],
            )
            .await?
        }
        Some((not_before_ms, [invokes, errors, throttles])) => {
            tx.execute(
                "UPDATE flick_events SET lease_owner = NULL, lease_until_ms = NULL, \
                 not_before_ms = $4, invokes = $5, function_errors = $6, throttles = $7 \
                 WHERE seq = $1 AND lease_owner = $2 AND lease_until_ms = $3",
                &[
                    &seq,
                    &owner,
                    &token,
                    &not_before_ms,
                    &invokes,
                    &errors,
                    &throttles,
                ],
            )
            .await?
        }
    };
    if released == 0 {
        tracing::warn!("queue: event {seq} was taken over before its delivery ended");
    }
    Ok(())
}

/// Removes a delivered or given-up event this claim still holds, with its
/// dead letter and destination event; returns the destination's function.
async fn finish(
    tx: &Transaction<'_>,
    (seq, owner, token): ClaimKey<'_>,
    event: &QueuedEvent,
    dead: Option<DeadLetter<'_>>,
    follow_up: &Option<NewEvent>,
) -> Result<Option<String>, StoreError> {
    let removed = tx
        .execute(
            "DELETE FROM flick_events WHERE seq = $1 AND lease_owner = $2 AND lease_until_ms = $3",
            &[&seq, &owner, &token],
        )
        .await?;
    if removed == 0 {
        lease_lost(event);
        return Ok(None);
    }
    let e = &event.event;
    if let Some(dead) = dead {
        tx.execute(
            "INSERT INTO flick_dead_letters (id, function, payload, client_context, tenant_id, \
             accepted_ms, failed_ms, condition, invokes, record) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET function = $2, payload = $3, client_context = $4, \
             tenant_id = $5, accepted_ms = $6, failed_ms = $7, condition = $8, invokes = $9, \
             record = $10",
            &[
                &e.id,
                &e.function,
                &&e.payload[..],
                &e.client_context,
                &e.tenant_id,
                &e.accepted_ms,
                &crate::queue::now_ms(),
                &dead.condition,
                &dead.invokes,
                &dead.record,
            ],
        )
        .await?;
    }
    let mut deltas = BTreeMap::from([(e.function.clone(), -1)]);
    if let Some(f) = follow_up {
        *deltas.entry(f.function.clone()).or_default() += 1;
        insert_events(tx, &[f]).await?;
    }
    add_depths(tx, &deltas).await?;
    Ok(follow_up.as_ref().map(|f| f.function.clone()))
}

fn lease_lost(event: &QueuedEvent) {
    tracing::warn!(
        "queue: the lease on {} ran out before its delivery ended; the claim that took it over settles it",
        event.event.id
    );
}
