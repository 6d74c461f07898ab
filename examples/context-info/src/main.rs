//! Everything a handler knows about its invocation, returned as JSON; written
//! as a plain `fn` to show the blocking form.

use flick::{Context, Error};
use serde::Serialize;

#[derive(Serialize)]
struct Info {
    request_id: String,
    remaining_ms: u128,
    invoked_function_arn: String,
    trace_id: Option<String>,
    client_context: Option<String>,
    cognito_identity: Option<String>,
    function_name: String,
    function_version: String,
    memory_mb: u32,
    cold_start: bool,
}

fn describe(_event: serde::de::IgnoredAny, ctx: Context) -> Result<Info, Error> {
    Ok(Info {
        request_id: ctx.request_id().to_owned(),
        remaining_ms: ctx.remaining_time().as_millis(),
        invoked_function_arn: ctx.invoked_function_arn().to_owned(),
        trace_id: ctx.trace_id().map(str::to_owned),
        client_context: ctx.client_context().map(str::to_owned),
        cognito_identity: ctx.cognito_identity().map(str::to_owned),
        function_name: ctx.function_name().to_owned(),
        function_version: ctx.function_version().to_owned(),
        memory_mb: ctx.memory_mb(),
        cold_start: ctx.is_cold_start(),
    })
}

fn main() {
    flick::run_blocking(describe)
}
