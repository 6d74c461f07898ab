//! A function's answer to a gateway request, taken as it arrives.
//!
//! A buffered result is mapped whole by [`super::response`]. A response the
//! runtime streams in Lambda's HTTP integration form is passed on: its head
//! goes out as soon as the prelude is in, then each chunk as the runtime
//! writes it, so a client sees the first bytes long before the function
//! ends. A function that fails or times out after the head went out can no
//! longer get a 502; the response is cut off instead, so that the client
//! does not take a truncated body for a whole one. A streamed result that is
//! not in that form is collected and mapped whole, like a buffered one.

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, Stream};
use tokio::sync::mpsc;

use super::answers::Answer;
use super::config::PayloadVersion;
use super::response::{self, Prelude};
use crate::outcome::{Failure, Outcome};
use crate::scheduler::{Running, ScheduleError};

/// Chunks held between the runtime and a slow client before the runtime
/// has to wait.
pub const CHUNKS_IN_FLIGHT: usize = 16;

/// How far a prelude is looked for before the stream is read whole instead:
/// each look scans what came so far, so an unbounded search would be
/// quadratic in a long stream that merely starts with `{`.
const MAX_PRELUDE: usize = 64 * 1024;

/// The invocation under way and the chunks it streams.
pub struct Answering {
    pub version: PayloadVersion,
    pub function: String,
    pub request_id: String,
    pub chunks: mpsc::Receiver<Bytes>,
    pub running: Running,
}

impl Answering {
    /// The HTTP response, as early as it can be known.
    pub async fn respond(self) -> Result<Response, Answer> {
        let Answering {
            version,
            function,
            request_id,
            mut chunks,
            running,
        } = self;
        let mut start = BytesMut::new();
        let mut looking = true;
        while let Some(chunk) = chunks.recv().await {
            start.extend_from_slice(&chunk);
            if !looking {
                continue;
            }
            match response::prelude(version, &start) {
                Prelude::Complete(head, body_at) => {
                    let mut resp = head.map_err(|e| malformed(&function, &request_id, e))?;
                    let rest = Rest {
                        chunks,
                        running,
                        function,
                        request_id,
                    };
                    let first = start.split_off(body_at).freeze();
                    *resp.body_mut() = Body::from_stream(rest.body(first));
                    return Ok(resp);
                }
                Prelude::Partial => looking = start.len() <= MAX_PRELUDE,
                Prelude::Absent => looking = false,
            }
        }
        // Every sink is gone: the invocation has ended.
        let result = running.result().await.map_err(schedule_answer)?;
        match result.outcome {
            Outcome::Response(buffered) => {
                // A stream without a prelude is mapped whole, like a buffered result.
                let whole = if start.is_empty() {
                    buffered
                } else {
                    start.freeze()
                };
                response::to_http(version, &whole).map_err(|e| malformed(&function, &request_id, e))
            }
            Outcome::Failure(Failure::Timeout { .. }) => Err(Answer::Timeout),
            Outcome::FunctionError(_) | Outcome::Failure(_) => Err(Answer::BadGateway),
        }
    }
}

/// What is left of a stream once its head has gone out.
struct Rest {
    chunks: mpsc::Receiver<Bytes>,
    running: Running,
    function: String,
    request_id: String,
}

impl Rest {
    /// The body after the prelude: what already came, then each chunk, then
    /// an error if the invocation did not end with a response.
    fn body(self, first: Bytes) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
        let first = (!first.is_empty()).then_some(first);
        stream::unfold(Some((first, self)), |state| async move {
            let (first, mut rest) = state?;
            let next = match first {
                Some(chunk) => Some(chunk),
                None => rest.chunks.recv().await,
            };
            if let Some(chunk) = next {
                return Some((Ok(chunk), Some((None, rest))));
            }
            let Rest {
                running,
                function,
                request_id,
                ..
            } = rest;
            if let Ok(Outcome::Response(_)) = running.result().await.map(|r| r.outcome) {
                return None;
            }
            tracing::warn!(
                "[{function}] gateway: {request_id} failed after its response began; cutting it off"
            );
            let cut = std::io::Error::other("the function failed mid-stream");
            Some((Err(cut), None))
        })
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
