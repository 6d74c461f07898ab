//! `flick serve` as a library call: from a manifest to a running host, and
//! back down again on SIGTERM or Ctrl-C without leaving a process behind.
//!
//! Owns the order of start-up (builds, log sink, the queue with its recovery,
//! memory control, provisioned sandboxes, queue workers, listener) and of
//! shutdown (stop accepting, stop taking queued events, let invocations under
//! way finish within a grace period, stop every sandbox, close the queue,
//! flush the logs). An event still in flight at the end stays in the queue
//! and is delivered again at the next start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;

use crate::build_step::{self, BuildError};
use crate::gateway::Gateway;
use crate::invoke_api::{self, InvokeApi};
use crate::logs::LogSink;
use crate::manifest::{Manifest, ManifestError};
use crate::queue::sqlite::{SqliteStore, StoreOptions};
use crate::queue::worker::Workers;
use crate::queue::{QueueStore, StoreError};
use crate::sandbox::ephemeral::TmpStorage;
use crate::sandbox::memory::MemoryControl;
use crate::sandbox::HostContext;
use crate::scheduler::Scheduler;
use crate::watchdog::Watchdog;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub config: PathBuf,
    /// Overrides `server.listen`.
    pub listen: Option<SocketAddr>,
    /// How long invocations under way may run on after a shutdown signal.
    pub grace: Duration,
    /// Skip the manifest's build commands.
    pub skip_build: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the queue {path}: {source}")]
    Queue { path: PathBuf, source: StoreError },
    #[error("cannot find the host's own binary to start sandboxes with: {0}")]
    OwnBinary(std::io::Error),
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    let mut manifest = Manifest::load(&options.config)?;
    if let Some(listen) = options.listen {
        manifest.server.listen = listen;
    }
    if !options.skip_build {
        build_step::run_builds(&manifest).await?;
    }
    let logs_dir = manifest.server.state_dir.join("logs");
    let logs = LogSink::start(logs_dir.clone()).map_err(|source| ServeError::StateDir {
        path: logs_dir,
        source,
    })?;
    let queue_path = manifest.server.state_dir.join(crate::queue::DB_FILE);
    let queue: Arc<dyn QueueStore> = Arc::new(
        SqliteStore::open(&queue_path, store_options()).map_err(|source| ServeError::Queue {
            path: queue_path.clone(),
            source,
        })?,
    );
    let memory = Arc::new(MemoryControl::detect());
    tracing::info!("memory limits: {}", memory.describe());
    let shell_program = std::env::current_exe().map_err(ServeError::OwnBinary)?;
    let mut sizes: Vec<u64> = manifest
        .functions
        .values()
        .map(|f| f.ephemeral_storage_mb)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let tmp =
        Arc::new(TmpStorage::detect(&shell_program, &manifest.server.state_dir, &sizes).await);
    tracing::info!("/tmp: {}", tmp.describe());
    let watchdog = match Watchdog::start(memory.dir()) {
        Ok(w) => Some(Arc::new(w)),
        Err(e) => {
            tracing::warn!(
                "no watchdog ({e}): a host killed with SIGKILL may leave processes behind"
            );
            None
        }
    };

    let addr = manifest.server.listen;
    // Bind before starting sandboxes, so a taken port fails fast.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })?;
    let scheduler = Arc::new(Scheduler::new(
        &manifest,
        HostContext {
            logs: logs.clone(),
            memory: memory.clone(),
            tmp,
            shell_program,
            watchdog,
        },
    ));
    scheduler.boot().await;
    let workers = Workers::start(queue.clone(), scheduler.clone());

    let api = Arc::new(InvokeApi {
        scheduler: scheduler.clone(),
        queue: queue.clone(),
        region: manifest.server.region.clone(),
        listen: addr,
    });
    let gateway = Arc::new(Gateway::new(scheduler.clone()));
    // The Lambda API has every path under its API versions; all other
    // requests are plain HTTP for the gateway.
    let app = invoke_api::router(api)
        .fallback(move |req: axum::extract::Request| async move { gateway.handle(req).await });
    let names: Vec<_> = manifest.functions.keys().cloned().collect();
    tracing::info!("serving {} on http://{addr}", names.join(", "));

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // The peer address is the gateway events' source IP.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let server =
        axum::serve(listener.tap_io(crate::net::no_delay), app).with_graceful_shutdown(async {
            let _ = stop_rx.await;
        });
    let served = tokio::spawn(async move { server.await });

    shutdown_signal().await;
    // Stop accepting connections and invocations; those under way get the
    // grace period, then their sandboxes are stopped and they end with it.
    let _ = stop_tx.send(());
    tracing::info!(
        "shutting down: waiting up to {:?} for invocations under way",
        options.grace
    );
    workers.stop_claiming();
    scheduler.shutdown(options.grace).await;
    // Let the answers of the last invocations reach their clients, and the
    // last deliveries be recorded.
    let _ = tokio::time::timeout(Duration::from_secs(1), served).await;
    workers.join(Duration::from_secs(1)).await;
    let _ = queue.close().await;
    logs.flush().await;
    memory.cleanup();
    Ok(())
}

/// `FLICK_QUEUE_MAX_BATCH` caps the events committed together; the queue
/// benchmark sets it to 1 for its one-fsync-per-event baseline.
fn store_options() -> StoreOptions {
    let mut options = StoreOptions::default();
    if let Some(n) = std::env::var("FLICK_QUEUE_MAX_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        options.max_batch = n;
    }
    options
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
