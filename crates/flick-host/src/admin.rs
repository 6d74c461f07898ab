//! The host's own management API, under `/_flick/`: what Flick's tools ask
//! of a running host that Lambda's API has no word for. Signed like the
//! Lambda API when the host has keys; never the HTTP gateway's.
//!
//! `POST /_flick/functions/NAME/recycle` retires every sandbox of a
//! function (idle ones now, busy ones when their invocation ends), so that
//! the next invocation is a cold start: `flick bench` measures cold starts
//! with it, and a rebuilt function's new code is picked up.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::invoke_api::auth::{self, Keys};
use crate::scheduler::Scheduler;

/// The path prefix the management API owns.
pub const PREFIX: &str = "/_flick/";

pub fn router(scheduler: Arc<Scheduler>, keys: Arc<Keys>) -> Router {
    let mut router = Router::new()
        .route("/_flick/functions/{name}/recycle", post(recycle))
        .with_state(scheduler);
    if !keys.is_empty() {
        router = router.layer(axum::middleware::from_fn_with_state(keys, auth::check));
    }
    router
}

async fn recycle(State(scheduler): State<Arc<Scheduler>>, Path(name): Path<String>) -> Response {
    match scheduler.recycle(&name) {
        Some(n) => Json(json!({ "function": name, "sandboxes": n })).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": format!("no function {name} on this host") })),
        )
            .into_response(),
    }
}
