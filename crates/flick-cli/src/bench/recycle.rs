//! Making the next invocation a cold start, through the host's management
//! API: `POST /_flick/functions/NAME/recycle` retires the function's
//! sandboxes (idle ones at once, a busy one when its invocation ends) and
//! answers how many the function had, `{"function","sandboxes"}`, or 404
//! for an unknown function.
//!
//! A sandbox still finishing an invocation (a warm answer comes before its
//! runtime asks for the next event) stays counted until it is gone, so the
//! call is repeated until it answers 0, and then the host is left a moment
//! to settle before the cold start is measured.

use std::time::Duration;

use bytes::Bytes;
use hyper::{Method, StatusCode};
use tokio::time::{sleep, Instant};

use super::error::BenchError;
use crate::host_client::HostClient;

/// How long to wait for busy sandboxes to finish before measuring anyway
/// (provisioned sandboxes are replaced at once, so they never reach 0).
const RETIRE_WAIT: Duration = Duration::from_secs(1);
/// The first pause between calls, doubled after each: a busy sandbox is
/// done in a few milliseconds, and each call on a provisioned function
/// replaces its sandboxes once more.
const RETIRE_POLL: Duration = Duration::from_millis(2);
/// A pause before the cold start, so that neither the retired runtime's
/// exit nor the host's refill of prepared sandboxes (a cgroup move waits
/// 10–20 ms for RCU) runs beside it and is measured as part of it.
const SETTLE: Duration = Duration::from_millis(50);

/// Retires every sandbox of `name` and waits until they are gone.
pub async fn recycle(client: &HostClient, name: &str) -> Result<(), BenchError> {
    let deadline = Instant::now() + RETIRE_WAIT;
    let mut pause = RETIRE_POLL;
    while recycle_once(client, name).await? > 0 && Instant::now() < deadline {
        sleep(pause).await;
        pause *= 2;
    }
    sleep(SETTLE).await;
    Ok(())
}

/// One recycle call: how many sandboxes the function had.
async fn recycle_once(client: &HostClient, name: &str) -> Result<u64, BenchError> {
    let path = format!("/_flick/functions/{name}/recycle");
    let answer = client
        .send(Method::POST, &path, &[], Bytes::new())
        .await
        .map_err(BenchError::Host)?;
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    match answer.status {
        StatusCode::OK => body["sandboxes"].as_u64().ok_or_else(|| {
            BenchError::Host(format!(
                "recycling {name}: the host answered {} instead of {{\"function\",\"sandboxes\"}}",
                String::from_utf8_lossy(&answer.body)
            ))
        }),
        // The HTTP gateway's own 404: the host has no management API.
        StatusCode::NOT_FOUND if body["message"] == "Not Found" => Err(BenchError::Host(format!(
            "the host at {} has no {path} (it predates flick bench): cannot make cold starts",
            client.endpoint()
        ))),
        StatusCode::NOT_FOUND => Err(BenchError::UnknownFunction {
            name: name.to_string(),
            endpoint: client.endpoint().to_string(),
        }),
        _ => Err(BenchError::refused(&format!("recycling {name}"), &answer)),
    }
}
