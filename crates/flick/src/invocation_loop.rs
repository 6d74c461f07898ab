//! The invocation loop of one thread: `/next`, call the handler, `/response`
//! or `/error`, forever.
//!
//! Owns the per-thread buffers and invocation record (reused, so a steady-state
//! invocation allocates nothing here), the cold-start flag, and what each
//! outcome leads to: a `Fatal` error or a lost Runtime API ends the process,
//! anything else is reported and the loop goes on. Starting threads and init
//! belong to `function`.

use std::process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tracing::Level;

use crate::codec::Buffers;
use crate::context::{Context, FunctionInfo, Invocation};
use crate::endpoint::Endpoint;
use crate::error::{Error, Kind};
use crate::executor::Executor;
use crate::handler::Invoke;
#[cfg(feature = "http")]
use crate::responder::Responder;
use crate::runtime_api::{ApiError, RuntimeApi};
use crate::{current, logging, panic, startup_trace};

/// Set until the sandbox's first invocation takes it.
static COLD: AtomicBool = AtomicBool::new(true);

/// What one loop thread needs to know.
pub(crate) struct Loop<'a, S, H> {
    pub(crate) api: &'a Endpoint,
    pub(crate) state: &'a S,
    pub(crate) handler: &'a H,
    pub(crate) function: &'a Arc<FunctionInfo>,
}

impl<S, H: Invoke<S>> Loop<'_, S, H> {
    pub(crate) fn serve(&self) -> ! {
        let executor = Executor::new()
            .unwrap_or_else(|e| exit_with(&format!("cannot start the handler executor: {e}")));
        let mut api = RuntimeApi::new(self.api);
        let mut buffers = Buffers::default();
        let mut record = Arc::new(Invocation::default());
        let mut first = true;
        loop {
            if std::mem::take(&mut first) {
                startup_trace::first_next_sent();
            }
            if let Err(e) = api.next(reusable(&mut record), &mut buffers.event) {
                exit_with(&e.to_string());
            }
            let cold = COLD.swap(false, Ordering::Relaxed);
            reusable(&mut record).cold_start = cold;

            current::enter(&record);
            if cold {
                startup_trace::write_once();
            }
            #[cfg(feature = "opentelemetry")]
            let span = crate::otel::InvocationSpan::enter(&record, self.function);
            let context = Context {
                invocation: Arc::clone(&record),
                function: Arc::clone(self.function),
            };
            #[cfg(not(feature = "http"))]
            let outcome = panic::catch(|| {
                self.handler
                    .invoke(self.state, &mut buffers, context, &executor)
            });
            #[cfg(not(feature = "http"))]
            let request_id = &record.request_id;
            #[cfg(not(feature = "http"))]
            let sent = match &outcome {
                Ok(()) => api.respond(request_id, &buffers.output),
                Err(error) => {
                    log_failure(error);
                    api.report_error(request_id, error)
                }
            };
            // With `http`, a handler may stream its answer itself: the
            // responder knows whether it did and settles either way. Without
            // it the loop above answers as it always did, and the default
            // build carries no responder at all.
            #[cfg(feature = "http")]
            let (sent, outcome) = {
                let mut responder = Responder::new(&mut api, &record.request_id);
                let outcome = panic::catch(|| {
                    self.handler.invoke(
                        self.state,
                        &mut buffers,
                        context,
                        &executor,
                        &mut responder,
                    )
                });
                let sent = match &outcome {
                    Ok(()) => responder.respond(&buffers.output),
                    Err(error) => {
                        log_failure(error);
                        responder.report_error(error)
                    }
                };
                (sent, outcome)
            };
            current::leave();
            #[cfg(feature = "opentelemetry")]
            span.end(outcome.as_ref().err());
            match (sent, outcome) {
                (Err(ApiError::Io(e)), _) => exit_with(&format!("lost the Runtime API: {e}")),
                (_, Err(error)) if error.kind() == Kind::Fatal => exit_with(
                    "a handler reported a fatal error; exiting so the host replaces this sandbox",
                ),
                (Err(refused), _) => {
                    logging::write(Level::WARN, &refused, &[("requestId", &record.request_id)]);
                }
                (Ok(()), _) => {}
            }
        }
    }
}

/// The record to fill for the next invocation: the same one if the handler
/// kept no `Context` from the last, else a fresh one.
fn reusable(record: &mut Arc<Invocation>) -> &mut Invocation {
    if Arc::get_mut(record).is_none() {
        *record = Arc::new(Invocation::default());
    }
    Arc::get_mut(record).expect("a fresh Arc has one owner")
}

fn log_failure(error: &Error) {
    logging::write(
        Level::ERROR,
        &"invocation failed",
        &[("errorType", &error.error_type()), ("errorMessage", error)],
    );
}

/// Ends the process after a failure the sandbox cannot recover from.
pub(crate) fn exit_with(reason: &str) -> ! {
    logging::write(Level::ERROR, &reason, &[]);
    process::exit(1)
}
