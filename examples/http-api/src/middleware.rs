//! The layers every route shares: request id, CORS, access log (around the
//! whole router) and bearer authentication of writes (inside it, with the
//! state).

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flick::http::openapi::Problem;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::state::AppState;

/// The router with request id, CORS and access log around it.
pub(crate) fn around(router: axum::Router) -> axum::Router {
    router
        .layer(axum::middleware::from_fn(access_log))
        .layer(CorsLayer::permissive())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(LambdaRequestId))
}

/// Writes (anything but GET, HEAD, OPTIONS) need `Authorization: Bearer <API_TOKEN>`.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given == Some(&*state.token) {
        next.run(request).await
    } else {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "a bearer token is needed to write",
        )
        .into_response()
    }
}

/// One log line per request, with the request id flick stamps on it.
async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// The request id is the invocation's (`flick::Context`, there under Lambda
/// and on `PORT` alike), so that it matches the request id on the log lines.
#[derive(Clone)]
struct LambdaRequestId;

impl MakeRequestId for LambdaRequestId {
    fn make_request_id<B>(&mut self, request: &axum::http::Request<B>) -> Option<RequestId> {
        let context = request.extensions().get::<flick::Context>()?;
        HeaderValue::from_str(context.request_id())
            .ok()
            .map(RequestId::new)
    }
}
