//! Delivery: one dispatcher per function takes due events from the store,
//! oldest first, and runs each through the same scheduler as synchronous
//! invocations, never more at once than the function's concurrency; then it
//! settles the event by the retry policy: done (on-success destination),
//! retried later, or dead-lettered (on-failure destination).
//!
//! A dispatcher sleeps until its function's store notification, or until the
//! earliest retry time, so idle functions cost nothing and each function
//! progresses on its own: a busy one does not hold back another. Retry rules
//! are in [`super::policy`], the record in [`super::record`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::function::Function;
use crate::outcome::Outcome;
use crate::sandbox::InvokeRequest;
use crate::scheduler::{ScheduleError, Scheduler};

use super::policy::{Attempt, Condition, Decision, RetryPolicy};
use super::record::{invocation_record, LastResponse};
use super::{now_ms, Claim, NewEvent, QueueStore, QueuedEvent, Settlement};

/// How long a dispatcher waits before asking a failing store again.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// The dispatchers of every function.
pub struct Workers {
    stop: watch::Sender<bool>,
    dispatchers: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Starts one dispatcher per function of the scheduler.
    pub fn start(store: Arc<dyn QueueStore>, scheduler: Arc<Scheduler>) -> Workers {
        let (stop, stopping) = watch::channel(false);
        let dispatchers = scheduler
            .functions()
            .map(|function| {
                let ctx = Arc::new(Ctx {
                    function: function.clone(),
                    policy: RetryPolicy::new(&function.config.async_config),
                    scheduler: scheduler.clone(),
                    store: store.clone(),
                    stopping: stopping.clone(),
                });
                tokio::spawn(dispatch(ctx))
            })
            .collect();
        Workers { stop, dispatchers }
    }

    /// Stops taking events from the store; deliveries under way go on.
    pub fn stop_claiming(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits up to `timeout` for the deliveries under way to be settled.
    /// One still running then stays in the store and is delivered again
    /// after the next start.
    pub async fn join(self, timeout: Duration) {
        self.stop_claiming();
        let all = join_all(self.dispatchers);
        let _ = tokio::time::timeout(timeout, all).await;
    }
}

async fn join_all(handles: Vec<tokio::task::JoinHandle<()>>) {
    for handle in handles {
        let _ = handle.await;
    }
}

struct Ctx {
    function: Arc<Function>,
    policy: RetryPolicy,
    scheduler: Arc<Scheduler>,
    store: Arc<dyn QueueStore>,
    stopping: watch::Receiver<bool>,
}

impl Ctx {
    fn name(&self) -> &str {
        &self.function.config.name
    }
}

async fn dispatch(ctx: Arc<Ctx>) {
    let config = &ctx.function.config;
    let slots = Arc::new(Semaphore::new(
        config.max_concurrency * config.per_sandbox_concurrency,
    ));
    let wake = ctx.store.wake(ctx.name());
    let mut stop = ctx.stopping.clone();
    let mut running = JoinSet::new();
    'serve: loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok(slot) = slot else { break };
        let event = loop {
            while running.try_join_next().is_some() {}
            let wait = match ctx.store.claim(ctx.name(), now_ms()).await {
                Ok(Claim::Event(event)) => break event,
                Ok(Claim::Wait { until_ms }) => until_ms.map_or(Duration::from_secs(3600), |t| {
                    Duration::from_millis((t - now_ms()).max(0) as u64)
                }),
                Err(e) => {
                    tracing::warn!("queue of {}: {e}", ctx.name());
                    STORE_RETRY
                }
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => break 'serve,
            }
        };
        let ctx = ctx.clone();
        running.spawn(async move {
            deliver(&ctx, event).await;
            drop(slot);
        });
    }
    while running.join_next().await.is_some() {}
}

/// One delivery attempt of `event`, settled in the store.
async fn deliver(ctx: &Ctx, event: QueuedEvent) {
    let accepted = event.event.accepted_ms;
    let mut counters = event.counters;
    if ctx.policy.expired(accepted, now_ms()) {
        let settlement = give_up(ctx, &event, counters, Condition::EventAgeExceeded, None);
        return settle(ctx, event, settlement).await;
    }
    let request = InvokeRequest {
        request_id: event.event.id.clone(),
        payload: event.event.payload.clone(),
        client_context: event.event.client_context.clone(),
        cognito_identity: None,
        tenant_id: event.event.tenant_id.clone(),
        trace: event.event.trace.clone(),
        stream: None,
    };
    let result = ctx.scheduler.invoke(ctx.name(), request).await;
    let (attempt, response) = match result {
        Ok(result) => match result.outcome {
            Outcome::Response(payload) => (
                Attempt::Success,
                LastResponse {
                    payload,
                    function_error: false,
                },
            ),
            Outcome::FunctionError(payload) => (
                Attempt::FunctionError,
                LastResponse {
                    payload,
                    function_error: true,
                },
            ),
            // The host stopped the sandbox under it: not the function's fault.
            Outcome::Failure(_) if *ctx.stopping.borrow() => {
                return settle(ctx, event, Settlement::Abandon).await
            }
            Outcome::Failure(failure) => (
                Attempt::FunctionError,
                LastResponse {
                    payload: failure.body(&event.event.id),
                    function_error: true,
                },
            ),
        },
        Err(ScheduleError::ShuttingDown) => return settle(ctx, event, Settlement::Abandon).await,
        Err(ScheduleError::Throttled | ScheduleError::NotFound) => {
            let decision = ctx
                .policy
                .after(&mut counters, Attempt::Throttled, accepted, now_ms());
            let settlement = match decision {
                Decision::RetryAt(at) => Settlement::Retry {
                    counters,
                    not_before_ms: at,
                },
                Decision::GiveUp(condition) => give_up(ctx, &event, counters, condition, None),
                Decision::Done => unreachable!("a throttle is never a success"),
            };
            return settle(ctx, event, settlement).await;
        }
    };
    let settlement = match ctx.policy.after(&mut counters, attempt, accepted, now_ms()) {
        Decision::Done => Settlement::Done {
            follow_up: ctx
                .function
                .config
                .async_config
                .on_success
                .as_deref()
                .map(|dest| {
                    let record = record(ctx, &event, counters, Condition::Success, Some(&response));
                    new_event(dest, record)
                }),
        },
        Decision::RetryAt(at) => {
            tracing::debug!(
                "{}: event {} failed, retried in {} ms",
                ctx.name(),
                event.event.id,
                at - now_ms()
            );
            Settlement::Retry {
                counters,
                not_before_ms: at,
            }
        }
        Decision::GiveUp(condition) => give_up(ctx, &event, counters, condition, Some(&response)),
    };
    settle(ctx, event, settlement).await
}

fn give_up(
    ctx: &Ctx,
    event: &QueuedEvent,
    counters: super::Counters,
    condition: Condition,
    response: Option<&LastResponse>,
) -> Settlement {
    tracing::warn!(
        "{}: event {} given up ({}, {} invocations); kept in the dead-letter table",
        ctx.name(),
        event.event.id,
        condition.as_str(),
        counters.invokes
    );
    let record = record(ctx, event, counters, condition, response);
    let follow_up = ctx
        .function
        .config
        .async_config
        .on_failure
        .as_deref()
        .map(|dest| new_event(dest, record.clone()));
    Settlement::DeadLetter {
        counters,
        condition: condition.as_str().to_string(),
        record,
        follow_up,
    }
}

fn record(
    ctx: &Ctx,
    event: &QueuedEvent,
    counters: super::Counters,
    condition: Condition,
    response: Option<&LastResponse>,
) -> bytes::Bytes {
    invocation_record(
        &event.event.id,
        &ctx.function.arn,
        condition,
        counters.invokes,
        &event.event.payload,
        response,
    )
}

/// A destination's event: the record, under a request id of its own.
fn new_event(function: &str, payload: bytes::Bytes) -> NewEvent {
    NewEvent {
        id: crate::ids::uuid().to_string(),
        function: function.to_string(),
        payload,
        client_context: None,
        tenant_id: None,
        trace: None,
        accepted_ms: now_ms(),
    }
}

async fn settle(ctx: &Ctx, event: QueuedEvent, settlement: Settlement) {
    let id = event.event.id.clone();
    if let Err(e) = ctx.store.settle(event, settlement).await {
        tracing::warn!("{}: cannot record the end of event {id}: {e}", ctx.name());
    }
}
