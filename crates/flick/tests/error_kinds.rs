//! Each error kind as the Runtime API sees it: `errorType` chosen by the
//! author or the kind's name, `errorMessage` the display chain, `stackTrace`
//! the source chain; a `Fatal` error ends the process after the report.

mod support;

use std::time::Duration;

use support::{example, Function, RuntimeApiServer};

fn start() -> (RuntimeApiServer, Function) {
    let server = RuntimeApiServer::start();
    let function = Function::start(
        example("example-error-kinds", "example-error-kinds"),
        &server,
    );
    (server, function)
}

#[test]
fn a_client_error_carries_the_authors_error_type() {
    let (server, mut function) = start();
    let error = server.invoke(br#"{"fail":"client"}"#).error().clone();
    assert_eq!(error.error_type_header.as_deref(), Some("InvalidOrder"));
    assert_eq!(
        error.body,
        serde_json::json!({
            "errorType": "InvalidOrder",
            "errorKind": "Client",
            "errorMessage": "order id must not be empty",
            "stackTrace": ["order id must not be empty"],
        })
    );
    assert!(function.is_running());
}

#[test]
fn a_transient_error_is_named_after_its_kind() {
    let (server, mut function) = start();
    let error = server.invoke(br#"{"fail":"transient"}"#).error().clone();
    assert_eq!(error.body["errorType"], "Transient");
    assert_eq!(error.body["errorKind"], "Transient");
    assert_eq!(error.body["errorMessage"], "inventory service answered 503");
    assert_eq!(server.invoke(b"{}").json(), "ok");
    assert!(function.is_running());
}

#[test]
fn std_and_anyhow_errors_convert_with_their_chains_and_no_rust_type_paths() {
    let (server, _function) = start();
    let io = server.invoke(br#"{"fail":"io"}"#).error().clone();
    assert_eq!(io.body["errorType"], "Transient");
    assert!(
        io.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("No such file"),
        "{:?}",
        io.body
    );

    let anyhow = server.invoke(br#"{"fail":"anyhow"}"#).error().clone();
    assert_eq!(anyhow.body["errorType"], "Transient");
    assert_eq!(
        anyhow.body["errorMessage"],
        "loading the order: reading the order number: invalid digit found in string"
    );
    assert_eq!(
        anyhow.body["stackTrace"],
        serde_json::json!([
            "loading the order",
            "reading the order number",
            "invalid digit found in string"
        ])
    );
    for body in [&io.body, &anyhow.body] {
        assert!(!body.to_string().contains("::"), "type path leaked: {body}");
    }
}

#[test]
fn a_fatal_error_is_reported_then_the_process_exits_non_zero() {
    let (server, mut function) = start();
    let error = server.invoke(br#"{"fail":"fatal"}"#).error().clone();
    assert_eq!(error.body["errorType"], "Fatal");
    assert_eq!(error.body["errorMessage"], "database pool is poisoned");
    let status = function
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits");
    assert_eq!(status.code(), Some(1));
}
