//! A handler that needs tokio: with flick's `tokio` feature each loop thread
//! drives its handler inside a current-thread tokio runtime, so tokio timers
//! (and, with tokio's `net` feature, sockets) just work.

use std::time::{Duration, Instant};

use flick::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Wait {
    ms: u64,
}

async fn wait(request: Wait, _: Context) -> Result<u64, Error> {
    let started = Instant::now();
    // Two timers at once: concurrency inside one invocation.
    let half = Duration::from_millis(request.ms / 2);
    tokio::join!(tokio::time::sleep(half), tokio::time::sleep(half));
    tokio::time::sleep(Duration::from_millis(request.ms - request.ms / 2)).await;
    Ok(started.elapsed().as_millis() as u64)
}

fn main() {
    flick::run(wait)
}
