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

use crate::build_step::{self, BuildError};
use crate::durable::leader::Candidate;
use crate::durable::store::SqliteDurableStore;
use crate::durable::{Durable, Engine};
use crate::gateway::Gateway;
use crate::invoke_api::{self, auth, InvokeApi};
use crate::logs::LogSink;
use crate::manifest::store_url;
use crate::manifest::{Manifest, ManifestError};
use crate::net::{Limits, Server};
use crate::queue::postgres::connect;
use crate::queue::postgres::PgStore;
use crate::queue::sqlite::{SqliteStore, StoreOptions};
use crate::queue::worker::Workers;
use crate::queue::{QueueStore, StoreError};
use crate::sandbox::{AwsApi, ContextError, HostContext, LambdaApiInside};
use crate::scheduler::Scheduler;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub config: PathBuf,
    /// Overrides `server.listen`.
    pub listen: Option<SocketAddr>,
    /// How long invocations under way may run on after a shutdown signal.
    pub grace: Duration,
    /// Skip the manifest's build commands.
    pub skip_build: bool,
    /// Serve a non-loopback address without authentication.
    pub insecure: bool,
    /// Overrides `server.state_dir` (a second host on the same manifest).
    pub state_dir: Option<PathBuf>,
    /// Rebuild a function when its sources change, and serve the new build.
    pub watch: bool,
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
    #[error("cannot use the queue database {place}: {source}")]
    Store { place: String, source: StoreError },
    #[error(
        "{addr} is reachable from other machines and no access keys are set: set [server.auth] keys \
         or FLICK_AUTH_KEYS, or pass --insecure to serve it without authentication"
    )]
    Insecure { addr: SocketAddr },
    #[error("FLICK_AUTH_KEYS: {0}")]
    AuthKeys(String),
    #[error(transparent)]
    Sandboxes(#[from] ContextError),
    #[error(transparent)]
    Layers(#[from] crate::layers::LayerError),
    #[error("cannot load the durable executions: {0}")]
    Durable(String),
    #[error("cannot start watching the sources: {0}")]
    Watch(std::io::Error),
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
    if let Some(dir) = &options.state_dir {
        manifest.server.state_dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
    }
    let addr = manifest.server.listen;
    let pairs = access_keys(&manifest)?;
    let aws_api = functions_api(addr, &manifest);
    // The admin API takes the operator's keys only; the Lambda API also
    // each durable function's own, which its SDK signs checkpoints with.
    let admin_keys = Arc::new(auth::Keys::new(pairs.clone(), &manifest.server.region));
    let keys =
        Arc::new(auth::Keys::new(pairs, &manifest.server.region).with_functions(&aws_api.keys));
    if !addr.ip().is_loopback() && keys.is_empty() && !options.insecure {
        return Err(ServeError::Insecure { addr });
    }
    if !options.skip_build {
        build_step::run_builds(&manifest).await?;
    }
    private_state_dir(&manifest.server.state_dir)?;
    crate::layers::prepare(&mut manifest)?;
    let logs_dir = manifest.server.state_dir.join("logs");
    let logs = LogSink::start(logs_dir.clone()).map_err(|source| ServeError::StateDir {
        path: logs_dir,
        source,
    })?;
    let queue_path = manifest.server.state_dir.join(crate::queue::DB_FILE);
    crate::net::raise_open_files();
    let mut host = HostContext::detect(&manifest, logs.clone()).await?;
    host.aws_api = Some(aws_api);
    if host.users.is_some() {
        warn_if_readable(&options.config, &manifest);
    }
    let memory = host.memory.clone();

    // Bind before starting sandboxes, so a taken port fails fast.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })?;
    // Once the address is this host's: a shared store takes back the leases
    // of this host's earlier runs, which a second copy must not do.
    let queue = open_queue(&manifest, addr, &queue_path).await?;
    let inside = host.lambda_api.clone();
    let scheduler = Arc::new(Scheduler::new(&manifest, host));
    let durable = durable_executions(&manifest, &queue_path, &scheduler)?;
    let api = Arc::new(InvokeApi {
        scheduler: scheduler.clone(),
        queue: queue.clone(),
        region: manifest.server.region.clone(),
        listen: addr,
        keys: keys.clone(),
        durable: durable.clone(),
        forwarder: invoke_api::forward::Forwarder::new(&host_name(addr)),
    });
    let gateway = Arc::new(Gateway::new(scheduler.clone()));
    // The Lambda API has every path under its API versions, the host's own
    // API every path under /_flick/; all other requests are plain HTTP for
    // the gateway.
    let timeout = Duration::from_secs(manifest.server.request_timeout_s);
    let stall_limit = axum::middleware::from_fn_with_state(timeout, crate::net::stall_limit);
    let public = invoke_api::router(api)
        .fallback(move |req: axum::extract::Request| async move { gateway.handle(req).await });
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        // Private networks cannot reach the host's loopback: they get the
        // public APIs at the same address inside (the admin API stays out).
        let _ = inside.set(LambdaApiInside {
            port: addr.port(),
            app: public.clone().layer(stall_limit.clone()),
            request_timeout: timeout,
        });
    }
    let app = public
        .merge(crate::admin::router(scheduler.clone(), admin_keys))
        .layer(stall_limit);
    scheduler.boot().await;
    if options.watch {
        let (recycler, runtime) = (scheduler.clone(), tokio::runtime::Handle::current());
        let rebuilt: crate::watch::Rebuilt = Box::new(move |name| {
            // The watcher's thread is not the runtime's; stopping sandboxes spawns tasks.
            let _inside = runtime.enter();
            recycler.recycle(name);
        });
        crate::watch::start(&manifest, rebuilt).map_err(ServeError::Watch)?;
    }
    let workers = Workers::start(queue.clone(), scheduler.clone());
    resume_durable(&durable, &manifest, addr, &scheduler).await?;
    let names: Vec<_> = manifest.functions.keys().cloned().collect();
    tracing::info!("serving {} on http://{addr}", names.join(", "));

    let limits = Limits {
        max_connections: manifest.server.max_connections,
        header_timeout: Some(timeout),
    };
    let server = Server::start(listener, app, limits, None, None);

    shutdown_signal().await;
    // Stop accepting connections and invocations; those under way get the
    // grace period, then their sandboxes are stopped and they end with it.
    server.stop();
    tracing::info!(
        "shutting down: waiting up to {:?} for invocations under way",
        options.grace
    );
    workers.stop_claiming();
    durable.shutdown();
    scheduler.shutdown(options.grace).await;
    // Let the answers of the last invocations reach their clients, and the
    // last deliveries be recorded.
    server.drained(Duration::from_secs(1)).await;
    workers.join(Duration::from_secs(1)).await;
    let _ = queue.close().await;
    logs.flush().await;
    memory.cleanup();
    Ok(())
}

/// How often executions past their retention are forgotten.
const RETENTION_SWEEP: Duration = Duration::from_secs(3600);

/// The durable executions: in the embedded SQLite file, this host's alone;
/// in a shared store, run by whichever host leads (elected once the host
/// can run functions: [`resume_durable`]).
fn durable_executions(
    manifest: &Manifest,
    queue_path: &std::path::Path,
    scheduler: &Arc<Scheduler>,
) -> Result<Arc<Durable>, ServeError> {
    if manifest.server.store.is_some() {
        if let Some(left) = SqliteDurableStore::left_at(queue_path) {
            tracing::warn!(
                "durable: {} holds {left} durable executions from before this host used the \
                 shared store; they are not run from it: serve them without `store` until they end",
                queue_path.display()
            );
        }
        return Ok(Durable::shared());
    }
    let store = SqliteDurableStore::open(queue_path).map_err(|source| ServeError::Queue {
        path: queue_path.to_path_buf(),
        source,
    })?;
    Ok(Durable::alone(Engine::new(
        Arc::new(store),
        scheduler.clone(),
    )))
}

/// Resumes the durable executions a previous run left running (each is
/// invoked again and replays from its checkpoints), or, with a shared
/// store, starts asking for the lead (the leader resumes them); then
/// forgets those past their retention, now and every hour.
async fn resume_durable(
    durable: &Arc<Durable>,
    manifest: &Manifest,
    addr: SocketAddr,
    scheduler: &Arc<Scheduler>,
) -> Result<(), ServeError> {
    match &manifest.server.store {
        Some(url) => {
            let host = host_name(addr);
            let session = connect::settings(&store_config(url)?, &host, false);
            let pool = connect::pool(session.clone()).map_err(|source| ServeError::Store {
                place: "server.store".into(),
                source,
            })?;
            let url = advertised(manifest, addr);
            tracing::info!("durable: other hosts reach this one at {url}");
            durable.elect(Candidate {
                session,
                pool,
                host,
                url,
                scheduler: scheduler.clone(),
            });
            durable.settled(Duration::from_secs(10)).await;
        }
        None => {
            let engine = durable
                .engine()
                .map_err(|e| ServeError::Durable(format!("{e:?}")))?;
            let resumed = engine
                .recover()
                .await
                .map_err(|e| ServeError::Durable(format!("{e:?}")))?;
            if resumed > 0 {
                tracing::info!("durable: {resumed} executions resumed");
            }
        }
    }
    let sweeper = durable.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RETENTION_SWEEP).await;
            if let Ok(engine) = sweeper.engine() {
                engine.sweep().await;
            }
        }
    });
    Ok(())
}

/// The URL other hosts on the same store send durable requests to: the
/// manifest's `advertise`, else the listen address (this machine's name
/// when it listens on every address).
fn advertised(manifest: &Manifest, addr: SocketAddr) -> String {
    if let Some(url) = &manifest.server.advertise {
        return url.trim_end_matches('/').to_string();
    }
    match addr.ip().is_unspecified() {
        true => format!("http://{}:{}", machine_name(), addr.port()),
        false => format!("http://{addr}"),
    }
}

/// The Lambda API as durable functions reach it (the host's loopback port
/// is served inside private networks too), with a key of its own for each,
/// made for this run.
fn functions_api(addr: SocketAddr, manifest: &Manifest) -> AwsApi {
    let host = match addr.ip() {
        std::net::IpAddr::V6(ip) if ip.is_loopback() => "[::1]".to_string(),
        ip if ip.is_unspecified() || ip.is_loopback() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let random = || uuid::Uuid::new_v4().simple().to_string();
    let keys = manifest
        .functions
        .values()
        .filter(|f| f.durable.is_some())
        .map(|f| {
            let key_id = format!("AKFLICK{}", &random()[..13]).to_uppercase();
            (f.name.clone(), (key_id, random()))
        })
        .collect();
    AwsApi {
        endpoint: format!("http://{host}:{}", addr.port()),
        keys,
    }
}

/// Sandboxes run as other users, so a manifest that others may read gives
/// every function the others' environment variables (and the host's keys).
fn warn_if_readable(path: &std::path::Path, manifest: &Manifest) {
    use std::os::unix::fs::PermissionsExt;
    let secrets = !manifest.server.auth_keys.is_empty()
        || manifest.functions.values().any(|f| !f.env.is_empty());
    let readable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o004 != 0);
    if secrets && readable {
        tracing::warn!(
            "{} holds environment variables or keys and any user may read it, functions included: \
             chmod o-r it (or move the secrets to the host's environment)",
            path.display()
        );
    }
}

/// The manifest's keys and those of `FLICK_AUTH_KEYS` (`ID:SECRET,ID:SECRET`),
/// which keeps secrets out of the manifest.
fn access_keys(manifest: &Manifest) -> Result<Vec<(String, String)>, ServeError> {
    let mut keys = manifest.server.auth_keys.clone();
    if let Ok(text) = std::env::var("FLICK_AUTH_KEYS") {
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, secret) = pair
                .split_once(':')
                .filter(|(id, secret)| !id.is_empty() && !secret.is_empty())
                .ok_or_else(|| {
                    ServeError::AuthKeys(format!("`{pair}` is not ACCESS_KEY_ID:SECRET"))
                })?;
            keys.push((id.to_string(), secret.to_string()));
        }
    }
    Ok(keys)
}

/// Creates the state folder for the host's user alone: it holds every
/// function's logs and queued payloads, and sandboxes run as other users.
fn private_state_dir(dir: &std::path::Path) -> Result<(), ServeError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |source| ServeError::StateDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)
}

/// The shared PostgreSQL queue when the manifest names one, else the
/// embedded file.
async fn open_queue(
    manifest: &Manifest,
    addr: SocketAddr,
    path: &std::path::Path,
) -> Result<Arc<dyn QueueStore>, ServeError> {
    let Some(url) = &manifest.server.store else {
        let store =
            SqliteStore::open(path, store_options()).map_err(|source| ServeError::Queue {
                path: path.to_path_buf(),
                source,
            })?;
        return Ok(Arc::new(store));
    };
    let config = store_config(url)?;
    let place = store_url::describe(&config);
    let timeouts = manifest
        .functions
        .values()
        .map(|f| (f.name.clone(), Duration::from_secs(f.timeout_s)))
        .collect();
    let store = PgStore::open(config, &host_name(addr), timeouts)
        .await
        .map_err(|source| ServeError::Store { place, source })?;
    Ok(Arc::new(store))
}

fn store_config(url: &str) -> Result<tokio_postgres::Config, ServeError> {
    store_url::parse(url).map_err(|why| ServeError::Store {
        place: "server.store".into(),
        source: StoreError::Database(why),
    })
}

/// This host among those sharing a database: the machine and the address
/// it serves, which no other running host has (machines that share a
/// hostname must not share a database with the same `listen`).
fn host_name(addr: SocketAddr) -> String {
    format!("{}:{addr}", machine_name())
}

fn machine_name() -> String {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    machine.trim().to_string()
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
