//! The Lambda Runtime API (2018-06-01) that one sandbox talks to.
//!
//! Every sandbox gets its own listener on loopback, so a process can only
//! ever see its own events. This module owns the HTTP face: the routes, the
//! `/next` headers, the size limits and the answers to wrong requests. The
//! state behind it is the sandbox's [`Mailbox`].

pub mod mailbox;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;

use crate::outcome::{Failure, Outcome};
use mailbox::AnswerError;
pub use mailbox::{Dispatch, Mailbox, NextCall, Status, StreamPart, StreamSink};

/// Largest buffered response a runtime may post: 6 MiB and 100 bytes, the
/// figure Lambda's own error names ("... maximum allowed payload size
/// (6291556 bytes)") and AWS's Runtime Interface Emulator enforces.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;
/// Largest streamed response (Lambda's streaming limit).
const MAX_STREAMED_BYTES: usize = 20 * 1024 * 1024;
/// How long a broken response waits for the runtime's exit to be noticed.
const EXIT_NOTICE: std::time::Duration = std::time::Duration::from_millis(300);

const MODE_HEADER: &str = "lambda-runtime-function-response-mode";
const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// How many connections one sandbox may hold to its Runtime API: plenty for
/// a runtime serving several invocations at once, too few for a runtime to
/// run the host out of descriptors.
const MAX_CONNECTIONS: usize = 32;

/// Serves the Runtime API for `mailbox`, and the Extensions API for
/// `extensions`, on `listener` until the returned server is dropped.
/// `admit` turns away connections that are not the sandbox's own; a
/// request HTTP cannot parse ends the sandbox.
pub fn serve(
    listener: tokio::net::TcpListener,
    mailbox: Arc<Mailbox>,
    extensions: Arc<crate::extensions_api::Registry>,
    admit: Option<crate::net::Admit>,
) -> crate::net::Server {
    let broken = mailbox.clone();
    let on_malformed: crate::net::OnMalformed = Box::new(move |detail| {
        broken.fail_all(Failure::MalformedRequest { detail });
    });
    let limits = crate::net::Limits {
        max_connections: MAX_CONNECTIONS,
        // A runtime waits in /next for as long as no event comes.
        header_timeout: None,
    };
    let routes = app(mailbox).merge(crate::extensions_api::routes(extensions));
    crate::net::Server::start(listener, routes, limits, admit, Some(on_malformed))
}

/// The Runtime API's routes for one sandbox.
fn app(mailbox: Arc<Mailbox>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        // Limits are applied per route below, with Lambda's own numbers.
        .layer(DefaultBodyLimit::disable())
        .with_state(mailbox)
}

async fn next(State(mb): State<Arc<Mailbox>>) -> Response {
    let Some(d) = mb.next().await else {
        // The sandbox is being torn down; the process is about to be stopped.
        return runtime_error(
            StatusCode::GONE,
            "Runtime.Shutdown",
            "the sandbox is shutting down",
        );
    };
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put("lambda-runtime-aws-request-id", &d.request_id);
    put("lambda-runtime-deadline-ms", &d.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &d.function_arn);
    put("lambda-runtime-trace-id", &d.trace_id);
    if let Some(cc) = &d.client_context {
        put("lambda-runtime-client-context", cc);
    }
    if let Some(ci) = &d.cognito_identity {
        put("lambda-runtime-cognito-identity", ci);
    }
    if let Some(tenant) = &d.tenant_id {
        put("lambda-runtime-aws-tenant-id", tenant);
    }
    put("content-type", "application/json");
    (StatusCode::OK, headers, d.payload).into_response()
}

async fn response(
    State(mb): State<Arc<Mailbox>>,
    Path(id): Path<String>,
    req: Request<Body>,
) -> Response {
    let streaming = req
        .headers()
        .get(MODE_HEADER)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
    if streaming {
        if let Some(sink) = mb.take_stream_sink(&id) {
            let content_type = header_str(req.headers(), "content-type").map(str::to_string);
            return relay(&mb, &id, req.into_body(), content_type, sink).await;
        }
    }
    let limit = if streaming {
        MAX_STREAMED_BYTES
    } else {
        MAX_RESPONSE_BYTES
    };
    let collected = match Limited::new(req.into_body(), limit).collect().await {
        Ok(c) => c,
        Err(e) if !e.is::<LengthLimitError>() => return broken_body(&mb, &id, e.to_string()).await,
        Err(_) => {
            // The invocation fails, but the runtime is told and serves on: an
            // error like any other, not a broken sandbox.
            return too_large(&mb, &id, limit);
        }
    };
    // A streamed response that failed midway says so in its trailers.
    let outcome = match collected.trailers().and_then(trailer_error) {
        Some(err) => Outcome::FunctionError(err),
        None => Outcome::Response(collected.to_bytes()),
    };
    answer(&mb, &id, outcome)
}

/// Passes a streamed response on chunk by chunk while the runtime writes it;
/// the invocation is answered once the stream ends, with the error its
/// trailers carry if it failed midway. A reader that went away does not stop
/// the function: the rest of the stream is read and dropped, as on Lambda.
/// Nor is anything passed on once the invocation was answered otherwise (an
/// `/error` meanwhile, a timeout): its reader has had its ending.
async fn relay(
    mb: &Mailbox,
    id: &str,
    mut body: Body,
    content_type: Option<String>,
    sink: StreamSink,
) -> Response {
    let start = StreamPart::Start { content_type };
    let mut sink = Some(sink).filter(|s| s.try_send(start).is_ok());
    let mut size = 0;
    let mut failed = None;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => return broken_body(mb, id, e.to_string()).await,
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                failed = failed.or_else(|| frame.trailers_ref().and_then(trailer_error));
                continue;
            }
        };
        size += data.len();
        if size > MAX_STREAMED_BYTES {
            return too_large(mb, id, MAX_STREAMED_BYTES);
        }
        if sink.is_some() && !mb.is_pending(id) {
            sink = None;
        }
        if let (Some(s), false) = (&sink, data.is_empty()) {
            if s.send(StreamPart::Data(data)).await.is_err() {
                sink = None;
            }
        }
    }
    let outcome = match failed {
        Some(err) => Outcome::FunctionError(err),
        None => Outcome::Response(Bytes::new()),
    };
    answer(mb, id, outcome)
}

/// A response over `limit`: the invocation ends with Lambda's
/// `Function.ResponseSizeTooLarge`, the runtime gets the Runtime API's 413.
fn too_large(mb: &Mailbox, id: &str, limit: usize) -> Response {
    let body = Failure::ResponseTooLarge { limit }.body(id);
    let _ = mb.answer(id, Outcome::FunctionError(body));
    runtime_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({limit} bytes)."),
    )
}

/// A response whose body broke off: most often the runtime died while
/// writing it, and its exit (which follows a moment later) is what the
/// invocation reports. A runtime that lives on has cut its own answer short.
async fn broken_body(mb: &Mailbox, id: &str, e: String) -> Response {
    let detail = format!("the runtime's response broke off before its end: {e}");
    if tokio::time::timeout(EXIT_NOTICE, mb.dead()).await.is_err() {
        let _ = mb.answer(
            id,
            Outcome::Failure(Failure::TruncatedResponse {
                detail: detail.clone(),
            }),
        );
    }
    runtime_error(StatusCode::BAD_REQUEST, "InvalidRequest", &detail)
}

async fn error(
    State(mb): State<Arc<Mailbox>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_small(body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let body = if body.is_empty() {
        let kind = header_str(&headers, ERROR_TYPE_TRAILER).unwrap_or("Unhandled");
        Bytes::from(json!({"errorType": kind, "errorMessage": ""}).to_string())
    } else {
        body
    };
    answer(&mb, &id, Outcome::FunctionError(body))
}

async fn init_error(State(mb): State<Arc<Mailbox>>, body: Body) -> Response {
    let body = match read_small(body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if mb.status() != Status::Initializing {
        return runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "init/error is only accepted before the first /next",
        );
    }
    mb.fail_all(Failure::InitError { body });
    accepted()
}

async fn not_found() -> Response {
    runtime_error(
        StatusCode::NOT_FOUND,
        "InvalidRequest",
        "not a Runtime API (2018-06-01) path",
    )
}

async fn wrong_method() -> Response {
    runtime_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "InvalidRequest",
        "not a method this Runtime API path takes",
    )
}

fn answer(mb: &Mailbox, id: &str, outcome: Outcome) -> Response {
    match mb.answer(id, outcome) {
        Ok(()) => accepted(),
        Err(AnswerError::Unknown) => runtime_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            &format!("no invocation with request id {id} is waiting for an answer"),
        ),
        Err(AnswerError::AlreadyAnswered) => runtime_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            &format!("invocation {id} was already answered or timed out"),
        ),
    }
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn runtime_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorType": kind, "errorMessage": message})),
    )
        .into_response()
}

/// Error bodies and init errors are small; the same 6 MB cap keeps a
/// misbehaving runtime from making the host buffer without end.
async fn read_small(body: Body) -> Result<Bytes, Response> {
    Limited::new(body, MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|_| {
            runtime_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "error body is over the 6 MB limit",
            )
        })
}

fn trailer_error(trailers: &HeaderMap) -> Option<Bytes> {
    let kind = header_str(trailers, ERROR_TYPE_TRAILER)?;
    let body = header_str(trailers, ERROR_BODY_TRAILER)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(Bytes::from);
    Some(
        body.unwrap_or_else(|| {
            Bytes::from(json!({"errorType": kind, "errorMessage": ""}).to_string())
        }),
    )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use tower_service::Service;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever a runtime sends, it gets a typed answer, never a panic
        /// or a hang; nothing answers an invocation it was not given.
        #[test]
        fn any_request_gets_a_typed_answer(
            method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
            path in prop_oneof![
                Just("/2018-06-01/runtime/invocation/next".to_string()),
                "/2018-06-01/runtime/invocation/[a-z0-9-]{0,40}/(response|error)",
                Just("/2018-06-01/runtime/init/error".to_string()),
                "/[a-zA-Z0-9/_.-]{0,60}",
            ],
            body in proptest::collection::vec(any::<u8>(), 0..200),
            streaming in any::<bool>(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let mailbox = Arc::new(Mailbox::new());
                let mut app = app(mailbox.clone());
                let mut req = Request::builder().method(method).uri(&path);
                if streaming {
                    req = req.header(MODE_HEADER, "streaming");
                }
                let req = req.body(Body::from(body)).unwrap();
                // /next with no event waits for one; a moment tells.
                let answer = tokio::time::timeout(std::time::Duration::from_millis(50), app.call(req)).await;
                let Ok(Ok(resp)) = answer else {
                    prop_assert!(path.ends_with("/next") && method == "GET");
                    return Ok(());
                };
                let status = resp.status().as_u16();
                prop_assert!([202, 400, 403, 404, 405, 413].contains(&status), "{} {} -> {}", method, path, status);
                let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                prop_assert!(doc.get("errorType").is_some() || doc.get("status").is_some());
                Ok(())
            })?;
        }
    }
}
