//! How one invocation's answer reaches the Runtime API: whole, after the
//! handler returns (`/response` or `/error`), or streamed by the handler
//! while it runs (`/response` in streaming mode, chunked, with the error in
//! trailers if it fails midway).
//!
//! Owns the state of that answer, so that the loop settles every invocation
//! exactly once whatever the handler did: a stream left open by an error or
//! a panic is ended with error trailers, never followed by an `/error` call
//! in the middle of its body. Only built with the `http` feature: without
//! it the loop answers whole, as it always did.

use crate::error::Error;
use crate::runtime_api::{ApiError, RuntimeApi};

pub(crate) struct Responder<'a> {
    api: &'a mut RuntimeApi,
    request_id: &'a str,
    stream: Stream,
}

enum Stream {
    /// Nothing sent yet: the loop answers whole.
    NotStarted,
    /// The head and some chunks are sent.
    Open,
    /// The stream failed on the wire.
    Lost(ApiError),
}

impl<'a> Responder<'a> {
    pub(crate) fn new(api: &'a mut RuntimeApi, request_id: &'a str) -> Self {
        Self {
            api,
            request_id,
            stream: Stream::NotStarted,
        }
    }

    /// Answers the invocation whose handler succeeded: the buffered
    /// `output`, or the end of the handler's stream.
    pub(crate) fn respond(self, output: &[u8]) -> Result<(), ApiError> {
        match self.stream {
            Stream::NotStarted => {}
            Stream::Open => return self.api.end_stream(None),
            Stream::Lost(e) => return Err(e),
        }
        self.api.respond(self.request_id, output)
    }

    /// Answers the invocation whose handler failed: `/error`, or error
    /// trailers on the handler's stream.
    pub(crate) fn report_error(self, error: &Error) -> Result<(), ApiError> {
        match self.stream {
            Stream::NotStarted => {}
            Stream::Open => return self.api.end_stream(Some(error)),
            Stream::Lost(e) => return Err(e),
        }
        self.api.report_error(self.request_id, error)
    }
}

impl Responder<'_> {
    /// Starts a streamed response of `content_type`, unless one is started.
    pub(crate) fn open(&mut self, content_type: &str) -> Result<(), Error> {
        if matches!(self.stream, Stream::NotStarted) {
            let sent = self.api.begin_stream(self.request_id, content_type);
            self.record(sent)?;
        }
        Ok(())
    }

    /// Sends `data` as the next part of the streamed response.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        match self.stream {
            Stream::Open => {
                let sent = self.api.stream_chunk(data);
                self.record(sent)
            }
            Stream::NotStarted => Err(Error::fatal("a stream chunk before the stream began")),
            Stream::Lost(_) => Err(lost()),
        }
    }

    fn record(&mut self, sent: Result<(), ApiError>) -> Result<(), Error> {
        match sent {
            Ok(()) => {
                self.stream = Stream::Open;
                Ok(())
            }
            Err(e) => {
                self.stream = Stream::Lost(e);
                Err(lost())
            }
        }
    }
}

fn lost() -> Error {
    Error::transient("the streamed response could not be sent to the Runtime API")
}
