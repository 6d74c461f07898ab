//! The Flick host: runs AWS Lambda functions as local processes with
//! Lambda's semantics and serves the Lambda Invoke API.
//!
//! One invocation reads straight through the modules: [`invoke_api`] takes
//! the request, [`scheduler`] picks a warm [`sandbox`] (prepared ahead) or
//! starts one, the sandbox's [`runtime_api`] hands the event to the waiting
//! `/next`, the function answers and the reply goes back; the sandbox is
//! free again when its runtime (and every extension, through the
//! [`extensions_api`] on the same address) asks for its next event; a
//! function's [`layers`] bring those extensions. An `Event`
//! invocation has the [`queue`] in front: committed to disk, answered 202,
//! then delivered by its workers through the same scheduler. [`gateway`]
//! turns plain HTTP requests into API Gateway events for the same
//! scheduler; it and `InvokeWithResponseStream` read streamed answers
//! through [`streamed`]. [`logs`] carries function output and the
//! START/END/REPORT lines; [`manifest`] is the configuration. [`serve`]
//! composes the APIs on one address and puts it all together.

pub mod admin;
pub mod build_step;
pub mod clock;
pub mod durable;
pub mod extensions_api;
pub mod function;
pub mod gateway;
pub(crate) mod ids;
pub mod invoke_api;
pub mod layers;
pub mod logs;
pub mod manifest;
mod net;
pub mod outcome;
pub mod queue;
pub mod runtime_api;
pub mod sandbox;
pub mod scheduler;
mod server;
pub mod streamed;
pub(crate) mod sync;
mod watch;
pub mod watchdog;

pub use server::{serve, ServeError, ServeOptions};
