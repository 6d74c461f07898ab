//! Durable requests that reach a host which does not run the durable
//! executions. With several hosts on one PostgreSQL store, one of them
//! leads (`durable::leader`), and a load balancer may send a durable
//! request (starting an execution, a checkpoint, a callback, a read) to any
//! of them: the others pass it on to the leader as it came, signature and
//! `Host` included, so the leader checks it as if it had been sent there,
//! and pass its answer back as it comes. A request that was passed on once
//! is never passed on again; while no leader is known, the answer is a
//! `ServiceException`, which the SDKs retry.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{ApiError, InvokeApi};
use crate::durable::Route;
use crate::function::Caller;

/// Marks a request passed on, naming the host that did.
const FORWARDED_BY: &str = "x-flick-forwarded-by";

/// Headers of one connection, not of the request or answer they carry
/// (RFC 9110, 7.6.1); those a `Connection` header names are too.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The HTTP client requests are passed on with.
pub struct Forwarder {
    client: Client<HttpConnector, Body>,
    /// This host, as the mark names it.
    host: HeaderValue,
}

impl Forwarder {
    pub fn new(host: &str) -> Forwarder {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        // A synchronous invoke may wait 15 minutes for its answer, so no
        // limit on the whole request; a leader whose machine vanished is
        // found out by the keepalives instead (within about 30 s).
        connector.set_keepalive(Some(Duration::from_secs(15)));
        connector.set_keepalive_interval(Some(Duration::from_secs(5)));
        connector.set_keepalive_retries(Some(3));
        Forwarder {
            client: Client::builder(TokioExecutor::new()).build(connector),
            host: HeaderValue::from_str(host).unwrap_or(HeaderValue::from_static("host")),
        }
    }

    /// Sends `req` to the leader at `leader` (`http://host:port`) and
    /// streams its answer back.
    async fn send(&self, leader: &str, req: Request) -> Result<Response, ApiError> {
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = format!("{leader}{path}").parse().map_err(|_| {
            ApiError::Service(format!("the leading host's URL `{leader}` is not usable"))
        })?;
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.insert(FORWARDED_BY, self.host.clone());
        let resp = self
            .client
            .request(Request::from_parts(parts, body))
            .await
            .map_err(|e| {
                ApiError::Service(format!(
                    "the host that runs the durable executions ({leader}) did not answer: {e}"
                ))
            })?;
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        headers.remove(name);
    }
}

/// Serves a durable request here when this host leads, else passes it on.
/// A function's own request (from a sandbox, signed with the key this host
/// made for it) is not passed on: the leader neither knows the key nor runs
/// that invocation, which was this host's while it led.
pub async fn to_leader(State(api): State<Arc<InvokeApi>>, req: Request, next: Next) -> Response {
    let route = api.durable.route();
    if matches!(route, Route::Here(_)) || !is_durable(&api, &req) {
        return next.run(req).await;
    }
    let from_a_function = req.extensions().get::<Caller>().is_some();
    match route {
        Route::There(leader) if from_a_function => ApiError::Service(format!(
            "this host no longer runs the durable executions ({leader} does): \
             the invocation this request belongs to is run again there"
        ))
        .into_response(),
        Route::There(leader) if !req.headers().contains_key(FORWARDED_BY) => api
            .forwarder
            .send(&leader, req)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        _ => ApiError::Service(
            "no host runs the durable executions just now (the lead is changing hands); try again"
                .into(),
        )
        .into_response(),
    }
}

/// The durable API's operations (all of API version 2025-12-01), and
/// invocations of durable functions, which start executions.
fn is_durable(api: &InvokeApi, req: &Request) -> bool {
    let path = req.uri().path();
    if path.starts_with("/2025-12-01/") {
        return true;
    }
    let invokes = req.method() == Method::POST
        && path.starts_with("/2015-03-31/functions/")
        && path.ends_with("/invocations");
    let dry_run = req
        .headers()
        .get("x-amz-invocation-type")
        .is_some_and(|t| t == "DryRun");
    invokes
        && !dry_run
        && api
            .resolve(req.uri(), 1, true)
            .is_ok_and(|f| f.config.durable.is_some())
}
