//! Why a bench run stopped, worded for the person who ran it, with the exit
//! code each case gets: 2 for what they asked wrongly (a flag, a function
//! the host does not have), 1 for what went wrong while measuring.

use std::fmt;

use crate::host_client::Answer;

#[derive(Debug)]
pub enum BenchError {
    /// A flag that cannot be used as given (its name is in the message).
    Usage(String),
    UnknownFunction {
        name: String,
        endpoint: String,
    },
    /// The function answered with an error: it failed init, crashed or threw.
    FunctionFailed {
        name: String,
        /// Which invocation of the run, e.g. "cold start 1 of 5".
        during: String,
        error_type: String,
        message: String,
        /// The decoded log tail, when there was one.
        log: String,
    },
    /// Recycling left a sandbox warm, so no cold start could be measured.
    NotCold {
        name: String,
    },
    /// The embedded host exited before it served.
    HostExited {
        code: Option<i32>,
        stderr: String,
    },
    /// The host could not be reached, refused a request, or misbehaved.
    Host(String),
}

impl BenchError {
    /// The host refused a request: its error type, status and body, and
    /// what to do about a refused signature.
    pub fn refused(what: &str, answer: &Answer) -> BenchError {
        let kind = answer.header("x-amzn-errortype").unwrap_or("error");
        let body = String::from_utf8_lossy(&answer.body);
        let hint = match answer.status.as_u16() {
            403 => " (a host with access keys needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of one of them)",
            _ => "",
        };
        BenchError::Host(format!(
            "{what}: {kind} (HTTP {}): {}{hint}",
            answer.status,
            body.trim()
        ))
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            BenchError::Usage(_) | BenchError::UnknownFunction { .. } => 2,
            // A bad manifest stops `flick serve` with 2: the user's mistake too.
            BenchError::HostExited { code: Some(2), .. } => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Usage(message) | BenchError::Host(message) => f.write_str(message),
            BenchError::UnknownFunction { name, endpoint } => {
                write!(f, "no function {name} on the host at {endpoint}")
            }
            BenchError::FunctionFailed {
                name,
                during,
                error_type,
                message,
                log,
            } => {
                write!(f, "{name} failed on its {during}: {error_type}: {message}")?;
                if !log.trim().is_empty() {
                    write!(f, "\nits log:")?;
                    for line in log.lines() {
                        write!(f, "\n  {line}")?;
                    }
                }
                Ok(())
            }
            BenchError::NotCold { name } => write!(
                f,
                "{name} was still warm after its sandboxes were recycled (Server-Timing \
                 had no init phase): a provisioned function, or another client invoking it, \
                 cannot be measured cold"
            ),
            BenchError::HostExited { code, stderr } => {
                let code = code.map_or("a signal".to_string(), |c| format!("exit code {c}"));
                write!(
                    f,
                    "the embedded host (flick serve) stopped with {code} before it served:\n{}",
                    stderr.trim_end()
                )
            }
        }
    }
}
