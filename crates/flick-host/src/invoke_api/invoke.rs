//! `Invoke` (POST /2015-03-31/functions/NAME/invocations): synchronous,
//! `Event` (committed to the queue before its 202) and `DryRun`.
//!
//! Owns the answer's shape: status, `X-Amz-Function-Error`,
//! `X-Amz-Executed-Version`, `X-Amz-Log-Result`, and `Server-Timing` with
//! the host's phases (sandbox, init, invoke). A caller that asked for the
//! log tail is answered at the end of the invoke phase, when the log is
//! complete; any other as soon as the function has answered.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64::Engine;

use super::inputs::{self, InvocationType};
use super::payload::{self, Refusal, MAX_SYNC_PAYLOAD};
use super::request_id::RequestId;
use super::{ApiError, InvokeApi};
use crate::durable::model::ExecStatus;
use crate::outcome::Outcome;
use crate::queue::{now_ms, NewEvent, StoreError, MAX_ASYNC_PAYLOAD};
use crate::sandbox::{InvokeRequest, Phases};

const ALLOWED: &[InvocationType] = &[
    InvocationType::RequestResponse,
    InvocationType::Event,
    InvocationType::DryRun,
];

pub async fn invoke(
    State(api): State<Arc<InvokeApi>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(&api, request_id, &uri, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn run(
    api: &InvokeApi,
    request_id: String,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let function = api.resolve(uri, 1, true)?;
    let h = inputs::invoke_headers(headers, &function, ALLOWED)?;
    let payload = match h.invocation_type {
        InvocationType::Event => {
            let too_large = |size| ApiError::EventTooLarge { size };
            payload::read(headers, body, MAX_ASYNC_PAYLOAD, too_large).await?
        }
        _ => {
            let too_large = |_| ApiError::RequestTooLarge {
                limit: MAX_SYNC_PAYLOAD,
            };
            payload::read(headers, body, MAX_SYNC_PAYLOAD, too_large).await?
        }
    };
    let payload = payload::json(payload)?;
    if function.config.durable.is_some() && h.invocation_type != InvocationType::DryRun {
        let name = inputs::durable_execution_name(headers)?;
        return Ok(start_durable(api, &function, name, payload, h.invocation_type).await?);
    }
    let req = InvokeRequest {
        request_id: request_id.clone(),
        payload,
        client_context: h.client_context,
        cognito_identity: None,
        tenant_id: h.tenant_id,
        trace: h.trace,
        stream: None,
    };
    match h.invocation_type {
        InvocationType::DryRun => Ok(StatusCode::NO_CONTENT.into_response()),
        InvocationType::Event => {
            let event = NewEvent {
                id: request_id,
                function: function.config.name.clone(),
                payload: req.payload,
                client_context: req.client_context,
                tenant_id: req.tenant_id,
                trace: Some(crate::ids::trace_header(
                    req.trace.as_deref(),
                    function.config.tracing_active,
                )),
                accepted_ms: now_ms(),
            };
            // Resolves only once the event is committed to the store.
            api.queue
                .enqueue(event, function.config.async_config.max_queued)
                .await
                .map_err(|e| match e {
                    StoreError::Full { .. } => ApiError::Throttled,
                    other => ApiError::Service(other.to_string()),
                })?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        InvocationType::RequestResponse => {
            let mut running = api
                .scheduler
                .start(&function.config.name, req)
                .await
                .map_err(|e| api.schedule_error(e, &function))?;
            let outcome = running.answer().await;
            let outcome = outcome.map_err(|e| api.schedule_error(e, &function))?;
            let phases = running.phases();
            // The log tail is complete only at the end of the invoke phase.
            let log_tail = match h.tail {
                true => running.result().await.ok().and_then(|r| r.log_tail),
                false => None,
            };
            let mut resp = sync_response(&request_id, outcome, log_tail);
            if let Ok(v) = HeaderValue::from_str(&server_timing(phases)) {
                resp.headers_mut().insert("server-timing", v);
            }
            Ok(resp)
        }
    }
}

/// How long a synchronous invocation of a durable function may wait for its
/// execution to end: Lambda's 15 minutes.
const SYNC_DURABLE_WAIT: std::time::Duration = std::time::Duration::from_secs(900);

/// Starts (or finds again, by name) a durable execution: `Event` answers
/// 202 at once, a synchronous call when the execution has ended, with its
/// result or error; both name the execution in `X-Amz-Durable-Execution-Arn`.
async fn start_durable(
    api: &InvokeApi,
    function: &crate::function::Function,
    name: Option<String>,
    payload: bytes::Bytes,
    invocation_type: InvocationType,
) -> Result<Response, ApiError> {
    let input = String::from_utf8_lossy(&payload).into_owned();
    let engine = api.durable.engine()?;
    let started = engine.start(function, name, input).await?;
    let mut resp = match invocation_type {
        InvocationType::Event => StatusCode::ACCEPTED.into_response(),
        _ => {
            let ended = tokio::select! {
                ended = tokio::time::timeout(SYNC_DURABLE_WAIT, started.cell.outcome()) => ended,
                // The execution goes on where it is resumed; this caller's wait cannot.
                _ = engine.stopped() => return Err(ApiError::Service(format!(
                    "this host stopped running durable executions before {} ended; \
                     GetDurableExecution reads its result once it has",
                    started.arn
                ))),
            };
            let Ok((status, result, error)) = ended else {
                return Err(ApiError::Service(format!(
                    "the durable execution {} did not end within the 15 minutes of a synchronous invocation",
                    started.arn
                )));
            };
            let outcome = match status {
                ExecStatus::Succeeded => {
                    Outcome::Response(bytes::Bytes::from(result.unwrap_or_else(|| "null".into())))
                }
                _ => {
                    let error = error.unwrap_or_else(|| {
                        serde_json::json!({"ErrorType": "DurableExecution.Failed", "ErrorMessage": status.as_str()})
                    });
                    Outcome::FunctionError(durable_error_body(&error))
                }
            };
            sync_response("", outcome, None)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&started.arn) {
        resp.headers_mut().insert("x-amz-durable-execution-arn", v);
    }
    Ok(resp)
}

/// A durable execution's error in the body of a function error.
fn durable_error_body(error: &serde_json::Value) -> bytes::Bytes {
    let text = |key: &str| error.get(key).cloned().unwrap_or(serde_json::Value::Null);
    let body = serde_json::json!({
        "errorType": text("ErrorType"),
        "errorMessage": text("ErrorMessage"),
    });
    bytes::Bytes::from(body.to_string())
}

/// The phases in the standard `Server-Timing` form (milliseconds), which
/// SDKs ignore and `flick bench` reads.
fn server_timing(p: Phases) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let mut parts = Vec::with_capacity(3);
    if let Some(d) = p.sandbox {
        parts.push(format!("sandbox;dur={:.3}", ms(d)));
    }
    if let Some(d) = p.init {
        parts.push(format!("init;dur={:.3}", ms(d)));
    }
    parts.push(format!("invoke;dur={:.3}", ms(p.invoke)));
    parts.join(", ")
}

fn sync_response(request_id: &str, outcome: Outcome, log_tail: Option<Vec<u8>>) -> Response {
    let (body, function_error) = match outcome {
        Outcome::Response(body) => (body, false),
        Outcome::FunctionError(body) => (body, true),
        Outcome::Failure(failure) => (failure.body(request_id), true),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if function_error {
        h.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if let Some(log) = log_tail {
        let encoded = base64::engine::general_purpose::STANDARD.encode(log);
        if let Ok(v) = HeaderValue::from_str(&encoded) {
            h.insert("x-amz-log-result", v);
        }
    }
    resp
}
