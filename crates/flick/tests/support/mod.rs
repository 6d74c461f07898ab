//! Test support: a real Runtime API server on loopback and real function
//! processes (the workspace's example binaries) talking to it. No mocks: the
//! SDK under test speaks HTTP over real sockets to this server.
//!
//! Each test file uses part of it.
#![allow(dead_code)]

pub mod function;
pub mod runtime_api;

#[allow(unused_imports)]
pub use function::{example, example_in_profile, Function};
#[allow(unused_imports)]
pub use runtime_api::{Outcome, Reported, RuntimeApiServer};

use std::time::{Duration, Instant};

/// Polls `check` until it returns `Some` or `limit` passes.
pub fn eventually<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
