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
//! The writer thread is in [`writer`]; the schema is shared with
//! [`super::admin`].

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{oneshot, Notify};

mod writer;

use super::ready::Ready;
use super::wakes::Wakes;
use super::{Claim, NewEvent, QueueStore, QueuedEvent, Settlement, StoreError, StoreFuture};
use writer::{queued_event, Command, Writer, MAX_COMMANDS};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    function TEXT NOT NULL,
    payload BLOB NOT NULL,
    client_context TEXT,
    accepted_ms INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL,
    tenant_id TEXT,
    trace TEXT,
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
    tenant_id TEXT,
    condition TEXT NOT NULL,
    invokes INTEGER NOT NULL,
    record TEXT NOT NULL
);
";

const EVENT_COLUMNS: &str = "seq, id, function, payload, client_context, accepted_ms, \
                             not_before_ms, invokes, function_errors, throttles, tenant_id, trace";

/// Columns added since the first schema, for files an older host made.
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("events", "tenant_id"),
    ("dead_letters", "tenant_id"),
    ("events", "trace"),
];

/// Opens a connection with the settings every user of the file shares.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    migrate(&conn)?;
    Ok(conn)
}

/// Adds what an older file lacks; nothing is ever removed or renamed.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    for (table, column) in ADDED_COLUMNS {
        let mut stmt = conn.prepare(&format!(
            "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
        ))?;
        if !stmt.exists([column])? {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT"))?;
        }
    }
    Ok(())
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
    wakes: Wakes,
    /// Transactions committed by the writer (each one fsync).
    commits: AtomicU64,
}

impl Shared {
    fn ready(&self) -> MutexGuard<'_, Ready> {
        // Plain bookkeeping only happens under this lock.
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enter(&self, event: QueuedEvent, reserved: bool) {
        let function = event.event.function.clone();
        self.ready().insert(event, reserved);
        self.wakes.wake(&function);
    }
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
        let file = writer::FileIdentity::of(path)
            .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
        let writer = Writer {
            conn,
            file,
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
        self.shared.wakes.get(function)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{now_ms, Counters};

    fn event(id: &str, function: &str) -> NewEvent {
        NewEvent {
            id: id.into(),
            function: function.into(),
            payload: format!("{{\"id\":\"{id}\"}}").into(),
            client_context: None,
            tenant_id: None,
            trace: None,
            accepted_ms: now_ms(),
        }
    }

    fn claim(store: &SqliteStore, function: &str) -> Option<QueuedEvent> {
        let claim = block_on(store.claim(function, now_ms()));
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
        use crate::queue::admin::{Admin, QueueAdmin};
        let admin = Admin::open(&dir.join("q.db")).unwrap();
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
    fn a_database_deleted_under_the_store_is_written_back_whole() {
        let dir = tempdir();
        let path = dir.join("queue.db");
        let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
        block_on(store.enqueue(event("before", "f"), 10)).unwrap();
        std::fs::remove_file(&path).unwrap();
        block_on(store.enqueue(event("after", "f"), 10)).unwrap();
        assert!(path.exists(), "the file is back at its path");
        block_on(store.close()).unwrap();
        let reopened = SqliteStore::open(&path, StoreOptions::default()).unwrap();
        let ids: Vec<_> = std::iter::from_fn(|| claim(&reopened, "f"))
            .map(|e| e.event.id)
            .collect();
        assert_eq!(ids, ["before", "after"], "nothing acknowledged was lost");
    }

    #[test]
    fn a_database_that_cannot_be_written_back_refuses_events() {
        let dir = tempdir();
        let sub = dir.join("state");
        std::fs::create_dir(&sub).unwrap();
        let store = SqliteStore::open(&sub.join("queue.db"), StoreOptions::default()).unwrap();
        std::fs::remove_dir_all(&sub).unwrap();
        assert!(matches!(
            block_on(store.enqueue(event("lost", "f"), 10)),
            Err(StoreError::Database(m)) if m.contains("gone")
        ));
    }

    #[test]
    fn an_older_file_gains_the_tenant_column() {
        let dir = tempdir();
        let path = dir.join("old.db");
        let old_schema = SCHEMA.replace("    tenant_id TEXT,\n", "");
        assert!(!old_schema.contains("tenant_id"));
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(&old_schema)
            .unwrap();
        let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
        let mut e = event("t", "f");
        e.tenant_id = Some("acme".into());
        block_on(store.enqueue(e, 10)).unwrap();
        block_on(store.close()).unwrap();
        let reopened = SqliteStore::open(&path, StoreOptions::default()).unwrap();
        assert_eq!(
            claim(&reopened, "f").unwrap().event.tenant_id.as_deref(),
            Some("acme")
        );
    }

    #[test]
    fn retry_waits_for_its_time() {
        let dir = tempdir();
        let store = SqliteStore::open(&dir.join("q.db"), StoreOptions::default()).unwrap();
        block_on(store.enqueue(event("a", "f"), 10)).unwrap();
        let a = claim(&store, "f").unwrap();
        let later = now_ms() + 60_000;
        let retry = Settlement::Retry {
            counters: Counters {
                invokes: 1,
                function_errors: 1,
                throttles: 0,
            },
            not_before_ms: later,
        };
        block_on(store.settle(a, retry)).unwrap();
        match block_on(store.claim("f", now_ms())).unwrap() {
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
