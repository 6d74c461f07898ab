//! Extractors that hold a request to the types its schema came from, and
//! answer a mismatch with a 400 [`Problem`] naming the field.
//!
//! Owns [`Json`], [`Query`] and [`Path`]: axum's extractors of the same
//! names, with `serde_path_to_error` to find the failing field. `Json` can
//! also be returned: it writes its value as `application/json`.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::problem::Problem;

/// A JSON body that must deserialize into `T`; as a response, `T` as JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// Query parameters that must deserialize into `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

/// Path parameters that must deserialize into `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        if !is_json(request.headers()) {
            return Err(Problem::invalid(
                "header",
                "content-type",
                "expected `application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| Problem::invalid("body", "", e.body_text()))?;
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(deserializer)
            .map(Json)
            .map_err(|e| field_problem("body", e))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|e| field_problem("query", e))
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        use axum::extract::path::ErrorKind;
        // A single value (`Path<u64>`) fails without a key: its name is the
        // route's only parameter.
        let only_name = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|raw| {
                let mut names = raw.iter().map(|(name, _)| name.to_owned());
                names.next().filter(|_| names.next().is_none())
            });
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let why = e.body_text();
                let field = match e.into_kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::DeserializeError { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => key,
                    _ => only_name.unwrap_or_default(),
                };
                Err(Problem::invalid("path", field, why))
            }
            Err(other) => Err(Problem::new(other.status(), other.body_text())),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The problem for a deserialization error: the path to the field, or for a
/// missing field the name serde reports.
fn field_problem<E: std::fmt::Display>(
    location: &str,
    e: serde_path_to_error::Error<E>,
) -> Problem {
    let why = e.inner().to_string();
    let mut field = e.path().to_string();
    if field == "." {
        field.clear();
    }
    if let Some(missing) = why
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        field = if field.is_empty() {
            missing.to_owned()
        } else {
            format!("{field}.{missing}")
        };
    }
    Problem::invalid(location, field, why)
}
