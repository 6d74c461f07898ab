//! `CheckpointDurableExecution`'s rules: which updates a checkpoint may
//! carry, and what each does to its operation. The checks and their words
//! follow the service's (as the AWS durable-execution testing library
//! reproduces them); an update that breaks one refuses the whole
//! checkpoint with `InvalidParameterValueException`, and nothing of it is kept.

use std::collections::HashMap;

use super::execution::{Changes, Execution, OpRecord};
use super::history::Facts;
use super::model::{
    Action, CallbackDetails, ChainedInvokeDetails, ContextDetails, ExecStatus, OpStatus, OpType,
    Operation, OperationUpdate, StepDetails, WaitDetails,
};

/// The largest error object an update may carry, in bytes of JSON.
const MAX_ERROR_BYTES: usize = 32_768;
/// The largest input a chained invoke may send.
const MAX_INVOKE_INPUT_BYTES: usize = 1024 * 1024;
/// Lambda's `WaitSeconds` range.
const WAIT_RANGE_S: (i64, i64) = (1, 31_622_400);

/// A refused checkpoint, with the service's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

fn invalid<T>(message: &str) -> Result<T, Invalid> {
    Err(Invalid(message.to_string()))
}

/// What applying a checkpoint leaves for the engine to do.
#[derive(Debug, Default)]
pub struct Effects {
    /// Chained invokes to start: operation ids.
    pub invokes: Vec<String>,
    /// Callbacks created: their ids and operation ids.
    pub callbacks: Vec<(String, String)>,
    /// The execution ended through its EXECUTION operation.
    pub ended: bool,
}

/// Applies `updates` to `exec`; on success the changes (the token moved
/// on) and what the engine must do next.
pub fn apply(
    exec: &Execution,
    updates: &[OperationUpdate],
    now_ms: i64,
) -> Result<(Changes, Effects), Invalid> {
    check_batch(exec, updates)?;
    let mut changes = Changes::new(exec);
    let mut effects = Effects::default();
    for update in updates {
        check_update(exec, &changes, update)?;
        if update.kind == OpType::Execution {
            // The SDKs name this update as they like (a large result's is
            // `execution-result-…`): it ends the execution and is no operation.
            let (status, result, error) = match update.action {
                Action::Succeed => (ExecStatus::Succeeded, update.payload.clone(), None),
                _ => (ExecStatus::Failed, None, update.error.clone()),
            };
            super::progress::end(exec, &mut changes, status, result, error, now_ms);
            effects.ended = true;
            continue;
        }
        let current = changes.current(exec, &update.id).cloned();
        let (record, facts) = transition(current.as_ref(), update, now_ms, &mut effects);
        changes.put(exec, record, &facts, now_ms);
    }
    changes.head.token_seq += 1;
    Ok((changes, effects))
}

/// The checks that look at the batch as a whole.
fn check_batch(exec: &Execution, updates: &[OperationUpdate]) -> Result<(), Invalid> {
    let executions = updates
        .iter()
        .filter(|u| u.kind == OpType::Execution)
        .count();
    if executions > 1 {
        return invalid("Cannot checkpoint multiple EXECUTION updates.");
    }
    if executions == 1 && updates.last().is_some_and(|u| u.kind != OpType::Execution) {
        return invalid("EXECUTION checkpoint must be the last update.");
    }
    let mut started: HashMap<&str, OpType> = HashMap::new();
    let mut last: HashMap<&str, &OperationUpdate> = HashMap::new();
    for u in updates {
        if let Some(prev) = last.get(u.id.as_str()) {
            let start_then_close = matches!(prev.kind, OpType::Step | OpType::Context)
                && prev.action == Action::Start
                && u.action != Action::Start;
            if !start_then_close {
                return invalid("Cannot checkpoint multiple operations with the same ID.");
            }
        }
        if let Some(parent) = &u.parent_id {
            let kind = started
                .get(parent.as_str())
                .copied()
                .or_else(|| exec.op(parent).map(|r| r.op.kind));
            if kind != Some(OpType::Context) {
                return invalid("Invalid parent operation id.");
            }
        }
        if u.action == Action::Start {
            started.insert(&u.id, u.kind);
        }
        last.insert(&u.id, u);
    }
    Ok(())
}

/// The checks of one update against the operation as it stands.
fn check_update(exec: &Execution, changes: &Changes, u: &OperationUpdate) -> Result<(), Invalid> {
    let id_ok = (1..=64).contains(&u.id.len())
        && u.id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok {
        return invalid("Operation Id must be 1 to 64 characters of [a-zA-Z0-9-_].");
    }
    if u.name.as_ref().is_some_and(|n| n.len() > 256) {
        return invalid("Operation Name must be at most 256 characters.");
    }
    if let Some(error) = &u.error {
        if serde_json::to_vec(error).map_or(0, |v| v.len()) > MAX_ERROR_BYTES {
            return invalid(&format!(
                "Error object size must be less than {MAX_ERROR_BYTES} bytes."
            ));
        }
    }
    let current = changes.current(exec, &u.id).map(|r| &r.op);
    if let Some(op) = current {
        if op.kind != u.kind {
            return invalid("Inconsistent operation type.");
        }
        if u.sub_type.is_some() && u.sub_type != op.sub_type {
            return invalid("Inconsistent operation subtype.");
        }
        if u.name.is_some() && u.name != op.name {
            return invalid("Inconsistent operation name.");
        }
        if u.parent_id.is_some() && u.parent_id != op.parent_id {
            return invalid("Inconsistent parent operation id.");
        }
    }
    check_action(current, u)
}

fn check_action(current: Option<&Operation>, u: &OperationUpdate) -> Result<(), Invalid> {
    let status = current.map(|op| op.status);
    let closing = matches!(u.action, Action::Succeed | Action::Fail);
    if closing {
        if u.action == Action::Fail && u.payload.is_some() {
            return invalid("Cannot provide a Payload for FAIL action.");
        }
        if u.action == Action::Succeed && u.error.is_some() {
            return invalid("Cannot provide an Error for SUCCEED action.");
        }
    }
    match (u.kind, u.action) {
        (OpType::Execution, Action::Succeed | Action::Fail) => Ok(()),
        (OpType::Execution, _) => invalid("Invalid EXECUTION action."),
        (OpType::Step, Action::Start) => match status {
            None | Some(OpStatus::Ready) => Ok(()),
            _ => invalid("Invalid current STEP state to start."),
        },
        (OpType::Step, Action::Succeed | Action::Fail) => match status {
            None | Some(OpStatus::Started | OpStatus::Ready) => Ok(()),
            _ => invalid("Invalid current STEP state to close."),
        },
        (OpType::Step, Action::Retry) => {
            if !matches!(status, None | Some(OpStatus::Started | OpStatus::Ready)) {
                return invalid("Invalid current STEP state to re-attempt.");
            }
            if u.step_options.is_none() {
                return invalid("Invalid StepOptions for the given action.");
            }
            if u.error.is_some() && u.payload.is_some() {
                return invalid("Cannot provide both error and payload to RETRY a STEP.");
            }
            Ok(())
        }
        (OpType::Step, Action::Cancel) => invalid("Invalid STEP action."),
        (OpType::Context, Action::Start) if current.is_some() => {
            invalid("Cannot start a CONTEXT that already exist.")
        }
        (OpType::Context, Action::Start) => Ok(()),
        (OpType::Context, Action::Succeed | Action::Fail) => match status {
            None | Some(OpStatus::Started) => Ok(()),
            _ => invalid("Invalid current CONTEXT state to close."),
        },
        (OpType::Context, _) => invalid("Invalid CONTEXT action."),
        (OpType::Wait, Action::Start) if current.is_some() => {
            invalid("Cannot start a WAIT that already exist.")
        }
        (OpType::Wait, Action::Start) => check_wait(u),
        (OpType::Wait, Action::Cancel) => match status {
            Some(OpStatus::Started) => Ok(()),
            _ => invalid("Cannot cancel a WAIT that does not exist or has already completed."),
        },
        (OpType::Wait, _) => invalid("Invalid WAIT action."),
        (OpType::Callback, Action::Start) if current.is_some() => {
            invalid("Cannot start a CALLBACK that already exist.")
        }
        (OpType::Callback, Action::Start) => Ok(()),
        (OpType::Callback, _) => invalid("Invalid action for CALLBACK operation."),
        (OpType::ChainedInvoke, Action::Start) => check_invoke(current, u),
        (OpType::ChainedInvoke, _) => invalid("Invalid action for CHAINED_INVOKE operation."),
    }
}

fn check_wait(u: &OperationUpdate) -> Result<(), Invalid> {
    let seconds = u
        .wait_options
        .as_ref()
        .and_then(|w| w.wait_seconds)
        .unwrap_or(1);
    if !(WAIT_RANGE_S.0..=WAIT_RANGE_S.1).contains(&seconds) {
        return invalid(&format!(
            "WaitSeconds must be between {} and {}.",
            WAIT_RANGE_S.0, WAIT_RANGE_S.1
        ));
    }
    Ok(())
}

fn check_invoke(current: Option<&Operation>, u: &OperationUpdate) -> Result<(), Invalid> {
    if current.is_some() {
        return invalid("Cannot start a CHAINED_INVOKE operation that already exists.");
    }
    if u.chained_invoke_options.is_none() {
        return invalid("Update for CHAINED_INVOKE operation requires ChainedInvokeOptions.");
    }
    if u.payload
        .as_ref()
        .is_some_and(|p| p.len() > MAX_INVOKE_INPUT_BYTES)
    {
        return invalid(&format!(
            "Chained invoke input must be at most {MAX_INVOKE_INPUT_BYTES} bytes."
        ));
    }
    Ok(())
}

/// The operation `u` makes of `current`, and the facts its event needs.
fn transition(
    current: Option<&OpRecord>,
    u: &OperationUpdate,
    now_ms: i64,
    effects: &mut Effects,
) -> (OpRecord, Facts) {
    let mut facts = Facts::default();
    let mut extra = current.map(|r| r.extra.clone()).unwrap_or_default();
    let mut op = match current {
        Some(r) => r.op.clone(),
        None => Operation {
            id: u.id.clone(),
            parent_id: u.parent_id.clone(),
            name: u.name.clone(),
            kind: u.kind,
            sub_type: u.sub_type.clone(),
            start_timestamp: now_ms,
            end_timestamp: None,
            status: OpStatus::Started,
            execution_details: None,
            context_details: None,
            step_details: None,
            wait_details: None,
            callback_details: None,
            chained_invoke_details: None,
        },
    };
    op.status = match u.action {
        Action::Start => OpStatus::Started,
        Action::Succeed => OpStatus::Succeeded,
        Action::Fail => OpStatus::Failed,
        Action::Retry => OpStatus::Pending,
        Action::Cancel => OpStatus::Cancelled,
    };
    if op.status.is_final() {
        op.end_timestamp = Some(now_ms);
    }
    match u.kind {
        OpType::Execution => {}
        OpType::Step => step(&mut op, u, now_ms, &mut facts),
        OpType::Context => {
            let replay_children = u
                .context_options
                .as_ref()
                .is_some_and(|c| c.replay_children);
            op.context_details = Some(ContextDetails {
                replay_children,
                result: u.payload.clone(),
                error: u.error.clone(),
            });
        }
        OpType::Wait if u.action == Action::Start => {
            let seconds = u
                .wait_options
                .as_ref()
                .and_then(|w| w.wait_seconds)
                .unwrap_or(1);
            facts.seconds = Some(seconds);
            op.wait_details = Some(WaitDetails {
                scheduled_end_timestamp: now_ms + seconds * 1000,
            });
        }
        OpType::Wait => {}
        OpType::Callback => {
            let options = u.callback_options.unwrap_or_default();
            let callback_id = super::execution::callback_id();
            facts.callback_timeouts =
                Some((options.timeout_seconds, options.heartbeat_timeout_seconds));
            effects.callbacks.push((callback_id.clone(), u.id.clone()));
            op.callback_details = Some(CallbackDetails {
                callback_id,
                result: None,
                error: None,
            });
            extra.callback = Some(options);
            extra.heartbeat_ms = Some(now_ms);
        }
        OpType::ChainedInvoke => {
            let options = u.chained_invoke_options.clone().unwrap_or_default();
            facts.invoke = Some((options.function_name.clone(), u.payload.clone()));
            op.chained_invoke_details = Some(ChainedInvokeDetails::default());
            extra.invoke = Some(options);
            extra.invoke_input = u.payload.clone();
            effects.invokes.push(u.id.clone());
        }
    }
    (OpRecord { op, extra }, facts)
}

/// A step's attempts are counted as the service counts them: each RETRY,
/// SUCCEED and FAIL ends one.
fn step(op: &mut Operation, u: &OperationUpdate, now_ms: i64, facts: &mut Facts) {
    let mut details = op.step_details.take().unwrap_or_default();
    if matches!(u.action, Action::Retry | Action::Succeed | Action::Fail) {
        details.attempt += 1;
    }
    if u.action == Action::Retry {
        let delay = u
            .step_options
            .as_ref()
            .map_or(0, |s| s.next_attempt_delay_seconds.max(0));
        facts.seconds = Some(delay);
        details.next_attempt_timestamp = Some(now_ms + delay * 1000);
    }
    details.result = u.payload.clone();
    details.error = u.error.clone();
    op.step_details = Some(StepDetails { ..details });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::execution::Meta;

    fn exec() -> Execution {
        let (mut exec, changes) = Execution::start(Meta {
            arn: "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST/durable-execution/n/id1"
                .into(),
            name: "n".into(),
            function: "f".into(),
            function_arn: "f".into(),
            input: "{}".into(),
            start_ms: 1_000,
            timeout_s: 60,
            retention_days: 1,
            secret: String::new(),
        });
        exec.commit(changes, false);
        exec
    }

    fn update(json: &str) -> OperationUpdate {
        serde_json::from_str(json).unwrap()
    }

    fn applied(exec: &mut Execution, updates: &[&str], now: i64) -> Result<Effects, Invalid> {
        let updates: Vec<_> = updates.iter().map(|u| update(u)).collect();
        let (changes, effects) = apply(exec, &updates, now)?;
        exec.commit(changes, false);
        Ok(effects)
    }

    #[test]
    fn a_step_started_and_closed_in_one_checkpoint_counts_one_attempt() {
        let mut e = exec();
        applied(
            &mut e,
            &[
                r#"{"Id":"s","Type":"STEP","Action":"START","Name":"one"}"#,
                r#"{"Id":"s","Type":"STEP","Action":"SUCCEED","Payload":"5"}"#,
            ],
            2_000,
        )
        .unwrap();
        let op = &e.op("s").unwrap().op;
        assert_eq!(op.status, OpStatus::Succeeded);
        assert_eq!(op.step_details.as_ref().unwrap().attempt, 1);
        assert_eq!(op.end_timestamp, Some(2_000));
        assert_eq!(e.head.token_seq, 2, "the token moved on");
    }

    #[test]
    fn a_retry_waits_its_delay_and_a_wait_its_seconds() {
        let mut e = exec();
        applied(
            &mut e,
            &[
                r#"{"Id":"s","Type":"STEP","Action":"START"}"#,
                r#"{"Id":"s","Type":"STEP","Action":"RETRY","Error":{"ErrorMessage":"x"},"StepOptions":{"NextAttemptDelaySeconds":3}}"#,
                r#"{"Id":"w","Type":"WAIT","Action":"START","WaitOptions":{"WaitSeconds":2}}"#,
            ],
            10_000,
        )
        .unwrap();
        let step = e.op("s").unwrap().op.step_details.clone().unwrap();
        assert_eq!(e.op("s").unwrap().op.status, OpStatus::Pending);
        assert_eq!(step.next_attempt_timestamp, Some(13_000));
        let wait = e.op("w").unwrap().op.wait_details.clone().unwrap();
        assert_eq!(wait.scheduled_end_timestamp, 12_000);
        assert_eq!(super::super::progress::next_due(&e), Some(12_000));
    }

    #[test]
    fn refusals_keep_nothing_and_name_the_rule() {
        let mut e = exec();
        let refused = |e: &mut Execution, u: &[&str]| applied(e, u, 1).unwrap_err().0;
        assert_eq!(
            refused(
                &mut e,
                &[
                    r#"{"Id":"w","Type":"WAIT","Action":"START"}"#,
                    r#"{"Id":"w","Type":"WAIT","Action":"START"}"#
                ]
            ),
            "Cannot checkpoint multiple operations with the same ID."
        );
        assert!(e.op("w").is_none());
        applied(
            &mut e,
            &[r#"{"Id":"c","Type":"CALLBACK","Action":"START"}"#],
            1,
        )
        .unwrap();
        assert_eq!(
            refused(&mut e, &[r#"{"Id":"c","Type":"STEP","Action":"START"}"#]),
            "Inconsistent operation type."
        );
        assert_eq!(
            refused(
                &mut e,
                &[r#"{"Id":"c","Type":"CALLBACK","Action":"SUCCEED"}"#]
            ),
            "Invalid action for CALLBACK operation."
        );
    }

    #[test]
    fn an_execution_update_ends_the_execution_whatever_its_id() {
        let mut e = exec();
        let effects = applied(
            &mut e,
            &[r#"{"Id":"execution-result-1","Type":"EXECUTION","Action":"SUCCEED","Payload":"big"}"#],
            5_000,
        )
        .unwrap();
        assert!(effects.ended);
        assert_eq!(e.head.status, ExecStatus::Succeeded);
        assert_eq!(e.head.result.as_deref(), Some("big"));
        assert!(e.op("execution-result-1").is_none());
        assert_eq!(e.op("id1").unwrap().op.status, OpStatus::Succeeded);
        let types: Vec<_> = e.events.iter().map(|v| v["EventType"].clone()).collect();
        assert_eq!(types, ["ExecutionStarted", "ExecutionSucceeded"]);
    }
}
