//! Durable functions: Lambda's durable executions, run by the host and kept
//! in its database. A function declared `[functions.NAME.durable]` is
//! invoked with the durable invocation input; the AWS Durable Execution
//! SDKs inside it checkpoint each step through the host's Lambda API, and
//! the host invokes it again (the SDK replays from the checkpoints) when a
//! wait ends, a step's retry is due, a callback completes or a chained
//! invoke returns, until it returns SUCCEEDED or FAILED.
//!
//! The wire shapes are in [`model`]; an execution in memory in
//! [`execution`], its history events in [`history`]; the checkpoint rules
//! in [`checkpoint`], what the host itself changes in [`progress`]; the
//! registry and its operations in [`engine`], the replay loop in
//! [`driver`], chained invokes in [`chained`]; the stores in [`store`]
//! (SQLite) and [`postgres`] (shared by several hosts, one of which runs
//! the executions: [`leader`]). The HTTP side is `invoke_api::durable`.

pub mod chained;
pub mod checkpoint;
pub mod driver;
pub mod engine;
pub mod execution;
pub mod history;
pub mod leader;
pub mod model;
pub mod postgres;
pub mod progress;
pub mod store;

pub use engine::{DurableError, Engine};
pub use leader::{Durable, Route};
