//! The embedded store's writer thread: the only writer of the database.
//!
//! It takes every command waiting in its channel (at most `max_batch`
//! acceptances), applies them in one transaction, commits (one fsync for the
//! group) and only then answers the callers and updates the in-memory index.
//! Between batches it looks for events re-driven by `flick queue redrive`.
//!
//! Before each commit it checks that the database file is still the one it
//! opened: a file deleted under a running host would take every commit into
//! a file nobody will read again. The open connection can still read it, so
//! the writer writes it back to its path and carries on with the copy; if
//! that cannot be done (the folder is gone, another file took the name),
//! each commit fails, loudly, and no event is accepted on the strength of it.

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Row};
use tokio::sync::oneshot;

use super::{Shared, EVENT_COLUMNS};
use crate::queue::{Counters, NewEvent, QueuedEvent, Settlement, StoreError};

/// Most commands of any kind in one transaction.
pub(super) const MAX_COMMANDS: usize = 8192;

/// How often the writer looks for events re-driven by another process.
const REDRIVE_POLL: Duration = Duration::from_millis(500);

pub(super) enum Command {
    Insert {
        event: NewEvent,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Claimed {
        seq: i64,
    },
    Settle {
        event: QueuedEvent,
        settlement: Box<Settlement>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

pub(super) struct Writer {
    pub(super) conn: Connection,
    /// The file `conn` was opened on, to notice it was deleted or replaced.
    pub(super) file: FileIdentity,
    pub(super) shared: Arc<Shared>,
    pub(super) max_batch: usize,
}

/// A file by its path and identity (device and inode).
pub(super) struct FileIdentity {
    path: std::path::PathBuf,
    id: (u64, u64),
}

impl FileIdentity {
    pub(super) fn of(path: &std::path::Path) -> std::io::Result<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
        })
    }

    /// Why the path no longer names the file, if it does not.
    fn lost(&self) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) == self.id => None,
            Ok(_) => Some(format!(
                "{} was replaced by another file",
                self.path.display()
            )),
            Err(e) => Some(format!("{} is gone ({e})", self.path.display())),
        }
    }
}

/// What a committed command leaves to do in memory.
type Applied = Option<i64>;

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<Command>) {
        let mut last_poll = Instant::now();
        // An acceptance beyond `max_batch`, kept for the next transaction.
        let mut carried = None;
        loop {
            let first = match carried
                .take()
                .map(Ok)
                .unwrap_or_else(|| rx.recv_timeout(REDRIVE_POLL))
            {
                Ok(command) => command,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.poll_redriven();
                    last_poll = Instant::now();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut inserts = usize::from(matches!(first, Command::Insert { .. }));
            let mut batch = vec![first];
            while batch.len() < MAX_COMMANDS {
                let Ok(command) = rx.try_recv() else { break };
                if let Command::Insert { .. } = command {
                    if inserts == self.max_batch {
                        carried = Some(command);
                        break;
                    }
                    inserts += 1;
                }
                batch.push(command);
            }
            let close_at = batch
                .iter()
                .position(|c| matches!(c, Command::Close { .. }));
            let close = close_at.map(|at| {
                let rest = batch.split_off(at);
                rest.into_iter().next()
            });
            self.commit_batch(batch);
            if let Some(Some(Command::Close { reply })) = close {
                let _ = reply.send(());
                return;
            }
            if last_poll.elapsed() >= REDRIVE_POLL {
                self.poll_redriven();
                last_poll = Instant::now();
            }
        }
    }

    /// Commits the batch in one transaction; if that fails, each command on
    /// its own, so one bad command does not fail the others.
    fn commit_batch(&mut self, batch: Vec<Command>) {
        if batch.is_empty() {
            return;
        }
        match self.commit(&batch) {
            Ok(applied) => {
                for (command, applied) in batch.into_iter().zip(applied) {
                    self.after_commit(command, Ok(applied));
                }
            }
            Err(e) if batch.len() == 1 => {
                let command = batch.into_iter().next().expect("one command");
                self.after_commit(command, Err(e));
            }
            Err(e) => {
                tracing::warn!("queue: a group commit failed ({e}); committing one by one");
                for command in batch {
                    let result = self
                        .commit(std::slice::from_ref(&command))
                        .map(|mut a| a.pop().flatten());
                    self.after_commit(command, result);
                }
            }
        }
    }

    fn commit(&mut self, batch: &[Command]) -> Result<Vec<Applied>, StoreError> {
        self.keep_file()?;
        let tx = self.conn.transaction()?;
        let mut applied = Vec::with_capacity(batch.len());
        for command in batch {
            applied.push(apply(&tx, command)?);
        }
        tx.commit()?;
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        Ok(applied)
    }

    /// Makes sure commits go to the file at the database's path.
    fn keep_file(&mut self) -> Result<(), StoreError> {
        let Some(why) = self.file.lost() else {
            return Ok(());
        };
        tracing::error!("queue: {why} under the running host");
        match self.restore() {
            Ok(()) => {
                tracing::error!(
                    "queue: wrote the open database back to {}; nothing accepted was lost",
                    self.file.path.display()
                );
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    "queue: cannot write the database back ({e}): Event invocations are refused \
                     until the host is restarted; events accepted so far are only in its memory"
                );
                Err(StoreError::Database(format!("the queue's database {why}")))
            }
        }
    }

    /// Writes the database the connection still holds back to its path, and
    /// goes on with that copy.
    fn restore(&mut self) -> Result<(), StoreError> {
        if self.file.path.exists() {
            return Err(StoreError::Database(
                "another file has taken its name".into(),
            ));
        }
        // What the write-ahead log holds goes into the database first, so
        // that the copy is whole and the old log is empty.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let path = self.file.path.to_string_lossy().into_owned();
        self.conn.execute("VACUUM INTO ?1", [&path])?;
        // Closed before the copy is opened: closing removes the log files
        // named after the path, which must not be the copy's.
        drop(std::mem::replace(
            &mut self.conn,
            Connection::open_in_memory()?,
        ));
        self.conn = super::connect(&self.file.path)?;
        self.file =
            FileIdentity::of(&self.file.path).map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(())
    }

    fn after_commit(&self, command: Command, result: Result<Applied, StoreError>) {
        match command {
            Command::Insert { event, reply } => {
                match result {
                    Ok(Some(seq)) => self.shared.enter(fresh(seq, event), true),
                    Ok(None) => unreachable!("an insert always has a sequence number"),
                    Err(_) => self.shared.ready().unreserve(&event.function),
                }
                let _ = reply.send(result.map(|_| ()));
            }
            Command::Claimed { .. } => {
                if let Err(e) = result {
                    tracing::warn!("queue: cannot mark an event in flight: {e}");
                }
            }
            Command::Settle {
                event,
                settlement,
                reply,
            } => {
                self.shared.ready().finish(&event.event.function);
                if let Err(e) = &result {
                    tracing::warn!("queue: cannot record the end of {}: {e}", event.event.id);
                }
                match *settlement {
                    // Even when the update failed: the event is still owed.
                    Settlement::Retry {
                        counters,
                        not_before_ms,
                    } => self.shared.enter(
                        QueuedEvent {
                            counters,
                            not_before_ms,
                            ..event
                        },
                        false,
                    ),
                    Settlement::Done {
                        follow_up: Some(follow_up),
                    }
                    | Settlement::DeadLetter {
                        follow_up: Some(follow_up),
                        ..
                    } => {
                        if let Ok(Some(seq)) = result {
                            self.shared.enter(fresh(seq, follow_up), false);
                        }
                    }
                    _ => {}
                }
                let _ = reply.send(result.map(|_| ()));
            }
            Command::Close { .. } => unreachable!("split off before committing"),
        }
    }

    /// Takes in the events `flick queue redrive` marked from another process.
    fn poll_redriven(&mut self) {
        let found = (|| -> rusqlite::Result<Vec<QueuedEvent>> {
            let tx = self.conn.transaction()?;
            let events = {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE state = 'redriven' ORDER BY seq"
                ))?;
                let rows = stmt.query_map([], queued_event)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            if !events.is_empty() {
                tx.execute(
                    "UPDATE events SET state = 'pending' WHERE state = 'redriven'",
                    [],
                )?;
                tx.commit()?;
            }
            Ok(events)
        })();
        match found {
            Ok(events) => {
                for event in events {
                    tracing::info!(
                        "queue: re-driven event {} of {}",
                        event.event.id,
                        event.event.function
                    );
                    self.shared.enter(event, false);
                }
            }
            Err(e) => tracing::warn!("queue: cannot look for re-driven events: {e}"),
        }
    }
}

fn fresh(seq: i64, event: NewEvent) -> QueuedEvent {
    QueuedEvent {
        seq,
        not_before_ms: event.accepted_ms,
        event,
        counters: Counters::default(),
    }
}

fn insert(tx: &rusqlite::Transaction<'_>, event: &NewEvent) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO events (id, function, payload, client_context, accepted_ms, not_before_ms, \
         tenant_id, trace) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
    )?
    .execute(params![
        event.id,
        event.function,
        &event.payload[..],
        event.client_context,
        event.accepted_ms,
        event.tenant_id,
        event.trace
    ])?;
    Ok(tx.last_insert_rowid())
}

fn apply(tx: &rusqlite::Transaction<'_>, command: &Command) -> rusqlite::Result<Applied> {
    match command {
        Command::Insert { event, .. } => insert(tx, event).map(Some),
        Command::Claimed { seq } => {
            tx.prepare_cached("UPDATE events SET state = 'in_flight' WHERE seq = ?1")?
                .execute([seq])?;
            Ok(None)
        }
        Command::Settle {
            event, settlement, ..
        } => match &**settlement {
            Settlement::Retry {
                counters,
                not_before_ms,
            } => {
                tx.prepare_cached(
                    "UPDATE events SET state = 'pending', not_before_ms = ?2, invokes = ?3, \
                     function_errors = ?4, throttles = ?5 WHERE seq = ?1",
                )?
                .execute(params![
                    event.seq,
                    not_before_ms,
                    counters.invokes,
                    counters.function_errors,
                    counters.throttles
                ])?;
                Ok(None)
            }
            Settlement::Done { follow_up } => {
                delete(tx, event.seq)?;
                follow_up.as_ref().map(|f| insert(tx, f)).transpose()
            }
            Settlement::DeadLetter {
                counters,
                condition,
                record,
                follow_up,
            } => {
                let e = &event.event;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO dead_letters (id, function, payload, client_context, \
                     accepted_ms, failed_ms, condition, invokes, record, tenant_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    e.id,
                    e.function,
                    &e.payload[..],
                    e.client_context,
                    e.accepted_ms,
                    crate::queue::now_ms(),
                    condition,
                    counters.invokes,
                    String::from_utf8_lossy(record),
                    e.tenant_id
                ])?;
                delete(tx, event.seq)?;
                follow_up.as_ref().map(|f| insert(tx, f)).transpose()
            }
            Settlement::Abandon => Ok(None),
        },
        Command::Close { .. } => Ok(None),
    }
}

fn delete(tx: &rusqlite::Transaction<'_>, seq: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM events WHERE seq = ?1")?
        .execute([seq])?;
    Ok(())
}

/// A row of `events` in [`EVENT_COLUMNS`] order.
pub(super) fn queued_event(row: &Row<'_>) -> rusqlite::Result<QueuedEvent> {
    Ok(QueuedEvent {
        seq: row.get(0)?,
        event: NewEvent {
            id: row.get(1)?,
            function: row.get(2)?,
            payload: row.get::<_, Vec<u8>>(3)?.into(),
            client_context: row.get(4)?,
            accepted_ms: row.get(5)?,
            tenant_id: row.get(10)?,
            trace: row.get(11)?,
        },
        not_before_ms: row.get(6)?,
        counters: Counters {
            invokes: row.get(7)?,
            function_errors: row.get(8)?,
            throttles: row.get(9)?,
        },
    })
}
