//! Flick's tables in PostgreSQL (the queue's and the durable executions')
//! and their version.
//!
//! Hosts create the tables when the database has none, bring an older
//! version up to date by applying the migrations it lacks, and record each
//! version in `flick_schema`; a database whose version is newer than this
//! host's is refused (an older host must not write tables it does not
//! know). Hosts starting together take an advisory lock, so one of them
//! creates or migrates and the others find.

use tokio_postgres::{Client, GenericClient};

use crate::queue::StoreError;

/// The version of the tables below: that of the last migration.
pub(super) const VERSION: i32 = MIGRATIONS.len() as i32;

/// Migration `n` (from 0) makes version `n + 1` of version `n`.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, DURABLE_V2, TRACE_V3];

/// Any number of the host's own: it only has to differ from an
/// application's advisory locks in the same database.
const CREATE_LOCK: i64 = 0x666c_6963_6b00;

const SCHEMA_V1: &str = "
CREATE TABLE flick_schema (version INTEGER NOT NULL);
CREATE TABLE flick_events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL,
    function TEXT NOT NULL,
    payload BYTEA NOT NULL,
    client_context TEXT,
    tenant_id TEXT,
    accepted_ms BIGINT NOT NULL,
    not_before_ms BIGINT NOT NULL,
    invokes INTEGER NOT NULL DEFAULT 0,
    function_errors INTEGER NOT NULL DEFAULT 0,
    throttles INTEGER NOT NULL DEFAULT 0,
    -- The host delivering the event, until lease_until_ms; NULL: waiting.
    lease_owner TEXT,
    lease_until_ms BIGINT
);
CREATE INDEX flick_events_by_function ON flick_events (function, seq);
CREATE TABLE flick_dead_letters (
    id TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    payload BYTEA NOT NULL,
    client_context TEXT,
    tenant_id TEXT,
    accepted_ms BIGINT NOT NULL,
    failed_ms BIGINT NOT NULL,
    condition TEXT NOT NULL,
    invokes INTEGER NOT NULL,
    record TEXT NOT NULL
);
-- Events waiting or in flight per function, kept with every change: the
-- row lock makes `max_queued` exact across hosts.
CREATE TABLE flick_depth (
    function TEXT PRIMARY KEY,
    queued BIGINT NOT NULL,
    -- What the last acceptance group could add (see accept.rs).
    last_reserved BIGINT NOT NULL DEFAULT 0
);
";

/// Version 3: each event's trace header, made at acceptance, so that every
/// attempt continues the caller's trace.
const TRACE_V3: &str = "ALTER TABLE flick_events ADD COLUMN trace TEXT;";

/// Version 2: the durable executions (see `durable::postgres`), and which
/// host runs them.
const DURABLE_V2: &str = "
CREATE TABLE flick_durable_executions (
    arn TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    name TEXT NOT NULL,
    function_arn TEXT NOT NULL,
    input TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    timeout_s BIGINT NOT NULL,
    retention_days BIGINT NOT NULL,
    secret TEXT NOT NULL,
    head TEXT NOT NULL,
    -- An execution's name is its idempotency key within its function.
    UNIQUE (function, name)
);
CREATE TABLE flick_durable_operations (
    arn TEXT NOT NULL REFERENCES flick_durable_executions ON DELETE CASCADE,
    id TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (arn, id)
);
CREATE TABLE flick_durable_events (
    arn TEXT NOT NULL REFERENCES flick_durable_executions ON DELETE CASCADE,
    event_id BIGINT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (arn, event_id)
);
-- The host that runs the durable executions (the holder of an advisory
-- lock) and its term: every write of a term checks that it is still the
-- current one, so a host that lost the lead cannot overwrite its successor.
CREATE TABLE flick_durable_leader (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    term BIGINT NOT NULL,
    host TEXT NOT NULL,
    url TEXT NOT NULL,
    since_ms BIGINT NOT NULL
);
";

/// Creates the tables if the database has none, migrates an older version;
/// refuses a newer one.
pub(super) async fn prepare(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])
        .await?;
    let found = version(&tx).await?.unwrap_or(0);
    for (done, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(migration).await?;
        tx.execute(
            "INSERT INTO flick_schema (version) VALUES ($1)",
            &[&(done as i32 + 1)],
        )
        .await?;
    }
    if found > 0 && found < VERSION {
        tracing::info!("store: tables migrated from version {found} to {VERSION}");
    }
    tx.commit().await?;
    Ok(())
}

/// Checks that the database holds tables this host can use, without
/// creating any (for `flick queue`, which a mistyped URL must not set up).
pub(super) async fn check(client: &Client) -> Result<(), StoreError> {
    match version(client).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::Database(
            "this database has no Flick queue; a host creates it when it starts".into(),
        )),
    }
}

/// The tables' version, if there are tables; an error if it is newer than
/// this host's. Looked up before any `CREATE`, so a role that may only read
/// and write rows can use tables made by another.
async fn version(client: &impl GenericClient) -> Result<Option<i32>, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('flick_schema') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(None);
    }
    let found: Option<i32> = client
        .query_one("SELECT max(version) FROM flick_schema", &[])
        .await?
        .try_get(0)?;
    match found {
        Some(version) if version > VERSION => Err(StoreError::Database(format!(
            "the database's queue tables are version {version}, newer than this host's \
             ({VERSION}): run a host as new as the one that made them"
        ))),
        Some(version) => Ok(Some(version)),
        None => Err(StoreError::Database(
            "the table flick_schema names no version: it was not made by a Flick host".into(),
        )),
    }
}
