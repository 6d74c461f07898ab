//! The runtime loop allocates nothing per invocation in steady state: a
//! bytes-in, bytes-out function built with a counting allocator answers the
//! event `allocations?` with its allocation count, which must not move across
//! 1,000 invocations once the buffers have grown.

mod support;

use support::{example, Function, Outcome, RuntimeApiServer};

fn allocations(server: &RuntimeApiServer) -> u64 {
    match server.invoke(b"allocations?") {
        Outcome::Response(body) => String::from_utf8(body).unwrap().parse().unwrap(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_thousand_bytes_invocations_allocate_nothing() {
    let server = RuntimeApiServer::start();
    let _function = Function::start(example("example-bytes-echo", "alloc-probe"), &server);
    let payload = vec![b'x'; 4096];
    // Warm up: buffers grow to the largest message.
    for _ in 0..50 {
        server.invoke(&payload);
    }
    let before = allocations(&server);
    assert!(before > 0, "the probe counts allocations (init makes some)");
    for _ in 0..1000 {
        match server.invoke(&payload) {
            Outcome::Response(body) => assert_eq!(body.len(), payload.len()),
            other => panic!("unexpected {other:?}"),
        }
    }
    let after = allocations(&server);
    assert_eq!(
        after - before,
        0,
        "{} allocations in 1,000 invocations",
        after - before
    );
}
