//! Lambda response streaming with `flick::http::run_streaming`: each body
//! frame reaches the Runtime API as the service produces it, after a prelude
//! with status, headers and cookies; a body that fails midway ends the
//! stream with the error in HTTP trailers, so the caller sees a failed
//! invocation instead of a silently cut response.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body::Frame;
use tokio::time::Sleep;

/// A body of frames known in advance, produced `pause` apart; `Err` stands
/// for a source that fails midway (a database cursor, an upstream connection).
struct Frames {
    next: VecDeque<Result<&'static str, &'static str>>,
    pause: Duration,
    waiting: Option<Pin<Box<Sleep>>>,
}

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(waiting) = self.waiting.as_mut() {
            if waiting.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let next = self.next.pop_front();
        self.waiting = (!self.pause.is_zero() && !self.next.is_empty())
            .then(|| Box::pin(tokio::time::sleep(self.pause)));
        Poll::Ready(next.map(|next| match next {
            Ok(text) => Ok(Frame::data(Bytes::from_static(text.as_bytes()))),
            Err(why) => Err(io::Error::other(why)),
        }))
    }
}

fn streamed(frames: Vec<Result<&'static str, &'static str>>, pause: Duration) -> Response<Body> {
    let body = Frames {
        next: frames.into(),
        pause,
        waiting: None,
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::SET_COOKIE, "seen=1")
        .body(Body::new(body))
        .unwrap_or_default()
}

fn app() -> Router {
    Router::new()
        .route(
            "/stream",
            get(|| async {
                streamed(
                    vec![Ok("one\n"), Ok("two\n"), Ok("three\n")],
                    Duration::ZERO,
                )
            }),
        )
        // The source fails a moment after the first line, as a real one
        // would: the first line is out by then, even through a gateway.
        .route(
            "/fail",
            get(|| async {
                let frames = vec![Ok("one\n"), Err("the source went away")];
                streamed(frames, Duration::from_millis(200))
            }),
        )
        // A slow producer: the first line is out long before the last.
        .route(
            "/slow",
            get(|| async {
                streamed(
                    vec![Ok("first\n"), Ok("last\n")],
                    Duration::from_millis(1500),
                )
            }),
        )
}

fn main() {
    flick::http::run_streaming(app())
}
