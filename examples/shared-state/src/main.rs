//! State built once at init and shared with every invocation, with prewarm
//! tasks that run concurrently during init. The startup trace (one log line on
//! the cold start) shows each phase, including `prewarm.pool` and
//! `prewarm.cache`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use flick::{Context, Error, Init};
use serde::Serialize;

struct State {
    invocations: AtomicU64,
    cache: Arc<Mutex<Vec<String>>>,
}

#[derive(Serialize)]
struct Reply {
    invocation: u64,
    cached: usize,
}

fn init(init: &mut Init) -> Result<State, Error> {
    let cache = Arc::new(Mutex::new(Vec::new()));
    // Stand-ins for opening a pool and filling a cache: each takes a while,
    // and they overlap.
    init.prewarm("pool", pause(Duration::from_millis(30)));
    let filling = Arc::clone(&cache);
    init.prewarm("cache", async move {
        pause(Duration::from_millis(20)).await?;
        filling
            .lock()
            .map_err(|_| "cache lock poisoned")?
            .push("greeting".into());
        Ok::<(), Error>(())
    });
    Ok(State {
        invocations: AtomicU64::new(0),
        cache,
    })
}

/// Sleeps on a helper thread that wakes the task, so the prewarm tasks really
/// overlap without any runtime (a real function would await its client).
async fn pause(duration: Duration) -> Result<(), Error> {
    let shared: Arc<Mutex<(bool, Option<Waker>)>> = Arc::default();
    let timer = Arc::clone(&shared);
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        let mut timer = timer.lock().unwrap_or_else(|e| e.into_inner());
        timer.0 = true;
        if let Some(waker) = timer.1.take() {
            waker.wake();
        }
    });
    std::future::poll_fn(|cx| {
        let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 {
            Poll::Ready(Ok(()))
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await
}

async fn handle(state: &State, _event: serde::de::IgnoredAny, _: Context) -> Result<Reply, Error> {
    let invocation = state.invocations.fetch_add(1, Ordering::Relaxed) + 1;
    let cached = state.cache.lock().map_err(|_| "cache lock poisoned")?.len();
    Ok(Reply { invocation, cached })
}

fn main() {
    flick::init(init).run(handle)
}
