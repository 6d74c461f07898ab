//! Acceptances, committed in groups: one task takes every acceptance
//! waiting (up to a count and a size), inserts them in one statement,
//! reserves each function's room under its depth row's lock (exact across
//! hosts), takes out what found none, and commits once; only then does each
//! caller hear, so no 202 goes out for an event that is not committed. A
//! group that fails, or does not finish in time, fails whole: its callers
//! answer 5xx (a group whose commit reached the database just before the
//! limit may then be kept: a client's retry is a duplicate, never a loss).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::connect::within;
use super::rows::{insert_events, notify};
use crate::queue::wakes::Wakes;
use crate::queue::{NewEvent, StoreError};

pub(super) struct Acceptance {
    pub(super) event: NewEvent,
    /// The function's `max_queued`.
    pub(super) limit: usize,
    pub(super) reply: oneshot::Sender<Result<(), StoreError>>,
}

/// How big a group may grow, and how long its commit may take. The size
/// keeps a group of 1 MB events far below what one statement may carry.
pub(super) struct Limits {
    pub(super) events: usize,
    pub(super) bytes: usize,
    pub(super) time: Duration,
}

/// Serves acceptances until every sender is gone and the last is answered.
pub(super) async fn run(
    pool: Pool,
    wakes: Arc<Wakes>,
    mut waiting: mpsc::Receiver<Acceptance>,
    limits: Limits,
) {
    let mut carried = None;
    loop {
        let first = match carried.take() {
            Some(acceptance) => acceptance,
            None => match waiting.recv().await {
                Some(acceptance) => acceptance,
                None => return,
            },
        };
        let mut bytes = first.event.payload.len();
        let mut group = vec![first];
        while group.len() < limits.events {
            let Ok(next) = waiting.try_recv() else { break };
            bytes += next.event.payload.len();
            if bytes > limits.bytes {
                carried = Some(next);
                break;
            }
            group.push(next);
        }
        let answers = match within(limits.time, commit(&pool, &group)).await {
            Ok(answers) => answers,
            Err(e) => {
                tracing::warn!("queue: cannot commit {} acceptances: {e}", group.len());
                vec![Err(e); group.len()]
            }
        };
        let mut accepted = Vec::new();
        for (acceptance, answer) in group.into_iter().zip(answers) {
            if answer.is_ok() {
                wakes.wake(&acceptance.event.function);
                accepted.push(acceptance.event.function);
            }
            let _ = acceptance.reply.send(answer);
        }
        // The answers first: the other hosts' hint may wait a round trip.
        if !accepted.is_empty() {
            if let Ok(client) = pool.get().await {
                let functions: Vec<&str> = accepted.iter().map(String::as_str).collect();
                notify(&client, &functions).await;
            }
        }
    }
}

/// One transaction for the group; an answer per acceptance, in order.
///
/// The events go in first and the depth rows are reserved last, so a row
/// is locked only for its one statement and the commit: hosts accepting
/// for the same function wait on each other that long, not for the whole
/// transaction. What finds no room is taken out again before the commit.
async fn commit(
    pool: &Pool,
    group: &[Acceptance],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut client = pool.get().await.map_err(super::pool_error)?;
    let tx = client.transaction().await?;
    let events: Vec<&NewEvent> = group.iter().map(|a| &a.event).collect();
    let seqs = insert_events(&tx, &events).await?;
    let mut by_function: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, acceptance) in group.iter().enumerate() {
        by_function
            .entry(&acceptance.event.function)
            .or_default()
            .push(i);
    }
    let mut answers: Vec<Result<(), StoreError>> = vec![Ok(()); group.len()];
    let mut refused = Vec::new();
    // In name order, as every transaction locks depth rows.
    for (function, indexes) in &by_function {
        let limit = group[indexes[0]].limit;
        let room = reserve(&tx, function, indexes.len(), limit).await?;
        for &i in indexes.iter().skip(room) {
            answers[i] = Err(StoreError::Full {
                function: function.to_string(),
                limit,
            });
            refused.push(seqs[i]);
        }
    }
    if !refused.is_empty() {
        tx.execute("DELETE FROM flick_events WHERE seq = ANY($1)", &[&refused])
            .await?;
    }
    tx.commit().await?;
    Ok(answers)
}

/// Adds up to `wanted` events to `function`'s depth without passing
/// `limit`, in one statement under the row's lock; returns how many fit.
async fn reserve(
    tx: &tokio_postgres::Transaction<'_>,
    function: &str,
    wanted: usize,
    limit: usize,
) -> Result<usize, StoreError> {
    let (wanted, limit) = (wanted as i64, limit as i64);
    for _ in 0..2 {
        // Both SET expressions read the row as it was: the reservation is
        // worked out and added in one statement under the row's lock.
        let reserved = tx
            .query_opt(
                "UPDATE flick_depth SET last_reserved = least($2, greatest($3 - queued, 0)), \
                                        queued = queued + least($2, greatest($3 - queued, 0)) \
                 WHERE function = $1 RETURNING last_reserved",
                &[&function, &wanted, &limit],
            )
            .await?;
        if let Some(row) = reserved {
            let reserved: i64 = row.try_get(0)?;
            return Ok(reserved.clamp(0, wanted) as usize);
        }
        // The function's first event ever: its row, then the reservation.
        tx.execute(
            "INSERT INTO flick_depth (function, queued) VALUES ($1, 0) ON CONFLICT DO NOTHING",
            &[&function],
        )
        .await?;
    }
    Err(StoreError::Database(format!("no depth row for {function}")))
}
