//! Typed handlers against a real Runtime API: JSON in and out, bytes in and
//! out, the plain `fn` form, and every `Context` field.

mod support;

use support::{example, Function, Outcome, RuntimeApiServer};

#[test]
fn an_async_json_handler_echoes_many_events_on_one_process() {
    let server = RuntimeApiServer::start();
    let _function = Function::start(example("example-echo", "example-echo"), &server);
    for i in 0..20 {
        let event = format!(r#"{{"n":{i},"text":"héllo","list":[1,2,{{"deep":null}}]}}"#);
        let answer = server.invoke(event.as_bytes()).json();
        assert_eq!(
            answer,
            serde_json::from_str::<serde_json::Value>(&event).unwrap()
        );
    }
}

#[test]
fn a_bytes_handler_returns_the_payload_untouched() {
    let server = RuntimeApiServer::start();
    let _function = Function::start(example("example-bytes-echo", "example-bytes-echo"), &server);
    let large: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for payload in [&b"not json at all"[..], b"", &large] {
        match server.invoke(payload) {
            Outcome::Response(body) => assert_eq!(body, payload),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn an_event_that_does_not_fit_the_type_is_a_client_error() {
    let server = RuntimeApiServer::start();
    let _function = Function::start(
        example("example-error-kinds", "example-error-kinds"),
        &server,
    );
    let error = server.invoke(br#"{"fail": 42}"#).error().clone();
    assert_eq!(error.body["errorType"], "InvalidEvent");
    assert_eq!(error.body["errorKind"], "Client");
    // And the sandbox goes on serving.
    assert_eq!(server.invoke(b"{}").json(), "ok");
}

#[test]
fn the_context_carries_every_invocation_and_function_fact() {
    let server = RuntimeApiServer::start();
    let _function = Function::start(
        example("example-context-info", "example-context-info"),
        &server,
    );
    let client_context = r#"{"client":{"app_title":"t"},"custom":{"k":"v"},"env":{}}"#;
    let cognito = r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#;
    let first = server.send_with_headers(
        b"{}",
        &[
            ("Lambda-Runtime-Client-Context", client_context),
            ("Lambda-Runtime-Cognito-Identity", cognito),
        ],
    );
    let info = server.wait(&first).json();
    assert_eq!(info["request_id"], first.as_str());
    assert_eq!(
        info["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    );
    assert!(info["trace_id"].as_str().unwrap().starts_with("Root=1-"));
    assert_eq!(info["client_context"], client_context);
    assert_eq!(info["cognito_identity"], cognito);
    assert_eq!(info["function_name"], "test-function");
    assert_eq!(info["function_version"], "$LATEST");
    assert_eq!(info["memory_mb"], 128);
    let remaining = info["remaining_ms"].as_u64().unwrap();
    assert!((25_000..=30_000).contains(&remaining), "{remaining}");
    assert_eq!(info["cold_start"], true);

    let second = server.invoke(b"{}").json();
    assert_eq!(second["cold_start"], false);
    assert_eq!(second["client_context"], serde_json::Value::Null);
}

#[test]
fn with_the_tokio_feature_handlers_can_use_tokio_timers() {
    let server = RuntimeApiServer::start();
    let _function = Function::start(
        example("example-tokio-handler", "example-tokio-handler"),
        &server,
    );
    let waited = server.invoke(br#"{"ms":40}"#).json().as_u64().unwrap();
    assert!((40..1000).contains(&waited), "{waited}");
}
