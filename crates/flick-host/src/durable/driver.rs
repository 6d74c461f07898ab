//! The replay loop of one execution: invoke the function with the durable
//! invocation input, read what it returned (SUCCEEDED, FAILED or PENDING),
//! then sleep until something it waits for happens (a timer, a callback,
//! a chained invoke) and invoke it again. Chained invokes are [`super::chained`].
//!
//! A failed invocation (a crash, a timeout, an unreadable answer) is tried
//! again after [`RETRY_DELAY`], and the execution fails after
//! [`MAX_FAILED_INVOCATIONS`] in a row, as the service's reference executor
//! does. A change the store could not take is tried again until it can.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use super::engine::{Cell, Engine};
use super::execution::{Changes, Execution};
use super::model::{error_object, ExecStatus, OpStatus, OpType};
use super::progress;
use crate::outcome::Outcome as InvokeOutcome;
use crate::queue::now_ms;
use crate::sandbox::InvokeRequest;
use crate::scheduler::ScheduleError;

/// The wait before a failed invocation is made again.
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// Failed invocations in a row after which the execution fails.
const MAX_FAILED_INVOCATIONS: u32 = 5;
/// The most payload (results, errors) the invocation input carries; the
/// SDKs fetch the rest with `GetDurableExecutionState`.
const INPUT_PAGE_BYTES: usize = 5 * 1024 * 1024;
/// How long a throttled invocation waits before asking again.
const THROTTLE_DELAY: Duration = Duration::from_millis(200);

pub fn spawn(engine: Arc<Engine>, cell: Arc<Cell>) {
    tokio::spawn(drive(engine, cell));
}

async fn drive(engine: Arc<Engine>, cell: Arc<Cell>) {
    let mut stopping = engine.stopping.clone();
    loop {
        if *stopping.borrow() {
            return;
        }
        let (due, may_invoke) = {
            let mut exec = cell.exec.lock().await;
            if !exec.is_open() {
                return;
            }
            if let Some(changes) = progress::fire_due(&exec, now_ms()) {
                if engine
                    .save_until_stored(&mut exec, changes, &cell, true)
                    .await
                {
                    cell.needs_invoke.store(true, Ordering::SeqCst);
                }
                continue;
            }
            (progress::next_due(&exec), exec.may_invoke())
        };
        // While paused the flag stays set, for the resume to find.
        if may_invoke && cell.needs_invoke.swap(false, Ordering::SeqCst) {
            invoke_once(&engine, &cell).await;
            continue;
        }
        let sleep = due.map_or(Duration::from_secs(3600), |t| {
            Duration::from_millis((t - now_ms()).max(0) as u64)
        });
        tokio::select! {
            _ = cell.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

/// The durable invocation input, and the token it carries.
fn invocation_input(exec: &mut Execution) -> Bytes {
    let mut operations = Vec::new();
    let mut budget = INPUT_PAGE_BYTES;
    let mut next_marker = String::new();
    for (i, r) in exec.ops().enumerate() {
        let size = payload_size(&r.op).max(1);
        if size > budget && !operations.is_empty() {
            next_marker = i.to_string();
            break;
        }
        budget = budget.saturating_sub(size);
        operations.push(serde_json::to_value(&r.op).unwrap_or(Value::Null));
    }
    let updated = std::mem::take(&mut exec.changed_by_host);
    let input = json!({
        "DurableExecutionArn": exec.meta.arn,
        "CheckpointToken": exec.token(),
        "InitialExecutionState": { "Operations": operations, "NextMarker": next_marker },
        "UpdatedOperationIds": updated,
    });
    Bytes::from(serde_json::to_vec(&input).unwrap_or_default())
}

fn payload_size(op: &super::model::Operation) -> usize {
    let input = op
        .execution_details
        .as_ref()
        .and_then(|d| d.input_payload.as_ref());
    op.outcome().0.map_or(0, String::len) + input.map_or(0, String::len)
}

/// What an invocation came to.
enum Returned {
    Done(ExecStatus, Option<String>, Option<Value>),
    Pending,
    /// The invocation failed: its error, for the history and the last failure.
    Failed(Value),
}

async fn invoke_once(engine: &Engine, cell: &Arc<Cell>) {
    let (function, failed_before) = {
        let exec = cell.exec.lock().await;
        (exec.meta.function.clone(), exec.head.failed_invocations)
    };
    if failed_before > 0 {
        tokio::time::sleep(RETRY_DELAY).await;
    }
    let slots = engine.slots(&function);
    let _slot = match &slots {
        Some(slots) => slots.clone().acquire_owned().await.ok(),
        None => None,
    };
    // Checked again now that it is about to run: a pause or a stop may have
    // come while it waited.
    let payload = {
        let mut exec = cell.exec.lock().await;
        if !exec.may_invoke() {
            cell.needs_invoke.store(exec.is_open(), Ordering::SeqCst);
            return;
        }
        exec.invoking = true;
        invocation_input(&mut exec)
    };
    let request_id = crate::ids::uuid().to_string();
    let start = now_ms();
    let returned = match invoke(engine, &function, &request_id, payload).await {
        Some(outcome) => read_output(outcome, &request_id),
        None => {
            // The host is stopping: the execution resumes at its next start,
            // and this invocation does not count as a failed one.
            cell.exec.lock().await.invoking = false;
            return;
        }
    };
    record_end(engine, cell, &request_id, start, returned).await;
}

/// One invocation of `function` through the scheduler, waiting out
/// throttles; `None` when the host is stopping.
pub(super) async fn invoke(
    engine: &Engine,
    function: &str,
    request_id: &str,
    payload: Bytes,
) -> Option<InvokeOutcome> {
    loop {
        let req = InvokeRequest {
            request_id: request_id.to_string(),
            payload: payload.clone(),
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            trace: None,
            stream: None,
        };
        match engine.scheduler.invoke(function, req).await {
            Ok(_) | Err(_) if *engine.stopping.borrow() => return None,
            Ok(result) => return Some(result.outcome),
            Err(ScheduleError::Throttled) => tokio::time::sleep(THROTTLE_DELAY).await,
            Err(ScheduleError::ShuttingDown) => return None,
            Err(ScheduleError::NotFound) => {
                // In the shape of a function error, as every other failure here.
                let body = json!({
                    "errorType": "ResourceNotFoundException",
                    "errorMessage": format!("Function not found: {function}"),
                });
                return Some(InvokeOutcome::FunctionError(Bytes::from(body.to_string())));
            }
        }
    }
}

/// Records how an invocation ended (and the execution, if it did).
async fn record_end(
    engine: &Engine,
    cell: &Arc<Cell>,
    request_id: &str,
    start: i64,
    returned: Returned,
) {
    let mut exec = cell.exec.lock().await;
    exec.invoking = false;
    if !exec.is_open() {
        // Ended meanwhile (its EXECUTION checkpoint, a stop, a timeout): a
        // late answer is ignored; a deleted execution is not written again.
        if engine.cell(&exec.meta.arn).is_ok() {
            let changes = progress::invocation_ended(&exec, request_id, start, now_ms(), None);
            engine
                .save_until_stored(&mut exec, changes, cell, false)
                .await;
        }
        return;
    }
    let returned = match returned {
        Returned::Pending if !waits_on_something(&exec) => Returned::Failed(error_object(
            "InvalidParameterValueException",
            "Cannot return PENDING status with no pending operations.",
        )),
        other => other,
    };
    let error = match &returned {
        Returned::Failed(e) => Some(e.clone()),
        _ => None,
    };
    let now = now_ms();
    let mut changes = progress::invocation_ended(&exec, request_id, start, now, error.as_ref());
    finish(&exec, &mut changes, returned, now);
    if !engine
        .save_until_stored(&mut exec, changes, cell, false)
        .await
    {
        // The host stopped first: invoked again at the next start.
        return;
    }
    if exec.head.failed_invocations > 0 && exec.is_open() {
        // Made again after the delay (or after the resume, when paused).
        cell.needs_invoke.store(true, Ordering::SeqCst);
    }
}

/// Ends the execution where the invocation said so (or failed too often).
fn finish(exec: &Execution, changes: &mut Changes, returned: Returned, now: i64) {
    match returned {
        Returned::Done(status, result, error) => {
            // A result too large for the answer came in an EXECUTION
            // checkpoint already, and ended the execution there.
            progress::end(exec, changes, status, result, error, now)
        }
        Returned::Failed(error) if changes.head.failed_invocations >= MAX_FAILED_INVOCATIONS => {
            progress::end(exec, changes, ExecStatus::Failed, None, Some(error), now)
        }
        Returned::Failed(_) | Returned::Pending => {}
    }
}

/// Whether the execution has an operation still to complete.
fn waits_on_something(exec: &Execution) -> bool {
    let waiting = |r: &super::execution::OpRecord| {
        matches!(
            (r.op.kind, r.op.status),
            (OpType::Step, OpStatus::Pending | OpStatus::Ready)
                | (
                    OpType::Wait | OpType::Callback | OpType::ChainedInvoke,
                    OpStatus::Started
                )
        )
    };
    exec.ops().any(waiting) || !exec.changed_by_host.is_empty()
}

/// Reads the durable invocation output: `{"Status", "Result", "Error"}`.
fn read_output(outcome: InvokeOutcome, request_id: &str) -> Returned {
    let body = match outcome {
        InvokeOutcome::Response(body) => body,
        InvokeOutcome::FunctionError(body) => return Returned::Failed(function_error(&body)),
        InvokeOutcome::Failure(f) => return Returned::Failed(function_error(&f.body(request_id))),
    };
    let invalid = |why: &str| {
        Returned::Failed(error_object(
            "InvalidParameterValueException",
            &format!("Invalid invocation output: {why}"),
        ))
    };
    let Ok(output) = serde_json::from_slice::<Value>(&body) else {
        return invalid("not JSON");
    };
    let result = output
        .get("Result")
        .and_then(Value::as_str)
        .map(str::to_string);
    let error = output.get("Error").filter(|e| !e.is_null()).cloned();
    if error.as_ref().is_some_and(|e| !e.is_object()) {
        return invalid("Error is not an object");
    }
    match output.get("Status").and_then(Value::as_str) {
        Some("SUCCEEDED") if error.is_some() => {
            invalid("Cannot provide an Error for SUCCEEDED status.")
        }
        Some("SUCCEEDED") => Returned::Done(ExecStatus::Succeeded, result, None),
        Some("FAILED") if result.is_some() => invalid("Cannot provide a Result for FAILED status."),
        Some("FAILED") => Returned::Done(ExecStatus::Failed, None, error),
        Some("PENDING") => Returned::Pending,
        _ => invalid("Status must be SUCCEEDED, FAILED or PENDING"),
    }
}

/// A function error's body (`errorType`, `errorMessage`, `stackTrace`) as an ErrorObject.
pub(super) fn function_error(body: &[u8]) -> Value {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |key: &str| parsed.get(key).and_then(Value::as_str).map(str::to_string);
    let mut error = json!({
        "ErrorType": text("errorType").unwrap_or_else(|| "Runtime.Unknown".into()),
        "ErrorMessage": text("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    });
    if let Some(trace) = parsed.get("stackTrace").filter(|t| t.is_array()) {
        error["StackTrace"] = trace.clone();
    }
    error
}
