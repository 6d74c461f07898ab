//! State and dependencies are built once, from configuration, and injected:
//! two apps never share data, and the configured limit holds.

mod support;

use axum::http::StatusCode;
use support::{app, call, json_body};

#[test]
fn each_app_has_its_own_state() {
    let first = app(10);
    let second = app(10);
    let (status, _, _) = call(
        &first,
        "POST",
        "/items",
        Some(r#"{"name":"a","quantity":1}"#),
        true,
    );
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, body) = call(&first, "GET", "/items", None, false);
    assert_eq!(json_body(&body).as_array().unwrap().len(), 1);
    let (_, _, body) = call(&second, "GET", "/items", None, false);
    assert_eq!(json_body(&body).as_array().unwrap().len(), 0);
}

#[test]
fn the_configured_limit_holds() {
    let app = app(1);
    let item = Some(r#"{"name":"a","quantity":1}"#);
    assert_eq!(
        call(&app, "POST", "/items", item, true).0,
        StatusCode::CREATED
    );
    let (status, _, body) = call(&app, "POST", "/items", item, true);
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_body(&body)["detail"], "the store is full");
}
