//! Calls the example's router in-process, the way `flick::http` does.
#![allow(dead_code)]

use std::collections::HashMap;

use axum::http::{Request, StatusCode};
use example_http_api::{AppState, Config};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const TOKEN: &str = "secret";

pub fn app(max_items: usize) -> axum::Router {
    example_http_api::app(AppState::new(Config {
        api_token: TOKEN.into(),
        max_items,
    }))
}

pub fn send(
    app: &axum::Router,
    request: Request<flick::http::Body>,
) -> (StatusCode, HashMap<String, String>, Vec<u8>) {
    flick::testing::block_on(async {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    })
}

pub fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    json: Option<&str>,
    authorized: bool,
) -> (StatusCode, HashMap<String, String>, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(path);
    if json.is_some() {
        request = request.header("content-type", "application/json");
    }
    if authorized {
        request = request.header("authorization", format!("Bearer {TOKEN}"));
    }
    let body = flick::http::Body::from(json.unwrap_or_default().to_owned());
    send(app, request.body(body).unwrap())
}

pub fn json_body(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}
