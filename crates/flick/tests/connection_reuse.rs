//! The Runtime API client keeps one connection alive across invocations, and
//! reconnects transparently when the server has closed it in between.

mod support;

use support::{example, Function, RuntimeApiServer};

#[test]
fn one_connection_serves_every_invocation() {
    let server = RuntimeApiServer::start();
    let _function = Function::start(example("example-echo", "example-echo"), &server);
    for i in 0..50 {
        assert_eq!(server.invoke(format!("{i}").as_bytes()).json(), i);
    }
    assert_eq!(server.connections(), 1);
}

#[test]
fn a_connection_closed_by_the_server_is_reopened() {
    let server = RuntimeApiServer::start_closing_connections();
    let mut function = Function::start(example("example-echo", "example-echo"), &server);
    for i in 0..20 {
        assert_eq!(server.invoke(format!("{i}").as_bytes()).json(), i);
    }
    assert!(function.is_running());
    // A /next and a /response per invocation, each on its own connection.
    assert!(server.connections() >= 40, "{}", server.connections());
}
