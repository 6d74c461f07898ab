//! A graceful shutdown hook: when the host sends SIGTERM, the hook runs with
//! the function's state (flush buffers, close connections), then the process
//! exits 0.

use std::sync::Mutex;

use flick::{Context, Error};
use serde_json::Value;

struct State {
    /// Events seen but not yet "flushed" anywhere.
    pending: Mutex<Vec<Value>>,
}

async fn remember(state: &State, event: Value, _: Context) -> Result<usize, Error> {
    let mut pending = state.pending.lock().map_err(|_| "state lock poisoned")?;
    pending.push(event);
    Ok(pending.len())
}

fn main() {
    flick::init(|_| {
        Ok::<_, Error>(State {
            pending: Mutex::new(Vec::new()),
        })
    })
    .on_shutdown(|state| {
        let pending = state.pending.lock().map(|p| p.len()).unwrap_or(0);
        tracing::info!(pending, "shutdown hook ran: flushed pending events");
    })
    .run(remember)
}
