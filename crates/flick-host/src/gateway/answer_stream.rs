//! A function's answer to a gateway request, taken as it arrives.
//!
//! A buffered result is mapped by [`super::response`] as API Gateway maps
//! it. A streamed response is passed on as the runtime writes it, as a
//! function URL in `RESPONSE_STREAM` mode does: when the runtime declares
//! Lambda's HTTP integration type, the head comes from the JSON prelude as
//! soon as its eight NUL bytes are in and the body is what follows; any other
//! stream is the body itself, a 200 with the runtime's content type. A
//! function that fails or times out after the head went out can no longer get
//! a 502; the response is cut off instead, so that the client does not take
//! a truncated body for a whole one.

use axum::body::Body;
use axum::http::HeaderValue;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, Stream};

use super::answers::Answer;
use super::config::PayloadVersion;
use super::response;
use crate::outcome::{Failure, Outcome};
use crate::scheduler::ScheduleError;
use crate::streamed::{Piece, Streamed};

/// The content type with which a runtime says its stream starts with a prelude.
const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";

/// The invocation under way.
pub struct Answering {
    pub version: PayloadVersion,
    pub function: String,
    pub request_id: String,
    pub streamed: Streamed,
}

impl Answering {
    /// The HTTP response, as early as it can be known.
    pub async fn respond(mut self) -> Result<Response, Answer> {
        let content_type = match self.streamed.next().await {
            Piece::Start(content_type) => content_type,
            Piece::End(outcome) => return self.buffered(outcome),
            Piece::Data(_) => unreachable!("a stream's data follows its start"),
        };
        if content_type.as_deref() != Some(HTTP_INTEGRATION) {
            let mut resp = Response::new(Body::from_stream(self.body(Bytes::new())));
            let value = content_type
                .as_deref()
                .unwrap_or("application/octet-stream");
            if let Ok(value) = HeaderValue::from_str(value) {
                resp.headers_mut().insert("content-type", value);
            }
            return Ok(resp);
        }
        let mut start = BytesMut::new();
        loop {
            match self.streamed.next().await {
                Piece::Data(data) => {
                    let searched = start.len();
                    start.extend_from_slice(&data);
                    if let Some(at) = response::prelude_end(&start, searched) {
                        let mut resp = response::prelude_head(self.version, &start[..at])
                            .map_err(|e| malformed(&self.function, &self.request_id, e))?;
                        let first = start.split_off(at + response::PRELUDE_END.len()).freeze();
                        *resp.body_mut() = Body::from_stream(self.body(first));
                        return Ok(resp);
                    }
                }
                Piece::Start(_) => {}
                Piece::End(outcome) => {
                    return Err(match outcome.map_err(schedule_answer)? {
                        Outcome::Response(_) => {
                            let e = response::Malformed(
                                "the stream ended before its prelude did".into(),
                            );
                            malformed(&self.function, &self.request_id, e)
                        }
                        other => failure_answer(&other),
                    })
                }
            }
        }
    }

    fn buffered(&self, outcome: Result<Outcome, ScheduleError>) -> Result<Response, Answer> {
        match outcome.map_err(schedule_answer)? {
            Outcome::Response(body) => response::to_http(self.version, &body)
                .map_err(|e| malformed(&self.function, &self.request_id, e)),
            other => Err(failure_answer(&other)),
        }
    }

    /// The body after the head: what already came, then each chunk, then
    /// an error if the invocation did not end with a response.
    fn body(self, first: Bytes) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
        let first = (!first.is_empty()).then_some(first);
        stream::unfold(Some((first, self)), |state| async move {
            let (first, mut rest) = state?;
            if let Some(chunk) = first {
                return Some((Ok(chunk), Some((None, rest))));
            }
            loop {
                match rest.streamed.next().await {
                    Piece::Data(chunk) => return Some((Ok(chunk), Some((None, rest)))),
                    Piece::Start(_) => {}
                    Piece::End(Ok(Outcome::Response(_))) => return None,
                    Piece::End(_) => {
                        tracing::warn!(
                            "[{}] gateway: {} failed after its response began; cutting it off",
                            rest.function,
                            rest.request_id
                        );
                        let cut = std::io::Error::other("the function failed mid-stream");
                        return Some((Err(cut), None));
                    }
                }
            }
        })
    }
}

/// API Gateway's answer to an invocation that did not give a response.
fn failure_answer(outcome: &Outcome) -> Answer {
    match outcome {
        Outcome::Failure(Failure::Timeout { .. }) => Answer::Timeout,
        _ => Answer::BadGateway,
    }
}

fn malformed(function: &str, request_id: &str, e: response::Malformed) -> Answer {
    tracing::warn!(
        "[{function}] gateway: malformed response for {request_id}: {}",
        e.0
    );
    Answer::BadGateway
}

pub fn schedule_answer(e: ScheduleError) -> Answer {
    match e {
        ScheduleError::Throttled => Answer::Throttled,
        ScheduleError::ShuttingDown => Answer::Unavailable,
        // The table is built from the scheduler's own functions.
        ScheduleError::NotFound => Answer::InternalError,
    }
}
