//! What the host itself does to an execution between checkpoints: timers
//! that fire (a wait's end, a step's next attempt, a callback's timeouts,
//! the execution's timeout), callbacks completed through the API, chained
//! invokes that return, invocations that end, and executions that end.
//! Each returns [`Changes`] for the engine to store and commit.

use serde_json::Value;

use super::execution::{Changes, Execution, OpRecord, Pause};
use super::history::{self, Facts};
use super::model::{error_object, ExecStatus, OpStatus, OpType};

/// How an operation the host completes ended.
pub type Outcome = Result<String, Value>;

/// When something of `exec` falls due next (epoch ms), if anything waits.
pub fn next_due(exec: &Execution) -> Option<i64> {
    exec.ops()
        .filter_map(due_at)
        .chain(exec.deadline_ms())
        .min()
}

fn due_at(r: &OpRecord) -> Option<i64> {
    let op = &r.op;
    match (op.kind, op.status) {
        (OpType::Wait, OpStatus::Started) => {
            op.wait_details.as_ref().map(|w| w.scheduled_end_timestamp)
        }
        (OpType::Step, OpStatus::Pending) => op.step_details.as_ref()?.next_attempt_timestamp,
        (OpType::Callback, OpStatus::Started) => callback_deadline(r),
        _ => None,
    }
}

/// The earlier of a callback's timeout and its heartbeat's.
fn callback_deadline(r: &OpRecord) -> Option<i64> {
    let options = r.extra.callback?;
    let timeout = (options.timeout_seconds > 0)
        .then(|| r.op.start_timestamp + options.timeout_seconds * 1000);
    let heartbeat = (options.heartbeat_timeout_seconds > 0).then(|| {
        r.extra.heartbeat_ms.unwrap_or(r.op.start_timestamp)
            + options.heartbeat_timeout_seconds * 1000
    });
    timeout.into_iter().chain(heartbeat).min()
}

/// Everything of `exec` due at `now_ms`: waits end, steps become ready to
/// retry, callbacks time out, and the execution itself times out.
pub fn fire_due(exec: &Execution, now_ms: i64) -> Option<Changes> {
    if !exec.is_open() {
        return None;
    }
    let mut changes = Changes::new(exec);
    if exec
        .deadline_ms()
        .is_some_and(|deadline| now_ms >= deadline)
    {
        let error = serde_json::json!({
            "ErrorMessage": format!("Execution timed out after {} seconds.", exec.meta.timeout_s)
        });
        end(
            exec,
            &mut changes,
            ExecStatus::TimedOut,
            None,
            Some(error),
            now_ms,
        );
        return Some(changes);
    }
    for r in exec.ops() {
        if due_at(r).is_none_or(|t| t > now_ms) {
            continue;
        }
        let mut after = r.clone();
        let mut facts = Facts::default();
        match r.op.kind {
            OpType::Wait => {
                after.op.status = OpStatus::Succeeded;
                after.op.end_timestamp = Some(now_ms);
                facts.seconds = after
                    .op
                    .wait_details
                    .as_ref()
                    .map(|w| (w.scheduled_end_timestamp - r.op.start_timestamp) / 1000);
            }
            OpType::Step => {
                after.op.status = OpStatus::Ready;
                if let Some(d) = after.op.step_details.as_mut() {
                    d.next_attempt_timestamp = None;
                }
            }
            _ => {
                let heartbeat = r.extra.callback.is_some_and(|o| {
                    o.heartbeat_timeout_seconds > 0
                        && r.extra.heartbeat_ms.unwrap_or(r.op.start_timestamp)
                            + o.heartbeat_timeout_seconds * 1000
                            <= now_ms
                });
                let (kind, message) = match heartbeat {
                    true => ("Callback.Heartbeat", "Callback timed out on heartbeat"),
                    false => ("Callback.Timeout", "Callback timed out"),
                };
                after.op.status = OpStatus::TimedOut;
                after.op.end_timestamp = Some(now_ms);
                if let Some(d) = after.op.callback_details.as_mut() {
                    d.error = Some(error_object(kind, message));
                }
            }
        }
        changes.put(exec, after, &facts, now_ms);
    }
    (!changes.ops.is_empty()).then_some(changes)
}

/// Why a callback could not be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackRefusal {
    /// It already ended (completed or timed out).
    Closed,
}

/// A callback completed (`Ok`: its result) or failed through the API.
pub fn complete_callback(
    exec: &Execution,
    op_id: &str,
    outcome: Outcome,
    now_ms: i64,
) -> Result<Changes, CallbackRefusal> {
    let r = exec
        .op(op_id)
        .filter(|r| r.op.status == OpStatus::Started && exec.is_open());
    let Some(r) = r else {
        return Err(CallbackRefusal::Closed);
    };
    let mut after = r.clone();
    after.op.end_timestamp = Some(now_ms);
    let details = after
        .op
        .callback_details
        .get_or_insert_with(Default::default);
    match outcome {
        Ok(result) => {
            after.op.status = OpStatus::Succeeded;
            details.result = Some(result);
        }
        Err(error) => {
            after.op.status = OpStatus::Failed;
            details.error = Some(error);
        }
    }
    let mut changes = Changes::new(exec);
    changes.put(exec, after, &Facts::default(), now_ms);
    Ok(changes)
}

/// A heartbeat: the callback's heartbeat timeout starts again.
pub fn heartbeat(exec: &Execution, op_id: &str, now_ms: i64) -> Result<Changes, CallbackRefusal> {
    let r = exec
        .op(op_id)
        .filter(|r| r.op.status == OpStatus::Started && exec.is_open());
    let Some(r) = r else {
        return Err(CallbackRefusal::Closed);
    };
    let mut after = r.clone();
    after.extra.heartbeat_ms = Some(now_ms);
    let mut changes = Changes::new(exec);
    changes.ops.push(after);
    Ok(changes)
}

/// A chained invoke returned; `None` when the operation is no longer waiting for it.
pub fn complete_invoke(
    exec: &Execution,
    op_id: &str,
    outcome: Outcome,
    now_ms: i64,
) -> Option<Changes> {
    let r = exec
        .op(op_id)
        .filter(|r| r.op.status == OpStatus::Started)?;
    let mut after = r.clone();
    after.op.end_timestamp = Some(now_ms);
    let details = after
        .op
        .chained_invoke_details
        .get_or_insert_with(Default::default);
    match outcome {
        Ok(result) => {
            after.op.status = OpStatus::Succeeded;
            details.result = Some(result);
        }
        Err(error) => {
            after.op.status = OpStatus::Failed;
            details.error = Some(error);
        }
    }
    let mut changes = Changes::new(exec);
    changes.put(exec, after, &Facts::default(), now_ms);
    Some(changes)
}

/// One invocation of the function ended; `error` when it failed (and is retried).
pub fn invocation_ended(
    exec: &Execution,
    request_id: &str,
    start_ms: i64,
    now_ms: i64,
    error: Option<&Value>,
) -> Changes {
    let mut changes = Changes::new(exec);
    // The invocation's token dies with it.
    changes.head.token_seq += 1;
    changes.head.invocations += 1;
    changes.head.failed_invocations = match error {
        Some(_) => changes.head.failed_invocations + 1,
        None => 0,
    };
    changes.push_event(|id| history::invocation_completed(id, request_id, start_ms, now_ms, error));
    if changes.head.status == ExecStatus::Pausing {
        changes.head.status = ExecStatus::Paused;
    }
    changes
}

/// `PauseDurableExecution`: paused at once, or pausing while an invocation
/// is under way (paused at its next checkpoint or end).
pub fn pause(
    exec: &Execution,
    reason: Option<String>,
    timeout_paused: bool,
    now_ms: i64,
) -> Changes {
    let mut changes = Changes::new(exec);
    changes.head.status = match exec.invoking {
        true => ExecStatus::Pausing,
        false => ExecStatus::Paused,
    };
    let pause = Pause {
        requested_ms: now_ms,
        reason,
        timeout_paused,
    };
    changes.push_event(|id| history::paused(id, &pause, now_ms));
    changes.head.pause = Some(pause);
    changes
}

/// `ResumeDurableExecution`: running again; the time paused does not count
/// against the execution timeout when the pause said so.
pub fn resume(exec: &Execution, reason: Option<String>, now_ms: i64) -> Changes {
    let mut changes = Changes::new(exec);
    if let Some(p) = changes.head.pause.take() {
        if p.timeout_paused {
            changes.head.paused_ms += (now_ms - p.requested_ms).max(0);
        }
    }
    changes.head.status = ExecStatus::Running;
    changes.push_event(|id| history::resumed(id, reason.as_deref(), now_ms));
    changes
}

/// The execution ends with `status`.
pub fn end(
    exec: &Execution,
    changes: &mut Changes,
    status: ExecStatus,
    result: Option<String>,
    error: Option<Value>,
    now_ms: i64,
) {
    changes.head.status = status;
    changes.head.pause = None;
    changes.head.result = result.clone();
    changes.head.error = error.clone();
    changes.head.end_ms = Some(now_ms);
    let Some(r) = changes.current(exec, exec.execution_op_id()).cloned() else {
        return;
    };
    let mut after = r;
    after.op.status = match status {
        ExecStatus::Succeeded => OpStatus::Succeeded,
        ExecStatus::Failed => OpStatus::Failed,
        ExecStatus::TimedOut => OpStatus::TimedOut,
        ExecStatus::Stopped | ExecStatus::Running | ExecStatus::Pausing | ExecStatus::Paused => {
            OpStatus::Stopped
        }
    };
    after.op.end_timestamp = Some(now_ms);
    let facts = Facts {
        result,
        error,
        ..Facts::default()
    };
    changes.put(exec, after, &facts, now_ms);
}
