//! Binary bodies, cookies and repeated headers cross the event boundary both
//! ways unchanged, in payload 2.0 and 1.0. Needs feature `http`.
#![cfg(feature = "http")]

mod support;

use base64::Engine;
use serde_json::{json, Value};
use support::{example, Function, RuntimeApiServer};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn binary() -> Vec<u8> {
    (0..=255u8)
        .chain([0, 0xff, 0x89, b'P', b'N', b'G'])
        .collect()
}

fn v2(path: &str, extra: Value) -> Value {
    let mut event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"}, "stage": "$default"},
        "isBase64Encoded": false
    });
    for (k, v) in extra.as_object().unwrap() {
        event[k] = v.clone();
    }
    event
}

#[test]
fn a_binary_body_round_trips_base64_payload_2() {
    let server = RuntimeApiServer::start();
    let _f = Function::start(example("example-http-axum", "example-http-axum"), &server);
    let mut event = v2(
        "/echo",
        json!({"body": B64.encode(binary()), "isBase64Encoded": true,
        "headers": {"content-type": "application/octet-stream"}}),
    );
    event["requestContext"]["http"]["method"] = json!("POST");
    let result = server.invoke(event.to_string().as_bytes()).json();
    assert_eq!(result["isBase64Encoded"], true);
    assert_eq!(
        B64.decode(result["body"].as_str().unwrap()).unwrap(),
        binary()
    );
}

#[test]
fn a_binary_body_round_trips_base64_payload_1() {
    let server = RuntimeApiServer::start();
    let _f = Function::start(example("example-http-axum", "example-http-axum"), &server);
    let event = json!({
        "httpMethod": "POST", "path": "/echo", "resource": "/echo",
        "multiValueHeaders": {"content-type": ["image/png"]},
        "requestContext": {"stage": "$default"},
        "body": B64.encode(binary()), "isBase64Encoded": true
    });
    let result = server.invoke(event.to_string().as_bytes()).json();
    assert_eq!(result["isBase64Encoded"], true);
    assert_eq!(
        result["multiValueHeaders"]["content-type"],
        json!(["image/png"])
    );
    assert_eq!(
        B64.decode(result["body"].as_str().unwrap()).unwrap(),
        binary()
    );
}

#[test]
fn cookies_arrive_in_one_header_and_leave_as_the_cookies_array() {
    let server = RuntimeApiServer::start();
    let _f = Function::start(example("example-http-axum", "example-http-axum"), &server);
    let event = v2("/cookies", json!({"cookies": ["a=1", "b=2"]}));
    let result = server.invoke(event.to_string().as_bytes()).json();
    let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["received"], json!(["a=1", "b=2"]));
    assert_eq!(
        result["cookies"],
        json!(["session=abc; Path=/; HttpOnly", "theme=dark"])
    );
    assert!(result["headers"].get("set-cookie").is_none());
}

#[test]
fn set_cookie_values_stay_separate_in_payload_1() {
    let server = RuntimeApiServer::start();
    let _f = Function::start(example("example-http-axum", "example-http-axum"), &server);
    let event = json!({
        "httpMethod": "GET", "path": "/cookies",
        "multiValueHeaders": {"cookie": ["a=1; b=2"]},
        "requestContext": {"stage": "$default"}, "body": null, "isBase64Encoded": false
    });
    let result = server.invoke(event.to_string().as_bytes()).json();
    assert_eq!(
        result["multiValueHeaders"]["set-cookie"],
        json!(["session=abc; Path=/; HttpOnly", "theme=dark"])
    );
    let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["received"], json!(["a=1", "b=2"]));
}
