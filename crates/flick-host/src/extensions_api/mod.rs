//! The Extensions API (2020-01-01), served on each sandbox's Runtime API
//! address next to the Runtime API.
//!
//! Owns the HTTP face: routes, headers, and Lambda's answers to wrong
//! requests (403 with `{"errorMessage","errorType"}` for all of them, as
//! AWS's Runtime Interface Emulator answers). The state behind it is the
//! sandbox's [`Registry`]; the Telemetry and Logs APIs' subscriptions go to
//! its [`telemetry`] hub.

pub mod registry;
pub mod telemetry;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use bytes::Bytes;
use serde_json::json;

use registry::ApiError;
pub use registry::{FunctionInfo, Registry};

/// Register bodies and error reports are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

const IDENTIFIER: &str = "lambda-extension-identifier";

/// The Extensions API's routes for one sandbox.
pub fn routes(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/2020-01-01/extension/register", post(register))
        .route("/2020-01-01/extension/event/next", get(next))
        .route("/2020-01-01/extension/init/error", post(init_error))
        .route("/2020-01-01/extension/exit/error", post(exit_error))
        .route("/2022-07-01/telemetry", put(subscribe_telemetry))
        .route("/2020-08-15/logs", put(subscribe_logs))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(registry)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn register(State(r): State<Arc<Registry>>, headers: HeaderMap, body: Bytes) -> Response {
    let name = header(&headers, "lambda-extension-name").unwrap_or_default();
    let features = header(&headers, "lambda-extension-accept-feature").unwrap_or_default();
    match r.register(name, features, &body) {
        Ok(ok) => {
            let mut response = axum::Json(ok.body).into_response();
            if let Ok(id) = HeaderValue::from_str(&ok.id) {
                response.headers_mut().insert(IDENTIFIER, id);
            }
            response
        }
        Err(e) => forbidden(e),
    }
}

async fn next(State(r): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    let id = header(&headers, IDENTIFIER);
    if let Err(e) = r.known(id) {
        return forbidden(e);
    }
    match r.next(id.unwrap_or_default()).await {
        Ok(event) => {
            let mut response = axum::Json(event).into_response();
            let event_id = crate::ids::uuid().to_string();
            if let Ok(v) = HeaderValue::from_str(&event_id) {
                response
                    .headers_mut()
                    .insert("lambda-extension-event-identifier", v);
            }
            response
        }
        Err(e) => forbidden(e),
    }
}

async fn init_error(State(r): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    report(&r, &headers, false)
}

async fn exit_error(State(r): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    report(&r, &headers, true)
}

fn report(r: &Registry, headers: &HeaderMap, exit: bool) -> Response {
    let id = header(headers, IDENTIFIER);
    let error_type = header(headers, "lambda-extension-function-error-type");
    match r
        .known(id)
        .and_then(|()| r.report_error(id.unwrap_or_default(), exit, error_type))
    {
        Ok(()) => (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response(),
        Err(e) => forbidden(e),
    }
}

async fn subscribe_telemetry(
    State(r): State<Arc<Registry>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    subscribe(&r, &headers, telemetry::Api::Telemetry, &body)
}

async fn subscribe_logs(
    State(r): State<Arc<Registry>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    subscribe(&r, &headers, telemetry::Api::Logs, &body)
}

fn subscribe(r: &Registry, headers: &HeaderMap, api: telemetry::Api, body: &[u8]) -> Response {
    let id = header(headers, IDENTIFIER);
    if let Err(e) = r.known(id) {
        return forbidden(e);
    }
    let name = r.name_of(id.unwrap_or_default()).unwrap_or_default();
    match r.telemetry.subscribe(api, &name, body) {
        // Lambda answers with the JSON string "OK".
        Ok(()) => axum::Json("OK").into_response(),
        Err(refused) => {
            let status = StatusCode::from_u16(refused.status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = json!({"errorMessage": refused.message, "errorType": refused.error_type});
            (status, axum::Json(body)).into_response()
        }
    }
}

fn forbidden(e: ApiError) -> Response {
    let body = json!({"errorMessage": e.message, "errorType": e.error_type});
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}
