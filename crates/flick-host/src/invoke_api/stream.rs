//! `InvokeWithResponseStream` (POST /2021-11-15/functions/NAME/
//! response-streaming-invocations): the function's response as an event
//! stream, each chunk passed on as the runtime writes it.
//!
//! A runtime that streams (`Lambda-Runtime-Function-Response-Mode:
//! streaming`) has each chunk sent as a `PayloadChunk` event at once; a
//! buffered response is one `PayloadChunk`. The stream ends with one
//! `InvokeComplete` event: on a function error (before or during the
//! stream) its `ErrorCode` is the error type and `ErrorDetails` the message,
//! and with `LogType: Tail` its `LogResult` is the log tail, sent at the end
//! of the invoke phase. What fails before the stream starts (not found,
//! throttled, bad input) is an ordinary JSON error, as SDKs expect.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64::Engine;
use bytes::Bytes;
use futures_util::stream;
use serde_json::json;

use super::eventstream;
use super::inputs::{self, InvocationType};
use super::payload::{self, Refusal, MAX_SYNC_PAYLOAD};
use super::request_id::RequestId;
use super::{ApiError, InvokeApi};
use crate::outcome::Outcome;
use crate::sandbox::InvokeRequest;
use crate::streamed::{Piece, Streamed};

const ALLOWED: &[InvocationType] = &[InvocationType::RequestResponse, InvocationType::DryRun];

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
    if function.config.durable.is_some() {
        return Err(ApiError::InvalidParameter(format!(
            "{} is a durable function: start its executions with Invoke",
            function.config.name
        ))
        .into());
    }
    let h = inputs::invoke_headers(headers, &function, ALLOWED)?;
    let too_large = |_| ApiError::RequestTooLarge {
        limit: MAX_SYNC_PAYLOAD,
    };
    let payload = payload::json(payload::read(headers, body, MAX_SYNC_PAYLOAD, too_large).await?)?;
    if h.invocation_type == InvocationType::DryRun {
        return Ok(StatusCode::NO_CONTENT.into_response());
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
    let streamed = Streamed::start(&api.scheduler, &function.config.name, req)
        .await
        .map_err(|e| api.schedule_error(e, &function))?;
    let events = Events {
        streamed: Some(streamed),
        tail: h.tail,
        request_id,
    };
    let mut resp = Response::new(Body::from_stream(stream::unfold(events, Events::next)));
    let headers = resp.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    Ok(resp)
}

/// The event stream of one invocation; `streamed` is gone once it ended.
struct Events {
    streamed: Option<Streamed>,
    tail: bool,
    request_id: String,
}

impl Events {
    async fn next(mut self) -> Option<(std::io::Result<Bytes>, Events)> {
        let streamed = self.streamed.as_mut()?;
        loop {
            let outcome = match streamed.next().await {
                Piece::Start(_) => continue,
                Piece::Data(chunk) if chunk.is_empty() => continue,
                Piece::Data(chunk) => return Some((Ok(chunk_event(&chunk)), self)),
                Piece::End(outcome) => outcome,
            };
            let streamed = self.streamed.take()?;
            let (first, error) = match outcome {
                // A buffered response is one chunk; a stream's has gone out already.
                Ok(Outcome::Response(body)) => (Some(body), None),
                Ok(Outcome::FunctionError(body)) => (None, Some(error_parts(&body))),
                Ok(Outcome::Failure(f)) => (None, Some(error_parts(&f.body(&self.request_id)))),
                Err(e) => (None, Some(("ServiceException".into(), format!("{e:?}")))),
            };
            let log = match self.tail {
                true => streamed.finish().await.ok().and_then(|r| r.log_tail),
                false => None,
            };
            let mut bytes = Vec::new();
            if let Some(body) = first.filter(|b| !b.is_empty()) {
                bytes.extend_from_slice(&chunk_event(&body));
            }
            bytes.extend_from_slice(&complete_event(error, log));
            return Some((Ok(Bytes::from(bytes)), self));
        }
    }
}

fn chunk_event(chunk: &[u8]) -> Bytes {
    eventstream::event("PayloadChunk", "application/octet-stream", chunk)
}

fn complete_event(error: Option<(String, String)>, log: Option<Vec<u8>>) -> Bytes {
    let mut body = serde_json::Map::new();
    if let Some((code, details)) = error {
        body.insert("ErrorCode".into(), code.into());
        body.insert("ErrorDetails".into(), details.into());
    }
    if let Some(log) = log {
        let encoded = base64::engine::general_purpose::STANDARD.encode(log);
        body.insert("LogResult".into(), encoded.into());
    }
    eventstream::event(
        "InvokeComplete",
        "application/json",
        json!(body).to_string().as_bytes(),
    )
}

/// The error type and message of an error body (the runtime's, or the host's).
fn error_parts(body: &[u8]) -> (String, String) {
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |key: &str| parsed.get(key).and_then(|v| v.as_str()).map(str::to_string);
    (
        text("errorType").unwrap_or_else(|| "Unhandled".into()),
        text("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    )
}
