//! The Lambda API's error answers, shaped so that botocore and every AWS SDK
//! raise the matching exception: status, `x-amzn-ErrorType` and a JSON body
//! whose keys are the ones Lambda itself sends for that error (`Message` or
//! `message`, `Type` where the service has one). The wording follows the
//! service's own answers where they are on record; the request id is added
//! to every answer by [`super::request_id`].

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::queue::MAX_ASYNC_PAYLOAD;

/// How long a throttled client is told to wait before retrying, in seconds.
const RETRY_AFTER_S: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// `arn` is the ARN the caller asked for, qualifier included.
    FunctionNotFound {
        arn: String,
    },
    /// A sub-resource the function does not have (URL config, event invoke
    /// config), or a durable execution the host does not have.
    ResourceNotFound(String),
    /// A durable execution's name taken by one with another input.
    DurableExecutionAlreadyStarted(String),
    /// A durable-execution callback that already ended.
    CallbackTimeout(String),
    /// A request the resource's state does not allow.
    ResourceConflict(String),
    /// A function asking for what is not its own.
    AccessDenied(String),
    Throttled,
    /// A synchronous request over the limit.
    RequestTooLarge {
        limit: usize,
    },
    /// An `Event` payload over the limit.
    EventTooLarge {
        size: usize,
    },
    NotJson {
        detail: String,
    },
    /// A body that could not be read (bad chunking, cut short).
    BadBody(String),
    InvalidClientContext(String),
    InvalidParameter(String),
    /// `ValidationException`, with the service's whole message.
    Validation(String),
    Service(String),
    /// A Lambda operation this host does not serve.
    Unsupported {
        operation: &'static str,
    },
    /// A path under a Lambda API version that is no operation at all.
    UnknownOperation,
    /// No `Authorization` header where keys are required.
    MissingAuthentication,
    /// An `Authorization` header that is not a whole SigV4 one.
    IncompleteSignature(String),
    /// A key this host does not know.
    UnrecognizedClient,
    /// A wrong or stale signature, with the service's words for which.
    InvalidSignature(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, serde_json::Value) {
        // The message's key is `Message` for some errors, `message` for others.
        let user = |key: &str, message: &str| {
            let mut body = serde_json::Map::new();
            body.insert("Type".into(), "User".into());
            body.insert(key.into(), message.into());
            serde_json::Value::Object(body)
        };
        match self {
            ApiError::FunctionNotFound { arn } => (
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                user("Message", &format!("Function not found: {arn}")),
            ),
            ApiError::ResourceNotFound(message) => (
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                user("Message", message),
            ),
            ApiError::DurableExecutionAlreadyStarted(message) => (
                StatusCode::CONFLICT,
                "DurableExecutionAlreadyStartedException",
                user("Message", message),
            ),
            ApiError::CallbackTimeout(message) => (
                StatusCode::BAD_REQUEST,
                "CallbackTimeoutException",
                user("Message", message),
            ),
            ApiError::ResourceConflict(message) => (
                StatusCode::CONFLICT,
                "ResourceConflictException",
                user("message", message),
            ),
            ApiError::AccessDenied(message) => (
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                user("Message", message),
            ),
            ApiError::Throttled => (
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                json!({
                    "Type": "User",
                    "message": "Rate Exceeded.",
                    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                    "retryAfterSeconds": RETRY_AFTER_S.to_string(),
                }),
            ),
            // Not the model's RequestTooLargeException: the service sends this
            // type, with these words, for both limits.
            ApiError::RequestTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                user(
                    "Message",
                    &format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
                ),
            ),
            ApiError::EventTooLarge { size } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                user(
                    "Message",
                    &format!(
                        "{size} byte payload is too large for the Event invocation type (limit {MAX_ASYNC_PAYLOAD} bytes)"
                    ),
                ),
            ),
            ApiError::NotJson { detail } => (
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                user(
                    "message",
                    &format!("Could not parse request body into json: Could not parse payload into json: {detail}"),
                ),
            ),
            ApiError::BadBody(detail) => (
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                user("message", &format!("Could not read the request body: {detail}")),
            ),
            ApiError::InvalidClientContext(why) => (
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                user("message", &format!("Client context {why}")),
            ),
            ApiError::InvalidParameter(message) => (
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                user("message", message),
            ),
            // The service sends no Type with a validation error.
            ApiError::Validation(message) => (
                StatusCode::BAD_REQUEST,
                "ValidationException",
                json!({"message": message}),
            ),
            ApiError::Service(message) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                json!({"Type": "Service", "Message": message}),
            ),
            // A 4xx, so that SDKs do not retry what can never work here.
            ApiError::Unsupported { operation } => (
                StatusCode::BAD_REQUEST,
                "UnsupportedOperationException",
                user(
                    "message",
                    &format!(
                        "{operation} is not supported by this host: Flick serves the functions of its manifest (Invoke, InvokeWithResponseStream, durable executions and read-only calls)"
                    ),
                ),
            ),
            ApiError::UnknownOperation => (
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                user("message", "Unknown operation"),
            ),
            // The service sends no Type with its authentication errors.
            ApiError::MissingAuthentication => (
                StatusCode::FORBIDDEN,
                "MissingAuthenticationTokenException",
                json!({"message": "Missing Authentication Token"}),
            ),
            ApiError::IncompleteSignature(message) => (
                StatusCode::FORBIDDEN,
                "IncompleteSignatureException",
                json!({"message": message}),
            ),
            ApiError::UnrecognizedClient => (
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                json!({"message": "The security token included in the request is invalid."}),
            ),
            ApiError::InvalidSignature(message) => (
                StatusCode::FORBIDDEN,
                "InvalidSignatureException",
                json!({"message": message}),
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
            headers.insert("retry-after", HeaderValue::from(RETRY_AFTER_S));
        }
        resp
    }
}
