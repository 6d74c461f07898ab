//! Contract first: typed axum routes (utoipa) give the OpenAPI 3.1 document
//! from the same code that serves it, and the extractors here hold requests
//! to it. Feature `openapi`.
//!
//! ```ignore
//! use flick::http::openapi::{self, Json, Path};
//! use utoipa_axum::{router::OpenApiRouter, routes};
//!
//! let app: axum::Router = openapi::finish(
//!     OpenApiRouter::new().routes(routes!(get_item, create_item)).with_state(state),
//! );
//! flick::http::run(app)
//! ```
//!
//! - [`finish`] serves the document at `/openapi.json`, and prints it and
//!   exits when `FLICK_PRINT_OPENAPI` is set (what `flick openapi` runs).
//! - [`Json`], [`Query`] and [`Path`] deserialize into the very types the
//!   document's schemas come from; input that does not fit (a missing or
//!   mistyped field, a body that is not JSON) is answered 400 with an RFC 9457
//!   [`Problem`] that names the field.
//!
//! Validation is by those types, not by a JSON Schema engine run against the
//! document: the document is derived from the types, so the two cannot
//! disagree, and a schema engine would cost more than the rest of the
//! adapter. Keywords the types do not enforce (`minLength`, `pattern`, …)
//! should not be declared on them.

mod document;
mod extract;
mod problem;

pub use document::{finish, PRINT_ENV};
pub use extract::{Json, Path, Query};
pub use problem::{FieldError, Problem};
