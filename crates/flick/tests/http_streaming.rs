//! Response streaming under a real Runtime API: a chunked `/response` in
//! streaming mode whose body is the HTTP integration prelude, 8 NUL bytes
//! and the frames; a body that fails midway ends with the error in the
//! trailers, and the sandbox serves on. Needs feature `http`.
#![cfg(feature = "http")]

mod support;

use serde_json::{json, Value};
use support::{example, Function, Outcome, RuntimeApiServer};

fn event(path: &str) -> Vec<u8> {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {}, "isBase64Encoded": false,
        "requestContext": {"http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"},
                           "domainName": "x.lambda-url.us-east-1.on.aws", "stage": "$default"}
    })
    .to_string()
    .into_bytes()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_streamed_response_is_a_prelude_then_the_frames() {
    let server = RuntimeApiServer::start();
    let _f = Function::start(
        example("example-http-streaming", "example-http-streaming"),
        &server,
    );
    let id = server.send(&event("/stream"));
    let Outcome::Response(body) = server.wait(&id) else {
        panic!("expected a response")
    };
    let headers = server.answer_headers(&id);
    assert_eq!(
        header(&headers, "Lambda-Runtime-Function-Response-Mode"),
        Some("streaming")
    );
    assert_eq!(header(&headers, "Transfer-Encoding"), Some("chunked"));
    assert_eq!(
        header(&headers, "Content-Type"),
        Some("application/vnd.awslambda.http-integration-response")
    );
    let split = body
        .windows(8)
        .position(|w| w == [0; 8])
        .expect("8 NUL bytes");
    let prelude: Value = serde_json::from_slice(&body[..split]).unwrap();
    assert_eq!(prelude["statusCode"], 200);
    assert_eq!(prelude["headers"]["content-type"], "text/plain");
    assert_eq!(prelude["cookies"], json!(["seen=1"]));
    assert_eq!(&body[split + 8..], b"one\ntwo\nthree\n");
}

#[test]
fn a_body_that_fails_midway_ends_with_error_trailers() {
    let server = RuntimeApiServer::start();
    let _f = Function::start(
        example("example-http-streaming", "example-http-streaming"),
        &server,
    );
    let error = server.invoke(&event("/fail")).error().clone();
    assert_eq!(error.error_type_header.as_deref(), Some("StreamError"));
    assert_eq!(error.body["errorType"], "StreamError");
    let message = error.body["errorMessage"].as_str().unwrap();
    assert!(message.contains("the source went away"), "{message}");
    // The sandbox serves on.
    let id = server.send(&event("/stream"));
    assert!(matches!(server.wait(&id), Outcome::Response(_)));
}
