//! An axum router on Lambda with `flick::http`: the same binary answers API
//! Gateway (1.0 and 2.0), ALB and Function URL events, or plain HTTP on
//! `PORT`. Its routes show what crosses the event boundary: binary bodies,
//! cookies, repeated headers, path and query parameters, and the request
//! context in the extensions.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap};
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use flick::http::RequestContext;
use serde_json::{json, Value};

fn app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/echo", post(echo))
        .route("/items/{id}", get(item))
        .route("/cookies", get(cookies))
        .route("/headers", get(headers))
        .route("/context", get(context))
}

/// The body back, byte for byte, with its content type.
async fn echo(headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(header::HeaderValue::from_static("application/octet-stream"));
    ([(header::CONTENT_TYPE, content_type)], body)
}

async fn item(
    Path(id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Json<Value> {
    Json(json!({ "id": id, "query": query }))
}

/// The cookies received, and two set.
async fn cookies(headers: HeaderMap) -> impl IntoResponse {
    let received: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .collect();
    (
        AppendHeaders([
            (header::SET_COOKIE, "session=abc; Path=/; HttpOnly"),
            (header::SET_COOKIE, "theme=dark"),
        ]),
        Json(json!({ "received": received })),
    )
}

/// Every value of `x-multi`, and two values of `x-reply` back.
async fn headers(headers: HeaderMap) -> impl IntoResponse {
    let multi: Vec<&str> = headers
        .get_all("x-multi")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (
        AppendHeaders([("x-reply", "one"), ("x-reply", "two")]),
        Json(json!({ "x-multi": multi })),
    )
}

async fn context(
    Extension(rc): Extension<RequestContext>,
    Extension(ctx): Extension<flick::Context>,
) -> Json<Value> {
    Json(json!({
        "source": format!("{:?}", rc.source()),
        "sourceIp": rc.source_ip(),
        "routeKey": rc.route_key(),
        "stage": rc.stage(),
        "claims": rc.authorizer_claims(),
        "lambdaRequestId": ctx.request_id(),
        "function": ctx.function_name(),
    }))
}

fn main() {
    // The hook runs on SIGTERM, under Lambda (with an extension registered)
    // and on PORT alike: container platforms send it before they stop an instance.
    flick::init(|_| Ok::<_, flick::Error>(app()))
        .on_shutdown(|_| eprintln!("http-axum: shutting down"))
        .run_http()
}
