//! One measured invocation through the Invoke API, turned into a
//! [`Sample`] or into the reason there is none: an unknown function, a
//! refusal (throttle, signature), or the function's own error, such as an
//! init that failed (`Runtime.ExitError`, `Runtime.InvalidEntrypoint`).
//!
//! Cold starts ask for the log tail (`X-Amz-Log-Type: Tail`), which holds
//! the REPORT line's Init Duration and the SDK's startup trace; warm ones do
//! not, since the host answers a Tail caller only once the runtime has asked
//! for its next event, which would add that wait to the round trip. One
//! tailed invocation after them reads the warm sandbox's peak memory.

use base64::Engine;
use bytes::Bytes;
use hyper::Method;

use super::error::BenchError;
use super::log_tail;
use super::sample::{Kind, Sample};
use super::server_timing::ServerTiming;
use crate::host_client::{Answer, HostClient};

/// Invokes `name` once with `payload`; `during` names the invocation in errors.
pub async fn invoke(
    client: &HostClient,
    name: &str,
    payload: &Bytes,
    kind: Kind,
    during: &str,
) -> Result<Sample, BenchError> {
    let (answer, log) = call(client, name, payload, kind == Kind::Cold, during).await?;
    Ok(Sample {
        kind,
        request_id: answer.header("x-amzn-requestid").map(str::to_string),
        total: answer.elapsed.as_secs_f64() * 1000.0,
        timing: ServerTiming::parse(answer.header("server-timing").unwrap_or_default()),
        report: log_tail::report(&log),
        trace: log_tail::startup_trace(&log),
    })
}

/// One more invocation, with the log tail, for REPORT's Max Memory Used: the
/// memory cgroup's peak over the warm sandbox's whole life so far.
pub async fn peak_memory(
    client: &HostClient,
    name: &str,
    payload: &Bytes,
) -> Result<Option<u64>, BenchError> {
    let (_, log) = call(client, name, payload, true, "memory reading").await?;
    Ok(log_tail::report(&log).and_then(|r| r.max_memory_used_mb))
}

/// Sends the invocation; its answer and decoded log tail, or why it failed.
async fn call(
    client: &HostClient,
    name: &str,
    payload: &Bytes,
    tail: bool,
    during: &str,
) -> Result<(Answer, String), BenchError> {
    let path = format!("/2015-03-31/functions/{name}/invocations");
    let headers: &[(&str, &str)] = match tail {
        true => &[("x-amz-log-type", "Tail")],
        false => &[],
    };
    let answer = client
        .send(Method::POST, &path, headers, payload.clone())
        .await
        .map_err(BenchError::Host)?;
    if answer.header("x-amzn-errortype") == Some("ResourceNotFoundException") {
        return Err(BenchError::UnknownFunction {
            name: name.to_string(),
            endpoint: client.endpoint().to_string(),
        });
    }
    if !answer.status.is_success() {
        return Err(BenchError::refused(&format!("invoking {name}"), &answer));
    }
    let log = log_text(&answer);
    if answer.header("x-amz-function-error").is_some() {
        return Err(failure(name, during, &answer.body, log));
    }
    Ok((answer, log))
}

/// The decoded log tail; empty when there is none or it is not base64.
fn log_text(answer: &Answer) -> String {
    answer
        .header("x-amz-log-result")
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// The function's error body (`{"errorType","errorMessage"}`) as an error.
fn failure(name: &str, during: &str, body: &[u8], log: String) -> BenchError {
    let error: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |key: &str| error.get(key).and_then(|v| v.as_str()).map(str::to_string);
    BenchError::FunctionFailed {
        name: name.to_string(),
        during: during.to_string(),
        error_type: text("errorType").unwrap_or_else(|| "Unhandled".to_string()),
        message: text("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
        log,
    }
}
