//! The embedded queue store: SQLite in WAL mode in `state_dir/queue.db`,
//! written by one thread with group commit.
//!
//! Every change goes through a channel to the writer thread. It takes all
//! the commands waiting there (up to `max_batch`), applies them in one
//! transaction, commits with `synchronous=FULL` (one fsync of the WAL for the
//! whole group) and only then answers each command's caller, so no 202 is
//! sent for an event that is not on disk, while many concurrent acceptances
//! share one fsync. `max_batch = 1` (one acceptance per commit; delivery
//! bookkeeping still rides along) is the one-fsync-per-event baseline of the
//! benchmark. After a commit the writer updates the in-memory index
//! (`ready`) that `claim` reads and wakes the function's worker.
//!
//! At open, events left in flight by a host that died are made pending
//! again. Events re-driven by `flick queue redrive` (another process writing
//! the same file) are marked `redriven` and picked up by the writer's poll.
//! The schema is shared with [`super::admin`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Row};
use tokio::sync::{oneshot, Notify};

use super::ready::Ready;
use super::{
    Claim, Counters, NewEvent, QueueStore, QueuedEvent, Settlement, StoreError, StoreFuture,
};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    function TEXT NOT NULL,
    payload BLOB NOT NULL,
    client_context TEXT,
    accepted_ms INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL,
    invokes INTEGER NOT NULL DEFAULT 0,
    function_errors INTEGER NOT NULL DEFAULT 0,
    throttles INTEGER NOT NULL DEFAULT 0,
    -- pending | in_flight | redriven (written by `flick queue redrive`)
    state TEXT NOT NULL DEFAULT 'pending'
);
CREATE INDEX IF NOT EXISTS events_redriven ON events(state) WHERE state = 'redriven';
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    payload BLOB NOT NULL,
    client_context TEXT,
    accepted_ms INTEGER NOT NULL,
    failed_ms INTEGER NOT NULL,
    condition TEXT NOT NULL,
    invokes INTEGER NOT NULL,
    record TEXT NOT NULL
);
";

const EVENT_COLUMNS: &str = "seq, id, function, payload, client_context, accepted_ms, \
                             not_before_ms, invokes, function_errors, throttles";

/// Most commands of any kind in one transaction.
const MAX_COMMANDS: usize = 8192;

/// How often the writer looks for events re-driven by another process.
const REDRIVE_POLL: Duration = Duration::from_millis(500);

/// Opens a connection with the settings every user of the file shares.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Most acceptances committed together; 1 means one fsync per event.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: MAX_COMMANDS,
        }
    }
}

pub struct SqliteStore {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct Shared {
    ready: Mutex<Ready>,
    wakes: Mutex<HashMap<String, Arc<Notify>>>,
    /// Transactions committed by the writer (each one fsync).
    commits: AtomicU64,
}

impl Shared {
    fn ready(&self) -> MutexGuard<'_, Ready> {
        // Plain bookkeeping only happens under this lock.
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self, function: &str) -> Arc<Notify> {
        let mut wakes = self.wakes.lock().unwrap_or_else(|p| p.into_inner());
        wakes
            .entry(function.to_string())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    fn enter(&self, event: QueuedEvent, reserved: bool) {
        let function = event.event.function.clone();
        self.ready().insert(event, reserved);
        self.wake(&function).notify_one();
    }
}

enum Command {
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

impl SqliteStore {
    /// Opens (or creates) the queue at `path`, makes events left in flight
    /// pending again and starts the writer thread.
    pub fn open(path: &Path, options: StoreOptions) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("{}: {e}", dir.display())))?;
        }
        let conn = connect(path)?;
        let recovered = conn.execute(
            "UPDATE events SET state = 'pending' WHERE state != 'pending'",
            [],
        )?;
        if recovered > 0 {
            tracing::info!("queue: {recovered} events that were in flight will be delivered again");
        }
        let shared = Arc::new(Shared::default());
        let mut stmt = conn.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq"))?;
        let events = stmt.query_map([], queued_event)?;
        let mut count = 0;
        for event in events {
            shared.ready().insert(event?, false);
            count += 1;
        }
        drop(stmt);
        if count > 0 {
            tracing::info!("queue: {count} events waiting in {}", path.display());
        }
        let (commands, rx) = mpsc::channel();
        let writer = Writer {
            conn,
            shared: shared.clone(),
            max_batch: options.max_batch.max(1),
        };
        let writer = std::thread::Builder::new()
            .name("flick-queue-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            commands,
            shared,
            writer: Mutex::new(Some(writer)),
        })
    }
}

impl SqliteStore {
    /// Transactions committed so far: with group commit, fewer than events.
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }
}

impl QueueStore for SqliteStore {
    fn enqueue(&self, event: NewEvent, limit: usize) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let function = event.function.clone();
            if !self.shared.ready().reserve(&function, limit) {
                return Err(StoreError::Full { function, limit });
            }
            let (reply, answer) = oneshot::channel();
            if self
                .commands
                .send(Command::Insert { event, reply })
                .is_err()
            {
                self.shared.ready().unreserve(&function);
                return Err(StoreError::Closed);
            }
            answer.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    fn claim(&self, function: &str, now_ms: i64) -> StoreFuture<'_, Claim> {
        let claim = self.shared.ready().claim(function, now_ms);
        if let Claim::Event(event) = &claim {
            // Only for `flick queue list`: an event left marked pending is
            // redelivered after a crash all the same.
            let _ = self.commands.send(Command::Claimed { seq: event.seq });
        }
        Box::pin(async move { Ok(claim) })
    }

    fn settle(&self, event: QueuedEvent, settlement: Settlement) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if let Settlement::Abandon = settlement {
                self.shared.ready().finish(&event.event.function);
                return Ok(());
            }
            let (reply, answer) = oneshot::channel();
            let command = Command::Settle {
                event,
                settlement: Box::new(settlement),
                reply,
            };
            if self.commands.send(command).is_err() {
                return Err(StoreError::Closed);
            }
            answer.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    fn wake(&self, function: &str) -> Arc<Notify> {
        self.shared.wake(function)
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let (reply, done) = oneshot::channel();
            if self.commands.send(Command::Close { reply }).is_ok() {
                let _ = done.await;
            }
            let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(writer) = writer {
                let _ = tokio::task::spawn_blocking(move || writer.join()).await;
            }
            Ok(())
        })
    }
}

struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    max_batch: usize,
}

/// What a committed command leaves to do in memory.
type Applied = Option<i64>;

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Command>) {
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
                self.after_commit(command, Err(e.into()));
            }
            Err(e) => {
                tracing::warn!("queue: a group commit failed ({e}); committing one by one");
                for command in batch {
                    let result = self
                        .commit(std::slice::from_ref(&command))
                        .map(|mut a| a.pop().flatten())
                        .map_err(StoreError::from);
                    self.after_commit(command, result);
                }
            }
        }
    }

    fn commit(&mut self, batch: &[Command]) -> rusqlite::Result<Vec<Applied>> {
        let tx = self.conn.transaction()?;
        let mut applied = Vec::with_capacity(batch.len());
        for command in batch {
            applied.push(apply(&tx, command)?);
        }
        tx.commit()?;
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        Ok(applied)
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
        "INSERT INTO events (id, function, payload, client_context, accepted_ms, not_before_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![
        event.id,
        event.function,
        &event.payload[..],
        event.client_context,
        event.accepted_ms
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
                     accepted_ms, failed_ms, condition, invokes, record) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    e.id,
                    e.function,
                    &e.payload[..],
                    e.client_context,
                    e.accepted_ms,
                    super::now_ms(),
                    condition,
                    counters.invokes,
                    String::from_utf8_lossy(record)
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
fn queued_event(row: &Row<'_>) -> rusqlite::Result<QueuedEvent> {
    Ok(QueuedEvent {
        seq: row.get(0)?,
        event: NewEvent {
            id: row.get(1)?,
            function: row.get(2)?,
            payload: row.get::<_, Vec<u8>>(3)?.into(),
            client_context: row.get(4)?,
            accepted_ms: row.get(5)?,
        },
        not_before_ms: row.get(6)?,
        counters: Counters {
            invokes: row.get(7)?,
            function_errors: row.get(8)?,
            throttles: row.get(9)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, function: &str) -> NewEvent {
        NewEvent {
            id: id.into(),
            function: function.into(),
            payload: format!("{{\"id\":\"{id}\"}}").into(),
            client_context: None,
            accepted_ms: super::super::now_ms(),
        }
    }

    fn claim(store: &SqliteStore, function: &str) -> Option<QueuedEvent> {
        let claim = block_on(store.claim(function, super::super::now_ms()));
        match claim.unwrap() {
            Claim::Event(e) => Some(e),
            Claim::Wait { .. } => None,
        }
    }

    /// The store's futures finish on the writer thread; a current-thread
    /// runtime is enough to wait for them.
    fn block_on<T>(f: StoreFuture<'_, T>) -> Result<T, StoreError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn accepted_events_survive_a_reopen_and_in_flight_ones_come_back() {
        let dir = tempdir();
        let path = dir.join("queue.db");
        {
            let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
            for i in 0..3 {
                block_on(store.enqueue(event(&format!("e{i}"), "f"), 10)).unwrap();
            }
            let first = claim(&store, "f").unwrap();
            assert_eq!(first.event.id, "e0");
            let second = claim(&store, "f").unwrap();
            block_on(store.settle(second, Settlement::Done { follow_up: None })).unwrap();
            // The host dies here with e0 in flight: no close.
            std::mem::forget(store);
        }
        let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
        let ids: Vec<_> = std::iter::from_fn(|| claim(&store, "f"))
            .map(|e| e.event.id)
            .collect();
        assert_eq!(ids, ["e0", "e2"]);
        block_on(store.close()).unwrap();
    }

    #[test]
    fn full_queue_is_refused_and_dead_letters_are_kept() {
        let dir = tempdir();
        let store = SqliteStore::open(&dir.join("q.db"), StoreOptions { max_batch: 1 }).unwrap();
        block_on(store.enqueue(event("a", "f"), 1)).unwrap();
        assert!(matches!(
            block_on(store.enqueue(event("b", "f"), 1)),
            Err(StoreError::Full { limit: 1, .. })
        ));
        let a = claim(&store, "f").unwrap();
        let dead = Settlement::DeadLetter {
            counters: Counters {
                invokes: 3,
                function_errors: 3,
                throttles: 0,
            },
            condition: "RetriesExhausted".into(),
            record: "{}".into(),
            follow_up: Some(event("rec", "dlq")),
        };
        block_on(store.settle(a, dead)).unwrap();
        assert_eq!(claim(&store, "dlq").unwrap().event.id, "rec");
        block_on(store.close()).unwrap();
        let admin = crate::queue::admin::Admin::open(&dir.join("q.db")).unwrap();
        let dead = admin.dead_letters("f").unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!((dead[0].id.as_str(), dead[0].invokes), ("a", 3));
    }

    #[test]
    fn concurrent_acceptances_share_commits() {
        let dir = tempdir();
        let store =
            Arc::new(SqliteStore::open(&dir.join("q.db"), StoreOptions::default()).unwrap());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..500)
                .map(|i| {
                    let store = store.clone();
                    tokio::spawn(
                        async move { store.enqueue(event(&format!("e{i}"), "f"), 1000).await },
                    )
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        });
        let commits = store.commits();
        assert!(
            commits < 250,
            "500 concurrent acceptances took {commits} commits"
        );
        // every acknowledged one is there, oldest first
        let n = std::iter::from_fn(|| claim(&store, "f")).count();
        assert_eq!(n, 500);

        let one = SqliteStore::open(&dir.join("one.db"), StoreOptions { max_batch: 1 }).unwrap();
        for i in 0..5 {
            block_on(one.enqueue(event(&format!("e{i}"), "f"), 10)).unwrap();
        }
        assert_eq!(one.commits(), 5);
    }

    #[test]
    fn retry_waits_for_its_time() {
        let dir = tempdir();
        let store = SqliteStore::open(&dir.join("q.db"), StoreOptions::default()).unwrap();
        block_on(store.enqueue(event("a", "f"), 10)).unwrap();
        let a = claim(&store, "f").unwrap();
        let later = super::super::now_ms() + 60_000;
        let retry = Settlement::Retry {
            counters: Counters {
                invokes: 1,
                function_errors: 1,
                throttles: 0,
            },
            not_before_ms: later,
        };
        block_on(store.settle(a, retry)).unwrap();
        match block_on(store.claim("f", super::super::now_ms())).unwrap() {
            Claim::Wait { until_ms } => assert_eq!(until_ms, Some(later)),
            Claim::Event(_) => panic!("claimed before its retry time"),
        }
        match block_on(store.claim("f", later)).unwrap() {
            Claim::Event(e) => assert_eq!(e.counters.function_errors, 1),
            Claim::Wait { .. } => panic!("not claimed at its retry time"),
        }
        block_on(store.close()).unwrap();
    }

    pub(crate) fn tempdir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("flick-queue-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
