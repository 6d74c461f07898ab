//! What a function's init code can ask for: its typed configuration and
//! prewarm tasks (connection pools, caches) that run concurrently before the
//! first invocation.
//!
//! Owns [`Init`] and running the prewarm tasks. Building the state itself is
//! the user's init function; ordering the phases is `function`'s job.

use std::borrow::Cow;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::startup_trace::StartupTrace;

type Task = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

/// Handed to the init function given to [`crate::init`].
pub struct Init {
    pub(crate) config_time: Duration,
    prewarm: Vec<(Cow<'static, str>, Task)>,
}

impl Init {
    pub(crate) fn new() -> Self {
        Self {
            config_time: Duration::ZERO,
            prewarm: Vec::new(),
        }
    }

    /// Loads the configuration struct `C` from environment variables (field
    /// `table_name` from `TABLE_NAME`). On error every missing or invalid
    /// variable is listed; returned with `?`, it fails init with
    /// `errorType` `InvalidConfig`.
    pub fn config<C: DeserializeOwned>(&mut self) -> Result<C, Error> {
        let started = Instant::now();
        let config = crate::config::from_env::<C>();
        self.config_time += started.elapsed();
        config.map_err(|e| Error::fatal(e).with_type("InvalidConfig"))
    }

    /// Runs `task` during init, concurrently with the other prewarm tasks,
    /// after the init function returns and before the first invocation. Its
    /// time shows in the startup trace as `prewarm.<name>`; its failure fails
    /// init.
    pub fn prewarm<F, E>(&mut self, name: impl Into<Cow<'static, str>>, task: F)
    where
        F: Future<Output = Result<(), E>> + 'static,
        E: Into<Error>,
    {
        let task = async move { task.await.map_err(Into::into) };
        self.prewarm.push((name.into(), Box::pin(task)));
    }

    /// Takes the prewarm tasks out, to be run by [`run_prewarm`].
    pub(crate) fn take_prewarm(&mut self) -> Vec<(Cow<'static, str>, Task)> {
        std::mem::take(&mut self.prewarm)
    }
}

impl std::fmt::Debug for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Init")
            .field("prewarm_tasks", &self.prewarm.len())
            .finish()
    }
}

/// Polls every task until all are done, recording each one's time; fails
/// with every task's error if any failed.
pub(crate) async fn run_prewarm(
    tasks: Vec<(Cow<'static, str>, Task)>,
    trace: &mut StartupTrace,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut pending: Vec<Option<(Cow<'static, str>, Task)>> = tasks.into_iter().map(Some).collect();
    let mut failures = Vec::new();
    poll_fn(|cx| {
        for slot in pending.iter_mut() {
            let Some((name, task)) = slot else { continue };
            if let Poll::Ready(result) = task.as_mut().poll(cx) {
                trace.record(format!("prewarm.{name}"), started.elapsed());
                if let Err(e) = result {
                    failures.push(format!("{name}: {e}"));
                }
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    if failures.is_empty() {
        Ok(())
    } else {
        let message = format!("prewarm failed: {}", failures.join("; "));
        Err(Error::fatal(message).with_type("PrewarmFailed"))
    }
}
