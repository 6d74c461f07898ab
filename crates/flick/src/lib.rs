//! Flick: the lean way to write AWS Lambda functions in Rust.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Order { id: String }
//!
//! #[derive(Serialize)]
//! struct Receipt { id: String, by: String }
//!
//! async fn handle(order: Order, ctx: flick::Context) -> Result<Receipt, flick::Error> {
//!     if order.id.is_empty() {
//!         return Err(flick::Error::client("order id is empty").with_type("InvalidOrder"));
//!     }
//!     tracing::info!(order = %order.id, "accepted");
//!     Ok(Receipt { id: order.id, by: ctx.function_name().to_owned() })
//! }
//!
//! fn main() {
//!     flick::run(handle)
//! }
//! ```
//!
//! What you get, each in a small module named for it:
//!
//! - **Handlers** ([`run`], [`run_blocking`], [`init`]): `async fn(Event,
//!   Context)` or plain `fn`, events and results as any serde type or raw
//!   [`Bytes`]; with state built once at init and passed as `&State`.
//! - **[`Context`]**: request id, deadline, ARN, trace id, client context,
//!   Cognito identity, function name/version/memory, cold start.
//! - **Errors** ([`Error`], [`Kind`]): `Client`, `Transient`, `Fatal`, a short
//!   `errorType` you choose, the source chain in `stackTrace`; `?` works on any
//!   `std` error and on `anyhow::Error`. A panicking handler fails only its
//!   invocation.
//! - **Logs**: `tracing` events as one line each, JSON or text per
//!   `AWS_LAMBDA_LOG_FORMAT`/`AWS_LAMBDA_LOG_LEVEL`, with `requestId` and
//!   `coldStart` on every line written during an invocation.
//! - **Configuration** ([`Init::config`]): a `Deserialize` struct from
//!   environment variables; every bad variable reported at once, at init.
//! - **Init**: prewarm tasks run concurrently ([`Init::prewarm`]); a startup
//!   trace of each phase is logged on the cold start.
//! - **Shutdown** ([`Function::on_shutdown`]): a hook run on SIGTERM.
//! - **Concurrency**: `AWS_LAMBDA_MAX_CONCURRENCY=N` serves N invocations at
//!   once in one process.
//! - **Tests** ([`testing`]): call a handler in-process with a fixture.
//! - **HTTP** (feature `http`, module `http`): an axum `Router` or any tower
//!   `Service` on API Gateway, ALB and Function URL events, streamed or
//!   whole, or on `PORT` outside Lambda; feature `openapi` adds the OpenAPI
//!   document and validating extractors.
//!
//! Nothing panics on bad configuration or a bad environment: init fails through
//! `/init/error` with a message listing every problem, then the process exits 1.
//!
//! # Why it is built this way
//!
//! A function's binary size and time to first `/next` are its cold start, so
//! every byte here has to earn its place (sizes with the workspace's `lambda`
//! profile: `opt-level="z"`, LTO, one codegen unit, `panic="abort"`, strip):
//!
//! - The Runtime API client is a blocking HTTP/1.1 client over `std`'s
//!   `TcpStream` (module `http_client`), with keep-alive and buffers reused
//!   across invocations. The Runtime API is one peer on loopback speaking a
//!   fixed dialect; hyper, tower and tokio's multi-threaded runtime
//!   (the official runtime's stack, 794 KB for an echo) buy nothing there.
//!   `httparse` was not needed: the responses have a status line and a handful
//!   of headers.
//! - Async handlers run on a tiny park/unpark `block_on` (module `executor`).
//!   Handlers that need tokio I/O enable the `tokio` feature: each loop thread
//!   then owns a current-thread tokio runtime.
//! - `AWS_LAMBDA_MAX_CONCURRENCY=N` means N loop threads, each with its own
//!   connection, buffers and executor: no `Send` bound on handler futures, no
//!   work stealing, no locks on the hot path.
//! - Logs use a hand-written `tracing` subscriber (module `logging`):
//!   `tracing-subscriber`'s fmt layer and registry would cost more than the
//!   whole SDK without them. The request id comes from a thread-local record
//!   of the invocation the thread serves (module `current`).
//!
//! Dependencies: `serde` + `serde_json` (events and results; users need them
//! anyway), `tracing` without its `std` feature (the facade users log with;
//! 7.3 KB with the subscriber), `libc` (bindings only: `sigwait`,
//! `pthread_create`, the process CPU clock), `tokio` (optional, off by
//! default). The README has the measured cost of each and of what was left
//! out.

// Every public item says what it is for: this crate is read through its docs.
#![warn(missing_docs)]

#[cfg(feature = "batch")]
pub mod batch;
mod codec;
pub mod config;
mod context;
mod current;
mod endpoint;
mod error;
mod executor;
mod function;
mod handler;
#[cfg(feature = "http")]
pub mod http;
mod http_client;
#[cfg(feature = "idempotency")]
pub mod idempotency;
mod init;
mod invocation_loop;
mod json_text;
mod logging;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "opentelemetry")]
pub mod otel;
mod panic;
#[cfg(feature = "http")]
mod responder;
mod runtime_api;
mod runtime_env;
mod shutdown;
mod startup_trace;
pub mod testing;
mod threads;

pub use codec::{Bytes, Event, Output};
pub use context::Context;
pub use error::{BoxError, Error, Kind};
pub use function::{init, run, run_blocking, Function};
pub use init::Init;
