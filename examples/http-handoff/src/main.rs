//! Accept work over HTTP, do it later: `POST /jobs` answers **202** with a
//! job id as soon as the host's durable queue holds the job, and another
//! function (the worker) receives it as an asynchronous `Event` invocation.
//!
//! - The job body (any JSON) is handed to the host's Invoke API,
//!   `POST {FLICK_ENDPOINT}/2015-03-31/functions/{WORKER_FUNCTION}/invocations`
//!   with `X-Amz-Invocation-Type: Event`; the host commits it before it
//!   answers, so a 202 from here is a job that will be delivered (at least
//!   once, with Lambda's retries).
//! - `{"jobId": …}` is the `x-amzn-RequestId` the host returned: the worker
//!   sees it as its invocation's request id, in its logs and its context.
//! - **Backpressure**: when the worker's queue is full (`max_queued`) the host
//!   answers 429 and so does this endpoint, with the host's `Retry-After` and
//!   an RFC 9457 problem, so the caller slows down instead of losing work.
//!   Any other refusal, or a host that cannot be reached, is a 502 problem.
//!
//! Configuration (typed, read once at init; a mistake fails init with a
//! message naming the variable): `FLICK_ENDPOINT` (`http://127.0.0.1:9000`)
//! and `WORKER_FUNCTION`.

mod invoke;
mod problem;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use invoke::{Handoff, InvokeApi};
use problem::problem;

#[derive(Deserialize)]
struct Config {
    flick_endpoint: String,
    worker_function: String,
}

fn app(queue: InvokeApi) -> Router {
    Router::new().route("/jobs", post(submit)).with_state(queue)
}

async fn submit(State(queue): State<InvokeApi>, body: Bytes) -> Response {
    if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
        return problem(StatusCode::BAD_REQUEST, "a job is a JSON document");
    }
    match queue.send_event(body).await {
        Handoff::Queued { request_id } => {
            (StatusCode::ACCEPTED, Json(json!({ "jobId": request_id }))).into_response()
        }
        Handoff::QueueFull { retry_after } => {
            let mut response = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "the worker's queue is full; retry after the time in Retry-After",
            );
            let retry_after = retry_after.unwrap_or(HeaderValue::from_static("1"));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after);
            response
        }
        Handoff::Failed(reason) => problem(
            StatusCode::BAD_GATEWAY,
            &format!("the job could not be queued: {reason}"),
        ),
    }
}

fn main() {
    flick::init(|init| {
        let config: Config = init.config()?;
        let queue = InvokeApi::new(&config.flick_endpoint, &config.worker_function)?;
        Ok::<_, flick::Error>(app(queue))
    })
    .run_http()
}
