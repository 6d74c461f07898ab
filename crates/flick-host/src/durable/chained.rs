//! Chained invokes: an execution's `CHAINED_INVOKE` operation runs its
//! target, and its result or error completes the operation, which invokes
//! the execution's function again. A durable target runs as an execution of
//! its own, named after the parent's operation so that a replay, or a host
//! restarted meanwhile, finds the same one instead of starting another; any
//! other target is one synchronous invocation.

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::engine::{Cell, Engine};
use super::model::{error_object, ExecStatus, OpStatus};
use super::progress::{self, Outcome};
use crate::outcome::Outcome as InvokeOutcome;
use crate::queue::now_ms;

/// The largest result a chained invoke passes back.
const MAX_RESULT_BYTES: usize = 1024 * 1024;

/// Runs the chained invoke of operation `op_id`, then records how it ended.
pub fn spawn(engine: Arc<Engine>, cell: Arc<Cell>, op_id: String) {
    tokio::spawn(async move {
        let (target, input, child) = {
            let exec = cell.exec.lock().await;
            let Some(r) = exec.op(&op_id) else { return };
            let target = r.extra.invoke.as_ref().map(|o| o.function_name.clone());
            let input = r.extra.invoke_input.clone().unwrap_or_else(|| "{}".into());
            (
                target.unwrap_or_default(),
                input,
                child_name(&exec.meta.arn, &op_id),
            )
        };
        let Some(outcome) = run_target(&engine, &target, input, child).await else {
            return; // the host is stopping: made again at the next start
        };
        let mut exec = cell.exec.lock().await;
        if let Some(changes) = progress::complete(&exec, &op_id, outcome, now_ms()) {
            if engine
                .save_until_stored(&mut exec, changes, &cell, true)
                .await
            {
                cell.poke();
            }
        }
    });
}

/// The name of the child execution of a parent's operation: 64 hex digits
/// (the longest name there is), derived so that no caller picks it first
/// by accident and the same operation always finds the same child.
fn child_name(parent_arn: &str, op_id: &str) -> String {
    let digest = Sha256::digest(format!("{parent_arn}\n{op_id}"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Invokes `target`; `None` when the host is stopping.
async fn run_target(
    engine: &Arc<Engine>,
    target: &str,
    input: String,
    child: String,
) -> Option<Outcome> {
    let name = function_name(target);
    let Some(function) = engine.scheduler.function(name).cloned() else {
        let message = format!("Function not found: {target}");
        return Some(Outcome::failed(error_object(
            "ResourceNotFoundException",
            &message,
        )));
    };
    if function.config.durable.is_some() {
        let started = match engine.start(&function, Some(child), input).await {
            Ok(s) => s,
            Err(e) => {
                return Some(Outcome::failed(error_object(
                    "ServiceException",
                    &format!("{e:?}"),
                )))
            }
        };
        started.cell.ended().await;
        return Some(child_outcome(&started.cell).await);
    }
    let request_id = crate::ids::uuid().to_string();
    let outcome = super::driver::invoke(engine, name, &request_id, Bytes::from(input)).await?;
    Some(match outcome {
        InvokeOutcome::Response(body) if body.len() > MAX_RESULT_BYTES => Outcome::failed(error_object(
            "InvalidParameterValueException",
            &format!("CHAINED_INVOKE output payload size must be less than or equal to {MAX_RESULT_BYTES} bytes."),
        )),
        InvokeOutcome::Response(body) => Outcome::succeeded(Some(String::from_utf8_lossy(&body).into_owned())),
        InvokeOutcome::FunctionError(body) => Outcome::failed(super::driver::function_error(&body)),
        InvokeOutcome::Failure(f) => Outcome::failed(super::driver::function_error(&f.body(&request_id))),
    })
}

/// How a child execution that ended completes its parent's operation.
async fn child_outcome(cell: &Cell) -> Outcome {
    let exec = cell.exec.lock().await;
    let error = exec.head.error.clone();
    match exec.head.status {
        ExecStatus::Succeeded => Outcome::succeeded(exec.head.result.clone()),
        ExecStatus::TimedOut => Outcome {
            status: OpStatus::TimedOut,
            result: None,
            error: Some(error_object(
                "ChainedInvoke.Timeout",
                &format!(
                    "CHAINED_INVOKE timed out after {} seconds.",
                    exec.meta.timeout_s
                ),
            )),
        },
        ExecStatus::Stopped => Outcome {
            status: OpStatus::Stopped,
            result: None,
            error,
        },
        _ => Outcome::failed(
            error.unwrap_or_else(|| error_object("ChainedInvoke.Failed", "Chained invoke failed.")),
        ),
    }
}

/// A function's name from a name, a `NAME:QUALIFIER`, or an ARN.
fn function_name(target: &str) -> &str {
    let rest = target.split_once(":function:").map_or(target, |(_, r)| r);
    rest.split(':').next().unwrap_or(rest)
}
