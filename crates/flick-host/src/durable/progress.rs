//! What the host itself does to an execution between checkpoints: timers
//! that fire (a wait's end, a step's next attempt, a callback's timeouts,
//! the execution's timeout), callbacks completed through the API, chained
//! invokes that return, invocations that end, and executions that end.
//! Each returns [`Changes`] for the engine to store and commit.

use serde_json::Value;

use super::checkpoint::after_seconds;
use super::execution::{Changes, Execution, OpRecord, Pause};
use super::history::{self, Facts};
use super::model::{error_object, ExecStatus, OpStatus, OpType};

/// How an operation the host completes ended: its status (SUCCEEDED,
/// FAILED, TIMED_OUT, STOPPED), and its result or error.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: OpStatus,
    pub result: Option<String>,
    pub error: Option<Value>,
}

impl Outcome {
    pub fn succeeded(result: Option<String>) -> Outcome {
        Outcome {
            status: OpStatus::Succeeded,
            result,
            error: None,
        }
    }

    pub fn failed(error: Value) -> Outcome {
        Outcome {
            status: OpStatus::Failed,
            result: None,
            error: Some(error),
        }
    }
}

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
        (OpType::Callback, OpStatus::Started) => {
            let timeout = callback_timeout(r);
            timeout.into_iter().chain(heartbeat_deadline(r)).min()
        }
        _ => None,
    }
}

fn callback_timeout(r: &OpRecord) -> Option<i64> {
    let seconds = r.extra.callback?.timeout_seconds;
    (seconds > 0).then(|| after_seconds(r.op.start_timestamp, seconds))
}

/// When a callback's heartbeat times out: its heartbeat timeout after the
/// last heartbeat (or its start).
fn heartbeat_deadline(r: &OpRecord) -> Option<i64> {
    let seconds = r.extra.callback?.heartbeat_timeout_seconds;
    let last = r.extra.heartbeat_ms.unwrap_or(r.op.start_timestamp);
    (seconds > 0).then(|| after_seconds(last, seconds))
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
        let message = format!("Execution timed out after {} seconds.", exec.meta.timeout_s);
        let error = serde_json::json!({ "ErrorMessage": message });
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
        let (after, facts) = fired(r, now_ms);
        changes.put(exec, after, &facts, now_ms);
    }
    (!changes.ops.is_empty()).then_some(changes)
}

/// An operation whose time has come, as it is after.
fn fired(r: &OpRecord, now_ms: i64) -> (OpRecord, Facts) {
    let mut after = r.clone();
    let mut facts = Facts::default();
    match r.op.kind {
        OpType::Wait => {
            after.op.status = OpStatus::Succeeded;
            after.op.end_timestamp = Some(now_ms);
            facts.seconds =
                r.op.wait_details
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
            let heartbeat = heartbeat_deadline(r).is_some_and(|t| t <= now_ms);
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
    (after, facts)
}

/// A callback or a chained invoke that the host completes (through the
/// callback API, or as its target returned); `None` when it no longer waits
/// for that (it ended, or its execution did).
pub fn complete(exec: &Execution, op_id: &str, outcome: Outcome, now_ms: i64) -> Option<Changes> {
    let r = exec
        .op(op_id)
        .filter(|r| r.op.status == OpStatus::Started && exec.is_open())?;
    let mut after = r.clone();
    after.op.status = outcome.status;
    after.op.end_timestamp = Some(now_ms);
    let (result, error) = match after.op.kind {
        OpType::Callback => {
            let d = after
                .op
                .callback_details
                .get_or_insert_with(Default::default);
            (&mut d.result, &mut d.error)
        }
        _ => {
            let d = after
                .op
                .chained_invoke_details
                .get_or_insert_with(Default::default);
            (&mut d.result, &mut d.error)
        }
    };
    *result = outcome.result;
    *error = outcome.error;
    let mut changes = Changes::new(exec);
    changes.put(exec, after, &Facts::default(), now_ms);
    Some(changes)
}

/// A heartbeat: the callback's heartbeat timeout starts again; `None` when
/// the callback no longer waits.
pub fn heartbeat(exec: &Execution, op_id: &str, now_ms: i64) -> Option<Changes> {
    let r = exec
        .op(op_id)
        .filter(|r| r.op.status == OpStatus::Started && exec.is_open())?;
    let mut after = r.clone();
    after.extra.heartbeat_ms = Some(now_ms);
    let mut changes = Changes::new(exec);
    changes.ops.push(after);
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
