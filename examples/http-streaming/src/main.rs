//! Lambda response streaming with `flick::http::run_streaming`: each body
//! frame reaches the Runtime API as the service produces it, after a prelude
//! with status, headers and cookies; a body that fails midway ends the
//! stream with the error in HTTP trailers, so the caller sees a failed
//! invocation instead of a silently cut response.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{header, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body::Frame;

/// A body of frames known in advance; `Err` stands for a source that fails
/// midway (a database cursor, an upstream connection).
struct Frames(VecDeque<Result<&'static str, &'static str>>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(self.0.pop_front().map(|next| match next {
            Ok(text) => Ok(Frame::data(Bytes::from_static(text.as_bytes()))),
            Err(why) => Err(io::Error::other(why)),
        }))
    }
}

fn streamed(frames: Vec<Result<&'static str, &'static str>>) -> Response<Body> {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::SET_COOKIE, "seen=1")
        .body(Body::new(Frames(frames.into())))
        .unwrap_or_default()
}

fn app() -> Router {
    Router::new()
        .route(
            "/stream",
            get(|| async { streamed(vec![Ok("one\n"), Ok("two\n"), Ok("three\n")]) }),
        )
        .route(
            "/fail",
            get(|| async { streamed(vec![Ok("one\n"), Err("the source went away")]) }),
        )
}

fn main() {
    flick::http::run_streaming(app())
}
