//! Requests from the `flick` command to a running host: one pooled HTTP/1
//! client, every request signed with AWS SigV4 when the environment has keys
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`), as the AWS CLI
//! signs them, since a host with `[server.auth]` refuses unsigned requests.
//!
//! Owns the wire: building, signing, sending and reading whole answers, and
//! timing them. What a request means (an invocation, a recycle) and how its
//! answer is shown are its callers' business.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use flick_host::invoke_api::sigv4::{self, SigningKey};
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::{Method, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A client of one host, keeping its connections open between requests.
pub struct HostClient {
    endpoint: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A whole answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// From the request's sending to the last byte of its answer.
    pub elapsed: Duration,
}

impl Answer {
    /// A header's value as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl HostClient {
    /// A client of the host at `endpoint` (`http://HOST:PORT`).
    pub fn new(endpoint: &str) -> HostClient {
        HostClient {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one request to `path` (under the endpoint) and reads its whole answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Answer, String> {
        let uri = format!("{}{path}", self.endpoint);
        let mut req = hyper::Request::builder().method(method).uri(&uri);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let mut req = req
            .body(Full::new(body.clone()))
            .map_err(|e| format!("bad endpoint or name ({uri}): {e}"))?;
        sign(&mut req, &body);
        let sent = Instant::now();
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("cannot reach the host at {}: {e}", self.endpoint))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("reading the answer from {}: {e}", self.endpoint))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
            elapsed: sent.elapsed(),
        })
    }
}

/// Signs the request when the environment has keys; leaves it alone otherwise.
fn sign(req: &mut hyper::Request<Full<Bytes>>, payload: &[u8]) {
    let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        return;
    };
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    if let Some(host) = req.uri().authority().map(|a| a.to_string()) {
        if let Ok(v) = host.parse() {
            req.headers_mut().insert("host", v);
        }
    }
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let key = SigningKey {
        access_key_id: &id,
        secret: &secret,
        region: &region,
        service: "lambda",
    };
    sigv4::sign(
        &method,
        &uri,
        req.headers_mut(),
        payload,
        key,
        SystemTime::now(),
    );
}
