//! The one call this function makes: an asynchronous (`Event`) invocation
//! through the host's Invoke API. Owns the endpoint and the worker's name,
//! parsed once at init; does not retry (the caller gets the 429 and decides).
//!
//! The client is hyper's own HTTP/1.1 client connection over a tokio
//! `TcpStream`: the `http` feature already builds hyper, hyper-util and
//! tokio's `net`, so the `client` feature of hyper is all it adds — no
//! connection pool, TLS or DNS stack (the host is a loopback `IP:port`),
//! and no hand-written response parsing. One connection per job keeps it
//! free of shared state: each loop thread has its own tokio runtime, and a
//! connection is bound to the runtime that opened it.

use axum::body::Bytes;
use axum::http::uri::{Authority, Scheme};
use axum::http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How the host took the job.
pub(crate) enum Handoff {
    /// Committed to the queue; the id the worker's invocation will carry.
    Queued { request_id: String },
    /// The worker has `max_queued` events waiting (host's 429).
    QueueFull { retry_after: Option<HeaderValue> },
    /// Refused for another reason, or the host could not be reached.
    Failed(String),
}

#[derive(Clone)]
pub(crate) struct InvokeApi {
    authority: Authority,
    path: String,
}

impl InvokeApi {
    /// `endpoint` is the host's base URL (`http://127.0.0.1:9000`),
    /// `worker` the function that gets the jobs.
    pub(crate) fn new(endpoint: &str, worker: &str) -> Result<Self, flick::Error> {
        let invalid = |why: String| flick::Error::fatal(why).with_type("InvalidConfig");
        let uri: Uri = endpoint
            .parse()
            .map_err(|e| invalid(format!("FLICK_ENDPOINT {endpoint:?} is not a URL: {e}")))?;
        let authority = match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) if *scheme == Scheme::HTTP => authority.clone(),
            _ => {
                return Err(invalid(format!(
                    "FLICK_ENDPOINT {endpoint:?} must be http://HOST:PORT"
                )))
            }
        };
        let valid_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if worker.is_empty() || !worker.chars().all(valid_name) {
            return Err(invalid(format!(
                "WORKER_FUNCTION {worker:?} is not a function name (letters, digits, - and _)"
            )));
        }
        let base = uri.path().trim_end_matches('/');
        Ok(Self {
            authority,
            path: format!("{base}/2015-03-31/functions/{worker}/invocations"),
        })
    }

    /// Queues `job` for the worker.
    pub(crate) async fn send_event(&self, job: Bytes) -> Handoff {
        match self.post(job).await {
            Ok((status, request_id, _)) if status == StatusCode::ACCEPTED => match request_id {
                Some(id) => Handoff::Queued { request_id: id },
                None => Handoff::Failed("the host's 202 carried no x-amzn-RequestId".into()),
            },
            Ok((status, _, retry_after)) if status == StatusCode::TOO_MANY_REQUESTS => {
                Handoff::QueueFull { retry_after }
            }
            Ok((status, _, _)) => Handoff::Failed(format!("the host answered {status}")),
            Err(e) => Handoff::Failed(e),
        }
    }

    /// One request on a fresh connection: status, request id, Retry-After.
    async fn post(
        &self,
        job: Bytes,
    ) -> Result<(StatusCode, Option<String>, Option<HeaderValue>), String> {
        let unreachable = |e: &dyn std::fmt::Display| format!("{}: {e}", self.authority);
        let stream = TcpStream::connect(self.authority.as_str())
            .await
            .map_err(|e| unreachable(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(&e))?;
        // Drives the connection while the request runs; ends with it.
        tokio::spawn(connection);
        let request = Request::post(&self.path)
            .header("host", self.authority.as_str())
            .header("content-type", "application/json")
            .header("x-amz-invocation-type", "Event")
            .body(Full::new(job))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response.headers().get("retry-after").cloned();
        // Read to the end so the connection closes cleanly.
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(&e))?;
        Ok((status, request_id, retry_after))
    }
}
