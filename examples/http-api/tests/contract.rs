//! The OpenAPI document comes from the typed routes, is served at
//! `/openapi.json`, and input that does not fit is a 400 problem naming the
//! field.

mod support;

use axum::http::StatusCode;
use support::{app, call, json_body};

#[test]
fn the_document_is_openapi_3_1_with_every_route() {
    let (status, headers, body) = call(&app(10), "GET", "/openapi.json", None, false);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let document = json_body(&body);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/items", "get"),
        ("/items", "post"),
        ("/items/{id}", "get"),
        ("/items/{id}", "delete"),
        ("/health", "get"),
    ] {
        assert!(paths[path].get(method).is_some(), "{method} {path} missing");
    }
    assert!(document["components"]["schemas"]["Problem"].is_object());
}

#[test]
fn a_mistyped_body_field_is_named() {
    let (status, headers, body) = call(
        &app(10),
        "POST",
        "/items",
        Some(r#"{"name":"a","quantity":"many"}"#),
        true,
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "application/problem+json");
    let problem = json_body(&body);
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["title"], "Bad Request");
    assert_eq!(problem["errors"][0]["in"], "body");
    assert_eq!(problem["errors"][0]["field"], "quantity");
}

#[test]
fn a_missing_body_field_is_named() {
    let (status, _, body) = call(&app(10), "POST", "/items", Some(r#"{"quantity":1}"#), true);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json_body(&body)["errors"][0]["field"], "name");
}

#[test]
fn bad_path_and_query_parameters_are_named() {
    let (status, _, body) = call(&app(10), "GET", "/items/abc", None, false);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json_body(&body)["errors"][0]["field"], "id");
    let (status, _, body) = call(&app(10), "GET", "/items?limit=-1", None, false);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let problem = json_body(&body);
    assert_eq!(problem["errors"][0]["in"], "query");
    assert_eq!(problem["errors"][0]["field"], "limit");
}
