//! The Lambda Invoke API (rest-json, 2015-03-31) on the host's listen address.
//!
//! Owns the wire side of `Invoke`: reading the function reference, the
//! invocation type, log type, client context and payload; checking them; and
//! turning the scheduler's result into Lambda's status, headers and body.
//! `ListFunctions` and `GetFunction` are in [`functions`]. Choosing a
//! sandbox is the scheduler's job.

mod error;
mod functions;
mod names;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;

use crate::function::{function_arn, Function};
use crate::outcome::Outcome;
use crate::queue::{now_ms, NewEvent, QueueStore, StoreError, MAX_ASYNC_PAYLOAD};
use crate::sandbox::InvokeRequest;
use crate::scheduler::{ScheduleError, Scheduler};
pub use error::ApiError;

/// Lambda's limit for a synchronous request payload.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;

/// What the Invoke API needs from the host.
pub struct InvokeApi {
    pub scheduler: Arc<Scheduler>,
    /// Where `Event` invocations are committed before their 202.
    pub queue: Arc<dyn QueueStore>,
    pub region: String,
}

pub fn router(api: Arc<InvokeApi>) -> Router {
    let gateway = Arc::new(crate::gateway::Gateway::new(api.scheduler.clone()));
    Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .route("/2015-03-31/functions", get(functions::list))
        .route("/2015-03-31/functions/", get(functions::list))
        .route("/2015-03-31/functions/{function}", get(functions::get))
        // The Invoke API's own paths stay its own; every other request is
        // the HTTP gateway's.
        .fallback(move |req: axum::extract::Request| async move {
            if req.uri().path().starts_with("/2015-03-31/") {
                return ApiError::UnknownOperation.into_response();
            }
            gateway.handle(req).await
        })
        .layer(DefaultBodyLimit::disable())
        .with_state(api)
}

#[derive(Deserialize)]
struct QualifierQuery {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

async fn invoke(
    State(api): State<Arc<InvokeApi>>,
    Path(raw_name): Path<String>,
    Query(query): Query<QualifierQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let function = api.resolve(&raw_name, query.qualifier.as_deref())?;
    let invocation_type = invocation_type(&headers)?;
    let tail = match header(&headers, "x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "LogType must be None or Tail, not `{other}`"
            )))
        }
    };
    let client_context = header(&headers, "x-amz-client-context")
        .map(decode_client_context)
        .transpose()?;
    let limit = match invocation_type {
        InvocationType::Event => MAX_ASYNC_PAYLOAD,
        InvocationType::RequestResponse | InvocationType::DryRun => MAX_SYNC_PAYLOAD,
    };
    let payload = read_payload(body, limit).await?;

    match invocation_type {
        InvocationType::DryRun => Ok(StatusCode::NO_CONTENT.into_response()),
        InvocationType::Event => {
            let request_id = crate::ids::uuid().to_string();
            let event = NewEvent {
                id: request_id.clone(),
                function: function.config.name.clone(),
                payload,
                client_context,
                accepted_ms: now_ms(),
            };
            // Resolves only once the event is committed to disk.
            api.queue
                .enqueue(event, function.config.async_config.max_queued)
                .await
                .map_err(|e| match e {
                    StoreError::Full { .. } => ApiError::Throttled,
                    other => ApiError::Service(other.to_string()),
                })?;
            let mut resp = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert("x-amzn-requestid", v);
            }
            Ok(resp)
        }
        InvocationType::RequestResponse => {
            let request_id = crate::ids::uuid().to_string();
            let req = InvokeRequest {
                request_id: request_id.clone(),
                payload,
                client_context,
                cognito_identity: None,
                tenant_id: None,
                stream: None,
            };
            let mut running = api
                .scheduler
                .start(&function.config.name, req)
                .await
                .map_err(|e| api.schedule_error(e, &function))?;
            // The log tail is complete only at the end of the invoke phase;
            // without one, the caller gets the answer as soon as there is one.
            let (outcome, log_tail) = if tail {
                let result = running.result().await;
                let result = result.map_err(|e| api.schedule_error(e, &function))?;
                (result.outcome, result.log_tail)
            } else {
                let outcome = running.answer().await;
                (outcome.map_err(|e| api.schedule_error(e, &function))?, None)
            };
            Ok(sync_response(&request_id, outcome, log_tail))
        }
    }
}

impl InvokeApi {
    fn resolve(&self, raw: &str, query_qualifier: Option<&str>) -> Result<Arc<Function>, ApiError> {
        let r = names::parse(raw, query_qualifier).map_err(ApiError::InvalidParameter)?;
        let not_found = || {
            let mut arn = function_arn(&self.region, &r.name);
            if let Some(q) = &r.qualifier {
                arn = format!("{arn}:{q}");
            }
            ApiError::FunctionNotFound { arn }
        };
        // Only $LATEST exists here: the host serves the code on disk.
        if r.qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
            return Err(not_found());
        }
        self.scheduler
            .function(&r.name)
            .cloned()
            .ok_or_else(not_found)
    }

    fn schedule_error(&self, e: ScheduleError, function: &Function) -> ApiError {
        match e {
            ScheduleError::Throttled => ApiError::Throttled,
            ScheduleError::NotFound => ApiError::FunctionNotFound {
                arn: function.arn.clone(),
            },
            ScheduleError::ShuttingDown => ApiError::Service("the host is shutting down".into()),
        }
    }
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
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn invocation_type(headers: &HeaderMap) -> Result<InvocationType, ApiError> {
    match header(headers, "x-amz-invocation-type") {
        None | Some("RequestResponse") => Ok(InvocationType::RequestResponse),
        Some("Event") => Ok(InvocationType::Event),
        Some("DryRun") => Ok(InvocationType::DryRun),
        Some(other) => Err(ApiError::InvalidParameter(format!(
            "InvocationType must be RequestResponse, Event or DryRun, not `{other}`"
        ))),
    }
}

/// The header carries base64 of a JSON object; the runtime gets the JSON.
fn decode_client_context(b64: &str) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| ApiError::InvalidClientContext)?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::InvalidClientContext)?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(text),
        _ => Err(ApiError::InvalidClientContext),
    }
}

/// Reads the payload, enforcing `limit` and that it is JSON. An empty body is
/// the empty object, as on Lambda.
async fn read_payload(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| ApiError::RequestTooLarge { limit })?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).map_err(|e| ApiError::NotJson {
        detail: e.to_string(),
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_context_must_be_base64_json_object() {
        let ok = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"a":"b"}}"#);
        assert_eq!(
            decode_client_context(&ok).unwrap(),
            r#"{"custom":{"a":"b"}}"#
        );
        assert!(decode_client_context("%%%").is_err());
        let array = base64::engine::general_purpose::STANDARD.encode("[1]");
        assert!(decode_client_context(&array).is_err());
    }

    #[tokio::test]
    async fn payload_rules() {
        assert_eq!(read_payload(Body::from(""), 10).await.unwrap(), "{}");
        assert_eq!(read_payload(Body::from("[1]"), 10).await.unwrap(), "[1]");
        assert!(matches!(
            read_payload(Body::from("nope"), 10).await,
            Err(ApiError::NotJson { .. })
        ));
        assert_eq!(
            read_payload(Body::from("[1,2,3,4,5,6]"), 10).await,
            Err(ApiError::RequestTooLarge { limit: 10 })
        );
    }
}
