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

use std::future::Future;
use std::pin::Pin;

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

/// How far a prelude is looked for before the stream is read whole instead
/// (each look scans what came so far).
const MAX_PRELUDE: usize = 64 * 1024;

/// The invocation under way and the chunks it streams.
pub struct Answering {
    pub version: PayloadVersion,
    pub function: String,
    pub request_id: String,
    pub chunks: mpsc::Receiver<Bytes>,
    pub running: Running,
}

/// The invocation's outcome, awaited apart from its chunks.
type Ending = Pin<Box<dyn Future<Output = Result<Outcome, ScheduleError>> + Send>>;

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
        let mut ending: Ending = Box::pin(running.outcome());
        let mut start = BytesMut::new();
        let mut looking = true;
        // The runtime's answer comes after its last chunk is queued, so
        // taking chunks first never leaves one behind.
        let outcome = loop {
            tokio::select! {
                biased;
                Some(chunk) = chunks.recv() => {
                    start.extend_from_slice(&chunk);
                    if !looking {
                        continue;
                    }
                    match response::prelude(version, &start) {
                        Prelude::Complete(head, body_at) => {
                            let mut resp = head.map_err(|e| malformed(&function, &request_id, e))?;
                            let rest = Rest { chunks, ending, function, request_id };
                            *resp.body_mut() = Body::from_stream(rest.body(start.split_off(body_at).freeze()));
                            return Ok(resp);
                        }
                        Prelude::Partial => looking = start.len() <= MAX_PRELUDE,
                        Prelude::Absent => looking = false,
                    }
                }
                outcome = &mut ending => break outcome,
            }
        };
        match outcome.map_err(schedule_answer)? {
            Outcome::Response(buffered) => {
                // A stream that never had a prelude is read whole.
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
    ending: Ending,
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
            if let Some(chunk) = first {
                return Some((Ok(chunk), Some((None, rest))));
            }
            tokio::select! {
                biased;
                Some(chunk) = rest.chunks.recv() => Some((Ok(chunk), Some((None, rest)))),
                ending = &mut rest.ending => {
                    if let Ok(Outcome::Response(_)) = ending {
                        return None;
                    }
                    tracing::warn!(
                        "[{}] gateway: {} failed after its response began; cutting it off",
                        rest.function,
                        rest.request_id
                    );
                    let cut = std::io::Error::other("the function failed mid-stream");
                    Some((Err(cut), None))
                }
            }
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
