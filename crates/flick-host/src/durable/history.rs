//! An execution's history: one event per change of an operation, in the
//! shape of `GetDurableExecutionHistory` (`EventType`, `EventId`, the
//! operation's `Id`/`Name`/`ParentId`/`SubType`, and the details member
//! named after the event type). Events are derived from the operation
//! before and after a change, so checkpoints, timers and callbacks all
//! record history the same way.

use serde_json::{json, Map, Value};

use super::model::{OpStatus, OpType, Operation};

/// What the event of an operation's change is called, by its type.
fn prefix(kind: OpType) -> &'static str {
    match kind {
        OpType::Execution => "Execution",
        OpType::Context => "Context",
        OpType::Step => "Step",
        OpType::Wait => "Wait",
        OpType::Callback => "Callback",
        OpType::ChainedInvoke => "ChainedInvoke",
    }
}

/// Extra facts some events carry that the operation itself does not hold.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// A wait's length, a retry's delay, in seconds.
    pub seconds: Option<i64>,
    /// A callback's timeouts (seconds, 0 for none).
    pub callback_timeouts: Option<(i64, i64)>,
    /// A chained invoke's target and input.
    pub invoke: Option<(String, Option<String>)>,
    /// The execution's timeout, for `ExecutionStarted`.
    pub execution_timeout_s: Option<u64>,
    /// The execution's result or error, which its operation does not hold.
    pub result: Option<String>,
    pub error: Option<Value>,
}

/// The event for `after` (which was `before`), if the change is one the
/// history records; `event_id` and `now_ms` stamp it.
pub fn event(
    before: Option<&Operation>,
    after: &Operation,
    facts: &Facts,
    event_id: u64,
    now_ms: i64,
) -> Option<Value> {
    let was = before.map(|b| b.status);
    let (suffix, details) = match after.status {
        OpStatus::Started if was != Some(OpStatus::Started) => ("Started", started(after, facts)),
        // A retry is a failed attempt, or (waiting for a condition) a checked one.
        OpStatus::Pending if after.kind == OpType::Step => match error_of(after) {
            Some(_) => ("Failed", step_retry(after, facts)),
            None => ("Succeeded", succeeded(after, facts)),
        },
        OpStatus::Succeeded => ("Succeeded", succeeded(after, facts)),
        OpStatus::Failed => ("Failed", failed(after, facts)),
        OpStatus::TimedOut => ("TimedOut", failed(after, facts)),
        OpStatus::Stopped => ("Stopped", failed(after, facts)),
        OpStatus::Cancelled => ("Cancelled", failed(after, facts)),
        _ => return None,
    };
    if was == Some(after.status) {
        return None;
    }
    let event_type = format!("{}{suffix}", prefix(after.kind));
    let mut e = Map::new();
    e.insert("EventType".into(), event_type.clone().into());
    e.insert("EventId".into(), event_id.into());
    e.insert("Id".into(), after.id.clone().into());
    if let Some(name) = &after.name {
        e.insert("Name".into(), name.clone().into());
    }
    if let Some(parent) = &after.parent_id {
        e.insert("ParentId".into(), parent.clone().into());
    }
    if let Some(sub) = &after.sub_type {
        e.insert("SubType".into(), sub.clone().into());
    }
    e.insert("EventTimestamp".into(), now_ms.into());
    e.insert(format!("{event_type}Details"), details);
    Some(Value::Object(e))
}

/// `InvocationCompleted`: one invocation of the function ended.
pub fn invocation_completed(
    event_id: u64,
    request_id: &str,
    start_ms: i64,
    end_ms: i64,
    error: Option<&Value>,
) -> Value {
    let mut details = json!({
        "StartTimestamp": start_ms,
        "EndTimestamp": end_ms,
        "RequestId": request_id,
    });
    if let Some(error) = error {
        details["Error"] = json!({ "Payload": error });
    }
    json!({
        "EventType": "InvocationCompleted",
        "EventId": event_id,
        "EventTimestamp": end_ms,
        "InvocationCompletedDetails": details,
    })
}

/// `ExecutionPaused`.
pub fn paused(event_id: u64, pause: &super::execution::Pause, now_ms: i64) -> Value {
    json!({
        "EventType": "ExecutionPaused",
        "EventId": event_id,
        "EventTimestamp": now_ms,
        "ExecutionPausedDetails": {
            "PauseRequestTimestamp": pause.requested_ms,
            "Reason": { "Payload": pause.reason },
            "ExecutionTimeoutPaused": pause.timeout_paused,
        },
    })
}

/// `ExecutionResumed`.
pub fn resumed(event_id: u64, reason: Option<&str>, now_ms: i64) -> Value {
    json!({
        "EventType": "ExecutionResumed",
        "EventId": event_id,
        "EventTimestamp": now_ms,
        "ExecutionResumedDetails": {
            "ResumeRequestTimestamp": now_ms,
            "Reason": { "Payload": reason },
        },
    })
}

fn result_of(op: &Operation) -> Option<&String> {
    op.outcome().0
}

fn error_of(op: &Operation) -> Option<&Value> {
    op.outcome().1
}

/// Both members are required by the model: no delay is 0.
fn retry_details(op: &Operation, facts: &Facts) -> Value {
    json!({
        "CurrentAttempt": op.step_details.as_ref().map_or(0, |d| d.attempt),
        "NextAttemptDelaySeconds": facts.seconds.unwrap_or(0),
    })
}

fn started(op: &Operation, facts: &Facts) -> Value {
    match op.kind {
        OpType::Execution => json!({
            "Input": { "Payload": op.execution_details.as_ref().and_then(|d| d.input_payload.clone()) },
            "ExecutionTimeout": facts.execution_timeout_s,
        }),
        OpType::Wait => json!({
            "Duration": facts.seconds,
            "ScheduledEndTimestamp": op.wait_details.as_ref().map(|w| w.scheduled_end_timestamp),
        }),
        OpType::Callback => {
            let (timeout, heartbeat) = facts.callback_timeouts.unwrap_or((0, 0));
            json!({
                "CallbackId": op.callback_details.as_ref().map(|c| c.callback_id.clone()),
                "Timeout": timeout,
                "HeartbeatTimeout": heartbeat,
            })
        }
        OpType::ChainedInvoke => {
            let (function, input) = facts.invoke.clone().unwrap_or_default();
            json!({ "FunctionName": function, "Input": { "Payload": input } })
        }
        OpType::Context | OpType::Step => json!({}),
    }
}

fn succeeded(op: &Operation, facts: &Facts) -> Value {
    let result = json!({ "Payload": result_of(op).or(facts.result.as_ref()) });
    match op.kind {
        OpType::Step => json!({ "Result": result, "RetryDetails": retry_details(op, facts) }),
        OpType::Wait => json!({ "Duration": facts.seconds }),
        _ => json!({ "Result": result }),
    }
}

fn failed(op: &Operation, facts: &Facts) -> Value {
    let error = json!({ "Payload": error_of(op).or(facts.error.as_ref()) });
    match op.kind {
        OpType::Step => json!({ "Error": error, "RetryDetails": retry_details(op, facts) }),
        _ => json!({ "Error": error }),
    }
}

fn step_retry(op: &Operation, facts: &Facts) -> Value {
    json!({ "Error": { "Payload": error_of(op) }, "RetryDetails": retry_details(op, facts) })
}

/// Marks the payloads (inputs, results, errors) of `event` as included or
/// not (`Truncated`), dropping them for a read without execution data.
pub fn with_data(event: &mut Value, include: bool) {
    if let Value::Object(map) = event {
        for (key, value) in map.iter_mut() {
            if !key.ends_with("Details") {
                continue;
            }
            for part in ["Input", "Result", "Error", "Reason"] {
                if let Some(Value::Object(p)) = value.get_mut(part) {
                    if !include {
                        p.remove("Payload");
                    }
                    p.insert("Truncated".into(), (!include).into());
                }
            }
        }
    }
}
