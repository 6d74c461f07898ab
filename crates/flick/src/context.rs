//! What a handler knows about the invocation it serves and the function it runs in.
//!
//! Owns [`Context`] and the per-invocation record behind it. The record is reused
//! from one invocation to the next (its strings keep their capacity), which is
//! why the loop allocates nothing per call; `runtime_api` fills it from the
//! `/next` headers. Reading the process environment is `runtime_env`'s job.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Facts about the function that hold for the whole life of the process.
#[derive(Debug, Clone, Default)]
pub(crate) struct FunctionInfo {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) memory_mb: u32,
    pub(crate) log_group: String,
    pub(crate) log_stream: String,
}

/// One invocation's facts, as given by the `/next` headers.
#[derive(Debug, Default)]
pub(crate) struct Invocation {
    pub(crate) request_id: String,
    pub(crate) deadline_ms: u64,
    pub(crate) function_arn: String,
    pub(crate) trace_id: String,
    pub(crate) client_context: String,
    pub(crate) cognito_identity: String,
    pub(crate) cold_start: bool,
}

impl Invocation {
    /// Empties the record, keeping the strings' capacity for the next one.
    pub(crate) fn clear(&mut self) {
        self.request_id.clear();
        self.deadline_ms = 0;
        self.function_arn.clear();
        self.trace_id.clear();
        self.client_context.clear();
        self.cognito_identity.clear();
        self.cold_start = false;
    }
}

/// The invocation being served: request id, deadline, caller details, and the
/// function's own name, version and memory.
///
/// Cheap to clone (two reference counts) and `Send`, so it can travel into
/// spawned tasks.
#[derive(Clone)]
pub struct Context {
    pub(crate) invocation: Arc<Invocation>,
    pub(crate) function: Arc<FunctionInfo>,
}

impl Context {
    /// The request id (`Lambda-Runtime-Aws-Request-Id`).
    pub fn request_id(&self) -> &str {
        &self.invocation.request_id
    }

    /// When the host will stop this invocation.
    pub fn deadline(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.invocation.deadline_ms)
    }

    /// Time left before the deadline; zero once it has passed.
    pub fn remaining_time(&self) -> Duration {
        self.deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }

    /// The ARN the caller invoked, with its qualifier if any.
    pub fn invoked_function_arn(&self) -> &str {
        &self.invocation.function_arn
    }

    /// The X-Ray trace header (`Root=…;Parent=…;Sampled=…`), when tracing is on.
    pub fn trace_id(&self) -> Option<&str> {
        non_empty(&self.invocation.trace_id)
    }

    /// The mobile client context, as the JSON the caller sent.
    pub fn client_context(&self) -> Option<&str> {
        non_empty(&self.invocation.client_context)
    }

    /// The Cognito identity of a mobile caller, as JSON.
    pub fn cognito_identity(&self) -> Option<&str> {
        non_empty(&self.invocation.cognito_identity)
    }

    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub fn function_name(&self) -> &str {
        &self.function.name
    }

    /// `AWS_LAMBDA_FUNCTION_VERSION`, usually `$LATEST`.
    pub fn function_version(&self) -> &str {
        &self.function.version
    }

    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub fn memory_mb(&self) -> u32 {
        self.function.memory_mb
    }

    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub fn log_group(&self) -> &str {
        &self.function.log_group
    }

    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub fn log_stream(&self) -> &str {
        &self.function.log_stream
    }

    /// Whether this is the first invocation this sandbox serves (a cold start).
    pub fn is_cold_start(&self) -> bool {
        self.invocation.cold_start
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.request_id())
            .field("deadline_ms", &self.invocation.deadline_ms)
            .field("function_name", &self.function_name())
            .field("cold_start", &self.is_cold_start())
            .finish_non_exhaustive()
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}
