//! The OpenAPI document of a typed router: served at `/openapi.json`, or
//! printed for `flick openapi`.
//!
//! Owns [`finish`], which turns a `utoipa_axum` router into a plain axum
//! `Router` with the document route added.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

/// The environment variable that makes [`finish`] print the document on
/// stdout and exit 0 instead of serving (set by `flick openapi`).
pub const PRINT_ENV: &str = "FLICK_PRINT_OPENAPI";

/// The router, with `GET /openapi.json` answering its OpenAPI 3.1 document.
///
/// When `FLICK_PRINT_OPENAPI` is set, prints the document and exits: a
/// function binary is its own contract exporter.
pub fn finish(router: OpenApiRouter) -> axum::Router {
    let (router, document) = router.split_for_parts();
    let json = match document.to_pretty_json() {
        Ok(json) => json,
        Err(e) => {
            crate::logging::write(
                tracing::Level::ERROR,
                &format_args!("the OpenAPI document cannot be written: {e}"),
                &[],
            );
            std::process::exit(1)
        }
    };
    if std::env::var_os(PRINT_ENV).is_some() {
        println!("{json}");
        std::process::exit(0)
    }
    router.route(
        "/openapi.json",
        get(move || {
            let json = json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], json).into_response() }
        }),
    )
}
