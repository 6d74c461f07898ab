//! The Invoke API's error answers, shaped so that botocore and every AWS SDK
//! raise the matching exception: status, `x-amzn-ErrorType` and a JSON body
//! whose message key is the one Lambda itself uses for that error.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How long a throttled client is told to wait before retrying, in seconds.
const RETRY_AFTER_S: &str = "1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// `arn` is the ARN the caller asked for, qualifier included.
    FunctionNotFound {
        arn: String,
    },
    Throttled,
    RequestTooLarge {
        limit: usize,
    },
    NotJson {
        detail: String,
    },
    InvalidClientContext,
    InvalidParameter(String),
    Service(String),
    UnknownOperation,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, serde_json::Value) {
        match self {
            ApiError::FunctionNotFound { arn } => (
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                json!({"Type": "User", "Message": format!("Function not found: {arn}")}),
            ),
            ApiError::Throttled => (
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                json!({
                    "Type": "User",
                    "message": "Rate Exceeded.",
                    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                }),
            ),
            ApiError::RequestTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                json!({
                    "Type": "User",
                    "message": format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
                }),
            ),
            ApiError::NotJson { detail } => (
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                json!({"Type": "User", "message": format!("Could not parse request body into json: {detail}")}),
            ),
            ApiError::InvalidClientContext => (
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                json!({"Type": "User", "message": "Client context must be a valid Base64-encoded JSON object."}),
            ),
            ApiError::InvalidParameter(message) => (
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                json!({"Type": "User", "message": message}),
            ),
            ApiError::Service(message) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                json!({"Type": "Service", "message": message}),
            ),
            ApiError::UnknownOperation => (
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                json!({"Type": "User", "message": "Unknown operation"}),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, body) = self.parts();
        let mut resp = (status, axum::Json(body)).into_response();
        let headers = resp.headers_mut();
        headers.insert("x-amzn-errortype", HeaderValue::from_static(kind));
        if self == ApiError::Throttled {
            headers.insert("retry-after", HeaderValue::from_static(RETRY_AFTER_S));
        }
        resp
    }
}
