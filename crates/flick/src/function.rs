//! A function's life: read the environment, run init, prewarm, then serve
//! invocations on one or more loop threads until the process ends.
//!
//! Owns the public entry points ([`run`], [`run_blocking`], [`init`] and the
//! [`Function`] builder) and the order of the init phases. Everything that
//! can go wrong before the first `/next` is reported through `/init/error`
//! and ends the process with status 1; nothing here panics on bad input.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::codec::{Event, Output};
use crate::context::Context;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::executor::Executor;
use crate::handler::{AsyncHandler, BlockingHandler, Invoke};
use crate::init::{run_prewarm, Init};
use crate::invocation_loop::{exit_with, Loop};
use crate::runtime_api::RuntimeApi;
use crate::runtime_env::RuntimeEnv;
use crate::startup_trace::StartupTrace;
use crate::{logging, panic, shutdown, threads};

/// Serves invocations with `handler`, an `async fn(Event, Context) ->
/// Result<Output, E>`. Never returns.
///
/// ```no_run
/// async fn echo(event: serde_json::Value, _: flick::Context) -> Result<serde_json::Value, flick::Error> {
///     Ok(event)
/// }
/// fn main() {
///     flick::run(echo)
/// }
/// ```
pub fn run<F, Ev, O, E>(handler: F) -> !
where
    F: AsyncFn(Ev, Context) -> Result<O, E> + Sync + 'static,
    Ev: Event + 'static,
    O: Output + 'static,
    E: Into<Error> + 'static,
{
    stateless().run(async move |_: &(), event: Ev, context: Context| handler(event, context).await)
}

/// Serves invocations with a plain `fn(Event, Context) -> Result<Output, E>`.
/// Never returns.
pub fn run_blocking<F, Ev, O, E>(handler: F) -> !
where
    F: Fn(Ev, Context) -> Result<O, E> + Sync + 'static,
    Ev: Event + 'static,
    O: Output + 'static,
    E: Into<Error> + 'static,
{
    stateless().run_blocking(move |_: &(), event: Ev, context: Context| handler(event, context))
}

/// Starts building a function whose handlers share the state `build` returns.
/// `build` runs once, at init; it can load configuration and register prewarm
/// tasks through [`Init`].
pub fn init<S, F, E>(build: F) -> Function<S>
where
    F: FnOnce(&mut Init) -> Result<S, E> + 'static,
    E: Into<Error>,
{
    Function {
        build: Box::new(move |init| build(init).map_err(Into::into)),
        on_shutdown: None,
    }
}

fn stateless() -> Function<()> {
    init(|_| Ok::<(), Error>(()))
}

/// A function under construction: its init, its shutdown hook, then
/// [`run`](Function::run) or [`run_blocking`](Function::run_blocking) with a
/// handler that receives `&S`.
pub struct Function<S> {
    pub(crate) build: Build<S>,
    pub(crate) on_shutdown: Option<ShutdownHook<S>>,
}

pub(crate) type Build<S> = Box<dyn FnOnce(&mut Init) -> Result<S, Error>>;
pub(crate) type ShutdownHook<S> = Box<dyn FnOnce(&S) + Send>;

impl<S> std::fmt::Debug for Function<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("on_shutdown", &self.on_shutdown.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: Sync + 'static> Function<S> {
    /// Runs `hook` with the state when the host sends SIGTERM, then exits 0.
    /// Keep it short: the host kills the process after a brief grace period.
    pub fn on_shutdown(mut self, hook: impl FnOnce(&S) + Send + 'static) -> Self {
        self.on_shutdown = Some(Box::new(hook));
        self
    }

    /// Serves invocations with an `async fn(&S, Event, Context) ->
    /// Result<Output, E>`. Never returns.
    pub fn run<F, Ev, O, E>(self, handler: F) -> !
    where
        F: AsyncFn(&S, Ev, Context) -> Result<O, E> + Sync + 'static,
        Ev: Event + 'static,
        O: Output + 'static,
        E: Into<Error> + 'static,
    {
        self.serve(AsyncHandler {
            f: handler,
            types: PhantomData,
        })
    }

    /// Serves invocations with a plain `fn(&S, Event, Context) ->
    /// Result<Output, E>`. Never returns.
    pub fn run_blocking<F, Ev, O, E>(self, handler: F) -> !
    where
        F: Fn(&S, Ev, Context) -> Result<O, E> + Sync + 'static,
        Ev: Event + 'static,
        O: Output + 'static,
        E: Into<Error> + 'static,
    {
        self.serve(BlockingHandler {
            f: handler,
            types: PhantomData,
        })
    }

    pub(crate) fn serve(self, handler: impl Invoke<S> + 'static) -> ! {
        let mut trace = StartupTrace::begin();
        let env = RuntimeEnv::from_process();
        #[cfg(not(feature = "opentelemetry"))]
        logging::install(env.log);
        #[cfg(feature = "opentelemetry")]
        let telemetry = crate::otel::install(env.log, &env.function);
        panic::install(env.api.as_ref());
        let Some(api) = env.api.as_ref() else {
            // Nowhere to send an init error: say it where a person will look.
            exit_with(&format!(
                "cannot start: {}; this program is meant to be run by AWS Lambda or `flick serve`",
                env.problems.join("; ")
            ))
        };
        if !env.problems.is_empty() {
            let message = format!(
                "the runtime environment is invalid: {}",
                env.problems.join("; ")
            );
            fail_init(
                api,
                Error::fatal(message).with_type("Runtime.InvalidEnvironment"),
            );
        }
        #[cfg(feature = "opentelemetry")]
        if let Err(message) = telemetry {
            fail_init(
                api,
                Error::fatal(message).with_type("Runtime.OpenTelemetry"),
            );
        }
        if self.on_shutdown.is_some() {
            if let Err(e) = shutdown::block_sigterm() {
                let message = format!("cannot block SIGTERM for the shutdown hook: {e}");
                fail_init(api, Error::fatal(message).with_type("Runtime.ShutdownHook"));
            }
        }
        trace.lap("runtime_env");

        let mut init = Init::new();
        let state = panic::catch(|| (self.build)(&mut init)).unwrap_or_else(|e| fail_init(api, e));
        trace.record("config", init.config_time);
        trace.lap_excluding("state", init.config_time);
        let tasks = init.take_prewarm();
        if !tasks.is_empty() {
            let prewarmed = Executor::new()
                .map_err(|e| Error::fatal(format!("cannot start the prewarm executor: {e}")))
                .and_then(|executor| {
                    panic::catch(|| executor.block_on(run_prewarm(tasks, &mut trace)))
                });
            if let Err(e) = prewarmed {
                fail_init(api, e);
            }
            trace.lap("prewarm");
        }
        trace.publish();

        // The state, handler and function facts live as long as the process:
        // leaking them lets every loop thread borrow them for `'static`.
        let serving: &'static Loop<'static, S, _> = Box::leak(Box::new(Loop {
            api: Box::leak(Box::new(api.clone())),
            state: Box::leak(Box::new(state)),
            handler: Box::leak(Box::new(handler)),
            function: Box::leak(Box::new(Arc::new(env.function))),
        }));
        if let Some(hook) = self.on_shutdown {
            let state = serving.state;
            spawn_or_fail(api, move || {
                shutdown::wait_for_sigterm();
                hook(state);
                std::process::exit(0)
            });
        }
        for _ in 1..env.concurrency {
            spawn_or_fail(api, || serving.serve());
        }
        serving.serve()
    }
}

/// Starts a thread or fails init. Errors become text here: boxing an
/// `io::Error` would link its `Debug` impl into every binary.
fn spawn_or_fail(api: &Endpoint, task: impl FnOnce() + Send + 'static) {
    if let Err(e) = threads::spawn(task) {
        let message = format!("cannot start a thread: {e}");
        fail_init(api, Error::fatal(message).with_type("Runtime.ThreadStart"));
    }
}

/// Reports an init failure and ends the process.
fn fail_init(api: &Endpoint, error: Error) -> ! {
    logging::write(
        tracing::Level::ERROR,
        &"init failed",
        &[("errorType", &error.error_type()), ("errorMessage", &error)],
    );
    if let Err(e) = RuntimeApi::new(api).report_init_error(&error) {
        logging::write(tracing::Level::ERROR, &e, &[]);
    }
    std::process::exit(1)
}
