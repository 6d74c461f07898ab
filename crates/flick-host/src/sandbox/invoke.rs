//! Running one invocation on a sandbox that the scheduler leased.
//!
//! Owns the sequence Lambda follows for one event: wait for init, hand the
//! event to `/next` with its deadline, write START once the runtime has
//! taken it, wait for the answer or the timeout and pass the answer on at
//! once, then let the invoke phase run until the runtime asks for its next
//! event (or exits, or runs out of time): only then is the invocation's log
//! complete and END and REPORT written. Choosing the sandbox and returning
//! it to the pool is not done here.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::{InitType, Sandbox};
use crate::clock;
use crate::extensions_api::telemetry::{Event, Report as TelemetryReport};
use crate::logs::{self, Report, Tail};
use crate::outcome::{ExitStatusText, Failure, Outcome};
use crate::runtime_api::{Dispatch, NextCall, StreamSink};

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
    pub tenant_id: Option<String>,
    /// The caller's `X-Amzn-Trace-Id`, passed on when well formed (see
    /// [`crate::ids::trace_header`]).
    pub trace: Option<String>,
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
    /// The sandbox died before its runtime took the event: nothing ran, and
    /// the event may be given to another sandbox.
    pub undelivered: bool,
}

impl InvokeResult {
    fn undelivered(failure: Failure) -> InvokeResult {
        InvokeResult {
            outcome: Outcome::Failure(failure),
            log_tail: None,
            reusable: false,
            undelivered: true,
        }
    }
}

/// Where the time to an answer went, as the host saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// On a cold start: from the request for a sandbox to its runtime's exec
    /// (near nothing when one was prepared ahead).
    pub sandbox: Option<Duration>,
    /// On a cold start: from the exec to the runtime's first `/next`.
    pub init: Option<Duration>,
    /// From the runtime taking the event to its answer.
    pub invoke: Duration,
}

impl Sandbox {
    /// Runs `req` on this sandbox. `answered` is called with the outcome as
    /// soon as there is one, before the invoke phase is over.
    pub async fn invoke(
        &self,
        req: InvokeRequest,
        answered: impl FnOnce(&Outcome, Phases),
    ) -> InvokeResult {
        // With one invocation at a time, everything the process prints belongs to it.
        let tail =
            (self.function.config.per_sandbox_concurrency == 1).then(|| Tail::new(&req.request_id));
        self.mailbox.set_tail(tail.clone());
        let init = self.ready(INIT_LIMIT).await;
        let init = match init {
            // A sandbox that died after it was ready never took this event.
            Err(failure) if self.mailbox.was_ready() => {
                self.mailbox.set_tail(None);
                return InvokeResult::undelivered(failure);
            }
            other => other,
        };
        let cold = !self.first_served.swap(true, Ordering::AcqRel);
        let init_duration = match (cold, self.init_type, &init) {
            (true, InitType::OnDemand, Ok(d)) => Some(*d),
            _ => None,
        };
        let cold_sandbox = init_duration.map(|_| self.exec_started - self.created);
        let answered = move |outcome: &Outcome, invoke: Duration| {
            let phases = Phases {
                sandbox: cold_sandbox,
                init: init_duration,
                invoke,
            };
            answered(outcome, phases)
        };
        let phase = match init {
            Ok(_) => match self.run(&req, answered).await {
                Some(phase) => phase,
                None => {
                    self.mailbox.set_tail(None);
                    return InvokeResult::undelivered(self.death());
                }
            },
            Err(failure) => {
                self.log_start(&req.request_id);
                let outcome = Outcome::Failure(failure);
                answered(&outcome, Duration::ZERO);
                Phase::ended_now(outcome)
            }
        };
        self.finish(&req.request_id, phase, init_duration, tail)
            .await
    }

    /// Hands the event over and follows it to the end of its invoke phase;
    /// None if the sandbox died before its runtime took the event.
    async fn run(
        &self,
        req: &InvokeRequest,
        answered: impl FnOnce(&Outcome, Duration),
    ) -> Option<Phase> {
        let timeout = Duration::from_secs(self.function.config.timeout_s);
        let deadline = tokio::time::Instant::now() + timeout;
        let start = logs::start_line(&req.request_id);
        let (sink, name, tail) = (
            self.logs.clone(),
            self.function.name.clone(),
            self.mailbox.tail(),
        );
        let dispatch = self.dispatch(req, timeout);
        // The extensions subscribed to INVOKE get it as the runtime does.
        let extensions = (self.extensions.clone())
            .filter(|r| r.wants_invoke())
            .map(|r| (r, invoke_event(&dispatch)));
        let telemetry = (self.extensions.clone())
            .filter(|r| r.telemetry.listening())
            .map(|r| (r, (req.request_id.clone(), dispatch.trace_id.clone())));
        let on_taken = Box::new(move || {
            if let Some(tail) = &tail {
                tail.push(&start);
            }
            sink.line(&name, tail.as_ref().map(Tail::request_id), start);
            if let Some((registry, event)) = extensions {
                registry.invoke(&event);
            }
            if let Some((registry, (request_id, trace))) = telemetry {
                registry.telemetry.emit(Event::Start { request_id, trace });
            }
        });
        let posted = self
            .mailbox
            .post(dispatch, req.stream.clone(), Some(on_taken));
        let call = match tokio::time::timeout_at(deadline, posted.taken).await {
            Ok(Ok(call)) => call,
            Ok(Err(_)) => return None,
            // Only a runtime serving several at once leaves an event waiting.
            Err(_) => {
                self.mailbox.withdraw(&req.request_id);
                self.log_start(&req.request_id);
                let outcome = self.time_out();
                answered(&outcome, Duration::ZERO);
                return Some(Phase::ended_now(outcome));
            }
        };
        let outcome = match tokio::time::timeout_at(deadline, posted.answer).await {
            Ok(Ok(outcome)) => outcome,
            // The mailbox answers every taken event before it lets go of it.
            Ok(Err(_)) => Outcome::Failure(Failure::Exit {
                status: ExitStatusText("exit status unknown".into()),
            }),
            Err(_) => {
                self.mailbox.withdraw(&req.request_id);
                self.time_out()
            }
        };
        answered(&outcome, call.at.elapsed());
        let (ended, ended_by, runtime_done) = match &outcome {
            Outcome::Failure(_) => (Instant::now(), None, None),
            _ => {
                self.rest_of_phase(&req.request_id, &outcome, call, deadline)
                    .await
            }
        };
        Some(Phase {
            started: call.at,
            ended,
            outcome,
            ended_by,
            runtime_done,
        })
    }

    fn dispatch(&self, req: &InvokeRequest, timeout: Duration) -> Dispatch {
        Dispatch {
            request_id: req.request_id.clone(),
            payload: req.payload.clone(),
            deadline_ms: clock::epoch_ms(SystemTime::now() + timeout),
            function_arn: self.function.arn.clone(),
            trace_id: crate::ids::trace_header(
                req.trace.as_deref(),
                self.function.config.tracing_active,
            ),
            client_context: req.client_context.clone(),
            cognito_identity: req.cognito_identity.clone(),
            tenant_id: req.tenant_id.clone(),
        }
    }

    /// After the answer, the runtime may still write (a stack trace, late
    /// logs) until it asks for its next event; that is still this
    /// invocation, as on Lambda. Returns when the phase ended, and the
    /// failure that ended it if it was not the runtime's next `/next`.
    /// A runtime serving several invocations at once cannot say which one
    /// its next `/next` ends, so each of those ends at its answer.
    /// `platform.runtimeDone` goes out as the runtime asks again, before
    /// the extensions are done: extensions wait for it to flush; returns
    /// when the runtime was done, if it was.
    async fn rest_of_phase(
        &self,
        request_id: &str,
        outcome: &Outcome,
        call: NextCall,
        deadline: tokio::time::Instant,
    ) -> (Instant, Option<Failure>, Option<Instant>) {
        if self.function.config.per_sandbox_concurrency > 1 {
            return (Instant::now(), None, None);
        }
        let mut runtime_done = None;
        let phase_done = async {
            let next = self.mailbox.next_after(call).await?;
            runtime_done = Some(next.at);
            let duration = next.at.saturating_duration_since(call.at);
            let listening = self
                .extensions
                .as_ref()
                .is_some_and(|r| r.telemetry.listening());
            if let (true, Some(pump)) = (listening, &self.pump) {
                // What the runtime printed before asking again comes first.
                pump.drain().await;
            }
            self.tell_runtime_done(request_id, outcome, None, duration);
            let extensions_done = self.extensions_done().await?;
            Some(next.at.max(extensions_done))
        };
        let ended = tokio::time::timeout_at(deadline, phase_done).await;
        match ended {
            Ok(Some(ended)) => (ended, None, runtime_done),
            Ok(None) => (Instant::now(), Some(self.death()), runtime_done),
            Err(_) => {
                let Outcome::Failure(failure) = self.time_out() else {
                    unreachable!("time_out is a failure");
                };
                (Instant::now(), Some(failure), runtime_done)
            }
        }
    }

    /// Waits until every extension that got the INVOKE asked for its next
    /// event (the phase waits for them, the answer did not): when, or None
    /// if the sandbox died first.
    async fn extensions_done(&self) -> Option<Instant> {
        let Some(registry) = &self.extensions else {
            return Some(Instant::now());
        };
        tokio::select! {
            biased;
            () = self.mailbox.dead() => None,
            // An extension that failed stops counting as busy only after the
            // sandbox is dead: that must not pass for a phase done well.
            () = registry.all_waiting() => self.is_alive().then(Instant::now),
        }
    }

    fn time_out(&self) -> Outcome {
        let failure = Failure::Timeout {
            timeout_s: self.function.config.timeout_s,
        };
        self.kill(failure.clone());
        Outcome::Failure(failure)
    }

    /// Collects the phase's last output and writes END and REPORT.
    async fn finish(
        &self,
        request_id: &str,
        phase: Phase,
        init_duration: Option<Duration>,
        tail: Option<Tail>,
    ) -> InvokeResult {
        let duration = phase.ended.saturating_duration_since(phase.started);
        if let Some(pump) = &self.pump {
            pump.drain().await;
        }
        self.mailbox.set_tail(None);
        let request: Arc<str> = Arc::from(request_id);
        let log = |line: String| {
            if let Some(t) = &tail {
                t.push(&line);
            }
            self.logs.line(&self.function.name, Some(&request), line);
        };
        let failure = match (&phase.outcome, &phase.ended_by) {
            (Outcome::Failure(f), _) | (_, Some(f)) => Some(f),
            _ => None,
        };
        if let Some(failure) = failure {
            for line in failure_lines(failure, request_id) {
                log(line);
            }
        }
        let report = Report {
            duration,
            memory_size_mb: self.function.config.memory_mb,
            max_memory_used_mb: self.peak_memory_mb(),
            init_duration,
        };
        log(logs::end_line(request_id));
        log(logs::report_line(request_id, &report));
        self.tell_report(request_id, &phase, failure, &report);
        self.touch();
        InvokeResult {
            reusable: failure.is_none() && self.is_alive(),
            outcome: phase.outcome,
            log_tail: tail.map(|t| t.last_bytes()),
            undelivered: false,
        }
    }

    /// `platform.runtimeDone` for the Telemetry API's subscribers.
    fn tell_runtime_done(
        &self,
        request_id: &str,
        outcome: &Outcome,
        failure: Option<&Failure>,
        duration: Duration,
    ) {
        let Some(registry) = self.extensions.as_ref().filter(|r| r.telemetry.listening()) else {
            return;
        };
        registry.telemetry.emit(Event::RuntimeDone {
            request_id: request_id.to_string(),
            error_type: error_type(outcome, failure),
            timed_out: matches!(failure, Some(Failure::Timeout { .. })),
            duration_ms: logs::report_ms(duration),
        });
    }

    /// `platform.report`, with REPORT's figures, and `platform.runtimeDone`
    /// first if the runtime never asked again (the phase failed).
    fn tell_report(
        &self,
        request_id: &str,
        phase: &Phase,
        failure: Option<&Failure>,
        report: &Report,
    ) {
        let Some(registry) = self.extensions.as_ref().filter(|r| r.telemetry.listening()) else {
            return;
        };
        if phase.runtime_done.is_none() {
            self.tell_runtime_done(request_id, &phase.outcome, failure, report.duration);
        }
        registry.telemetry.emit(Event::Report(TelemetryReport {
            request_id: request_id.to_string(),
            error_type: error_type(&phase.outcome, failure),
            timed_out: matches!(failure, Some(Failure::Timeout { .. })),
            duration_ms: logs::report_ms(report.duration),
            billed_ms: report.billed_ms(),
            memory_mb: report.memory_size_mb,
            max_memory_used_mb: report.max_memory_used_mb,
            init_ms: report.init_duration.map(logs::report_ms),
        }));
    }

    fn log_start(&self, request_id: &str) {
        let line = logs::start_line(request_id);
        if let Some(tail) = self.mailbox.tail() {
            tail.push(&line);
        }
        self.logs
            .line(&self.function.name, Some(&Arc::from(request_id)), line);
    }
}

/// The `errorType` the Telemetry API reports for an invocation's end.
fn error_type(outcome: &Outcome, failure: Option<&Failure>) -> Option<String> {
    match (failure, outcome) {
        (Some(f), _) => Some(f.error_type().to_string()),
        (None, Outcome::FunctionError(body)) => Some(function_error_type(body)),
        _ => None,
    }
}

/// The `errorType` a runtime's error body names (`Unhandled` if none).
fn function_error_type(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["errorType"].as_str().map(str::to_string))
        .unwrap_or_else(|| "Unhandled".into())
}

/// The INVOKE event of the Extensions API for an event handed to the runtime.
fn invoke_event(d: &Dispatch) -> serde_json::Value {
    serde_json::json!({
        "eventType": "INVOKE",
        "deadlineMs": d.deadline_ms,
        "requestId": d.request_id,
        "invokedFunctionArn": d.function_arn,
        "tracing": {"type": "X-Amzn-Trace-Id", "value": d.trace_id},
    })
}

/// An invoke phase that ran.
struct Phase {
    /// When the runtime took the event.
    started: Instant,
    /// When it asked for the next one (or the phase ended otherwise).
    ended: Instant,
    outcome: Outcome,
    /// The failure that ended the phase after the answer, if one did.
    ended_by: Option<Failure>,
    /// When the runtime asked for its next event, if it did (and
    /// `platform.runtimeDone` was told then).
    runtime_done: Option<Instant>,
}

impl Phase {
    /// A phase the host ended before the runtime took the event.
    fn ended_now(outcome: Outcome) -> Phase {
        let now = Instant::now();
        Phase {
            started: now,
            ended: now,
            outcome,
            ended_by: None,
            runtime_done: None,
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
