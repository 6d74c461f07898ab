//! How the store's connections are made: limits on every wait, so that a
//! database that vanishes without closing its sockets (a crashed machine, a
//! partition) costs a 5xx within seconds instead of hanging requests until
//! TCP gives up, and pools that replace connections a restarted database
//! closed.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{Config, NoTls};

use crate::queue::StoreError;

/// Longest any one statement, or any wait for a row lock, may take.
const STATEMENT_TIMEOUT_MS: u64 = 15_000;
const LOCK_TIMEOUT_MS: u64 = 10_000;
/// Longest a session may sit in a transaction between statements: a host
/// that stalls there holds its rows' locks from every other host.
const IDLE_IN_TRANSACTION_MS: u64 = 60_000;

/// Connections per pool.
const POOL_SIZE: usize = 8;

/// `config` with the host's limits and name (seen in `pg_stat_activity`);
/// `relaxed`: commits do not wait for the disk.
pub(crate) fn settings(config: &Config, host: &str, relaxed: bool) -> Config {
    let mut config = config.clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(2))
        .keepalives_retries(3)
        .tcp_user_timeout(Duration::from_secs(15))
        .application_name(format!("flick {host}"));
    let mut options =
        format!("-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS}");
    // The server's side of the session too: a host whose machine vanishes
    // leaves a backend that holds its locks (a lease's row, the durable
    // executions' lead) until the server finds the socket dead, by default
    // after two hours of silence. PostgreSQL 12 or newer.
    options.push_str(&format!(
        " -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 \
         -c tcp_user_timeout=15000 -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    ));
    if relaxed {
        options.push_str(" -c synchronous_commit=off");
    }
    if let Some(given) = config.get_options() {
        options = format!("{given} {options}");
    }
    config.options(options);
    config
}

/// A pool of connections that replaces those a restarted database closed.
pub(crate) fn pool(config: Config) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| StoreError::Database(e.to_string()))
}

/// Runs a store operation, giving up after `limit`: a database that does
/// not answer is a failure like one that refuses.
pub(crate) async fn within<T>(
    limit: Duration,
    operation: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, operation)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Database(format!(
                "the database did not answer within {} s",
                limit.as_secs()
            )))
        })
}
