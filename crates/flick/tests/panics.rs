//! A panicking handler fails only its own invocation: the Runtime API gets a
//! `Panic` error with the panic message, and the sandbox keeps serving. Under
//! `panic = "abort"` (the size profile) the hook reports the error, then the
//! process ends and the host replaces the sandbox.

mod support;

use std::time::Duration;

use support::{eventually, example, example_in_profile, Function, RuntimeApiServer};

#[test]
fn a_panic_is_that_invocations_error_and_the_sandbox_keeps_serving() {
    let server = RuntimeApiServer::start();
    let mut function = Function::start(
        example("example-error-kinds", "example-error-kinds"),
        &server,
    );
    for _ in 0..3 {
        let error = server.invoke(br#"{"fail":"panic"}"#).error().clone();
        assert_eq!(error.body["errorType"], "Panic");
        let message = error.body["errorMessage"].as_str().unwrap();
        assert!(message.contains("the handler hit a bug"), "{message}");
        assert_eq!(server.invoke(b"{}").json(), "ok");
    }
    assert!(function.is_running());
    // The output is read on other threads: give the line a moment to arrive.
    let logged = eventually(Duration::from_secs(5), || {
        let lines = function.lines();
        lines
            .iter()
            .any(|l| l.contains("the handler hit a bug"))
            .then_some(())
    });
    assert!(logged.is_some(), "{:?}", function.lines());
}

#[test]
fn with_panic_abort_the_panic_is_still_reported_before_the_process_ends() {
    let server = RuntimeApiServer::start();
    let binary = example_in_profile("lambda", "example-error-kinds", "example-error-kinds");
    let mut function = Function::start(binary, &server);
    assert_eq!(server.invoke(b"{}").json(), "ok");
    let error = server.invoke(br#"{"fail":"panic"}"#).error().clone();
    assert_eq!(error.body["errorType"], "Panic");
    let message = error.body["errorMessage"].as_str().unwrap();
    assert!(message.contains("the handler hit a bug"), "{message}");
    let status = function
        .wait_exit(Duration::from_secs(10))
        .expect("the process ends");
    assert!(!status.success());
}
