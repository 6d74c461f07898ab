//! What one invocation ended with, as the Invoke API will report it.
//!
//! This module owns the vocabulary of endings (a response, a function error,
//! or one of the host-detected failures: timeout, crash, bad entry point,
//! memory limit, init failure) and the exact error bodies Lambda writes for the
//! host-detected ones. It does not decide when an ending happens; the sandbox
//! and scheduler do.

use bytes::Bytes;
use serde_json::json;

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The function posted a response.
    Response(Bytes),
    /// The function (or its runtime) reported an error: the body is passed
    /// through as the runtime wrote it.
    FunctionError(Bytes),
    /// The host ended the invocation; the sandbox is no longer usable.
    Failure(Failure),
}

/// Failures the host detects itself, with Lambda's error types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The invocation ran past the function's timeout.
    Timeout { timeout_s: u64 },
    /// Init did not reach the first `/next` within the init limit.
    InitTimeout { limit_s: u64 },
    /// The runtime process exited; `status` is worded as Lambda words it.
    Exit { status: ExitStatusText },
    /// The process was killed by the memory limit.
    OutOfMemory,
    /// The command could not be started.
    InvalidEntrypoint { detail: String },
    /// The runtime posted `/init/error`; the body is its own.
    InitError { body: Bytes },
    /// The response was larger than the Runtime API accepts.
    ResponseTooLarge { limit: usize },
    /// The runtime's response broke off before its end, and the runtime lived on.
    TruncatedResponse { detail: String },
    /// The runtime sent the Runtime API a request HTTP cannot parse.
    MalformedRequest { detail: String },
    /// An extension could not start, crashed, or reported an error.
    Extension {
        kind: ExtensionFailure,
        detail: String,
    },
}

/// How an extension failed the sandbox, each with the `errorType` Lambda
/// reports for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionFailure {
    /// Its file could not be executed.
    Launch,
    /// It exited (with any status, 0 included) outside shutdown.
    Crash,
    /// It called `/extension/init/error`.
    Init,
    /// It called `/extension/exit/error`.
    Exit,
}

/// An exit status in the words Lambda uses: `exit status 1`, `signal: killed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatusText(pub String);

impl ExitStatusText {
    pub fn from_status(status: std::process::ExitStatus) -> ExitStatusText {
        use std::os::unix::process::ExitStatusExt;
        let text = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("signal: {}", signal_name(sig)),
            // An ExitStatus always has a code or a signal on Unix.
            (None, None) => "exit status unknown".to_string(),
        };
        ExitStatusText(text)
    }

    fn is_clean(&self) -> bool {
        self.0 == "exit status 0"
    }
}

/// Signal names as Go's os/exec prints them, which is what Lambda's messages use.
fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGABRT => "aborted".into(),
        libc::SIGSEGV => "segmentation fault".into(),
        libc::SIGBUS => "bus error".into(),
        libc::SIGILL => "illegal instruction".into(),
        libc::SIGFPE => "floating point exception".into(),
        libc::SIGINT => "interrupt".into(),
        libc::SIGHUP => "hangup".into(),
        libc::SIGPIPE => "broken pipe".into(),
        other => format!("signal {other}"),
    }
}

impl Failure {
    /// The `errorType` Lambda reports for this failure.
    pub fn error_type(&self) -> &'static str {
        match self {
            Failure::Timeout { .. } | Failure::InitTimeout { .. } => "Sandbox.Timedout",
            Failure::Exit { .. } => "Runtime.ExitError",
            Failure::OutOfMemory => "Runtime.OutOfMemory",
            Failure::InvalidEntrypoint { .. } => "Runtime.InvalidEntrypoint",
            Failure::InitError { .. } => "Runtime.InitError",
            Failure::ResponseTooLarge { .. } => "Function.ResponseSizeTooLarge",
            Failure::TruncatedResponse { .. } => "Runtime.TruncatedResponse",
            Failure::MalformedRequest { .. } => "Runtime.MalformedRequest",
            Failure::Extension { kind, .. } => match kind {
                ExtensionFailure::Launch => "Extension.LaunchError",
                ExtensionFailure::Crash => "Extension.Crash",
                ExtensionFailure::Init => "Extension.InitError",
                ExtensionFailure::Exit => "Extension.ExitError",
            },
        }
    }

    /// The JSON body the Invoke API returns for this failure.
    pub fn body(&self, request_id: &str) -> Bytes {
        let message = match self {
            Failure::InitError { body } if !body.is_empty() => return body.clone(),
            Failure::InitError { .. } => "Runtime failed to initialize".to_string(),
            Failure::Timeout { timeout_s } => {
                format!("Task timed out after {timeout_s}.00 seconds")
            }
            Failure::InitTimeout { limit_s } => {
                format!("Init timed out after {limit_s}.00 seconds")
            }
            Failure::Exit { status } if status.is_clean() => {
                "Runtime exited without providing a reason".to_string()
            }
            Failure::Exit { status } => format!("Runtime exited with error: {}", status.0),
            Failure::OutOfMemory => "Runtime exited with error: signal: killed".to_string(),
            Failure::InvalidEntrypoint { detail }
            | Failure::TruncatedResponse { detail }
            | Failure::Extension { detail, .. } => detail.clone(),
            Failure::MalformedRequest { detail } => {
                format!("the runtime sent the Runtime API a malformed request: {detail}")
            }
            Failure::ResponseTooLarge { limit } => {
                // Lambda's wording: no size, and no "RequestId: ..." prefix.
                return Bytes::from(
                    json!({
                        "errorType": self.error_type(),
                        "errorMessage": format!(
                            "Response payload size exceeded maximum allowed payload size ({limit} bytes)."
                        ),
                    })
                    .to_string(),
                );
            }
        };
        Bytes::from(
            json!({
                "errorType": self.error_type(),
                "errorMessage": format!("RequestId: {request_id} Error: {message}"),
            })
            .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn body(f: Failure) -> serde_json::Value {
        serde_json::from_slice(&f.body("abc")).unwrap()
    }

    #[test]
    fn timeout_matches_lambda() {
        let b = body(Failure::Timeout { timeout_s: 3 });
        assert_eq!(b["errorType"], "Sandbox.Timedout");
        assert_eq!(
            b["errorMessage"],
            "RequestId: abc Error: Task timed out after 3.00 seconds"
        );
    }

    #[test]
    fn exit_statuses_are_worded_like_go() {
        let exit1 = ExitStatusText::from_status(ExitStatus::from_raw(1 << 8));
        assert_eq!(exit1.0, "exit status 1");
        let killed = ExitStatusText::from_status(ExitStatus::from_raw(libc::SIGKILL));
        assert_eq!(killed.0, "signal: killed");
        let b = body(Failure::Exit { status: exit1 });
        assert_eq!(
            b["errorMessage"],
            "RequestId: abc Error: Runtime exited with error: exit status 1"
        );
        assert_eq!(b["errorType"], "Runtime.ExitError");
    }

    #[test]
    fn init_error_body_is_the_runtimes_own() {
        let own = Bytes::from_static(br#"{"errorType":"Runtime.ImportModuleError"}"#);
        assert_eq!(Failure::InitError { body: own.clone() }.body("x"), own);
    }
}
