//! The Lambda API on the host's listen address: every path whose first
//! segment is one of Lambda's API versions (2015-03-31, 2021-11-15, ...).
//!
//! Served: [`invoke`] (`Invoke`: synchronous, `Event`, `DryRun`), [`stream`]
//! (`InvokeWithResponseStream`, in the event-stream framing of
//! [`eventstream`]), and the read-only control plane in [`functions`]. Any
//! other Lambda operation gets a typed error naming it ([`operations`]).
//! What a request says is read and checked in [`inputs`], [`names`] and
//! [`payload`]; every answer carries a request id ([`request_id`]) and every
//! failure is an [`ApiError`]. Choosing a sandbox is the scheduler's job;
//! paths that are not Lambda's are the server's to route elsewhere.

pub mod auth;
mod durable;
mod error;
mod eventstream;
pub mod forward;
mod functions;
mod inputs;
mod invoke;
mod names;
pub mod operations;
mod payload;
mod request_id;
pub mod sigv4;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{any, delete, get, post, MethodRouter};
use axum::Router;

use crate::function::Function;
use crate::queue::QueueStore;
use crate::scheduler::{ScheduleError, Scheduler};
pub use error::ApiError;
pub use payload::MAX_SYNC_PAYLOAD;

/// What the Lambda API needs from the host.
pub struct InvokeApi {
    pub scheduler: Arc<Scheduler>,
    /// Where `Event` invocations are committed before their 202.
    pub queue: Arc<dyn QueueStore>,
    pub region: String,
    /// The host's address, which function URLs point at.
    pub listen: SocketAddr,
    /// The keys requests must be signed with; none: no signature needed.
    pub keys: Arc<auth::Keys>,
    /// The durable executions of the host's durable functions.
    pub durable: Arc<crate::durable::Durable>,
    /// Passes durable requests to the host that runs them, when it is another.
    pub forwarder: forward::Forwarder,
}

/// The Lambda API's routes; a path that is not Lambda's is left to the
/// router's fallback, which the caller sets.
pub fn router(api: Arc<InvokeApi>) -> Router {
    let served = |route: MethodRouter<Arc<InvokeApi>>| route.fallback(unsupported);
    let mut router = Router::new()
        .route(
            "/2015-03-31/functions/{function}/invocations",
            served(post(invoke::invoke)),
        )
        .route(
            "/2021-11-15/functions/{function}/response-streaming-invocations",
            served(post(stream::invoke)),
        )
        .route("/2015-03-31/functions", served(get(functions::list)))
        .route("/2015-03-31/functions/", served(get(functions::list)))
        .route(
            "/2015-03-31/functions/{function}",
            served(get(functions::get)),
        )
        .route(
            "/2015-03-31/functions/{function}/configuration",
            served(get(functions::get_configuration)),
        )
        .route(
            "/2015-03-31/functions/{function}/versions",
            served(get(functions::list_versions)),
        )
        .route(
            "/2015-03-31/functions/{function}/aliases",
            served(get(functions::list_aliases)),
        )
        .route(
            "/2016-08-19/account-settings",
            served(get(functions::get_account_settings)),
        )
        .route(
            "/2016-08-19/account-settings/",
            served(get(functions::get_account_settings)),
        )
        .route(
            "/2019-09-30/functions/{function}/concurrency",
            served(get(functions::get_concurrency)),
        )
        .route(
            "/2019-09-25/functions/{function}/event-invoke-config",
            served(get(functions::get_event_invoke_config)),
        )
        .route(
            "/2021-10-31/functions/{function}/url",
            served(get(functions::get_url_config)),
        )
        .merge(durable_routes());
    // Everything else under an API version is Lambda's too: never the gateway's.
    for version in operations::VERSIONS {
        router = router
            .route(&format!("/{version}"), any(unsupported))
            .route(&format!("/{version}/{{*rest}}"), any(unsupported));
    }
    // Under the signature check: only requests that pass it are passed on.
    router = router.layer(axum::middleware::from_fn_with_state(
        api.clone(),
        forward::to_leader,
    ));
    let keys = api.keys.clone();
    if !keys.is_empty() {
        router = router.layer(axum::middleware::from_fn_with_state(keys, auth::check));
    }
    router
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(request_id::stamp))
        .with_state(api)
}

/// The durable-execution operations (API version 2025-12-01).
fn durable_routes() -> Router<Arc<InvokeApi>> {
    let served = |route: MethodRouter<Arc<InvokeApi>>| route.fallback(unsupported);
    let execution = "/2025-12-01/durable-executions/{arn}";
    let callback = "/2025-12-01/durable-execution-callbacks/{id}";
    Router::new()
        .route(
            execution,
            served(get(durable::get).merge(delete(durable::delete))),
        )
        .route(
            &format!("{execution}/checkpoint"),
            served(post(durable::checkpoint)),
        )
        .route(&format!("{execution}/state"), served(get(durable::state)))
        .route(
            &format!("{execution}/history"),
            served(get(durable::history)),
        )
        .route(&format!("{execution}/stop"), served(post(durable::stop)))
        .route(&format!("{execution}/pause"), served(post(durable::pause)))
        .route(
            &format!("{execution}/resume"),
            served(post(durable::resume)),
        )
        .route(
            "/2025-12-01/functions/{function}/durable-executions",
            served(get(durable::list)),
        )
        .route(
            &format!("{callback}/succeed"),
            served(post(durable::callback_success)),
        )
        .route(
            &format!("{callback}/fail"),
            served(post(durable::callback_failure)),
        )
        .route(
            &format!("{callback}/heartbeat"),
            served(post(durable::callback_heartbeat)),
        )
}

/// The answer to a Lambda path this host does not serve.
async fn unsupported(method: Method, uri: Uri) -> ApiError {
    match operations::find(method.as_str(), uri.path()) {
        Some(op) => ApiError::Unsupported { operation: op.name },
        None => ApiError::UnknownOperation,
    }
}

impl InvokeApi {
    fn schedule_error(&self, e: ScheduleError, function: &Function) -> ApiError {
        match e {
            ScheduleError::Throttled => ApiError::Throttled,
            ScheduleError::NotFound => ApiError::FunctionNotFound {
                arn: function.arn.clone(),
            },
            ScheduleError::ShuttingDown => ApiError::Service("the host is shutting down".into()),
        }
    }
}
