//! Panics in user code, turned into errors instead of lost sandboxes.
//!
//! Owns the panic hook and [`catch`]. With `panic = "unwind"` a panicking
//! handler becomes that invocation's `Panic` error and the sandbox keeps
//! serving. With `panic = "abort"` (the size-optimised profile) nothing can be
//! caught, so the hook itself reports the error for the current invocation (or
//! `/init/error` during init) on a fresh connection before the process aborts,
//! and the host replaces the sandbox.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::runtime_api::RuntimeApi;
use crate::{current, logging};

thread_local! {
    /// The message of the panic this thread is unwinding from.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static RUNTIME_API: OnceLock<Endpoint> = OnceLock::new();

/// Installs the hook; `api` is where an aborting process reports its panic.
pub(crate) fn install(api: Option<&Endpoint>) {
    if let Some(api) = api {
        let _ = RUNTIME_API.set(api.clone());
    }
    panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let message = match info.location() {
            Some(at) => format!("panicked at {}:{}: {text}", at.file(), at.line()),
            None => format!("panicked: {text}"),
        };
        logging::write(tracing::Level::ERROR, &message, &[]);
        if cfg!(panic = "abort") {
            report_before_abort(message);
        } else {
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(message));
        }
    }));
}

/// Runs `f`, turning a panic into a `Panic` error.
pub(crate) fn catch<R>(f: impl FnOnce() -> Result<R, Error>) -> Result<R, Error> {
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let message = LAST_PANIC
            .with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| "panicked".to_owned());
        Err(Error::transient(message).with_type("Panic"))
    })
}

fn report_before_abort(message: String) {
    let Some(api) = RUNTIME_API.get() else {
        return;
    };
    let mut api = RuntimeApi::new(api);
    let error = Error::fatal(message).with_type("Panic");
    let request_id = current::with(|i| i.map(|i| i.request_id.clone()));
    // The process is about to abort; if the report fails the host still sees
    // the exit.
    let _ = match request_id {
        Some(id) => api.report_error(&id, &error),
        None => api.report_init_error(&error),
    };
}
