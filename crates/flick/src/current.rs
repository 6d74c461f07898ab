//! The invocation the current thread is serving, for code that has no
//! [`Context`](crate::Context) at hand: the log writer (to stamp `requestId` and
//! `coldStart` on every line) and the panic hook (to name the failed request).
//!
//! One loop thread serves one invocation at a time, so a thread-local is exact,
//! also with `AWS_LAMBDA_MAX_CONCURRENCY` > 1 (one loop thread per slot) and for
//! tasks a handler spawns on the per-thread tokio runtime. Threads the handler
//! spawns itself do not inherit it.

use std::cell::RefCell;
use std::sync::Arc;

use crate::context::Invocation;

thread_local! {
    static CURRENT: RefCell<Option<Arc<Invocation>>> = const { RefCell::new(None) };
}

/// Marks `invocation` as the one this thread serves until [`leave`].
pub(crate) fn enter(invocation: &Arc<Invocation>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(Arc::clone(invocation)));
}

/// The thread serves no invocation any more.
pub(crate) fn leave() {
    CURRENT.with(|c| c.borrow_mut().take());
}

/// Calls `f` with the invocation this thread serves, if any.
pub(crate) fn with<R>(f: impl FnOnce(Option<&Invocation>) -> R) -> R {
    CURRENT.with(|c| match c.try_borrow() {
        Ok(current) => f(current.as_deref()),
        // Only reachable when a log line is written from inside enter/leave.
        Err(_) => f(None),
    })
}
