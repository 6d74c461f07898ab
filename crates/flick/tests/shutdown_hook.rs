//! The graceful shutdown hook: SIGTERM runs it with the function's state, then
//! the process exits 0.

mod support;

use std::time::Duration;

use support::{eventually, example, Function, RuntimeApiServer};

#[test]
fn sigterm_runs_the_hook_with_the_state_then_exits_zero() {
    let server = RuntimeApiServer::start();
    let mut function = Function::builder(
        example("example-shutdown-hook", "example-shutdown-hook"),
        &server,
    )
    .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
    .spawn();
    assert_eq!(server.invoke(b"1").json(), 1);
    assert_eq!(server.invoke(b"2").json(), 2);
    // The process is now blocked in its /next long poll, as at a real shutdown.
    server
        .wait_next_requests(3, Duration::from_secs(10))
        .expect("third /next");
    function.terminate();
    let status = function
        .wait_exit(Duration::from_secs(5))
        .expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    let hook = eventually(Duration::from_secs(2), || {
        function
            .json_lines()
            .into_iter()
            .find(|l| l["message"] == "shutdown hook ran: flushed pending events")
    })
    .expect("the hook logged");
    assert_eq!(hook["pending"], 2);
}

#[test]
fn without_a_hook_sigterm_keeps_its_default_action() {
    let server = RuntimeApiServer::start();
    let mut function = Function::start(example("example-echo", "example-echo"), &server);
    server
        .wait_next_requests(1, Duration::from_secs(10))
        .expect("first /next");
    function.terminate();
    let status = function
        .wait_exit(Duration::from_secs(5))
        .expect("exits on SIGTERM");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}
