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
    Operation, OperationUpdate, WaitDetails,
};

/// The largest error object an update may carry, in bytes of JSON.
const MAX_ERROR_BYTES: usize = 32_768;
/// The largest input a chained invoke may send.
const MAX_INVOKE_INPUT_BYTES: usize = 1024 * 1024;
/// Lambda's `WaitSeconds` range.
const WAIT_RANGE_S: (i64, i64) = (1, 31_622_400);
/// A retry's delay (0: at once, as jittered strategies may ask).
const DELAY_RANGE_S: (i64, i64) = (0, 31_622_400);
/// A callback's timeouts; 0 is none.
const CALLBACK_RANGE_S: (i64, i64) = (0, 99_999_999);
/// The most updates one checkpoint may carry (the SDKs send at most 250).
const MAX_UPDATES: usize = 250;

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
    if updates.len() > MAX_UPDATES {
        return invalid(&format!(
            "A checkpoint may carry at most {MAX_UPDATES} updates."
        ));
    }
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

/// The checks of one update against the operation as it stands, in the
/// service's order: the update itself, its consistency with the operation,
/// sizes, whether the action suits the type, then the transition.
fn check_update(exec: &Execution, changes: &Changes, u: &OperationUpdate) -> Result<(), Invalid> {
    if !super::model::valid_id(&u.id) {
        return invalid("Operation Id must be 1 to 64 characters of [a-zA-Z0-9-_].");
    }
    if u.name.as_ref().is_some_and(|n| n.len() > 256) {
        return invalid("Operation Name must be at most 256 characters.");
    }
    let current = changes.current(exec, &u.id).map(|r| &r.op);
    if let Some(op) = current {
        check_consistent(op, u)?;
    }
    if let Some(error) = &u.error {
        if serde_json::to_vec(error).map_or(0, |v| v.len()) > MAX_ERROR_BYTES {
            return invalid(&format!(
                "Error object size must be less than {MAX_ERROR_BYTES} bytes."
            ));
        }
    }
    if !valid_actions(u.kind).contains(&u.action) {
        return invalid("Invalid action for the given operation type.");
    }
    if u.action == Action::Fail && u.payload.is_some() {
        return invalid("Cannot provide a Payload for FAIL action.");
    }
    if u.action == Action::Succeed && u.error.is_some() {
        return invalid("Cannot provide an Error for SUCCEED action.");
    }
    check_transition(current, u)
}

/// An update must say of an operation what it said before.
fn check_consistent(op: &Operation, u: &OperationUpdate) -> Result<(), Invalid> {
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
    Ok(())
}

/// The actions each operation type takes.
fn valid_actions(kind: OpType) -> &'static [Action] {
    match kind {
        OpType::Step => &[Action::Start, Action::Succeed, Action::Fail, Action::Retry],
        OpType::Context => &[Action::Start, Action::Succeed, Action::Fail],
        OpType::Wait => &[Action::Start, Action::Cancel],
        OpType::Callback | OpType::ChainedInvoke => &[Action::Start],
        OpType::Execution => &[Action::Succeed, Action::Fail],
    }
}

/// Whether the operation's state allows the action (which suits its type).
fn check_transition(current: Option<&Operation>, u: &OperationUpdate) -> Result<(), Invalid> {
    let status = current.map(|op| op.status);
    let exists = |what: &str| invalid(&format!("Cannot start a {what} that already exist."));
    match (u.kind, u.action) {
        (OpType::Step, Action::Start) => match status {
            None | Some(OpStatus::Ready) => Ok(()),
            _ => invalid("Invalid current STEP state to start."),
        },
        (OpType::Step, Action::Retry) => check_retry(status, u),
        (OpType::Step, _) => match status {
            None | Some(OpStatus::Started | OpStatus::Ready) => Ok(()),
            _ => invalid("Invalid current STEP state to close."),
        },
        (OpType::Context, Action::Start) if current.is_some() => exists("CONTEXT"),
        (OpType::Context, Action::Start) => Ok(()),
        (OpType::Context, _) => match status {
            None | Some(OpStatus::Started) => Ok(()),
            _ => invalid("Invalid current CONTEXT state to close."),
        },
        (OpType::Wait, Action::Start) if current.is_some() => exists("WAIT"),
        (OpType::Wait, Action::Start) => check_seconds(
            "WaitSeconds",
            u.wait_options
                .as_ref()
                .and_then(|w| w.wait_seconds)
                .unwrap_or(1),
            WAIT_RANGE_S,
        ),
        (OpType::Wait, _) => match status {
            Some(OpStatus::Started) => Ok(()),
            _ => invalid("Cannot cancel a WAIT that does not exist or has already completed."),
        },
        (OpType::Callback, _) if current.is_some() => exists("CALLBACK"),
        (OpType::Callback, _) => {
            let options = u.callback_options.unwrap_or_default();
            check_seconds("TimeoutSeconds", options.timeout_seconds, CALLBACK_RANGE_S)?;
            check_seconds(
                "HeartbeatTimeoutSeconds",
                options.heartbeat_timeout_seconds,
                CALLBACK_RANGE_S,
            )
        }
        (OpType::ChainedInvoke, _) => check_invoke(current, u),
        (OpType::Execution, _) => Ok(()),
    }
}

fn check_retry(status: Option<OpStatus>, u: &OperationUpdate) -> Result<(), Invalid> {
    if !matches!(status, None | Some(OpStatus::Started | OpStatus::Ready)) {
        return invalid("Invalid current STEP state to re-attempt.");
    }
    let Some(options) = &u.step_options else {
        return invalid("Invalid StepOptions for the given action.");
    };
    if u.error.is_some() && u.payload.is_some() {
        return invalid("Cannot provide both error and payload to RETRY a STEP.");
    }
    check_seconds(
        "NextAttemptDelaySeconds",
        options.next_attempt_delay_seconds,
        DELAY_RANGE_S,
    )
}

/// A duration in seconds within the service's range.
fn check_seconds(name: &str, value: i64, (lo, hi): (i64, i64)) -> Result<(), Invalid> {
    if !(lo..=hi).contains(&value) {
        return invalid(&format!("{name} must be between {lo} and {hi}."));
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
            "CHAINED_INVOKE input payload size must be less than or equal to {MAX_INVOKE_INPUT_BYTES} bytes."
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
    let mut record = match current {
        Some(r) => r.clone(),
        None => OpRecord {
            op: new_operation(u, now_ms),
            extra: Default::default(),
        },
    };
    let op = &mut record.op;
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
    let mut facts = Facts::default();
    match u.kind {
        OpType::Execution => {}
        OpType::Step => step(op, u, now_ms, &mut facts),
        OpType::Context => {
            op.context_details = Some(ContextDetails {
                replay_children: u
                    .context_options
                    .as_ref()
                    .is_some_and(|c| c.replay_children),
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
                scheduled_end_timestamp: after_seconds(now_ms, seconds),
            });
        }
        OpType::Wait => {}
        OpType::Callback => callback(&mut record, u, now_ms, &mut facts, effects),
        OpType::ChainedInvoke => chained_invoke(&mut record, u, &mut facts, effects),
    }
    (record, facts)
}

fn new_operation(u: &OperationUpdate, now_ms: i64) -> Operation {
    Operation {
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
    }
}

/// `now_ms` plus `seconds`, saturating (the ranges are checked; this is the backstop).
pub fn after_seconds(now_ms: i64, seconds: i64) -> i64 {
    now_ms.saturating_add(seconds.saturating_mul(1000))
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
            .map_or(0, |s| s.next_attempt_delay_seconds);
        facts.seconds = Some(delay);
        details.next_attempt_timestamp = Some(after_seconds(now_ms, delay));
    }
    details.result = u.payload.clone();
    details.error = u.error.clone();
    op.step_details = Some(details);
}

/// A callback gets its id (the capability that completes it) and its timeouts.
fn callback(
    record: &mut OpRecord,
    u: &OperationUpdate,
    now_ms: i64,
    facts: &mut Facts,
    effects: &mut Effects,
) {
    let options = u.callback_options.unwrap_or_default();
    let callback_id = super::execution::callback_id();
    facts.callback_timeouts = Some((options.timeout_seconds, options.heartbeat_timeout_seconds));
    effects.callbacks.push((callback_id.clone(), u.id.clone()));
    record.op.callback_details = Some(CallbackDetails {
        callback_id,
        result: None,
        error: None,
    });
    record.extra.callback = Some(options);
    record.extra.heartbeat_ms = Some(now_ms);
}

/// A chained invoke keeps its target and input, for the host to run it.
fn chained_invoke(
    record: &mut OpRecord,
    u: &OperationUpdate,
    facts: &mut Facts,
    effects: &mut Effects,
) {
    let options = u.chained_invoke_options.clone().unwrap_or_default();
    facts.invoke = Some((options.function_name.clone(), u.payload.clone()));
    record.op.chained_invoke_details = Some(ChainedInvokeDetails::default());
    record.extra.invoke = Some(options);
    record.extra.invoke_input = u.payload.clone();
    effects.invokes.push(u.id.clone());
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
            "Invalid action for the given operation type."
        );
        let retry = r#"{"Id":"s","Type":"STEP","Action":"RETRY","StepOptions":{"NextAttemptDelaySeconds":99999999999}}"#;
        assert_eq!(
            refused(&mut e, &[retry]),
            "NextAttemptDelaySeconds must be between 0 and 31622400.",
            "no duration overflows the clock"
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
