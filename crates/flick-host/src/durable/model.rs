//! The durable-execution API's shapes as they cross the wire: operations,
//! the updates a checkpoint carries, and their enumerations, with the field
//! names of Lambda's service model (API version 2025-12-01).
//!
//! Timestamps are kept as epoch milliseconds, which is how the invocation
//! input carries them to the SDKs; the API's JSON answers carry epoch
//! seconds, and [`seconds_timestamps`] turns one into the other.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Lambda's `OperationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OpType {
    Execution,
    Context,
    Step,
    Wait,
    Callback,
    ChainedInvoke,
}

/// Lambda's `OperationStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OpStatus {
    Started,
    Pending,
    Ready,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    Stopped,
}

impl OpStatus {
    /// Whether the operation has ended for good.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            OpStatus::Started | OpStatus::Pending | OpStatus::Ready
        )
    }
}

/// Lambda's `OperationAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Start,
    Succeed,
    Fail,
    Retry,
    Cancel,
}

/// Lambda's `ExecutionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecStatus {
    Running,
    /// Paused while an invocation was under way: paused at its next checkpoint or end.
    Pausing,
    Paused,
    Succeeded,
    Failed,
    TimedOut,
    Stopped,
}

impl ExecStatus {
    /// Whether the execution has not ended (it may be paused).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ExecStatus::Running | ExecStatus::Pausing | ExecStatus::Paused
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExecStatus::Running => "RUNNING",
            ExecStatus::Pausing => "PAUSING",
            ExecStatus::Paused => "PAUSED",
            ExecStatus::Succeeded => "SUCCEEDED",
            ExecStatus::Failed => "FAILED",
            ExecStatus::TimedOut => "TIMED_OUT",
            ExecStatus::Stopped => "STOPPED",
        }
    }

    pub fn parse(s: &str) -> Option<ExecStatus> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }
}

/// Lambda's `ErrorObject` (`ErrorType`, `ErrorMessage`, `ErrorData`,
/// `StackTrace`), kept as the caller sent it.
pub type ErrorObject = Value;

/// Builds an `ErrorObject` of the host's own.
pub fn error_object(kind: &str, message: &str) -> ErrorObject {
    serde_json::json!({"ErrorType": kind, "ErrorMessage": message})
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_payload: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextDetails {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay_children: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepDetails {
    pub attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitDetails {
    pub scheduled_end_timestamp: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallbackDetails {
    pub callback_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainedInvokeDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// Lambda's `Operation`, as `GetDurableExecutionState` and checkpoints return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Operation {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "Type")]
    pub kind: OpType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    pub start_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<i64>,
    pub status: OpStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_details: Option<ExecutionDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_details: Option<ContextDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_details: Option<StepDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_details: Option<WaitDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_details: Option<CallbackDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_invoke_details: Option<ChainedInvokeDetails>,
}

impl Operation {
    /// The result and error its details hold (a step's, a context's, a
    /// callback's or a chained invoke's).
    pub fn outcome(&self) -> (Option<&String>, Option<&ErrorObject>) {
        let pairs = [
            self.step_details.as_ref().map(|d| (&d.result, &d.error)),
            self.context_details.as_ref().map(|d| (&d.result, &d.error)),
            self.callback_details
                .as_ref()
                .map(|d| (&d.result, &d.error)),
            self.chained_invoke_details
                .as_ref()
                .map(|d| (&d.result, &d.error)),
        ];
        pairs
            .into_iter()
            .flatten()
            .next()
            .map_or((None, None), |(r, e)| (r.as_ref(), e.as_ref()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextOptions {
    #[serde(default)]
    pub replay_children: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepOptions {
    #[serde(default)]
    pub next_attempt_delay_seconds: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitOptions {
    pub wait_seconds: Option<i64>,
}

/// Zero (or absent) means no timeout, as the SDKs send it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallbackOptions {
    #[serde(default)]
    pub timeout_seconds: i64,
    #[serde(default)]
    pub heartbeat_timeout_seconds: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainedInvokeOptions {
    pub function_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// Lambda's `OperationUpdate`, one entry of a checkpoint's `Updates`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationUpdate {
    pub id: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "Type")]
    pub kind: OpType,
    #[serde(default)]
    pub sub_type: Option<String>,
    pub action: Action,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub error: Option<ErrorObject>,
    #[serde(default)]
    pub context_options: Option<ContextOptions>,
    #[serde(default)]
    pub step_options: Option<StepOptions>,
    #[serde(default)]
    pub wait_options: Option<WaitOptions>,
    #[serde(default)]
    pub callback_options: Option<CallbackOptions>,
    #[serde(default)]
    pub chained_invoke_options: Option<ChainedInvokeOptions>,
}

/// Whether `id` is an operation id (or an execution name): 1 to 64 of
/// `[a-zA-Z0-9-_]`, the service's pattern for both.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Turns every `…Timestamp` member of `value` from epoch milliseconds (the
/// invocation input's form) into epoch seconds (the API's JSON form),
/// leaving errors and payloads (the callers' own JSON) as they are.
pub fn seconds_timestamps(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v.as_i64() {
                    Some(ms) if key.ends_with("Timestamp") => *v = seconds(ms),
                    // Errors and payloads are the caller's, whatever their keys.
                    _ if matches!(key.as_str(), "Error" | "Payload") => {}
                    _ => seconds_timestamps(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(seconds_timestamps),
        _ => {}
    }
}

/// Epoch milliseconds as the API's epoch seconds.
pub fn seconds(ms: i64) -> Value {
    serde_json::json!(ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_reads_as_the_sdks_send_it() {
        let u: OperationUpdate = serde_json::from_str(
            r#"{"Id":"1","Type":"STEP","Action":"RETRY","SubType":"Step","Name":"charge",
                "Error":{"ErrorType":"E","ErrorMessage":"m"},"StepOptions":{"NextAttemptDelaySeconds":2}}"#,
        )
        .unwrap();
        assert_eq!(u.kind, OpType::Step);
        assert_eq!(u.action, Action::Retry);
        assert_eq!(u.step_options.unwrap().next_attempt_delay_seconds, 2);
    }

    #[test]
    fn timestamps_become_seconds_at_any_depth() {
        let op = Operation {
            id: "w".into(),
            parent_id: None,
            name: None,
            kind: OpType::Wait,
            sub_type: None,
            start_timestamp: 1_500,
            end_timestamp: None,
            status: OpStatus::Started,
            execution_details: None,
            context_details: None,
            step_details: None,
            wait_details: Some(WaitDetails {
                scheduled_end_timestamp: 3_250,
            }),
            callback_details: None,
            chained_invoke_details: None,
        };
        let mut v = serde_json::to_value(&op).unwrap();
        seconds_timestamps(&mut v);
        assert_eq!(v["StartTimestamp"], 1.5);
        assert_eq!(v["WaitDetails"]["ScheduledEndTimestamp"], 3.25);
        assert_eq!(v["Type"], "WAIT");
    }
}
