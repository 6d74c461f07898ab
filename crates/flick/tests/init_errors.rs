//! Init failures never panic: bad configuration or a bad runtime environment
//! is reported through `/init/error` with every problem listed, then the
//! process exits 1.

mod support;

use std::time::Duration;

use support::{example, Function, RuntimeApiServer};

const PATIENCE: Duration = Duration::from_secs(20);

#[test]
fn bad_configuration_lists_every_bad_variable_in_one_init_error() {
    let server = RuntimeApiServer::start();
    let mut function = Function::builder(
        example("example-typed-config", "example-typed-config"),
        &server,
    )
    .env("PORT", "eighty")
    .env("MODE", "reckless")
    .env("VERBOSE", "maybe")
    .spawn();
    let error = server.wait_init_error(PATIENCE).expect("an init error");
    assert_eq!(error.error_type_header.as_deref(), Some("InvalidConfig"));
    assert_eq!(error.body["errorType"], "InvalidConfig");
    let message = error.body["errorMessage"].as_str().unwrap();
    for needle in [
        "TABLE_NAME is not set",
        "PORT must be a whole number from 0 to 65535",
        "MODE: unknown variant `reckless`",
        "VERBOSE must be true or false",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from {message}"
        );
    }
    assert!(
        !message.contains("REGION"),
        "optional variables are not required: {message}"
    );
    assert_eq!(function.wait_exit(PATIENCE).and_then(|s| s.code()), Some(1));
}

#[test]
fn good_configuration_reaches_the_handler() {
    let server = RuntimeApiServer::start();
    let _function = Function::builder(
        example("example-typed-config", "example-typed-config"),
        &server,
    )
    .env("TABLE_NAME", "orders")
    .env("PORT", "8080")
    .env("MODE", "safe")
    .spawn();
    let config = server.invoke(b"{}").json();
    assert_eq!(
        config,
        serde_json::json!({"table_name":"orders","port":8080,"mode":"safe","verbose":false,"region":null})
    );
}

#[test]
fn a_malformed_runtime_environment_is_an_init_error_not_a_panic() {
    let server = RuntimeApiServer::start();
    let mut function = Function::builder(example("example-echo", "example-echo"), &server)
        .without("AWS_LAMBDA_FUNCTION_NAME")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots")
        .env("AWS_LAMBDA_MAX_CONCURRENCY", "-2")
        .spawn();
    let error = server.wait_init_error(PATIENCE).expect("an init error");
    assert_eq!(error.body["errorType"], "Runtime.InvalidEnvironment");
    let message = error.body["errorMessage"].as_str().unwrap();
    for needle in [
        "AWS_LAMBDA_FUNCTION_NAME is not set",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be a positive whole number",
        "AWS_LAMBDA_MAX_CONCURRENCY must be a positive whole number",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from {message}"
        );
    }
    assert_eq!(function.wait_exit(PATIENCE).and_then(|s| s.code()), Some(1));
    assert!(!function.lines().iter().any(|l| l.contains("panicked")));
}

#[test]
fn without_a_runtime_api_the_process_says_why_and_exits_non_zero() {
    let server = RuntimeApiServer::start();
    let mut function = Function::builder(example("example-echo", "example-echo"), &server)
        .without("AWS_LAMBDA_RUNTIME_API")
        .spawn();
    assert_eq!(function.wait_exit(PATIENCE).and_then(|s| s.code()), Some(1));
    let lines = function.lines().join("\n");
    assert!(
        lines.contains("AWS_LAMBDA_RUNTIME_API is not set"),
        "{lines}"
    );
    assert!(!lines.contains("panicked"), "{lines}");
}
