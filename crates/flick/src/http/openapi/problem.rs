//! RFC 9457 problem details: the body of every answer to invalid input.
//!
//! Owns [`Problem`] and its `application/problem+json` response. The
//! `errors` member (an extension the RFC's own example uses) names each
//! failing field, where it was (`body`, `query`, `path`) and why.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An RFC 9457 problem: `type`, `title`, `status`, `detail`, and the fields
/// that failed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` means the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What was wrong, for a person.
    pub detail: String,
    /// Each failing field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One failing field of a request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Where the field is: `body`, `query`, `path` or `header`.
    #[serde(rename = "in")]
    pub location: String,
    /// The field's name (`items[2].quantity` for a nested one; empty for the
    /// whole part).
    pub field: String,
    /// Why it failed.
    pub detail: String,
}

impl Problem {
    /// A problem with `status` and `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A 400 for one failing field.
    pub fn invalid(location: &str, field: impl Into<String>, why: impl Into<String>) -> Self {
        let field = field.into();
        let why = why.into();
        let detail = if field.is_empty() {
            format!("invalid {location}: {why}")
        } else {
            format!("invalid {location} field `{field}`: {why}")
        };
        let mut problem = Problem::new(StatusCode::BAD_REQUEST, detail);
        problem.errors.push(FieldError {
            location: location.into(),
            field,
            detail: why,
        });
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}
