//! The OTLP exporter's HTTP transport: the SDK's own blocking client
//! (`http_client`), so that exporting spans brings in neither reqwest nor
//! hyper.
//!
//! Owns turning the exporter's `http::Request` into a request of that client,
//! with a limit on every connect, read and write, and keeping one connection
//! to the collector alive between invocations. Plain `http://` only: in a
//! function the collector is a local extension or a sidecar (the ADOT layer
//! listens on `localhost:4318`), and TLS would cost more than the rest of the
//! feature.

use std::fmt;
use std::net::ToSocketAddrs;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response};
use opentelemetry_http::{HttpClient as OtlpHttpClient, HttpError};

use crate::endpoint::Endpoint;
use crate::http_client::{self, HttpClient};

/// The limit on each connect, read and write when the environment sets
/// none. Shorter than OTLP's 10 s: the collector is beside the function,
/// and an export waits before the next event (the SDK's flush gives up
/// after 5 s, and a request is sent at most twice).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) struct Transport {
    timeout: Duration,
    /// The collector last sent to, by authority, and its connection.
    peer: Mutex<Option<(String, HttpClient)>>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Limited by `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds, at least 1), else 2 s.
    pub(crate) fn from_env() -> Transport {
        let millis = [
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.trim().parse::<u64>().ok())
        .filter(|&ms| ms > 0);
        Transport {
            timeout: millis.map_or(DEFAULT_TIMEOUT, Duration::from_millis),
            peer: Mutex::new(None),
        }
    }

    fn send(&self, request: &Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let uri = request.uri();
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "cannot export spans to {uri}: flick sends OTLP over plain http:// \
                 (to a collector beside the function), not TLS"
            )
            .into());
        }
        let authority = uri.authority().ok_or("the OTLP endpoint has no host")?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();

        let mut peer = self.peer.lock().unwrap_or_else(|e| e.into_inner());
        if peer
            .as_ref()
            .is_none_or(|(known, _)| known != authority.as_str())
        {
            let endpoint = resolve(authority, self.timeout)?;
            *peer = Some((
                authority.to_string(),
                HttpClient::with_timeout(&endpoint, self.timeout),
            ));
        }
        let (_, client) = peer.as_mut().expect("set just above");
        let mut response = Response::builder();
        let mut body = Vec::new();
        let status = client.send(
            &http_client::Request {
                method: request.method().as_str(),
                path: &[path],
                headers: &headers,
                body: request.body(),
            },
            &mut |name, value| {
                if let (Ok(name), Ok(value)) =
                    (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
                {
                    response.headers_mut().map(|h| h.append(name, value));
                }
            },
            &mut body,
        );
        let status = match status {
            Ok(status) => status,
            Err(e) => {
                // Looked up again next time: the collector may have moved.
                *peer = None;
                return Err(e.into());
            }
        };
        Ok(response.status(status).body(Bytes::from(body))?)
    }
}

/// The collector's address; a name is looked up (a sidecar is often
/// named), and of its addresses the first that accepts a connection is
/// taken (`localhost` may be `::1` where the collector has only 127.0.0.1).
fn resolve(authority: &http::uri::Authority, limit: Duration) -> Result<Endpoint, HttpError> {
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let addrs: Vec<_> = (host, port).to_socket_addrs()?.collect();
    let addr = addrs
        .iter()
        .find(|addr| std::net::TcpStream::connect_timeout(addr, limit).is_ok())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("the OTLP endpoint {authority} has no address"))?;
    Ok(Endpoint {
        addr,
        authority: authority.to_string(),
        prefix: String::new(),
    })
}

#[async_trait::async_trait]
impl OtlpHttpClient for Transport {
    // Blocking inside `async` is right here: the batch span processor calls
    // this on its own thread, never on a loop thread's executor.
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.send(&request)
    }
}
