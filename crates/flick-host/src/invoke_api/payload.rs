//! Reading an invocation's payload as Lambda limits it.
//!
//! A body over the limit is still read to its end (and dropped) before the
//! answer, up to a bound: a client that is still writing when the server
//! answers and closes gets EPIPE, and an SDK in Node.js dies of it. A body
//! declared larger than that bound is refused at once, and the connection
//! closed. A body that cannot be read (bad chunking, cut short) is
//! malformed, not large; only `chunked` is accepted as a transfer coding.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use super::ApiError;

/// Lambda's limit for a synchronous request payload.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// How much of an oversized body is read and dropped before answering.
const DRAIN_LIMIT: usize = 32 * 1024 * 1024;

/// Why a payload was refused, and whether the connection must close.
#[derive(Debug)]
pub struct Refusal {
    pub error: ApiError,
    pub close: bool,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut resp = self.error.into_response();
        if self.close {
            resp.headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
        }
        resp
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal {
            error,
            close: false,
        }
    }
}

/// Reads the body whole if it is at most `limit` bytes; otherwise
/// `too_large(size)` with the size read.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    too_large: impl Fn(usize) -> ApiError,
) -> Result<Bytes, Refusal> {
    if let Some(coding) = headers.get("transfer-encoding") {
        if !coding.as_bytes().eq_ignore_ascii_case(b"chunked") {
            return Err(Refusal {
                error: ApiError::BadBody(format!(
                    "transfer coding {:?} is not supported, only chunked",
                    String::from_utf8_lossy(coding.as_bytes())
                )),
                close: true,
            });
        }
    }
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(Refusal {
            error: too_large(declared.unwrap_or(DRAIN_LIMIT)),
            close: true,
        });
    }
    let mut body = body;
    let mut kept = BytesMut::new();
    let mut size = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Refusal {
            error: ApiError::BadBody(e.to_string()),
            close: true,
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len();
        if size > DRAIN_LIMIT {
            return Err(Refusal {
                error: too_large(size),
                close: true,
            });
        }
        if size <= limit {
            kept.extend_from_slice(&data);
        }
    }
    if size > limit {
        return Err(too_large(size).into());
    }
    Ok(kept.freeze())
}

/// Reads a body to its end and drops it (up to the bound), so that a
/// refusal reaches a client that is still sending; whether the connection
/// must close after the answer.
pub async fn drain(headers: &HeaderMap, body: Body) -> bool {
    read(headers, body, 0, |size| ApiError::RequestTooLarge {
        limit: size,
    })
    .await
    .err()
    .is_some_and(|r| r.close)
}

/// The payload as JSON: an empty body is the empty object, as on Lambda.
pub fn json(bytes: Bytes) -> Result<Bytes, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).map_err(|e| ApiError::NotJson {
        detail: e.to_string(),
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn large(size: usize) -> ApiError {
        ApiError::EventTooLarge { size }
    }

    #[tokio::test]
    async fn limits_and_json() {
        let h = HeaderMap::new();
        assert_eq!(
            json(read(&h, Body::from(""), 10, large).await.unwrap()).unwrap(),
            "{}"
        );
        assert_eq!(
            json(read(&h, Body::from("[1]"), 10, large).await.unwrap()).unwrap(),
            "[1]"
        );
        assert!(matches!(
            json(Bytes::from("nope")),
            Err(ApiError::NotJson { .. })
        ));
        let over = read(&h, Body::from("[1,2,3,4,5,6]"), 10, large)
            .await
            .unwrap_err();
        assert_eq!(over.error, ApiError::EventTooLarge { size: 13 });
        assert!(!over.close, "a body read to its end keeps the connection");
    }

    #[tokio::test]
    async fn huge_declarations_and_other_codings_are_refused_at_once() {
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from_static("10000000000"));
        let r = read(&h, Body::empty(), 10, large).await.unwrap_err();
        assert!(r.close);
        let mut h = HeaderMap::new();
        h.insert(
            "transfer-encoding",
            HeaderValue::from_static("gzip, chunked"),
        );
        let r = read(&h, Body::empty(), 10, large).await.unwrap_err();
        assert!(matches!(r.error, ApiError::BadBody(_)) && r.close);
    }
}
