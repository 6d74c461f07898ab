//! The test kit: call a handler in-process with an event fixture and a made-up
//! [`Context`], the way the runtime would, without any server.
//!
//! The event goes through the same decoding as in production, so a fixture
//! that does not match the event type fails here as it would on Lambda;
//! [`encode`] shows the bytes a result would be answered with. Owns only test helpers; nothing here is
//! used by the runtime loop.
//!
//! ```
//! use flick::testing;
//!
//! async fn greet(name: String, ctx: flick::Context) -> Result<String, flick::Error> {
//!     Ok(format!("hello {name} from {}", ctx.function_name()))
//! }
//!
//! let reply = testing::call(greet, r#""ann""#).unwrap();
//! assert_eq!(reply, "hello ann from test-function");
//! assert_eq!(testing::encode(reply).unwrap(), br#""hello ann from test-function""#);
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::codec::{Buffers, Event, Output};
use crate::context::{Context, FunctionInfo, Invocation};
use crate::error::Error;
use crate::executor::Executor;

/// Builds a made-up [`Context`]; every field has a plausible default.
#[derive(Debug, Clone)]
pub struct ContextBuilder {
    invocation: InvocationFields,
    function: FunctionInfo,
}

#[derive(Debug, Clone)]
struct InvocationFields {
    request_id: String,
    deadline: SystemTime,
    function_arn: String,
    trace_id: String,
    client_context: String,
    cognito_identity: String,
    cold_start: bool,
}

/// A context for request `00000000-0000-4000-8000-000000000000` of
/// `test-function`, 3 seconds before its deadline, not a cold start.
pub fn context() -> ContextBuilder {
    ContextBuilder {
        invocation: InvocationFields {
            request_id: "00000000-0000-4000-8000-000000000000".into(),
            deadline: SystemTime::now() + Duration::from_secs(3),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:test-function".into(),
            trace_id: String::new(),
            client_context: String::new(),
            cognito_identity: String::new(),
            cold_start: false,
        },
        function: FunctionInfo {
            name: "test-function".into(),
            version: "$LATEST".into(),
            memory_mb: 128,
            log_group: "/aws/lambda/test-function".into(),
            log_stream: "test".into(),
        },
    }
}

impl ContextBuilder {
    /// The invocation's request id (`context.request_id()`).
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.invocation.request_id = id.into();
        self
    }

    /// The deadline, as time left from now.
    pub fn remaining(mut self, left: Duration) -> Self {
        self.invocation.deadline = SystemTime::now() + left;
        self
    }

    /// The ARN the function was invoked with.
    pub fn invoked_function_arn(mut self, arn: impl Into<String>) -> Self {
        self.invocation.function_arn = arn.into();
        self
    }

    /// The X-Ray trace header (`Lambda-Runtime-Trace-Id`).
    pub fn trace_id(mut self, trace: impl Into<String>) -> Self {
        self.invocation.trace_id = trace.into();
        self
    }

    /// The client context, as JSON.
    pub fn client_context(mut self, json: impl Into<String>) -> Self {
        self.invocation.client_context = json.into();
        self
    }

    /// The Cognito identity, as JSON.
    pub fn cognito_identity(mut self, json: impl Into<String>) -> Self {
        self.invocation.cognito_identity = json.into();
        self
    }

    /// Whether the invocation is its sandbox's first.
    pub fn cold_start(mut self, cold: bool) -> Self {
        self.invocation.cold_start = cold;
        self
    }

    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.function.name = name.into();
        self
    }

    /// The function's memory size (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.function.memory_mb = mb;
        self
    }

    /// The [`Context`] a handler receives.
    pub fn build(self) -> Context {
        let i = self.invocation;
        let deadline_ms = i
            .deadline
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        Context {
            invocation: Arc::new(Invocation {
                request_id: i.request_id,
                deadline_ms,
                function_arn: i.function_arn,
                trace_id: i.trace_id,
                client_context: i.client_context,
                cognito_identity: i.cognito_identity,
                cold_start: i.cold_start,
            }),
            function: Arc::new(self.function),
        }
    }
}

impl From<ContextBuilder> for Context {
    fn from(builder: ContextBuilder) -> Self {
        builder.build()
    }
}

/// Calls an `async fn(Event, Context)` handler with the JSON `event`
/// (decoded exactly as the runtime decodes it) and a default [`context`].
pub fn call<F, Ev, O, E>(handler: F, event: &str) -> Result<O, Error>
where
    F: AsyncFn(Ev, Context) -> Result<O, E>,
    Ev: Event,
    E: Into<Error>,
{
    call_with_context(handler, event, context().build())
}

/// [`call`] with a context of your making.
pub fn call_with_context<F, Ev, O, E>(handler: F, event: &str, context: Context) -> Result<O, Error>
where
    F: AsyncFn(Ev, Context) -> Result<O, E>,
    Ev: Event,
    E: Into<Error>,
{
    let event = decode(event)?;
    block_on(handler(event, context)).map_err(Into::into)
}

/// Calls an `async fn(&S, Event, Context)` handler with `state`, the JSON
/// `event` and a default [`context`].
pub fn call_with_state<S, F, Ev, O, E>(state: &S, handler: F, event: &str) -> Result<O, Error>
where
    F: AsyncFn(&S, Ev, Context) -> Result<O, E>,
    Ev: Event,
    E: Into<Error>,
{
    let event = decode(event)?;
    block_on(handler(state, event, context().build())).map_err(Into::into)
}

/// Decodes an event fixture exactly as the runtime decodes an event, for
/// calling a plain `fn` handler directly.
pub fn decode<Ev: Event>(event: &str) -> Result<Ev, Error> {
    let mut buffers = Buffers {
        event: event.as_bytes().to_vec(),
        output: Vec::new(),
    };
    Ev::decode(&mut buffers)
}

/// Encodes a handler's output exactly as the runtime encodes a response.
pub fn encode<O: Output>(output: O) -> Result<Vec<u8>, Error> {
    let mut buffers = Buffers::default();
    output.encode(&mut buffers)?;
    Ok(buffers.output)
}

/// Runs a future to completion on the SDK's executor (tokio's current-thread
/// runtime with the `tokio` feature).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    Executor::new()
        .expect("the test executor starts")
        .block_on(future)
}
