//! An items API written the way that holds up on Lambda:
//!
//! - **State and dependencies built once, at init, and injected** ([`AppState`]
//!   from [`Config`], handed to the router with `with_state`). No `static`,
//!   no `lazy_static`, no `OnceCell`: a test builds its own state, and a bad
//!   configuration fails init with a message instead of panicking on the
//!   first request.
//! - **One router with middleware serving many routes** ([`app`]): request
//!   id, CORS, bearer authentication and access logs are layers, written
//!   once, instead of code repeated in each handler or one function per route.
//! - **Contract first**: the routes are typed (`utoipa`), the OpenAPI 3.1
//!   document comes from them and is served at `/openapi.json`, and input
//!   that does not fit it is answered 400 with a problem naming the field.

mod middleware;
mod routes;
mod state;

pub use routes::{Item, NewItem};
pub use state::{AppState, Config};

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "items", description = "An example API served by flick::http"),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route, its middleware and the `/openapi.json` document.
pub fn app(state: AppState) -> axum::Router {
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::list_items, routes::create_item))
        .routes(routes!(routes::get_item, routes::delete_item))
        .routes(routes!(routes::health))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::authenticate,
        ))
        .with_state(state);
    middleware::around(flick::http::openapi::finish(router))
}
