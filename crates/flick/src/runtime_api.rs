//! The four calls of the Lambda Runtime API (2018-06-01): `next`, `response`,
//! invocation `error` and `init/error`.
//!
//! Owns the paths, the header names, and turning `/next` headers into an
//! [`Invocation`] record. It does not own HTTP (see `http_client`) nor deciding
//! what to do when a call fails (see `invocation_loop`).

use std::fmt;
use std::io;

use crate::context::Invocation;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::http_client::{HttpClient, Request};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";

/// A Runtime API call that did not succeed.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// The Runtime API could not be reached or spoke garbage: the host is gone.
    Io(io::Error),
    /// The Runtime API refused the call.
    Status { call: &'static str, status: u16 },
    /// `/next` answered without a request id.
    MissingRequestId,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Io(e) => write!(f, "cannot talk to the Runtime API: {e}"),
            ApiError::Status { call, status } => {
                write!(f, "the Runtime API answered {call} with status {status}")
            }
            ApiError::MissingRequestId => {
                f.write_str("the Runtime API sent an event without Lambda-Runtime-Aws-Request-Id")
            }
        }
    }
}

impl From<io::Error> for ApiError {
    fn from(e: io::Error) -> Self {
        ApiError::Io(e)
    }
}

pub(crate) struct RuntimeApi {
    http: HttpClient,
    /// The (ignored) bodies of `202` answers.
    scratch: Vec<u8>,
    /// Error bodies.
    report: String,
}

impl RuntimeApi {
    /// A client for the Runtime API at `endpoint`.
    pub(crate) fn new(endpoint: &Endpoint) -> Self {
        Self {
            http: HttpClient::new(endpoint),
            scratch: Vec::with_capacity(256),
            report: String::new(),
        }
    }

    /// Waits for the next event: its facts go to `invocation`, its payload to
    /// `event`. Both are overwritten in place, keeping their capacity.
    pub(crate) fn next(
        &mut self,
        invocation: &mut Invocation,
        event: &mut Vec<u8>,
    ) -> Result<(), ApiError> {
        invocation.clear();
        let request = Request {
            method: "GET",
            path: &[NEXT],
            headers: &[],
            body: b"",
        };
        let status = self.http.send(
            &request,
            &mut |name, value| record_header(invocation, name, value),
            event,
        )?;
        match status {
            200 if invocation.request_id.is_empty() => Err(ApiError::MissingRequestId),
            200 => Ok(()),
            status => Err(ApiError::Status {
                call: "next",
                status,
            }),
        }
    }

    /// Answers invocation `request_id` with `payload`.
    pub(crate) fn respond(&mut self, request_id: &str, payload: &[u8]) -> Result<(), ApiError> {
        self.post(
            "response",
            &[INVOCATION, request_id, "/response"],
            &[],
            payload,
        )
    }

    /// Answers invocation `request_id` with `error`.
    pub(crate) fn report_error(&mut self, request_id: &str, error: &Error) -> Result<(), ApiError> {
        let mut body = std::mem::take(&mut self.report);
        body.clear();
        error.write_report(&mut body);
        let headers = [(ERROR_TYPE_HEADER, error.error_type())];
        let path = [INVOCATION, request_id, "/error"];
        let result = self.post("error", &path, &headers, body.as_bytes());
        self.report = body;
        result
    }

    /// Tells the host that init failed and this sandbox cannot serve.
    pub(crate) fn report_init_error(&mut self, error: &Error) -> Result<(), ApiError> {
        let mut body = String::new();
        error.write_report(&mut body);
        let headers = [(ERROR_TYPE_HEADER, error.error_type())];
        self.post("init/error", &[INIT_ERROR], &headers, body.as_bytes())
    }

    fn post(
        &mut self,
        call: &'static str,
        path: &[&str],
        headers: &[(&'static str, &str)],
        body: &[u8],
    ) -> Result<(), ApiError> {
        let request = Request {
            method: "POST",
            path,
            headers,
            body,
        };
        let mut answer = std::mem::take(&mut self.scratch);
        let status = self.http.send(&request, &mut |_, _| {}, &mut answer);
        self.scratch = answer;
        match status? {
            200..=299 => Ok(()),
            status => Err(ApiError::Status { call, status }),
        }
    }
}

/// Streamed responses (`Lambda-Runtime-Function-Response-Mode: streaming`).
#[cfg(feature = "http")]
impl RuntimeApi {
    /// Sends the head of a streamed `/response` for `request_id`.
    pub(crate) fn begin_stream(
        &mut self,
        request_id: &str,
        content_type: &str,
    ) -> Result<(), ApiError> {
        let headers = [
            ("Lambda-Runtime-Function-Response-Mode", "streaming"),
            ("Content-Type", content_type),
            (
                "Trailer",
                "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
            ),
        ];
        let request = Request {
            method: "POST",
            path: &[INVOCATION, request_id, "/response"],
            headers: &headers,
            body: b"",
        };
        Ok(self.http.begin_chunked(&request)?)
    }

    /// Sends one part of the streamed body.
    pub(crate) fn stream_chunk(&mut self, data: &[u8]) -> Result<(), ApiError> {
        Ok(self.http.write_chunk(data)?)
    }

    /// Ends the stream; a failure midway goes in the trailers, the error
    /// body base64 as the contract wants.
    pub(crate) fn end_stream(&mut self, error: Option<&Error>) -> Result<(), ApiError> {
        use base64::Engine;
        let mut report = std::mem::take(&mut self.report);
        report.clear();
        let trailers = error.map(|error| {
            error.write_report(&mut report);
            let body = base64::engine::general_purpose::STANDARD.encode(report.as_bytes());
            (error.error_type().to_owned(), body)
        });
        let trailers: Vec<(&str, &str)> = match &trailers {
            Some((kind, body)) => vec![
                (ERROR_TYPE_HEADER, kind.as_str()),
                ("Lambda-Runtime-Function-Error-Body", body.as_str()),
            ],
            None => Vec::new(),
        };
        let mut answer = std::mem::take(&mut self.scratch);
        let status = self.http.end_chunked(&trailers, &mut answer);
        self.scratch = answer;
        self.report = report;
        match status? {
            200..=299 => Ok(()),
            status => Err(ApiError::Status {
                call: "response",
                status,
            }),
        }
    }
}

/// Copies one `/next` header into the record; unknown headers are ignored.
fn record_header(invocation: &mut Invocation, name: &[u8], value: &[u8]) {
    // The contract's header values are ASCII; anything else is not ours to read.
    let Ok(value) = std::str::from_utf8(value) else {
        return;
    };
    let field = match known_header(name) {
        Some(Header::RequestId) => &mut invocation.request_id,
        Some(Header::FunctionArn) => &mut invocation.function_arn,
        Some(Header::TraceId) => &mut invocation.trace_id,
        Some(Header::ClientContext) => &mut invocation.client_context,
        Some(Header::CognitoIdentity) => &mut invocation.cognito_identity,
        Some(Header::Deadline) => {
            invocation.deadline_ms = value.parse().unwrap_or(0);
            return;
        }
        None => return,
    };
    field.push_str(value);
}

enum Header {
    RequestId,
    Deadline,
    FunctionArn,
    TraceId,
    ClientContext,
    CognitoIdentity,
}

/// Header names compare case-insensitively without building a lower-case copy.
fn known_header(name: &[u8]) -> Option<Header> {
    const NAMES: [(&[u8], Header); 6] = [
        (b"lambda-runtime-aws-request-id", Header::RequestId),
        (b"lambda-runtime-deadline-ms", Header::Deadline),
        (b"lambda-runtime-invoked-function-arn", Header::FunctionArn),
        (b"lambda-runtime-trace-id", Header::TraceId),
        (b"lambda-runtime-client-context", Header::ClientContext),
        (b"lambda-runtime-cognito-identity", Header::CognitoIdentity),
    ];
    NAMES
        .into_iter()
        .find(|(known, _)| name.eq_ignore_ascii_case(known))
        .map(|(_, header)| header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_headers_fill_the_record() {
        let mut inv = Invocation::default();
        record_header(&mut inv, b"Lambda-Runtime-Aws-Request-Id", b"id-1");
        record_header(&mut inv, b"lambda-runtime-deadline-ms", b"1700000000000");
        record_header(&mut inv, b"Lambda-Runtime-Trace-Id", b"Root=1-2-3");
        record_header(&mut inv, b"Content-Type", b"application/json");
        assert_eq!(inv.request_id, "id-1");
        assert_eq!(inv.deadline_ms, 1_700_000_000_000);
        assert_eq!(inv.trace_id, "Root=1-2-3");
        assert!(inv.client_context.is_empty());
    }
}
