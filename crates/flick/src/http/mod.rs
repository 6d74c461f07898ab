//! Run a tower `Service` (an axum `Router`) as a Lambda function behind API
//! Gateway (REST payload 1.0, HTTP API payload 2.0), an ALB or a Function
//! URL, or as a plain HTTP server on `PORT` outside Lambda. Feature `http`.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//!
//! fn main() {
//!     flick::http::run(Router::new().route("/hello", get(|| async { "hi" })))
//! }
//! ```
//!
//! With state built once at init (configuration, clients, prewarm tasks):
//!
//! ```no_run
//! use axum::{extract::State, routing::get, Router};
//!
//! #[derive(Clone)]
//! struct Greeting(String);
//!
//! fn main() {
//!     flick::init(|_| {
//!         let greeting = Greeting(std::env::var("GREETING").unwrap_or_else(|_| "hi".into()));
//!         let app = Router::new()
//!             .route("/hello", get(|State(g): State<Greeting>| async move { g.0 }))
//!             .with_state(greeting);
//!         Ok::<_, flick::Error>(app)
//!     })
//!     .run_http()
//! }
//! ```
//!
//! - The event source is recognised in one pass from the event's fields
//!   (module `event`); any other event fails the invocation with an
//!   `UnrecognizedEvent` error that lists what arrived.
//! - Each source's event becomes an `http::Request<`[`Body`]`>` (modules
//!   `request_http_api`, `request_rest_api`, `request_alb`): repeated
//!   headers and query parameters kept, cookies in one `Cookie` header,
//!   base64 bodies decoded, a named stage's prefix removed from the path.
//! - The request's extensions hold the Lambda [`crate::Context`] and a
//!   [`RequestContext`] (source IP, route key, stage, authorizer claims).
//! - The response becomes the result the source expects (module `response`):
//!   binary bodies base64, `Set-Cookie` values as `cookies` (2.0) or
//!   multi-value headers (1.0, ALB).
//! - With no `AWS_LAMBDA_RUNTIME_API` and `PORT` set, the same binary serves
//!   plain HTTP on that port (module `port`).
//!
//! - [`run_streaming`] / [`Function::run_http_streaming`] stream the body to
//!   the Runtime API as it is produced (module `streaming`), with the error
//!   in HTTP trailers if the body fails midway.

mod body;
mod event;
mod extensions;
mod lambda;
#[cfg(feature = "openapi")]
pub mod openapi;
mod port;
mod request;
mod request_alb;
mod request_http_api;
mod request_rest_api;
mod response;
mod service;
mod streaming;

pub use extensions::{RequestContext, Source};
pub use request::Body;
pub use service::HttpService;

use crate::codec::Bytes;
use crate::context::Context;
use crate::function::Function;

/// Serves `service` for every HTTP event (or on `PORT`, outside Lambda).
/// Never returns.
pub fn run<S: HttpService>(service: S) -> ! {
    crate::init(move |_| Ok::<S, crate::Error>(service)).run_http()
}

/// Like [`run`], but each response body is streamed to the Runtime API as
/// it is produced (Lambda response streaming, for Function URLs and API
/// Gateway with streaming enabled). Never returns.
pub fn run_streaming<S: HttpService>(service: S) -> ! {
    crate::init(move |_| Ok::<S, crate::Error>(service)).run_http_streaming()
}

impl<S: HttpService> Function<S> {
    /// Like [`run_http`](Self::run_http), with each response body streamed
    /// to the Runtime API as it is produced. On `PORT` hyper streams anyway.
    /// Never returns.
    pub fn run_http_streaming(self) -> ! {
        if std::env::var_os("FLICK_PRINT_OPENAPI").is_some() {
            print_openapi(self.build)
        }
        if let Some(port) = port::requested() {
            port::serve(self.build, self.on_shutdown, &port)
        }
        self.serve(streaming::Streaming)
    }

    /// Serves the HTTP service this function's init built, for every HTTP
    /// event (or on `PORT`, outside Lambda). Never returns.
    pub fn run_http(self) -> ! {
        if std::env::var_os("FLICK_PRINT_OPENAPI").is_some() {
            print_openapi(self.build)
        }
        if let Some(port) = port::requested() {
            port::serve(self.build, self.on_shutdown, &port)
        }
        self.run(async |service: &S, event: Bytes, context: Context| {
            lambda::invoke(service, event, context).await
        })
    }
}

/// For `flick openapi`: runs init, in which `openapi::finish` prints the
/// document and exits. Getting past init means there is no document.
fn print_openapi<S>(build: crate::function::Build<S>) -> ! {
    let mut init = crate::Init::new();
    let reason = match build(&mut init) {
        Ok(_) => "this function has no OpenAPI document: its router does not go through \
                  `flick::http::openapi::finish`"
            .to_owned(),
        Err(e) => format!("init failed before the OpenAPI document was built: {e}"),
    };
    eprintln!("{reason}");
    std::process::exit(2)
}
