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
    pub async fn respond(mut self) -> Result<Response, Answer> {
        let mut start = BytesMut::new();
        while let Some(chunk) = self.chunks.recv().await {
            start.extend_from_slice(&chunk);
            match response::prelude(self.version, &start) {
                Prelude::Partial => {}
                Prelude::Absent => {
                    while let Some(chunk) = self.chunks.recv().await {
                        start.extend_from_slice(&chunk);
                    }
                }
                Prelude::Complete(head, body_at) => {
                    let mut resp =
                        head.map_err(|e| malformed(&self.function, &self.request_id, e))?;
                    let first = start.split_off(body_at).freeze();
                    *resp.body_mut() = Body::from_stream(self.body(first));
                    return Ok(resp);
                }
            }
        }
        // Every sink is gone: the invocation has ended.
        let Answering {
            version,
            function,
            request_id,
            running,
            ..
        } = self;
        let result = running.result().await.map_err(schedule_answer)?;
        match result.outcome {
            Outcome::Response(buffered) => {
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

    /// The body after the prelude: what already came, then each chunk, then
    /// an error if the invocation did not end with a response.
    fn body(self, first: Bytes) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
        let Answering {
            function,
            request_id,
            chunks,
            running,
            ..
        } = self;
        let first = (!first.is_empty()).then_some(first);
        stream::unfold(Some((first, chunks, running)), move |state| {
            let (function, request_id) = (function.clone(), request_id.clone());
            async move {
                let (first, mut chunks, running) = state?;
                if let Some(chunk) = first {
                    return Some((Ok(chunk), Some((None, chunks, running))));
                }
                if let Some(chunk) = chunks.recv().await {
                    return Some((Ok(chunk), Some((None, chunks, running))));
                }
                let ending = running.result().await.map(|r| r.outcome);
                if let Ok(Outcome::Response(_)) = ending {
                    return None;
                }
                tracing::warn!(
                        "[{function}] gateway: {request_id} failed after its response began; cutting it off"
                    );
                let cut = std::io::Error::other("the function failed mid-stream");
                Some((Err(cut), None))
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
