//! Which host runs the durable executions. An execution lives in the memory
//! of the engine that drives it (its timers, its callers waiting for the
//! end, its callbacks), so one engine at a time may run it. With the
//! embedded store that is the host's own ([`Durable::alone`]). With a store
//! several hosts share ([`Durable::elect`]), it is the engine of the host that holds
//! a PostgreSQL session advisory lock:
//!
//! - **Taking the lead**: a host that gets the lock starts a new term (the
//!   row of `flick_durable_leader`, with the URL the others reach it at),
//!   then loads and resumes every execution, as a restarted host does.
//! - **Following**: the others ask for the lock every second, and meanwhile
//!   pass durable requests to the leader's URL (`invoke_api::forward`).
//! - **Losing it**: the lock goes with the leader's session, so a leader
//!   that is killed, cut off or whose database restarts loses it at once;
//!   when it notices, it stops its engine. Until then its writes are refused
//!   by the term ([`super::postgres`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};

use super::engine::{DurableError, Engine};
use super::postgres::PgDurableStore;
use crate::queue::now_ms;
use crate::queue::postgres::connect::within;
use crate::queue::StoreError;
use crate::scheduler::Scheduler;
use crate::sync::lock;

/// The session lock of the leader: any number of the host's own, unlike
/// the schema's and an application's.
const LEAD_LOCK: i64 = 0x666c_6963_6b01;

/// How often a follower asks for the lead, and a leader checks its session.
const POLL: Duration = Duration::from_secs(1);

/// Longest the lock's session may take to connect or answer.
const SESSION_LIMIT: Duration = Duration::from_secs(5);

/// Where a durable request is served.
#[derive(Clone)]
pub enum Route {
    /// By this host's engine.
    Here(Arc<Engine>),
    /// By the host at this URL (`http://host:port`).
    There(String),
    /// Nowhere just now: the lead is changing hands, or the database is out
    /// of reach.
    Nobody,
}

/// The durable executions as the rest of the host sees them.
pub struct Durable {
    route: watch::Sender<Route>,
    /// Set once the first election has settled: this host follows a known
    /// leader, or leads and has resumed the executions.
    settled: watch::Sender<bool>,
    campaign: Mutex<Option<JoinHandle<()>>>,
}

impl Durable {
    /// This host runs every execution: the embedded store is its own.
    pub fn alone(engine: Arc<Engine>) -> Arc<Durable> {
        Arc::new(Durable {
            route: watch::Sender::new(Route::Here(engine)),
            settled: watch::Sender::new(true),
            campaign: Mutex::new(None),
        })
    }

    /// The lead is to be elected ([`Durable::elect`]); until a leader is
    /// known, durable requests are served nowhere.
    pub fn shared() -> Arc<Durable> {
        Arc::new(Durable {
            route: watch::Sender::new(Route::Nobody),
            settled: watch::Sender::new(false),
            campaign: Mutex::new(None),
        })
    }

    /// Starts asking for the lead (once the host can run functions).
    pub fn elect(self: &Arc<Self>, candidate: Candidate) {
        let task = tokio::spawn(campaign(self.clone(), candidate));
        *lock(&self.campaign) = Some(task);
    }

    pub fn route(&self) -> Route {
        self.route.borrow().clone()
    }

    /// Waits (up to `limit`) for the first election, so that a host that
    /// has just started serves durable requests from its first one.
    pub async fn settled(&self, limit: Duration) {
        let mut settled = self.settled.subscribe();
        let _ = tokio::time::timeout(limit, settled.wait_for(|s| *s)).await;
    }

    /// The engine, when this host runs the executions.
    pub fn engine(&self) -> Result<Arc<Engine>, DurableError> {
        match self.route() {
            Route::Here(engine) => Ok(engine),
            _ => Err(DurableError::Service(
                "this host does not run the durable executions just now; try again".into(),
            )),
        }
    }

    /// Stops the engine and leaves the lead (the lock goes with the session).
    pub fn shutdown(&self) {
        if let Some(campaign) = lock(&self.campaign).take() {
            campaign.abort();
        }
        self.set(Route::Nobody);
    }

    /// Routes requests from now on; an engine no longer routed to stops.
    fn set(&self, route: Route) {
        if let Route::Here(engine) = self.route.send_replace(route) {
            engine.shutdown();
        }
    }
}

/// A host that runs the executions when it holds the lead.
pub struct Candidate {
    /// The lock's session: a connection of its own, outside any pool.
    pub session: Config,
    /// The executions' writes.
    pub pool: Pool,
    /// This host, as `flick_durable_leader` names it.
    pub host: String,
    /// Where the other hosts reach this one.
    pub url: String,
    pub scheduler: Arc<Scheduler>,
}

/// One session after another: while one lives, follow or lead through it;
/// when it ends, step down and open the next.
async fn campaign(durable: Arc<Durable>, candidate: Candidate) {
    let mut warned = false;
    loop {
        let connected = within(SESSION_LIMIT, async {
            Ok(candidate.session.connect(NoTls).await?)
        })
        .await;
        match connected {
            Ok((client, connection)) => {
                warned = false;
                let mut session = tokio::spawn(connection);
                let why = tokio::select! {
                    ended = serve(&durable, &candidate, &client) => ended,
                    _ = &mut session => StoreError::Database("the session closed".into()),
                };
                session.abort();
                if matches!(durable.route(), Route::Here(_)) {
                    tracing::warn!(
                        "durable: this host no longer runs the durable executions: {why}"
                    );
                }
                durable.set(Route::Nobody);
            }
            Err(e) if !warned => {
                warned = true;
                tracing::warn!("durable: cannot reach the database to elect a leader: {e}");
            }
            Err(_) => {}
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Follows until the lock is this host's, then leads; returns (with why)
/// when the session fails.
async fn serve(durable: &Durable, candidate: &Candidate, client: &Client) -> StoreError {
    match follow(durable, candidate, client).await {
        Ok(()) => lead(durable, candidate, client).await,
        Err(e) => e,
    }
}

async fn follow(
    durable: &Durable,
    candidate: &Candidate,
    client: &Client,
) -> Result<(), StoreError> {
    loop {
        let won: bool = within(SESSION_LIMIT, async {
            Ok(client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LEAD_LOCK])
                .await?
                .try_get(0)?)
        })
        .await?;
        if won {
            return Ok(());
        }
        let url: Option<String> = within(SESSION_LIMIT, async {
            Ok(client
                .query_opt("SELECT url FROM flick_durable_leader", &[])
                .await?
                .map(|row| row.try_get(0))
                .transpose()?)
        })
        .await?;
        // A leader row naming this host is a dead run's, not yet replaced.
        let known = match url {
            Some(url) if url != candidate.url => Route::There(url),
            _ => Route::Nobody,
        };
        if matches!(known, Route::There(_)) {
            durable.settled.send_replace(true);
        }
        durable.set(known);
        tokio::time::sleep(POLL).await;
    }
}

/// Starts a term, loads and resumes the executions, then keeps checking
/// the session; returns (with why) when it fails.
async fn lead(durable: &Durable, candidate: &Candidate, client: &Client) -> StoreError {
    let term = within(SESSION_LIMIT, async {
        Ok(client
            .query_one(
                "INSERT INTO flick_durable_leader (one, term, host, url, since_ms) \
                 VALUES (TRUE, 1, $1, $2, $3) ON CONFLICT (one) DO UPDATE SET \
                 term = flick_durable_leader.term + 1, host = EXCLUDED.host, \
                 url = EXCLUDED.url, since_ms = EXCLUDED.since_ms RETURNING term",
                &[&candidate.host, &candidate.url, &now_ms()],
            )
            .await?
            .try_get::<_, i64>(0)?)
    })
    .await;
    let term = match term {
        Ok(term) => term,
        Err(e) => return e,
    };
    // No longer sent to the old leader: until the executions are loaded,
    // durable requests get a ServiceException (which the SDKs retry).
    durable.set(Route::Nobody);
    // Not under a time limit: each of the store's operations has its own.
    let store = PgDurableStore::new(candidate.pool.clone(), term);
    let engine = Term(Engine::new(Arc::new(store), candidate.scheduler.clone()));
    let open = match engine.0.load().await {
        Ok(open) => open,
        Err(e) => return StoreError::Database(format!("loading the executions: {e:?}")),
    };
    durable.set(Route::Here(engine.0.clone()));
    tracing::info!("durable: this host runs the durable executions (term {term})");
    let resumed = engine.0.drive_loaded(open).await;
    if resumed > 0 {
        tracing::info!("durable: {resumed} executions resumed");
    }
    durable.settled.send_replace(true);
    loop {
        tokio::time::sleep(POLL).await;
        let alive = within(SESSION_LIMIT, async {
            Ok(client.simple_query("SELECT 1").await?)
        });
        if let Err(e) = alive.await {
            return e;
        }
    }
}

/// The engine of a term, shut down when the term ends however it ends: the
/// session may fail mid-recovery, and the drivers started so far must stop.
struct Term(Arc<Engine>);

impl Drop for Term {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}
