//! One router, many routes, shared middleware: authentication of writes,
//! CORS, and the request id taken from the invocation's context.

mod support;

use axum::http::{Request, StatusCode};
use support::{app, call, json_body, send};

#[test]
fn writes_need_the_token_and_reads_do_not() {
    let app = app(10);
    let (status, headers, body) = call(
        &app,
        "POST",
        "/items",
        Some(r#"{"name":"a","quantity":1}"#),
        false,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(json_body(&body)["status"], 401);
    assert_eq!(
        call(&app, "DELETE", "/items/1", None, false).0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&app, "GET", "/items", None, false).0, StatusCode::OK);
    assert_eq!(call(&app, "GET", "/health", None, false).0, StatusCode::OK);
}

#[test]
fn cors_preflight_is_answered_for_every_route() {
    let app = app(10);
    let request = Request::builder()
        .method("OPTIONS")
        .uri("/items/1")
        .header("origin", "https://example.com")
        .header("access-control-request-method", "DELETE")
        .body(flick::http::Body::default())
        .unwrap();
    let (status, headers, _) = send(&app, request);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], "*");
}

#[test]
fn the_request_id_is_the_invocations() {
    let app = app(10);
    let mut request = Request::builder()
        .uri("/health")
        .body(flick::http::Body::default())
        .unwrap();
    let context = flick::testing::context().request_id("req-42").build();
    request.extensions_mut().insert(context);
    let (status, headers, _) = send(&app, request);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-request-id"], "req-42");
}
