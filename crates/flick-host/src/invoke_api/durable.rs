//! The durable-execution operations of the Lambda API (2025-12-01): the
//! checkpoint service the SDKs call from inside a function
//! (`CheckpointDurableExecution`, `GetDurableExecutionState`), the control
//! plane (`GetDurableExecution`, `GetDurableExecutionHistory`,
//! `ListDurableExecutionsByFunction`, `StopDurableExecution`,
//! `PauseDurableExecution`, `ResumeDurableExecution`,
//! `DeleteDurableExecution`), and callbacks
//! (`SendDurableExecutionCallbackSuccess`/`Failure`/`Heartbeat`).
//!
//! Owns the wire: path and query members, bodies, answers with epoch-second
//! timestamps, and the service's error types. What the operations do is the
//! `durable` module's. Starting an execution is `Invoke`'s ([`super::invoke`]).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::payload::{self, MAX_SYNC_PAYLOAD};
use super::{ApiError, InvokeApi};
use crate::durable::engine::{page, parse_marker};
use crate::durable::execution::Execution;
use crate::durable::history;
use crate::durable::model::{seconds, seconds_timestamps, ExecStatus, OperationUpdate};
use crate::durable::progress::Outcome;
use crate::durable::DurableError;
use crate::function::Caller;

/// The largest page a caller may ask for, and the size of one it does not size.
const MAX_ITEMS: usize = 1000;
const DEFAULT_ITEMS: usize = 100;
/// The largest callback result, in bytes.
const MAX_CALLBACK_RESULT: usize = 1024 * 1024;

impl From<DurableError> for ApiError {
    fn from(e: DurableError) -> ApiError {
        match e {
            DurableError::Invalid(m) => ApiError::InvalidParameter(m),
            DurableError::NotFound(m) => ApiError::ResourceNotFound(m),
            DurableError::AlreadyStarted(m) => ApiError::DurableExecutionAlreadyStarted(m),
            DurableError::CallbackClosed(m) => ApiError::CallbackTimeout(m),
            DurableError::Conflict(m) => ApiError::ResourceConflict(m),
            DurableError::Service(m) => ApiError::Service(m),
        }
    }
}

/// The execution at `arn` (path segment 1) when the caller may steer or
/// read it: a function only its own executions (it has the ids of others'
/// callbacks and the tokens of its own invocations, nothing more), the
/// host's operator any.
fn own_execution(
    uri: &Uri,
    caller: &Option<Extension<Caller>>,
    operation: &str,
) -> Result<String, ApiError> {
    let arn = segment(uri, 1)?;
    let owner = arn
        .split_once(":function:")
        .and_then(|(_, rest)| rest.split(':').next())
        .unwrap_or_default();
    allowed(caller, owner, operation, &arn)?;
    Ok(arn)
}

fn allowed(
    caller: &Option<Extension<Caller>>,
    owner: &str,
    operation: &str,
    resource: &str,
) -> Result<(), ApiError> {
    match caller {
        Some(Extension(Caller(function))) if **function != *owner => Err(ApiError::AccessDenied(format!(
            "User: function {function} is not authorized to perform: lambda:{operation} on resource: {resource}"
        ))),
        _ => Ok(()),
    }
}

/// An ARN's or a callback id's path segment, percent-decoded.
fn segment(uri: &Uri, index: usize) -> Result<String, ApiError> {
    super::inputs::decoded_segment(uri, index)
        .map_err(|_| ApiError::InvalidParameter("the path is not valid UTF-8".into()))
}

/// The values of query member `key` (lists repeat the key).
fn query_all(uri: &Uri, key: &str) -> Vec<String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

fn query(uri: &Uri, key: &str) -> Option<String> {
    query_all(uri, key).into_iter().next()
}

fn query_bool(uri: &Uri, key: &str, default: bool) -> Result<bool, ApiError> {
    match query(uri, key).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::InvalidParameter(format!(
            "{key} must be true or false, not {other}"
        ))),
    }
}

/// `MaxItems`: 0 or absent means the default page.
fn max_items(uri: &Uri) -> Result<usize, ApiError> {
    let Some(v) = query(uri, "MaxItems") else {
        return Ok(DEFAULT_ITEMS);
    };
    match v.parse::<usize>() {
        Ok(0) => Ok(DEFAULT_ITEMS),
        Ok(n) if n <= MAX_ITEMS => Ok(n),
        _ => Err(ApiError::InvalidParameter(format!(
            "MaxItems must be between 0 and {MAX_ITEMS}, not {v}"
        ))),
    }
}

async fn json_body<T: for<'de> Deserialize<'de>>(
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let too_large = |_| ApiError::RequestTooLarge {
        limit: MAX_SYNC_PAYLOAD,
    };
    let bytes = payload::read(headers, body, MAX_SYNC_PAYLOAD, too_large)
        .await
        .map_err(|r| r.error)?;
    let bytes = if bytes.is_empty() {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidParameter(format!("invalid request body: {e}")))
}

/// An answer whose operations' timestamps are in epoch seconds.
fn answer(mut body: Value) -> Response {
    seconds_timestamps(&mut body);
    (StatusCode::OK, Json(body)).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CheckpointInput {
    checkpoint_token: String,
    #[serde(default)]
    updates: Vec<OperationUpdate>,
    #[serde(default)]
    client_token: Option<String>,
}

pub async fn checkpoint(
    State(api): State<Arc<InvokeApi>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let arn = segment(&uri, 1)?;
    let input: CheckpointInput = json_body(&headers, body).await?;
    let done = api
        .durable
        .engine()?
        .checkpoint(
            &arn,
            &input.checkpoint_token,
            &input.updates,
            input.client_token,
        )
        .await?;
    let mut out = json!({ "NewExecutionState": { "Operations": done.operations } });
    if let Some(token) = done.token {
        out["CheckpointToken"] = token.into();
    }
    Ok(answer(out))
}

pub async fn state(State(api): State<Arc<InvokeApi>>, uri: Uri) -> Result<Response, ApiError> {
    let arn = segment(&uri, 1)?;
    let token = query(&uri, "CheckpointToken")
        .ok_or_else(|| ApiError::InvalidParameter("CheckpointToken is required".into()))?;
    let marker = query(&uri, "Marker");
    let (ops, next) = api
        .durable
        .engine()?
        .state(&arn, &token, marker.as_deref(), max_items(&uri)?)
        .await?;
    Ok(answer(json!({ "Operations": ops, "NextMarker": next })))
}

/// `GetDurableExecution`.
pub async fn get(
    State(api): State<Arc<InvokeApi>>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let arn = own_execution(&uri, &caller, "GetDurableExecution")?;
    let include = query_bool(&uri, "IncludeExecutionData", true)?;
    let exec = api.durable.engine()?.snapshot(&arn).await?;
    let mut out = summary(&exec);
    out["Version"] = "$LATEST".into();
    out["ExecutionDataIncluded"] = include.into();
    out["DurableConfig"] = json!({
        "ExecutionTimeout": exec.meta.timeout_s,
        "RetentionPeriodInDays": exec.meta.retention_days,
    });
    if let Some(p) = &exec.head.pause {
        out["PauseDetails"] = json!({
            "PauseRequestTimestamp": p.requested_ms,
            "Reason": p.reason,
            "ExecutionTimeoutPaused": p.timeout_paused,
        });
    }
    if include {
        out["InputPayload"] = exec.meta.input.clone().into();
        match exec.head.status {
            ExecStatus::Succeeded => {
                if let Some(r) = &exec.head.result {
                    out["Result"] = r.clone().into();
                }
            }
            ExecStatus::Running | ExecStatus::Pausing | ExecStatus::Paused => {}
            _ => {
                if let Some(e) = &exec.head.error {
                    out["Error"] = e.clone();
                }
            }
        }
    }
    Ok(answer(out))
}

/// An execution as `ListDurableExecutionsByFunction` lists it.
fn summary(exec: &Execution) -> Value {
    let mut out = json!({
        "DurableExecutionArn": exec.meta.arn,
        "DurableExecutionName": exec.meta.name,
        "FunctionArn": exec.meta.function_arn,
        "Status": exec.head.status.as_str(),
        "StartTimestamp": exec.meta.start_ms,
    });
    if let Some(end) = exec.head.end_ms {
        out["EndTimestamp"] = end.into();
    }
    out
}

pub async fn history(
    State(api): State<Arc<InvokeApi>>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let arn = own_execution(&uri, &caller, "GetDurableExecutionHistory")?;
    let include = query_bool(&uri, "IncludeExecutionData", true)?;
    let reverse = query_bool(&uri, "ReverseOrder", false)?;
    let start = parse_marker(query(&uri, "Marker").as_deref())?;
    let exec = api.durable.engine()?.snapshot(&arn).await?;
    let mut events = exec.events;
    if reverse {
        events.reverse();
    }
    let (mut events, next) = page(events.into_iter(), start, max_items(&uri)?);
    for e in &mut events {
        history::with_data(e, include);
    }
    Ok(answer(json!({ "Events": events, "NextMarker": next })))
}

pub async fn list(
    State(api): State<Arc<InvokeApi>>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let function = api.resolve(&uri, 1, false)?;
    allowed(
        &caller,
        &function.config.name,
        "ListDurableExecutionsByFunction",
        &function.arn,
    )?;
    let statuses = query_all(&uri, "Statuses")
        .iter()
        .map(|s| {
            ExecStatus::parse(s).ok_or_else(|| {
                ApiError::InvalidParameter(format!("{s} is not an execution status"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let name = query(&uri, "DurableExecutionName");
    let after = query(&uri, "StartedAfter")
        .map(|t| timestamp_ms(&t))
        .transpose()?;
    let before = query(&uri, "StartedBefore")
        .map(|t| timestamp_ms(&t))
        .transpose()?;
    // Newest first unless ReverseOrder, as the service lists them.
    let oldest_first = query_bool(&uri, "ReverseOrder", false)?;
    let start = parse_marker(query(&uri, "Marker").as_deref())?;
    let mut execs = api
        .durable
        .engine()?
        .of_function(&function.config.name)
        .await;
    execs.retain(|e| {
        (statuses.is_empty() || statuses.contains(&e.head.status))
            && name.as_ref().is_none_or(|n| *n == e.meta.name)
            && after.is_none_or(|t| e.meta.start_ms > t)
            && before.is_none_or(|t| e.meta.start_ms < t)
    });
    if !oldest_first {
        execs.reverse();
    }
    let (execs, next) = page(execs.iter().map(summary), start, max_items(&uri)?);
    Ok(answer(
        json!({ "DurableExecutions": execs, "NextMarker": next }),
    ))
}

/// A query timestamp: ISO 8601 as the SDKs send it, or epoch seconds.
fn timestamp_ms(text: &str) -> Result<i64, ApiError> {
    if let Ok(secs) = text.parse::<f64>() {
        return Ok((secs * 1000.0) as i64);
    }
    crate::clock::parse_iso8601_ms(text)
        .ok_or_else(|| ApiError::InvalidParameter(format!("{text} is not a timestamp")))
}

pub async fn stop(
    State(api): State<Arc<InvokeApi>>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let arn = own_execution(&uri, &caller, "StopDurableExecution")?;
    let error: Value = json_body(&headers, body).await?;
    let error = match error.as_object() {
        Some(map) if !map.is_empty() => error,
        _ => json!({ "ErrorMessage": "Execution stopped by user request" }),
    };
    let at = api.durable.engine()?.stop(&arn, error).await?;
    Ok(answer(json!({ "StopTimestamp": seconds(at) })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PauseInput {
    #[serde(default)]
    reason: Option<String>,
    /// Lambda's default: the execution timeout stops while paused.
    #[serde(default = "yes")]
    execution_timeout_paused: bool,
}

fn yes() -> bool {
    true
}

/// The longest pause or resume reason.
const MAX_REASON: usize = 1024;

pub async fn pause(
    State(api): State<Arc<InvokeApi>>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (arn, input) =
        control_input(&uri, &caller, "PauseDurableExecution", &headers, body).await?;
    let timeout_paused = input.execution_timeout_paused;
    api.durable
        .engine()?
        .pause(&arn, input.reason, timeout_paused)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn resume(
    State(api): State<Arc<InvokeApi>>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (arn, input) =
        control_input(&uri, &caller, "ResumeDurableExecution", &headers, body).await?;
    api.durable.engine()?.resume(&arn, input.reason).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The execution and the body of a pause or a resume.
async fn control_input(
    uri: &Uri,
    caller: &Option<Extension<Caller>>,
    operation: &str,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<(String, PauseInput), ApiError> {
    let arn = own_execution(uri, caller, operation)?;
    let input: PauseInput = json_body(headers, body).await?;
    if input.reason.as_ref().is_some_and(|r| r.len() > MAX_REASON) {
        return Err(ApiError::InvalidParameter(format!(
            "Reason must be at most {MAX_REASON} characters"
        )));
    }
    Ok((arn, input))
}

pub async fn delete(
    State(api): State<Arc<InvokeApi>>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let arn = own_execution(&uri, &caller, "DeleteDurableExecution")?;
    let at = api.durable.engine()?.delete(&arn).await?;
    let mut resp = answer(json!({ "DeletionRequestTimestamp": seconds(at) }));
    *resp.status_mut() = StatusCode::ACCEPTED;
    Ok(resp)
}

pub async fn callback_success(
    State(api): State<Arc<InvokeApi>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = segment(&uri, 1)?;
    let too_large = |_| {
        ApiError::InvalidParameter(format!(
            "Result must be at most {MAX_CALLBACK_RESULT} bytes"
        ))
    };
    let result = payload::read(&headers, body, MAX_CALLBACK_RESULT, too_large)
        .await
        .map_err(|r| r.error)?;
    // An empty body is no result (the SDK then sees none), as the service keeps it.
    let result = (!result.is_empty()).then(|| String::from_utf8_lossy(&result).into_owned());
    api.durable
        .engine()?
        .callback(&id, Some(Outcome::succeeded(result)))
        .await?;
    Ok(answer(json!({})))
}

pub async fn callback_failure(
    State(api): State<Arc<InvokeApi>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = segment(&uri, 1)?;
    let error: Value = json_body(&headers, body).await?;
    if !error.is_object() {
        return Err(ApiError::InvalidParameter(
            "Error must be an ErrorObject".into(),
        ));
    }
    api.durable
        .engine()?
        .callback(&id, Some(Outcome::failed(error)))
        .await?;
    Ok(answer(json!({})))
}

pub async fn callback_heartbeat(
    State(api): State<Arc<InvokeApi>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let id = segment(&uri, 1)?;
    api.durable.engine()?.callback(&id, None).await?;
    Ok(answer(json!({})))
}
