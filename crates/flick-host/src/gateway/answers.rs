//! API Gateway's own answers, sent when no function result can be: no
//! route, throttled, function error, timeout, body too large.
//!
//! Owns their statuses and JSON bodies, worded as API Gateway words them,
//! and the `apigw-requestid` header every gateway response carries.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    NotFound,
    /// A body that could not be read (broken off, malformed, stalled).
    BadRequest,
    TooLarge,
    Throttled,
    BadGateway,
    Timeout,
    Unavailable,
    InternalError,
}

impl Answer {
    fn parts(self) -> (StatusCode, &'static str) {
        match self {
            Answer::NotFound => (StatusCode::NOT_FOUND, "Not Found"),
            Answer::BadRequest => (StatusCode::BAD_REQUEST, "Bad Request"),
            Answer::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
            Answer::Throttled => (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
            Answer::BadGateway => (StatusCode::BAD_GATEWAY, "Internal Server Error"),
            Answer::Timeout => (StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out"),
            Answer::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
            Answer::InternalError => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }

    pub fn into_response(self, request_id: &str) -> Response {
        let (status, message) = self.parts();
        let body = serde_json::json!({ "message": message }).to_string();
        let mut resp = (status, body).into_response();
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        with_request_id(resp, request_id)
    }
}

/// Every response of an HTTP API carries the request's id.
pub fn with_request_id(mut resp: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("apigw-requestid", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn bodies_are_api_gateways() {
        for (answer, status, body) in [
            (Answer::NotFound, 404, r#"{"message":"Not Found"}"#),
            (Answer::Throttled, 429, r#"{"message":"Too Many Requests"}"#),
            (
                Answer::BadGateway,
                502,
                r#"{"message":"Internal Server Error"}"#,
            ),
            (
                Answer::Timeout,
                504,
                r#"{"message":"Endpoint request timed out"}"#,
            ),
        ] {
            let resp = answer.into_response("rid");
            assert_eq!(resp.status().as_u16(), status);
            assert_eq!(resp.headers()["apigw-requestid"], "rid");
            assert_eq!(resp.headers()["content-type"], "application/json");
            let got = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(got, body.as_bytes());
        }
    }
}
