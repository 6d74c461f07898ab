//! The statements several parts of the PostgreSQL store share: adding
//! events (acceptances, destination events), keeping depths, telling the
//! other hosts, and reading an event row.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::{Client, Row, Transaction};

use crate::queue::{Counters, NewEvent, QueuedEvent, StoreError};

/// The channel hosts `LISTEN` on; the payload is the function's name.
pub(super) const CHANNEL: &str = "flick_queue";

/// The columns [`queued_event`] reads, in its order.
pub(super) const EVENT_COLUMNS: &str = "seq, id, function, payload, client_context, accepted_ms, \
                                        not_before_ms, invokes, function_errors, throttles, tenant_id, \
                                        trace";

/// Inserts `events` in one statement (the order of the slice is their
/// order in the queue); returns their sequence numbers, in the slice's
/// order. The depth and the notification are the caller's.
pub(super) async fn insert_events(
    tx: &Transaction<'_>,
    events: &[&NewEvent],
) -> Result<Vec<i64>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let column =
        |f: fn(&NewEvent) -> Option<String>| events.iter().map(|e| f(e)).collect::<Vec<_>>();
    let ids = column(|e| Some(e.id.clone()));
    let functions = column(|e| Some(e.function.clone()));
    let contexts = column(|e| e.client_context.clone());
    let tenants = column(|e| e.tenant_id.clone());
    let traces = column(|e| e.trace.clone());
    let payloads: Vec<&[u8]> = events.iter().map(|e| &e.payload[..]).collect();
    let accepted: Vec<i64> = events.iter().map(|e| e.accepted_ms).collect();
    let inserted = tx
        .query(
            "INSERT INTO flick_events (id, function, payload, client_context, tenant_id, \
                                       trace, accepted_ms, not_before_ms) \
             SELECT id, function, payload, context, tenant, trace, accepted, accepted \
             FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], \
                         $6::text[], $7::bigint[]) \
                  WITH ORDINALITY AS e(id, function, payload, context, tenant, trace, accepted, n) \
             ORDER BY n \
             RETURNING id, seq",
            &[
                &ids, &functions, &payloads, &contexts, &tenants, &traces, &accepted,
            ],
        )
        .await?;
    // RETURNING's order is not promised: the ids (unique) put them back in order.
    let by_id = inserted
        .iter()
        .map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, i64>(1)?)))
        .collect::<Result<HashMap<String, i64>, StoreError>>()?;
    let seqs = events
        .iter()
        .map(|e| by_id.get(&e.id).copied())
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| StoreError::Database("an inserted event came back without its id".into()))?;
    Ok(seqs)
}

/// Tells every host that `functions` have new events. Sent after the
/// commit, not in it: a notification is only a hint (a host that misses
/// one finds the events at its next poll), and one inside the transaction
/// would take the database's notification lock until the commit.
pub(super) async fn notify(client: &Client, functions: &[&str]) {
    let mut named = functions.to_vec();
    named.sort_unstable();
    named.dedup();
    let sent = client
        .execute(
            &format!("SELECT pg_notify('{CHANNEL}', f) FROM unnest($1::text[]) AS f"),
            &[&named],
        )
        .await;
    if let Err(e) = sent {
        tracing::debug!("queue: cannot notify the other hosts: {e}");
    }
}

/// Adds each delta to its function's depth. Rows are locked in name order,
/// by every transaction, so two hosts never wait on each other in a circle.
pub(super) async fn add_depths(
    tx: &Transaction<'_>,
    deltas: &BTreeMap<String, i64>,
) -> Result<(), StoreError> {
    for (function, delta) in deltas.iter().filter(|(_, d)| **d != 0) {
        tx.execute(
            "INSERT INTO flick_depth (function, queued) VALUES ($1, $2) \
             ON CONFLICT (function) DO UPDATE SET queued = flick_depth.queued + $2",
            &[function, delta],
        )
        .await?;
    }
    Ok(())
}

/// A row of `flick_events` whose [`EVENT_COLUMNS`] start at column `from`.
pub(super) fn queued_event(row: &Row, from: usize) -> Result<QueuedEvent, StoreError> {
    let count = |i: usize| -> Result<u32, StoreError> {
        let n: i32 = row.try_get(from + i)?;
        Ok(n.max(0) as u32)
    };
    let column = |i: usize| from + i;
    Ok(QueuedEvent {
        seq: row.try_get(column(0))?,
        event: NewEvent {
            id: row.try_get(column(1))?,
            function: row.try_get(column(2))?,
            payload: row.try_get::<_, Vec<u8>>(column(3))?.into(),
            client_context: row.try_get(column(4))?,
            accepted_ms: row.try_get(column(5))?,
            tenant_id: row.try_get(column(10))?,
            trace: row.try_get(column(11))?,
        },
        not_before_ms: row.try_get(column(6))?,
        counters: Counters {
            invokes: count(7)?,
            function_errors: count(8)?,
            throttles: count(9)?,
        },
    })
}
