//! Structured logs with `tracing`: every line carries the invocation's
//! `requestId` and `coldStart`, in JSON or text per `AWS_LAMBDA_LOG_FORMAT`,
//! filtered by `AWS_LAMBDA_LOG_LEVEL`. Run it with
//! `AWS_LAMBDA_MAX_CONCURRENCY=8` and lines of concurrent invocations still
//! name the right request.

use std::time::Duration;

use flick::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Work {
    tag: String,
    #[serde(default)]
    pause_ms: u64,
}

fn handle(work: Work, ctx: Context) -> Result<String, Error> {
    tracing::info!(tag = %work.tag, step = 1, "started");
    std::thread::sleep(Duration::from_millis(work.pause_ms));
    tracing::debug!(tag = %work.tag, "only shown at DEBUG");
    tracing::warn!(tag = %work.tag, step = 2, remaining_ms = ctx.remaining_time().as_millis() as u64, "finished");
    Ok(work.tag)
}

fn main() {
    flick::run_blocking(handle)
}
