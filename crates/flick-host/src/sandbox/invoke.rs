//! Running one invocation on a sandbox that the scheduler leased.
//!
//! Owns the sequence Lambda follows for one event: wait for init, write
//! START, hand the event to `/next` with its deadline, wait for the answer or
//! the timeout, collect the output the function wrote meanwhile, write END and
//! REPORT. Choosing the sandbox and returning it to the pool is not done here.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::{InitType, Sandbox};
use crate::clock;
use crate::logs::{self, Report, Tail};
use crate::outcome::{ExitStatusText, Failure, Outcome};
use crate::runtime_api::{Dispatch, StreamSink};

/// Lambda's limit on init: from process start to the first `/next`.
pub const INIT_LIMIT: Duration = Duration::from_secs(10);

/// One event to run.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub request_id: String,
    pub payload: Bytes,
    /// Decoded JSON, as the Runtime API passes it on.
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    /// Where a streamed response goes as it arrives; without one, the host
    /// collects it into the outcome.
    pub stream: Option<StreamSink>,
}

/// How it went.
#[derive(Debug)]
pub struct InvokeResult {
    pub outcome: Outcome,
    /// This invocation's log, when it could be told apart from others'.
    pub log_tail: Option<Vec<u8>>,
    /// Whether the sandbox may serve again.
    pub reusable: bool,
}

impl Sandbox {
    /// Runs `req` on this sandbox.
    pub async fn invoke(&self, req: InvokeRequest) -> InvokeResult {
        let config = &self.function.config;
        let id = req.request_id.as_str();
        // With one invocation at a time, everything the process prints belongs to it.
        let tail = (config.per_sandbox_concurrency == 1).then(Tail::default);
        self.mailbox.set_tail(tail.clone());
        let log = |line: String| {
            if let Some(t) = &tail {
                t.push(&line);
            }
            self.logs.line(&self.function.name, line);
        };

        let init = self.ready(INIT_LIMIT).await;
        let cold = !self.first_served.swap(true, Ordering::AcqRel);
        log(logs::start_line(id));
        let started = Instant::now();
        let outcome = match init {
            Ok(_) => self.run(&req).await,
            Err(ref failure) => Outcome::Failure(failure.clone()),
        };
        let duration = started.elapsed();
        if let Some(pump) = &self.pump {
            pump.drain().await;
        }
        self.mailbox.set_tail(None);

        if let Outcome::Failure(failure) = &outcome {
            for line in failure_lines(failure, id) {
                log(line);
            }
        }
        log(logs::end_line(id));
        let init_duration = match (cold, self.init_type, &init) {
            (true, InitType::OnDemand, Ok(d)) => Some(*d),
            _ => None,
        };
        log(logs::report_line(
            id,
            &Report {
                duration,
                memory_size_mb: config.memory_mb,
                max_memory_used_mb: self.peak_memory_mb(),
                init_duration,
            },
        ));
        self.touch();
        InvokeResult {
            reusable: !matches!(outcome, Outcome::Failure(_)) && self.is_alive(),
            outcome,
            log_tail: tail.map(|t| t.last_bytes()),
        }
    }

    async fn run(&self, req: &InvokeRequest) -> Outcome {
        let timeout = Duration::from_secs(self.function.config.timeout_s);
        let deadline = SystemTime::now() + timeout;
        let answer = self.mailbox.post(
            Dispatch {
                request_id: req.request_id.clone(),
                payload: req.payload.clone(),
                deadline_ms: clock::epoch_ms(deadline),
                function_arn: self.function.arn.clone(),
                trace_id: crate::ids::trace_header(),
                client_context: req.client_context.clone(),
                cognito_identity: req.cognito_identity.clone(),
            },
            req.stream.clone(),
        );
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            // The mailbox answers every posted event before it lets go of it.
            Ok(Err(_)) => Outcome::Failure(Failure::Exit {
                status: ExitStatusText("exit status unknown".into()),
            }),
            Err(_) => {
                let failure = Failure::Timeout {
                    timeout_s: self.function.config.timeout_s,
                };
                self.mailbox.withdraw(&req.request_id);
                self.kill(failure.clone());
                Outcome::Failure(failure)
            }
        }
    }
}

/// The lines Lambda writes to the log when the platform ends an invocation:
/// the message, then the error type.
fn failure_lines(failure: &Failure, request_id: &str) -> Vec<String> {
    let body = failure.body(request_id);
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => [&v["errorMessage"], &v["errorType"]]
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        Err(_) => vec![String::from_utf8_lossy(&body).into_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_lines_are_message_then_type() {
        let lines = failure_lines(&Failure::Timeout { timeout_s: 2 }, "r1");
        assert_eq!(
            lines,
            [
                "RequestId: r1 Error: Task timed out after 2.00 seconds",
                "Sandbox.Timedout"
            ]
        );
    }
}
