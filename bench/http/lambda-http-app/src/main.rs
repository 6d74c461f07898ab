//! examples/http-axum's routes, served by `lambda_http` (the size baseline).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap};
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use lambda_http::request::RequestContext;
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

async fn echo(headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(header::HeaderValue::from_static("application/octet-stream"));
    ([(header::CONTENT_TYPE, content_type)], body)
}

async fn item(Path(id): Path<String>, Query(query): Query<BTreeMap<String, String>>) -> Json<Value> {
    Json(json!({ "id": id, "query": query }))
}

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
    Extension(ctx): Extension<lambda_http::Context>,
) -> Json<Value> {
    let (source, source_ip, route_key, stage) = match &rc {
        RequestContext::ApiGatewayV2(c) => ("HttpApi", c.http.source_ip.clone(), c.route_key.clone(), c.stage.clone()),
        RequestContext::ApiGatewayV1(c) => ("RestApi", c.identity.source_ip.clone(), c.resource_path.clone(), c.stage.clone()),
        _ => ("Other", None, None, None),
    };
    Json(json!({
        "source": source,
        "sourceIp": source_ip,
        "routeKey": route_key,
        "stage": stage,
        "lambdaRequestId": ctx.request_id,
        "function": ctx.env_config.function_name,
    }))
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(app()).await
}
